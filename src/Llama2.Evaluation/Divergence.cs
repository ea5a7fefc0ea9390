namespace Llama2.Evaluation;

/// <summary>
/// How far one model's next-token distributions are from another's, over the same positions: the measure of the
/// fixtures' README and of llama.cpp's <c>--kl-divergence</c> (mean KL from the reference).
/// </summary>
public static class Divergence
{
    /// <summary>Mean over rows of KL(p ‖ q) between the softmax distributions of two (rows, vocab) logit matrices.</summary>
    public static double MeanKl(float[] p, float[] q, int vocab)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(q);
        if (p.Length != q.Length || vocab <= 0 || p.Length % vocab != 0 || p.Length == 0)
        {
            throw new ArgumentException($"logit matrices of {p.Length} and {q.Length} values are not the same rows of {vocab}");
        }

        double total = 0;
        int rows = p.Length / vocab;
        for (int r = 0; r < rows; r++)
        {
            var lp = LogSoftmax(p.AsSpan(r * vocab, vocab));
            var lq = LogSoftmax(q.AsSpan(r * vocab, vocab));
            double kl = 0;
            for (int i = 0; i < vocab; i++)
            {
                kl += Math.Exp(lp[i]) * (lp[i] - lq[i]);
            }

            total += kl;
        }

        return total / rows;
    }

    /// <summary>log softmax of one row of logits, in double precision.</summary>
    public static double[] LogSoftmax(ReadOnlySpan<float> x)
    {
        double max = double.NegativeInfinity;
        foreach (var v in x)
        {
            max = Math.Max(max, v);
        }

        double sum = 0;
        foreach (var v in x)
        {
            sum += Math.Exp(v - max);
        }

        double log = max + Math.Log(sum);
        var result = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            result[i] = x[i] - log;
        }

        return result;
    }
}
