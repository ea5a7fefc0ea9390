using System.Text.Json;
using System.Text.Json.Serialization;
using Llama2.Core.IO;

namespace Llama2.Training.Sft;

/// <summary>
/// Supervised fine-tuning settings. Defaults are the paper's (Llama 2 §3.1: cosine schedule from 2e-5, weight decay
/// 0.1, batch 64 sequences of 4096 tokens, 2 epochs, loss on answer tokens only, packed prompts and answers; AdamW as
/// in pretraining). Where the paper is silent: no warmup and a floor of 10% of the peak, as in pretraining.
/// <see cref="ForPreset"/> scales them for the small models of the built-in world.
/// </summary>
public sealed record SftConfig
{
    /// <summary>The model to fine-tune: a pretraining run's <c>final</c> folder, any Hugging Face/Meta folder or GGUF.</summary>
    public string BaseModel { get; init; } = "";

    /// <summary>Chat jsonl files (<c>{"messages"}</c> or <c>{"prompt", "completion"}</c>).</summary>
    public IReadOnlyList<string> Data { get; init; } = [];

    /// <summary>Held-out chat jsonl for the validation loss; empty holds out <see cref="ValidationFraction"/> of the data.</summary>
    public IReadOnlyList<string> ValidationData { get; init; } = [];

    public string Output { get; init; } = "runs/sft";

    /// <summary>Tokens per sequence (Llama 2: 4096).</summary>
    public int SeqLen { get; init; } = 4096;

    /// <summary>Sequences per optimizer step (Llama 2: 64), reached by accumulating micro-batches.</summary>
    public int BatchSequences { get; init; } = 64;

    public int MicroBatch { get; init; } = 1;

    /// <summary>Llama 2: 2.</summary>
    public int Epochs { get; init; } = 2;

    /// <summary>Llama 2: 2e-5.</summary>
    public double PeakLr { get; init; } = 2e-5;

    public int WarmupSteps { get; init; }

    public double MinLrRatio { get; init; } = 0.1;

    public double WeightDecay { get; init; } = 0.1;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.95;

    public double Eps { get; init; } = 1e-5;

    public double GradClip { get; init; } = 1.0;

    /// <summary>Several dialogues per sequence, attention kept within each (Llama 2 packs too).</summary>
    public bool Pack { get; init; } = true;

    /// <summary>Skip malformed data lines (reported with line numbers) instead of stopping.</summary>
    public bool SkipInvalid { get; init; }

    public double ValidationFraction { get; init; } = 0.05;

    public int EvalInterval { get; init; } = 50;

    public int CheckpointInterval { get; init; } = 200;

    public int KeepCheckpoints { get; init; } = 2;

    public ulong Seed { get; init; } = 1234;

    public string Device { get; init; } = "cpu";

    public int Threads { get; init; }

    [JsonIgnore]
    public int Accumulation => Math.Max(1, BatchSequences / MicroBatch);

    /// <summary>The paper's recipe scaled for small models: short sequences, small batches, a higher LR (tiny models barely move at 2e-5).</summary>
    public static SftConfig ForPreset(string preset) => preset.ToLowerInvariant() switch
    {
        "micro" => new SftConfig { SeqLen = 128, BatchSequences = 8, MicroBatch = 8, Epochs = 1, PeakLr = 1e-3, EvalInterval = 5, CheckpointInterval = 10 },
        "tiny" => new SftConfig { SeqLen = 256, BatchSequences = 16, MicroBatch = 16, Epochs = 2, PeakLr = 1e-3, EvalInterval = 25, CheckpointInterval = 100 },
        "small" => new SftConfig { SeqLen = 512, BatchSequences = 32, MicroBatch = 8, Epochs = 2, PeakLr = 5e-4, EvalInterval = 50, CheckpointInterval = 200 },
        "paper" => new SftConfig(),
        _ => throw new ArgumentException($"unknown SFT preset '{preset}' (micro, tiny, small, paper)"),
    };

    /// <summary>Checks the fields; the message names the field.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }

        Check(BaseModel.Length > 0, "base_model: give the model to fine-tune");
        Check(Data.Count > 0, "data: give at least one chat jsonl file");
        Check(SeqLen is >= 8 and <= 1 << 14, $"seq_len {SeqLen} is out of range");
        Check(MicroBatch >= 1 && (long)MicroBatch * SeqLen * SeqLen <= int.MaxValue, $"micro_batch {MicroBatch} × seq_len² is too large for one attention mask");
        Check(BatchSequences >= MicroBatch, $"batch_sequences {BatchSequences} is smaller than micro_batch {MicroBatch}");
        Check(Epochs >= 1, $"epochs {Epochs} must be ≥ 1");
        Check(PeakLr is > 0 and < 1, $"peak_lr {PeakLr} is out of range");
        Check(WarmupSteps >= 0 && MinLrRatio is >= 0 and <= 1, "warmup_steps must be ≥ 0 and min_lr_ratio in [0, 1]");
        Check(ValidationFraction is >= 0 and < 0.5, $"validation_fraction {ValidationFraction} must be in [0, 0.5)");
        Check(EvalInterval >= 1 && CheckpointInterval >= 1, "eval_interval and checkpoint_interval must be ≥ 1");
        Check(Device is "cpu" or "cuda", $"device '{Device}' must be cpu or cuda");
    }

    public static readonly JsonSerializerOptions Json = Pretraining.PretrainConfig.Json;

    /// <summary>Reads a JSON config (snake_case names; unknown fields are errors).</summary>
    /// <summary>Reads a config file; with <paramref name="defaults"/> (a preset), the file overrides only the fields it names.</summary>
    public static SftConfig Load(string path, SftConfig? defaults = null) => Runs.ConfigFile.Read(path, "SFT", Json, defaults);
}
