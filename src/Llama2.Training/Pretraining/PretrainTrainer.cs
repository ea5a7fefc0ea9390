using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.Data;
using Llama2.Core.Tokenization;
using Llama2.Training.Data;
using Llama2.Training.Optim;
using Llama2.Training.Runs;
using static TorchSharp.torch;

namespace Llama2.Training.Pretraining;

/// <summary>
/// Progress of a training run, reported after every step. <paramref name="RateUnit"/> names what
/// <paramref name="TokensPerSecond"/> counts (reward models: pairs/s); <paramref name="Detail"/>, when set, replaces the
/// loss/LR/gradient/rate part of the progress line (PPO: reward, held-out reward, KL, clip fraction).
/// </summary>
public sealed record TrainingReport(long Step, long TotalSteps, double Loss, double Lr, double GradNorm, double TokensPerSecond, double? ValLoss, TimeSpan Elapsed, string RateUnit = "tok/s", string? Detail = null);

/// <summary>What a finished (or stopped) run produced.</summary>
public sealed record PretrainResult(string RunFolder, string FinalModel, long Steps, double? FirstValLoss, double? LastValLoss, double TokensPerSecond);

/// <summary>
/// Pretraining (Llama 2 §2.2): next-token loss on packed documents, AdamW, cosine schedule with warmup,
/// gradient clipping and accumulation, periodic validation, checkpoints and exact resume.
/// </summary>
public sealed class PretrainTrainer(PretrainConfig config, Action<TrainingReport>? report = null, Action<string>? log = null)
{
    private const string ConfigFile = "config.json";

    /// <summary>Runs (or with <paramref name="resume"/>, continues) training. Cancelling saves a checkpoint first.</summary>
    /// <exception cref="ArgumentException">The config or data is unusable; nothing has been trained.</exception>
    public PretrainResult Run(bool resume = false, CancellationToken cancellation = default)
    {
        var run = config.Output;
        var checkpoints = Path.Combine(run, "checkpoints");
        var c = config;
        if (resume && File.Exists(Path.Combine(run, ConfigFile)))
        {
            c = JsonSerializer.Deserialize<PretrainConfig>(File.ReadAllText(Path.Combine(run, ConfigFile)), PretrainConfig.Json)! with { MaxSteps = config.MaxSteps };
        }

        c.Validate();
        var device = TorchSetup.Device(c.Device);
        TorchSetup.SetThreads(c.Threads);
        Directory.CreateDirectory(run);

        var documents = TextCorpus.ReadDocuments(c.Inputs).ToList();
        if (documents.All(d => d.Length == 0))
        {
            throw new ArgumentException("the training corpus is empty: no document has any text");
        }

        var tokenizer = LoadOrTrainTokenizer(c, run, documents);
        var (train, validation) = PackedTokens.Build(documents, tokenizer, c.SeqLen, c.ValidationFraction);
        log?.Invoke($"{documents.Count} documents, {train.TokenCount:N0} training and {validation.TokenCount:N0} validation tokens");
        File.WriteAllText(Path.Combine(run, ConfigFile), JsonSerializer.Serialize(c, PretrainConfig.Json));

        using var generator = new Generator(c.Seed);
        using var model = new LlamaModel(c.ModelConfig(tokenizer.VocabSize), device, generator);
        var optimizer = new AdamW(model.named_parameters(), c.Beta1, c.Beta2, c.Eps, c.WeightDecay);
        var state = new TrainerState(0, 0, 0, c.Seed, 0);
        var latest = resume ? Checkpoint.FindLatest(checkpoints) : null;
        if (latest is not null)
        {
            Checkpoint.Load(latest, model, optimizer);
            state = Checkpoint.LoadState(latest);
            optimizer.Step = state.Step;
            log?.Invoke($"resumed from {latest} (step {state.Step})");
        }
        else if (resume)
        {
            log?.Invoke("no checkpoint to resume from; starting at step 0");
        }

        log?.Invoke($"model: {LlamaModel.Describe(model.Config)}, {model.parameters().Sum(p => p.numel()):N0} parameters; {c.Accumulation} micro-batch{(c.Accumulation == 1 ? "" : "es")} of {c.MicroBatch}×{c.SeqLen} per step");
        using var metrics = new MetricsLog(Path.Combine(run, "metrics.jsonl"), latest is null ? -1 : state.Step);
        var order = new WindowOrder(train.WindowCount, c.Seed);
        var clock = Stopwatch.StartNew();
        double? firstVal = metrics.Entries.FirstOrDefault(e => e["val_loss"] is not null) is { } first ? Plots.Number(first["val_loss"]!) : null;
        double? lastVal = null;
        double tokensPerSecond = 0;
        long step = state.Step;
        while (step < c.MaxSteps)
        {
            if (cancellation.IsCancellationRequested)
            {
                log?.Invoke($"stopping: saving a checkpoint at step {step}");
                Checkpoint.SaveStep(checkpoints, model, tokenizer, optimizer, state with { ElapsedSeconds = state.ElapsedSeconds + clock.Elapsed.TotalSeconds });
                break;
            }

            var stepClock = Stopwatch.StartNew();
            double lr = LearningRateSchedule.Cosine(step, c.WarmupSteps, c.MaxSteps, c.PeakLr, c.MinLrRatio);
            double loss = 0;
            long consumed = state.WindowsConsumed;
            for (int a = 0; a < c.Accumulation; a++)
            {
                using var scope = NewDisposeScope();
                var (inputs, targets) = Batch(train, order, ref consumed, c.MicroBatch, device);
                var microLoss = Losses.NextTokenCrossEntropy(model.forward(inputs), targets).Over(c.Accumulation);
                microLoss.backward();
                loss += microLoss.item<float>();
            }

            double gradNorm = optimizer.ClipGradNorm(c.GradClip);
            optimizer.Update(lr);
            optimizer.ZeroGrad();
            step++;
            long tokens = (long)c.Accumulation * c.MicroBatch * c.SeqLen;
            tokensPerSecond = tokens / stepClock.Elapsed.TotalSeconds;
            state = state with { Step = step, WindowsConsumed = consumed, TokensSeen = state.TokensSeen + tokens };

            var entry = new JsonObject { ["step"] = step, ["loss"] = loss, ["lr"] = lr, ["grad_norm"] = gradNorm, ["tokens_per_s"] = tokensPerSecond };
            if (step % c.EvalInterval == 0 || step == c.MaxSteps || step == 1)
            {
                lastVal = ValidationLoss(model, validation, c, device);
                firstVal ??= lastVal;
                entry["val_loss"] = lastVal;
            }

            metrics.Write(entry);
            report?.Invoke(new TrainingReport(step, c.MaxSteps, loss, lr, gradNorm, tokensPerSecond, (entry["val_loss"] is { } v ? Plots.Number(v) : null), clock.Elapsed));
            if (step % c.CheckpointInterval == 0 || step == c.MaxSteps)
            {
                Checkpoint.SaveStep(checkpoints, model, tokenizer, optimizer, state with { ElapsedSeconds = state.ElapsedSeconds + clock.Elapsed.TotalSeconds });
                Checkpoint.Prune(checkpoints, c.KeepCheckpoints);
                Plots.Lines(Path.Combine(run, "loss.png"), "Pretraining loss", "cross-entropy (nats/token)", metrics.Entries, "loss", "val_loss");
            }
        }

        var final = Path.Combine(run, "final");
        Checkpoint.Save(final, model, tokenizer);
        Plots.Lines(Path.Combine(run, "loss.png"), "Pretraining loss", "cross-entropy (nats/token)", metrics.Entries, "loss", "val_loss");
        return new PretrainResult(run, final, step, firstVal, lastVal, tokensPerSecond);
    }

