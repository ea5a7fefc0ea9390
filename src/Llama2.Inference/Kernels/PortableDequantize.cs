using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Llama2.Inference.Kernels;

/// <summary>
/// Q8_0 and Q4_0 rows → float32 with <see cref="Vector128"/> alone (NEON on ARM, SSE on x64), for machines without
/// AVX2, where the integer kernels have no form: <see cref="MatMul"/> dequantizes rows here and multiplies them with
/// <c>TensorPrimitives</c> (SIMD on every platform). The scalar twins are <c>Dequantize.Row</c>; the values are the same
/// bit for bit (int → float, times d).
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
