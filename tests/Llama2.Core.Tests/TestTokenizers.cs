using Llama2.Core.Tokenization;

namespace Llama2.Core.Tests;

/// <summary>Small tokenizers built in code, for tests that do not need the fixtures.</summary>
internal static class TestTokenizers
{
    /// <summary>
    /// A hand-made Llama-style vocabulary: &lt;unk&gt; &lt;s&gt; &lt;/s&gt;, 256 byte pieces, then a few
    /// characters and merges with scores chosen to exercise tie-breaking.
    /// </summary>
    public static LlamaTokenizer Tiny(bool byteFallback = true, params (string Piece, float Score)[] extra)
    {
        var pieces = new List<VocabularyPiece>
        {
            new("<unk>", 0, PieceType.Unknown),
            new("<s>", 0, PieceType.Control),
            new("</s>", 0, PieceType.Control),
        };
        if (byteFallback)
        {
            pieces.AddRange(Enumerable.Range(0, 256).Select(b => new VocabularyPiece($"<0x{b:X2}>", 0, PieceType.Byte)));
        }

        (string, float)[] normal = extra.Length > 0 ? extra :
        [
            ("▁", -1), ("a", -2), ("b", -3), ("c", -4), ("h", -5), ("i", -6),
            ("aa", -10), ("ab", -11), ("▁a", -12), ("▁h", -13), ("▁hi", -14), ("▁▁", -15),
        ];
        pieces.AddRange(normal.Select(p => new VocabularyPiece(p.Item1, p.Item2, PieceType.Normal)));
        return new LlamaTokenizer(new SentencePieceModel(pieces, new NormalizerSpec(), new TrainerSpec { ByteFallback = byteFallback }));
    }
}
