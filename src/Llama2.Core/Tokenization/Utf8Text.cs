using System.Buffers;
using System.Text;

namespace Llama2.Core.Tokenization;

/// <summary>UTF-8 handling with SentencePiece's rules for malformed input.</summary>
public static class Utf8Text
{
    /// <summary>U+FFFD, what SentencePiece puts in place of each malformed byte.</summary>
    public const char ReplacementCharacter = '\uFFFD';

    /// <summary>
    /// Decodes UTF-8 as SentencePiece's normalizer and decoder do: every byte that does not start a
    /// well-formed character (including a truncated one at the end) becomes one U+FFFD, and decoding
    /// continues with the next byte. (.NET's own decoder replaces a maximal invalid subsequence with one
    /// U+FFFD, which differs for truncated sequences.)
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> utf8)
    {
        var builder = new StringBuilder(utf8.Length);
        Append(utf8, builder, final: true);
        return builder.ToString();
    }

    /// <summary>
    /// Appends the characters of <paramref name="utf8"/> to <paramref name="destination"/>. When
    /// <paramref name="final"/> is false, an incomplete but so-far valid character at the end is left
    /// undecoded; the return value is the number of bytes consumed.
    /// </summary>
    public static int Append(ReadOnlySpan<byte> utf8, StringBuilder destination, bool final)
    {
        int offset = 0;
        Span<char> chars = stackalloc char[2];
        while (offset < utf8.Length)
        {
            var status = Rune.DecodeFromUtf8(utf8[offset..], out var rune, out int consumed);
            if (status == OperationStatus.Done)
            {
                int n = rune.EncodeToUtf16(chars);
                destination.Append(chars[..n]);
                offset += consumed;
            }
            else if (status == OperationStatus.NeedMoreData && !final)
            {
                break;
            }
            else
            {
                destination.Append(ReplacementCharacter);
                offset += 1;
            }
        }

        return offset;
    }

    /// <summary>Replaces unpaired UTF-16 surrogates with U+FFFD, as encoding the text to UTF-8 would.</summary>
    public static string ReplaceLoneSurrogates(string text)
    {
        int i = 0;
        for (; i < text.Length; i++)
        {
            if (char.IsSurrogate(text[i]) && !IsPairAt(text, i))
            {
                break;
            }

            if (char.IsHighSurrogate(text[i]))
            {
                i++;
            }
        }

        if (i == text.Length)
        {
            return text;
        }

        var chars = text.ToCharArray();
        for (int j = i; j < chars.Length; j++)
        {
            if (char.IsHighSurrogate(chars[j]) && IsPairAt(text, j))
            {
                j++;
            }
            else if (char.IsSurrogate(chars[j]))
            {
                chars[j] = ReplacementCharacter;
            }
        }

        return new string(chars);
    }

    private static bool IsPairAt(string text, int i) =>
        char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
}
