using System.Diagnostics;
using Llama2.Core.Model;
using Llama2.Inference.Kernels;

namespace Llama2.Inference;

/// <summary>One llama-bench style measurement: tokens/s over repetitions.</summary>
public sealed record ThroughputResult(int Prompt, int Generated, int Threads, double Mean, double StdDev, IReadOnlyList<double> Samples);

/// <summary>
/// Measures prompt processing (a prompt of p tokens in one batched call) and generation (n single-token decode
/// steps) as llama-bench does: random token ids, a warm-up run, then r timed repetitions.
/// </summary>
public static class Throughput
{
    public static ThroughputResult Prompt(ModelFile model, int tokens, int threads, int repetitions, int batch = 64)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var pool = new WorkerPool(threads);
        var transformer = new Transformer(model, tokens + 1, batch, pool);
        var ids = RandomIds(model.Config.VocabSize, tokens);
        var logits = new float[model.Config.VocabSize];
        return Measure(repetitions, tokens, threads, 0, () =>
        {
            transformer.Reset();
            transformer.Forward(ids, logits);
        });
    }

    public static ThroughputResult Generation(ModelFile model, int tokens, int threads, int repetitions)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var pool = new WorkerPool(threads);
        var transformer = new Transformer(model, tokens + 1, 1, pool);
        var ids = RandomIds(model.Config.VocabSize, tokens);
        var logits = new float[model.Config.VocabSize];
        return Measure(repetitions, 0, threads, tokens, () =>
        {
            transformer.Reset();
            for (int i = 0; i < ids.Length; i++)
            {
                transformer.Forward(ids.AsSpan(i, 1), logits);
            }
        });
    }

    private static ThroughputResult Measure(int repetitions, int prompt, int threads, int generated, Action run)
    {
        run(); // warm-up: JIT, page cache, first touch of the KV cache
        var samples = new List<double>();
        for (int r = 0; r < repetitions; r++)
        {
            var clock = Stopwatch.StartNew();
            run();
            samples.Add((prompt + generated) / clock.Elapsed.TotalSeconds);
        }

        double mean = samples.Average();
        double sd = samples.Count > 1 ? Math.Sqrt(samples.Sum(s => (s - mean) * (s - mean)) / (samples.Count - 1)) : 0;
        return new ThroughputResult(prompt, generated, threads, mean, sd, samples);
    }

    private static int[] RandomIds(int vocab, int count)
    {
        var random = new Random(42);
        return [.. Enumerable.Range(0, count).Select(_ => random.Next(3, vocab))];
    }
}
