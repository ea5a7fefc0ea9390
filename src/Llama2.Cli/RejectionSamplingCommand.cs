using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Core.Model;
using Llama2.Evaluation;
using Llama2.Inference;
using Llama2.Training.RejectionSampling;
using Llama2.Training.RewardModeling;
using Llama2.Training.Runs;
using Llama2.Training.Sft;

namespace Llama2.Cli;

/// <summary><c>llama2 rejection-sampling</c>: K samples per prompt from the engine, scored by a reward model, the best fine-tuned on.</summary>
internal static class RejectionSamplingCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "The current policy (samples, then is fine-tuned)", Required = true };
        var rewardModel = new Option<string>("--reward-model") { Description = "A reward model folder (from `llama2 reward-model`)", Required = true };
        var prompts = new Option<string[]>("--prompts") { Description = "Prompt jsonl ({\"prompt\" | \"messages\"})", Required = true, AllowMultipleArgumentsPerToken = true };
        var k = new Option<int>("--k") { Description = "Samples per prompt", DefaultValueFactory = _ => 8 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (the paper's best is ~1.2–1.3 after RLHF)", DefaultValueFactory = _ => 1.0f };
        var pool = new Option<string[]>("--pool") { Description = "best.jsonl of earlier rounds: keep the best answer of all rounds", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output", "-o") { Description = "Run folder", Required = true };
        var preset = new Option<string>("--preset") { Description = "SFT preset for the fine-tuning", DefaultValueFactory = _ => "tiny" };
        var limit = new Option<int>("--limit") { Description = "At most this many prompts; 0 = all" };
        var sweep = new Option<float[]>("--sweep-temperatures") { Description = "Also sample at these temperatures (on --sweep-prompts prompts) for Fig. 8's best-of-K by temperature; not used for training", AllowMultipleArgumentsPerToken = true };
        var sweepPrompts = new Option<int>("--sweep-prompts") { Description = "Prompts of the temperature sweep", DefaultValueFactory = _ => 48 };
        var noTrain = new Option<bool>("--no-train") { Description = "Only sample, score and write best.jsonl and the curve" };
        var config = SftCommand.FineTuningConfig();
        var command = new Command("rejection-sampling", "Rejection sampling (Llama 2 §3.2.3): K samples per prompt, the reward model keeps the best, fine-tune on them")
        {
            model, rewardModel, prompts, k, temperature, pool, output, preset, limit, sweep, sweepPrompts, noTrain, config,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var run = parse.GetRequiredValue(output);
            Directory.CreateDirectory(run);
            var all = PromptDataset.Read(parse.GetRequiredValue(prompts));
            var chosen = parse.GetValue(limit) is > 0 and var n ? [.. all.Take(n)] : all;
            int samples = parse.GetValue(k);
            float t = parse.GetValue(temperature);
            List<SampledPrompt> sampled;
            var sweepCurves = new Dictionary<float, IReadOnlyList<RewardCurvePoint>>();
            using (var file = ModelFile.Open(parse.GetRequiredValue(model)))
            using (var generator = new BatchGenerator(file, new BatchGeneratorOptions { Slots = 8, QueueLimit = int.MaxValue }))
            using (var scorer = RewardScorer.Load(parse.GetRequiredValue(rewardModel)))
            {
                List<SampledPrompt> SampleAt(IReadOnlyList<PromptExample> prompts, float temperature)
                {
                    Console.Error.WriteLine($"sampling {samples} answers for each of {prompts.Count} prompts at temperature {temperature}");
                    return RejectionSampler.Sample(prompts, samples, (dialogs, count) => WorldEvaluation.Samples(generator, dialogs, count, temperature), scorer.Score);
                }

                sampled = SampleAt(chosen, t);
                if (parse.GetValue(sweep) is { Length: > 0 } temperatures)
                {
                    var subset = chosen.Take(Math.Max(1, parse.GetValue(sweepPrompts))).ToList();
                    foreach (var temperature in temperatures.Append(t).Distinct().Order())
                    {
                        sweepCurves[temperature] = RejectionSampler.Curve(temperature == t ? sampled.Take(subset.Count).ToList() : SampleAt(subset, temperature));
                    }
                }
            }

            if (sweepCurves.Count > 0)
            {
                Plots.Curves(Path.Combine(run, "reward-vs-k-by-temperature.png"), "Best-of-K reward by sampling temperature (cf. Llama 2 Fig. 8)", "K (samples per prompt)", "mean reward of the best",
                    sweepCurves.ToDictionary(p => "T = " + p.Key.ToString("0.0#", CultureInfo.InvariantCulture), p => (double[])[.. p.Value.Select(x => x.Best)]));
                File.WriteAllText(Path.Combine(run, "temperature-sweep.json"), JsonSerializer.Serialize(sweepCurves.Select(p => new { temperature = p.Key, curve = p.Value })));
                foreach (var (temperature, points) in sweepCurves)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"T={temperature}\tbest of K=1…{points.Count}\t{string.Join(' ', points.Select(p => p.Best.ToString("F3", CultureInfo.InvariantCulture)))}"));
                }
            }

            var curve = RejectionSampler.Curve(sampled);
            Plots.Curves(Path.Combine(run, "reward-vs-k.png"), "Reward of the best and the median of K samples (cf. Llama 2 Fig. 7)", "K (samples per prompt)", "mean reward",
                new Dictionary<string, double[]> { ["best of K"] = [.. curve.Select(p => p.Best)], ["median of K"] = [.. curve.Select(p => p.Median)] });
            File.WriteAllText(Path.Combine(run, "curve.json"), JsonSerializer.Serialize(curve));
            foreach (var point in curve)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"K={point.K}\tbest {point.Best:F3}\tmedian {point.Median:F3}"));
            }

            var kept = RejectionSampler.Pool(sampled, ReadPool(parse.GetValue(pool) ?? []));
            var bestPath = Path.Combine(run, "best.jsonl");
            File.WriteAllLines(bestPath, kept.Select(x => new JsonObject
            {
                ["messages"] = new JsonArray([.. x.Prompt.Append(new ChatMessage(ChatRole.Assistant, x.Answer))
                    .Select(m => (JsonNode)new JsonObject { ["role"] = ChatMessage.RoleName(m.Role), ["content"] = m.Content })]),
                ["reward"] = x.Reward,
            }.ToJsonString()));
            Console.Error.WriteLine($"kept the best answer of {kept.Count} prompts in {bestPath}");
            if (parse.GetValue(noTrain))
            {
                return 0;
            }

            var c = SftCommand.FineTuning(parse, config, preset) with { BaseModel = parse.GetRequiredValue(model), Data = [bestPath], Output = Path.Combine(run, "sft") };
            var result = TrainingDisplay.Run("rejection-sampling fine-tuning", (report, log) => new SftTrainer(c, report, log).Run(false, cancellation));
            Console.WriteLine($"final model {result.FinalModel}");
            return 0;
        })));
        return command;
    }

    private static List<(IReadOnlyList<ChatMessage>, string, double)> ReadPool(IEnumerable<string> paths)
    {
        var pool = new List<(IReadOnlyList<ChatMessage>, string, double)>();
        foreach (var path in paths)
        {
            foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
            {
                var example = ChatDataset.Parse(line);
                using var json = JsonDocument.Parse(line);
                pool.Add(([.. example.Messages.SkipLast(1)], example.Messages[^1].Content, json.RootElement.GetProperty("reward").GetDouble()));
            }
        }

        return pool;
    }
}
