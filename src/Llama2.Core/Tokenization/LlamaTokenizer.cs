using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Llama2.Core.Tokenization;

/// <summary>
/// The Llama 2 tokenizer: SentencePiece BPE, reproduced exactly (segmentation, byte fallback, decoding).
/// Load it with <see cref="TokenizerLoader"/> or build it from a <see cref="SentencePieceModel"/>.
/// Thread-safe: one instance can serve many threads.
/// </summary>
/// <remarks>
/// Text such as <c>&lt;s&gt;</c> inside the input is plain text: control tokens are never produced by
/// <see cref="Encode(string, bool, bool)"/>, only added by its <c>addBos</c>/<c>addEos</c> flags.
/// </remarks>
public sealed class LlamaTokenizer
{
    internal const char SpaceSymbol = '\u2581'; // ▁

    private readonly VocabularyPiece[] _pieces;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeable; // NORMAL, USER_DEFINED, UNUSED
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _reserved;  // CONTROL, UNKNOWN, BYTE
    private readonly string[] _userDefined; // matched before characters, never split
    private readonly int[] _byteIds = new int[256];
    private readonly bool _splitAtWords;
    private readonly ConcurrentDictionary<string, int[]> _chunkCache = new();
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _chunkLookup;
    private int _cachedChunks;

    private const int MaxCachedChunkLength = 48;
    private const int MaxCacheEntries = 1 << 17;

    /// <summary>Builds the tokenizer from a SentencePiece model.</summary>
    /// <exception cref="ArgumentException">The model is not a BPE model or its vocabulary is inconsistent.</exception>
    public LlamaTokenizer(SentencePieceModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Trainer.ModelType != 2)
        {
            throw new ArgumentException(
                $"the SentencePiece model type is {model.Trainer.ModelType}; only BPE (type 2, as in Llama 2) is supported", nameof(model));
        }

        Model = model;
        _pieces = [.. model.Pieces];
        var mergeable = new Dictionary<string, int>(StringComparer.Ordinal);
        var reserved = new Dictionary<string, int>(StringComparer.Ordinal);
        var userDefined = new List<string>();
        Array.Fill(_byteIds, -1);
        UnknownId = -1;
        for (int id = 0; id < _pieces.Length; id++)
        {
            var (piece, _, type) = _pieces[id];
            bool normal = type is PieceType.Normal or PieceType.UserDefined or PieceType.Unused;
            if (!(normal ? mergeable : reserved).TryAdd(piece, id))
            {
                throw new ArgumentException($"piece {id} '{piece}' appears twice in the vocabulary", nameof(model));
            }

            switch (type)
            {
                case PieceType.UserDefined:
                    userDefined.Add(piece);
                    break;
                case PieceType.Unknown:
                    UnknownId = UnknownId < 0 ? id : throw new ArgumentException("the vocabulary has more than one unknown piece", nameof(model));
                    break;
                case PieceType.Byte:
                    if (!model.Trainer.ByteFallback)
                    {
                        throw new ArgumentException($"piece {id} '{piece}' is a byte piece but byte_fallback is off", nameof(model));
                    }

                    int value = ParseBytePiece(piece);
                    if (value < 0)
                    {
                        throw new ArgumentException($"byte piece {id} '{piece}' is not of the form <0xNN>", nameof(model));
                    }

                    _byteIds[value] = id;
                    break;
            }
        }

        if (UnknownId < 0)
        {
            throw new ArgumentException("the vocabulary has no unknown piece (<unk>)", nameof(model));
        }

        if (model.Trainer.ByteFallback && Array.IndexOf(_byteIds, -1) >= 0)
        {
            throw new ArgumentException($"byte_fallback is on but byte piece <0x{Array.IndexOf(_byteIds, -1):X2}> is missing", nameof(model));
        }

        _mergeable = mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        _reserved = reserved.GetAlternateLookup<ReadOnlySpan<char>>();
        _userDefined = [.. userDefined.OrderByDescending(p => p.Length)];
        BosId = FindControl(model.Trainer.BosId, reserved, "<s>");
        EosId = FindControl(model.Trainer.EosId, reserved, "</s>");
        _splitAtWords = CanSplitAtWords(mergeable.Keys, userDefined);
        _chunkLookup = _chunkCache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The SentencePiece model this tokenizer was built from.</summary>
    public SentencePieceModel Model { get; }

