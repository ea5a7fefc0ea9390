using System.CommandLine;
using Llama2.Core.Data;
using Llama2.Core.Model;
using Llama2.Core.World;
using Llama2.Evaluation;
using Llama2.Inference;
using Llama2.Training.Builders;
using Llama2.Training.Runs;
using Llama2.Training.Sft;

namespace Llama2.Cli;

/// <summary><c>llama2 gatt</c>: builds Ghost Attention data with the current model, then fine-tunes on it.</summary>
internal static class GattCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "The current chat model (samples the answers and is fine-tuned)", Required = true };
        var dialogues = new Option<string>("--dialogues") { Description = "GAtt dialogues jsonl (the world's train/gatt.jsonl: constraint + user turns)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Run folder (gatt-data.jsonl, then the fine-tuning run)", Required = true };
        var extra = new Option<string[]>("--extra-data") { Description = "Chat jsonl mixed into the fine-tuning (keeps earlier skills)", AllowMultipleArgumentsPerToken = true };
        var preset = new Option<string>("--preset") { Description = "SFT preset for the fine-tuning", DefaultValueFactory = _ => "tiny" };
        var epochs = new Option<int?>("--epochs") { Description = "Fine-tuning epochs" };
        var lr = new Option<double?>("--lr") { Description = "Fine-tuning peak learning rate" };
        var filter = new Option<bool>("--keep-compliant") { Description = "Drop sampled answers that break the constraint (and the dialogue's later turns); not in the paper" };
        var dataOnly = new Option<bool>("--data-only") { Description = "Only write gatt-data.jsonl" };
        var limit = new Option<int>("--limit") { Description = "At most this many dialogues; 0 = all" };
        var config = SftCommand.FineTuningConfig();
        var command = new Command("gatt", "Ghost Attention (Llama 2 §3.3): sample with the constraint in every turn, keep it only in the first, learn the last turn")
        {
            model, dialogues, output, extra, preset, epochs, lr, filter, dataOnly, limit, config,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var run = parse.GetRequiredValue(output);
            Directory.CreateDirectory(run);
            var source = WorldFiles.ReadGatt(parse.GetRequiredValue(dialogues));
            if (parse.GetValue(limit) is > 0 and var n)
            {
                source = [.. source.Take(n)];
            }

            var sources = source.Select(d => new GattSource(d.Constraint.Instruction, [.. d.Turns.Select(t => t.Prompt)])).ToList();
            var constraints = source.Select(d => d.Constraint).DistinctBy(c => c.Instruction).ToDictionary(c => c.Instruction);
            List<ChatExample> examples;
            using (var file = ModelFile.Open(parse.GetRequiredValue(model)))
            using (var generator = new BatchGenerator(file, new BatchGeneratorOptions { Slots = 8, QueueLimit = int.MaxValue }))
            {
                var sampling = new GenerationOptions { MaxTokens = 96, Sampling = new Core.Sampling.SamplingOptions { Seed = 1 } };
                Func<string, string, bool>? accept = parse.GetValue(filter) ? (instruction, answer) => constraints[instruction].IsKeptBy(answer) : null;
                examples = GhostAttentionDataBuilder.Build(sources, batch => WorldEvaluation.Answer(generator, batch, sampling), everyTurn: true, accept);
            }

            var data = Path.Combine(run, "gatt-data.jsonl");
            ChatDataset.Write(data, examples);
            Console.Error.WriteLine($"wrote {examples.Count} Ghost Attention examples from {sources.Count} dialogues to {data}");
            if (parse.GetValue(dataOnly))
            {
                return 0;
            }

            var c = SftCommand.FineTuning(parse, config, preset) with
            {
                BaseModel = parse.GetRequiredValue(model),
                Data = [data, .. parse.GetValue(extra) ?? []],
                Output = Path.Combine(run, "sft"),
            };
            c = c with { Epochs = parse.GetValue(epochs) ?? c.Epochs, PeakLr = parse.GetValue(lr) ?? c.PeakLr };
            var result = TrainingDisplay.Run("Ghost Attention fine-tuning", (report, log) => new SftTrainer(c, report, log).Run(false, cancellation));
            Console.WriteLine($"final model {result.FinalModel} ({result.Steps} steps, validation loss {result.FirstValLoss:F4} → {result.LastValLoss:F4})");
            return 0;
        })));
        return command;
    }
}
