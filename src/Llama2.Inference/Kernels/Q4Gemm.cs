using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Llama2.Core.Gguf;
using Llama2.Core.Quantization;

namespace Llama2.Inference.Kernels;

/// <summary>
/// Prompt processing for Q4_0 and Q4_K weights with int8 activations (the int8 part <see cref="QuantizedActivations.Q"/>,
/// as llama.cpp does): eight weight rows are unpacked once per batch into their nibble values (0–15) interleaved by
/// row, four columns per row, so one 32-byte load holds 8 rows × 4 columns and one <c>vpmaddubsw</c> against a token's
/// 4 broadcast activation bytes multiplies and adds all of them: 32 multiply-adds per instruction where a float FMA
/// does 8. Four such products are summed in int16 (at most 4 · 2 · 15 · 127 = 15240, no saturation) and widened once.
/// Every 32 columns have, per row, a scale and a minimum (Q4_0: d and 8·d; Q4_K: d·sc and dmin·m), so a 32-column
/// block adds D·(scale·Σn·q − min·Σq) per token and row. The reference twin is <see cref="Naive"/>.
/// </summary>
public static unsafe class Q4Gemm
{
    /// <summary>Rows per packed panel (the lanes of an AVX2 int32 vector).</summary>
    public const int Rows = 8;

    /// <summary>Whether <paramref name="type"/> has the kernel on this machine (AVX2 and FMA).</summary>
    public static bool Supports(GgmlType type) => Avx2.IsSupported && Fma.IsSupported && type is GgmlType.Q4_0 or GgmlType.Q4_K;

    /// <summary>Row · x with x's int8 part (the scalar twin of <see cref="Multiply"/>), from the dequantized row.</summary>
    public static float Naive(GgmlType type, ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        var dense = new float[x.Cols];
        Dequantize.Row(type, row, dense);
        double sum = 0;
        for (int b = 0; b < x.Cols / 32; b++)
        {
            double dot = 0;
            for (int j = 0; j < 32; j++)
            {
                dot += dense[b * 32 + j] * x.Q[b * 32 + j];
            }

            sum += dot * 128 * x.D[b];
        }

        return (float)sum;
    }

    /// <summary>Bytes of a packed panel of <paramref name="cols"/> columns.</summary>
    public static int PackedLength(int cols) => Rows * cols;

