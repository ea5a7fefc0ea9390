using System.Text.RegularExpressions;

namespace Llama2.Core.Model;

/// <summary>
/// Meta ⇄ Hugging Face ⇄ GGUF tensor names, and the q/k row permutation Hugging Face's converter applies.
/// Meta's names are the project's names everywhere.
/// </summary>
public static partial class TensorNames
{
    public const string TokEmbeddings = "tok_embeddings.weight";
    public const string Norm = "norm.weight";
    public const string Output = "output.weight";

    public static string Wq(int layer) => $"layers.{layer}.attention.wq.weight";

    public static string Wk(int layer) => $"layers.{layer}.attention.wk.weight";

    public static string Wv(int layer) => $"layers.{layer}.attention.wv.weight";

    public static string Wo(int layer) => $"layers.{layer}.attention.wo.weight";

    public static string W1(int layer) => $"layers.{layer}.feed_forward.w1.weight";

    public static string W2(int layer) => $"layers.{layer}.feed_forward.w2.weight";

    public static string W3(int layer) => $"layers.{layer}.feed_forward.w3.weight";

    public static string AttentionNorm(int layer) => $"layers.{layer}.attention_norm.weight";

    public static string FfnNorm(int layer) => $"layers.{layer}.ffn_norm.weight";

    // (Meta suffix, Hugging Face suffix, GGUF suffix) for per-layer tensors.
    private static readonly (string Meta, string Hf, string Gguf)[] s_layer =
    [
        ("attention.wq.weight", "self_attn.q_proj.weight", "attn_q.weight"),
        ("attention.wk.weight", "self_attn.k_proj.weight", "attn_k.weight"),
        ("attention.wv.weight", "self_attn.v_proj.weight", "attn_v.weight"),
        ("attention.wo.weight", "self_attn.o_proj.weight", "attn_output.weight"),
        ("feed_forward.w1.weight", "mlp.gate_proj.weight", "ffn_gate.weight"),
        ("feed_forward.w2.weight", "mlp.down_proj.weight", "ffn_down.weight"),
        ("feed_forward.w3.weight", "mlp.up_proj.weight", "ffn_up.weight"),
        ("attention_norm.weight", "input_layernorm.weight", "attn_norm.weight"),
        ("ffn_norm.weight", "post_attention_layernorm.weight", "ffn_norm.weight"),
    ];

    private static readonly (string Meta, string Hf, string Gguf)[] s_global =
    [
        (TokEmbeddings, "model.embed_tokens.weight", "token_embd.weight"),
        (Norm, "model.norm.weight", "output_norm.weight"),
        (Output, "lm_head.weight", "output.weight"),
    ];

    /// <summary>The Meta name of a Hugging Face tensor name, or null for tensors the model does not use.</summary>
    public static string? FromHuggingFace(string name) => Map(name, HfLayer(), s => s.Hf, s => s.Meta);

    /// <summary>The Meta name of a GGUF tensor name, or null for tensors the model does not use.</summary>
    public static string? FromGguf(string name) => Map(name, GgufLayer(), s => s.Gguf, s => s.Meta);

    /// <summary>The GGUF name of a Meta tensor name.</summary>
    public static string ToGguf(string metaName) =>
        Map(metaName, MetaLayer(), s => s.Meta, s => s.Gguf, "blk.") ?? throw new ArgumentException($"'{metaName}' is not a Llama tensor name");

    /// <summary>The Hugging Face name of a Meta tensor name.</summary>
    public static string ToHuggingFace(string metaName) =>
        Map(metaName, MetaLayer(), s => s.Meta, s => s.Hf, "model.layers.") ?? throw new ArgumentException($"'{metaName}' is not a Llama tensor name");

    /// <summary>Every tensor of a Llama 2 model of shape <paramref name="c"/>, with its PyTorch shape, in llama.cpp's file order.</summary>
    public static IEnumerable<(string Name, int[] Shape)> Expected(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        yield return (TokEmbeddings, [c.VocabSize, c.Dim]);
        for (int l = 0; l < c.NLayers; l++)
        {
            yield return (AttentionNorm(l), [c.Dim]);
            yield return (Wq(l), [c.Dim, c.Dim]);
            yield return (Wk(l), [c.KvDim, c.Dim]);
            yield return (Wv(l), [c.KvDim, c.Dim]);
            yield return (Wo(l), [c.Dim, c.Dim]);
            yield return (FfnNorm(l), [c.Dim]);
            yield return (W1(l), [c.HiddenDim, c.Dim]);
            yield return (W3(l), [c.HiddenDim, c.Dim]);
            yield return (W2(l), [c.Dim, c.HiddenDim]);
        }

        yield return (Norm, [c.Dim]);
        yield return (Output, [c.VocabSize, c.Dim]);
    }

