using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Llama2.Core.Gguf;
using Llama2.Core.Model;
using Llama2.Core.Quantization;

namespace Llama2.Inference.Kernels;

/// <summary>
/// <c>y = x · Wᵀ</c> for a batch of activation rows, over any ggml weight type, split across a
/// <see cref="WorkerPool"/> by weight rows (each weight row is read once per batch). Q8_0 and Q4_0 use integer
/// AVX2 dot products against quantized activations; F32 uses SIMD float dots; other types are dequantized
/// row by row into per-thread scratch. No allocation per call.
/// </summary>
public sealed class MatMul
{
    private readonly WorkerPool _pool;
    private readonly QuantizedActivations[] _quantized;   // (batch) activations for the integer kernels
    private readonly float[][] _scratch;                    // (threads, max cols) dequantized rows
    private readonly Action<int, int, int> _job;
    private ModelTensor? _w;
    private float[] _x = [], _y = [];
    private int _n;

    public MatMul(WorkerPool pool, int maxBatch, int maxCols)
    {
        ArgumentNullException.ThrowIfNull(pool);
        _pool = pool;
        _quantized = [.. Enumerable.Range(0, maxBatch).Select(_ => new QuantizedActivations(maxCols))];
        _scratch = [.. Enumerable.Range(0, pool.Threads).Select(_ => new float[maxCols])];
        _job = Rows;
    }

    /// <summary>x (n, cols) → y (n, rows).</summary>
    public void Run(ModelTensor w, float[] x, float[] y, int n)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (x.Length < n * w.Cols || y.Length < n * w.Rows || n > _quantized.Length || w.Cols > _scratch[0].Length)
        {
            throw new ArgumentException($"MatMul {w.Name}: buffers are too small for {n} rows");
        }

        if (w.Type is GgmlType.Q8_0 or GgmlType.Q4_0)
        {
            for (int t = 0; t < n; t++)
            {
                _quantized[t].Set(x.AsSpan(t * w.Cols, w.Cols), w.Cols);
            }
        }

        (_w, _x, _y, _n) = (w, x, y, n);
        _pool.Run(w.Rows, _job);
        _w = null;
    }

    private void Rows(int thread, int start, int end)
    {
        var w = _w!;
        int rows = w.Rows, cols = w.Cols, n = _n;
        switch (w.Type)
        {
            case GgmlType.Q8_0:
                for (int r = start; r < end; r++)
                {
                    var row = w.Row(r);
                    for (int t = 0; t < n; t++)
                    {
                        _y[t * rows + r] = QuantDot.Q8_0(row, _quantized[t]);
                    }
                }

                break;
            case GgmlType.Q4_0:
                for (int r = start; r < end; r++)
                {
                    var row = w.Row(r);
                    for (int t = 0; t < n; t++)
                    {
                        _y[t * rows + r] = QuantDot.Q4_0(row, _quantized[t]);
                    }
                }

                break;
            case GgmlType.F32:
                for (int r = start; r < end; r++)
                {
                    var row = MemoryMarshal.Cast<byte, float>(w.Row(r));
                    for (int t = 0; t < n; t++)
                    {
                        _y[t * rows + r] = TensorPrimitives.Dot(row, _x.AsSpan(t * cols, cols));
                    }
                }

                break;
            default:
                var dense = _scratch[thread].AsSpan(0, cols);
                for (int r = start; r < end; r++)
                {
                    if (w.Type == GgmlType.F16)
                    {
                        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(w.Row(r)), dense);
                    }
                    else
                    {
                        Dequantize.Row(w.Type, w.Row(r), dense);
                    }

                    for (int t = 0; t < n; t++)
                    {
                        _y[t * rows + r] = TensorPrimitives.Dot(dense, _x.AsSpan(t * cols, cols));
                    }
                }

                break;
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
