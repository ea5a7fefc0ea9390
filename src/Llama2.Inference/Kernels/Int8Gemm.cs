using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Llama2.Core.Gguf;
using Llama2.Core.Quantization;

namespace Llama2.Inference.Kernels;

/// <summary>
/// Prompt processing for Q4_0, Q4_K, Q6_K and Q8_0 weights with int8 activations (the int8 part
/// <see cref="QuantizedActivations.Int8"/>, as llama.cpp does): eight weight rows are unpacked once per batch into their
/// unsigned values (Q4: 0–15, Q6_K: 0–63) interleaved by row, four columns per row, so one 32-byte load holds 8 rows ×
/// 4 columns and one <c>vpmaddubsw</c> against a token's 4 broadcast activation bytes multiplies and adds all of them:
/// 32 multiply-adds per instruction where a float FMA does 8. Products are summed in int16 as far as they cannot
/// saturate (Q4: all eight of a block, at most 8 · 2 · 15 · 127 = 30480; Q6_K: two, 2 · 2 · 63 · 127 = 32004) and widened by
/// <c>vpmaddwd</c>. Every 32 columns have, per row, a float scale and minimum (Q4_0: d and 8·d; Q4_K: d·sc and dmin·m),
/// so a block adds D·(scale·Σu·q − min·Σq) per token and row. Q6_K (an int8 scale sc per 16 columns, values u − 32)
/// stays integer for a whole block: <c>vpmaddwd</c> against sc widens the products, and one more against the pairs
/// (32·sc_low, 32·sc_high) and (Σq_low, Σq_high) subtracts the offset; its float scale is d. Q8_0's signed values are
/// split into two nibble values, w = 16·(h − 8) + l, so it takes twice the products of Q4_0 (AVX2 has no signed × signed
/// byte product; llama.cpp's sign trick costs two more instructions per product).
/// The reference twin is <see cref="Naive"/>.
/// </summary>
public static unsafe class Int8Gemm
{
    /// <summary>Rows per packed panel (the lanes of an AVX2 int32 vector).</summary>
    public const int Rows = 8;

