using Llama2.Core.Sampling;

namespace Llama2.Core.Tests;

public sealed class SamplerTests
{
    private static float[] Logits(params double[] probabilities) => [.. probabilities.Select(p => (float)Math.Log(p))];

    [Fact]
    public void Greedy_takes_the_most_likely_token()
    {
        var sampler = new Sampler(SamplingOptions.Greedy);
        Assert.Equal(2, sampler.Sample(Logits(0.2, 0.3, 0.5)));
    }

    [Fact]
    public void Same_seed_same_draws_different_seed_different_draws()
    {
        List<int> Draws(ulong seed)
        {
            var sampler = new Sampler(new SamplingOptions { Temperature = 1, TopP = 1, Seed = seed });
            return [.. Enumerable.Range(0, 64).Select(_ => sampler.Sample(Logits(0.25, 0.25, 0.25, 0.25)))];
        }

        Assert.Equal(Draws(7), Draws(7));
        Assert.NotEqual(Draws(7), Draws(8));
    }

    [Fact]
    public void Top_p_keeps_Metas_nucleus()
    {
        // Meta's sample_top_p keeps a token while the mass before it is ≤ p: 0 → 0.5, 0.5 → 0.3; 0.8 > 0.7 stops.
        var sampler = new Sampler(new SamplingOptions { Temperature = 1, TopP = 0.7f, Seed = 1 });
        var counts = new int[4];
        for (int i = 0; i < 4000; i++)
        {
            counts[sampler.Sample(Logits(0.5, 0.3, 0.15, 0.05))]++;
        }

        Assert.Equal(0, counts[2] + counts[3]);
        Assert.InRange(counts[0] / 4000.0, 0.625 - 0.03, 0.625 + 0.03); // 0.5 / 0.8
    }

    [Fact]
    public void Top_k_and_min_p_cut_the_tail()
    {
        var topK = new Sampler(new SamplingOptions { Temperature = 1, TopP = 1, TopK = 1, Seed = 3 });
        Assert.All(Enumerable.Range(0, 100), _ => Assert.Equal(1, topK.Sample(Logits(0.3, 0.4, 0.3))));

        var minP = new Sampler(new SamplingOptions { Temperature = 1, TopP = 1, MinP = 0.5f, Seed = 3 });
        var seen = Enumerable.Range(0, 2000).Select(_ => minP.Sample(Logits(0.5, 0.3, 0.15, 0.05))).ToHashSet();
        Assert.Equal([0, 1], seen.Order());
    }

    [Fact]
    public void Temperature_sharpens_the_distribution()
    {
        int Count(float temperature)
        {
            var sampler = new Sampler(new SamplingOptions { Temperature = temperature, TopP = 1, Seed = 5 });
            return Enumerable.Range(0, 2000).Count(_ => sampler.Sample(Logits(0.6, 0.4)) == 0);
        }

        // p0 at T: 0.6^(1/T) / (0.6^(1/T) + 0.4^(1/T)); T=0.5 → 0.692, T=2 → 0.550
        Assert.InRange(Count(0.5f) / 2000.0, 0.66, 0.72);
        Assert.InRange(Count(2f) / 2000.0, 0.52, 0.58);
    }

    [Fact]
    public void Logit_bias_and_penalties_change_logits_as_documented()
    {
        var bias = new Sampler(SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [0] = 100 } });
        Assert.Equal(0, bias.Sample(Logits(0.1, 0.9)));

        // CTRL penalty: a positive logit is divided, a negative one multiplied.
        var repeat = new Sampler(SamplingOptions.Greedy with { RepeatPenalty = 2f });
        repeat.Accept(0);
        Assert.Equal(1, repeat.Sample([3.0f, 2.0f]));   // 3/2 = 1.5 < 2
        var negative = new Sampler(SamplingOptions.Greedy with { RepeatPenalty = 2f });
        negative.Accept(1);
        Assert.Equal(0, negative.Sample([-1.5f, -1.0f])); // -1·2 = -2 < -1.5

        // OpenAI: logit − count·frequency − presence
        var frequency = new Sampler(SamplingOptions.Greedy with { FrequencyPenalty = 0.5f, PresencePenalty = 0.25f });
        frequency.Accept(0);
        frequency.Accept(0);
        var logits = new[] { 2.0f, 0.9f };
        Assert.Equal(1, frequency.Sample(logits)); // 2 − 2·0.5 − 0.25 = 0.75 < 0.9
        Assert.Equal(0.75f, logits[0], 5);
    }

    [Fact]
    public void Out_of_range_options_are_rejected()
    {
        Assert.Contains("top-p", Assert.Throws<ArgumentException>(() => new Sampler(new SamplingOptions { TopP = 0 })).Message);
        Assert.Contains("temperature", Assert.Throws<ArgumentException>(() => new Sampler(new SamplingOptions { Temperature = -1 })).Message);
        Assert.Throws<ArgumentException>(() => new Sampler(new SamplingOptions { MinP = 2 }));
        Assert.Throws<ArgumentException>(() => new Sampler(new SamplingOptions { RepeatPenalty = 0 }));
    }
}
