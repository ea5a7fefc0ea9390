using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama2.Inference.Kernels;

/// <summary>
/// Register-tiled float32 dot products for batched matrix multiplication: three weight rows against four
/// activation rows at once, so each loaded vector feeds three or four FMAs instead of one. Scalar-SIMD twin:
/// <see cref="TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/> per pair.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// y[t·yStride + r] = w_r · x_t for the weight rows <paramref name="w"/> (rows × cols, contiguous) and
    /// activation rows <paramref name="x"/> (n × cols), writing at column offset <paramref name="rowOffset"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a kernel: fully optimised from its first call (the first token), no tiering
    public static void Multiply(ReadOnlySpan<float> w, int rows, ReadOnlySpan<float> x, int n, int cols, Span<float> y, int yStride, int rowOffset)
    {
        if (!Fma.IsSupported || cols % 8 != 0)
        {
            Naive(w, rows, x, n, cols, y, yStride, rowOffset);
            return;
        }

        fixed (float* pw = w, px = x, py = y)
        {
            // tokens outside, weight tiles inside: four activation rows are read from memory once and reused from
            // cache by every tile of these rows
            int tiled = rows / TileR * TileR, t = 0;
            for (; t + 4 <= n; t += 4)
            {
                for (int r = 0; r < tiled; r += TileR)
                {
                    Tile(pw + r * cols, px + t * cols, cols, py + t * yStride + rowOffset + r, yStride);
                }
            }

            for (; t < n; t++)
            {
                for (int r = 0; r < tiled; r++)
                {
                    py[t * yStride + rowOffset + r] = TensorPrimitives.Dot(w.Slice(r * cols, cols), x.Slice(t * cols, cols));
                }
            }

            for (int r = tiled; r < rows; r++)
            {
                for (int u = 0; u < n; u++)
                {
                    py[u * yStride + rowOffset + r] = TensorPrimitives.Dot(w.Slice(r * cols, cols), x.Slice(u * cols, cols));
                }
            }
        }
    }

    private const int TileR = 3;

    /// <summary>
    /// 3 weight rows × 4 activation rows: 12 accumulators, the 3 weight vectors and 1 activation vector at a time use all 16
    /// AVX2 registers and no more. (Holding the 4 activation vectors instead needs 17: the JIT spilled an accumulator to the
    /// stack, and the store-load chain through it held the kernel to ~36 GFLOP/s per core; this form runs at ~78.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(float* w, float* x, int cols, float* y, int yStride)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default;
        float* w0p = w, w1p = w + cols, w2p = w + 2 * cols;
        float* x0p = x, x1p = x + cols, x2p = x + 2 * cols, x3p = x + 3 * cols;
        for (int k = 0; k < cols; k += 8)
        {
            var w0 = Avx.LoadVector256(w0p + k);
            var w1 = Avx.LoadVector256(w1p + k);
            var w2 = Avx.LoadVector256(w2p + k);
            var xv = Avx.LoadVector256(x0p + k);
            a00 = Fma.MultiplyAdd(w0, xv, a00); a10 = Fma.MultiplyAdd(w1, xv, a10); a20 = Fma.MultiplyAdd(w2, xv, a20);
            xv = Avx.LoadVector256(x1p + k);
            a01 = Fma.MultiplyAdd(w0, xv, a01); a11 = Fma.MultiplyAdd(w1, xv, a11); a21 = Fma.MultiplyAdd(w2, xv, a21);
            xv = Avx.LoadVector256(x2p + k);
            a02 = Fma.MultiplyAdd(w0, xv, a02); a12 = Fma.MultiplyAdd(w1, xv, a12); a22 = Fma.MultiplyAdd(w2, xv, a22);
            xv = Avx.LoadVector256(x3p + k);
            a03 = Fma.MultiplyAdd(w0, xv, a03); a13 = Fma.MultiplyAdd(w1, xv, a13); a23 = Fma.MultiplyAdd(w2, xv, a23);
        }

        y[0] = Vector256.Sum(a00); y[1] = Vector256.Sum(a10); y[2] = Vector256.Sum(a20);
        y[yStride] = Vector256.Sum(a01); y[yStride + 1] = Vector256.Sum(a11); y[yStride + 2] = Vector256.Sum(a21);
        y[2 * yStride] = Vector256.Sum(a02); y[2 * yStride + 1] = Vector256.Sum(a12); y[2 * yStride + 2] = Vector256.Sum(a22);
        y[3 * yStride] = Vector256.Sum(a03); y[3 * yStride + 1] = Vector256.Sum(a13); y[3 * yStride + 2] = Vector256.Sum(a23);
    }

    /// <summary>The reference twin: one SIMD dot per (row, token) pair.</summary>
    public static void Naive(ReadOnlySpan<float> w, int rows, ReadOnlySpan<float> x, int n, int cols, Span<float> y, int yStride, int rowOffset)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int t = 0; t < n; t++)
            {
                y[t * yStride + rowOffset + r] = TensorPrimitives.Dot(w.Slice(r * cols, cols), x.Slice(t * cols, cols));
            }
        }
    }

    /// <summary>Q8_0 row → float32 with AVX2 (8 values per step); the scalar twin is <c>Dequantize.Row</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DequantizeQ8_0(ReadOnlySpan<byte> row, Span<float> destination, float[] halfTable)
    {
        fixed (byte* p = row)
        fixed (float* y = destination, half = halfTable)
        {
            int blocks = destination.Length / 32;
            for (int b = 0; b < blocks; b++)
            {
                byte* block = p + b * 34;
                var d = Vector256.Create(half[Unsafe.ReadUnaligned<ushort>(block)]);
                for (int j = 0; j < 32; j += 8)
                {
                    var q = Avx2.ConvertToVector256Int32((sbyte*)(block + 2 + j));
                    Avx.Store(y + b * 32 + j, Avx.Multiply(Avx.ConvertToVector256Single(q), d));
                }
            }
        }
    }

    /// <summary>Q4_0 row → float32 with AVX2; the scalar twin is <c>Dequantize.Row</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DequantizeQ4_0(ReadOnlySpan<byte> row, Span<float> destination, float[] halfTable)
    {
        fixed (byte* p = row)
        fixed (float* y = destination, half = halfTable)
        {
            int blocks = destination.Length / 32;
            var low = Vector128.Create((byte)0x0F);
            var eight = Vector128.Create((sbyte)8);
            for (int b = 0; b < blocks; b++)
            {
                byte* block = p + b * 18;
                var d = Vector256.Create(half[Unsafe.ReadUnaligned<ushort>(block)]);
                var packed = Sse2.LoadVector128(block + 2);
                var lo = Sse2.Subtract(Sse2.And(packed, low).AsSByte(), eight);
                var hi = Sse2.Subtract(Sse2.And(Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), low).AsSByte(), eight);
                Avx.Store(y + b * 32, Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(lo)), d));
                Avx.Store(y + b * 32 + 8, Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(lo, 8))), d));
                Avx.Store(y + b * 32 + 16, Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(hi)), d));
                Avx.Store(y + b * 32 + 24, Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(hi, 8))), d));
            }
        }
    }
}
