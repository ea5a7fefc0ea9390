using System.CommandLine;
using System.Globalization;
using Llama2.Training.RewardModeling;
using Llama2.Training.Runs;

namespace Llama2.Cli;

/// <summary><c>llama2 reward-model</c>: trains a Helpfulness or Safety reward model and reports its accuracy per rating bucket.</summary>
internal static class RewardModelCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "A JSON config (snake_case fields of RewardModelConfig); its fields override --preset's, and flags override both" };
        var preset = new Option<string?>("--preset") { Description = "micro, tiny, small (scaled recipes) or paper (Llama 2 §3.2.2)" };
        var kind = new Option<string?>("--kind") { Description = "helpfulness or safety (the data mix)" };
        var model = new Option<string?>("--model", "-m") { Description = "The chat checkpoint the trunk starts from (with --test-only: the trained reward model)" };
        var helpful = new Option<string[]>("--helpfulness") { Description = "Helpfulness preference jsonl (or HH-RLHF lines)", AllowMultipleArgumentsPerToken = true };
        var safety = new Option<string[]>("--safety") { Description = "Safety preference jsonl", AllowMultipleArgumentsPerToken = true };
        var helpfulTest = new Option<string[]>("--helpfulness-test") { Description = "Held-out helpfulness pairs", AllowMultipleArgumentsPerToken = true };
        var safetyTest = new Option<string[]>("--safety-test") { Description = "Held-out safety pairs", AllowMultipleArgumentsPerToken = true };
        var margin = new Option<string?>("--margin") { Description = "none, small or large (Table 27)" };
        var output = new Option<string?>("--output", "-o") { Description = "Run folder" };
        var skipInvalid = new Option<bool>("--skip-invalid") { Description = "Skip malformed lines instead of stopping" };
        var maxPairs = new Option<int?>("--max-pairs") { Description = "Train on at most this many pairs (0 = all)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --output from its last checkpoint" };
        var testOnly = new Option<bool>("--test-only") { Description = "Do not train: test the trained reward model that --model names on the test sets, writing accuracy.json and the histograms to --output" };
        var command = new Command("reward-model", "Train a Helpfulness or Safety reward model (ranking loss with margin) and report accuracy per rating bucket")
        {
            config, preset, kind, model, helpful, safety, helpfulTest, safetyTest, margin, output, skipInvalid, resume, maxPairs, testOnly,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var path = parse.GetValue(config);
            var c = ConfigOptions.Resolve(path, parse.GetValue(preset), RewardModelConfig.ForPreset, RewardModelConfig.Load);
            c = c with
            {
                Kind = parse.GetValue(kind) ?? c.Kind,
                ChatModel = parse.GetValue(model) ?? c.ChatModel,
                HelpfulnessData = parse.GetValue(helpful) is { Length: > 0 } h ? h : c.HelpfulnessData,
                SafetyData = parse.GetValue(safety) is { Length: > 0 } s ? s : c.SafetyData,
                HelpfulnessTest = parse.GetValue(helpfulTest) is { Length: > 0 } ht ? ht : c.HelpfulnessTest,
                SafetyTest = parse.GetValue(safetyTest) is { Length: > 0 } st ? st : c.SafetyTest,
                Margin = parse.GetValue(margin) ?? c.Margin,
                Output = parse.GetValue(output) ?? c.Output,
                SkipInvalid = parse.GetValue(skipInvalid) || c.SkipInvalid,
                MaxPairs = parse.GetValue(maxPairs) ?? c.MaxPairs,
            };
            IReadOnlyDictionary<string, IReadOnlyList<BucketAccuracy>> accuracy;
            if (parse.GetValue(testOnly))
            {
                accuracy = new RewardModelTrainer(c, log: Console.Error.WriteLine).TestOnly();
                Console.WriteLine($"tested reward model {c.ChatModel}; results in {c.Output}");
            }
            else
            {
                var result = TrainingDisplay.Run($"{c.Kind} reward model", (report, log) => new RewardModelTrainer(c, report, log).Run(parse.GetValue(resume), cancellation));
                Console.WriteLine($"run folder {result.RunFolder}: {result.Steps} steps; final reward model {result.FinalModel}");
                accuracy = result.TestAccuracy;
            }

            foreach (var (set, buckets) in accuracy)
            {
                foreach (var b in buckets)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Kind} RM on {set} test\t{b.Rating}\t{b.Correct}/{b.Total}\t{b.Accuracy * 100:F1}%"));
                }

                int correct = buckets.Sum(b => b.Correct), total = buckets.Sum(b => b.Total);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Kind} RM on {set} test\tavg\t{correct}/{total}\t{100.0 * correct / Math.Max(1, total):F1}%"));
            }

            return 0;
        })));
        return command;
    }
}
