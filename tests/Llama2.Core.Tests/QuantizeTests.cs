using Llama2.Core.Gguf;
using Llama2.Core.Model;
using Llama2.Core.Quantization;
using Xunit.Abstractions;

namespace Llama2.Core.Tests;

/// <summary>Our quantizers against llama-quantize's output on the same F32 weights (the tiny-gqa GGUF fixtures).</summary>
public sealed class QuantizeTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("q4_k_m")]
    [InlineData("q6_k")]
    public void Quantized_tensors_match_llama_quantize(string type)
    {
        using var f32 = ModelFile.Open(Fixtures.Path("tiny-gqa/gguf/tiny-gqa-f32.gguf"));
        using var reference = ModelFile.Open(Fixtures.Path($"tiny-gqa/gguf/tiny-gqa-{type}.gguf"));
        long same = 0, total = 0;
        foreach (var (name, expected) in reference.Tensors)
        {
            if (expected.Type is GgmlType.F32)
            {
                continue;
            }

            var source = f32[name];
            var ours = new byte[expected.Data.Length];
            var row = new float[source.Cols];
            for (int r = 0; r < source.Rows; r++)
            {
                Dequantize.Row(source.Type, source.Row(r), row);
                Quantize.Row(expected.Type, row, ours.AsSpan(r * expected.RowBytes, expected.RowBytes));
            }

            var theirs = expected.Data.Span;
            for (int i = 0; i < ours.Length; i++)
            {
                same += ours[i] == theirs[i] ? 1 : 0;
            }

            total += ours.Length;
        }

        double fraction = (double)same / total;
        output.WriteLine($"{type}: {same}/{total} bytes identical ({fraction:P4})");
        Assert.True(fraction > 0.9999, $"only {fraction:P4} of the bytes match llama-quantize");
    }

    [SkippableFact]
    public void Q4_K_M_uses_llama_cpp_type_mix()
    {
        using var reference = ModelFile.Open(Fixtures.Path("tiny-gqa/gguf/tiny-gqa-q4_k_m.gguf"));
        int layers = reference.Config.NLayers;
        foreach (var (name, tensor) in reference.Tensors)
        {
            Assert.Equal(tensor.Type, GgufExporter.TargetType(name, tensor.Shape, ExportType.Q4_K_M, TensorNames.LayerOf(name), layers));
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 0.01)]
    [InlineData(GgmlType.Q4_0, 0.15)]
    [InlineData(GgmlType.Q5_0, 0.08)]
    [InlineData(GgmlType.Q4_K, 0.12)]
    [InlineData(GgmlType.Q6_K, 0.04)]
    [InlineData(GgmlType.F16, 0.001)]
    [InlineData(GgmlType.BF16, 0.01)]
    public void Round_trip_error_is_small(GgmlType type, double relativeRms)
    {
        var random = new Random(2);
        var x = new float[1024];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((random.NextDouble() - 0.5) * 2 * (1 + i % 7));
        }

        GgmlTypeInfo.TryGetBlock(type, out int blockElements, out int blockBytes);
        var bytes = new byte[x.Length / blockElements * blockBytes];
        Quantize.Row(type, x, bytes);
        var y = new float[x.Length];
        Dequantize.Row(type, bytes, y);
        double error = Math.Sqrt(x.Zip(y, (a, b) => (double)(a - b) * (a - b)).Average());
        double scale = Math.Sqrt(x.Average(a => (double)a * a));
        Assert.True(error / scale < relativeRms, $"{type}: relative RMS error {error / scale}");
    }
}