    /// <summary>Mean next-token loss over the first <c>EvalWindows</c> validation windows.</summary>
    internal static double ValidationLoss(LlamaModel model, PackedTokens validation, PretrainConfig c, Device device)
    {
        using var noGrad = no_grad();
        int windows = Math.Min(c.EvalWindows, validation.WindowCount);
        double total = 0;
        int counted = 0;
        for (int start = 0; start < windows; start += c.MicroBatch)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(c.MicroBatch, windows - start);
            long position = start;
            var (inputs, targets) = Batch(validation, null, ref position, n, device);
            total += Losses.NextTokenCrossEntropy(model.forward(inputs), targets).item<float>() * n;
            counted += n;
        }

        return total / counted;
    }

    /// <summary>The next <paramref name="size"/> windows (in <paramref name="order"/>, or in sequence) as (inputs, targets).</summary>
    internal static (Tensor Inputs, Tensor Targets) Batch(PackedTokens data, WindowOrder? order, ref long position, int size, Device device)
    {
        var inputs = new long[size * data.SeqLen];
        var targets = new long[size * data.SeqLen];
        for (int b = 0; b < size; b++)
        {
            int index = order?.At(position) ?? (int)(position % data.WindowCount);
            position++;
            var (x, y) = data.Window(index);
            x.CopyTo(inputs, b * data.SeqLen);
            y.CopyTo(targets, b * data.SeqLen);
        }

        return (tensor(inputs, [size, data.SeqLen], device: device), tensor(targets, [size, data.SeqLen], device: device));
    }

    private static LlamaTokenizer LoadOrTrainTokenizer(PretrainConfig c, string run, List<string> documents)
    {
        if (c.Tokenizer is not null)
        {
            return TokenizerLoader.Load(c.Tokenizer);
        }

        var path = Path.Combine(run, "tokenizer.model");
        if (File.Exists(path))
        {
            return TokenizerLoader.FromSentencePiece(path);
        }

        var model = TokenizerTrainer.Train(documents.SelectMany(d => d.Split('\n')), new TokenizerTrainerOptions { VocabSize = c.VocabSize, MaxAlphabet = (c.VocabSize - 259) / 2 });
        model.Save(path);
        return new LlamaTokenizer(model);
    }
}
