using System.Buffers.Binary;
using Llama2.Core.Gguf;

namespace Llama2.Core.Quantization;

/// <summary>
/// Dequantization of one row of any supported ggml type into float32, following ggml's reference
/// <c>dequantize_row_*</c> block layouts. Plain scalar code: the reference twin of the engine's fast kernels,
/// and what training uses to load quantized checkpoints.
/// </summary>
public static class Dequantize
{
    /// <summary>Expands <paramref name="row"/> (whole blocks of <paramref name="type"/>) into <paramref name="destination"/>.</summary>
    public static void Row(GgmlType type, ReadOnlySpan<byte> row, Span<float> destination)
    {
        switch (type)
        {
            case GgmlType.F32: System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(row).CopyTo(destination); break;
            case GgmlType.F16: F16(row, destination); break;
            case GgmlType.BF16: BF16(row, destination); break;
            case GgmlType.Q4_0: Q4_0(row, destination); break;
            case GgmlType.Q4_1: Q4_1(row, destination); break;
            case GgmlType.Q5_0: Q5_0(row, destination); break;
            case GgmlType.Q5_1: Q5_1(row, destination); break;
            case GgmlType.Q8_0: Q8_0(row, destination); break;
            case GgmlType.Q2_K: Q2_K(row, destination); break;
            case GgmlType.Q3_K: Q3_K(row, destination); break;
            case GgmlType.Q4_K: Q4_K(row, destination); break;
            case GgmlType.Q5_K: Q5_K(row, destination); break;
            case GgmlType.Q6_K: Q6_K(row, destination); break;
            default: throw new NotSupportedException($"dequantizing {type} is not supported");
        }
    }

