using System.Buffers.Binary;
using Llama2.Core.Quantization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama2.Inference.Kernels;

/// <summary>
/// Activations quantized for integer dot products with Q8_0/Q4_0 weights: per 32-element block, an int8 part
/// and an int8 residual in units of d/128 (x ≈ (q + r/128)·d, about 15 bits), so the integer kernels keep
/// almost float accuracy (llama.cpp keeps only q) while reading each weight byte once; the two integer sums
/// combine as 128·Σwq + Σwr before a single conversion to float.
/// </summary>
public sealed class QuantizedActivations
{
    public QuantizedActivations(int cols)
    {
        Cols = cols;
        Q = new sbyte[cols];
        R = new sbyte[cols];
        D = new float[cols / 32];
        S = new int[cols / 32];
    }

    public int Cols { get; private set; }

    public sbyte[] Q { get; }

    public sbyte[] R { get; }

    /// <summary>Per block: the scale of 128·q + r.</summary>
    public float[] D { get; }

    /// <summary>Per block: Σ(128·q + r), for kernels that use unsigned weights (w − 8 = w_u − 8).</summary>
    public int[] S { get; }

    /// <summary>Quantizes <paramref name="x"/> (its first <paramref name="cols"/> values; a multiple of 32).</summary>
    public void Set(ReadOnlySpan<float> x, int cols)
    {
        Cols = cols;
        for (int b = 0; b < cols / 32; b++)
        {
            var xs = x.Slice(b * 32, 32);
            float amax = 0;
            foreach (float v in xs)
            {
                amax = MathF.Max(amax, MathF.Abs(v));
            }

            float d = amax / 127, id = d != 0 ? 1 / d : 0;
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                float scaled = xs[j] * id;
                int q = (int)MathF.Round(scaled);
                int r = Math.Clamp((int)MathF.Round((scaled - q) * 128), -127, 127);
                Q[b * 32 + j] = (sbyte)q;
                R[b * 32 + j] = (sbyte)r;
                sum += 128 * q + r;
            }

            D[b] = d / 128;
            S[b] = sum;
        }
    }
}

/// <summary>Integer dot products of a quantized weight row with <see cref="QuantizedActivations"/>; AVX2 with scalar twins.</summary>
public static unsafe class QuantDot
{
    /// <summary>F16 → F32 for every bit pattern (256 KB, as ggml's table): a load instead of a software conversion per block.</summary>
    internal static readonly float[] s_half = [.. Enumerable.Range(0, 65536).Select(i => (float)BitConverter.UInt16BitsToHalf((ushort)i))];

    /// <summary>Q8_0 row · x (naive reference).</summary>
    public static float Q8_0Naive(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        float sum = 0;
        for (int b = 0; b < x.Cols / 32; b++)
        {
            var block = row.Slice(b * 34, 34);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            int sq = 0, sr = 0;
            for (int j = 0; j < 32; j++)
            {
                int w = (sbyte)block[2 + j];
                sq += w * x.Q[b * 32 + j];
                sr += w * x.R[b * 32 + j];
            }

            sum += d * x.D[b] * (128 * sq + sr);
        }

        return sum;
    }

    /// <summary>Q4_0 row · x (naive reference).</summary>
    public static float Q4_0Naive(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        float sum = 0;
        for (int b = 0; b < x.Cols / 32; b++)
        {
            var block = row.Slice(b * 18, 18);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            int sq = 0, sr = 0;
            for (int j = 0; j < 16; j++)
            {
                int w0 = (block[2 + j] & 0xF) - 8, w1 = (block[2 + j] >> 4) - 8;
                sq += w0 * x.Q[b * 32 + j] + w1 * x.Q[b * 32 + j + 16];
                sr += w0 * x.R[b * 32 + j] + w1 * x.R[b * 32 + j + 16];
            }

            sum += d * x.D[b] * (128 * sq + sr);
        }

        return sum;
    }

