using System.Buffers.Binary;
using Llama2.Core.Gguf;
using Llama2.Core.Quantization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama2.Inference.Kernels;

/// <summary>
/// Activations quantized for integer dot products with quantized weights: per 32-element block, a scale d and
/// int16 values x ≈ X·d with |X| ≤ 16383 (an int8 part q and an int8 residual r in units of 1/128: X = 128·q + r,
/// about 15 bits), so the integer kernels keep almost float accuracy (llama.cpp keeps only q) while reading each
/// weight byte once; the kernels widen the weights to int16 and multiply-add pairs (<c>vpmaddwd</c>). Prompt
/// processing (<see cref="Int8Gemm"/>) and the Q4_K and Q6_K generation kernels take the int8 part alone
/// (<see cref="Int8"/>), as llama.cpp does, for <c>vpmaddubsw</c>'s 32 multiply-adds per instruction; the logits keep the
/// int16 values (Q6_K's <see cref="QuantDot.Q6_K"/>).
/// </summary>
public sealed class QuantizedActivations
{
    public QuantizedActivations(int cols)
    {
        Cols = cols;
        X = new short[cols];
        D = new float[cols / 32];
        S = new int[cols / 32];
        Int8 = new byte[cols / 32 * Int8BlockBytes];
    }

    public int Cols { get; private set; }

    /// <summary>128·q + r per value.</summary>
    public short[] X { get; }

    /// <summary>Per block: the scale of <see cref="X"/>.</summary>
    public float[] D { get; }

    /// <summary>Per block: ΣX, for kernels that use unsigned weights (w − 8 = w_u − 8).</summary>
    public int[] S { get; }

    /// <summary>Bytes per block of <see cref="Int8"/>.</summary>
    public const int Int8BlockBytes = 48;

    /// <summary>
    /// The int8 part q alone (llama.cpp's Q8_0 activations), for prompt processing's <see cref="Int8Gemm"/> and the Q4_K
    /// and Q6_K generation kernels, one record per block so that a kernel follows one pointer per token: 32 × q (sbyte), its scale 128·D (float, at 32), Σq (int,
    /// at 36), Σq of each 16 values (2 × short, at 40), 4 bytes of padding.
    /// </summary>
    public byte[] Int8 { get; }

    /// <summary>The int8 value q of column <paramref name="i"/> (see <see cref="Int8"/>).</summary>
    public sbyte Int8Value(int i) => (sbyte)Int8[i / 32 * Int8BlockBytes + i % 32];

    /// <summary>The scale of block <paramref name="b"/>'s int8 values.</summary>
    public float Int8Scale(int b) => BitConverter.ToSingle(Int8, b * Int8BlockBytes + 32);

    /// <summary>Quantizes <paramref name="x"/> (its first <paramref name="cols"/> values; a multiple of 32): AVX2, with
    /// <see cref="SetNaive"/> as its twin (the same values bit for bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Set(ReadOnlySpan<float> x, int cols)
    {
        if (!Avx2.IsSupported || x.Length < cols)
        {
            SetNaive(x, cols);
            return;
        }

        Cols = cols;
        fixed (float* px = x, pd = D)
        fixed (short* pq = X)
        fixed (byte* int8 = Int8)
        fixed (int* ps = S)
        {
            var signless = Vector256.Create(0x7FFFFFFF).AsSingle();
            for (int b = 0; b < cols / 32; b++)
            {
                float* xs = px + b * 32;
                var v0 = Avx.LoadVector256(xs);
                var v1 = Avx.LoadVector256(xs + 8);
                var v2 = Avx.LoadVector256(xs + 16);
                var v3 = Avx.LoadVector256(xs + 24);
                var amaxV = Avx.Max(Avx.Max(Avx.And(v0, signless), Avx.And(v1, signless)), Avx.Max(Avx.And(v2, signless), Avx.And(v3, signless)));
                var amax4 = Sse.Max(amaxV.GetLower(), amaxV.GetUpper());
                amax4 = Sse.Max(amax4, Sse.MoveHighToLow(amax4, amax4));
                float amax = MathF.Max(amax4.ToScalar(), amax4.GetElement(1));
                float d = amax / 127, id = d != 0 ? 1 / d : 0;
                var idV = Vector256.Create(id);
                var x0 = Quantize(v0, idV, out var q0);
                var x1 = Quantize(v1, idV, out var q1);
                var x2 = Quantize(v2, idV, out var q2);
                var x3 = Quantize(v3, idV, out var q3);
                Avx.Store(pq + b * 32, Vector256.Narrow(x0, x1));
                Avx.Store(pq + b * 32 + 16, Vector256.Narrow(x2, x3));
                pd[b] = d / 128;
                ps[b] = Vector256.Sum(Avx2.Add(Avx2.Add(x0, x1), Avx2.Add(x2, x3)));
                byte* record = int8 + b * Int8BlockBytes;
                Avx.Store((sbyte*)record, Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3)));
                int low = Vector256.Sum(Avx2.Add(q0, q1)), high = Vector256.Sum(Avx2.Add(q2, q3));
                SetInt8Sums(record, 128 * pd[b], low, high);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void SetInt8Sums(byte* record, float scale, int low, int high)
    {
        *(float*)(record + 32) = scale;
        *(int*)(record + 36) = low + high;
        *(short*)(record + 40) = (short)low;
        *(short*)(record + 42) = (short)high;
        *(int*)(record + 44) = 0;
    }

    /// <summary>128·q + r for 8 values already known to be within ±127 after scaling by <paramref name="id"/>; q alone
    /// in <paramref name="q"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Quantize(Vector256<float> v, Vector256<float> id, out Vector256<int> q)
    {
        var scaled = Avx.Multiply(v, id);
        var rounded = Avx.RoundToNearestInteger(scaled);
        var r = Avx.ConvertToVector256Int32(Avx.RoundToNearestInteger(Avx.Multiply(Avx.Subtract(scaled, rounded), Vector256.Create(128f))));
        r = Avx2.Min(Avx2.Max(r, Vector256.Create(-127)), Vector256.Create(127));
        q = Avx.ConvertToVector256Int32(rounded);
        return Avx2.Add(Avx2.ShiftLeftLogical(q, 7), r);
    }

    private static int Sum(ReadOnlySpan<sbyte> values)
    {
        int sum = 0;
        foreach (sbyte v in values)
        {
            sum += v;
        }

        return sum;
    }

    /// <summary>The scalar twin of <see cref="Set"/>.</summary>
    public void SetNaive(ReadOnlySpan<float> x, int cols)
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
                X[b * 32 + j] = (short)(128 * q + r);
                Int8[b * Int8BlockBytes + j] = (byte)(sbyte)q;
                sum += 128 * q + r;
            }

            D[b] = d / 128;
            S[b] = sum;
            var q8 = MemoryMarshal.Cast<byte, sbyte>(Int8.AsSpan(b * Int8BlockBytes, 32));
            unsafe
            {
                fixed (byte* record = &Int8[b * Int8BlockBytes])
                {
                    SetInt8Sums(record, 128 * D[b], Sum(q8[..16]), Sum(q8[16..]));
                }
            }
        }
    }
}

/// <summary>Integer dot products of a quantized weight row with <see cref="QuantizedActivations"/>; AVX2 with scalar twins.</summary>
public static unsafe class QuantDot
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
