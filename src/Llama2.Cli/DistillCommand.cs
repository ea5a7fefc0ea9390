using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Core.Model;
using Llama2.Evaluation;
using Llama2.Inference;
using Llama2.Training.Builders;
using Llama2.Training.RewardModeling;
using Llama2.Training.Runs;
using Llama2.Training.Sft;

namespace Llama2.Cli;

/// <summary><c>llama2 distill</c>: safety context distillation, targeted by the Safety reward model.</summary>
internal static class DistillCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "The chat model (generates, then is fine-tuned)", Required = true };
        var safetyRm = new Option<string>("--safety-rm") { Description = "The Safety reward model folder", Required = true };
        var prompts = new Option<string[]>("--prompts") { Description = "Prompt jsonl; safety prompts whose category is not 'borderline' are used", Required = true, AllowMultipleArgumentsPerToken = true };
        var preprompts = new Option<string>("--preprompts") { Description = "jsonl {\"category\", \"preprompt\"} (the world's safety/preprompts.jsonl; 'generic' for unknown categories)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Run folder", Required = true };
        var untargeted = new Option<bool>("--untargeted") { Description = "Keep every distilled answer (the paper's targeted variant keeps only those the Safety RM prefers)" };
        var extra = new Option<string[]>("--extra-data") { Description = "Chat jsonl mixed into the fine-tuning (keeps helpfulness)", AllowMultipleArgumentsPerToken = true };
        var preset = new Option<string>("--preset") { Description = "SFT preset for the fine-tuning", DefaultValueFactory = _ => "tiny" };
        var dataOnly = new Option<bool>("--data-only") { Description = "Only write the distillation data" };
        var config = SftCommand.FineTuningConfig();
        var command = new Command("distill", "Safety context distillation (Llama 2 §4.2.4): safety preprompt + template, generate, keep where the Safety RM prefers it, fine-tune without the preprompt")
        {
            model, safetyRm, prompts, preprompts, output, untargeted, extra, preset, dataOnly, config,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var run = parse.GetRequiredValue(output);
            Directory.CreateDirectory(run);
            var adversarial = PromptDataset.Read(parse.GetRequiredValue(prompts)).Where(p => p.IsSafety && p.Category != "borderline").ToList();
            var byCategory = File.ReadLines(parse.GetRequiredValue(preprompts)).Where(l => l.Length > 0).Select(l =>
            {
                using var json = JsonDocument.Parse(l);
                return (json.RootElement.GetProperty("category").GetString()!, json.RootElement.GetProperty("preprompt").GetString()!);
            }).ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal);
            string Preprompt(string? category) => category is not null && byCategory.TryGetValue(category, out var p) ? p
                : byCategory.TryGetValue("generic", out var g) ? g : throw new CliException("--preprompts has no 'generic' preprompt");
            List<DistilledAnswer> answers;
            int fallbacks = 0;
            using (var file = ModelFile.Open(parse.GetRequiredValue(model)))
            using (var generator = new BatchGenerator(file, new BatchGeneratorOptions { Slots = 8, QueueLimit = int.MaxValue }))
            using (var scorer = RewardScorer.Load(parse.GetRequiredValue(safetyRm)))
            {
                var decoding = WorldEvaluation.Decoding();

                // A category's preprompt with its answer template that leaves no room to answer in the window gives way
                // to the shorter generic preprompt (counted).
                string Fitting(PromptExample prompt)
                {
                    var preprompt = Preprompt(prompt.Category);
                    var dialog = ContextDistillationDataBuilder.WithPreprompt(prompt.Messages, preprompt);
                    if (Llama2ChatFormat.EncodeDialog(file.Tokenizer, dialog).Length + decoding.MaxTokens <= generator.ContextLength)
                    {
                        return preprompt;
                    }

                    fallbacks++;
                    return Preprompt(null);
                }

                answers = ContextDistillationDataBuilder.Build(adversarial, Fitting, batch => WorldEvaluation.Answer(generator, batch, decoding), scorer.Score, !parse.GetValue(untargeted));
            }

            if (fallbacks > 0)
            {
                Console.Error.WriteLine($"{fallbacks} prompts used the generic preprompt: their category's preprompt and template do not fit in the context window");
            }

            var examples = ContextDistillationDataBuilder.Examples(answers);
            var data = Path.Combine(run, "distill-data.jsonl");
            ChatDataset.Write(data, examples);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{examples.Count} of {answers.Count} distilled answers kept (Safety RM mean {answers.Average(a => a.ScoreWith):F3} with the preprompt, {answers.Average(a => a.ScoreWithout):F3} without)"));
            if (parse.GetValue(dataOnly) || examples.Count == 0)
            {
                return 0;
            }

            var c = SftCommand.FineTuning(parse, config, preset) with
            {
                BaseModel = parse.GetRequiredValue(model),
                Data = [data, .. parse.GetValue(extra) ?? []],
                Output = Path.Combine(run, "sft"),
            };
            var result = TrainingDisplay.Run("context distillation fine-tuning", (report, log) => new SftTrainer(c, report, log).Run(false, cancellation));
            Console.WriteLine($"final model {result.FinalModel}");
            return 0;
        })));
        return command;
    }
}
