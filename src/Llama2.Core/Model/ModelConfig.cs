using System.Text.Json;
using Llama2.Core.IO;

namespace Llama2.Core.Model;

/// <summary>
/// The shape of a Llama 2 model: Meta's <c>ModelArgs</c>, with the FFN width resolved. Names follow
/// Meta's <c>params.json</c> (<c>dim</c>, <c>n_layers</c>, <c>n_heads</c>, <c>n_kv_heads</c>, <c>norm_eps</c>).
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Model width (<c>dim</c>; 4096 for 7B).</summary>
    public required int Dim { get; init; }

    public required int NLayers { get; init; }

    public required int NHeads { get; init; }

    /// <summary>Key/value heads: equal to <see cref="NHeads"/> without grouped-query attention (7B, 13B); 8 for 34B/70B.</summary>
    public required int NKvHeads { get; init; }

    public required int VocabSize { get; init; }

    /// <summary>SwiGLU width (<c>w1</c>/<c>w3</c> rows): 11008 for 7B.</summary>
    public required int HiddenDim { get; init; }

    /// <summary>RMSNorm epsilon: 1e-5 for Llama 2 (paper's released models), 1e-6 in some GGUFs.</summary>
    public float NormEps { get; init; } = 1e-5f;

    public float RopeTheta { get; init; } = 10000f;

    /// <summary>Context length trained for: 4096 for Llama 2 (paper §2.2).</summary>
    public int MaxSeqLen { get; init; } = 4096;

    public int HeadDim => Dim / NHeads;

    public int KvDim => HeadDim * NKvHeads;

    /// <summary>Meta's FFN width rule: 2/3 of 4·dim, times an optional multiplier, rounded up to <c>multiple_of</c>.</summary>
    public static int FeedForwardDim(int dim, int multipleOf, double? ffnDimMultiplier)
    {
        int hidden = 4 * dim;
        hidden = (int)(2 * hidden / 3.0);
        if (ffnDimMultiplier is { } m)
        {
            hidden = (int)(m * hidden);
        }

        return multipleOf * ((hidden + multipleOf - 1) / multipleOf);
    }

    /// <summary>Llama 2 7B (paper Table 1; Meta's params.json).</summary>
    public static ModelConfig Llama2_7B => new() { Dim = 4096, NLayers = 32, NHeads = 32, NKvHeads = 32, VocabSize = 32000, HiddenDim = 11008 };

    public static ModelConfig Llama2_13B => new() { Dim = 5120, NLayers = 40, NHeads = 40, NKvHeads = 40, VocabSize = 32000, HiddenDim = 13824 };

    /// <summary>34B was trained but not released; its shape follows Code Llama 34B (GQA with 8 KV heads).</summary>
    public static ModelConfig Llama2_34B => new() { Dim = 8192, NLayers = 48, NHeads = 64, NKvHeads = 8, VocabSize = 32000, HiddenDim = 22016 };

    public static ModelConfig Llama2_70B => new() { Dim = 8192, NLayers = 80, NHeads = 64, NKvHeads = 8, VocabSize = 32000, HiddenDim = 28672 };

    /// <summary>Checks that the numbers describe a buildable model; throws naming the field.</summary>
    /// <exception cref="InvalidModelFileException">A field is out of range or inconsistent.</exception>
    public void Validate(string? source)
    {
        void Check(bool ok, string problem)
        {
            if (!ok)
            {
                throw InvalidModelFileException.For(source, problem);
            }
        }

        Check(Dim is > 0 and <= 1 << 16, $"dim {Dim} is out of range");
        Check(NLayers is > 0 and <= 1024, $"n_layers {NLayers} is out of range");
        Check(NHeads > 0 && Dim % NHeads == 0, $"dim {Dim} is not divisible by n_heads {NHeads}");
        Check(HeadDim % 2 == 0, $"head dimension {HeadDim} is odd; RoPE needs pairs");
        Check(NKvHeads > 0 && NHeads % NKvHeads == 0, $"n_heads {NHeads} is not a multiple of n_kv_heads {NKvHeads}");
        Check(VocabSize is > 0 and <= 1 << 22, $"vocab_size {VocabSize} is out of range");
        Check(HiddenDim is > 0 and <= 1 << 18, $"FFN hidden dim {HiddenDim} is out of range");
        Check(NormEps is > 0 and < 1, $"norm_eps {NormEps} is out of range");
        Check(RopeTheta > 0, $"rope theta {RopeTheta} is out of range");
        Check(MaxSeqLen is > 0 and <= 1 << 20, $"context length {MaxSeqLen} is out of range");
    }

    /// <summary>Reads Meta's <c>params.json</c>. <paramref name="vocabSize"/> is used when the file says -1 (as Meta's do).</summary>
    public static ModelConfig FromMetaParams(string path, int vocabSize, int hiddenDimFromWeights)
    {
        using var doc = ParseJson(path);
        var root = doc.RootElement;
        int dim = RequiredInt(root, "dim", path);
        int nHeads = RequiredInt(root, "n_heads", path);
        int vocab = OptionalInt(root, "vocab_size") is { } v and > 0 ? v : vocabSize;
        int multipleOf = OptionalInt(root, "multiple_of") ?? 256;
        double? multiplier = root.TryGetProperty("ffn_dim_multiplier", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetDouble() : null;
        int hidden = hiddenDimFromWeights > 0 ? hiddenDimFromWeights : FeedForwardDim(dim, multipleOf, multiplier);
        return new ModelConfig
        {
            Dim = dim,
            NLayers = RequiredInt(root, "n_layers", path),
            NHeads = nHeads,
            NKvHeads = OptionalInt(root, "n_kv_heads") ?? nHeads,
            VocabSize = vocab,
            HiddenDim = hidden,
            NormEps = (float)(OptionalDouble(root, "norm_eps") ?? 1e-5),
            RopeTheta = (float)(OptionalDouble(root, "rope_theta") ?? 10000),
            MaxSeqLen = 4096,
        };
    }

    /// <summary>Reads a Hugging Face <c>config.json</c> of a <c>LlamaForCausalLM</c>.</summary>
    public static ModelConfig FromHuggingFaceConfig(string path)
    {
        using var doc = ParseJson(path);
        var root = doc.RootElement;
        if (root.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() != "llama")
        {
            throw InvalidModelFileException.For(path, $"model_type is '{type.GetString()}'; only 'llama' is supported");
        }

        if (root.TryGetProperty("rope_scaling", out var scaling) && scaling.ValueKind == JsonValueKind.Object)
        {
            throw InvalidModelFileException.For(path, "rope_scaling is set; only Llama 2's plain RoPE is supported");
        }

        int nHeads = RequiredInt(root, "num_attention_heads", path);
        return new ModelConfig
        {
            Dim = RequiredInt(root, "hidden_size", path),
            NLayers = RequiredInt(root, "num_hidden_layers", path),
            NHeads = nHeads,
            NKvHeads = OptionalInt(root, "num_key_value_heads") ?? nHeads,
            VocabSize = RequiredInt(root, "vocab_size", path),
            HiddenDim = RequiredInt(root, "intermediate_size", path),
            NormEps = (float)(OptionalDouble(root, "rms_norm_eps") ?? 1e-5),
            RopeTheta = (float)(OptionalDouble(root, "rope_theta") ?? 10000),
            MaxSeqLen = OptionalInt(root, "max_position_embeddings") ?? 4096,
        };
    }

    /// <summary>The Hugging Face <c>config.json</c> of this shape (<c>LlamaForCausalLM</c>).</summary>
    public string ToHuggingFaceConfigJson(int bosId = 1, int eosId = 2) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["architectures"] = new[] { "LlamaForCausalLM" },
        ["model_type"] = "llama",
        ["hidden_size"] = Dim,
        ["intermediate_size"] = HiddenDim,
        ["num_hidden_layers"] = NLayers,
        ["num_attention_heads"] = NHeads,
        ["num_key_value_heads"] = NKvHeads,
        ["vocab_size"] = VocabSize,
        ["rms_norm_eps"] = NormEps,
        ["max_position_embeddings"] = MaxSeqLen,
        ["rope_theta"] = RopeTheta,
        ["hidden_act"] = "silu",
        ["tie_word_embeddings"] = false,
        ["bos_token_id"] = bosId,
        ["eos_token_id"] = eosId,
        ["torch_dtype"] = "float32",
    }, new JsonSerializerOptions { WriteIndented = true });

    private static JsonDocument ParseJson(string path)
    {
        if (!File.Exists(path))
        {
            throw InvalidModelFileException.For(path, "file not found");
        }

        if (new FileInfo(path).Length > 1 << 20)
        {
            throw InvalidModelFileException.For(path, "config file is larger than 1 MB");
        }

        try
        {
            var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return doc.RootElement.ValueKind == JsonValueKind.Object ? doc : throw InvalidModelFileException.For(path, "expected a JSON object");
        }
        catch (JsonException e)
        {
            throw InvalidModelFileException.For(path, $"not valid JSON: {e.Message}");
        }
    }

    private static int RequiredInt(JsonElement root, string name, string path) =>
        OptionalInt(root, name) ?? throw InvalidModelFileException.For(path, $"'{name}' is missing or not an integer");

    private static int? OptionalInt(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : null;

    private static double? OptionalDouble(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}