    public static float Q8_0(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Q8_0Naive(row, x);
        }

        int blocks = x.Cols / 32;
        var acc = Vector256<float>.Zero;
        fixed (byte* w = row)
        fixed (sbyte* q = x.Q, r = x.R)
        fixed (float* d = x.D, half = s_half)
        {
            for (int b = 0; b < blocks; b++)
            {
                byte* block = w + b * 34;
                var wv = Avx.LoadVector256((sbyte*)(block + 2));
                acc = Block(wv, q + b * 32, r + b * 32, d[b] * half[Unsafe.ReadUnaligned<ushort>(block)], acc);
            }
        }

        return Vector256.Sum(acc);
    }

    /// <summary>
    /// Q4_0 row · x. The nibbles go into <c>maddubs</c> unsigned as they are (0..15): Σ(n − 8)·x = Σ n·x − 8·Σx,
    /// and Σx per block was computed once with the activations, so no sign fix-ups are needed.
    /// </summary>
    public static float Q4_0(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Q4_0Naive(row, x);
        }

        int blocks = x.Cols / 32;
        var acc = Vector256<float>.Zero;
        float correction = 0;
        var low = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        fixed (byte* w = row)
        fixed (sbyte* q = x.Q, r = x.R)
        fixed (float* d = x.D, half = s_half)
        fixed (int* sums = x.S)
        {
            for (int b = 0; b < blocks; b++)
            {
                byte* block = w + b * 18;
                var packed = Sse2.LoadVector128(block + 2);
                var nibbles = Avx2.And(Vector256.Create(packed, Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()), low);
                var sq = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(nibbles, Avx.LoadVector256(q + b * 32)), ones);
                var sr = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(nibbles, Avx.LoadVector256(r + b * 32)), ones);
                float scale = d[b] * half[Unsafe.ReadUnaligned<ushort>(block)];
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Add(Avx2.ShiftLeftLogical(sq, 7), sr)), Vector256.Create(scale), acc);
                correction += scale * sums[b];
            }
        }

        return Vector256.Sum(acc) - 8 * correction;
    }

    /// <summary>Two Q4_0 rows · x at once: the activation loads are shared and the two accumulator chains overlap.</summary>
    public static (float, float) Q4_0x2(ReadOnlySpan<byte> row0, ReadOnlySpan<byte> row1, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return (Q4_0Naive(row0, x), Q4_0Naive(row1, x));
        }

        int blocks = x.Cols / 32;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        float correction0 = 0, correction1 = 0;
        var low = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        fixed (byte* w0 = row0, w1 = row1)
        fixed (sbyte* q = x.Q, r = x.R)
        fixed (float* d = x.D, half = s_half)
        fixed (int* sums = x.S)
        {
            for (int b = 0; b < blocks; b++)
            {
                var xq = Avx.LoadVector256(q + b * 32);
                var xr = Avx.LoadVector256(r + b * 32);
                byte* block0 = w0 + b * 18, block1 = w1 + b * 18;
                var p0 = Sse2.LoadVector128(block0 + 2);
                var p1 = Sse2.LoadVector128(block1 + 2);
                var n0 = Avx2.And(Vector256.Create(p0, Sse2.ShiftRightLogical(p0.AsUInt16(), 4).AsByte()), low);
                var n1 = Avx2.And(Vector256.Create(p1, Sse2.ShiftRightLogical(p1.AsUInt16(), 4).AsByte()), low);
                var c0 = Avx2.Add(Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(n0, xq), ones), 7), Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(n0, xr), ones));
                var c1 = Avx2.Add(Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(n1, xq), ones), 7), Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(n1, xr), ones));
                float s0 = d[b] * half[Unsafe.ReadUnaligned<ushort>(block0)];
                float s1 = d[b] * half[Unsafe.ReadUnaligned<ushort>(block1)];
                acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(c0), Vector256.Create(s0), acc0);
                acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(c1), Vector256.Create(s1), acc1);
                correction0 += s0 * sums[b];
                correction1 += s1 * sums[b];
            }
        }

        return (Vector256.Sum(acc0) - 8 * correction0, Vector256.Sum(acc1) - 8 * correction1);
    }

    /// <summary>Q4_K row · x (naive reference of <see cref="Q4_K"/>: the same integer formula, scalar).</summary>
    public static float Q4_KNaive(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        float sum = 0;
        for (int b = 0; b < x.Cols / 256; b++)
        {
            var block = row.Slice(b * 144, 144);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block), dmin = (float)BinaryPrimitives.ReadHalfLittleEndian(block[2..]);
            var scales = block.Slice(4, 12);
            var qs = block.Slice(16, 128);
            for (int j = 0; j < 8; j++)
            {
                var (sc, m) = Dequantize.ScaleMinK4(j, scales);
                int k = b * 8 + j, dot = 0;
                for (int l = 0; l < 32; l++)
                {
                    int nibble = j % 2 == 0 ? qs[32 * (j / 2) + l] & 0xF : qs[32 * (j / 2) + l] >> 4;
                    dot += nibble * (128 * x.Q[32 * k + l] + x.R[32 * k + l]);
                }

                sum += d * sc * x.D[k] * dot - dmin * m * x.D[k] * x.S[k];
            }
        }

        return sum;
    }

    /// <summary>
    /// Q4_K row · x: each 32-value sub-block is unsigned nibbles times activations (as in <see cref="Q4_0"/>), scaled
    /// by d·sc; the minimum term dmin·m·Σx uses the activation block sums computed once.
    /// </summary>
    public static float Q4_K(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Q4_KNaive(row, x);
        }

        var acc = Vector256<float>.Zero;
        float correction = 0;
        var low = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        fixed (byte* w = row)
        fixed (sbyte* q = x.Q, r = x.R)
        fixed (float* dx = x.D, half = s_half)
        fixed (int* sums = x.S)
        {
            for (int b = 0; b < x.Cols / 256; b++)
            {
                byte* block = w + b * 144;
                float d = half[Unsafe.ReadUnaligned<ushort>(block)], dmin = half[Unsafe.ReadUnaligned<ushort>(block + 2)];
                byte* scales = block + 4;
                for (int pair = 0; pair < 4; pair++)
                {
                    var packed = Avx.LoadVector256(block + 16 + 32 * pair);
                    var lo = Avx2.And(packed, low);
                    var hi = Avx2.And(Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), low);
                    int k0 = b * 8 + 2 * pair, k1 = k0 + 1;
                    var (sc0, m0) = DequantizeK.ScaleMin(2 * pair, scales);
                    var (sc1, m1) = DequantizeK.ScaleMin(2 * pair + 1, scales);
                    var c0 = Avx2.Add(Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(q + 32 * k0)), ones), 7),
                        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(r + 32 * k0)), ones));
                    var c1 = Avx2.Add(Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(q + 32 * k1)), ones), 7),
                        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(r + 32 * k1)), ones));
                    acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(c0), Vector256.Create(d * sc0 * dx[k0]), acc);
                    acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(c1), Vector256.Create(d * sc1 * dx[k1]), acc);
                    correction += dmin * (m0 * dx[k0] * sums[k0] + m1 * dx[k1] * sums[k1]);
                }
            }
        }

        return Vector256.Sum(acc) - correction;
    }

    /// <summary>Q6_K row · x (naive reference of <see cref="Q6_K"/>).</summary>
    public static float Q6_KNaive(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        Span<float> dense = stackalloc float[256];
        float sum = 0;
        for (int b = 0; b < x.Cols / 256; b++)
        {
            var block = row.Slice(b * 210, 210);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block[208..]);
            for (int e = 0; e < 256; e++)
            {
                int half = e / 128, l = e % 32, part = e % 128 / 32;
                byte ql = block[64 * half + l + (part % 2 == 1 ? 32 : 0)];
                byte qh = block[128 + 32 * half + l];
                int q = (part < 2 ? ql & 0xF : ql >> 4) | (((qh >> (2 * part)) & 3) << 4);
                int scale = (sbyte)block[192 + 8 * half + 2 * part + l / 16];
                int k = b * 8 + e / 32;
                sum += d * scale * x.D[k] * (q - 32) * (128 * x.Q[32 * k + e % 32] + x.R[32 * k + e % 32]);
            }
        }

        return sum;
    }

    /// <summary>
    /// Q6_K row · x: 6-bit values rebuilt from ql/qh with byte masks, made signed (q − 32), dotted with the sign
    /// trick; the int32 lanes of each 16-value half are multiplied by their int8 scale before one conversion.
    /// </summary>
    public static float Q6_K(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Q6_KNaive(row, x);
        }

        var acc = Vector256<float>.Zero;
        var m4 = Vector256.Create((byte)0x0F);
        var m2 = Vector256.Create((byte)0x03);
        var offset = Vector256.Create((sbyte)32);
        var ones = Vector256.Create((short)1);
        fixed (byte* w = row)
        fixed (sbyte* q = x.Q, r = x.R)
        fixed (float* dx = x.D, half = s_half)
        {
            for (int b = 0; b < x.Cols / 256; b++)
            {
                byte* block = w + b * 210;
                float d = half[Unsafe.ReadUnaligned<ushort>(block + 208)];
                for (int h = 0; h < 2; h++)
                {
                    var ql0 = Avx.LoadVector256(block + 64 * h);
                    var ql1 = Avx.LoadVector256(block + 64 * h + 32);
                    var qh = Avx.LoadVector256(block + 128 + 32 * h).AsUInt16();
                    sbyte* sc = (sbyte*)(block + 192 + 8 * h);
                    for (int part = 0; part < 4; part++)
                    {
                        var ql = part % 2 == 0 ? ql0 : ql1;
                        var lowBits = part < 2 ? Avx2.And(ql, m4) : Avx2.And(Avx2.ShiftRightLogical(ql.AsUInt16(), 4).AsByte(), m4);
                        var shifted = part switch
                        {
                            0 => qh,
                            1 => Avx2.ShiftRightLogical(qh, 2),
                            2 => Avx2.ShiftRightLogical(qh, 4),
                            _ => Avx2.ShiftRightLogical(qh, 6),
                        };
                        var highBits = Avx2.ShiftLeftLogical(Avx2.And(shifted.AsByte(), m2).AsUInt16(), 4).AsByte();
                        var wv = Avx2.Subtract(Avx2.Or(lowBits, highBits).AsSByte(), offset);
                        int k = b * 8 + h * 4 + part;
                        var absW = Avx2.Sign(wv, wv).AsByte();
                        var sq = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(q + 32 * k), wv)), ones);
                        var sr = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(r + 32 * k), wv)), ones);
                        var combined = Avx2.Add(Avx2.ShiftLeftLogical(sq, 7), sr);
                        var scales = Vector256.Create(sc[2 * part], sc[2 * part], sc[2 * part], sc[2 * part], sc[2 * part + 1], sc[2 * part + 1], sc[2 * part + 1], sc[2 * part + 1]);
                        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyLow(combined, scales)), Vector256.Create(d * dx[k]), acc);
                    }
                }
            }
        }

        return Vector256.Sum(acc);
    }

    /// <summary>acc + scale·(128·Σ w·q + Σ w·r) over one 32-element block, as eight float lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block(Vector256<sbyte> w, sbyte* q, sbyte* r, float scale, Vector256<float> acc)
    {
        var absW = Avx2.Sign(w, w).AsByte();
        var ones = Vector256.Create((short)1);
        var sq = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(q), w)), ones);
        var sr = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(Avx.LoadVector256(r), w)), ones);
        var combined = Avx2.Add(Avx2.ShiftLeftLogical(sq, 7), sr);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(combined), Vector256.Create(scale), acc);
    }
}
