using System.Buffers.Binary;
using Llama2.Core.Gguf;

namespace Llama2.Core.Quantization;

/// <summary>
/// Quantization of float32 rows into ggml block formats, following ggml's reference
/// <c>quantize_row_*_ref</c> (what <c>llama-quantize</c> does without an importance matrix), so files we write
/// match llama.cpp's byte for byte.
/// </summary>
public static class Quantize
{
    private const float GroupMaxEps = 1e-15f;

    public static bool Supports(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0
        or GgmlType.Q5_0 or GgmlType.Q4_K or GgmlType.Q6_K;

    /// <summary>Quantizes one row (length a multiple of the type's block) into <paramref name="destination"/>.</summary>
    public static void Row(GgmlType type, ReadOnlySpan<float> x, Span<byte> destination)
    {
        switch (type)
        {
            case GgmlType.F32:
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(x).CopyTo(destination);
                break;
            case GgmlType.F16:
                for (int i = 0; i < x.Length; i++)
                {
                    BinaryPrimitives.WriteHalfLittleEndian(destination[(2 * i)..], (Half)x[i]);
                }

                break;
            case GgmlType.BF16:
                for (int i = 0; i < x.Length; i++)
                {
                    uint bits = BitConverter.SingleToUInt32Bits(x[i]);
                    bits += 0x7FFF + ((bits >> 16) & 1); // round to nearest even
                    BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], (ushort)(bits >> 16));
                }

                break;
            case GgmlType.Q8_0: Q8_0(x, destination); break;
            case GgmlType.Q4_0: Q4_0(x, destination); break;
            case GgmlType.Q5_0: Q5_0(x, destination); break;
            case GgmlType.Q4_K: Q4_K(x, destination); break;
            case GgmlType.Q6_K: Q6_K(x, destination); break;
            default: throw new NotSupportedException($"quantizing to {type} is not supported");
        }
    }

    /// <summary>ggml's <c>nearest_int</c>: round half to even.</summary>
    private static int NearestInt(float value) => (int)MathF.Round(value, MidpointRounding.ToEven);

    private static void WriteHalf(Span<byte> destination, float value) => BinaryPrimitives.WriteHalfLittleEndian(destination, (Half)value);

    private static float ReadHalf(ReadOnlySpan<byte> source) => (float)BinaryPrimitives.ReadHalfLittleEndian(source);

    private static void Q8_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / 32; b++)
        {
            var xs = x.Slice(b * 32, 32);
            var block = y.Slice(b * 34, 34);
            float amax = 0;
            foreach (float v in xs)
            {
                amax = MathF.Max(amax, MathF.Abs(v));
            }

            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            WriteHalf(block, d);
            for (int j = 0; j < 32; j++)
            {
                block[2 + j] = (byte)(sbyte)MathF.Round(xs[j] * id, MidpointRounding.AwayFromZero);
            }
        }
    }

    /// <summary>The value with the largest magnitude, sign kept (ggml's q4_0/q5_0 scale reference).</summary>
    private static float SignedMax(ReadOnlySpan<float> xs)
    {
        float amax = 0, max = 0;
        foreach (float v in xs)
        {
            if (amax < MathF.Abs(v))
            {
                amax = MathF.Abs(v);
                max = v;
            }
        }

        return max;
    }

    private static void Q4_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / 32; b++)
        {
            var xs = x.Slice(b * 32, 32);
            var block = y.Slice(b * 18, 18);
            float d = SignedMax(xs) / -8;
            float id = d != 0 ? 1 / d : 0;
            WriteHalf(block, d);
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(15, (int)(sbyte)(xs[j] * id + 8.5f));
                int q1 = Math.Min(15, (int)(sbyte)(xs[j + 16] * id + 8.5f));
                block[2 + j] = (byte)(q0 | (q1 << 4));
            }
        }
    }

    private static void Q5_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / 32; b++)
        {
            var xs = x.Slice(b * 32, 32);
            var block = y.Slice(b * 22, 22);
            float d = SignedMax(xs) / -16;
            float id = d != 0 ? 1 / d : 0;
            WriteHalf(block, d);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                int q0 = Math.Min(31, (int)(sbyte)(xs[j] * id + 16.5f));
                int q1 = Math.Min(31, (int)(sbyte)(xs[j + 16] * id + 16.5f));
                block[6 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
                qh |= (uint)((q0 & 0x10) >> 4) << j;
                qh |= (uint)((q1 & 0x10) >> 4) << (j + 16);
            }

            BinaryPrimitives.WriteUInt32LittleEndian(block[2..], qh);
        }
    }

    private static void Q4_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<byte> levels = stackalloc byte[256];
        Span<byte> aux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[8];
        Span<float> scales = stackalloc float[8];
        for (int b = 0; b < x.Length / 256; b++)
        {
            var xs = x.Slice(b * 256, 256);
            var block = y.Slice(b * 144, 144);
            block.Clear();
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                var sub = xs.Slice(32 * j, 32);
                float sumX2 = 0;
                foreach (float v in sub)
                {
                    sumX2 += v * v;
                }

                float avX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++)
                {
                    weights[l] = avX + MathF.Abs(sub[l]);
                }

                scales[j] = MakeQkx2Quants(15, sub, weights, levels.Slice(32 * j, 32), out mins[j], aux, -1f, 0.1f, 20);
                maxScale = MathF.Max(maxScale, scales[j]);
                maxMin = MathF.Max(maxMin, mins[j]);
            }

            float invScale = maxScale > 0 ? 63f / maxScale : 0f;
            float invMin = maxMin > 0 ? 63f / maxMin : 0f;
            var sc = block.Slice(4, 12);
            for (int j = 0; j < 8; j++)
            {
                byte ls = (byte)Math.Min(63, NearestInt(invScale * scales[j]));
                byte lm = (byte)Math.Min(63, NearestInt(invMin * mins[j]));
                if (j < 4)
                {
                    sc[j] = ls;
                    sc[j + 4] = lm;
                }
                else
                {
                    sc[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                    sc[j - 4] |= (byte)((ls >> 4) << 6);
                    sc[j] |= (byte)((lm >> 4) << 6);
                }
            }

            WriteHalf(block, maxScale / 63f);
            WriteHalf(block[2..], maxMin / 63f);
            float dAll = ReadHalf(block), minAll = ReadHalf(block[2..]);
            for (int j = 0; j < 8; j++)
            {
                var (s, m) = Dequantize.ScaleMinK4(j, sc);
                float d = dAll * s;
                if (d == 0)
                {
                    continue;
                }

                float dm = minAll * m;
                for (int i = 0; i < 32; i++)
                {
                    levels[32 * j + i] = (byte)Math.Clamp(NearestInt((xs[32 * j + i] + dm) / d), 0, 15);
                }
            }

            var q = block.Slice(16, 128);
            for (int j = 0, o = 0; j < 256; j += 64, o += 32)
            {
                for (int l = 0; l < 32; l++)
                {
                    q[o + l] = (byte)(levels[j + l] | (levels[j + l + 32] << 4));
                }
            }
        }
    }

    /// <summary>ggml's <c>make_qkx2_quants</c>: weighted search of scale and min for an asymmetric grid 0..nmax.</summary>
    private static float MakeQkx2Quants(int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> levels, out float theMin,
        Span<byte> aux, float rmin, float rdelta, int nstep)
    {
        int n = x.Length;
        float min = x[0], max = x[0], sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            min = MathF.Min(min, x[i]);
            max = MathF.Max(max, x[i]);
            sumW += weights[i];
            sumX += weights[i] * x[i];
        }

        if (min > 0)
        {
            min = 0;
        }

        if (max == min)
        {
            levels.Clear();
            theMin = -min;
            return 0f;
        }

        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestMad = 0;
        for (int i = 0; i < n; i++)
        {
            levels[i] = (byte)Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
            float diff = scale * levels[i] + min - x[i];
            bestMad += weights[i] * diff * diff;
        }

        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
                aux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }

            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }

                float mad = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * aux[i] + thisMin - x[i];
                    mad += weights[i] * diff * diff;
                }

                if (mad < bestMad)
                {
                    aux[..n].CopyTo(levels);
                    bestMad = mad;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }

        theMin = -min;
        return scale;
    }

    private static void Q6_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<sbyte> levels = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < x.Length / 256; b++)
        {
            var xs = x.Slice(b * 256, 256);
            var block = y.Slice(b * 210, 210);
            block.Clear();
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                float scale = MakeQxQuants(32, xs.Slice(16 * ib, 16), levels.Slice(16 * ib, 16));
                scales[ib] = scale;
                if (MathF.Abs(scale) > maxAbsScale)
                {
                    maxAbsScale = MathF.Abs(scale);
                    maxScale = scale;
                }
            }

            if (maxAbsScale < GroupMaxEps)
            {
                continue; // all zero: an all-zero block
            }

            float iscale = -128f / maxScale;
            WriteHalf(block[208..], 1 / iscale);
            var sc = block.Slice(192, 16);
            for (int ib = 0; ib < 16; ib++)
            {
                sc[ib] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));
            }

            float dAll = ReadHalf(block[208..]);
            for (int j = 0; j < 16; j++)
            {
                float d = dAll * (sbyte)sc[j];
                if (d == 0)
                {
                    continue;
                }

                for (int i = 0; i < 16; i++)
                {
                    levels[16 * j + i] = (sbyte)(Math.Clamp(NearestInt(xs[16 * j + i] / d), -32, 31) + 32);
                }
            }

            for (int half = 0; half < 2; half++)
            {
                var ql = block.Slice(64 * half, 64);
                var qh = block.Slice(128 + 32 * half, 32);
                var l = levels.Slice(128 * half, 128);
                for (int i = 0; i < 32; i++)
                {
                    ql[i] = (byte)((l[i] & 0xF) | ((l[i + 64] & 0xF) << 4));
                    ql[i + 32] = (byte)((l[i + 32] & 0xF) | ((l[i + 96] & 0xF) << 4));
                    qh[i] = (byte)((l[i] >> 4) | ((l[i + 32] >> 4) << 2) | ((l[i + 64] >> 4) << 4) | ((l[i + 96] >> 4) << 6));
                }
            }
        }
    }

    /// <summary>ggml's <c>make_qx_quants</c> with rmse_type 1 (weights x²): symmetric grid −nmax..nmax−1, stored as level + nmax.</summary>
    private static float MakeQxQuants(int nmax, ReadOnlySpan<float> x, Span<sbyte> levels)
    {
        int n = x.Length;
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax)
            {
                amax = ax;
                max = x[i];
            }
        }

        if (amax < GroupMaxEps)
        {
            levels.Clear();
            return 0f;
        }

        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * l;
            sumL2 += w * l * l;
        }

        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0)
            {
                continue;
            }

            iscale = -(nmax + 0.1f * step) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
                float w = x[i] * x[i];
                sumLX += w * x[i] * l;
                sumL2 += w * l * l;
            }

            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++)
                {
                    levels[i] = (sbyte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                }

                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }

        return scale;
    }
}
