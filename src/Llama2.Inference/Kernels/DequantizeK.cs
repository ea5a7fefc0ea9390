using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama2.Inference.Kernels;

/// <summary>
/// AVX2 dequantization of the K-quant rows Q2_K to Q5_K_M files are made of (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), eight
/// values per step, for prompt processing's float GEMM.
/// Scalar twins: <c>Llama2.Core.Quantization.Dequantize</c>.
/// </summary>
public static unsafe class DequantizeK
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a kernel: fully optimised from its first call (the first token), no tiering
    public static void Q4_K(ReadOnlySpan<byte> row, Span<float> destination, float[] halfTable)
    {
        fixed (byte* p = row)
        fixed (float* y = destination, half = halfTable)
        {
            var low = Vector256.Create(0x0F);
            for (int b = 0; b < destination.Length / 256; b++)
            {
                byte* block = p + b * 144;
                float d = half[Unsafe.ReadUnaligned<ushort>(block)], min = half[Unsafe.ReadUnaligned<ushort>(block + 2)];
                byte* scales = block + 4;
                byte* q = block + 16;
                float* o = y + b * 256;
                for (int j = 0; j < 4; j++)
                {
                    var (sc1, m1) = ScaleMin(2 * j, scales);
                    var (sc2, m2) = ScaleMin(2 * j + 1, scales);
                    var d1 = Vector256.Create(d * sc1);
                    var d2 = Vector256.Create(d * sc2);
                    var n1 = Vector256.Create(-min * m1);
                    var n2 = Vector256.Create(-min * m2);
                    for (int l = 0; l < 32; l += 8)
                    {
                        var bytes = Avx2.ConvertToVector256Int32(q + 32 * j + l); // zero-extended
                        var lo = Avx.ConvertToVector256Single(Avx2.And(bytes, low));
                        var hi = Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(bytes, 4));
                        Avx.Store(o + 64 * j + l, Fma.MultiplyAdd(lo, d1, n1));
                        Avx.Store(o + 64 * j + 32 + l, Fma.MultiplyAdd(hi, d2, n2));
                    }
                }
            }
        }
    }

    /// <summary>Q2_K: x = d·sc·q − dmin·m, 2-bit q, a 4-bit scale and minimum per 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q2_K(ReadOnlySpan<byte> row, Span<float> destination, float[] halfTable)
    {
        fixed (byte* p = row)
        fixed (float* y = destination, half = halfTable)
        {
            var three = Vector256.Create(3);
            for (int b = 0; b < destination.Length / 256; b++)
            {
                byte* block = p + b * 84;
                float d = half[Unsafe.ReadUnaligned<ushort>(block + 80)], min = half[Unsafe.ReadUnaligned<ushort>(block + 82)];
                float* o = y + b * 256;
                for (int h = 0; h < 2; h++)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        for (int l = 0; l < 32; l += 8)
                        {
                            int sc = block[8 * h + 2 * j + l / 16];
                            var q = Vector256.ShiftRightLogical(Avx2.ConvertToVector256Int32(block + 16 + 32 * h + l), 2 * j) & three;
                            Avx.Store(o + 128 * h + 32 * j + l, Avx.ConvertToVector256Single(q) * Vector256.Create(d * (sc & 0xF)) - Vector256.Create(min * (sc >> 4)));
                        }
                    }
                }
            }
        }
    }

    /// <summary>Q3_K: x = d·(sc − 32)·(2 low bits from qs + 4·hmask bit − 4), one 6-bit scale per 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q3_K(ReadOnlySpan<byte> row, Span<float> destination, float[] halfTable)
    {
        byte* scales = stackalloc byte[16];
        fixed (byte* p = row)
        fixed (float* y = destination, half = halfTable)
        {
            var three = Vector256.Create(3);
            var one = Vector256.Create(1);
            var four = Vector256.Create(4);
            for (int b = 0; b < destination.Length / 256; b++)
            {
                byte* block = p + b * 110;
                float d = half[Unsafe.ReadUnaligned<ushort>(block + 108)];
                QuantDot.Q3_KScales(block + 96, scales);
                float* o = y + b * 256;
                for (int h = 0; h < 2; h++)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        for (int l = 0; l < 32; l += 8)
                        {
                            var q = Vector256.ShiftRightLogical(Avx2.ConvertToVector256Int32(block + 32 + 32 * h + l), 2 * j) & three;
                            var bit = Vector256.ShiftRightLogical(Avx2.ConvertToVector256Int32(block + l), 4 * h + j) & one;
                            var value = Avx.ConvertToVector256Single(q + bit * four - four);
                            Avx.Store(o + 128 * h + 32 * j + l, value * Vector256.Create(d * (scales[8 * h + 2 * j + l / 16] - 32)));
                        }
                    }
                }
            }
        }
    }

    /// <summary>As <see cref="Q4_K"/>, with each value's fifth bit from qh (bit 2j for pair j's low nibbles, 2j + 1 for the high ones).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q5_K(ReadOnlySpan<byte> row, Span<float> destination, float[] halfTable)
    {
        fixed (byte* p = row)
        fixed (float* y = destination, half = halfTable)
        {
            var low = Vector256.Create(0x0F);
            var one = Vector256.Create(1);
            for (int b = 0; b < destination.Length / 256; b++)
            {
                byte* block = p + b * 176;
                float d = half[Unsafe.ReadUnaligned<ushort>(block)], min = half[Unsafe.ReadUnaligned<ushort>(block + 2)];
                byte* scales = block + 4;
                byte* qh = block + 16;
                byte* q = block + 48;
                float* o = y + b * 256;
                for (int j = 0; j < 4; j++)
                {
                    var (sc1, m1) = ScaleMin(2 * j, scales);
                    var (sc2, m2) = ScaleMin(2 * j + 1, scales);
                    var d1 = Vector256.Create(d * sc1);
                    var d2 = Vector256.Create(d * sc2);
                    var n1 = Vector256.Create(-min * m1);
                    var n2 = Vector256.Create(-min * m2);
                    for (int l = 0; l < 32; l += 8)
                    {
                        var bytes = Avx2.ConvertToVector256Int32(q + 32 * j + l); // zero-extended
                        var high = Avx2.ConvertToVector256Int32(qh + l);
                        var fifthLow = Avx2.ShiftLeftLogical(Avx2.And(Vector256.ShiftRightLogical(high, 2 * j), one), 4);
                        var fifthHigh = Avx2.ShiftLeftLogical(Avx2.And(Vector256.ShiftRightLogical(high, 2 * j + 1), one), 4);
                        var lo = Avx.ConvertToVector256Single(Avx2.Or(Avx2.And(bytes, low), fifthLow));
                        var hi = Avx.ConvertToVector256Single(Avx2.Or(Avx2.ShiftRightLogical(bytes, 4), fifthHigh));
                        Avx.Store(o + 64 * j + l, Fma.MultiplyAdd(lo, d1, n1));
                        Avx.Store(o + 64 * j + 32 + l, Fma.MultiplyAdd(hi, d2, n2));
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6_K(ReadOnlySpan<byte> row, Span<float> destination, float[] halfTable)
    {
        fixed (byte* p = row)
        fixed (float* y = destination, half = halfTable)
        {
            var low4 = Vector256.Create(0x0F);
            var three = Vector256.Create(3);
            var offset = Vector256.Create(32);
            for (int b = 0; b < destination.Length / 256; b++)
            {
                byte* block = p + b * 210;
                float d = half[Unsafe.ReadUnaligned<ushort>(block + 208)];
                for (int n = 0; n < 2; n++)
                {
                    byte* ql = block + 64 * n;
                    byte* qh = block + 128 + 32 * n;
                    sbyte* sc = (sbyte*)(block + 192 + 8 * n);
                    float* o = y + b * 256 + 128 * n;
                    for (int l = 0; l < 32; l += 8)
                    {
                        int s = l / 16;
                        var a = Avx2.ConvertToVector256Int32(ql + l);
                        var c = Avx2.ConvertToVector256Int32(ql + l + 32);
                        var h = Avx2.ConvertToVector256Int32(qh + l);
                        var q1 = Avx2.Subtract(Avx2.Or(Avx2.And(a, low4), Avx2.ShiftLeftLogical(Avx2.And(h, three), 4)), offset);
                        var q2 = Avx2.Subtract(Avx2.Or(Avx2.And(c, low4), Avx2.ShiftLeftLogical(Avx2.And(Avx2.ShiftRightLogical(h, 2), three), 4)), offset);
                        var q3 = Avx2.Subtract(Avx2.Or(Avx2.ShiftRightLogical(a, 4), Avx2.ShiftLeftLogical(Avx2.And(Avx2.ShiftRightLogical(h, 4), three), 4)), offset);
                        var q4 = Avx2.Subtract(Avx2.Or(Avx2.ShiftRightLogical(c, 4), Avx2.ShiftLeftLogical(Avx2.And(Avx2.ShiftRightLogical(h, 6), three), 4)), offset);
                        Avx.Store(o + l, Avx.Multiply(Avx.ConvertToVector256Single(q1), Vector256.Create(d * sc[s])));
                        Avx.Store(o + l + 32, Avx.Multiply(Avx.ConvertToVector256Single(q2), Vector256.Create(d * sc[s + 2])));
                        Avx.Store(o + l + 64, Avx.Multiply(Avx.ConvertToVector256Single(q3), Vector256.Create(d * sc[s + 4])));
                        Avx.Store(o + l + 96, Avx.Multiply(Avx.ConvertToVector256Single(q4), Vector256.Create(d * sc[s + 6])));
                    }
                }
            }
        }
    }

    /// <summary>ggml's <c>get_scale_min_k4</c> on a pointer (the span version is <c>Dequantize.ScaleMinK4</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Scale, int Min) ScaleMin(int j, byte* q) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));
}
