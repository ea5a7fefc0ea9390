using System.Buffers.Binary;
using Llama2.Core.Gguf;
using Llama2.Core.Model;
using Llama2.Core.Quantization;
using Llama2.Inference.Kernels;

namespace Llama2.Inference.Tests;

/// <summary>Every fast kernel against its naive twin.</summary>
public sealed class KernelTwinTests
{
    private static float[] RandomFloats(int n, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    /// <summary><paramref name="x"/> quantized; a type without a quantizer here (Q2_K, Q3_K, Q5_K) gets random blocks made from
    /// <paramref name="x"/>'s seed, with small finite scales (every other byte pattern of those is a valid block).</summary>
    private static byte[] QuantizedRow(GgmlType type, float[] x)
    {
        GgmlTypeInfo.TryGetBlock(type, out int be, out int bb);
        var bytes = new byte[x.Length / be * bb];
        if (Quantize.Supports(type))
        {
            Quantize.Row(type, x, bytes);
            return bytes;
        }

        Assert.True(type is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q5_K, $"no random blocks for {type}");
        new Random(BitConverter.SingleToInt32Bits(x[0])).NextBytes(bytes);
        for (int b = 0; b < bytes.Length / bb; b++)
        {
            if (type == GgmlType.Q5_K)
            {
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b * bb), (Half)0.01f);     // d
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b * bb + 2), (Half)0.02f); // dmin
            }
            else if (type == GgmlType.Q3_K)
            {
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b * bb + 108), (Half)0.01f); // d
            }
            else
            {
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b * bb + 80), (Half)0.01f); // d
                BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(b * bb + 82), (Half)0.02f); // dmin
            }
        }

        return bytes;
    }

    [Fact]
    public void Activation_quantizer_equals_its_scalar_twin_bit_for_bit()
    {
        var values = RandomFloats(4096, 3);
        values[5] = 0; // and a block of zeros, whose scale is 0
        Array.Clear(values, 64, 32);
        values[100] = 1e-30f;
        var fast = new QuantizedActivations(4096);
        var naive = new QuantizedActivations(4096);
        fast.Set(values, 4096);
        naive.SetNaive(values, 4096);
        Assert.Equal(naive.X, fast.X);
        Assert.Equal(naive.D, fast.D);
        Assert.Equal(naive.S, fast.S);
        Assert.Equal(naive.Int8, fast.Int8);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 4096)]
    [InlineData(GgmlType.Q8_0, 4128)] // an odd number of blocks: the kernel takes two blocks per step
    [InlineData(GgmlType.Q4_0, 4096)]
    [InlineData(GgmlType.Q4_K, 4096)]
    [InlineData(GgmlType.Q2_K, 4096)]
    [InlineData(GgmlType.Q3_K, 4096)]
    [InlineData(GgmlType.Q5_K, 4096)]
    [InlineData(GgmlType.Q6_K, 4096)]
    [InlineData(GgmlType.Q6_K, 4096, true)]
    public void Integer_dots_equal_their_naive_twins(GgmlType type, int cols, bool int8 = false)
    {
        var w = QuantizedRow(type, RandomFloats(cols, 1));
        var x = new QuantizedActivations(cols);
        var values = RandomFloats(cols, 2);
        x.Set(values, cols);
        var (fast, naive) = type switch
        {
            GgmlType.Q8_0 => (QuantDot.Q8_0(w, x), QuantDot.Q8_0Naive(w, x)),
            GgmlType.Q4_0 => (QuantDot.Q4_0(w, x), QuantDot.Q4_0Naive(w, x)),
            GgmlType.Q4_K => (QuantDot.Q4_K(w, x), Int8Gemm.Naive(type, w, x)),
            GgmlType.Q2_K => (QuantDot.Q2_K(w, x), Int8Gemm.Naive(type, w, x)),
            GgmlType.Q3_K => (QuantDot.Q3_K(w, x), Int8Gemm.Naive(type, w, x)),
            GgmlType.Q5_K => (QuantDot.Q5_K(w, x), Int8Gemm.Naive(type, w, x)),
            _ when int8 => (QuantDot.Q6_KInt8(w, x), Int8Gemm.Naive(type, w, x)),
            _ => (QuantDot.Q6_K(w, x), QuantDot.Q6_KNaive(w, x)),
        };
        Assert.Equal(naive, fast, Math.Abs(naive) * 1e-5f + 1e-4f);

        // And both equal the float dot of the dequantized row with the unquantized activations, nearly (Q4_K and
        // Q6_KInt8 take the int8 part alone: within half a step, amax/254 of each block, per value).
        var dense = new float[cols];
        Dequantize.Row(type, w, dense);
        float exact = dense.Zip(values, (a, b) => a * b).Sum();
        double bound = type is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K || int8
            ? Enumerable.Range(0, cols).Sum(k => Math.Abs(dense[k]) * values.AsSpan(k / 32 * 32, 32).ToArray().Max(Math.Abs) / 254)
            : Math.Abs(exact) * 1e-3f + 1e-2f;
        Assert.Equal(exact, naive, bound);
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    public void Four_row_dots_equal_the_one_row_kernel(GgmlType type)
    {
        const int cols = 1024;
        var one = QuantizedRow(type, RandomFloats(cols, 20));
        var rows = new byte[5 * one.Length]; // and a fifth row, which the four-row kernel prefetches but never reads
        for (int r = 0; r < 5; r++)
        {
            QuantizedRow(type, RandomFloats(cols, 20 + r)).CopyTo(rows, r * one.Length);
        }

        var x = new QuantizedActivations(cols);
        x.Set(RandomFloats(cols, 7), cols);
        var four = type == GgmlType.Q4_0 ? QuantDot.Q4_0x4(rows, one.Length, x) : QuantDot.Q4_Kx4(rows, one.Length, x);
        for (int r = 0; r < 4; r++)
        {
            var row = rows.AsSpan(r * one.Length, one.Length);
            float expected = type == GgmlType.Q4_0 ? QuantDot.Q4_0(row, x) : QuantDot.Q4_K(row, x);
            Assert.Equal(expected, four[r], Math.Abs(expected) * 1e-5f + 1e-5f);
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void Vector_dequantization_equals_the_scalar_reference(GgmlType type)
    {
        var row = QuantizedRow(type, RandomFloats(1024, 3));
        var expected = new float[1024];
        var actual = new float[1024];
        Dequantize.Row(type, row, expected);
        if (type == GgmlType.Q8_0)
        {
            Gemm.DequantizeQ8_0(row, actual, QuantDot.s_half);
        }
        else
        {
            Gemm.DequantizeQ4_0(row, actual, QuantDot.s_half);
        }

        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(GgmlType.Q2_K)]
    [InlineData(GgmlType.Q3_K)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void Vector_K_quant_dequantization_equals_the_scalar_reference(GgmlType type)
    {
        var row = QuantizedRow(type, RandomFloats(1024, 7));
        var expected = new float[1024];
        var actual = new float[1024];
        Dequantize.Row(type, row, expected);
        switch (type)
        {
            case GgmlType.Q2_K: DequantizeK.Q2_K(row, actual, QuantDot.s_half); break;
            case GgmlType.Q3_K: DequantizeK.Q3_K(row, actual, QuantDot.s_half); break;
            case GgmlType.Q4_K: DequantizeK.Q4_K(row, actual, QuantDot.s_half); break;
            case GgmlType.Q5_K: DequantizeK.Q5_K(row, actual, QuantDot.s_half); break;
            default: DequantizeK.Q6_K(row, actual, QuantDot.s_half); break;
        }

        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], Math.Abs(expected[i]) * 1e-6f + 1e-7f);
        }
    }

    [Theory]
    [InlineData(9, 7, 64)]
    [InlineData(4, 4, 32)]
    [InlineData(1, 1, 8)]
    public void Tiled_gemm_equals_pairwise_dots(int rows, int n, int cols)
    {
        var w = RandomFloats(rows * cols, 4);
        var x = RandomFloats(n * cols, 5);
        int stride = rows + 3;
        var fast = new float[n * stride];
        var naive = new float[n * stride];
        Gemm.Multiply(w, rows, x, n, cols, fast, stride, 2);
        Gemm.Naive(w, rows, x, n, cols, naive, stride, 2);
        for (int i = 0; i < fast.Length; i++)
        {
            Assert.Equal(naive[i], fast[i], 1e-4f);
        }
    }

    [Theory]
    [InlineData(GgmlType.F32, 1)]
    [InlineData(GgmlType.F32, 6)]
    [InlineData(GgmlType.F16, 5)]
    [InlineData(GgmlType.Q8_0, 1)]
    [InlineData(GgmlType.Q8_0, 6)]
    [InlineData(GgmlType.Q4_0, 2)]
    [InlineData(GgmlType.Q4_0, 9)]
    [InlineData(GgmlType.Q4_K, 3)]
    [InlineData(GgmlType.Q4_K, 6)]
    [InlineData(GgmlType.Q2_K, 1)]
    [InlineData(GgmlType.Q2_K, 6)]
    [InlineData(GgmlType.Q3_K, 2)]
    [InlineData(GgmlType.Q3_K, 4)]
    [InlineData(GgmlType.Q5_K, 1)]
    [InlineData(GgmlType.Q5_K, 5)]
    [InlineData(GgmlType.Q6_K, 3)]
    [InlineData(GgmlType.Q6_K, 5)]
    public void MatMul_equals_its_naive_twin(GgmlType type, int n)
    {
        int rows = 37, cols = 512;
        GgmlTypeInfo.TryGetBlock(type, out int be, out int bb);
        var data = new byte[rows * (cols / be * bb)];
        for (int r = 0; r < rows; r++)
        {
            QuantizedRow(type, RandomFloats(cols, 10 + r)).CopyTo(data, r * (cols / be * bb));
        }

        var w = new ModelTensor("w", [rows, cols], type, data);
        var x = RandomFloats(n * cols, 6);
        var fast = new float[n * rows];
        var naive = new float[n * rows];
        using var pool = new WorkerPool(2);
        new MatMul(pool, 16, cols).Run(w, x, fast, n);
        MatMul.Naive(w, x, naive, n);
        // prompt processing (Int8Gemm) and K-quant generation: int8 activations
        bool int8 = (Int8Gemm.Supports(type) && n >= MatMul.FloatBatchThreshold) || (n < MatMul.FloatBatchThreshold && type is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K);
        var dense = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            Dequantize.Row(type, w.Row(r), dense);
            for (int t = 0; t < n; t++)
            {
                int i = t * rows + r;
                if (int8)
                {
                    // each activation is within half a step (amax/127 of its block) of its int8 value
                    double bound = 0;
                    for (int k = 0; k < cols; k++)
                    {
                        float amax = x.AsSpan(t * cols + k / 32 * 32, 32).ToArray().Max(Math.Abs);
                        bound += Math.Abs(dense[k]) * amax / 254;
                    }

                    Assert.Equal(naive[i], fast[i], bound * 1.01 + 1e-4);
                }
                else
                {
                    // The other integer kernels quantize activations with a residual (about 15 bits): a small relative error.
                    Assert.Equal(naive[i], fast[i], Math.Abs(naive[i]) * 2e-3f + 2e-3f);
                }
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.Q8_0)]
    public void Prompt_kernel_for_int8_products_equals_its_scalar_twin(GgmlType type)
    {
        int cols = 512, rows = Int8Gemm.Rows, n = 9;
        GgmlTypeInfo.TryGetBlock(type, out int be, out int bb);
        int rowBytes = cols / be * bb;
        var data = new byte[rows * rowBytes];
        for (int r = 0; r < rows; r++)
        {
            // the last two rows are constant, so that their values sit at the ends of the type's range
            var values = r < rows - 2 ? RandomFloats(cols, 30 + r) : Enumerable.Repeat(r == rows - 1 ? 1f : -1f, cols).ToArray();
            Quantize.Row(type, values, data.AsSpan(r * rowBytes, rowBytes));
        }

        // the last two tokens are constant, ±127 in every int8 value: the largest products the kernel has to hold
        var x = Enumerable.Range(0, n).Select(t =>
        {
            var q = new QuantizedActivations(cols);
            q.Set(t < n - 2 ? RandomFloats(cols, 40 + t) : Enumerable.Repeat(t == n - 1 ? 1f : -1f, cols).ToArray(), cols);
            return q;
        }).ToArray();
        var panel = new Int8Gemm.Panel(cols);
        Int8Gemm.Pack(type, data, rowBytes, cols, panel);
        var y = new float[n * rows];
        Int8Gemm.Multiply(type, panel, cols, x, n, y, rows);
        for (int t = 0; t < n; t++)
        {
            for (int r = 0; r < rows; r++)
            {
                float expected = Int8Gemm.Naive(type, data.AsSpan(r * rowBytes, rowBytes), x[t]);
                Assert.Equal(expected, y[t * rows + r], Math.Abs(expected) * 1e-4f + 1e-4f);
            }
        }
    }

    [Fact]
    public void Worker_pool_covers_every_item_once_and_rethrows_failures()
    {
        using var pool = new WorkerPool(3);
        var seen = new int[1000];
        pool.Run(seen.Length, (_, start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                Interlocked.Increment(ref seen[i]);
            }
        });
        Assert.All(seen, s => Assert.Equal(1, s));
        Assert.Throws<InvalidOperationException>(() => pool.Run(10, (t, _, _) =>
        {
            if (t == 2)
            {
                throw new InvalidOperationException("boom");
            }
        }));
        pool.Run(4, (_, _, _) => { }); // still usable
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.BF16)]
    public void Portable_dequantization_equals_its_scalar_twin(GgmlType type)
    {
        int cols = type == GgmlType.BF16 ? 517 : 512; // BF16: and a tail of 5 after the vectors
        GgmlTypeInfo.TryGetBlock(type, out int be, out int bb);
        var row = new byte[cols / be * bb];
        Quantize.Row(type, RandomFloats(cols, 50), row);
        var expected = new float[cols];
        var actual = new float[cols];
        Dequantize.Row(type, row, expected);
        switch (type)
        {
            case GgmlType.Q8_0: PortableDequantize.Q8_0(row, actual); break;
            case GgmlType.Q4_0: PortableDequantize.Q4_0(row, actual); break;
            case GgmlType.Q4_K: PortableDequantize.Q4_K(row, actual); break;
            case GgmlType.BF16: PortableDequantize.BF16(row, actual); break;
            default: PortableDequantize.Q6_K(row, actual); break;
        }

        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(1000, 64)]
    [InlineData(1000, 1000)]
    [InlineData(7, 32)]
    public void Worker_pool_in_chunks_covers_every_item_once_in_whole_chunks(int count, int chunk)
    {
        using var pool = new WorkerPool(3);
        var seen = new int[count];
        var threads = new int[3];
        for (int round = 0; round < 20; round++)
        {
            Array.Clear(seen);
            pool.Run(count, (thread, start, end) =>
            {
                Assert.Equal(0, start % chunk);
                Assert.Equal(Math.Min(start + chunk, count), end);
                Interlocked.Increment(ref threads[thread]);
                for (int i = start; i < end; i++)
                {
                    Interlocked.Increment(ref seen[i]);
                }
            }, chunk);
            Assert.All(seen, s => Assert.Equal(1, s));
        }

        Assert.True(threads[0] > 0); // the caller always works
        Assert.Throws<InvalidOperationException>(() => pool.Run(count, (t, _, _) => throw new InvalidOperationException("boom"), chunk));
    }
}