    /// <summary>The layer of a per-layer Meta name (<c>layers.N.…</c>), or -1.</summary>
    public static int LayerOf(string metaName) =>
        MetaLayer().Match(metaName) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;

    /// <summary>True for the Meta names whose rows Hugging Face permutes (wq, wk).</summary>
    public static bool IsPermutedByHuggingFace(string metaName) =>
        metaName.EndsWith(".attention.wq.weight", StringComparison.Ordinal) || metaName.EndsWith(".attention.wk.weight", StringComparison.Ordinal);

    /// <summary>
    /// Undoes Hugging Face's q/k permutation. Its converter turns Meta's interleaved RoPE pairs
    /// (rows 2i, 2i+1 of a head) into rotate-half order (rows i, i + head_dim/2):
    /// <c>w.view(n_heads, head_dim/2, 2, dim).transpose(1, 2)</c>. So Meta row h·hd + 2i + half is
    /// Hugging Face row h·hd + half·hd/2 + i. Rows are moved whole, so this works for any element type.
    /// </summary>
    public static byte[] UnpermuteHuggingFaceRows(ReadOnlySpan<byte> hf, int rows, int rowBytes, int nHeads)
    {
        int headDim = rows / nHeads;
        var meta = new byte[hf.Length];
        for (int h = 0; h < nHeads; h++)
        {
            for (int i = 0; i < headDim / 2; i++)
            {
                for (int half = 0; half < 2; half++)
                {
                    int from = h * headDim + half * (headDim / 2) + i;
                    int to = h * headDim + 2 * i + half;
                    hf.Slice(from * rowBytes, rowBytes).CopyTo(meta.AsSpan(to * rowBytes, rowBytes));
                }
            }
        }

        return meta;
    }

    /// <summary>Applies Hugging Face's q/k permutation (Meta → Hugging Face), the inverse of <see cref="UnpermuteHuggingFaceRows"/>.</summary>
    public static byte[] PermuteForHuggingFace(ReadOnlySpan<byte> meta, int rows, int rowBytes, int nHeads)
    {
        int headDim = rows / nHeads;
        var hf = new byte[meta.Length];
        for (int h = 0; h < nHeads; h++)
        {
            for (int i = 0; i < headDim / 2; i++)
            {
                for (int half = 0; half < 2; half++)
                {
                    int from = h * headDim + 2 * i + half;
                    int to = h * headDim + half * (headDim / 2) + i;
                    meta.Slice(from * rowBytes, rowBytes).CopyTo(hf.AsSpan(to * rowBytes, rowBytes));
                }
            }
        }

        return hf;
    }

    private static string? Map(string name, Regex layerPattern, Func<(string Meta, string Hf, string Gguf), string> from,
        Func<(string Meta, string Hf, string Gguf), string> to, string? outputPrefix = null)
    {
        foreach (var g in s_global)
        {
            if (from(g) == name)
            {
                return to(g);
            }
        }

        var match = layerPattern.Match(name);
        if (!match.Success)
        {
            return null;
        }

        string suffix = match.Groups[2].Value;
        foreach (var l in s_layer)
        {
            if (from(l) == suffix)
            {
                string prefix = outputPrefix ?? "layers.";
                return $"{prefix}{match.Groups[1].Value}.{to(l)}";
            }
        }

        return null;
    }

    [GeneratedRegex(@"^model\.layers\.(\d{1,4})\.(.+)$")]
    private static partial Regex HfLayer();

    [GeneratedRegex(@"^blk\.(\d{1,4})\.(.+)$")]
    private static partial Regex GgufLayer();

    [GeneratedRegex(@"^layers\.(\d{1,4})\.(.+)$")]
    private static partial Regex MetaLayer();
}
