using System.Runtime.InteropServices;
using System.Text.Json;
using Llama2.Core.Model;

namespace Llama2.Evaluation.Tests;

public sealed class PerplexityTests
{
    /// <summary>
    /// One chunk covering a fixture prompt: the perplexity must equal the one computed by hand from Meta's
    /// reference logits over the second half of the chunk, as llama-perplexity scores it.
    /// </summary>
    [SkippableFact]
    public void Matches_llama_perplexity_method_on_Meta_reference_logits()
    {
        using var model = ModelFile.Open(Fixtures.Path("tiny-gqa/gguf/tiny-gqa-f32.gguf"));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixtures.Path("tiny-gqa/expected/cases.json")));
        var meta = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Fixtures.Path("tiny-gqa/expected/logits-meta-reference.f32"))).ToArray();
        var c = doc.RootElement.GetProperty("cases").EnumerateArray().OrderByDescending(e => e.GetProperty("ids").GetArrayLength()).First();
        int[] ids = [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
        var text = c.GetProperty("text").GetString()!;
        Assert.Equal(ids, model.Tokenizer.Encode(text, addBos: true).Take(ids.Length)); // the case is the text's first tokens
        int row = c.GetProperty("logits_row_offset").GetInt32(), ctx = ids.Length, vocab = 512;

        double nll = 0;
        int count = 0;
        for (int j = ctx / 2; j < ctx - 1; j++)
        {
            var logits = meta.AsSpan((row + j) * vocab, vocab);
            double max = logits.ToArray().Max();
            double log = max + Math.Log(logits.ToArray().Sum(l => Math.Exp(l - max)));
            nll += log - logits[ids[j + 1]];
            count++;
        }

        var result = Perplexity.Compute(model, text, ctx);
        Assert.Equal(count * result.Chunks, result.ScoredTokens);
        Assert.Equal(Math.Exp(nll / count), result.RunningPerplexity[0], 1e-3); // after the first chunk
    }

    [SkippableFact]
    public void Too_short_a_text_or_bad_ctx_is_a_clear_error()
    {
        using var model = ModelFile.Open(Fixtures.Path("tiny-gqa/gguf/tiny-gqa-q8_0.gguf"));
        Assert.Contains("fewer than one chunk", Assert.Throws<ArgumentException>(() => Perplexity.Compute(model, "short", 64)).Message);
        Assert.Contains("--ctx", Assert.Throws<ArgumentException>(() => Perplexity.Compute(model, "text", 1_000_000)).Message);
    }
}
