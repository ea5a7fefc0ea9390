using Llama2.Core.Model;
using Llama2.Training.Optim;
using static TorchSharp.torch;

namespace Llama2.Training.Tests;

public sealed class OptimizationTests
{
    private static readonly ModelConfig s_shape = new() { Dim = 32, NLayers = 2, NHeads = 4, NKvHeads = 2, HiddenDim = 64, VocabSize = 50, MaxSeqLen = 16 };

    [Fact]
    public void Cosine_schedule_matches_the_formula()
    {
        // warmup 10, total 110, peak 1e-3, min 10%
        Assert.Equal(1e-4, LearningRateSchedule.Cosine(0, 10, 110, 1e-3), 12);           // first warmup step: peak·1/10
        Assert.Equal(1e-3, LearningRateSchedule.Cosine(9, 10, 110, 1e-3), 12);           // end of warmup: peak
        Assert.Equal(1e-3, LearningRateSchedule.Cosine(10, 10, 110, 1e-3), 12);          // cosine starts at peak
        Assert.Equal(0.55e-3, LearningRateSchedule.Cosine(60, 10, 110, 1e-3), 12);       // halfway: (peak + min) / 2
        Assert.Equal(1e-4, LearningRateSchedule.Cosine(110, 10, 110, 1e-3), 12);         // end: 10% of peak
        Assert.Equal(1e-4, LearningRateSchedule.Cosine(500, 10, 110, 1e-3), 12);         // and stays there
    }

    [Fact]
    public void Fresh_weights_depend_only_on_the_seed_not_on_the_global_generator()
    {
        using var a = new LlamaModel(s_shape, generator: new Generator(9));
        using var drawn = randn(1000); // what a test or trainer running alongside may do
        using var b = new LlamaModel(s_shape, generator: new Generator(9));
        using var c = new LlamaModel(s_shape, generator: new Generator(10));
        var wa = a.named_parameters().First(p => p.name == "layers.0.attention.wq.weight").parameter;
        var wb = b.named_parameters().First(p => p.name == "layers.0.attention.wq.weight").parameter;
        var wc = c.named_parameters().First(p => p.name == "layers.0.attention.wq.weight").parameter;
        Assert.True(wa.equal(wb).all().item<bool>());
        Assert.False(wa.equal(wc).all().item<bool>());
        Assert.Equal(0.02, wa.std().item<float>(), 2);
    }

    [Fact]
    public void Weight_decay_skips_norm_weights()
    {
        using var model = new LlamaModel(s_shape, generator: new Generator(1));
        var named = model.named_parameters().ToList();
        Assert.All(named.Where(p => p.name.EndsWith("norm.weight", StringComparison.Ordinal)), p => Assert.False(AdamW.Decays(p.name, p.parameter)));
        Assert.All(named.Where(p => p.parameter.dim() == 2), p => Assert.True(AdamW.Decays(p.name, p.parameter)));

        // With zero gradients, AdamW changes a parameter only through decay: matrices shrink, norms do not.
        var optimizer = new AdamW(named, weightDecay: 0.1);
        foreach (var (_, p) in named)
        {
            p.grad = zeros_like(p);
        }

        var norm = named.First(p => p.name == "norm.weight").parameter;
        var wq = named.First(p => p.name == "layers.0.attention.wq.weight").parameter;
        var wqBefore = wq.detach().clone();
        optimizer.Update(0.01);
        Assert.True(norm.detach().allclose(ones_like(norm), rtol: 0, atol: 0));
        Assert.True(wq.detach().allclose(wqBefore.Times(1 - 0.01 * 0.1), rtol: 1e-6, atol: 1e-9));
    }

    [Fact]
    public void Gradient_accumulation_4x1_equals_1x4()
    {
        var random = new Random(5);
        long[] tokens = [.. Enumerable.Range(0, 4 * 9).Select(_ => (long)random.Next(50))];
        var inputs = tensor(tokens, [4, 9])[.., ..8];
        var targets = tensor(tokens, [4, 9])[.., 1..];

        // both runs start from the same weights, copied
        using var initial = new LlamaModel(s_shape, generator: new Generator(7));
        float[] Train(int micro)
        {
            using var model = new LlamaModel(s_shape);
            model.load_state_dict(initial.state_dict());
            var optimizer = new AdamW(model.named_parameters());
            int accumulation = 4 / micro;
            for (int a = 0; a < accumulation; a++)
            {
                var loss = Losses.NextTokenCrossEntropy(model.forward(inputs[(a * micro)..((a + 1) * micro)]), targets[(a * micro)..((a + 1) * micro)]).Over(accumulation);
                loss.backward();
            }

            optimizer.ClipGradNorm(1.0);
            optimizer.Update(1e-3);
            return [.. model.parameters().SelectMany(p => p.detach().flatten().data<float>().ToArray())];
        }

        var whole = Train(4);
        var accumulated = Train(1);
        Assert.Equal(whole.Length, accumulated.Length);
        double worst = whole.Zip(accumulated, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < 1e-6, $"max difference {worst}");
    }

    [Fact]
    public void Masked_targets_get_no_gradient()
    {
        using var model = new LlamaModel(s_shape, generator: new Generator(3));
        var inputs = tensor(new long[] { 5, 6, 7, 8 }, [1, 4]);
        var targets = tensor(new long[] { Losses.IgnoreIndex, Losses.IgnoreIndex, Losses.IgnoreIndex, Losses.IgnoreIndex }, [1, 4]);
        var loss = Losses.NextTokenCrossEntropy(model.forward(inputs), targets);
        Assert.True(double.IsNaN(loss.item<float>()) || loss.item<float>() == 0); // nothing to learn from
    }
}
