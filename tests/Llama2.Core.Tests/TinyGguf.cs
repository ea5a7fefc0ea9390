using System.Runtime.InteropServices;
using Llama2.Core.Gguf;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Tests;

/// <summary>Writes a small valid Llama GGUF (random F32 weights) for bad-input tests, with hooks to break it.</summary>
internal static class TinyGguf
{
    public const int Dim = 32, Layers = 1, Heads = 4, KvHeads = 2, Hidden = 64;

    public static void Write(string path, Func<string, long[], long[]>? shape = null, Func<string, GgmlType, GgmlType>? type = null,
        Action<GgufWriter>? extraMetadata = null, bool skipHeadCount = false)
    {
        var tokenizer = TestTokenizers.Tiny();
        int vocab = tokenizer.VocabSize;
        var writer = new GgufWriter()
            .Add("general.architecture", "llama")
            .Add("llama.embedding_length", (uint)Dim)
            .Add("llama.block_count", (uint)Layers)
            .Add("llama.feed_forward_length", (uint)Hidden)
            .Add("llama.attention.head_count_kv", (uint)KvHeads)
            .Add("llama.context_length", 64u)
            .Add("llama.attention.layer_norm_rms_epsilon", 1e-5f)
            .Add("tokenizer.ggml.model", "llama")
            .Add("tokenizer.ggml.tokens", [.. tokenizer.Model.Pieces.Select(p => p.Piece)])
            .Add("tokenizer.ggml.scores", [.. tokenizer.Model.Pieces.Select(p => p.Score)])
            .Add("tokenizer.ggml.token_type", [.. tokenizer.Model.Pieces.Select(p => (int)p.Type)]);
        if (!skipHeadCount)
        {
            writer.Add("llama.attention.head_count", (uint)Heads);
        }

        extraMetadata?.Invoke(writer);
        var random = new Random(1);
        void Tensor(string name, params long[] dims)
        {
            var d = shape?.Invoke(name, dims) ?? dims;
            var t = type?.Invoke(name, GgmlType.F32) ?? GgmlType.F32;
            long elements = d.Aggregate(1L, (a, b) => a * b);
            var values = new float[elements];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (float)(random.NextDouble() - 0.5) * 0.1f;
            }

            writer.AddTensor(name, d, t, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        }

        int kvDim = Dim / Heads * KvHeads;
        Tensor("token_embd.weight", Dim, vocab);
        for (int l = 0; l < Layers; l++)
        {
            Tensor($"blk.{l}.attn_q.weight", Dim, Dim);
            Tensor($"blk.{l}.attn_k.weight", Dim, kvDim);
            Tensor($"blk.{l}.attn_v.weight", Dim, kvDim);
            Tensor($"blk.{l}.attn_output.weight", Dim, Dim);
            Tensor($"blk.{l}.ffn_gate.weight", Dim, Hidden);
            Tensor($"blk.{l}.ffn_down.weight", Hidden, Dim);
            Tensor($"blk.{l}.ffn_up.weight", Dim, Hidden);
            Tensor($"blk.{l}.attn_norm.weight", Dim);
            Tensor($"blk.{l}.ffn_norm.weight", Dim);
        }

        Tensor("output_norm.weight", Dim);
        Tensor("output.weight", Dim, vocab);
        writer.Write(path);
    }

    /// <summary>Byte offset of the first occurrence of <paramref name="ascii"/> in the file.</summary>
    public static int Find(byte[] bytes, string ascii) => bytes.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(ascii));

    public static ModelFile Open(string path) => ModelFile.Open(path);
}
