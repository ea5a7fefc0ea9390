namespace Llama2.Core.World;

/// <summary>
/// SplitMix64: a small, fast, fully specified PRNG, so the world is the same on every machine and every .NET version
/// (<see cref="Random"/>'s algorithm is not a contract and <see cref="HashCode"/> is randomized per process).
/// </summary>
internal sealed class WorldRandom
{
    private ulong _state;

    public WorldRandom(ulong seed) => _state = seed;

    /// <summary>An independent stream for one part of the world, so adding draws in one part never shifts another.</summary>
    public static WorldRandom For(ulong seed, string label)
    {
        ulong h = 14695981039346656037UL; // FNV-1a of the label
        foreach (char c in label)
        {
            h = (h ^ c) * 1099511628211UL;
        }

        return new WorldRandom(Mix(seed ^ Mix(h)));
    }

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>A value in [0, n).</summary>
    public int Next(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        return (int)(NextUInt64() % (ulong)n); // modulo bias is below 2^-40 for the small n used here
    }

    /// <summary>A value in [low, high).</summary>
    public int Next(int low, int high) => low + Next(high - low);

    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public bool Chance(double p) => NextDouble() < p;

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>Fisher–Yates, in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary><paramref name="count"/> distinct items in random order.</summary>
    public List<T> Sample<T>(IReadOnlyList<T> items, int count)
    {
        var copy = items.ToList();
        Shuffle(copy);
        return copy.Take(count).ToList();
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