    /// <summary>
    /// Unpacks 8 consecutive rows (<paramref name="rows"/>, each <paramref name="rowBytes"/> long) into
    /// <paramref name="packed"/> (per 32 columns, per 4 columns, rows 0–7 × 4 nibble values), <paramref name="scales"/>
    /// and <paramref name="mins"/> (<c>[8·block + row]</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int cols, Span<byte> packed, Span<float> scales, Span<float> mins)
    {
        float[] halfTable = QuantDot.s_half;
        var values = stackalloc int[8]; // 32 nibble values of one row, as 8 groups of 4
        fixed (byte* w = rows, p = packed)
        fixed (float* s = scales, m = mins, half = halfTable)
        {
            int* groups = (int*)p;
            var low = Vector256.Create((byte)0x0F);
            for (int r = 0; r < Rows; r++)
            {
                for (int b = 0; b < cols / 32; b++)
                {
                    Vector256<byte> nibbles;
                    if (type == GgmlType.Q4_0)
                    {
                        byte* block = w + r * rowBytes + b * 18;
                        float d = half[Unsafe.ReadUnaligned<ushort>(block)];
                        (s[Rows * b + r], m[Rows * b + r]) = (d, 8 * d);
                        var bytes = Sse2.LoadVector128(block + 2);
                        nibbles = Vector256.Create(bytes, Sse2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte()) & low;
                    }
                    else
                    {
                        byte* block = w + r * rowBytes + b / 8 * 144;
                        int j = b % 8;
                        var (sc, mn) = DequantizeK.ScaleMin(j, block + 4);
                        s[Rows * b + r] = half[Unsafe.ReadUnaligned<ushort>(block)] * sc;
                        m[Rows * b + r] = half[Unsafe.ReadUnaligned<ushort>(block + 2)] * mn;
                        var bytes = Avx.LoadVector256(block + 16 + 32 * (j / 2));
                        nibbles = (j % 2 == 0 ? bytes : Avx2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte()) & low;
                    }

                    Avx.Store((byte*)values, nibbles);
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
    public static void Multiply(GgmlType type, ReadOnlySpan<byte> packed, ReadOnlySpan<float> scales, ReadOnlySpan<float> mins, int cols, QuantizedActivations[] x, int n, Span<float> y, int yStride)
    {
        bool offsetOnly = type == GgmlType.Q4_0;
        fixed (byte* p = packed)
        fixed (float* s = scales, m = mins, py = y)
        {
            int t = 0;
            for (; t + 4 <= n; t += 4)
            {
                if (offsetOnly)
                {
                    Four<Offset8>(p, s, m, cols / 32, x[t], x[t + 1], x[t + 2], x[t + 3], py + t * yStride, yStride);
                }
                else
                {
                    Four<Minimums>(p, s, m, cols / 32, x[t], x[t + 1], x[t + 2], x[t + 3], py + t * yStride, yStride);
                }
            }

            for (; t < n; t++)
            {
                if (offsetOnly)
                {
                    One<Offset8>(p, s, m, cols / 32, x[t], py + t * yStride);
                }
                else
                {
                    One<Minimums>(p, s, m, cols / 32, x[t], py + t * yStride);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Four<TMinimum>(byte* packed, float* scales, float* mins, int blocks, QuantizedActivations x0, QuantizedActivations x1, QuantizedActivations x2, QuantizedActivations x3, float* y, int yStride)
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
                var ws = Avx.LoadVector256(scales + b * Rows);
                var wm = Avx.LoadVector256(mins + b * Rows);
                f0 = Block<TMinimum>(w, q0 + o, ws, wm, 128 * d0[b], s0[b], f0);
                f1 = Block<TMinimum>(w, q1 + o, ws, wm, 128 * d1[b], s1[b], f1);
                f2 = Block<TMinimum>(w, q2 + o, ws, wm, 128 * d2[b], s2[b], f2);
                f3 = Block<TMinimum>(w, q3 + o, ws, wm, 128 * d3[b], s3[b], f3);
            }

            Avx.Store(y, f0);
            Avx.Store(y + yStride, f1);
            Avx.Store(y + 2 * yStride, f2);
            Avx.Store(y + 3 * yStride, f3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void One<TMinimum>(byte* packed, float* scales, float* mins, int blocks, QuantizedActivations x, float* y)
    {
        fixed (sbyte* q = x.Q)
        fixed (float* d = x.D)
        fixed (int* s = x.SQ)
        {
            var f = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++)
            {
                f = Block<TMinimum>(packed + b * 32 * Rows, q + b * 32, Avx.LoadVector256(scales + b * Rows), Avx.LoadVector256(mins + b * Rows), 128 * d[b], s[b], f);
            }

            Avx.Store(y, f);
        }
    }

    /// <summary>
    /// f + D·(scale·Σn·q − min·Σq) for one 32-column block of the 8 packed rows and one token's int8 activations
    /// <paramref name="q"/> (scale <paramref name="d"/>, sum <paramref name="sumQ"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block<TMinimum>(byte* w, sbyte* q, Vector256<float> scales, Vector256<float> mins, float d, int sumQ, Vector256<float> f)
    {
        var dot = Avx2.Add(Half(w, (int*)q), Half(w + 4 * 32, (int*)(q + 16)));
        if (typeof(TMinimum) == typeof(Offset8))
        {
            // Q4_0: min = 8·scale, subtracted in integers (one FMA less per block and token: ~10% of the kernel)
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(dot, Vector256.Create(8 * sumQ))), scales * d, f);
        }

        f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), scales * d, f);
        return Fma.MultiplyAddNegated(mins, Vector256.Create(d * sumQ), f);
    }

    /// <summary>Type argument: every minimum is 8·scale (Q4_0), so the minimum term is integer (the JIT drops the other branch).</summary>
    private readonly struct Offset8;

    /// <summary>Type argument: minimums of their own (Q4_K).</summary>
    private readonly struct Minimums;

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
