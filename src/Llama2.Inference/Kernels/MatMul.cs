using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Llama2.Core.Gguf;
using Llama2.Core.Model;
using Llama2.Core.Quantization;

namespace Llama2.Inference.Kernels;

/// <summary>
/// <c>y = x · Wᵀ</c> for a batch of activation rows, over any ggml weight type, split across a
/// <see cref="WorkerPool"/> by weight rows (each weight row is read once per batch). Q8_0, Q4_0 and Q2_K–Q6_K use integer
/// AVX2 dot products against quantized activations for a few rows (generation); for a batch (prompt processing) Q8_0,
/// Q4_0, Q4_K and Q6_K are unpacked eight rows at a time for <see cref="Int8Gemm"/> (int8 activations, as llama.cpp),
/// other types are dequantized into per-thread scratch for the float <see cref="Gemm"/>; F32 uses the float GEMM
/// directly. No allocation per call.
/// </summary>
public sealed class MatMul
{
    private readonly WorkerPool _pool;
    private readonly QuantizedActivations[] _quantized;   // (batch) activations for the integer kernels
    private readonly float[][] _scratch;                    // (threads, TileRows × max cols) dequantized rows
    private readonly Int8Gemm.Panel[] _panels;              // (threads) 8 rows unpacked for the int8 GEMM
    private const int TileRows = 6;
    private readonly Action<int, int, int> _job, _quantize;
    private ModelTensor? _w;
    private float[] _x = [], _y = [];
    private int _n;
    private bool _integer, _packed, _int8;

    /// <summary>
    /// From this many activation rows on, quantized rows are unpacked (Q8_0, Q4_0, Q4_K, Q6_K: <see cref="Int8Gemm"/>) or dequantized
    /// (other types: float32) once and multiplied with the whole batch: the unpacking is shared by the batch, and
    /// register-tiled products beat per-row integer dots once compute-bound.
    /// </summary>
    public const int FloatBatchThreshold = 4;

    public MatMul(WorkerPool pool, int maxBatch, int maxCols)
    {
        ArgumentNullException.ThrowIfNull(pool);
        _pool = pool;
        _quantized = [.. Enumerable.Range(0, maxBatch).Select(_ => new QuantizedActivations(maxCols))];
        _scratch = [.. Enumerable.Range(0, pool.Threads).Select(_ => new float[TileRows * maxCols])];
        _panels = [.. Enumerable.Range(0, pool.Threads).Select(_ => new Int8Gemm.Panel(maxCols))];
        _job = Rows;
        _quantize = Quantize;
    }

    /// <summary>x (n, cols) → y (n, rows). <paramref name="int8"/> = false keeps a batch's activations in float32 and a
    /// token's Q6_K rows on the int16 activations (the logits: int8 activations cost measurable accuracy there).</summary>
    public void Run(ModelTensor w, float[] x, float[] y, int n, bool int8 = true)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (x.Length < n * w.Cols || y.Length < n * w.Rows || n > _quantized.Length || TileRows * w.Cols > _scratch[0].Length)
        {
            throw new ArgumentException($"MatMul {w.Name}: buffers are too small for {n} rows");
        }

        _integer = IntegerKernels && w.Type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K && n < FloatBatchThreshold;
        _packed = int8 && Int8Gemm.Supports(w.Type) && n >= FloatBatchThreshold;
        (_w, _x, _y, _n, _int8) = (w, x, y, n, int8);
        if (_packed)
        {
            _pool.Run(n, _quantize); // a prompt's tokens: 64 × 4096 values are ~0.2 ms on one thread
        }
        else if (_integer)
        {
            Quantize(0, 0, n); // a token or two: not worth a fork-join of the pool
        }

