using System.Text.Json;
using System.Text.Json.Serialization;
using Llama2.Core.IO;
using Llama2.Core.Model;

namespace Llama2.Training.Pretraining;

/// <summary>
/// Pretraining settings. Defaults are the paper's (Llama 2 §2.2: AdamW β1 0.9, β2 0.95, eps 1e-5; cosine
/// schedule, 2000 warmup steps, decay to 10% of the peak; weight decay 0.1; gradient clipping 1.0; 4M-token
/// batches of 4096-token sequences; peak LR 3e-4 for 7B/13B). <see cref="ForPreset"/> scales them for small models.
/// </summary>
public sealed record PretrainConfig
{
    /// <summary>Model shape: "micro" (tests), "tiny", "small", or a Llama 2 size "7b", "13b", "34b", "70b".</summary>
    public string Preset { get; init; } = "tiny";

    /// <summary>Overrides of the preset's shape (null keeps the preset's value).</summary>
    public int? Dim { get; init; }

    public int? NLayers { get; init; }

    public int? NHeads { get; init; }

    public int? NKvHeads { get; init; }

    public int? HiddenDim { get; init; }

    /// <summary>Text sources: .txt files (one document each), .jsonl ({"text"}), .parquet (text column) or folders.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    /// <summary>A tokenizer to use (tokenizer.model, GGUF or model folder); null trains one on the corpus with <see cref="VocabSize"/>.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>Vocabulary of a freshly trained tokenizer (Llama 2: 32000).</summary>
    public int VocabSize { get; init; } = 32000;

    /// <summary>Where the run folder goes (metrics, plots, checkpoints, final model).</summary>
    public string Output { get; init; } = "runs/pretrain";

    /// <summary>Tokens per sequence (Llama 2: 4096).</summary>
    public int SeqLen { get; init; } = 4096;

    /// <summary>Tokens per optimizer step, reached by gradient accumulation (Llama 2: 4M).</summary>
    public int BatchTokens { get; init; } = 4 * 1024 * 1024;

    /// <summary>Sequences per forward/backward pass.</summary>
    public int MicroBatch { get; init; } = 1;

    public int MaxSteps { get; init; } = 500_000;

    /// <summary>Peak learning rate (Llama 2: 3e-4 for 7B and 13B, 1.5e-4 for 34B and 70B).</summary>
    public double PeakLr { get; init; } = 3e-4;

    public int WarmupSteps { get; init; } = 2000;

    /// <summary>The cosine schedule ends at this fraction of the peak (Llama 2: 0.1).</summary>
    public double MinLrRatio { get; init; } = 0.1;

    public double WeightDecay { get; init; } = 0.1;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.95;

    public double Eps { get; init; } = 1e-5;

    public double GradClip { get; init; } = 1.0;

    /// <summary>Fraction of the packed windows held out for validation.</summary>
    public double ValidationFraction { get; init; } = 0.05;

    public int EvalInterval { get; init; } = 100;

    /// <summary>Validation windows scored per evaluation (at most all of them).</summary>
    public int EvalWindows { get; init; } = 64;

    public int CheckpointInterval { get; init; } = 500;

    /// <summary>Checkpoints kept besides the final model (older ones are deleted).</summary>
    public int KeepCheckpoints { get; init; } = 2;

    public ulong Seed { get; init; } = 1234;

    /// <summary>"cpu" or "cuda" (needs TorchSharp's CUDA libtorch package).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Intra-op threads for libtorch; 0 = physical cores.</summary>
    public int Threads { get; init; }

    [JsonIgnore]
    public int Accumulation => Math.Max(1, BatchTokens / (SeqLen * MicroBatch));

    /// <summary>The model shape of <see cref="Preset"/> (with any overrides) for a vocabulary.</summary>
    public ModelConfig ModelConfig(int vocabSize)
    {
        var shape = PresetShape(vocabSize);
        return shape with
        {
            Dim = Dim ?? shape.Dim,
            NLayers = NLayers ?? shape.NLayers,
            NHeads = NHeads ?? shape.NHeads,
            NKvHeads = NKvHeads ?? shape.NKvHeads,
            HiddenDim = HiddenDim ?? shape.HiddenDim,
        };
    }

