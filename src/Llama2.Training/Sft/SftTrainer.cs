using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.Data;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;
using Llama2.Training.Data;
using Llama2.Training.Optim;
using Llama2.Training.Pretraining;
using Llama2.Training.Runs;
using static TorchSharp.torch;

namespace Llama2.Training.Sft;

/// <summary>What a finished (or stopped) fine-tuning run produced.</summary>
public sealed record SftResult(string RunFolder, string FinalModel, long Steps, double? FirstValLoss, double? LastValLoss, FitCounts Counts);

/// <summary>
/// Supervised fine-tuning (Llama 2 §3.1): next-token loss on answer tokens only, packed dialogues, AdamW with a cosine
/// schedule, checkpoints and exact resume (the same run folder layout as pretraining). Ghost Attention data
/// (<see cref="LossScope.LastAssistantTurn"/>) goes through the same trainer.
/// </summary>
public sealed class SftTrainer(SftConfig config, Action<TrainingReport>? report = null, Action<string>? log = null)
{
    private const string ConfigFile = "config.json";

    /// <summary>Fine-tunes (or with <paramref name="resume"/>, continues). Cancelling saves a checkpoint first.</summary>
    /// <exception cref="ArgumentException">The config or data is unusable; nothing has been trained.</exception>
    public SftResult Run(bool resume = false, CancellationToken cancellation = default)
    {
        var run = config.Output;
        var checkpoints = Path.Combine(run, "checkpoints");
        var c = resume && File.Exists(Path.Combine(run, ConfigFile))
            ? JsonSerializer.Deserialize<SftConfig>(File.ReadAllText(Path.Combine(run, ConfigFile)), SftConfig.Json)!
            : config;
        c.Validate();
        var device = TorchSetup.Device(c.Device);
        TorchSetup.SetThreads(c.Threads);
        Directory.CreateDirectory(run);

        using var baseModel = ModelFile.Open(c.BaseModel);
        var tokenizer = baseModel.Tokenizer;
        var (train, validation) = LoadData(c, tokenizer);
        File.WriteAllText(Path.Combine(run, ConfigFile), JsonSerializer.Serialize(c, SftConfig.Json));

        var shape = baseModel.Config with { MaxSeqLen = Math.Max(baseModel.Config.MaxSeqLen, c.SeqLen) };
        using var model = new LlamaModel(shape, device);
        model.LoadWeights(baseModel);
        var optimizer = new AdamW(model.named_parameters(), c.Beta1, c.Beta2, c.Eps, c.WeightDecay);
        long totalSteps = Math.Max(1, (long)Math.Ceiling((double)train.Count * c.Epochs / (c.MicroBatch * c.Accumulation)));
        var state = new TrainerState(0, 0, 0, c.Seed, 0);
        var latest = resume ? Checkpoint.FindLatest(checkpoints) : null;
        if (latest is not null)
        {
            Checkpoint.Load(latest, model, optimizer);
            state = Checkpoint.LoadState(latest);
            optimizer.Step = state.Step;
            log?.Invoke($"resumed from {latest} (step {state.Step})");
        }

        log?.Invoke($"{train.Counts.Kept} dialogues in {train.Count} sequences of {c.SeqLen} ({train.LearnedTokens:N0} learned tokens), " +
            $"{train.Counts.Truncated} truncated and {train.Counts.Dropped} dropped for length; {validation?.Count ?? 0} validation sequences; {totalSteps} steps");
        using var metrics = new MetricsLog(Path.Combine(run, "metrics.jsonl"), latest is null ? -1 : state.Step);
        var order = new WindowOrder(train.Count, c.Seed);
        var clock = Stopwatch.StartNew();
        double? firstVal = metrics.Entries.FirstOrDefault(e => e["val_loss"] is not null) is { } first ? Plots.Number(first["val_loss"]!) : null;
        double? lastVal = null;
        long step = state.Step;
        while (step < totalSteps)
        {
            if (cancellation.IsCancellationRequested)
            {
                log?.Invoke($"stopping: saving a checkpoint at step {step}");
                Checkpoint.SaveStep(checkpoints, model, tokenizer, optimizer, state with { ElapsedSeconds = state.ElapsedSeconds + clock.Elapsed.TotalSeconds });
                break;
            }

            var stepClock = Stopwatch.StartNew();
            double lr = LearningRateSchedule.Cosine(step, c.WarmupSteps, totalSteps, c.PeakLr, c.MinLrRatio);
            double loss = 0;
            long consumed = state.WindowsConsumed, tokens = 0;
            for (int a = 0; a < c.Accumulation; a++)
            {
                using var scope = NewDisposeScope();
                var indices = Enumerable.Range(0, c.MicroBatch).Select(i => order.At(consumed + i)).ToArray();
                consumed += c.MicroBatch;
                var (inputs, targets, mask) = train.Batch(indices, device);
                var microLoss = Losses.NextTokenCrossEntropy(model.forward(inputs, mask), targets).Over(c.Accumulation);
                microLoss.backward();
                loss += microLoss.item<float>();
                tokens += inputs.numel();
            }

            double gradNorm = optimizer.ClipGradNorm(c.GradClip);
            optimizer.Update(lr);
            optimizer.ZeroGrad();
            step++;
            state = state with { Step = step, WindowsConsumed = consumed, TokensSeen = state.TokensSeen + tokens };
            double tokensPerSecond = tokens / stepClock.Elapsed.TotalSeconds;
            var entry = new JsonObject { ["step"] = step, ["loss"] = loss, ["lr"] = lr, ["grad_norm"] = gradNorm, ["tokens_per_s"] = tokensPerSecond };
            if (validation is not null && (step % c.EvalInterval == 0 || step == totalSteps || step == 1))
            {
                lastVal = Loss(model, validation, c.MicroBatch, device);
                firstVal ??= lastVal;
                entry["val_loss"] = lastVal;
            }

            metrics.Write(entry);
            report?.Invoke(new TrainingReport(step, totalSteps, loss, lr, gradNorm, tokensPerSecond, entry["val_loss"] is { } v ? Plots.Number(v) : null, clock.Elapsed));
            if (step % c.CheckpointInterval == 0 || step == totalSteps)
            {
                Checkpoint.SaveStep(checkpoints, model, tokenizer, optimizer, state with { ElapsedSeconds = state.ElapsedSeconds + clock.Elapsed.TotalSeconds });
                Checkpoint.Prune(checkpoints, c.KeepCheckpoints);
            }
        }

        var final = Path.Combine(run, "final");
        Checkpoint.Save(final, model, tokenizer);
        Plots.Lines(Path.Combine(run, "loss.png"), "Supervised fine-tuning loss (answer tokens)", "cross-entropy (nats/token)", metrics.Entries, "loss", "val_loss");
        return new SftResult(run, final, step, firstVal, lastVal, train.Counts);
    }

