using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama2.Inference.Kernels;

/// <summary>Integer dot products of a quantized weight row with <see cref="QuantizedActivations"/>; AVX2 with scalar twins.</summary>
public static unsafe partial class QuantDot
{
    /// <summary>
    /// F16 → F32 for every bit pattern (256 KB, as ggml's table): a load instead of a software conversion per block.
    /// LiveAcrossInit: the kernels read this field into a local before their accumulators exist. Reading it can call the
    /// class-initialization helper (kernels are compiled fully optimised before tiering knows the class is ready), a call
    /// clobbers every vector register, and accumulators live across it were given stack homes: the JIT then loaded and
    /// stored them every iteration, a store-to-load chain that set the kernels' speed (seen in <c>DOTNET_JitDisasm</c>).
    /// </summary>
    internal static readonly float[] s_half = [.. Enumerable.Range(0, 65536).Select(i => (float)BitConverter.UInt16BitsToHalf((ushort)i))];

    /// <summary>
    /// How far ahead of the block being read the kernels ask for weight bytes: the hardware prefetcher alone left a
    /// 7B Q4_0 model's generation at about 1.2 tokens/s on one thread, 1.4–1.6 with this (2026-11-27, bench/RESULTS.md).
    /// </summary>
    private const int PrefetchDistance = 1152;

    /// <summary>Prefetches the cache lines of a block of <paramref name="bytes"/> bytes <see cref="PrefetchDistance"/> ahead.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* block, int bytes)
    {
        for (int offset = 0; offset < bytes; offset += 64)
        {
            Sse.Prefetch0(block + PrefetchDistance + offset);
        }
    }

    /// <summary>Q8_0 row · x (naive reference).</summary>
    public static float Q8_0Naive(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        float sum = 0;
        for (int b = 0; b < x.Cols / 32; b++)
        {
            var block = row.Slice(b * 34, 34);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            int dot = 0;
            for (int j = 0; j < 32; j++)
            {
                dot += (sbyte)block[2 + j] * x.X[b * 32 + j];
            }

            sum += d * x.D[b] * dot;
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
            int dot = 0;
            for (int j = 0; j < 16; j++)
            {
                dot += ((block[2 + j] & 0xF) - 8) * x.X[b * 32 + j] + ((block[2 + j] >> 4) - 8) * x.X[b * 32 + j + 16];
            }

            sum += d * x.D[b] * dot;
        }

        return sum;
    }

    /// <summary>Q8_0 row · x: the weights widened to int16, multiplied and added in pairs with the activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a kernel: fully optimised from its first call (the first token), no tiering
    public static float Q8_0(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Q8_0Naive(row, x);
        }

