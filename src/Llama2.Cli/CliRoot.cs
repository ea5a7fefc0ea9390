using System.CommandLine;

namespace Llama2.Cli;

/// <summary>The <c>llama2</c> command and its verbs (the pipeline runs its stages through it, in process).</summary>
internal static class CliRoot
{
    public static RootCommand Create() => new("llama2: run and train Llama 2 models in C#")
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
        PipelineCommand.Create(),
        PipelineCommand.Quickstart(),
    };
}
