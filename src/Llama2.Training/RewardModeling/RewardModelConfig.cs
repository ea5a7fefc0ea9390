using System.Text.Json;
using System.Text.Json.Serialization;
using Llama2.Core.IO;

namespace Llama2.Training.RewardModeling;

/// <summary>
/// Reward model training (Llama 2 §3.2.2, A.3.3): one epoch; max LR 1e-5 (5e-6 for 70B); cosine to 10%; warmup 3% of
/// the steps (at least 5); batch 512 pairs; AdamW as in pretraining. Helpfulness RM data: all helpfulness pairs plus an
/// equal amount sampled from safety pairs; Safety RM data: all safety pairs plus helpfulness pairs making 10% of the mix.
/// <see cref="ForPreset"/> scales the batch and LR for the built-in world's small models.
/// </summary>
public sealed record RewardModelConfig
{
    /// <summary>"helpfulness" or "safety": which data mix (§3.2.2).</summary>
    public string Kind { get; init; } = "helpfulness";

    /// <summary>The chat checkpoint the trunk starts from (Llama 2: a pretrained chat model checkpoint).</summary>
    public string ChatModel { get; init; } = "";

    public IReadOnlyList<string> HelpfulnessData { get; init; } = [];

    public IReadOnlyList<string> SafetyData { get; init; } = [];

    /// <summary>Held-out pairs for the accuracy tables (Tables 7 and 8).</summary>
    public IReadOnlyList<string> HelpfulnessTest { get; init; } = [];

    public IReadOnlyList<string> SafetyTest { get; init; } = [];

    public string Output { get; init; } = "runs/reward-model";

    /// <summary>The ranking loss's margin: "none", "small" or "large" (Table 27).</summary>
    public string Margin { get; init; } = MarginTable.Small;

    /// <summary>Longest prompt + answer in tokens; longer pairs are dropped and counted.</summary>
    public int SeqLen { get; init; } = 4096;

    /// <summary>Pairs per optimizer step (Llama 2: 512).</summary>
    public int BatchPairs { get; init; } = 512;

    public int MicroBatch { get; init; } = 8;

    /// <summary>Llama 2: 1.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Llama 2: 1e-5 (5e-6 for 70B).</summary>
    public double PeakLr { get; init; } = 1e-5;

    /// <summary>Llama 2: 3% of the steps, at least 5.</summary>
    public double WarmupFraction { get; init; } = 0.03;

    public int MinWarmupSteps { get; init; } = 5;

    public double MinLrRatio { get; init; } = 0.1;

    public double WeightDecay { get; init; } = 0.1;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.95;

    public double Eps { get; init; } = 1e-5;

    public double GradClip { get; init; } = 1.0;

    public bool SkipInvalid { get; init; }

    /// <summary>Train on at most this many pairs of the mix (0 = all); for quick runs.</summary>
    public int MaxPairs { get; init; }

    public int CheckpointInterval { get; init; } = 100;

    public ulong Seed { get; init; } = 1234;

    public string Device { get; init; } = "cpu";

    public int Threads { get; init; }

    [JsonIgnore]
    public int Accumulation => Math.Max(1, BatchPairs / MicroBatch);

    /// <summary>The paper's recipe scaled for small models (smaller batches, higher LR).</summary>
    public static RewardModelConfig ForPreset(string preset) => preset.ToLowerInvariant() switch
    {
        "micro" => new RewardModelConfig { SeqLen = 128, BatchPairs = 8, MicroBatch = 8, PeakLr = 1e-3, CheckpointInterval = 10 },
        "tiny" => new RewardModelConfig { SeqLen = 256, BatchPairs = 32, MicroBatch = 16, PeakLr = 3e-4, CheckpointInterval = 50 },
        "small" => new RewardModelConfig { SeqLen = 512, BatchPairs = 32, MicroBatch = 16, PeakLr = 2e-4, CheckpointInterval = 50 },
        "paper" => new RewardModelConfig(),
        _ => throw new ArgumentException($"unknown reward-model preset '{preset}' (micro, tiny, small, paper)"),
    };

    /// <exception cref="ArgumentException">A field is out of range; the message names it.</exception>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }

        Check(Kind is "helpfulness" or "safety", $"kind '{Kind}' must be helpfulness or safety");
        Check(ChatModel.Length > 0, "chat_model: give the chat checkpoint the reward model starts from");
        Check((Kind == "helpfulness" ? HelpfulnessData : SafetyData).Count > 0, $"{Kind}_data: give at least one preference file");
        Check(Margin is MarginTable.None or MarginTable.Small or MarginTable.Large, $"margin '{Margin}' must be none, small or large");
        Check(SeqLen is >= 8 and <= 1 << 14, $"seq_len {SeqLen} is out of range");
        Check(MicroBatch >= 1 && BatchPairs >= MicroBatch, $"batch_pairs {BatchPairs} must be ≥ micro_batch {MicroBatch} ≥ 1");
        Check(Epochs >= 1 && PeakLr is > 0 and < 1 && WarmupFraction is >= 0 and < 1 && MinLrRatio is >= 0 and <= 1, "epochs, peak_lr, warmup_fraction or min_lr_ratio out of range");
        Check(Device is "cpu" or "cuda", $"device '{Device}' must be cpu or cuda");
    }

    public static readonly JsonSerializerOptions Json = Pretraining.PretrainConfig.Json;

    /// <summary>Reads a config file; with <paramref name="defaults"/> (a preset), the file overrides only the fields it names.</summary>
    public static RewardModelConfig Load(string path, RewardModelConfig? defaults = null) => Runs.ConfigFile.Read(path, "reward-model", Json, defaults);
}
