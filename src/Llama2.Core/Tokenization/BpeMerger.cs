using System.Globalization;

namespace Llama2.Core.Tokenization;

/// <summary>
/// The merge loop of BPE training: words are arrays of symbol ids; pair counts are kept up to date
/// incrementally (only words that contain the merged pair are recounted) and a max-heap with lazy
/// deletion picks the most frequent valid pair.
/// </summary>
internal sealed class BpeMerger
{
    private const int Unknown = -1; // a character outside the alphabet: never merged

    private readonly TokenizerTrainerOptions _options;
    private readonly List<string> _symbols = [];            // symbol id → text
    private readonly List<int> _symbolChars = [];            // symbol id → length in characters
    private readonly int[][] _words;                          // word → symbol ids (shrinks as pairs merge)
    private readonly int[] _wordLengths;
    private readonly long[] _wordCounts;
    private readonly Dictionary<long, long> _pairCounts = [];
    private readonly Dictionary<long, HashSet<int>> _pairWords = [];
    private readonly Dictionary<long, bool> _validPairs = [];
    private readonly HashSet<long> _newPairs = []; // pairs formed by the current merge, queued after it
    private readonly PriorityQueue<long, (long Count, long Pair)> _heap = new(Comparer<(long Count, long Pair)>.Create(
        (a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : a.Pair.CompareTo(b.Pair)));

    public BpeMerger(Dictionary<string, long> words, List<string> alphabet, TokenizerTrainerOptions options)
    {
        _options = options;
        var symbolIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var c in alphabet)
        {
            symbolIds[c] = AddSymbol(c, 1);
        }

        var lookup = symbolIds.GetAlternateLookup<ReadOnlySpan<char>>();
        _words = new int[words.Count][];
        _wordLengths = new int[words.Count];
        _wordCounts = new long[words.Count];
        int w = 0;
        var buffer = new List<int>();
        foreach (var (word, count) in words)
        {
            buffer.Clear();
            var span = word.AsSpan();
            for (int i = 0; i < span.Length; i += TokenizerTrainer.CharLength(span, i))
            {
                buffer.Add(lookup.TryGetValue(span.Slice(i, TokenizerTrainer.CharLength(span, i)), out int id) ? id : Unknown);
            }

            _words[w] = [.. buffer];
            _wordLengths[w] = buffer.Count;
            _wordCounts[w] = count;
            AddPairs(w, +1);
            w++;
        }

        foreach (var (pair, count) in _pairCounts)
        {
            _heap.Enqueue(pair, (count, pair));
        }

    }

    /// <summary>Performs up to <paramref name="budget"/> merges; returns the merged pieces in order.</summary>
    public List<string> Run(int budget, IProgress<string>? progress)
    {
        var merges = new List<string>(budget);
        while (merges.Count < budget && _heap.TryDequeue(out long pair, out var entry))
        {
            // A pair's count only falls after it first appears (new pairs always contain the newest
            // symbol), so a queued count is an upper bound: re-queue a stale entry with its true count.
            long count = _pairCounts.GetValueOrDefault(pair);
            if (count != entry.Count)
            {
                if (count > 0)
                {
                    _heap.Enqueue(pair, (count, pair));
                }

                continue;
            }

            int left = (int)(pair >> 32), right = (int)pair;
            int merged = AddSymbol(_symbols[left] + _symbols[right], _symbolChars[left] + _symbolChars[right]);
            merges.Add(_symbols[merged]);
            foreach (int w in _pairWords[pair].ToArray())
            {
                MergeInWord(w, left, right, merged);
            }

            _pairWords.Remove(pair);
            foreach (long p in _newPairs)
            {
                _heap.Enqueue(p, (_pairCounts[p], p));
            }

            _newPairs.Clear();
            if (progress is not null && merges.Count % 1000 == 0)
            {
                progress.Report(string.Create(CultureInfo.InvariantCulture, $"{merges.Count}/{budget} merges"));
            }
        }

        return merges;
    }

    private void MergeInWord(int w, int left, int right, int merged)
    {
        var symbols = _words[w];
        int length = _wordLengths[w];
        bool contains = false;
        for (int i = 0; i + 1 < length && !contains; i++)
        {
            contains = symbols[i] == left && symbols[i + 1] == right;
        }

        if (!contains)
        {
            return;
        }

        AddPairs(w, -1);
        int write = 0;
        for (int read = 0; read < length; read++)
        {
            if (read + 1 < length && symbols[read] == left && symbols[read + 1] == right)
            {
                symbols[write++] = merged;
                read++;
            }
            else
            {
                symbols[write++] = symbols[read];
            }
        }

        _wordLengths[w] = write;
        AddPairs(w, +1);
    }

    /// <summary>Adds (sign +1) or removes (−1) the counts of every valid adjacent pair of word <paramref name="w"/>.</summary>
    private void AddPairs(int w, int sign)
    {
        var symbols = _words[w];
        long delta = sign * _wordCounts[w];
        for (int i = 0; i + 1 < _wordLengths[w]; i++)
        {
            int a = symbols[i], b = symbols[i + 1];
            if (a == Unknown || b == Unknown)
            {
                continue;
            }

            long pair = ((long)a << 32) | (uint)b;
            if (!IsValidPair(pair, a, b))
            {
                continue;
            }

            _pairCounts.TryGetValue(pair, out long count);
            count += delta;
            _pairCounts[pair] = count;
            if (sign > 0)
            {
                if (!_pairWords.TryGetValue(pair, out var set))
                {
                    _pairWords[pair] = set = [];
                }

                set.Add(w);
            }

            if (sign > 0 && (a == _symbols.Count - 1 || b == _symbols.Count - 1))
            {
                _newPairs.Add(pair);
            }
        }
    }

    private bool IsValidPair(long pair, int a, int b)
    {
        if (!_validPairs.TryGetValue(pair, out bool valid))
        {
            valid = _symbolChars[a] + _symbolChars[b] <= _options.MaxPieceLength && PieceRules.IsValid(_symbols[a] + _symbols[b], _options);
            _validPairs[pair] = valid;
        }

        return valid;
    }

    private int AddSymbol(string text, int chars)
    {
        _symbols.Add(text);
        _symbolChars.Add(chars);
        return _symbols.Count - 1;
    }
}
