using TorchSharp;
using static TorchSharp.torch;

namespace Llama2.Training;

/// <summary>
/// Tensor arithmetic with numbers that keeps every libtorch Scalar alive until the native call has returned.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 wraps the numbers of <c>a * 0.5</c>, <c>a + 1e-5</c>, <c>pow(2)</c> or <c>clamp(lo, hi)</c>, and the
/// implicit alpha 1 of <c>a + b</c>, in <see cref="Scalar"/>s that nothing but the finalizer frees. When another
/// thread starts a GC while libtorch runs, the finalizer can free such a Scalar before libtorch has read it: c10's
/// "Expected false to be true" from <c>Scalar::toFloat</c>, or a crash (dotnet/TorchSharp#1434). Those calls are
/// compile errors here (build/BannedSymbols.txt); these helpers, or a Scalar held by <c>using</c>, replace them.
/// </remarks>
public static class Scalars
{
    // A static root is never finalized.
    private static readonly Scalar s_one = 1.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        return a.add(b, s_one);
    }

    /// <summary><paramref name="a"/> + <paramref name="b"/>.</summary>
    public static Tensor Plus(this Tensor a, double b)
    {
        ArgumentNullException.ThrowIfNull(a);
        using var s = b.ToScalar();
        return a.add(s, s_one);
    }

    /// <summary><paramref name="a"/> · <paramref name="b"/>.</summary>
    public static Tensor Times(this Tensor a, double b)
    {
        ArgumentNullException.ThrowIfNull(a);
        using var s = b.ToScalar();
        return a.mul(s);
    }

    /// <summary><paramref name="a"/> / <paramref name="b"/>.</summary>
    public static Tensor Over(this Tensor a, double b)
    {
        ArgumentNullException.ThrowIfNull(a);
        using var s = b.ToScalar();
        return a.div(s);
    }

    /// <summary><paramref name="a"/> to the power <paramref name="exponent"/>.</summary>
    public static Tensor Pow(this Tensor a, double exponent)
    {
        ArgumentNullException.ThrowIfNull(a);
        using var s = exponent.ToScalar();
        return a.pow(s);
    }

    /// <summary><paramref name="a"/> limited to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Tensor Clamp(this Tensor a, double min, double max)
    {
        ArgumentNullException.ThrowIfNull(a);
        using Scalar lo = min.ToScalar(), hi = max.ToScalar();
        return a.clamp(lo, hi);
    }

    /// <summary><paramref name="a"/> ≠ <paramref name="b"/>, elementwise.</summary>
    public static Tensor NotEqual(this Tensor a, long b)
    {
        ArgumentNullException.ThrowIfNull(a);
        using var s = b.ToScalar();
        return a.ne(s);
    }

    /// <summary>start, start + step, … below stop, as <c>torch.arange</c>.</summary>
    public static Tensor Arange(long start, long stop, long step = 1, ScalarType? dtype = null, Device? device = null)
    {
        using Scalar first = start.ToScalar(), end = stop.ToScalar(), by = step.ToScalar();
        return arange(first, end, by, dtype, device);
    }

    /// <summary>Sets every element of <paramref name="a"/> to <paramref name="value"/>, in place.</summary>
    public static Tensor Fill(this Tensor a, double value)
    {
        ArgumentNullException.ThrowIfNull(a);
        using var s = value.ToScalar();
        return a.fill_(s);
    }
}