    /// <summary>Whether <paramref name="type"/> has the kernel on this machine (AVX2 and FMA).</summary>
    public static bool Supports(GgmlType type) => Avx2.IsSupported && Fma.IsSupported && type is GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K or GgmlType.Q8_0;

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
                dot += dense[b * 32 + j] * x.Int8Value(b * 32 + j);
            }

            sum += dot * x.Int8Scale(b);
        }

        return (float)sum;
    }

    /// <summary>Eight rows unpacked for <see cref="Multiply"/>: one per thread, sized for the widest matrix.</summary>
    public sealed class Panel(int maxCols)
    {
        /// <summary>Per 32 columns, per 4 columns: rows 0–7 × 4 unsigned values (Q8_0: the low nibbles, then the high ones).</summary>
        internal byte[] Values { get; } = new byte[2 * Rows * maxCols];

        /// <summary><c>[8·block + row]</c>: the scale of the integer dot.</summary>
        internal float[] Scales { get; } = new float[Rows * maxCols / 32];

        /// <summary><c>[8·block + row]</c>: the minimum (Q4).</summary>
        internal float[] Mins { get; } = new float[Rows * maxCols / 32];

        /// <summary>
        /// Q6_K, 48 per block, for <c>vpmaddwd</c>: <c>[48·block + 16·half + 2·row + 0|1]</c> the int8 scale sc of each 16
        /// columns; <c>[48·block + 32 + 2·row + half]</c> 32·sc, the offset's multiplier.
        /// </summary>
        internal short[] SubScales { get; } = new short[48 * maxCols / 32];
    }

    /// <summary>Unpacks 8 consecutive rows (<paramref name="rows"/>, each <paramref name="rowBytes"/> long) into <paramref name="panel"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int cols, Panel panel)
    {
        ArgumentNullException.ThrowIfNull(panel);
        float[] halfTable = QuantDot.s_half;
        var block8 = stackalloc int[2 * 8 * Rows]; // one block of the 8 rows: per row, 32 values as 8 groups of 4 (Q8_0: twice)
        int blockBytes = BlockBytes(type);
        fixed (byte* w = rows, p = panel.Values)
        fixed (float* s = panel.Scales, m = panel.Mins, half = halfTable)
        fixed (short* sub = panel.SubScales)
        {
            var low = Vector256.Create((byte)0x0F);
            for (int b = 0; b < cols / 32; b++)
            {
                for (int r = 0; r < Rows; r++)
                {
                    Vector256<byte> unsigned;
                    if (type == GgmlType.Q8_0)
                    {
                        // w = 16·(h − 8) + l with l = w & 15 and h = (w + 128) >> 4, both 0–15
                        byte* block = w + r * rowBytes + b * 34;
                        s[Rows * b + r] = half[Unsafe.ReadUnaligned<ushort>(block)];
                        var bytes = Avx.LoadVector256(block + 2);
                        Avx.Store((byte*)(block8 + 8 * Rows + 8 * r), Avx2.ShiftRightLogical((bytes ^ Vector256.Create((byte)0x80)).AsUInt16(), 4).AsByte() & low);
                        unsigned = bytes & low;
                    }
                    else if (type == GgmlType.Q4_0)
                    {
                        byte* block = w + r * rowBytes + b * 18;
                        float d = half[Unsafe.ReadUnaligned<ushort>(block)];
                        (s[Rows * b + r], m[Rows * b + r]) = (d, 8 * d);
                        var bytes = Sse2.LoadVector128(block + 2);
                        unsigned = Vector256.Create(bytes, Sse2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte()) & low;
                    }
                    else if (type == GgmlType.Q4_K)
                    {
                        byte* block = w + r * rowBytes + b / 8 * 144;
                        int j = b % 8;
                        var (sc, mn) = DequantizeK.ScaleMin(j, block + 4);
                        s[Rows * b + r] = half[Unsafe.ReadUnaligned<ushort>(block)] * sc;
                        m[Rows * b + r] = half[Unsafe.ReadUnaligned<ushort>(block + 2)] * mn;
                        var bytes = Avx.LoadVector256(block + 16 + 32 * (j / 2));
                        unsigned = (j % 2 == 0 ? bytes : Avx2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte()) & low;
                    }
                    else
                    {
                        // Q6_K (ggml's dequantize_row_q6_K): 32 columns are part j%4 of 128-column half j/4 of a super-block
                        byte* block = w + r * rowBytes + b / 8 * 210;
                        int j = b % 8, h = j / 4, part = j % 4;
                        sbyte* sc = (sbyte*)(block + 192 + 8 * h + 2 * part);
                        s[Rows * b + r] = half[Unsafe.ReadUnaligned<ushort>(block + 208)];
                        short* subScales = sub + 48 * b;
                        for (int k = 0; k < 2; k++)
                        {
                            subScales[2 * r + k] = sc[0];
                            subScales[16 + 2 * r + k] = sc[1];
                            subScales[32 + 2 * r + k] = (short)(32 * sc[k]);
                        }

                        var ql = Avx.LoadVector256(block + 64 * h + 32 * (part % 2));
                        var lowBits = (part < 2 ? ql : Avx2.ShiftRightLogical(ql.AsUInt16(), 4).AsByte()) & low;
                        var qh = Avx2.ShiftRightLogical(Avx.LoadVector256(block + 128 + 32 * h).AsUInt16(), Vector128.CreateScalar((ushort)(2 * part))).AsByte() & Vector256.Create((byte)3);
                        unsigned = lowBits | Avx2.ShiftLeftLogical(qh.AsUInt16(), 4).AsByte();
                    }

                    Avx.Store((byte*)(block8 + 8 * r), unsigned);
                }

                Transpose(block8, (int*)(p + b * blockBytes));
                if (type == GgmlType.Q8_0)
                {
                    Transpose(block8 + 8 * Rows, (int*)(p + b * blockBytes + 32 * Rows));
                }
            }
        }
    }

    /// <summary>Packed bytes per 32 columns of the 8 rows.</summary>
    private static int BlockBytes(GgmlType type) => (type == GgmlType.Q8_0 ? 2 : 1) * 32 * Rows;

    /// <summary>An 8 × 8 matrix of 32-bit groups, rows → columns (unpack 32, unpack 64, swap 128-bit lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(int* source, int* destination)
    {
        var t0 = Avx2.UnpackLow(Avx.LoadVector256(source), Avx.LoadVector256(source + 8));
        var t1 = Avx2.UnpackHigh(Avx.LoadVector256(source), Avx.LoadVector256(source + 8));
        var t2 = Avx2.UnpackLow(Avx.LoadVector256(source + 16), Avx.LoadVector256(source + 24));
        var t3 = Avx2.UnpackHigh(Avx.LoadVector256(source + 16), Avx.LoadVector256(source + 24));
        var t4 = Avx2.UnpackLow(Avx.LoadVector256(source + 32), Avx.LoadVector256(source + 40));
        var t5 = Avx2.UnpackHigh(Avx.LoadVector256(source + 32), Avx.LoadVector256(source + 40));
        var t6 = Avx2.UnpackLow(Avx.LoadVector256(source + 48), Avx.LoadVector256(source + 56));
        var t7 = Avx2.UnpackHigh(Avx.LoadVector256(source + 48), Avx.LoadVector256(source + 56));
        var u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32();  // group 0 | group 4 of rows 0–3
        var u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32(); // 1 | 5
        var u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32();  // 2 | 6
        var u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32(); // 3 | 7
        var u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64()).AsInt32();  // the same of rows 4–7
        var u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64()).AsInt32();
        var u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64()).AsInt32();
        var u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64()).AsInt32();
        Avx.Store(destination, Avx2.Permute2x128(u0, u4, 0x20));
        Avx.Store(destination + 8, Avx2.Permute2x128(u1, u5, 0x20));
        Avx.Store(destination + 16, Avx2.Permute2x128(u2, u6, 0x20));
        Avx.Store(destination + 24, Avx2.Permute2x128(u3, u7, 0x20));
        Avx.Store(destination + 32, Avx2.Permute2x128(u0, u4, 0x31));
        Avx.Store(destination + 40, Avx2.Permute2x128(u1, u5, 0x31));
        Avx.Store(destination + 48, Avx2.Permute2x128(u2, u6, 0x31));
        Avx.Store(destination + 56, Avx2.Permute2x128(u3, u7, 0x31));
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

    /// <summary>y[t·yStride + r] = packed row r · token t for the 8 rows of <paramref name="panel"/> and the first
    /// <paramref name="n"/> tokens of <paramref name="x"/>: four tokens at a time, then one.</summary>
    public static void Multiply(GgmlType type, Panel panel, int cols, QuantizedActivations[] x, int n, Span<float> y, int yStride)
    {
        ArgumentNullException.ThrowIfNull(panel);
        ArgumentNullException.ThrowIfNull(x);
        fixed (byte* p = panel.Values)
        fixed (float* s = panel.Scales, m = panel.Mins, py = y)
        fixed (short* sub = panel.SubScales)
        {
            int t = 0, blocks = cols / 32;
            for (; t + 4 <= n; t += 4)
            {
                switch (type)
                {
                    case GgmlType.Q4_0: Four<Q4_0>(p, s, m, sub, blocks, x[t], x[t + 1], x[t + 2], x[t + 3], py + t * yStride, yStride); break;
                    case GgmlType.Q4_K: Four<Q4_K>(p, s, m, sub, blocks, x[t], x[t + 1], x[t + 2], x[t + 3], py + t * yStride, yStride); break;
                    case GgmlType.Q8_0: FourQ8_0(p, s, blocks, x[t], x[t + 1], x[t + 2], x[t + 3], py + t * yStride, yStride); break;
                    default: Four<Q6_K>(p, s, m, sub, blocks, x[t], x[t + 1], x[t + 2], x[t + 3], py + t * yStride, yStride); break;
                }
            }

            for (; t < n; t++)
            {
                switch (type)
                {
                    case GgmlType.Q4_0: One<Q4_0>(p, s, m, sub, blocks, x[t], py + t * yStride); break;
                    case GgmlType.Q4_K: One<Q4_K>(p, s, m, sub, blocks, x[t], py + t * yStride); break;
                    case GgmlType.Q8_0: One<Q8_0>(p, s, m, sub, blocks, x[t], py + t * yStride); break;
                    default: One<Q6_K>(p, s, m, sub, blocks, x[t], py + t * yStride); break;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Four<TType>(byte* packed, float* scales, float* mins, short* subScales, int blocks, QuantizedActivations x0, QuantizedActivations x1, QuantizedActivations x2, QuantizedActivations x3, float* y, int yStride)
    {
        fixed (byte* a0 = x0.Int8, a1 = x1.Int8, a2 = x2.Int8, a3 = x3.Int8)
        {
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++)
            {
                byte* w = packed + b * 32 * Rows;
                int o = b * QuantizedActivations.Int8BlockBytes;
                var ws = Avx.LoadVector256(scales + b * Rows);
                var wm = typeof(TType) == typeof(Q4_K) ? Avx.LoadVector256(mins + b * Rows) : default;
                short* sub = subScales + 48 * b;
                f0 = Dot<TType>(w, a0 + o, ws, wm, sub, f0);
                f1 = Dot<TType>(w, a1 + o, ws, wm, sub, f1);
                f2 = Dot<TType>(w, a2 + o, ws, wm, sub, f2);
                f3 = Dot<TType>(w, a3 + o, ws, wm, sub, f3);
            }

            Avx.Store(y, f0);
            Avx.Store(y + yStride, f1);
            Avx.Store(y + 2 * yStride, f2);
            Avx.Store(y + 3 * yStride, f3);
        }
    }

    /// <summary>
    /// Q8_0, four tokens: a block's 8 groups one after the other, each group's low and high nibbles against the 4 tokens
    /// (8 int16 sums live, where holding a block's 16 weight vectors for the 4 tokens would spill them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourQ8_0(byte* packed, float* scales, int blocks, QuantizedActivations x0, QuantizedActivations x1, QuantizedActivations x2, QuantizedActivations x3, float* y, int yStride)
    {
        fixed (byte* a0 = x0.Int8, a1 = x1.Int8, a2 = x2.Int8, a3 = x3.Int8)
        {
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++)
            {
                byte* w = packed + b * 2 * 32 * Rows;
                int o = b * QuantizedActivations.Int8BlockBytes;
                int* q0 = (int*)(a0 + o), q1 = (int*)(a1 + o), q2 = (int*)(a2 + o), q3 = (int*)(a3 + o);
                Vector256<short> l0 = default, l1 = default, l2 = default, l3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
                for (int g = 0; g < 8; g++)
                {
                    var low = Avx.LoadVector256(w + 32 * g);
                    var high = Avx.LoadVector256(w + 32 * Rows + 32 * g);
                    var x = Vector256.Create(q0[g]).AsSByte();
                    (l0, h0) = (Avx2.Add(l0, Avx2.MultiplyAddAdjacent(low, x)), Avx2.Add(h0, Avx2.MultiplyAddAdjacent(high, x)));
                    x = Vector256.Create(q1[g]).AsSByte();
                    (l1, h1) = (Avx2.Add(l1, Avx2.MultiplyAddAdjacent(low, x)), Avx2.Add(h1, Avx2.MultiplyAddAdjacent(high, x)));
                    x = Vector256.Create(q2[g]).AsSByte();
                    (l2, h2) = (Avx2.Add(l2, Avx2.MultiplyAddAdjacent(low, x)), Avx2.Add(h2, Avx2.MultiplyAddAdjacent(high, x)));
                    x = Vector256.Create(q3[g]).AsSByte();
                    (l3, h3) = (Avx2.Add(l3, Avx2.MultiplyAddAdjacent(low, x)), Avx2.Add(h3, Avx2.MultiplyAddAdjacent(high, x)));
                }

                var ws = Avx.LoadVector256(scales + b * Rows);
                f0 = Q8_0Sum(l0, h0, (byte*)q0, ws, f0);
                f1 = Q8_0Sum(l1, h1, (byte*)q1, ws, f1);
                f2 = Q8_0Sum(l2, h2, (byte*)q2, ws, f2);
                f3 = Q8_0Sum(l3, h3, (byte*)q3, ws, f3);
            }

            Avx.Store(y, f0);
            Avx.Store(y + yStride, f1);
            Avx.Store(y + 2 * yStride, f2);
            Avx.Store(y + 3 * yStride, f3);
        }
    }

    /// <summary>f + D·d·(16·Σh·q + Σl·q − 128·Σq) for a Q8_0 block's int16 sums of low and high nibble products.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8_0Sum(Vector256<short> low, Vector256<short> high, byte* x, Vector256<float> scales, Vector256<float> f)
    {
        var ones = Vector256.Create((short)1);
        var whole = Avx2.Add(Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(high, ones), 4),
            Avx2.Subtract(Avx2.MultiplyAddAdjacent(low, ones), Vector256.Create(128 * *(int*)(x + 36))));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(whole), scales * *(float*)(x + 32), f);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void One<TType>(byte* packed, float* scales, float* mins, short* subScales, int blocks, QuantizedActivations x, float* y)
    {
        fixed (byte* a = x.Int8)
        {
            var f = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++)
            {
                f = Dot<TType>(packed + b * (typeof(TType) == typeof(Q8_0) ? 2 : 1) * 32 * Rows, a + b * QuantizedActivations.Int8BlockBytes, Avx.LoadVector256(scales + b * Rows),
                    Avx.LoadVector256(mins + b * Rows), subScales + 48 * b, f);
            }

            Avx.Store(y, f);
        }
    }

    /// <summary>
    /// f + D·(scale·Σu·q − min·Σq) for one 32-column block of the 8 packed rows and one token's int8 block
    /// <paramref name="x"/> (a <see cref="QuantizedActivations.Int8"/> record; Q6_K: with the integer scales and offsets
    /// <paramref name="subScales"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Dot<TType>(byte* w, byte* x, Vector256<float> scales, Vector256<float> mins, short* subScales, Vector256<float> f)
    {
        float d = *(float*)(x + 32);
        if (typeof(TType) == typeof(Q6_K))
        {
            var sixBit = Block<TType>(w, x, subScales);
            var offset = Avx2.MultiplyAddAdjacent(Avx.LoadVector256(subScales + 32), Vector256.Create(*(int*)(x + 40)).AsInt16());
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(sixBit, offset)), scales * d, f);
        }

        int sumQ = *(int*)(x + 36);
        if (typeof(TType) == typeof(Q8_0))
        {
            return Q8_0Sum(Products(w, x), Products(w + 32 * Rows, x), x, scales, f);
        }

        var dot = Block<TType>(w, x, subScales);
        if (typeof(TType) == typeof(Q4_0))
        {
            // min = 8·scale, subtracted in integers (one FMA less per block and token: ~10% of the kernel)
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(dot, Vector256.Create(8 * sumQ))), scales * d, f);
        }

        f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), scales * d, f);
        return Fma.MultiplyAddNegated(mins, Vector256.Create(d * sumQ), f);
    }

    /// <summary>
    /// The 32 columns of a block: eight products of 8 rows × 4 columns, widened to int32 per row. Q4 sums all eight in int16
    /// (at most 8 · 2 · 15 · 127 = 30480), one after the other so that few registers are live; Q6_K sums pairs and widens
    /// each against its scale per 16 columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Block<TType>(byte* w, byte* x, short* subScales)
    {
        if (typeof(TType) == typeof(Q6_K))
        {
            var low = Avx.LoadVector256(subScales);
            var high = Avx.LoadVector256(subScales + 16);
            var sum = Avx2.MultiplyAddAdjacent(Avx2.Add(Product(w, x, 0), Product(w, x, 1)), low);
            sum = Avx2.Add(sum, Avx2.MultiplyAddAdjacent(Avx2.Add(Product(w, x, 2), Product(w, x, 3)), low));
            sum = Avx2.Add(sum, Avx2.MultiplyAddAdjacent(Avx2.Add(Product(w, x, 4), Product(w, x, 5)), high));
            return Avx2.Add(sum, Avx2.MultiplyAddAdjacent(Avx2.Add(Product(w, x, 6), Product(w, x, 7)), high));
        }

        return Avx2.MultiplyAddAdjacent(Products(w, x), Vector256.Create((short)1));
    }

    /// <summary>The eight products of a block of 4-bit values, summed in int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Products(byte* w, byte* x)
    {
        var products = Avx2.Add(Product(w, x, 0), Product(w, x, 1));
        products = Avx2.Add(products, Product(w, x, 2));
        products = Avx2.Add(products, Product(w, x, 3));
        products = Avx2.Add(products, Product(w, x, 4));
        products = Avx2.Add(products, Product(w, x, 5));
        products = Avx2.Add(products, Product(w, x, 6));
        return Avx2.Add(products, Product(w, x, 7));
    }

    /// <summary>Group <paramref name="g"/> of a block: 8 rows × 4 columns times a token's 4 int8 values, summed in pairs (int16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Product(byte* w, byte* x, int g) =>
        Avx2.MultiplyAddAdjacent(Avx.LoadVector256(w + 32 * g), Vector256.Create(((int*)x)[g]).AsSByte());

    /// <summary>Type argument: every minimum is 8·scale, so the minimum term is integer (the JIT drops the other branches).</summary>
    private readonly struct Q4_0;

    /// <summary>Type argument: a minimum of its own per 32 columns.</summary>
    private readonly struct Q4_K;

    /// <summary>Type argument: values 0–63 with an int8 scale per 16 columns and an offset of 32.</summary>
    private readonly struct Q6_K;

    /// <summary>Type argument: int8 values as two nibble products, 16·high + low, offset 128.</summary>
    private readonly struct Q8_0;
}