    public int VocabSize => _pieces.Length;

    /// <summary>Beginning-of-sequence id (<c>&lt;s&gt;</c>, 1 in Llama 2), or -1 when the vocabulary has none.</summary>
    public int BosId { get; }

    /// <summary>End-of-sequence id (<c>&lt;/s&gt;</c>, 2 in Llama 2), or -1 when the vocabulary has none.</summary>
    public int EosId { get; }

    public int UnknownId { get; }

    public string IdToPiece(int id) => _pieces[CheckId(id)].Piece;

    public float GetScore(int id) => _pieces[CheckId(id)].Score;

    public PieceType GetPieceType(int id) => _pieces[CheckId(id)].Type;

    /// <summary>SentencePiece's <c>PieceToId</c>: the id of a piece, or the unknown id when it is not in the vocabulary.</summary>
    public int PieceToId(ReadOnlySpan<char> piece) =>
        _reserved.TryGetValue(piece, out int id) || _mergeable.TryGetValue(piece, out id) ? id : UnknownId;

    /// <summary>Encodes text as SentencePiece does (no BOS/EOS unless asked).</summary>
    public int[] Encode(string text, bool addBos = false, bool addEos = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos)
        {
            ids.Add(RequireSpecial(BosId, "BOS"));
        }

        EncodeNormalized(Normalize(text), ids);
        if (addEos)
        {
            ids.Add(RequireSpecial(EosId, "EOS"));
        }

