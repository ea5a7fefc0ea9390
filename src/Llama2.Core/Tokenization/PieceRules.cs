using System.Globalization;
using System.Text;

namespace Llama2.Core.Tokenization;

/// <summary>
/// Which strings may become pieces during training (SentencePiece's <c>IsValidSentencePiece</c>):
/// <c>▁</c> only at the start (or a piece of only <c>▁</c>), digits alone when split, one script per piece.
/// </summary>
internal static class PieceRules
{
    public static bool IsValid(string piece, TokenizerTrainerOptions options)
    {
        bool allSpace = piece.All(c => c == LlamaTokenizer.SpaceSymbol);
        if (allSpace)
        {
            return piece.Length == 1 || options.AllowWhitespaceOnlyPieces;
        }

        int? script = null;
        int index = 0;
        foreach (var rune in piece.EnumerateRunes())
        {
            if (rune.Value == LlamaTokenizer.SpaceSymbol)
            {
                if (index > 0)
                {
                    return false; // ▁ only as a prefix
                }
            }
            else if (Rune.IsDigit(rune) && options.SplitDigits)
            {
                return false; // a digit is always a piece of its own (and never joins ▁)
            }
            else if (options.SplitByUnicodeScript)
            {
                int s = Script(rune);
                if (s != Inherited)
                {
                    if (script is not null && script != s)
                    {
                        return false;
                    }

                    script = s;
                }
            }

            index++;
        }

        return true;
    }

    private const int Inherited = -1, Common = -2, Latin = 1, Greek = 2, Cyrillic = 3, Han = 4, Hangul = 5;

    /// <summary>
    /// A coarse Unicode script: the major scripts by range, other letters by 128-code-point block,
    /// punctuation/symbols/digits as Common, combining marks as Inherited (they join their base).
    /// Hiragana, Katakana and Han count as one script, as in SentencePiece.
    /// </summary>
    private static int Script(Rune rune)
    {
        var category = Rune.GetUnicodeCategory(rune);
        if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
        {
            return Inherited;
        }

        bool letter = category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber;
        if (!letter)
        {
            return Common;
        }

        int v = rune.Value;
        return v switch
        {
            <= 0x024F or (>= 0x1E00 and <= 0x1EFF) or (>= 0x2C60 and <= 0x2C7F) or (>= 0xA720 and <= 0xA7FF) or (>= 0xFF21 and <= 0xFF5A) => Latin,
            (>= 0x0370 and <= 0x03FF) or (>= 0x1F00 and <= 0x1FFF) => Greek,
            (>= 0x0400 and <= 0x052F) or (>= 0x2DE0 and <= 0x2DFF) or (>= 0xA640 and <= 0xA69F) => Cyrillic,
            (>= 0x3040 and <= 0x30FF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x4E00 and <= 0x9FFF) or (>= 0xF900 and <= 0xFAFF)
                or (>= 0x20000 and <= 0x3FFFF) or (>= 0xFF66 and <= 0xFF9F) => Han,
            (>= 0x1100 and <= 0x11FF) or (>= 0x3130 and <= 0x318F) or (>= 0xAC00 and <= 0xD7AF) => Hangul,
            _ => 0x1000 + (v >> 7),
        };
    }
}
