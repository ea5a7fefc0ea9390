using System.Diagnostics;
using System.Globalization;
using LLama;
using LLama.Common;
using LLama.Native;
using Llama2.Core.Model;
using Llama2.Inference;

namespace Llama2.Benchmarks;

/// <summary>
/// The same GGUF in our engine and in llama.cpp (through LLamaSharp + LLamaSharp.Backend.Cpu), same threads,
/// same prompt length and generated tokens, runs alternating; prints both, and the ratio, as a Markdown row.
/// <c>side-by-side --model F.gguf [-p 64] [-n 32] [-t 2] [-r 3]</c>
/// </summary>
internal static class SideBySide
{
    public static int Run(string[] args)
    {
        string? path = null;
        int prompt = 64, generate = 32, threads = Environment.ProcessorCount, repetitions = 3;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": path = args[i + 1]; break;
                case "-p": prompt = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "-n": generate = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "-t": threads = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "-r": repetitions = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        if (path is null)
        {
            Console.Error.WriteLine("--model is required");
            return 2;
        }

        using var ours = ModelFile.Open(path);
        var parameters = new ModelParams(path)
        {
            ContextSize = (uint)(prompt + generate + 16), Threads = threads, BatchThreads = threads, GpuLayerCount = 0,
            BatchSize = (uint)Math.Max(prompt, 32), UBatchSize = (uint)Math.Max(prompt, 32),
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var random = new Random(42);
        var ids = Enumerable.Range(0, prompt + generate).Select(_ => random.Next(3, ours.Config.VocabSize)).ToArray();

        var (ourPp, ourTg, theirPp, theirTg) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (int r = 0; r <= repetitions; r++)
        {
            bool warmup = r == 0;
            double a = prompt > 0 ? Throughput.Prompt(ours, prompt, threads, 1).Mean : 0;
            var b = Throughput.Generation(ours, generate, threads, 1);
            var (c, d) = LlamaCpp(context, ids, prompt, generate);
            if (!warmup)
            {
                ourPp.Add(a);
                ourTg.Add(b.Mean);
                theirPp.Add(c);
                theirTg.Add(d);
            }
        }

        string name = Path.GetFileName(path);
        if (prompt > 0)
        {
            Console.WriteLine($"| {name} | pp{prompt} | {threads} | {ourPp.Average():F2} | {theirPp.Average():F2} | {ourPp.Average() / theirPp.Average():F2} |");
        }

        if (generate > 0)
        {
            Console.WriteLine($"| {name} | tg{generate} | {threads} | {ourTg.Average():F2} | {theirTg.Average():F2} | {ourTg.Average() / theirTg.Average():F2} |");
        }

        return 0;
    }

    private static (double Prompt, double Generation) LlamaCpp(LLamaContext context, int[] ids, int prompt, int generate)
    {
        var handle = context.NativeHandle;
        handle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt; i++)
        {
            batch.Add((LLamaToken)ids[i], i, LLamaSeqId.Zero, i == prompt - 1);
        }

        var clock = Stopwatch.StartNew();
        double pp = 0;
        if (prompt > 0)
        {
            Check(handle.Decode(batch));
            pp = prompt / clock.Elapsed.TotalSeconds;
        }

        handle.MemoryClear(true);
        clock.Restart();
        for (int i = 0; i < generate; i++)
        {
            batch.Clear();
            batch.Add((LLamaToken)ids[prompt + i], i, LLamaSeqId.Zero, true);
            Check(handle.Decode(batch));
        }

        return (pp, generate / clock.Elapsed.TotalSeconds);
    }

    private static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok)
        {
            throw new InvalidOperationException($"llama.cpp decode failed: {result}");
        }
    }
}
