using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama2.Inference.Kernels;

/// <summary>
/// Prompt processing for Q4_0 weights with int8 activations (the int8 part <see cref="QuantizedActivations.Q"/>, as
/// llama.cpp does): eight weight rows are unpacked once per batch into their nibble values (0–15) interleaved by row,
/// four columns per row, so one 32-byte load holds 8 rows × 4 columns and one <c>vpmaddubsw</c> against a token's 4
/// broadcast activation bytes multiplies and adds all of them: 32 multiply-adds per instruction where a float FMA does
/// 8. Four such products are summed in int16 (at most 4 · 2 · 15 · 127 = 15240, no saturation), widened once, and a
/// block's sums are corrected for the unsigned nibbles (−8·Σq) and scaled per token by the eight rows' block scales.
/// The reference twin is <see cref="MatMul.Naive"/>.
/// </summary>
public static unsafe class Q4_0Gemm
{
    /// <summary>Rows per packed panel (the lanes of an AVX2 int32 vector).</summary>
    public const int Rows = 8;

    /// <summary>Whether this machine has the kernel (AVX2 and FMA).</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Q4_0 row · x with x's int8 part (the scalar twin of <see cref="Multiply"/>).</summary>
    public static float Naive(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        float sum = 0;
        for (int b = 0; b < x.Cols / 32; b++)
        {
            var block = row.Slice(b * 18, 18);
            int dot = 0;
            for (int j = 0; j < 16; j++)
            {
                dot += ((block[2 + j] & 0xF) - 8) * x.Q[b * 32 + j] + ((block[2 + j] >> 4) - 8) * x.Q[b * 32 + j + 16];
            }

            sum += (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(block)) * (128 * x.D[b]) * dot;
        }

        return sum;
    }

    /// <summary>Bytes of a packed panel of <paramref name="cols"/> columns.</summary>
    public static int PackedLength(int cols) => Rows * cols;

