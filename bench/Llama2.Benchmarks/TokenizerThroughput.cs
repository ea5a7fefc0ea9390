using System.Diagnostics;
using System.Globalization;
using System.Text;
using Llama2.Core.Tokenization;

namespace Llama2.Benchmarks;

/// <summary>Encode throughput (MB of UTF-8 per second) over a text file, one line per call, single thread.</summary>
internal static class TokenizerThroughput
{
    public static int Run(string[] args)
    {
        string? model = null, text = null;
        int repeat = 5;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": model = args[i + 1]; break;
                case "--text": text = args[i + 1]; break;
                case "--repeat": repeat = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        model ??= Path.Combine(BenchText.FixturesRoot(), "tokenizer", "llama2-tokenizer.model");
        var lines = BenchText.Lines(text);
        double megabytes = lines.Sum(l => Encoding.UTF8.GetByteCount(l)) / 1e6;

        // Cold: a fresh tokenizer (empty word cache) each pass. Warm: the same tokenizer again.
        var cold = new List<double>();
        var warm = new List<double>();
        long tokens = 0;
        for (int r = 0; r < repeat; r++)
        {
            var tokenizer = TokenizerLoader.Load(model);
            cold.Add(Time(tokenizer, lines, out tokens));
            warm.Add(Time(tokenizer, lines, out _));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"llama2 (C#)   {megabytes:F2} MB, {lines.Length} lines, {tokens} tokens: cold {megabytes / cold.Min():F2} MB/s (median {megabytes / Median(cold):F2}), warm cache {megabytes / warm.Min():F2} MB/s (median {megabytes / Median(warm):F2})"));
        return 0;
    }

    private static double Time(LlamaTokenizer tokenizer, string[] lines, out long tokens)
    {
        tokens = 0;
        var clock = Stopwatch.StartNew();
        foreach (var line in lines)
        {
            tokens += tokenizer.Encode(line).Length;
        }

        return clock.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
