namespace Llama2.Core.Tokenization;

/// <summary>
/// SentencePiece's BPE segmentation (<c>bpe_model.cc</c>): start from characters, repeatedly merge the
/// adjacent pair whose merged piece has the highest score, the left-most pair first among equal scores.
/// Scratch arrays are reused per thread so encoding allocates almost nothing.
/// </summary>
internal sealed class BpeSegmenter
{
    [ThreadStatic]
    private static BpeSegmenter? s_cached;

    // One symbol per character (or user-defined piece); merged symbols grow, absorbed ones get length 0.
    private int[] _start = new int[64];
    private int[] _length = new int[64];
    private int[] _prev = new int[64];
    private int[] _next = new int[64];
    private bool[] _frozen = new bool[64];
    private readonly PriorityQueue<(int Left, int Right, int Length), (float Score, int Left)> _agenda = new(AgendaOrder.Instance);
    private Dictionary<string, int>? _reverseMerges; // merged UNUSED piece → length of its left part
    private readonly Func<string, (int LeftLength, bool Found)> _reverseMerge;

    private BpeSegmenter() => _reverseMerge = ReverseMerge;

    public static BpeSegmenter Rent()
    {
        var segmenter = s_cached ?? new BpeSegmenter();
        s_cached = null;
        return segmenter;
    }

    public static void Return(BpeSegmenter segmenter) => s_cached = segmenter;

    public void Segment(ReadOnlySpan<char> text, LlamaTokenizer tokenizer, List<int> ids)
    {
        if (text.IsEmpty)
        {
            return;
        }

        Ensure(text.Length);
        _agenda.Clear();
        _reverseMerges?.Clear();

        // Split into characters; user-defined pieces are matched first and never merged.
        int count = 0;
        var userDefined = tokenizer.UserDefinedPieces;
        for (int i = 0; i < text.Length; count++)
        {
            int length = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            bool frozen = false;
            foreach (var piece in userDefined)
            {
                if (text[i..].StartsWith(piece, StringComparison.Ordinal))
                {
                    length = piece.Length;
                    frozen = true;
                    break;
                }
            }

            _start[count] = i;
            _length[count] = length;
            _frozen[count] = frozen;
            _prev[count] = count - 1;
            _next[count] = i + length < text.Length ? count + 1 : -1;
            i += length;
        }

        for (int i = 1; i < count; i++)
        {
            TryAddPair(text, tokenizer, i - 1, i);
        }

        // Merge the best pair until none is left. Stale entries (a side already merged away or grown) are skipped.
        while (_agenda.TryDequeue(out var pair, out _))
        {
            int left = pair.Left, right = pair.Right;
            if (_length[left] == 0 || _length[right] == 0 || _length[left] + _length[right] != pair.Length)
            {
                continue;
            }

            _length[left] += _length[right];
            _length[right] = 0;
            _next[left] = _next[right];
            if (_next[right] >= 0)
            {
                _prev[_next[right]] = left;
            }

            TryAddPair(text, tokenizer, _prev[left], left);
            TryAddPair(text, tokenizer, left, _next[left]);
        }

        for (int s = 0; s >= 0; s = _next[s])
        {
            tokenizer.EmitSymbol(text.Slice(_start[s], _length[s]), ids, _reverseMerge);
        }
    }

    private void TryAddPair(ReadOnlySpan<char> text, LlamaTokenizer tokenizer, int left, int right)
    {
        if (left < 0 || right < 0 || _frozen[left] || _frozen[right])
        {
            return;
        }

        int length = _length[left] + _length[right];
        var merged = text.Slice(_start[left], length);
        if (!tokenizer.TryGetMergeable(merged, out int id))
        {
            return;
        }

        var piece = tokenizer.PieceAt(id);
        _agenda.Enqueue((left, right, length), (piece.Score, left));
        if (piece.Type == PieceType.Unused)
        {
            _reverseMerges ??= new Dictionary<string, int>(StringComparer.Ordinal);
            _reverseMerges[merged.ToString()] = _length[left];
        }
    }

    private (int LeftLength, bool Found) ReverseMerge(string piece) =>
        _reverseMerges is not null && _reverseMerges.TryGetValue(piece, out int leftLength) ? (leftLength, true) : (0, false);

    private void Ensure(int length)
    {
        if (_start.Length >= length)
        {
            return;
        }

        int size = Math.Max(length, _start.Length * 2);
        _start = new int[size];
        _length = new int[size];
        _prev = new int[size];
        _next = new int[size];
        _frozen = new bool[size];
    }

    /// <summary>Higher score first; among equal scores, the left-most pair first (SentencePiece's comparator).</summary>
    private sealed class AgendaOrder : IComparer<(float Score, int Left)>
    {
        public static readonly AgendaOrder Instance = new();

        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            int byScore = y.Score.CompareTo(x.Score);
            return byScore != 0 ? byScore : x.Left.CompareTo(y.Left);
        }
    }
}
