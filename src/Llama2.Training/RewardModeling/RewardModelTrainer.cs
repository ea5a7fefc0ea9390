using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.Data;
using Llama2.Core.Model;
using Llama2.Training.Optim;
using Llama2.Training.Pretraining;
using Llama2.Training.Runs;
using static TorchSharp.torch;

namespace Llama2.Training.RewardModeling;

/// <summary>Pairwise accuracy of one rating bucket (Table 8).</summary>
public sealed record BucketAccuracy(string Rating, int Correct, int Total)
{
    public double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;
}

/// <summary>A finished reward-model run: where it is, what was dropped, and its accuracy on each test set by bucket.</summary>
public sealed record RewardModelResult(
    string RunFolder,
    string FinalModel,
    long Steps,
    PreferenceReadCounts Helpfulness,
    PreferenceReadCounts Safety,
    int TooLong,
    IReadOnlyDictionary<string, IReadOnlyList<BucketAccuracy>> TestAccuracy);

/// <summary>
/// Trains a Helpfulness or Safety reward model (Llama 2 §3.2.2): the binary ranking loss with margin on the paper's
/// data mix, one epoch, warmup then cosine; checkpoints and resume as the other trainers; at the end, pairwise accuracy
/// per rating bucket on the held-out sets and reward histograms.
/// </summary>
public sealed class RewardModelTrainer(RewardModelConfig config, Action<TrainingReport>? report = null, Action<string>? log = null)
{
    private const string ConfigFile = "config.json";

