using Llama2.Core.Model;
using Llama2.Inference;

namespace Llama2.Evaluation;

/// <summary>Perplexity after each chunk and at the end.</summary>
public sealed record PerplexityResult(double Perplexity, double StdError, int Chunks, int ScoredTokens, IReadOnlyList<double> RunningPerplexity);

/// <summary>
/// Perplexity exactly as llama.cpp's <c>llama-perplexity</c> computes it: the text is tokenized with BOS,
/// cut into chunks of <c>ctx</c> tokens, each chunk's first token is replaced by BOS, and only the second half of
/// each chunk is scored (every prediction there has at least ctx/2 tokens of context).
/// </summary>
public static class Perplexity
{
    public static PerplexityResult Compute(ModelFile model, string text, int ctx, Action<int, int, double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(text);
        if (ctx < 8 || ctx > model.Config.MaxSeqLen)
        {
            throw new ArgumentException($"--ctx must be between 8 and the model's context {model.Config.MaxSeqLen}, got {ctx}");
        }

        var tokens = model.Tokenizer.Encode(text, addBos: true);
        int chunks = tokens.Length / ctx;
        if (chunks == 0)
        {
            throw new ArgumentException($"the text has {tokens.Length} tokens, fewer than one chunk of {ctx}");
        }

        int vocab = model.Config.VocabSize, first = ctx / 2;
        var transformer = new Transformer(model, ctx);
        var logits = new float[ctx * vocab];
        var chunk = new int[ctx];
        double nll = 0, nll2 = 0;
        int count = 0;
        var running = new List<double>();
        for (int c = 0; c < chunks; c++)
        {
            tokens.AsSpan(c * ctx, ctx).CopyTo(chunk);
            chunk[0] = model.Tokenizer.BosId;
            transformer.Reset();
            transformer.Forward(chunk, logits, allLogits: true);
            for (int j = first; j < ctx - 1; j++)
            {
                double value = -LogSoftmaxAt(logits.AsSpan(j * vocab, vocab), tokens[c * ctx + j + 1]);
                nll += value;
                nll2 += value * value;
                count++;
            }

            running.Add(Math.Exp(nll / count));
            progress?.Invoke(c + 1, chunks, running[^1]);
        }

        double mean = nll / count;
        double variance = nll2 / count - mean * mean;
        double stdError = count > 1 ? Math.Sqrt(Math.Max(0, variance) / (count - 1)) * Math.Exp(mean) : 0;
        return new PerplexityResult(Math.Exp(mean), stdError, chunks, count, running);
    }

    private static double LogSoftmaxAt(ReadOnlySpan<float> logits, int index)
    {
        float max = float.NegativeInfinity;
        foreach (float l in logits)
        {
            max = Math.Max(max, l);
        }

        double sum = 0;
        foreach (float l in logits)
        {
            sum += Math.Exp(l - max);
        }

        return logits[index] - max - Math.Log(sum);
    }
}