    /// <summary>Mean answer-token loss over all sequences of <paramref name="data"/>.</summary>
    public static double Loss(LlamaModel model, SftData data, int microBatch, Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        using var noGrad = no_grad();
        double total = 0;
        long counted = 0;
        for (int start = 0; start < data.Count; start += microBatch)
        {
            using var scope = NewDisposeScope();
            var indices = Enumerable.Range(start, Math.Min(microBatch, data.Count - start)).ToArray();
            var (inputs, targets, mask) = data.Batch(indices, device);
            long learned = targets.NotEqual(Losses.IgnoreIndex).sum().item<long>();
            if (learned > 0)
            {
                total += Losses.NextTokenCrossEntropy(model.forward(inputs, mask), targets).item<float>() * learned;
                counted += learned;
            }
        }

        return counted == 0 ? double.NaN : total / counted;
    }

    private (SftData Train, SftData? Validation) LoadData(SftConfig c, LlamaTokenizer tokenizer)
    {
        var examples = ChatDataset.Read(c.Data, c.SkipInvalid, log);
        if (examples.Count == 0)
        {
            throw new ArgumentException("the fine-tuning data has no dialogue");
        }

        var shuffled = Shuffle(examples, c.Seed);
        List<ChatExample> held = c.ValidationData.Count > 0 ? ChatDataset.Read(c.ValidationData, c.SkipInvalid, log) : [];
        if (held.Count == 0 && c.ValidationFraction > 0 && shuffled.Count > 1)
        {
            int count = Math.Max(1, (int)(shuffled.Count * c.ValidationFraction));
            held = shuffled[^count..];
            shuffled = shuffled[..^count];
        }

        var train = SftData.Build(tokenizer, shuffled, c.SeqLen, c.Pack);
        if (train.Count == 0)
        {
            throw new ArgumentException($"no dialogue fits in {c.SeqLen} tokens ({train.Counts.Dropped} dropped for length)");
        }

        var validation = held.Count > 0 ? SftData.Build(tokenizer, held, c.SeqLen, c.Pack) : null;
        return (train, validation is { Count: > 0 } ? validation : null); // every held-out dialogue may be too long
    }

    private static List<ChatExample> Shuffle(List<ChatExample> examples, ulong seed)
    {
        var order = new WindowOrder(examples.Count, seed ^ 0x5F7A_11C3UL);
        return [.. Enumerable.Range(0, examples.Count).Select(i => examples[order.At(i)])];
    }
}
