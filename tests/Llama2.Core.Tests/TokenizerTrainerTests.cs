using Llama2.Core.Tokenization;

namespace Llama2.Core.Tests;

public sealed class TokenizerTrainerTests
{
    private static readonly string[] s_corpus =
    [
        "the llama and the alpaca graze together",
        "    indented code line();  // comment",
        "prices rose 12345 percent in 2023",
        "Über die Straße, naïve café",
        "Llama 2-Chat was tuned with RLHF",
        "the the the the llama llama",
    ];

    private static SentencePieceModel Train(int vocab = 320) =>
        TokenizerTrainer.Train(Enumerable.Repeat(s_corpus, 20).SelectMany(x => x), new TokenizerTrainerOptions { VocabSize = vocab });

    [Fact]
    public void Layout_is_specials_then_bytes_then_merges_then_alphabet()
    {
        var model = Train();
        Assert.Equal(320, model.Pieces.Count);
        Assert.Equal(new VocabularyPiece("<unk>", 0, PieceType.Unknown), model.Pieces[0]);
        Assert.Equal(PieceType.Control, model.Pieces[1].Type);
        Assert.Equal("<0xFF>", model.Pieces[258].Piece);
        Assert.True(model.Pieces.Skip(259).All(p => p.Type == PieceType.Normal));
        var scores = model.Pieces.Skip(259).Select(p => p.Score).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores); // merge order, then the alphabet
        Assert.Equal(model.Pieces.Count, model.Pieces.Select(p => p.Piece).Distinct().Count());
    }

    [Fact]
    public void Pieces_follow_Llama_2_rules()
    {
        var model = Train(400);
        foreach (var piece in model.Pieces.Skip(259).Select(p => p.Piece))
        {
            Assert.True(piece.Length == 1 || !piece.Any(char.IsDigit), $"'{piece}' mixes a digit with something else");
            Assert.True(piece.TrimStart('▁').Length == 0 || !piece.TrimStart('▁').Contains('▁'), $"'{piece}' has ▁ after its start");
            Assert.True(piece.All(c => c == '▁') || piece.TakeWhile(c => c == '▁').Count() <= 1, $"'{piece}' has more than one leading ▁");
        }

        Assert.Contains(model.Pieces, p => p.Piece == "▁▁▁▁"); // whitespace-only pieces from the indentation
    }

    [Fact]
    public void Training_is_deterministic_and_round_trips()
    {
        Assert.Equal(Train().ToBytes(), Train().ToBytes());
        var tokenizer = new LlamaTokenizer(Train());
        foreach (var text in s_corpus.Append("unseen words 🦙 and ünïcödé"))
        {
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void Too_small_a_vocabulary_or_no_text_is_an_error()
    {
        Assert.Contains("smaller than", Assert.Throws<ArgumentException>(() => Train(100)).Message);
        Assert.Throws<ArgumentException>(() => TokenizerTrainer.Train([], new TokenizerTrainerOptions()));
    }
}