        int blocks = x.Cols / 32;
        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        fixed (byte* w = row)
        fixed (short* xs = x.X)
        fixed (float* d = x.D, half = halfTable)
        {
            // even and odd blocks: two FMA chains, so the FMA's latency does not set the speed (one block is ~5 cycles)
            Vector256<float> accEven = Vector256<float>.Zero, accOdd = Vector256<float>.Zero;
            int b = 0;
            for (; b + 1 < blocks; b += 2)
            {
                accEven = Fma.MultiplyAdd(Q8_0Block(w + b * 34, xs + b * 32), Vector256.Create(d[b] * half[Unsafe.ReadUnaligned<ushort>(w + b * 34)]), accEven);
                accOdd = Fma.MultiplyAdd(Q8_0Block(w + b * 34 + 34, xs + b * 32 + 32), Vector256.Create(d[b + 1] * half[Unsafe.ReadUnaligned<ushort>(w + b * 34 + 34)]), accOdd);
            }

            if (b < blocks)
            {
                accEven = Fma.MultiplyAdd(Q8_0Block(w + b * 34, xs + b * 32), Vector256.Create(d[b] * half[Unsafe.ReadUnaligned<ushort>(w + b * 34)]), accEven);
            }

            return Vector256.Sum(accEven + accOdd);
        }
    }

    /// <summary>One Q8_0 block's 32 int8 weights · its 32 activations, as 8 float partial sums (prefetching ahead).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8_0Block(byte* block, short* xs)
    {
        Sse.Prefetch0(block + PrefetchDistance);
        return Avx.ConvertToVector256Single(Avx2.Add(
            Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16((sbyte*)(block + 2)), Avx.LoadVector256(xs)),
            Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16((sbyte*)(block + 18)), Avx.LoadVector256(xs + 16))));
    }

    /// <summary>
    /// Q4_0 row · x. The 16 packed bytes are widened to int16 once; their low nibbles are values 0–15 and their high
    /// nibbles values 16–31, unsigned: Σ(n − 8)·x = Σ n·x − 8·Σx, and Σx per block was computed with the activations.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_0(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Q4_0Naive(row, x);
        }

        int blocks = x.Cols / 32;
        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        fixed (byte* w = row)
        fixed (short* xs = x.X)
        fixed (float* d = x.D, half = halfTable)
        fixed (int* sums = x.S)
        {
            var acc = Vector256<float>.Zero;
            float correction = 0;
            var low = Vector256.Create((short)0x0F);
            for (int b = 0; b < blocks; b++)
            {
                byte* block = w + b * 18;
                Sse.Prefetch0(block + PrefetchDistance);
                var bytes = Avx2.ConvertToVector256Int16(block + 2);
                var dot = Avx2.Add(
                    Avx2.MultiplyAddAdjacent(Avx2.And(bytes, low), Avx.LoadVector256(xs + b * 32)),
                    Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(bytes, 4), Avx.LoadVector256(xs + b * 32 + 16)));
                float scale = d[b] * half[Unsafe.ReadUnaligned<ushort>(block)];
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(scale), acc);
                correction += scale * sums[b];
            }

            return Vector256.Sum(acc) - 8 * correction;
        }
    }

    /// <summary>
    /// Four consecutive Q4_0 rows (<paramref name="rows"/>, each <paramref name="rowBytes"/> long) · x at once: each block's
    /// activation loads, scale and Σx are shared by the four rows, and the four accumulator chains overlap.
    /// NextRows: it prefetches the next four rows (the next call's) front to back as one stream, 72 bytes per block, not
    /// each row's own bytes ahead: a row's prefetch ran into the next row, which this call also reads, so three of every
    /// four rows started with half their bytes not prefetched. 7B-sized weights streamed from DRAM on one thread went
    /// from about 5 to 8.5 GB/s (throwaway loop, 2026-11-27, bench/RESULTS.md); a prefetch past the tensor's end is
    /// harmless (prefetches never fault).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Vector128<float> Q4_0x4(ReadOnlySpan<byte> rows, int rowBytes, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Vector128.Create(
                Q4_0Naive(rows[..rowBytes], x), Q4_0Naive(rows.Slice(rowBytes, rowBytes), x),
                Q4_0Naive(rows.Slice(2 * rowBytes, rowBytes), x), Q4_0Naive(rows.Slice(3 * rowBytes, rowBytes), x));
        }

        int blocks = x.Cols / 32;
        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        fixed (byte* w0 = rows)
        fixed (short* xs = x.X)
        fixed (float* d = x.D, half = halfTable)
        fixed (int* sums = x.S)
        {
            byte* w1 = w0 + rowBytes, w2 = w0 + 2 * rowBytes, w3 = w0 + 3 * rowBytes, next = w0 + 4 * rowBytes;
            Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero, acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
            var corrections = Vector128<float>.Zero;
            var low = Vector256.Create((short)0x0F);
            for (int b = 0; b < blocks; b++)
            {
                var xLow = Avx.LoadVector256(xs + b * 32);
                var xHigh = Avx.LoadVector256(xs + b * 32 + 16);
                int at = b * 18;
                Sse.Prefetch0(next + 4 * at); // 72 bytes of the next four rows per block: see NextRows
                Sse.Prefetch0(next + 4 * at + 64);
                float dx = d[b];
                float s0 = dx * half[Unsafe.ReadUnaligned<ushort>(w0 + at)], s1 = dx * half[Unsafe.ReadUnaligned<ushort>(w1 + at)];
                float s2 = dx * half[Unsafe.ReadUnaligned<ushort>(w2 + at)], s3 = dx * half[Unsafe.ReadUnaligned<ushort>(w3 + at)];
                acc0 = Fma.MultiplyAdd(Nibbles(w0 + at, xLow, xHigh, low), Vector256.Create(s0), acc0);
                acc1 = Fma.MultiplyAdd(Nibbles(w1 + at, xLow, xHigh, low), Vector256.Create(s1), acc1);
                acc2 = Fma.MultiplyAdd(Nibbles(w2 + at, xLow, xHigh, low), Vector256.Create(s2), acc2);
                acc3 = Fma.MultiplyAdd(Nibbles(w3 + at, xLow, xHigh, low), Vector256.Create(s3), acc3);
                corrections = Fma.MultiplyAdd(Vector128.Create(s0, s1, s2, s3), Vector128.Create((float)sums[b]), corrections);
            }

            return Vector128.Create(Vector256.Sum(acc0), Vector256.Sum(acc1), Vector256.Sum(acc2), Vector256.Sum(acc3)) - 8 * corrections;
        }
    }

    /// <summary>One Q4_0 block's unsigned nibbles (values 0–15, then 16–31) · its 32 activations, as 8 float partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Nibbles(byte* block, Vector256<short> xLow, Vector256<short> xHigh, Vector256<short> low)
    {
        var bytes = Avx2.ConvertToVector256Int16(block + 2);
        return Avx.ConvertToVector256Single(Avx2.Add(
            Avx2.MultiplyAddAdjacent(Avx2.And(bytes, low), xLow),
            Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(bytes, 4), xHigh)));
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
                sum += d * scale * x.D[k] * (q - 32) * x.X[32 * k + e % 32];
            }
        }

        return sum;
    }

    /// <summary>
    /// Q6_K row · x: 6-bit values rebuilt from ql/qh with byte masks, made signed (q − 32), widened to int16, multiplied
    /// and added in pairs with the activations. Each 16 values' int8 scale goes into a float factor d·sc·D, the 16 of a
    /// super-block computed as two vectors (multiplying the int16 weights by their scale instead cost two <c>vpmullw</c>
    /// and two broadcasts per 32 values: ~1.3× slower in a throwaway loop, 2026-11-27). The four 32-value parts of each
    /// 128-value half are written out and alternate between two FMA chains (see <see cref="Q8_0"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6_K(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Q6_KNaive(row, x);
        }

        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        float* factors = stackalloc float[16]; // d·sc·D per 16 values of the super-block
        fixed (byte* w = row)
        fixed (short* xs = x.X)
        fixed (float* dx = x.D, half = halfTable)
        {
            Vector256<float> accEven = Vector256<float>.Zero, accOdd = Vector256<float>.Zero;
            var m4 = Vector256.Create((byte)0x0F);
            var m2 = Vector256.Create((byte)0x03);
            for (int b = 0; b < x.Cols / 256; b++)
            {
                byte* block = w + b * 210;
                Prefetch(block, 210);
                var d = Vector256.Create(half[Unsafe.ReadUnaligned<ushort>(block + 208)]);
                var blockD = Avx.LoadVector256(dx + b * 8);
                var dLow = Avx.UnpackLow(blockD, blockD);   // D0 D0 D1 D1 | D4 D4 D5 D5: one D per 16 values
                var dHigh = Avx.UnpackHigh(blockD, blockD); // D2 D2 D3 D3 | D6 D6 D7 D7
                var sc = Sse2.LoadVector128((sbyte*)(block + 192));
                Avx.Store(factors, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(sc)) * Avx.Permute2x128(dLow, dHigh, 0x20) * d);
                Avx.Store(factors + 8, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(sc, 8))) * Avx.Permute2x128(dLow, dHigh, 0x31) * d);
                for (int h = 0; h < 2; h++)
                {
                    var ql0 = Avx.LoadVector256(block + 64 * h);
                    var ql1 = Avx.LoadVector256(block + 64 * h + 32);
                    var qh = Avx.LoadVector256(block + 128 + 32 * h).AsUInt16();
                    var ql0High = Avx2.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte();
                    var ql1High = Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte();
                    short* xk = xs + 32 * (b * 8 + h * 4);
                    float* f = factors + 8 * h;
                    // part p: low 4 bits from ql (parts 0, 1 low nibbles of ql0, ql1; parts 2, 3 high nibbles), high 2 bits qh >> 2p
                    accEven = Q6_KPart(ql0, qh, m4, m2, xk, f, accEven);
                    accOdd = Q6_KPart(ql1, Avx2.ShiftRightLogical(qh, 2), m4, m2, xk + 32, f + 2, accOdd);
                    accEven = Q6_KPart(ql0High, Avx2.ShiftRightLogical(qh, 4), m4, m2, xk + 64, f + 4, accEven);
                    accOdd = Q6_KPart(ql1High, Avx2.ShiftRightLogical(qh, 6), m4, m2, xk + 96, f + 6, accOdd);
                }
            }

            return Vector256.Sum(accEven + accOdd);
        }
    }

    /// <summary>
    /// One 32-value Q6_K part · its activations, added to <paramref name="acc"/>: 4 low bits from <paramref name="low"/>,
    /// 2 high bits from <paramref name="high"/>'s lowest two; each 16-value half times its factor <paramref name="f"/>[0 or 1].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q6_KPart(Vector256<byte> low, Vector256<ushort> high, Vector256<byte> m4, Vector256<byte> m2, short* x, float* f, Vector256<float> acc)
    {
        var q = Avx2.Or(Avx2.And(low, m4), Avx2.ShiftLeftLogical(Avx2.And(high.AsByte(), m2).AsUInt16(), 4).AsByte());
        var wv = Avx2.Subtract(q.AsSByte(), Vector256.Create((sbyte)32));
        var dot0 = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(wv.GetLower()), Avx.LoadVector256(x));
        var dot1 = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(wv.GetUpper()), Avx.LoadVector256(x + 16));
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot0), Vector256.Create(f[0]), acc);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot1), Vector256.Create(f[1]), acc);
    }
}