        return [.. ids];
    }

    /// <summary>
    /// Encodes UTF-8 bytes. Malformed bytes become U+FFFD one byte at a time, as SentencePiece's
    /// normalizer does.
    /// </summary>
    public int[] Encode(ReadOnlySpan<byte> utf8, bool addBos = false, bool addEos = false) =>
        Encode(Utf8Text.Decode(utf8), addBos, addEos);

    /// <summary>The pieces of <see cref="Encode(string, bool, bool)"/>, for display and tests.</summary>
    public string[] EncodeAsPieces(string text) => [.. Encode(text).Select(IdToPiece)];

    /// <summary>Decodes ids to text as SentencePiece does (control tokens vanish, byte pieces join into UTF-8).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is negative or not below <see cref="VocabSize"/>.</exception>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var decoder = new StreamingDecoder(this);
        var text = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            text.Append(decoder.Append(id));
        }

        return text.Append(decoder.Finish()).ToString();
    }

    public string Decode(IEnumerable<int> ids) => Decode([.. ids]);

    /// <summary>A decoder for streaming generation: it never emits half a UTF-8 character.</summary>
    public StreamingDecoder CreateStreamingDecoder() => new(this);

    internal VocabularyPiece PieceAt(int id) => _pieces[id];

    internal int CheckId(int id) =>
        (uint)id < (uint)_pieces.Length
            ? id
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is out of range: the vocabulary has {_pieces.Length} pieces (0..{_pieces.Length - 1})");

    internal static int ParseBytePiece(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
        && int.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int value)
            ? value
            : -1;

    /// <summary>SentencePiece's normalizer with an identity rule: whitespace handling and the dummy prefix.</summary>
    private string Normalize(string text)
    {
        var spec = Model.Normalizer;
        text = Utf8Text.ReplaceLoneSurrogates(text);
        if (spec.RemoveExtraWhitespaces)
        {
            text = string.Join(' ', text.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        }

        if (text.Length == 0)
        {
            return text;
        }

        if (spec.AddDummyPrefix)
        {
            text = " " + text;
        }

        return spec.EscapeWhitespaces ? text.Replace(' ', SpaceSymbol) : text;
    }

    private void EncodeNormalized(string normalized, List<int> ids)
    {
        if (!_splitAtWords)
        {
            EncodeChunk(normalized, ids);
        }
        else
        {
            // A chunk is a run of ▁ and the word after it. No piece spans two chunks (checked at load), so
            // merging chunk by chunk gives exactly the whole-text result, and chunks can be cached.
            var span = normalized.AsSpan();
            int start = 0;
            for (int i = 1; i <= span.Length; i++)
            {
                if (i == span.Length || (span[i] == SpaceSymbol && span[i - 1] != SpaceSymbol))
                {
                    EncodeCachedChunk(span[start..i], ids);
                    start = i;
                }
            }
        }

        if (!Model.Trainer.ByteFallback)
        {
            CollapseUnknownRuns(ids);
        }
    }

    private void EncodeCachedChunk(ReadOnlySpan<char> chunk, List<int> ids)
    {
        if (chunk.Length > MaxCachedChunkLength)
        {
            EncodeChunk(chunk, ids);
            return;
        }

        if (_chunkLookup.TryGetValue(chunk, out var cached))
        {
            ids.AddRange(cached);
            return;
        }

        int before = ids.Count;
        EncodeChunk(chunk, ids);
        if (Interlocked.Increment(ref _cachedChunks) > MaxCacheEntries)
        {
            // Bounded memory: start over rather than track recency (ConcurrentDictionary.Count would take every lock).
            _chunkCache.Clear();
            Interlocked.Exchange(ref _cachedChunks, 0);
        }

        _chunkCache.TryAdd(chunk.ToString(), CollectionsMarshal.AsSpan(ids)[before..].ToArray());
    }

    private void EncodeChunk(ReadOnlySpan<char> text, List<int> ids)
    {
        var bpe = BpeSegmenter.Rent();
        try
        {
            bpe.Segment(text, this, ids);
        }
        finally
        {
            BpeSegmenter.Return(bpe);
        }
    }

    internal bool TryGetMergeable(ReadOnlySpan<char> piece, out int id) => _mergeable.TryGetValue(piece, out id);

    internal ReadOnlySpan<string> UserDefinedPieces => _userDefined;

    /// <summary>Emits the id of a final symbol: unused pieces are split back, unknown ones become bytes.</summary>
    internal void EmitSymbol(ReadOnlySpan<char> symbol, List<int> ids, Func<string, (int LeftLength, bool Found)> reverseMerge)
    {
        int id = PieceToId(symbol);
        if (id != UnknownId && _pieces[id].Type == PieceType.Unused)
        {
            var (leftLength, found) = reverseMerge(symbol.ToString());
            if (found)
            {
                EmitSymbol(symbol[..leftLength], ids, reverseMerge);
                EmitSymbol(symbol[leftLength..], ids, reverseMerge);
                return;
            }
        }

        if (id == UnknownId && Model.Trainer.ByteFallback)
        {
            Span<byte> utf8 = symbol.Length <= 64 ? stackalloc byte[symbol.Length * 3] : new byte[symbol.Length * 3];
            int n = System.Text.Encoding.UTF8.GetBytes(symbol, utf8);
            foreach (byte b in utf8[..n])
            {
                ids.Add(_byteIds[b]);
            }

            return;
        }

        ids.Add(id);
    }

    private void CollapseUnknownRuns(List<int> ids)
    {
        // SentencePiece merges a run of unknown pieces into one (PopulateSentencePieceText).
        int write = 0;
        for (int read = 0; read < ids.Count; read++)
        {
            if (ids[read] == UnknownId && write > 0 && ids[write - 1] == UnknownId)
            {
                continue;
            }

            ids[write++] = ids[read];
        }

        ids.RemoveRange(write, ids.Count - write);
    }

    /// <summary>The configured id when it is a control piece, else the control piece with the conventional text, else -1.</summary>
    private int FindControl(int configured, Dictionary<string, int> reserved, string piece) =>
        (uint)configured < (uint)_pieces.Length && _pieces[configured].Type == PieceType.Control ? configured
        : reserved.TryGetValue(piece, out int id) && _pieces[id].Type == PieceType.Control ? id
        : -1;

    private static int RequireSpecial(int id, string name) =>
        id >= 0 ? id : throw new InvalidOperationException($"the vocabulary has no {name} token");

    private static bool CanSplitAtWords(IEnumerable<string> mergeable, List<string> userDefined)
    {
        foreach (var piece in mergeable)
        {
            for (int i = 1; i < piece.Length; i++)
            {
                if (piece[i] == SpaceSymbol && piece[i - 1] != SpaceSymbol)
                {
                    return false;
                }
            }
        }

        return !userDefined.Any(p => p.Contains(SpaceSymbol, StringComparison.Ordinal));
    }
}
