using System.Buffers.Binary;
using Llama2.Core.Quantization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Llama2.Inference.Kernels;

/// <summary>
/// Q8_0, Q4_0, Q4_K and Q6_K rows → float32 with <see cref="Vector128"/> alone (NEON on ARM, SSE on x64), for machines without
/// AVX2, where the integer kernels have no form: <see cref="MatMul"/> dequantizes rows here and multiplies them with
/// <c>TensorPrimitives</c> (SIMD on every platform). BF16 rows, on every machine. The scalar twins are <c>Dequantize.Row</c>; the values are the same
/// bit for bit (int → float, times d, in the scalar code's order, no fused multiply-add).
/// </summary>
public static class PortableDequantize
{
    public static void Q8_0(ReadOnlySpan<byte> row, Span<float> destination)
    {
        for (int b = 0; b < destination.Length / 32; b++)
        {
            var block = row.Slice(b * 34, 34);
            var d = Vector128.Create((float)BinaryPrimitives.ReadHalfLittleEndian(block));
            var values = MemoryMarshal.Cast<byte, sbyte>(block[2..]);
            Store(Vector128.Create(values[..16]), d, destination.Slice(b * 32, 16));
            Store(Vector128.Create(values[16..]), d, destination.Slice(b * 32 + 16, 16));
        }
    }

    public static void Q4_0(ReadOnlySpan<byte> row, Span<float> destination)
    {
        var low = Vector128.Create((byte)0x0F);
        var eight = Vector128.Create((sbyte)8);
        for (int b = 0; b < destination.Length / 32; b++)
        {
            var block = row.Slice(b * 18, 18);
            var d = Vector128.Create((float)BinaryPrimitives.ReadHalfLittleEndian(block));
            var packed = Vector128.Create(block.Slice(2, 16));
            Store((packed & low).AsSByte() - eight, d, destination.Slice(b * 32, 16));
            Store(Vector128.ShiftRightLogical(packed, 4).AsSByte() - eight, d, destination.Slice(b * 32 + 16, 16));
        }
    }

    /// <summary>BF16: each value's 16 bits are the top half of a float32's.</summary>
    public static void BF16(ReadOnlySpan<byte> row, Span<float> destination)
    {
        var values = MemoryMarshal.Cast<byte, ushort>(row[..(2 * destination.Length)]);
        int i = 0;
        for (; i + 8 <= destination.Length; i += 8)
        {
            var (low, high) = Vector128.Widen(Vector128.Create(values.Slice(i, 8)));
            Vector128.ShiftLeft(low, 16).AsSingle().CopyTo(destination[i..]);
            Vector128.ShiftLeft(high, 16).AsSingle().CopyTo(destination[(i + 4)..]);
        }

        Dequantize.BF16(row[(2 * i)..], destination[i..]);
    }

    /// <summary>Q4_K: x = d·sc·q − dmin·m per 32 values; the low nibbles of 32 bytes are one sub-block, the high ones the next.</summary>
    public static void Q4_K(ReadOnlySpan<byte> row, Span<float> destination)
    {
        var low = Vector128.Create((byte)0x0F);
        for (int b = 0; b < destination.Length / 256; b++)
        {
            var block = row.Slice(b * 144, 144);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block), min = (float)BinaryPrimitives.ReadHalfLittleEndian(block[2..]);
            var scales = block.Slice(4, 12);
            var o = destination.Slice(b * 256, 256);
            for (int j = 0; j < 4; j++)
            {
                var (sc1, m1) = Dequantize.ScaleMinK4(2 * j, scales);
                var (sc2, m2) = Dequantize.ScaleMinK4(2 * j + 1, scales);
                for (int half = 0; half < 32; half += 16)
                {
                    var packed = Vector128.Create(block.Slice(16 + 32 * j + half, 16));
                    Store(packed & low, Vector128.Create(d * sc1), Vector128.Create(min * m1), o.Slice(64 * j + half, 16));
                    Store(Vector128.ShiftRightLogical(packed, 4), Vector128.Create(d * sc2), Vector128.Create(min * m2), o.Slice(64 * j + 32 + half, 16));
                }
            }
        }
    }

    /// <summary>Q6_K: x = d·sc·(q − 32), q from 4 low bits (ql) and 2 high bits (qh), one int8 scale per 16 values.</summary>
    public static void Q6_K(ReadOnlySpan<byte> row, Span<float> destination)
    {
        var low = Vector128.Create((byte)0x0F);
        var three = Vector128.Create((byte)3);
        var offset = Vector128.Create((sbyte)32);
        for (int b = 0; b < destination.Length / 256; b++)
        {
            var block = row.Slice(b * 210, 210);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block[208..]);
            for (int n = 0; n < 2; n++)
            {
                var sc = MemoryMarshal.Cast<byte, sbyte>(block.Slice(192 + 8 * n, 8));
                var o = destination.Slice(b * 256 + 128 * n, 128);
                for (int l = 0, s = 0; l < 32; l += 16, s++)
                {
                    var a = Vector128.Create(block.Slice(64 * n + l, 16));
                    var c = Vector128.Create(block.Slice(64 * n + 32 + l, 16));
                    var h = Vector128.Create(block.Slice(128 + 32 * n + l, 16));
                    Store(((a & low) | Vector128.ShiftLeft(h & three, 4)).AsSByte() - offset, Vector128.Create(d * sc[s]), o.Slice(l, 16));
                    Store(((c & low) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(h, 2) & three, 4)).AsSByte() - offset, Vector128.Create(d * sc[s + 2]), o.Slice(l + 32, 16));
                    Store((Vector128.ShiftRightLogical(a, 4) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(h, 4) & three, 4)).AsSByte() - offset, Vector128.Create(d * sc[s + 4]), o.Slice(l + 64, 16));
                    Store((Vector128.ShiftRightLogical(c, 4) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(h, 6), 4)).AsSByte() - offset, Vector128.Create(d * sc[s + 6]), o.Slice(l + 96, 16));
                }
            }
        }
    }

    /// <summary>16 unsigned values times <paramref name="d"/> less <paramref name="m"/> into <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector128<byte> values, Vector128<float> d, Vector128<float> m, Span<float> destination)
    {
        var (low, high) = Vector128.Widen(values);
        var (a, b) = Vector128.Widen(low);
        var (c, e) = Vector128.Widen(high);
        (Vector128.ConvertToSingle(a.AsInt32()) * d - m).CopyTo(destination);
        (Vector128.ConvertToSingle(b.AsInt32()) * d - m).CopyTo(destination[4..]);
        (Vector128.ConvertToSingle(c.AsInt32()) * d - m).CopyTo(destination[8..]);
        (Vector128.ConvertToSingle(e.AsInt32()) * d - m).CopyTo(destination[12..]);
    }

    /// <summary>16 int8 values times <paramref name="d"/> into <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector128<sbyte> values, Vector128<float> d, Span<float> destination)
    {
        var (low, high) = Vector128.Widen(values);
        var (a, b) = Vector128.Widen(low);
        var (c, e) = Vector128.Widen(high);
        (Vector128.ConvertToSingle(a) * d).CopyTo(destination);
        (Vector128.ConvertToSingle(b) * d).CopyTo(destination[4..]);
        (Vector128.ConvertToSingle(c) * d).CopyTo(destination[8..]);
        (Vector128.ConvertToSingle(e) * d).CopyTo(destination[12..]);
    }
}
