using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Llama2.Core.Gguf;
using Llama2.Core.Model;
using Llama2.Core.Quantization;

namespace Llama2.Inference.Kernels;

/// <summary>The elementwise and reduction kernels of the forward pass, in TensorPrimitives style (inputs first, destination last).</summary>
public static class Ops
{
    /// <summary>Meta's RMSNorm: <c>x · rsqrt(mean(x²) + eps) · weight</c>, in float32.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> destination)
    {
        float sumSquares = TensorPrimitives.SumOfSquares(x);
        float scale = 1f / MathF.Sqrt(sumSquares / x.Length + eps);
        TensorPrimitives.Multiply(x, scale, destination);
        TensorPrimitives.Multiply(destination, weight, destination);
    }

    /// <summary>Softmax in place, stable (max subtracted first).</summary>
    public static void Softmax(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        float sum = TensorPrimitives.Sum(x);
        TensorPrimitives.Multiply(x, 1f / sum, x);
    }

    /// <summary>SwiGLU's gate: <c>silu(gate) · up</c> into <paramref name="destination"/>.</summary>
    public static void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            float g = gate[i];
            destination[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>
    /// Rotates interleaved pairs (Meta's layout: elements 2i and 2i+1 of each head) of
    /// <paramref name="x"/> (heads × headDim) by the angles of one position.
    /// </summary>
    public static void Rope(Span<float> x, int headDim, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int h = 0; h < x.Length; h += headDim)
        {
            var head = x.Slice(h, headDim);
            for (int i = 0; i < headDim / 2; i++)
            {
                float a = head[2 * i], b = head[2 * i + 1];
                head[2 * i] = a * cos[i] - b * sin[i];
                head[2 * i + 1] = a * sin[i] + b * cos[i];
            }
        }
    }
}
