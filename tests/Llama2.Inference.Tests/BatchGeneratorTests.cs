using Llama2.Core.Model;
using Llama2.Core.Sampling;

namespace Llama2.Inference.Tests;

public sealed class BatchGeneratorTests
{
    private static ModelFile Open() => ModelFile.Open(Fixtures.Path("tiny-gqa/gguf/tiny-gqa-f32.gguf"));

    private static GenerationOptions Greedy(int n) => new() { MaxTokens = n, IgnoreEos = true, Sampling = SamplingOptions.Greedy };

    [SkippableFact]
    public void Batched_decode_gives_each_sequence_the_logits_of_a_lone_run()
    {
        using var model = Open();
        var cases = TinyGqa.Cases().Take(3).ToList();
        int vocab = model.Config.VocabSize;
        var batched = new Transformer(model, 128, sequences: 3);
        var logits = new float[3 * vocab];
        for (int s = 0; s < 3; s++)
        {
            batched.Forward(s, cases[s].Ids, logits);
        }

        int[] next = [7, 11, 13];
        batched.Decode([2, 0, 1], [next[2], next[0], next[1]], logits);
        for (int s = 0; s < 3; s++)
        {
            var alone = new Transformer(model, 128);
            var expected = new float[vocab];
            alone.Forward([.. cases[s].Ids, next[s]], expected);
            int row = s switch { 2 => 0, 0 => 1, _ => 2 };
            for (int i = 0; i < vocab; i++)
            {
                Assert.Equal(expected[i], logits[row * vocab + i], 4);
            }

            Assert.Equal(cases[s].Ids.Length + 1, batched.PositionOf(s));
        }

        Assert.Throws<ArgumentException>(() => batched.Decode([1, 1], [5, 5], logits));
        Assert.Throws<ArgumentOutOfRangeException>(() => batched.Decode([3], [5], logits));
    }

    [SkippableFact]
    public async Task Concurrent_generations_equal_the_lone_generator_for_the_same_seed()
    {
        using var model = Open();
        var cases = TinyGqa.Cases();
        using var batch = new BatchGenerator(model, new BatchGeneratorOptions { Slots = 3, ContextLength = 256, PrefillChunk = 5 });
        var sampled = new GenerationOptions { MaxTokens = 30, IgnoreEos = true, Sampling = new SamplingOptions { Temperature = 1, Seed = 9 } };
        var runs = cases.Select(c => batch.CompleteAsync(c.Ids, Greedy(24))).ToList();
        var sampledRun = batch.CompleteAsync(cases[0].Ids, sampled);
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.Equal(cases[i].GreedyNext24, (await runs[i]).Ids);
        }

        var alone = new Generator(model, 256).Complete(cases[0].Ids, sampled);
        Assert.Equal(alone.Ids, (await sampledRun).Ids);
        Assert.Equal(alone.Text, (await sampledRun).Text);
        Assert.True(batch.TokenCounts.Generated >= 24 * cases.Count);
    }

    [SkippableFact]
    public async Task Cancelling_frees_the_slot_and_a_full_queue_refuses()
    {
        using var model = Open();
        using var batch = new BatchGenerator(model, new BatchGeneratorOptions { Slots = 1, QueueLimit = 1, ContextLength = 4096 });
        using var cancel = new CancellationTokenSource();
        var endless = batch.Start([1, 50, 60], Greedy(100_000), cancel.Token);
        await endless.Tokens.ReadAsync(); // running
        var waiting = batch.Start([1, 70], Greedy(3));
        Assert.Throws<QueueFullException>(() => batch.Start([1, 80], Greedy(3)));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => endless.Result);
        var result = await waiting.Result;
        Assert.Equal(3, result.Ids.Count);
        Assert.Equal(0, batch.Running); // the slot is freed before the result completes
        Assert.Equal(0, batch.QueueDepth);
    }

    [SkippableFact]
    public void Bad_prompts_are_refused_before_they_queue()
    {
        using var model = Open();
        using var batch = new BatchGenerator(model, new BatchGeneratorOptions { Slots = 1, ContextLength = 16 });
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => batch.Start([], Greedy(1))).Message);
        Assert.Contains("context window of 16", Assert.Throws<ContextLengthExceededException>(() => batch.Start(new int[16], Greedy(1))).Message);
        Assert.Contains("out of range", Assert.Throws<ArgumentException>(() => batch.Start([1, 100_000], Greedy(1))).Message);
    }
}
