using Llama2.Core.IO;

namespace Llama2.Core.Tokenization;

/// <summary>SentencePiece's piece types (<c>ModelProto.SentencePiece.Type</c>; GGUF's <c>token_type</c> uses the same numbers).</summary>
public enum PieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One vocabulary entry: its text (with <c>▁</c> for spaces), merge score and type.</summary>
public readonly record struct VocabularyPiece(string Piece, float Score, PieceType Type);

/// <summary>SentencePiece's <c>NormalizerSpec</c>: how text is prepared before segmentation.</summary>
public sealed record NormalizerSpec
{
    /// <summary>Normalization rule name; Llama 2 uses <c>identity</c> (no Unicode normalization).</summary>
    public string Name { get; init; } = "identity";

    /// <summary>Prepends <c>▁</c> to non-empty input, so "world" and "hello world" end alike.</summary>
    public bool AddDummyPrefix { get; init; } = true;

    /// <summary>Removes leading, trailing and repeated spaces. Llama 2: false.</summary>
    public bool RemoveExtraWhitespaces { get; init; }

    /// <summary>Replaces spaces with <c>▁</c> (U+2581). Llama 2: true.</summary>
    public bool EscapeWhitespaces { get; init; } = true;
}

/// <summary>
/// The part of SentencePiece's <c>TrainerSpec</c> that this project reads or writes. Defaults are
/// Llama 2's settings (the values in Meta's <c>tokenizer.model</c>).
/// </summary>
public sealed record TrainerSpec
{
    /// <summary>1 = unigram, 2 = BPE (Llama 2), 3 = word, 4 = char.</summary>
    public int ModelType { get; init; } = 2;

    public int VocabSize { get; init; } = 32000;

    public float CharacterCoverage { get; init; } = 0.99995f;

    public int MaxSentencePieceLength { get; init; } = 16;

    public bool SplitByUnicodeScript { get; init; } = true;

    public bool SplitByNumber { get; init; } = true;

    public bool SplitByWhitespace { get; init; } = true;

    public bool TreatWhitespaceAsSuffix { get; init; }

    public bool AllowWhitespaceOnlyPieces { get; init; } = true;

    public bool SplitDigits { get; init; } = true;

    public bool ByteFallback { get; init; } = true;

    public int UnkId { get; init; }

    public int BosId { get; init; } = 1;

    public int EosId { get; init; } = 2;

    public int PadId { get; init; } = -1;

    /// <summary>What an <c>&lt;unk&gt;</c> piece decodes to (SentencePiece's default " ⁇ ").</summary>
    public string UnkSurface { get; init; } = " \u2047 ";
}

/// <summary>
/// A SentencePiece model (<c>tokenizer.model</c>): the vocabulary with scores and types, and the
/// normalizer and trainer settings that change how text is encoded.
/// </summary>
public sealed class SentencePieceModel
{
    public SentencePieceModel(IReadOnlyList<VocabularyPiece> pieces, NormalizerSpec normalizer, TrainerSpec trainer)
    {
        Pieces = pieces;
        Normalizer = normalizer;
        Trainer = trainer;
    }

    public IReadOnlyList<VocabularyPiece> Pieces { get; }

    public NormalizerSpec Normalizer { get; }

    public TrainerSpec Trainer { get; }

    /// <summary>A <c>tokenizer.model</c> larger than this is refused before it is read (Llama 2's is 0.5 MB).</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary>Reads a <c>tokenizer.model</c> file.</summary>
    /// <exception cref="InvalidModelFileException">The file is missing, too large, truncated or not a SentencePiece model.</exception>
    public static SentencePieceModel Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw InvalidModelFileException.For(path, "file not found");
        }

        if (info.Length > MaxFileBytes)
        {
            throw InvalidModelFileException.For(path, $"file is {info.Length} bytes, larger than any SentencePiece model ({MaxFileBytes} bytes at most)");
        }

        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses a serialized <c>ModelProto</c>.</summary>
    /// <exception cref="InvalidModelFileException">The bytes are not a valid SentencePiece BPE model.</exception>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data, string? path = null)
    {
        try
        {
            return SentencePieceModelSerializer.Read(data);
        }
        catch (FormatException e)
        {
            throw InvalidModelFileException.For(path, $"not a valid SentencePiece model: {e.Message}");
        }
    }

    /// <summary>Serializes this model as a <c>ModelProto</c> that SentencePiece loads.</summary>
    public byte[] ToBytes() => SentencePieceModelSerializer.Write(this);

    public void Save(string path)
    {
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, ToBytes());
        File.Move(temporary, path, overwrite: true);
    }
}
