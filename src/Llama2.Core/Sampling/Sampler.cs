namespace Llama2.Core.Sampling;

/// <summary>
/// Chooses next tokens from logits. Order: logit bias → penalties (repetition, frequency, presence) →
/// temperature → top-k → top-p → min-p → draw. Temperature comes before top-p as in Meta's
/// <c>generate</c> (<c>softmax(logits / T)</c>, then <c>sample_top_p</c>). Deterministic for a given seed.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly SplitMix64 _random;
    private readonly Dictionary<int, int> _counts = [];
    private readonly List<int> _generated = [];
    private int[] _order = [];
    private float[] _probs = [];
    private float[] _keys = []; // −probability, sorted together with _order (no comparer delegate, no allocation)

    public Sampler(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _random = new SplitMix64(options.Seed ?? BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)));
    }

    /// <summary>Records a token as generated (for penalties); <see cref="Sample"/> does this itself.</summary>
    public void Accept(int token)
    {
        _generated.Add(token);
        _counts[token] = _counts.GetValueOrDefault(token) + 1;
    }

    /// <summary>Picks the next token from <paramref name="logits"/> (modified in place) and records it.</summary>
    public int Sample(Span<float> logits)
    {
        ApplyBiasAndPenalties(logits);
        int token = _options.Temperature == 0 ? ArgMax(logits) : Draw(logits);
        Accept(token);
        return token;
    }

    private void ApplyBiasAndPenalties(Span<float> logits)
    {
        if (_options.LogitBias is { } bias)
        {
            foreach (var (id, value) in bias)
            {
                if ((uint)id < (uint)logits.Length)
                {
                    logits[id] += value;
                }
            }
        }

        if (_options.RepeatPenalty != 1f && _options.RepeatLastN > 0)
        {
            var seen = new HashSet<int>();
            for (int i = Math.Max(0, _generated.Count - _options.RepeatLastN); i < _generated.Count; i++)
            {
                int id = _generated[i];
                if (seen.Add(id))
                {
                    logits[id] = logits[id] > 0 ? logits[id] / _options.RepeatPenalty : logits[id] * _options.RepeatPenalty;
                }
            }
        }

        if (_options.FrequencyPenalty != 0 || _options.PresencePenalty != 0)
        {
            foreach (var (id, count) in _counts)
            {
                logits[id] -= count * _options.FrequencyPenalty + _options.PresencePenalty;
            }
        }
    }

    private int Draw(Span<float> logits)
    {
        int n = logits.Length;
        if (_order.Length != n)
        {
            _order = new int[n];
            _probs = new float[n];
            _keys = new float[n];
        }

        // softmax(logits / T), candidates sorted by probability (descending; ties by id)
        float max = float.NegativeInfinity;
        foreach (float l in logits)
        {
            max = Math.Max(max, l);
        }

        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            _probs[i] = MathF.Exp((logits[i] - max) / _options.Temperature);
            sum += _probs[i];
            _order[i] = i;
            _keys[i] = -_probs[i];
        }

        var probs = _probs;
        Array.Sort(_keys, _order); // descending probability; equal ones keep no particular order, but the seed fixes it

        int keep = n;
        if (_options.TopK > 0)
        {
            keep = Math.Min(keep, _options.TopK);
        }

        if (_options.TopP < 1f)
        {
            // Meta's sample_top_p: drop a token when the mass before it already exceeds p.
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
            {
                if (cumulative > _options.TopP * sum)
                {
                    keep = i;
                    break;
                }

                cumulative += probs[_order[i]];
            }
        }

        if (_options.MinP > 0)
        {
            float threshold = probs[_order[0]] * _options.MinP;
            int i = 1;
            while (i < keep && probs[_order[i]] >= threshold)
            {
                i++;
            }

            keep = i;
        }

        double total = 0;
        for (int i = 0; i < keep; i++)
        {
            total += probs[_order[i]];
        }

        double r = _random.NextDouble() * total;
        for (int i = 0; i < keep; i++)
        {
            r -= probs[_order[i]];
            if (r < 0)
            {
                return _order[i];
            }
        }

        return _order[keep - 1];
    }

    private static int ArgMax(ReadOnlySpan<float> x)
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

    /// <summary>SplitMix64: a small, portable generator, so a seed means the same draws on every platform and .NET version.</summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public double NextDouble()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (z >> 11) * (1.0 / (1UL << 53));
        }
    }
}
