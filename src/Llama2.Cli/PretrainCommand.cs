using System.CommandLine;
using Llama2.Training.Pretraining;
using Llama2.Training.Runs;

namespace Llama2.Cli;

/// <summary><c>llama2 pretrain</c>: pretraining with the paper's recipe (scaled presets for small models).</summary>
internal static class PretrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "A JSON config (snake_case fields of PretrainConfig); its fields override --preset's, and flags override both" };
        var preset = new Option<string?>("--preset") { Description = "micro, tiny, small (scaled recipes) or 7b, 13b, 34b, 70b (the paper's)" };
        var input = new Option<string[]>("--input", "-i") { Description = "Text files or folders (.txt, .jsonl {\"text\"}, .parquet)", AllowMultipleArgumentsPerToken = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer to use; default: train one on the corpus" };
        var output = new Option<string?>("--output", "-o") { Description = "Run folder" };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Optimizer steps" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for initialization and data order" };
        var device = new Option<string?>("--device") { Description = "cpu or cuda" };
        var threads = new Option<int?>("--threads", "-t") { Description = "libtorch threads (default: cores)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --output from its last checkpoint" };
        var command = new Command("pretrain", "Pretrain a Llama 2 model on text: AdamW, cosine schedule, checkpoints, resume")
        {
            config, preset, input, tokenizer, output, maxSteps, seed, device, threads, resume,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var path = parse.GetValue(config);
            var c = ConfigOptions.Resolve(path, parse.GetValue(preset), PretrainConfig.ForPreset, PretrainConfig.Load);
            if (path is not null && parse.GetValue(preset) is { } p)
            {
                c = c with { Preset = p };
            }

            c = c with
            {
                Inputs = parse.GetValue(input) is { Length: > 0 } i ? i : c.Inputs,
                Tokenizer = parse.GetValue(tokenizer) ?? c.Tokenizer,
                Output = parse.GetValue(output) ?? c.Output,
                MaxSteps = parse.GetValue(maxSteps) ?? c.MaxSteps,
                Seed = parse.GetValue(seed) ?? c.Seed,
                Device = parse.GetValue(device) ?? c.Device,
                Threads = parse.GetValue(threads) ?? c.Threads,
            };
            var result = TrainingDisplay.Run($"pretraining {c.Preset}", (report, log) =>
                new PretrainTrainer(c, report, log).Run(parse.GetValue(resume), cancellation));
            Console.WriteLine($"run folder {result.RunFolder}: {result.Steps} steps, validation loss {result.FirstValLoss:F4} → {result.LastValLoss:F4}; final model {result.FinalModel}; curve {Path.Combine(result.RunFolder, "loss.png")}");
            return 0;
        })));
        return command;
    }
}
