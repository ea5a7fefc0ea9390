using System.Text;

namespace Llama2.Core.Tokenization;

/// <summary>
/// Trains a SentencePiece-compatible BPE tokenizer with Llama 2's options. The result is an ordinary
/// <c>tokenizer.model</c>: SentencePiece loads it and encodes with it exactly as <see cref="LlamaTokenizer"/> does.
/// </summary>
/// <remarks>
/// As SentencePiece's BPE trainer: sentences are normalized (▁ for spaces, dummy prefix) and split into
/// words before each ▁ run; the base alphabet is the characters covering <c>CharacterCoverage</c> of the
/// text; then the most frequent adjacent pair of symbols whose concatenation is a valid piece is merged,
/// again and again. Merged pieces get score −(merge index), the alphabet follows, most frequent first.
/// </remarks>
public static class TokenizerTrainer
{
    /// <summary>Trains on sentences (one per element; a sentence is a line of text).</summary>
    /// <exception cref="ArgumentException">The vocabulary cannot hold the special pieces, bytes and alphabet, or there is no text.</exception>
    public static SentencePieceModel Train(IEnumerable<string> sentences, TokenizerTrainerOptions options, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        ArgumentNullException.ThrowIfNull(options);
        var words = CountWords(sentences, options, out var charCounts);
        if (charCounts.Count == 0)
        {
            throw new ArgumentException("the training text is empty");
        }

        var alphabet = ChooseAlphabet(charCounts, options.CharacterCoverage);
        if (options.MaxAlphabet is { } cap && alphabet.Count > cap)
        {
            alphabet.RemoveRange(cap, alphabet.Count - cap);
        }
        int reserved = 3 + (options.ByteFallback ? 256 : 0);
        int mergeBudget = options.VocabSize - reserved - alphabet.Count;
        if (mergeBudget < 0)
        {
            throw new ArgumentException(
                $"vocabulary size {options.VocabSize} is smaller than the {reserved} special and byte pieces plus the {alphabet.Count} characters the coverage requires");
        }

        progress?.Report($"{words.Count} distinct words, alphabet of {alphabet.Count} characters, up to {mergeBudget} merges");
        var merges = new BpeMerger(words, alphabet, options).Run(mergeBudget, progress);

        var pieces = new List<VocabularyPiece>
        {
            new("<unk>", 0, PieceType.Unknown),
            new("<s>", 0, PieceType.Control),
            new("</s>", 0, PieceType.Control),
        };
        if (options.ByteFallback)
        {
            pieces.AddRange(Enumerable.Range(0, 256).Select(b => new VocabularyPiece($"<0x{b:X2}>", 0, PieceType.Byte)));
        }

        int rank = 0;
        pieces.AddRange(merges.Select(m => new VocabularyPiece(m, -rank++, PieceType.Normal)));
        pieces.AddRange(alphabet.Select(c => new VocabularyPiece(c, -rank++, PieceType.Normal)));

        var normalizer = new NormalizerSpec { AddDummyPrefix = options.AddDummyPrefix };
        var trainer = new TrainerSpec
        {
            VocabSize = pieces.Count,
            CharacterCoverage = (float)options.CharacterCoverage,
            MaxSentencePieceLength = options.MaxPieceLength,
            SplitByUnicodeScript = options.SplitByUnicodeScript,
            SplitDigits = options.SplitDigits,
            ByteFallback = options.ByteFallback,
            AllowWhitespaceOnlyPieces = options.AllowWhitespaceOnlyPieces,
        };
        return new SentencePieceModel(pieces, normalizer, trainer);
    }

    /// <summary>Normalizes each sentence and counts its words (SentencePiece's <c>SplitIntoWords</c>) and characters.</summary>
    private static Dictionary<string, long> CountWords(IEnumerable<string> sentences, TokenizerTrainerOptions options, out Dictionary<string, long> charCounts)
    {
        var words = new Dictionary<string, long>(StringComparer.Ordinal);
        var wordLookup = words.GetAlternateLookup<ReadOnlySpan<char>>();
        charCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        var charLookup = charCounts.GetAlternateLookup<ReadOnlySpan<char>>();
        var builder = new StringBuilder();
        foreach (var raw in sentences)
        {
            if (raw.Length == 0 || Encoding.UTF8.GetByteCount(raw) > options.MaxSentenceBytes)
            {
                continue;
            }

            builder.Clear();
            if (options.AddDummyPrefix)
            {
                builder.Append(LlamaTokenizer.SpaceSymbol);
            }

            builder.Append(Utf8Text.ReplaceLoneSurrogates(raw)).Replace(' ', LlamaTokenizer.SpaceSymbol);
            var text = builder.ToString().AsSpan();

            int start = 0;
            for (int i = 0; i < text.Length; i += CharLength(text, i))
            {
                var c = text.Slice(i, CharLength(text, i));
                CollectionsMarshalIncrement(charLookup, c);
                bool boundary = i > 0 && text[i] == LlamaTokenizer.SpaceSymbol
                    && (text[i - 1] != LlamaTokenizer.SpaceSymbol || !options.AllowWhitespaceOnlyPieces);
                if (boundary)
                {
                    CollectionsMarshalIncrement(wordLookup, text[start..i]);
                    start = i;
                }
            }

            CollectionsMarshalIncrement(wordLookup, text[start..]);
        }

        return words;
    }

    private static void CollectionsMarshalIncrement(Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> lookup, ReadOnlySpan<char> key)
    {
        lookup.TryGetValue(key, out long count);
        lookup[key] = count + 1;
    }

    internal static int CharLength(ReadOnlySpan<char> text, int i) =>
        char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;

    /// <summary>The most frequent characters covering <paramref name="coverage"/> of all occurrences, most frequent first.</summary>
    private static List<string> ChooseAlphabet(Dictionary<string, long> charCounts, double coverage)
    {
        long total = charCounts.Values.Sum();
        long accumulated = 0;
        var alphabet = new List<string>();
        foreach (var (c, count) in charCounts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal))
        {
            if ((double)accumulated / total >= coverage)
            {
                break;
            }

            accumulated += count;
            alphabet.Add(c);
        }

        return alphabet;
    }
}