    /// <summary>
    /// Unpacks 8 consecutive Q4_0 rows (<paramref name="rows"/>, each <paramref name="rowBytes"/> long) into
    /// <paramref name="packed"/> (per block, per 4 columns, rows 0–7 × 4 nibble values) and <paramref name="scales"/>
    /// (<c>scales[8·b + r]</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(ReadOnlySpan<byte> rows, int rowBytes, int cols, Span<byte> packed, Span<float> scales)
    {
        float[] halfTable = QuantDot.s_half;
        int blocks = cols / 32;
        var values = stackalloc int[8]; // one block of one row: 32 nibble values, as 8 groups of 4
        fixed (byte* w = rows, p = packed)
        fixed (float* s = scales, half = halfTable)
        {
            int* groups = (int*)p;
            var low = Vector128.Create((byte)0x0F);
            for (int r = 0; r < Rows; r++)
            {
                for (int b = 0; b < blocks; b++)
                {
                    byte* block = w + r * rowBytes + b * 18;
                    s[Rows * b + r] = half[Unsafe.ReadUnaligned<ushort>(block)];
                    var bytes = Sse2.LoadVector128(block + 2);
                    Avx.Store((byte*)values, Vector256.Create(Sse2.And(bytes, low), Sse2.And(Sse2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte(), low)));
                    int* destination = groups + b * 8 * Rows + r;
                    for (int g = 0; g < 8; g++)
                    {
                        destination[g * Rows] = values[g];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Asks for the cache lines of <paramref name="bytes"/> (the next panel's rows, while this one is multiplied): a
    /// panel's rows are too short for the hardware prefetcher to catch on.
    /// </summary>
    public static void Prefetch(ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
        {
            for (int offset = 0; offset < bytes.Length; offset += 64)
            {
                Sse.Prefetch0(p + offset);
            }
        }
    }

    /// <summary>y[t·yStride + r] = packed row r · token t for the 8 packed rows and the first <paramref name="n"/> tokens of
    /// <paramref name="x"/>: four tokens at a time, then one.</summary>
    public static void Multiply(ReadOnlySpan<byte> packed, ReadOnlySpan<float> scales, int cols, QuantizedActivations[] x, int n, Span<float> y, int yStride)
    {
        fixed (byte* p = packed)
        fixed (float* s = scales, py = y)
        {
            int t = 0;
            for (; t + 4 <= n; t += 4)
            {
                Four(p, s, cols / 32, x[t], x[t + 1], x[t + 2], x[t + 3], py + t * yStride, yStride);
            }

            for (; t < n; t++)
            {
                One(p, s, cols / 32, x[t], py + t * yStride);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Four(byte* packed, float* scales, int blocks, QuantizedActivations x0, QuantizedActivations x1, QuantizedActivations x2, QuantizedActivations x3, float* y, int yStride)
    {
        fixed (sbyte* q0 = x0.Q, q1 = x1.Q, q2 = x2.Q, q3 = x3.Q)
        fixed (float* d0 = x0.D, d1 = x1.D, d2 = x2.D, d3 = x3.D)
        fixed (int* s0 = x0.SQ, s1 = x1.SQ, s2 = x2.SQ, s3 = x3.SQ)
        {
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++)
            {
                byte* w = packed + b * 32 * Rows;
                int o = b * 32;
                var ws = Avx.LoadVector256(scales + b * Rows) * 128; // D is the int16 scale: q's is 128·D
                f0 = Fma.MultiplyAdd(BlockDot(w, q0 + o, s0[b]), ws * d0[b], f0);
                f1 = Fma.MultiplyAdd(BlockDot(w, q1 + o, s1[b]), ws * d1[b], f1);
                f2 = Fma.MultiplyAdd(BlockDot(w, q2 + o, s2[b]), ws * d2[b], f2);
                f3 = Fma.MultiplyAdd(BlockDot(w, q3 + o, s3[b]), ws * d3[b], f3);
            }

            Avx.Store(y, f0);
            Avx.Store(y + yStride, f1);
            Avx.Store(y + 2 * yStride, f2);
            Avx.Store(y + 3 * yStride, f3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void One(byte* packed, float* scales, int blocks, QuantizedActivations x, float* y)
    {
        fixed (sbyte* q = x.Q)
        fixed (float* d = x.D)
        fixed (int* s = x.SQ)
        {
            var f = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++)
            {
                f = Fma.MultiplyAdd(BlockDot(packed + b * 32 * Rows, q + b * 32, s[b]), Avx.LoadVector256(scales + b * Rows) * (128 * d[b]), f);
            }

            Avx.Store(y, f);
        }
    }

    /// <summary>One block (32 columns) of the 8 packed rows · one token's 32 int8 activations, as 8 floats (one per row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> BlockDot(byte* w, sbyte* q, int sumQ)
    {
        var sum = Avx2.Add(Half(w, (int*)q), Half(w + 4 * 32, (int*)(q + 16)));
        return Avx.ConvertToVector256Single(Avx2.Subtract(sum, Vector256.Create(8 * sumQ))); // nibble n is weight n − 8
    }

    /// <summary>16 columns: four products of 8 rows × 4 columns, summed in int16, widened to int32 per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Half(byte* w, int* q)
    {
        var p01 = Avx2.Add(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(w), Vector256.Create(q[0]).AsSByte()),
            Avx2.MultiplyAddAdjacent(Avx.LoadVector256(w + 32), Vector256.Create(q[1]).AsSByte()));
        var p23 = Avx2.Add(Avx2.MultiplyAddAdjacent(Avx.LoadVector256(w + 64), Vector256.Create(q[2]).AsSByte()),
            Avx2.MultiplyAddAdjacent(Avx.LoadVector256(w + 96), Vector256.Create(q[3]).AsSByte()));
        return Avx2.MultiplyAddAdjacent(Avx2.Add(p01, p23), Vector256.Create((short)1));
    }
}