    private ModelConfig PresetShape(int vocabSize) => Preset.ToLowerInvariant() switch
    {
        "micro" => new ModelConfig { Dim = 64, NLayers = 2, NHeads = 4, NKvHeads = 2, HiddenDim = 192, VocabSize = vocabSize, MaxSeqLen = SeqLen },
        "tiny" => new ModelConfig { Dim = 128, NLayers = 4, NHeads = 4, NKvHeads = 2, HiddenDim = 384, VocabSize = vocabSize, MaxSeqLen = SeqLen },
        "small" => new ModelConfig { Dim = 288, NLayers = 6, NHeads = 6, NKvHeads = 6, HiddenDim = 768, VocabSize = vocabSize, MaxSeqLen = SeqLen },
        "7b" => Core.Model.ModelConfig.Llama2_7B with { VocabSize = vocabSize, MaxSeqLen = SeqLen },
        "13b" => Core.Model.ModelConfig.Llama2_13B with { VocabSize = vocabSize, MaxSeqLen = SeqLen },
        "34b" => Core.Model.ModelConfig.Llama2_34B with { VocabSize = vocabSize, MaxSeqLen = SeqLen },
        "70b" => Core.Model.ModelConfig.Llama2_70B with { VocabSize = vocabSize, MaxSeqLen = SeqLen },
        _ => throw new ArgumentException($"unknown preset '{Preset}' (micro, tiny, small, 7b, 13b, 34b, 70b)"),
    };

    /// <summary>The paper's recipe scaled for a small preset: shorter sequences, smaller batches, higher LR, short warmup.</summary>
    public static PretrainConfig ForPreset(string preset) => preset.ToLowerInvariant() switch
    {
        "micro" => new PretrainConfig { Preset = preset, VocabSize = 512, SeqLen = 64, BatchTokens = 1024, MicroBatch = 8, MaxSteps = 50, PeakLr = 3e-3, WarmupSteps = 5, EvalInterval = 10, EvalWindows = 16, CheckpointInterval = 25 },
        "tiny" => new PretrainConfig { Preset = preset, VocabSize = 2048, SeqLen = 128, BatchTokens = 8192, MicroBatch = 16, MaxSteps = 600, PeakLr = 2e-3, WarmupSteps = 30, EvalInterval = 50, EvalWindows = 64, CheckpointInterval = 200 },
        "small" => new PretrainConfig { Preset = preset, VocabSize = 4096, SeqLen = 256, BatchTokens = 32768, MicroBatch = 16, MaxSteps = 2000, PeakLr = 1e-3, WarmupSteps = 100, EvalInterval = 100, EvalWindows = 64, CheckpointInterval = 250 },
        _ => new PretrainConfig { Preset = preset },
    };

    /// <summary>Checks everything that can be checked before data is read; the message names the field.</summary>
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

        Check(Inputs.Count > 0, "inputs: give at least one text file or folder");
        Check(SeqLen is >= 2 and <= 1 << 16, $"seq_len {SeqLen} is out of range");
        Check(MicroBatch >= 1, $"micro_batch {MicroBatch} must be ≥ 1");
        Check(BatchTokens >= SeqLen * MicroBatch, $"batch_tokens {BatchTokens} is smaller than one micro-batch ({SeqLen}×{MicroBatch})");
        Check(MaxSteps >= 1, $"max_steps {MaxSteps} must be ≥ 1");
        Check(PeakLr is > 0 and < 1, $"peak_lr {PeakLr} is out of range");
        Check(WarmupSteps >= 0, $"warmup_steps {WarmupSteps} must be ≥ 0");
        Check(MinLrRatio is >= 0 and <= 1, $"min_lr_ratio {MinLrRatio} must be in [0, 1]");
        Check(ValidationFraction is > 0 and < 0.5, $"validation_fraction {ValidationFraction} must be in (0, 0.5)");
        Check(VocabSize is >= 300 and <= 1 << 20, $"vocab_size {VocabSize} is out of range (a Llama tokenizer needs at least 259 special and byte pieces)");
        Check(Device is "cpu" or "cuda", $"device '{Device}' must be cpu or cuda");
        Check(EvalInterval >= 1 && CheckpointInterval >= 1, "eval_interval and checkpoint_interval must be ≥ 1");
        ModelConfig(VocabSize).Validate("preset " + Preset);
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Reads a JSON config (snake_case names); unknown fields are errors, so typos do not pass silently.</summary>
    /// <summary>Reads a config file; with <paramref name="defaults"/> (a preset), the file overrides only the fields it names.</summary>
    public static PretrainConfig Load(string path, PretrainConfig? defaults = null) => Runs.ConfigFile.Read(path, "pretraining", Json, defaults);
}