    /// <exception cref="ArgumentException">The config or data is unusable; nothing has been trained.</exception>
    public RewardModelResult Run(bool resume = false, CancellationToken cancellation = default)
    {
        var run = config.Output;
        var checkpoints = Path.Combine(run, "checkpoints");
        var c = resume && File.Exists(Path.Combine(run, ConfigFile))
            ? JsonSerializer.Deserialize<RewardModelConfig>(File.ReadAllText(Path.Combine(run, ConfigFile)), RewardModelConfig.Json)!
            : config;
        c.Validate();
        var device = TorchSetup.Device(c.Device);
        TorchSetup.SetThreads(c.Threads);
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, ConfigFile), JsonSerializer.Serialize(c, RewardModelConfig.Json));

        using var chat = ModelFile.Open(c.ChatModel);
        var tokenizer = chat.Tokenizer;
        var (helpful, helpfulCounts) = PreferenceDataset.Read(c.HelpfulnessData, c.SkipInvalid, log);
        var (safety, safetyCounts) = PreferenceDataset.Read(c.SafetyData, c.SkipInvalid, log);
        var mix = RewardData.Mix(c.Kind, helpful, safety, c.Seed);
        var (train, tooLong) = RewardData.EncodeAll(tokenizer, c.MaxPairs > 0 ? mix.Take(c.MaxPairs) : mix, c.Margin, c.SeqLen);
        if (train.Count == 0)
        {
            throw new ArgumentException($"no preference pair to train on ({tooLong} longer than {c.SeqLen} tokens)");
        }

        log?.Invoke($"{c.Kind} reward model: {train.Count} pairs ({helpfulCounts.SameAnswers + safetyCounts.SameAnswers} with identical answers skipped, " +
            $"{helpfulCounts.MissingRating + safetyCounts.MissingRating} without rating trained with no margin, {tooLong} too long dropped); margin {c.Margin}");

        using var generator = new Generator(c.Seed);
        using var model = RewardModel.FromChatModel(chat, c.SeqLen, device, generator);
        var optimizer = new AdamW(model.named_parameters(), c.Beta1, c.Beta2, c.Eps, c.WeightDecay);
        long totalSteps = Math.Max(1, (long)Math.Ceiling((double)train.Count * c.Epochs / (c.MicroBatch * c.Accumulation)));
        int warmup = (int)Math.Min(totalSteps - 1, Math.Max(c.MinWarmupSteps, Math.Ceiling(c.WarmupFraction * totalSteps)));
        var state = new TrainerState(0, 0, 0, c.Seed, 0);
        if (resume && Checkpoint.FindLatest(checkpoints) is { } latest)
        {
            model.LoadCheckpoint(latest, optimizer);
            state = Checkpoint.LoadState(latest);
            optimizer.Step = state.Step;
            log?.Invoke($"resumed from {latest} (step {state.Step})");
        }

        using var metrics = new MetricsLog(Path.Combine(run, "metrics.jsonl"), state.Step == 0 ? -1 : state.Step);
        var order = new Data.WindowOrder(train.Count, c.Seed);
        var clock = Stopwatch.StartNew();
        long step = state.Step;
        while (step < totalSteps && !cancellation.IsCancellationRequested)
        {
            var stepClock = Stopwatch.StartNew();
            double lr = LearningRateSchedule.Cosine(step, warmup, totalSteps, c.PeakLr, c.MinLrRatio);
            double loss = 0, correct = 0;
            long consumed = state.WindowsConsumed;
            for (int a = 0; a < c.Accumulation; a++)
            {
                using var scope = NewDisposeScope();
                var batch = Enumerable.Range(0, c.MicroBatch).Select(i => train[order.At(consumed + i)]).ToList();
                consumed += c.MicroBatch;
                var (tokens, last, margins) = RewardData.Batch(batch, device);
                var rewards = model.forward(tokens, last);
                var (chosen, rejected) = (rewards[..batch.Count], rewards[batch.Count..]);
                var microLoss = Losses.RankingLoss(chosen, rejected, margins).Over(c.Accumulation);
                microLoss.backward();
                loss += microLoss.item<float>();
                correct += chosen.gt(rejected).sum().item<long>();
            }

            double gradNorm = optimizer.ClipGradNorm(c.GradClip);
            optimizer.Update(lr);
            optimizer.ZeroGrad();
            step++;
            state = state with { Step = step, WindowsConsumed = consumed };
            double accuracy = correct / (c.MicroBatch * c.Accumulation);
            metrics.Write(new JsonObject { ["step"] = step, ["loss"] = loss, ["accuracy"] = accuracy, ["lr"] = lr, ["grad_norm"] = gradNorm });
            report?.Invoke(new TrainingReport(step, totalSteps, loss, lr, gradNorm, c.MicroBatch * c.Accumulation / stepClock.Elapsed.TotalSeconds, null, clock.Elapsed, RateUnit: "pairs/s"));
            if (step % c.CheckpointInterval == 0 || cancellation.IsCancellationRequested)
            {
                model.Save(Path.Combine(checkpoints, $"step-{step:D6}"), tokenizer, optimizer, state);
                Checkpoint.Prune(checkpoints, 2);
            }
        }

        var final = Path.Combine(run, "final");
        model.Save(final, tokenizer);
        Plots.Lines(Path.Combine(run, "loss.png"), $"{c.Kind} reward model: ranking loss", "loss", metrics.Entries, "loss", "accuracy");
        var tests = Test(model, tokenizer, c, run, device, log);
        return new RewardModelResult(run, final, step, helpfulCounts, safetyCounts, tooLong, tests);
    }

    /// <summary>
    /// Tests a trained reward model (the folder <see cref="RewardModelConfig.ChatModel"/> names) on the config's test sets
    /// without training it: accuracy per rating bucket and reward histograms, written to the output folder as a run's are.
    /// </summary>
    /// <exception cref="ArgumentException">No test set is given.</exception>
    /// <exception cref="Core.IO.InvalidModelFileException">The folder is not a reward model.</exception>
    public IReadOnlyDictionary<string, IReadOnlyList<BucketAccuracy>> TestOnly()
    {
        var c = config;
        if (c.HelpfulnessTest.Count + c.SafetyTest.Count == 0)
        {
            throw new ArgumentException("helpfulness_test / safety_test: give at least one test file to test the reward model on");
        }

        var device = TorchSetup.Device(c.Device);
        TorchSetup.SetThreads(c.Threads);
        Directory.CreateDirectory(c.Output);
        var (model, tokenizer) = RewardModel.Load(c.ChatModel, device);
        using (model)
        {
            model.eval();
            return Test(model, tokenizer, c, c.Output, device, log);
        }
    }

    /// <summary>Accuracy per rating bucket on each test set (contradictory safety pairs left out), with <c>accuracy.json</c> and the reward histograms in <paramref name="folder"/>.</summary>
    private static Dictionary<string, IReadOnlyList<BucketAccuracy>> Test(RewardModel model, Core.Tokenization.LlamaTokenizer tokenizer, RewardModelConfig c, string folder, Device device, Action<string>? log)
    {
        var tests = new Dictionary<string, IReadOnlyList<BucketAccuracy>>();
        foreach (var (name, files) in new[] { ("helpfulness", c.HelpfulnessTest), ("safety", c.SafetyTest) })
        {
            if (files.Count == 0)
            {
                continue;
            }

            var (pairs, _) = PreferenceDataset.Read(files, c.SkipInvalid, log);
            var (encoded, _) = RewardData.EncodeAll(tokenizer, pairs.Where(p => !RewardData.IsContradictory(p)), c.Margin, c.SeqLen);
            var (buckets, scores) = Evaluate(model, encoded, c.MicroBatch, device);
            tests[name] = buckets;
            Plots.Histogram(Path.Combine(folder, $"rewards-{name}-test.png"), $"{c.Kind} RM rewards on {name} test pairs", scores);
            File.WriteAllText(Path.Combine(folder, $"rewards-{name}-test.json"), JsonSerializer.Serialize(scores));
        }

        File.WriteAllText(Path.Combine(folder, "accuracy.json"), JsonSerializer.Serialize(tests, RewardModelConfig.Json));
        return tests;
    }

    /// <summary>Pairwise accuracy per rating bucket (r_chosen > r_rejected), and the rewards of chosen and rejected answers.</summary>
    public static (IReadOnlyList<BucketAccuracy> Buckets, IReadOnlyDictionary<string, double[]> Scores) Evaluate(RewardModel model, IReadOnlyList<EncodedPair> pairs, int microBatch, Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(pairs);
        using var noGrad = no_grad();
        var chosen = new List<double>();
        var rejected = new List<double>();
        for (int start = 0; start < pairs.Count; start += microBatch)
        {
            using var scope = NewDisposeScope();
            var batch = pairs.Skip(start).Take(microBatch).ToList();
            var (tokens, last, _) = RewardData.Batch(batch, device);
            var rewards = model.forward(tokens, last).cpu().data<float>().ToArray();
            chosen.AddRange(rewards[..batch.Count].Select(r => (double)r));
            rejected.AddRange(rewards[batch.Count..].Select(r => (double)r));
        }

        var buckets = PreferenceDataset.Ratings.Append("unrated")
            .Select(rating => (rating, indices: Enumerable.Range(0, pairs.Count).Where(i => (pairs[i].Rating ?? "unrated") == rating).ToList()))
            .Where(b => b.indices.Count > 0)
            .Select(b => new BucketAccuracy(b.rating, b.indices.Count(i => chosen[i] > rejected[i]), b.indices.Count))
            .ToList();
        return (buckets, new Dictionary<string, double[]> { ["chosen"] = [.. chosen], ["rejected"] = [.. rejected] });
    }
}
