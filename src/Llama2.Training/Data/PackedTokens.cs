using Llama2.Core.Tokenization;

namespace Llama2.Training.Data;

/// <summary>
/// Documents packed into one token stream (<c>BOS doc EOS BOS doc EOS …</c>) and cut into windows of
/// <c>seqLen + 1</c> tokens (inputs and the targets shifted by one). The last windows are held out for validation.
/// </summary>
public sealed class PackedTokens
{
    private readonly int[] _tokens;

    private PackedTokens(int[] tokens, int seqLen, int firstWindow, int windowCount)
    {
        _tokens = tokens;
        SeqLen = seqLen;
        FirstWindow = firstWindow;
        WindowCount = windowCount;
    }

    public int SeqLen { get; }

    public int WindowCount { get; }

    private int FirstWindow { get; }

    public long TokenCount => (long)WindowCount * SeqLen;

    /// <summary>Tokenizes and packs documents, then splits the windows into training and validation sets.</summary>
    /// <exception cref="ArgumentException">The corpus is empty or too small for one training and one validation window.</exception>
    public static (PackedTokens Train, PackedTokens Validation) Build(IEnumerable<string> documents, LlamaTokenizer tokenizer, int seqLen, double validationFraction)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var stream = new List<int>();
        int count = 0;
        foreach (var document in documents)
        {
            if (document.Length == 0)
            {
                continue;
            }

            stream.AddRange(tokenizer.Encode(document, addBos: true, addEos: true));
            count++;
        }

        if (count == 0)
        {
            throw new ArgumentException("the training corpus is empty: no document has any text");
        }

        int windows = (stream.Count - 1) / seqLen;
        int validation = Math.Max(1, (int)Math.Ceiling(windows * validationFraction));
        if (windows - validation < 1)
        {
            throw new ArgumentException($"the corpus has {stream.Count} tokens: too few for one training and one validation window of {seqLen + 1} tokens");
        }

        var tokens = stream.ToArray();
        return (new PackedTokens(tokens, seqLen, 0, windows - validation), new PackedTokens(tokens, seqLen, windows - validation, validation));
    }

    /// <summary>Inputs and targets of window <paramref name="index"/> (0 ≤ index &lt; <see cref="WindowCount"/>).</summary>
    public (long[] Inputs, long[] Targets) Window(int index)
    {
        int start = (FirstWindow + index) * SeqLen;
        var inputs = new long[SeqLen];
        var targets = new long[SeqLen];
        for (int i = 0; i < SeqLen; i++)
        {
            inputs[i] = _tokens[start + i];
            targets[i] = _tokens[start + i + 1];
        }

        return (inputs, targets);
    }
}

/// <summary>
/// The order windows are visited in: a fresh seeded permutation each epoch, so position p of the run is
/// always the same window — which is all a checkpoint needs to resume the data stream.
/// </summary>
public sealed class WindowOrder(int windows, ulong seed)
{
    private int _epoch = -1;
    private int[] _order = [];

    /// <summary>The window visited at global position <paramref name="position"/> (0-based, across epochs).</summary>
    public int At(long position)
    {
        int epoch = (int)(position / windows);
        if (epoch != _epoch)
        {
            _order = Permutation(windows, seed + (ulong)epoch * 0x9E3779B97F4A7C15UL);
            _epoch = epoch;
        }

        return _order[position % windows];
    }

    private static int[] Permutation(int n, ulong seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        ulong state = seed;
        for (int i = n - 1; i > 0; i--)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            int j = (int)(z % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }
}
