using System.Text;
using BenchmarkDotNet.Attributes;
using Llama2.Core.Tokenization;

namespace Llama2.Benchmarks;

/// <summary>
/// Encode and decode throughput with the real Llama 2 vocabulary. Bytes/s are reported through
/// BenchmarkDotNet's per-operation time: divide <see cref="Megabytes"/> by the mean.
/// Set LLAMA2_BENCH_TEXT to a few MB of text to measure on your own corpus.
/// </summary>
[MemoryDiagnoser]
public class TokenizerBenchmarks
{
    private string[] _lines = [];
    private int[][] _ids = [];
    private LlamaTokenizer _warm = null!;
    private string _model = "";

    public double Megabytes { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = Path.Combine(BenchText.FixturesRoot(), "tokenizer", "llama2-tokenizer.model");
        _lines = BenchText.Lines(null);
        Megabytes = _lines.Sum(l => Encoding.UTF8.GetByteCount(l)) / 1e6;
        _warm = TokenizerLoader.Load(_model);
        _ids = [.. _lines.Select(l => _warm.Encode(l))];
        Console.WriteLine($"// benchmark text: {Megabytes:F3} MB in {_lines.Length} lines");
    }

    [Benchmark(Description = "encode, warm word cache")]
    public long EncodeWarm()
    {
        long n = 0;
        foreach (var line in _lines)
        {
            n += _warm.Encode(line).Length;
        }

        return n;
    }

    [Benchmark(Description = "encode, cold (new tokenizer)")]
    public long EncodeCold()
    {
        var tokenizer = new LlamaTokenizer(_warm.Model);
        long n = 0;
        foreach (var line in _lines)
        {
            n += tokenizer.Encode(line).Length;
        }

        return n;
    }

    [Benchmark(Description = "decode")]
    public long Decode()
    {
        long n = 0;
        foreach (var ids in _ids)
        {
            n += _warm.Decode(ids).Length;
        }

        return n;
    }
}