    public static float Half(ReadOnlySpan<byte> b) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b));

    public static void F16(ReadOnlySpan<byte> row, Span<float> y)
    {
        var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(row);
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = (float)halves[i];
        }
    }

    public static void BF16(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(row[(2 * i)..]) << 16);
        }
    }

    // block_q4_0 { half d; uint8 qs[16]; }: x = (nibble − 8)·d; low nibbles are elements 0..15, high 16..31.
    private static void Q4_0(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 18 < row.Length; b++)
        {
            var block = row.Slice(b * 18, 18);
            float d = Half(block);
            var qs = block[2..];
            var o = y.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                o[j] = ((qs[j] & 0x0F) - 8) * d;
                o[j + 16] = ((qs[j] >> 4) - 8) * d;
            }
        }
    }

    // block_q4_1 { half d; half m; uint8 qs[16]; }: x = nibble·d + m.
    private static void Q4_1(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 20 < row.Length; b++)
        {
            var block = row.Slice(b * 20, 20);
            float d = Half(block), m = Half(block[2..]);
            var qs = block[4..];
            var o = y.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                o[j] = (qs[j] & 0x0F) * d + m;
                o[j + 16] = (qs[j] >> 4) * d + m;
            }
        }
    }

    // block_q5_0 { half d; uint8 qh[4]; uint8 qs[16]; }: the fifth bits come from qh; x = (q − 16)·d.
    private static void Q5_0(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 22 < row.Length; b++)
        {
            var block = row.Slice(b * 22, 22);
            float d = Half(block);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[2..]);
            var qs = block[6..];
            var o = y.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                int xh0 = (int)(((qh >> j) << 4) & 0x10);
                int xh1 = (int)((qh >> (j + 12)) & 0x10);
                o[j] = (((qs[j] & 0x0F) | xh0) - 16) * d;
                o[j + 16] = (((qs[j] >> 4) | xh1) - 16) * d;
            }
        }
    }

    // block_q5_1 { half d; half m; uint8 qh[4]; uint8 qs[16]; }: x = q·d + m.
    private static void Q5_1(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 24 < row.Length; b++)
        {
            var block = row.Slice(b * 24, 24);
            float d = Half(block), m = Half(block[2..]);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
            var qs = block[8..];
            var o = y.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                int xh0 = (int)(((qh >> j) << 4) & 0x10);
                int xh1 = (int)((qh >> (j + 12)) & 0x10);
                o[j] = ((qs[j] & 0x0F) | xh0) * d + m;
                o[j + 16] = ((qs[j] >> 4) | xh1) * d + m;
            }
        }
    }

    // block_q8_0 { half d; int8 qs[32]; }: x = q·d.
    private static void Q8_0(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 34 < row.Length; b++)
        {
            var block = row.Slice(b * 34, 34);
            float d = Half(block);
            var o = y.Slice(b * 32, 32);
            for (int j = 0; j < 32; j++)
            {
                o[j] = (sbyte)block[2 + j] * d;
            }
        }
    }

    // block_q2_K { uint8 scales[16]; uint8 qs[64]; half d; half dmin; }: 2-bit values, 4-bit scale and min per 16.
    private static void Q2_K(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 84 < row.Length; b++)
        {
            var block = row.Slice(b * 84, 84);
            var scales = block[..16];
            var q = block.Slice(16, 64);
            float d = Half(block[80..]), min = Half(block[82..]);
            var o = y.Slice(b * 256, 256);
            int k = 0, s = 0;
            for (int n = 0; n < 256; n += 128)
            {
                var qq = q.Slice(n / 4, 32);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        byte sc = scales[s++];
                        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++)
                        {
                            o[k++] = dl * ((qq[l + 16 * half] >> shift) & 3) - ml;
                        }
                    }
                }
            }
        }
    }

    // block_q3_K { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d; }: 3-bit values, 6-bit scales.
    private static void Q3_K(ReadOnlySpan<byte> row, Span<float> y)
    {
        Span<int> scales = stackalloc int[16];
        for (int b = 0; b * 110 < row.Length; b++)
        {
            var block = row.Slice(b * 110, 110);
            var hm = block[..32];
            var q = block.Slice(32, 64);
            var sc = block.Slice(96, 12);
            float dAll = Half(block[108..]);
            for (int j = 0; j < 16; j++)
            {
                int low = j < 8 ? (sc[j] & 0xF) : (sc[j - 8] >> 4);
                int high = (sc[8 + j % 4] >> (2 * (j / 4))) & 3;
                scales[j] = (low | (high << 4)) - 32;
            }

            var o = y.Slice(b * 256, 256);
            int k = 0, s = 0;
            byte m = 1;
            for (int n = 0; n < 256; n += 128)
            {
                var qq = q.Slice(n / 4, 32);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        float dl = dAll * scales[s++];
                        for (int l = 0; l < 16; l++)
                        {
                            int i = l + 16 * half;
                            o[k++] = dl * (((qq[i] >> shift) & 3) - ((hm[i] & m) != 0 ? 0 : 4));
                        }
                    }

                    m <<= 1;
                }
            }
        }
    }

    /// <summary>ggml's <c>get_scale_min_k4</c>: the 6-bit scale and min of sub-block <paramref name="j"/> of Q4_K/Q5_K.</summary>
    public static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));

    // block_q4_K { half d; half dmin; uint8 scales[12]; uint8 qs[128]; }: x = d·sc·q − dmin·m, per 32.
    private static void Q4_K(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 144 < row.Length; b++)
        {
            var block = row.Slice(b * 144, 144);
            float d = Half(block), min = Half(block[2..]);
            var scales = block.Slice(4, 12);
            var q = block.Slice(16, 128);
            var o = y.Slice(b * 256, 256);
            for (int j = 0, s = 0; j < 256; j += 64, s += 2)
            {
                var (sc1, m1) = ScaleMinK4(s, scales);
                var (sc2, m2) = ScaleMinK4(s + 1, scales);
                var qq = q.Slice(j / 2, 32);
                for (int l = 0; l < 32; l++)
                {
                    o[j + l] = d * sc1 * (qq[l] & 0xF) - min * m1;
                    o[j + 32 + l] = d * sc2 * (qq[l] >> 4) - min * m2;
                }
            }
        }
    }

    // block_q5_K { half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }
    private static void Q5_K(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 176 < row.Length; b++)
        {
            var block = row.Slice(b * 176, 176);
            float d = Half(block), min = Half(block[2..]);
            var scales = block.Slice(4, 12);
            var qh = block.Slice(16, 32);
            var ql = block.Slice(48, 128);
            var o = y.Slice(b * 256, 256);
            int u1 = 1, u2 = 2;
            for (int j = 0, s = 0; j < 256; j += 64, s += 2)
            {
                var (sc1, m1) = ScaleMinK4(s, scales);
                var (sc2, m2) = ScaleMinK4(s + 1, scales);
                var qq = ql.Slice(j / 2, 32);
                for (int l = 0; l < 32; l++)
                {
                    o[j + l] = d * sc1 * ((qq[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - min * m1;
                    o[j + 32 + l] = d * sc2 * ((qq[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - min * m2;
                }

                u1 <<= 2;
                u2 <<= 2;
            }
        }
    }

    // block_q6_K { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d; }: 6-bit values, 8-bit scales per 16.
    private static void Q6_K(ReadOnlySpan<byte> row, Span<float> y)
    {
        for (int b = 0; b * 210 < row.Length; b++)
        {
            var block = row.Slice(b * 210, 210);
            float d = Half(block[208..]);
            var o = y.Slice(b * 256, 256);
            for (int n = 0; n < 2; n++)
            {
                var ql = block.Slice(n * 64, 64);
                var qh = block.Slice(128 + n * 32, 32);
                var sc = block.Slice(192 + n * 8, 8);
                var on = o.Slice(n * 128, 128);
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    on[l] = d * (sbyte)sc[s] * q1;
                    on[l + 32] = d * (sbyte)sc[s + 2] * q2;
                    on[l + 64] = d * (sbyte)sc[s + 4] * q3;
                    on[l + 96] = d * (sbyte)sc[s + 6] * q4;
                }
            }
        }
    }
}
