namespace Llama2.Core.Tokenization;

/// <summary>
/// Options of <see cref="TokenizerTrainer"/>. Defaults are Llama 2's tokenizer settings (the
/// <c>trainer_spec</c> stored in Meta's <c>tokenizer.model</c>): BPE, digits split, byte fallback,
/// identity normalizer, dummy prefix, whitespace-only pieces allowed, coverage 0.99995.
/// </summary>
public sealed record TokenizerTrainerOptions
{
    /// <summary>Total pieces, including &lt;unk&gt; &lt;s&gt; &lt;/s&gt; and the 256 byte pieces (Llama 2: 32000).</summary>
    public int VocabSize { get; init; } = 32000;

    /// <summary>Fraction of character occurrences the base alphabet must cover; rarer characters are left to byte fallback.</summary>
    public double CharacterCoverage { get; init; } = 0.99995;

    /// <summary>Longest piece, in characters (SentencePiece's <c>max_sentencepiece_length</c>).</summary>
    public int MaxPieceLength { get; init; } = 16;

    /// <summary>Every digit is its own piece (Llama 2: true).</summary>
    public bool SplitDigits { get; init; } = true;

    /// <summary>Pieces never mix Unicode scripts (letters of different scripts, or letters with punctuation).</summary>
    public bool SplitByUnicodeScript { get; init; } = true;

    /// <summary>Characters outside the vocabulary are encoded as their UTF-8 bytes (Llama 2: true).</summary>
    public bool ByteFallback { get; init; } = true;

    /// <summary>Runs of spaces may become pieces (<c>▁▁</c>, <c>▁▁▁▁</c>), which helps code (Llama 2: true).</summary>
    public bool AllowWhitespaceOnlyPieces { get; init; } = true;

    /// <summary>Prepend <c>▁</c> to every sentence (Llama 2: true).</summary>
    public bool AddDummyPrefix { get; init; } = true;

    /// <summary>
    /// At most this many characters in the base alphabet (null: as many as the coverage needs, as SentencePiece).
    /// Small vocabularies on text with many scripts need a cap; the rest falls back to bytes.
    /// </summary>
    public int? MaxAlphabet { get; init; }

    /// <summary>Sentences longer than this many UTF-8 bytes are skipped (Llama 2: 4192).</summary>
    public int MaxSentenceBytes { get; init; } = 4192;
}
