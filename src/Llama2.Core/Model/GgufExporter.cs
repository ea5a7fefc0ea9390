using Llama2.Core.Gguf;
using Llama2.Core.Quantization;

namespace Llama2.Core.Model;

/// <summary>The tensor-type mixes <see cref="GgufExporter"/> writes (llama.cpp's file types).</summary>
public enum ExportType
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q8_0 = 7,
    Q4_K_M = 15,
}

/// <summary>
/// Writes any loaded model as a GGUF file in llama.cpp's layout (architecture <c>llama</c>, q/k in Meta's
/// interleaved order, the SentencePiece vocabulary in <c>tokenizer.ggml.*</c>), quantizing as
/// <c>llama-quantize</c> does without an importance matrix.
/// </summary>
public static class GgufExporter
{
    public static ExportType ParseType(string name) => name.ToLowerInvariant() switch
    {
        "f32" => ExportType.F32,
        "f16" => ExportType.F16,
        "q8_0" => ExportType.Q8_0,
        "q4_0" => ExportType.Q4_0,
        "q4_k_m" => ExportType.Q4_K_M,
        _ => throw new ArgumentException($"unknown type '{name}' (f32, f16, q8_0, q4_0, q4_k_m)"),
    };

    public static void Export(ModelFile model, string path, ExportType type, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var c = model.Config;
        var t = model.Tokenizer;
        var writer = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("general.name", name ?? Path.GetFileNameWithoutExtension(path))
            .Add("general.file_type", (uint)type)
            .Add("llama.context_length", (uint)c.MaxSeqLen)
            .Add("llama.embedding_length", (uint)c.Dim)
            .Add("llama.block_count", (uint)c.NLayers)
            .Add("llama.feed_forward_length", (uint)c.HiddenDim)
            .Add("llama.rope.dimension_count", (uint)c.HeadDim)
            .Add("llama.attention.head_count", (uint)c.NHeads)
            .Add("llama.attention.head_count_kv", (uint)c.NKvHeads)
            .Add("llama.attention.layer_norm_rms_epsilon", c.NormEps)
            .Add("llama.rope.freq_base", c.RopeTheta)
            .Add("tokenizer.ggml.model", "llama")
            .Add("tokenizer.ggml.tokens", [.. t.Model.Pieces.Select(p => p.Piece)])
            .Add("tokenizer.ggml.scores", [.. t.Model.Pieces.Select(p => p.Score)])
            .Add("tokenizer.ggml.token_type", [.. t.Model.Pieces.Select(p => (int)p.Type)])
            .Add("tokenizer.ggml.bos_token_id", (uint)Math.Max(0, t.BosId))
            .Add("tokenizer.ggml.eos_token_id", (uint)Math.Max(0, t.EosId))
            .Add("tokenizer.ggml.unknown_token_id", (uint)t.UnknownId)
            .Add("tokenizer.ggml.add_bos_token", true)
            .Add("tokenizer.ggml.add_eos_token", false)
            .Add("tokenizer.ggml.add_space_prefix", t.Model.Normalizer.AddDummyPrefix);

        foreach (var (tensorName, _) in TensorNames.Expected(c))
        {
            var tensor = tensorName == TensorNames.Output && !model.Tensors.ContainsKey(tensorName) ? model[TensorNames.TokEmbeddings] : model[tensorName];
            var target = TargetType(tensorName, tensor.Shape, type, TensorNames.LayerOf(tensorName), c.NLayers);
            var data = tensor.Type == target ? tensor.Data : Convert(tensor, target);
            writer.AddTensor(TensorNames.ToGguf(tensorName), [.. tensor.Shape.Reverse().Select(d => (long)d)], target, data);
        }

        writer.Write(path);
    }

    /// <summary>
    /// The type of one tensor: norms stay F32; Q4_K_M is Q4_K with Q6_K for <c>output</c> and for
    /// <c>wv</c>/<c>w2</c> in llama.cpp's "more bits" layers; rows that are not whole blocks fall back as llama.cpp does.
    /// </summary>
    public static GgmlType TargetType(string metaName, int[] shape, ExportType type, int layer, int layers)
    {
        ArgumentNullException.ThrowIfNull(shape);
        int cols = shape[^1];
        if (shape.Length == 1)
        {
            return GgmlType.F32;
        }

        var wanted = type switch
        {
            ExportType.F32 => GgmlType.F32,
            ExportType.F16 => GgmlType.F16,
            ExportType.Q8_0 => GgmlType.Q8_0,
            ExportType.Q4_0 => GgmlType.Q4_0,
            _ => metaName == TensorNames.Output
                || (layer >= 0 && UseMoreBits(layer, layers) && (metaName.EndsWith(".wv.weight", StringComparison.Ordinal) || metaName.EndsWith(".w2.weight", StringComparison.Ordinal)))
                ? GgmlType.Q6_K : GgmlType.Q4_K,
        };
        GgmlTypeInfo.TryGetBlock(wanted, out int block, out _);
        if (cols % block == 0)
        {
            return wanted;
        }

        var fallback = wanted switch { GgmlType.Q4_K => GgmlType.Q5_0, GgmlType.Q6_K => GgmlType.Q8_0, _ => GgmlType.F16 };
        return cols % 32 == 0 ? fallback : GgmlType.F16;
    }

    /// <summary>llama.cpp's <c>use_more_bits</c>: the first and last eighth of the layers, and every third in between.</summary>
    public static bool UseMoreBits(int layer, int layers) => layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private static byte[] Convert(ModelTensor tensor, GgmlType target)
    {
        GgmlTypeInfo.TryGetBlock(target, out int blockElements, out int blockBytes);
        int rowBytes = tensor.Cols / blockElements * blockBytes;
        var output = new byte[(long)rowBytes * tensor.Rows];
        var row = new float[tensor.Cols];
        for (int r = 0; r < tensor.Rows; r++)
        {
            Dequantize.Row(tensor.Type, tensor.Row(r), row);
            Quantize.Row(target, row, output.AsSpan(r * rowBytes, rowBytes));
        }

        return output;
    }
}
