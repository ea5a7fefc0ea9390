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
