using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Llama2.Core.Gguf;
using Llama2.Core.Model;
using Llama2.Core.Quantization;
using Llama2.Inference.Kernels;

namespace Llama2.Benchmarks;

/// <summary>
/// Matrix × vector (decode; set Batch for matrix × matrix) per weight type, fast kernel against its naive
/// twin, on a 4096 × 4096 matrix (a 7B attention projection). Extra columns: weight GB/s and GFLOP/s.
/// <c>dotnet run --project bench/Llama2.Benchmarks -c Release -- --filter '*Kernel*'</c>
/// </summary>
[Config(typeof(ThroughputConfig))]
public class KernelBenchmarks
{
    private const int Size = 4096;
    private ModelTensor _w = null!;
    private float[] _x = [], _y = [];
    private MatMul _matmul = null!;
    private WorkerPool _pool = null!;

    [Params(GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K)]
    public GgmlType Type { get; set; }

    /// <summary>Activation rows: 1 is decode; set e.g. 32 here to measure the prefill GEMM.</summary>
    [Params(1)]
    public int Batch { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        GgmlTypeInfo.TryGetBlock(Type, out int be, out int bb);
        int rowBytes = Size / be * bb;
        var data = new byte[(long)rowBytes * Size];
        var row = new float[Size];
        for (int r = 0; r < Size; r++)
        {
            for (int i = 0; i < Size; i++)
            {
                row[i] = (float)(random.NextDouble() - 0.5) * 0.04f;
            }

            Quantize.Row(Type, row, data.AsSpan(r * rowBytes, rowBytes));
        }

        _w = new ModelTensor("w", [Size, Size], Type, data);
        _x = [.. Enumerable.Range(0, Batch * Size).Select(_ => (float)random.NextDouble())];
        _y = new float[Batch * Size];
        _pool = new WorkerPool(Threads);
        _matmul = new MatMul(_pool, Batch, Size);
    }

    /// <summary>Weight bytes read per call (each row once per batch).</summary>
    public static double WeightBytes(GgmlType type)
    {
        GgmlTypeInfo.TryGetBlock(type, out int be, out int bb);
        return (double)Size / be * bb * Size;
    }

    public static double Flops(int batch) => 2.0 * Size * Size * batch;

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Baseline = true, Description = "naive twin (1 thread)")]
    public void Naive() => MatMul.Naive(_w, _x, _y, Batch);

    [Benchmark(Description = "fast kernel")]
    public void Fast() => _matmul.Run(_w, _x, _y, Batch);
}

/// <summary>Adds weight GB/s and GFLOP/s columns computed from each case's mean time.</summary>
public sealed class ThroughputConfig : ManualConfig
{
    public ThroughputConfig()
    {
        // BenchmarkDotNet runs cases in child processes, so the amounts come from the parameters, not from state.
        AddColumn(
            new RateColumn("GB/s", p => KernelBenchmarks.WeightBytes((GgmlType)p["Type"]), 1e9),
            new RateColumn("GFLOP/s", p => KernelBenchmarks.Flops((int)p["Batch"]), 1e9));
    }

    private sealed class RateColumn(string name, Func<BenchmarkDotNet.Parameters.ParameterInstances, double> amount, double unit) : IColumn
    {
        public string Id => name;
        public string ColumnName => name;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => $"{name} over the mean time";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            return report?.ResultStatistics is { } stats
                ? (amount(benchmarkCase.Parameters) / (stats.Mean * 1e-9) / unit).ToString("F1", System.Globalization.CultureInfo.InvariantCulture)
                : "?";
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
