using Llama2.Core.Gguf;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama2.Inference.Kernels;

/// <summary>
/// The generation kernels that take the activations' int8 part (<see cref="QuantizedActivations.Int8"/>, as llama.cpp's
/// Q8_K path): the K-quants Q2_K–Q6_K, each against its reference twin <see cref="Int8Gemm.Naive"/>.
/// </summary>
public static unsafe partial class QuantDot
{
    /// <summary>
    /// Q4_K row · x's int8 part (<see cref="QuantizedActivations.Int8"/>, as llama.cpp's generation uses Q8_K): a pair of
    /// sub-blocks is one 32-byte load of nibbles, each half one <c>vpmaddubsw</c> against 32 int8 activations (32
    /// multiply-adds per instruction where <c>vpmaddwd</c> on int16 activations does 16), scaled by d·sc·D per sub-block;
    /// the minimum terms dmin·m·D·Σq are subtracted per super-block. Generation takes <see cref="Q4_Kx4"/>; this is for
    /// the last rows of a range. The reference twin is <see cref="Int8Gemm.Naive"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4_K(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Int8Gemm.Naive(GgmlType.Q4_K, row, x);
        }

        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        float* factors = stackalloc float[8]; // d·sc·D of the super-block's sub-blocks
        fixed (byte* w = row, a = x.Int8)
        fixed (float* dx = x.D, half = halfTable)
        {
            Vector256<float> accEven = Vector256<float>.Zero, accOdd = Vector256<float>.Zero;
            var low = Vector256.Create((byte)0x0F);
            var ones = Vector256.Create((short)1);
            const int R = QuantizedActivations.Int8BlockBytes;
            for (int b = 0; b < x.Cols / 256; b++)
            {
                byte* block = w + b * 144;
                Prefetch(block, 144);
                byte* records = a + b * 8 * R;
                var int8Scales = Avx.LoadVector256(dx + b * 8) * 128; // the int8 values' scales, as in the records
                accEven = Q4_KScales(block, int8Scales, SumsQ(records, int8Scales), half, factors, accEven);
                for (int pair = 0; pair < 4; pair += 2) // two FMA chains (see Q8_0)
                {
                    byte* record = records + 2 * pair * R;
                    accEven = Q4_KPair(block + 16 + 32 * pair, Avx.LoadVector256((sbyte*)record), Avx.LoadVector256((sbyte*)(record + R)), low, ones, factors + 2 * pair, accEven);
                    accOdd = Q4_KPair(block + 48 + 32 * pair, Avx.LoadVector256((sbyte*)(record + 2 * R)), Avx.LoadVector256((sbyte*)(record + 3 * R)), low, ones, factors + 2 * pair + 2, accOdd);
                }
            }

            return Vector256.Sum(accEven + accOdd);
        }
    }

    /// <summary>The Σq of each 16 values of a super-block's eight int8 records, as 16 int16 in order (for <c>vpmaddwd</c> with 16 scales).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> SumsHalves(byte* records)
    {
        const int R = QuantizedActivations.Int8BlockBytes;
        return Vector256.Create(*(int*)(records + 40), *(int*)(records + R + 40), *(int*)(records + 2 * R + 40), *(int*)(records + 3 * R + 40),
            *(int*)(records + 4 * R + 40), *(int*)(records + 5 * R + 40), *(int*)(records + 6 * R + 40), *(int*)(records + 7 * R + 40)).AsInt16();
    }

    /// <summary>D·Σq of a super-block's eight int8 records (<paramref name="int8Scales"/> = their scales).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> SumsQ(byte* records, Vector256<float> int8Scales)
    {
        const int R = QuantizedActivations.Int8BlockBytes;
        return int8Scales * Avx.ConvertToVector256Single(Vector256.Create(*(int*)(records + 36), *(int*)(records + R + 36), *(int*)(records + 2 * R + 36),
            *(int*)(records + 3 * R + 36), *(int*)(records + 4 * R + 36), *(int*)(records + 5 * R + 36), *(int*)(records + 6 * R + 36), *(int*)(records + 7 * R + 36)));
    }

    /// <summary>
    /// Four consecutive Q4_K rows (<paramref name="rows"/>, each <paramref name="rowBytes"/> long) · x's int8 part at once,
    /// as <see cref="Q4_K"/> per row: the activation records, their Σq and scales are loaded once for the four rows, the
    /// minimum terms go into each row's accumulator (a sum either way), and the next four rows are prefetched as one
    /// stream (see <see cref="Q4_0x4"/>'s NextRows).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Vector128<float> Q4_Kx4(ReadOnlySpan<byte> rows, int rowBytes, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Vector128.Create(
                Int8Gemm.Naive(GgmlType.Q4_K, rows[..rowBytes], x), Int8Gemm.Naive(GgmlType.Q4_K, rows.Slice(rowBytes, rowBytes), x),
                Int8Gemm.Naive(GgmlType.Q4_K, rows.Slice(2 * rowBytes, rowBytes), x), Int8Gemm.Naive(GgmlType.Q4_K, rows.Slice(3 * rowBytes, rowBytes), x));
        }

        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        float* factors = stackalloc float[32]; // per row: d·sc·D of the super-block's sub-blocks
        fixed (byte* w0 = rows, a = x.Int8)
        fixed (float* dx = x.D, half = halfTable)
        {
            byte* next = w0 + 4 * rowBytes;
            Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero, acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
            var low = Vector256.Create((byte)0x0F);
            var ones = Vector256.Create((short)1);
            const int R = QuantizedActivations.Int8BlockBytes;
            for (int b = 0; b < x.Cols / 256; b++)
            {
                int at = b * 144;
                for (int line = 0; line < 4 * 144; line += 64)
                {
                    Sse.Prefetch0(next + 4 * at + line); // 576 bytes of the next four rows per super-block
                }

                byte* records = a + b * 8 * R;
                var int8Scales = Avx.LoadVector256(dx + b * 8) * 128; // the int8 values' scales, as in the records
                var sumsQ = SumsQ(records, int8Scales);
                acc0 = Q4_KScales(w0 + at, int8Scales, sumsQ, half, factors, acc0);
                acc1 = Q4_KScales(w0 + rowBytes + at, int8Scales, sumsQ, half, factors + 8, acc1);
                acc2 = Q4_KScales(w0 + 2 * rowBytes + at, int8Scales, sumsQ, half, factors + 16, acc2);
                acc3 = Q4_KScales(w0 + 3 * rowBytes + at, int8Scales, sumsQ, half, factors + 24, acc3);
                for (int pair = 0; pair < 4; pair++)
                {
                    byte* record = records + 2 * pair * R;
                    var xLow = Avx.LoadVector256((sbyte*)record);
                    var xHigh = Avx.LoadVector256((sbyte*)(record + R));
                    int q = at + 16 + 32 * pair;
                    acc0 = Q4_KPair(w0 + q, xLow, xHigh, low, ones, factors + 2 * pair, acc0);
                    acc1 = Q4_KPair(w0 + rowBytes + q, xLow, xHigh, low, ones, factors + 8 + 2 * pair, acc1);
                    acc2 = Q4_KPair(w0 + 2 * rowBytes + q, xLow, xHigh, low, ones, factors + 16 + 2 * pair, acc2);
                    acc3 = Q4_KPair(w0 + 3 * rowBytes + q, xLow, xHigh, low, ones, factors + 24 + 2 * pair, acc3);
                }
            }

            return Vector128.Create(Vector256.Sum(acc0), Vector256.Sum(acc1), Vector256.Sum(acc2), Vector256.Sum(acc3));
        }
    }

    /// <summary>
    /// Q5_K row · x's int8 part: as <see cref="Q4_K"/> (the same scales, minimums and d, dmin), each value's fifth bit
    /// taken from qh (bit 2j of a byte for pair j's low nibbles, bit 2j + 1 for its high ones) and or-ed in as 16, so
    /// values 0–31 still take one <c>vpmaddubsw</c> per 32. The reference twin is <see cref="Int8Gemm.Naive"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q5_K(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Int8Gemm.Naive(GgmlType.Q5_K, row, x);
        }

        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        float* factors = stackalloc float[8]; // d·sc·D of the super-block's sub-blocks
        fixed (byte* w = row, a = x.Int8)
        fixed (float* dx = x.D, half = halfTable)
        {
            Vector256<float> accEven = Vector256<float>.Zero, accOdd = Vector256<float>.Zero;
            var low = Vector256.Create((byte)0x0F);
            var bit4 = Vector256.Create((byte)0x10);
            var ones = Vector256.Create((short)1);
            const int R = QuantizedActivations.Int8BlockBytes;
            for (int b = 0; b < x.Cols / 256; b++)
            {
                byte* block = w + b * 176;
                Prefetch(block, 176);
                byte* records = a + b * 8 * R;
                var int8Scales = Avx.LoadVector256(dx + b * 8) * 128; // the int8 values' scales, as in the records
                accEven = Q4_KScales(block, int8Scales, SumsQ(records, int8Scales), half, factors, accEven);
                var qh = Avx.LoadVector256(block + 16).AsUInt16();
                for (int pair = 0; pair < 4; pair++)
                {
                    byte* record = records + 2 * pair * R;
                    var bytes = Avx.LoadVector256(block + 48 + 32 * pair);
                    var lowValues = (bytes & low) | (Avx2.ShiftLeftLogical(qh, 4).AsByte() & bit4);
                    var highValues = (Avx2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & low) | (Avx2.ShiftLeftLogical(qh, 3).AsByte() & bit4);
                    var dotLow = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lowValues, Avx.LoadVector256((sbyte*)record)), ones);
                    var dotHigh = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(highValues, Avx.LoadVector256((sbyte*)(record + R))), ones);
                    accEven = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dotLow), Vector256.Create(factors[2 * pair]), accEven);
                    accOdd = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dotHigh), Vector256.Create(factors[2 * pair + 1]), accOdd);
                    qh = Avx2.ShiftRightLogical(qh, 2); // the next pair's two bits to the bottom of each byte
                }
            }

            return Vector256.Sum(accEven + accOdd);
        }
    }

    /// <summary>
    /// A Q4_K (or Q5_K) super-block's 6-bit scales and minimums: writes d·sc·D per sub-block to <paramref name="factors"/> and
    /// returns <paramref name="acc"/> less the minimum terms dmin·m·D·Σq.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q4_KScales(byte* block, Vector256<float> int8Scales, Vector256<float> sumsQ, float* half, float* factors, Vector256<float> acc)
    {
        uint s0 = Unsafe.ReadUnaligned<uint>(block + 4), s1 = Unsafe.ReadUnaligned<uint>(block + 8), s2 = Unsafe.ReadUnaligned<uint>(block + 12);
        var scalesAndMins = Vector128.Create(
            s0 & 0x3F3F3F3F, (s2 & 0x0F0F0F0F) | (((s0 >> 6) & 0x03030303) << 4),
            s1 & 0x3F3F3F3F, ((s2 >> 4) & 0x0F0F0F0F) | (((s1 >> 6) & 0x03030303) << 4)).AsByte();
        var scales = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(scalesAndMins));
        var mins = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(scalesAndMins, 8)));
        Avx.Store(factors, scales * int8Scales * half[Unsafe.ReadUnaligned<ushort>(block)]);
        return Fma.MultiplyAddNegated(mins * half[Unsafe.ReadUnaligned<ushort>(block + 2)], sumsQ, acc);
    }

    /// <summary>32 bytes of Q4_K nibbles (two sub-blocks) · their two int8 records' values, times the two factors, added to <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q4_KPair(byte* q, Vector256<sbyte> xLow, Vector256<sbyte> xHigh, Vector256<byte> low, Vector256<short> ones, float* factors, Vector256<float> acc)
    {
        var bytes = Avx.LoadVector256(q);
        var dotLow = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(bytes & low, xLow), ones);
        var dotHigh = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & low, xHigh), ones);
        acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dotLow), Vector256.Create(factors[0]), acc);
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(dotHigh), Vector256.Create(factors[1]), acc);
    }

    /// <summary>
    /// Q6_K row · x's int8 part (<see cref="QuantizedActivations.Int8"/>, as llama.cpp's generation uses Q8_K): each
    /// 32-value part's unsigned 6-bit values (0–63) are one <c>vpmaddubsw</c> against 32 int8 activations, then one
    /// <c>vpmaddwd</c> against the int16 scale of each 16 values (a <c>vpshufb</c> of the super-block's scales), and one
    /// FMA by d·D. The offset (q − 32) is 32·Σ sc·Σq per 16 values, from the records' Σq halves: one <c>vpmaddwd</c> per
    /// super-block. About 9 instructions per 32 values where <see cref="Q6_K"/> takes 14. The reference twin is
    /// <see cref="Int8Gemm.Naive"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6_KInt8(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Int8Gemm.Naive(GgmlType.Q6_K, row, x);
        }

        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        float* factors = stackalloc float[8]; // d·D of the super-block's 32-value parts
        fixed (byte* w = row, a = x.Int8)
        fixed (float* dx = x.D, half = halfTable)
        {
            Vector256<float> accEven = Vector256<float>.Zero, accOdd = Vector256<float>.Zero, offsets = Vector256<float>.Zero;
            var m4 = Vector256.Create((byte)0x0F);
            var m2 = Vector256.Create((byte)0x03);
            // part p of a half: its first 16 values take scale 2p (bytes 4p, 4p + 1 of the half's int16 scales), the next 16 scale 2p + 1
            var pick0 = Vector256.Create(Vector128.Create((short)0x0100), Vector128.Create((short)0x0302)).AsByte();
            var step = Vector256.Create((byte)4);
            var pick1 = pick0 + step;
            var pick2 = pick1 + step;
            var pick3 = pick2 + step;
            const int R = QuantizedActivations.Int8BlockBytes;
            for (int b = 0; b < x.Cols / 256; b++)
            {
                byte* block = w + b * 210;
                Prefetch(block, 210);
                byte* records = a + b * 8 * R;
                var scales = Avx2.ConvertToVector256Int16((sbyte*)(block + 192)); // sc 0–7 | sc 8–15
                var sums = SumsHalves(records);
                var f = Avx.LoadVector256(dx + b * 8) * (128 * half[Unsafe.ReadUnaligned<ushort>(block + 208)]);
                Avx.Store(factors, f);
                offsets = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(sums, scales)), f, offsets);
                var firstHalf = Avx2.Permute4x64(scales.AsUInt64(), 0x44).AsByte(); // each 128-bit lane: sc 0–7
                var secondHalf = Avx2.Permute4x64(scales.AsUInt64(), 0xEE).AsByte(); // sc 8–15
                for (int h = 0; h < 2; h++)
                {
                    var ql0 = Avx.LoadVector256(block + 64 * h);
                    var ql1 = Avx.LoadVector256(block + 64 * h + 32);
                    var qh = Avx.LoadVector256(block + 128 + 32 * h).AsUInt16();
                    var halfScales = h == 0 ? firstHalf : secondHalf;
                    byte* r = records + 4 * h * R;
                    float* fh = factors + 4 * h;
                    accEven = Q6_KInt8Part(ql0 & m4, qh, m2, r, Avx2.Shuffle(halfScales, pick0), fh[0], accEven);
                    accOdd = Q6_KInt8Part(ql1 & m4, Avx2.ShiftRightLogical(qh, 2), m2, r + R, Avx2.Shuffle(halfScales, pick1), fh[1], accOdd);
                    accEven = Q6_KInt8Part(Avx2.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & m4, Avx2.ShiftRightLogical(qh, 4), m2, r + 2 * R, Avx2.Shuffle(halfScales, pick2), fh[2], accEven);
                    accOdd = Q6_KInt8Part(Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & m4, Avx2.ShiftRightLogical(qh, 6), m2, r + 3 * R, Avx2.Shuffle(halfScales, pick3), fh[3], accOdd);
                }
            }

            return Vector256.Sum(accEven + accOdd) - 32 * Vector256.Sum(offsets);
        }
    }

    /// <summary>
    /// One 32-value Q6_K part (low 4 bits <paramref name="low"/>, high 2 bits the lowest two of <paramref name="high"/>)
    /// · one int8 record, times the int16 <paramref name="scales"/> of its two 16-value halves and <paramref name="factor"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q6_KInt8Part(Vector256<byte> low, Vector256<ushort> high, Vector256<byte> m2, byte* record, Vector256<byte> scales, float factor, Vector256<float> acc) =>
        ScaledPart(low | Avx2.ShiftLeftLogical((high.AsByte() & m2).AsUInt16(), 4).AsByte(), record, scales, factor, acc);

    /// <summary>
    /// 32 unsigned values (at most 127) · one int8 record, times the int16 <paramref name="scales"/> of their two 16-value
    /// halves (<c>vpmaddubsw</c>, then <c>vpmaddwd</c>) and <paramref name="factor"/>, added to <paramref name="acc"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScaledPart(Vector256<byte> q, byte* record, Vector256<byte> scales, float factor, Vector256<float> acc)
    {
        var dot = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Avx.LoadVector256((sbyte*)record)), scales.AsInt16());
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(factor), acc);
    }

    /// <summary>
    /// Q3_K row · x's int8 part, as <see cref="Q6_KInt8"/>: each 32-value part's 2 low bits (qs, shifted by 2j) and its
    /// high bit (hmask bit 4h + j) make unsigned values u = v + 4 (0–7) for <c>vpmaddubsw</c>, the 16 6-bit scales (less 32)
    /// go through <c>vpmaddwd</c>, and the offset 4·Σ sc·Σq per 16 values comes from the records' Σq halves. The reference
    /// twin is <see cref="Int8Gemm.Naive"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q3_K(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Int8Gemm.Naive(GgmlType.Q3_K, row, x);
        }

        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        float* factors = stackalloc float[8]; // d·D of the super-block's 32-value parts
        byte* sc = stackalloc byte[16];
        fixed (byte* w = row, a = x.Int8)
        fixed (float* dx = x.D, half = halfTable)
        {
            Vector256<float> accEven = Vector256<float>.Zero, accOdd = Vector256<float>.Zero, offsets = Vector256<float>.Zero;
            var m3 = Vector256.Create((byte)3);
            var bit2 = Vector256.Create((byte)4);
            var pick0 = Vector256.Create(Vector128.Create((short)0x0100), Vector128.Create((short)0x0302)).AsByte(); // see Q6_KInt8
            var step = Vector256.Create((byte)4);
            var pick1 = pick0 + step;
            var pick2 = pick1 + step;
            var pick3 = pick2 + step;
            const int R = QuantizedActivations.Int8BlockBytes;
            for (int b = 0; b < x.Cols / 256; b++)
            {
                byte* block = w + b * 110;
                Prefetch(block, 110);
                byte* records = a + b * 8 * R;
                Q3_KScales(block + 96, sc);
                var scales = Avx2.ConvertToVector256Int16(sc) - Vector256.Create((short)32); // sc 0–7 | sc 8–15
                var sums = SumsHalves(records);
                var f = Avx.LoadVector256(dx + b * 8) * (128 * half[Unsafe.ReadUnaligned<ushort>(block + 108)]);
                Avx.Store(factors, f);
                offsets = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(sums, scales)), f, offsets);
                var firstHalf = Avx2.Permute4x64(scales.AsUInt64(), 0x44).AsByte();
                var secondHalf = Avx2.Permute4x64(scales.AsUInt64(), 0xEE).AsByte();
                var hmask = Avx.LoadVector256(block).AsUInt16();
                for (int h = 0; h < 2; h++)
                {
                    var qs = Avx.LoadVector256(block + 32 + 32 * h).AsUInt16();
                    var hm = h == 0 ? hmask : Avx2.ShiftRightLogical(hmask, 4); // this half's four bits at the bottom of each byte
                    var halfScales = h == 0 ? firstHalf : secondHalf;
                    byte* r = records + 4 * h * R;
                    float* fh = factors + 4 * h;
                    accEven = ScaledPart((qs.AsByte() & m3) | (Avx2.ShiftLeftLogical(hm, 2).AsByte() & bit2), r, Avx2.Shuffle(halfScales, pick0), fh[0], accEven);
                    accOdd = ScaledPart((Avx2.ShiftRightLogical(qs, 2).AsByte() & m3) | (Avx2.ShiftLeftLogical(hm, 1).AsByte() & bit2), r + R, Avx2.Shuffle(halfScales, pick1), fh[1], accOdd);
                    accEven = ScaledPart((Avx2.ShiftRightLogical(qs, 4).AsByte() & m3) | (hm.AsByte() & bit2), r + 2 * R, Avx2.Shuffle(halfScales, pick2), fh[2], accEven);
                    accOdd = ScaledPart((Avx2.ShiftRightLogical(qs, 6).AsByte() & m3) | (Avx2.ShiftRightLogical(hm, 1).AsByte() & bit2), r + 3 * R, Avx2.Shuffle(halfScales, pick3), fh[3], accOdd);
                }
            }

            return Vector256.Sum(accEven + accOdd) - 4 * Vector256.Sum(offsets);
        }
    }

    /// <summary>
    /// Q2_K row · x's int8 part, as <see cref="Q3_K"/>: each 32-value part's 2 bits (qs, shifted by 2j) are unsigned values
    /// 0–3 for <c>vpmaddubsw</c>, the 4-bit scale of each 16 values goes through <c>vpmaddwd</c>, and the minimum terms
    /// dmin·m·D·Σq per 16 values come from the records' Σq halves, one <c>vpmaddwd</c> per super-block. The reference twin
    /// is <see cref="Int8Gemm.Naive"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q2_K(ReadOnlySpan<byte> row, QuantizedActivations x)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            return Int8Gemm.Naive(GgmlType.Q2_K, row, x);
        }

        float[] halfTable = s_half; // before any vector is live: see LiveAcrossInit
        float* factors = stackalloc float[8]; // d·D of the super-block's 32-value parts
        fixed (byte* w = row, a = x.Int8)
        fixed (float* dx = x.D, half = halfTable)
        {
            Vector256<float> accEven = Vector256<float>.Zero, accOdd = Vector256<float>.Zero, minimums = Vector256<float>.Zero;
            var m3 = Vector256.Create((byte)3);
            var low = Vector256.Create((short)0x0F);
            var pick0 = Vector256.Create(Vector128.Create((short)0x0100), Vector128.Create((short)0x0302)).AsByte(); // see Q6_KInt8
            var step = Vector256.Create((byte)4);
            var pick1 = pick0 + step;
            var pick2 = pick1 + step;
            var pick3 = pick2 + step;
            const int R = QuantizedActivations.Int8BlockBytes;
            for (int b = 0; b < x.Cols / 256; b++)
            {
                byte* block = w + b * 84;
                Prefetch(block, 84);
                byte* records = a + b * 8 * R;
                var packed = Avx2.ConvertToVector256Int16(block); // scale | minimum << 4, per 16 values
                var scales = packed & low;
                var mins = Avx2.ShiftRightLogical(packed, 4);
                var sums = SumsHalves(records);
                var int8Scales = Avx.LoadVector256(dx + b * 8) * 128; // the int8 values' scales, as in the records
                Avx.Store(factors, int8Scales * half[Unsafe.ReadUnaligned<ushort>(block + 80)]);
                minimums = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(sums, mins)), int8Scales * half[Unsafe.ReadUnaligned<ushort>(block + 82)], minimums);
                var firstHalf = Avx2.Permute4x64(scales.AsUInt64(), 0x44).AsByte();
                var secondHalf = Avx2.Permute4x64(scales.AsUInt64(), 0xEE).AsByte();
                for (int h = 0; h < 2; h++)
                {
                    var qs = Avx.LoadVector256(block + 16 + 32 * h).AsUInt16();
                    var halfScales = h == 0 ? firstHalf : secondHalf;
                    byte* r = records + 4 * h * R;
                    float* fh = factors + 4 * h;
                    accEven = ScaledPart(qs.AsByte() & m3, r, Avx2.Shuffle(halfScales, pick0), fh[0], accEven);
                    accOdd = ScaledPart(Avx2.ShiftRightLogical(qs, 2).AsByte() & m3, r + R, Avx2.Shuffle(halfScales, pick1), fh[1], accOdd);
                    accEven = ScaledPart(Avx2.ShiftRightLogical(qs, 4).AsByte() & m3, r + 2 * R, Avx2.Shuffle(halfScales, pick2), fh[2], accEven);
                    accOdd = ScaledPart(Avx2.ShiftRightLogical(qs, 6).AsByte() & m3, r + 3 * R, Avx2.Shuffle(halfScales, pick3), fh[3], accOdd);
                }
            }

            return Vector256.Sum(accEven + accOdd) - Vector256.Sum(minimums);
        }
    }

    /// <summary>Q3_K's 16 scales (0–63; the value is the scale less 32) from their 12 packed bytes: 4 low bits, then 2 high bits each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Q3_KScales(byte* packed, byte* scales)
    {
        uint a0 = Unsafe.ReadUnaligned<uint>(packed), a1 = Unsafe.ReadUnaligned<uint>(packed + 4), high = Unsafe.ReadUnaligned<uint>(packed + 8);
        const uint Low4 = 0x0F0F0F0F, Low2 = 0x03030303;
        Unsafe.WriteUnaligned(scales, (a0 & Low4) | ((high & Low2) << 4));
        Unsafe.WriteUnaligned(scales + 4, (a1 & Low4) | (((high >> 2) & Low2) << 4));
        Unsafe.WriteUnaligned(scales + 8, ((a0 >> 4) & Low4) | (((high >> 4) & Low2) << 4));
        Unsafe.WriteUnaligned(scales + 12, ((a1 >> 4) & Low4) | (((high >> 6) & Low2) << 4));
    }
}
