using System.CommandLine;
using Llama2.Cli;

var root = new RootCommand("llama2: run and train Llama 2 models in C#")
{
    TokenizeCommand.Create(),
    DetokenizeCommand.Create(),
    TokenizerTrainCommand.Create(),
    GenerateCommand.Create(),
    ChatCommand.Create(),
    InfoCommand.Create(),
    LogitsCommand.Create(),
    PretrainCommand.Create(),
    ExportCommand.Create("export"),
    ExportCommand.Create("convert"),
    BenchCommand.Create(),
    PerplexityCommand.Create(),
    ServeCommand.Create(),
    DataSynthCommand.Create(),
    SftCommand.Create(),
    EvalCommand.Create(),
    GattCommand.Create(),
    RewardModelCommand.Create(),
    RejectionSamplingCommand.Create(),
    DistillCommand.Create(),
    PpoCommand.Create(),
};
return root.Parse(args).Invoke();
