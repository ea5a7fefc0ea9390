using System.CommandLine;
using Llama2.Training.Runs;
using Llama2.Training.Sft;

namespace Llama2.Cli;

/// <summary><c>llama2 sft</c>: supervised fine-tuning on chat data (loss on answers only, packed dialogues).</summary>
internal static class SftCommand
{
    /// <summary>The <c>--config</c> option of the verbs that end in fine-tuning (gatt, distill, rejection-sampling): an SFT config.</summary>
    public static Option<string?> FineTuningConfig() =>
        new("--config") { Description = "A JSON SftConfig (snake_case) for the fine-tuning stage; its fields override --preset's" };

    /// <summary>The fine-tuning settings: the preset's, with the <c>--config</c> file's fields over them if given.</summary>
    public static SftConfig FineTuning(ParseResult parse, Option<string?> config, Option<string> preset)
    {
        var defaults = SftConfig.ForPreset(parse.GetRequiredValue(preset));
        return parse.GetValue(config) is { } path ? SftConfig.Load(path, defaults) : defaults;
    }

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "A JSON config (snake_case fields of SftConfig); its fields override --preset's, and flags override both" };
        var preset = new Option<string?>("--preset") { Description = "micro, tiny, small (scaled recipes) or paper (Llama 2 §3.1)" };
        var model = new Option<string?>("--model", "-m") { Description = "The model to fine-tune (a run's final folder, HF/Meta folder or GGUF)" };
        var data = new Option<string[]>("--data", "-d") { Description = "Chat jsonl files ({\"messages\"} or {\"prompt\", \"completion\"})", AllowMultipleArgumentsPerToken = true };
        var validation = new Option<string[]>("--validation") { Description = "Held-out chat jsonl for the validation loss", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string?>("--output", "-o") { Description = "Run folder" };
        var epochs = new Option<int?>("--epochs") { Description = "Passes over the data (Llama 2: 2)" };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (Llama 2: 2e-5)" };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for data order" };
        var skipInvalid = new Option<bool>("--skip-invalid") { Description = "Skip malformed lines (reported with line numbers) instead of stopping" };
        var threads = new Option<int?>("--threads", "-t") { Description = "libtorch threads (default: cores)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --output from its last checkpoint" };
        var command = new Command("sft", "Supervised fine-tuning on chat data: loss on assistant tokens only, packing, checkpoints, resume")
        {
            config, preset, model, data, validation, output, epochs, lr, seed, skipInvalid, threads, resume,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var path = parse.GetValue(config);
            var c = ConfigOptions.Resolve(path, parse.GetValue(preset), SftConfig.ForPreset, SftConfig.Load);
            c = c with
            {
                BaseModel = parse.GetValue(model) ?? c.BaseModel,
                Data = parse.GetValue(data) is { Length: > 0 } d ? d : c.Data,
                ValidationData = parse.GetValue(validation) is { Length: > 0 } v ? v : c.ValidationData,
                Output = parse.GetValue(output) ?? c.Output,
                Epochs = parse.GetValue(epochs) ?? c.Epochs,
                PeakLr = parse.GetValue(lr) ?? c.PeakLr,
                Seed = parse.GetValue(seed) ?? c.Seed,
                SkipInvalid = parse.GetValue(skipInvalid) || c.SkipInvalid,
                Threads = parse.GetValue(threads) ?? c.Threads,
            };
            var result = TrainingDisplay.Run("supervised fine-tuning", (report, log) => new SftTrainer(c, report, log).Run(parse.GetValue(resume), cancellation));
            Console.WriteLine($"run folder {result.RunFolder}: {result.Steps} steps, validation loss {result.FirstValLoss:F4} → {result.LastValLoss:F4}; " +
                $"{result.Counts.Truncated} dialogues truncated, {result.Counts.Dropped} dropped for length; final model {result.FinalModel}");
            return 0;
        })));
        return command;
    }
}