        _pool.Run(w.Rows, _job, Chunk(w.Rows, _pool.Threads));
        _w = null;
    }

    /// <summary>
    /// Whether the AVX2 kernels run here. Without them (ARM) quantized rows are dequantized (Q8_0, Q4_0, Q4_K, Q6_K with
    /// <see cref="PortableDequantize"/>) and multiplied in float32 by <c>TensorPrimitives</c>, for a token as for a batch.
    /// </summary>
    private static bool IntegerKernels => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>
    /// Rows per chunk: about eight chunks per thread, so a thread slowed by a late wake-up or a busy core leaves its
    /// remaining chunks to the others; a multiple of <see cref="Int8Gemm.Rows"/> (whole panels) and at least 32 rows.
    /// </summary>
    internal static int Chunk(int rows, int threads) => threads == 1 ? rows : Math.Max(32, (rows / (8 * threads) + Int8Gemm.Rows - 1) / Int8Gemm.Rows * Int8Gemm.Rows);

    private void Quantize(int thread, int start, int end)
    {
        int cols = _w!.Cols;
        for (int t = start; t < end; t++)
        {
            _quantized[t].Set(_x.AsSpan(t * cols, cols), cols);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a kernel: fully optimised from its first call (the first token), no tiering
    private void Rows(int thread, int start, int end)
    {
        var w = _w!;
        int rows = w.Rows, cols = w.Cols, n = _n;
        if (_packed)
        {
            int r = start, panel = Int8Gemm.Rows * w.RowBytes;
            for (; r + Int8Gemm.Rows <= end; r += Int8Gemm.Rows)
            {
                Int8Gemm.Pack(w.Type, w.Data.Span.Slice(r * w.RowBytes, panel), w.RowBytes, cols, _panels[thread]);
                if (r + 2 * Int8Gemm.Rows <= end)
                {
                    Int8Gemm.Prefetch(w.Data.Span.Slice((r + Int8Gemm.Rows) * w.RowBytes, panel));
                }

                Int8Gemm.Multiply(w.Type, _panels[thread], cols, _quantized, n, _y.AsSpan(r), rows);
            }

            IntegerRows(w, r, end); // the last rows of a range that is not a multiple of 8
            return;
        }

        if (_integer && w.Type is GgmlType.Q4_0 or GgmlType.Q4_K)
        {
            int r = start;
            for (; r + 3 < end; r += 4)
            {
                var four = w.Data.Span.Slice(r * w.RowBytes, 4 * w.RowBytes);
                for (int t = 0; t < n; t++)
                {
                    var y4 = w.Type == GgmlType.Q4_0 ? QuantDot.Q4_0x4(four, w.RowBytes, _quantized[t]) : QuantDot.Q4_Kx4(four, w.RowBytes, _quantized[t]);
                    y4.CopyTo(_y.AsSpan(t * rows + r, 4));
                }
            }

            IntegerRows(w, r, end);
            return;
        }

        if (_integer)
        {
            IntegerRows(w, start, end);
            return;
        }

        if (w.Type == GgmlType.F32)
        {
            var all = MemoryMarshal.Cast<byte, float>(w.Data.Span);
            for (int r = start; r < end; r += TileRows)
            {
                int count = Math.Min(TileRows, end - r);
                Gemm.Multiply(all.Slice(r * cols, count * cols), count, _x, n, cols, _y, rows, r);
            }

            return;
        }

        // Dequantize TileRows rows at a time, then multiply them with the whole batch in float32.
        var dense = _scratch[thread];
        for (int r = start; r < end; r += TileRows)
        {
            int count = Math.Min(TileRows, end - r);
            for (int k = 0; k < count; k++)
            {
                var destination = dense.AsSpan(k * cols, cols);
                var source = w.Row(r + k);
                switch (w.Type)
                {
                    case GgmlType.F16: TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination); break;
                    case GgmlType.BF16: PortableDequantize.BF16(source, destination); break;
                    case GgmlType.Q8_0 when IntegerKernels: Gemm.DequantizeQ8_0(source, destination, QuantDot.s_half); break;
                    case GgmlType.Q4_0 when IntegerKernels: Gemm.DequantizeQ4_0(source, destination, QuantDot.s_half); break;
                    case GgmlType.Q2_K when IntegerKernels: DequantizeK.Q2_K(source, destination, QuantDot.s_half); break;
                    case GgmlType.Q3_K when IntegerKernels: DequantizeK.Q3_K(source, destination, QuantDot.s_half); break;
                    case GgmlType.Q4_K when IntegerKernels: DequantizeK.Q4_K(source, destination, QuantDot.s_half); break;
                    case GgmlType.Q5_K when IntegerKernels: DequantizeK.Q5_K(source, destination, QuantDot.s_half); break;
                    case GgmlType.Q6_K when IntegerKernels: DequantizeK.Q6_K(source, destination, QuantDot.s_half); break;
                    case GgmlType.Q8_0: PortableDequantize.Q8_0(source, destination); break;
                    case GgmlType.Q4_0: PortableDequantize.Q4_0(source, destination); break;
                    case GgmlType.Q4_K: PortableDequantize.Q4_K(source, destination); break;
                    case GgmlType.Q6_K: PortableDequantize.Q6_K(source, destination); break;
                    default: Dequantize.Row(w.Type, source, destination); break;
                }
            }

            Gemm.Multiply(dense.AsSpan(0, count * cols), count, _x, n, cols, _y, rows, r);
        }
    }

    /// <summary>Rows start..end by the integer dot products, one row and token at a time.</summary>
    private void IntegerRows(ModelTensor w, int start, int end)
    {
        for (int r = start; r < end; r++)
        {
            var row = w.Row(r);
            for (int t = 0; t < _n; t++)
            {
                _y[t * w.Rows + r] = w.Type switch
                {
                    GgmlType.Q8_0 => QuantDot.Q8_0(row, _quantized[t]),
                    GgmlType.Q4_0 => QuantDot.Q4_0(row, _quantized[t]),
                    GgmlType.Q2_K => QuantDot.Q2_K(row, _quantized[t]),
                    GgmlType.Q3_K => QuantDot.Q3_K(row, _quantized[t]),
                    GgmlType.Q4_K => QuantDot.Q4_K(row, _quantized[t]),
                    GgmlType.Q5_K => QuantDot.Q5_K(row, _quantized[t]),
                    _ => _int8 ? QuantDot.Q6_KInt8(row, _quantized[t]) : QuantDot.Q6_K(row, _quantized[t]),
                };
            }
        }
    }

    /// <summary>The reference twin: dequantize each row to float32 and take float dot products, one thread.</summary>
    public static void Naive(ModelTensor w, float[] x, float[] y, int n)
    {
        ArgumentNullException.ThrowIfNull(w);
        var dense = new float[w.Cols];
        for (int r = 0; r < w.Rows; r++)
        {
            Dequantize.Row(w.Type, w.Row(r), dense);
            for (int t = 0; t < n; t++)
            {
                double sum = 0;
                for (int i = 0; i < w.Cols; i++)
                {
                    sum += dense[i] * x[t * w.Cols + i];
                }

                y[t * w.Rows + r] = (float)sum;
            }
        }
    }
}
