using Llama2.Evaluation;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Llama2.Inference.Tests;

/// <summary>The tiny-gqa fixture's expected outputs (made by Meta's reference code and llama.cpp).</summary>
internal static class TinyGqa
{
    public sealed record Case(string Text, int[] Ids, int RowOffset, int[] GreedyNext24, double MinTop2Margin);

    public static int VocabSize => 512;

    public static List<Case> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixtures.Path("tiny-gqa/expected/cases.json")));
        return [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("text").GetString()!,
            [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())],
            c.GetProperty("logits_row_offset").GetInt32(),
            [.. c.GetProperty("greedy_next_24").EnumerateArray().Select(e => e.GetInt32())],
            c.GetProperty("greedy_min_top2_margin").GetDouble()))];
    }

    /// <summary>Logits rows of a fixture file: "meta-reference" or "llamacpp-q8_0" etc.</summary>
    public static float[] Logits(string name) =>
        MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Fixtures.Path($"tiny-gqa/expected/logits-{name}.f32"))).ToArray();

    /// <summary>Mean over rows of KL(p ‖ q) between the softmax distributions of two logit matrices.</summary>
    public static double MeanKl(float[] p, float[] q, int vocab) => Divergence.MeanKl(p, q, vocab);

    public static double Top1Agreement(float[] p, float[] q, int vocab)
    {
        int rows = p.Length / vocab, same = 0;
        for (int r = 0; r < rows; r++)
        {
            same += ArgMax(p.AsSpan(r * vocab, vocab)) == ArgMax(q.AsSpan(r * vocab, vocab)) ? 1 : 0;
        }

        return (double)same / rows;
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best])
            {
                best = i;
            }
        }

        return best;
    }
}
