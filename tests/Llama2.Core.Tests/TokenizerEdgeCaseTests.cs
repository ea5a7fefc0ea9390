using System.Text;
using System.Text.Json;
using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Tests;

/// <summary>Edge cases checked against SentencePiece output kept in TestData (made by scripts/make-tokenizer-testdata.py).</summary>
public sealed class TokenizerEdgeCaseTests
{
    private static string TestData(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    [SkippableFact]
    public void Tiny_gqa_tokenizer_matches_SentencePiece()
    {
        var tokenizer = TokenizerLoader.Load(Fixtures.Path("tiny-gqa/tokenizer.model"));
        Assert.Equal(512, tokenizer.VocabSize);
        foreach (var line in File.ReadLines(TestData("tiny-gqa-encode.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var text = doc.RootElement.GetProperty("text").GetString()!;
            var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.True(ids.SequenceEqual(tokenizer.Encode(text)), $"encode {JsonSerializer.Serialize(text)}");
            Assert.Equal(doc.RootElement.GetProperty("decoded").GetString(), tokenizer.Decode(ids));
        }
    }

    [SkippableFact]
    public void Decode_edge_cases_match_SentencePiece()
    {
        var tokenizer = TokenizerLoader.Load(Fixtures.Path("tokenizer/llama2-tokenizer.model"));
        foreach (var line in File.ReadLines(TestData("llama2-decode-edge-cases.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var expected = doc.RootElement.GetProperty("text").GetString();
            Assert.Equal(expected, tokenizer.Decode(ids));

            var decoder = tokenizer.CreateStreamingDecoder();
            var parts = ids.Select(decoder.Append).ToList();
            parts.Add(decoder.Finish());
            Assert.Equal(expected, string.Concat(parts));
            Assert.All(parts, p => Assert.False(p.Length > 0 && char.IsHighSurrogate(p[^1]), "a stream part ends inside a surrogate pair"));
        }
    }

    [Fact]
    public void Streaming_holds_bytes_until_a_character_is_complete()
    {
        var tokenizer = TestTokenizers.Tiny();
        var decoder = tokenizer.CreateStreamingDecoder();
        int Byte(int b) => 3 + b;
        Assert.Equal("", decoder.Append(Byte(0xF0)));
        Assert.Equal("", decoder.Append(Byte(0x9F)));
        Assert.Equal("", decoder.Append(Byte(0xA6)));
        Assert.Equal("🦙", decoder.Append(Byte(0x99)));
        Assert.Equal("", decoder.Append(Byte(0xE2)));
        Assert.Equal("\uFFFD", decoder.Finish());
    }

    [Fact]
    public void Ties_merge_left_most_first()
    {
        // "▁aaa": "aa" (-10) outranks "▁a" (-12); of the two equal "aa" pairs the left-most merges first.
        // (Right-most first would give "▁a" "aa".)
        var tokenizer = TestTokenizers.Tiny();
        Assert.Equal(["▁", "aa", "a"], tokenizer.EncodeAsPieces("aaa"));
        Assert.Equal(["▁", "aa", "aa"], tokenizer.EncodeAsPieces("aaaa"));
        Assert.Equal(["▁", "ab"], tokenizer.EncodeAsPieces("ab")); // "ab" (-11) outranks "▁a" (-12)
    }

    [Fact]
    public void Unknown_characters_fall_back_to_bytes()
    {
        var tokenizer = TestTokenizers.Tiny();
        var ids = tokenizer.Encode("hé");
        Assert.Equal(["▁h", "<0xC3>", "<0xA9>"], ids.Select(tokenizer.IdToPiece));
        Assert.Equal("hé", tokenizer.Decode(ids));
    }

    [Fact]
    public void Without_byte_fallback_a_run_of_unknowns_is_one_unk()
    {
        var tokenizer = TestTokenizers.Tiny(byteFallback: false);
        Assert.Equal(["▁h", "<unk>", "▁a"], tokenizer.Encode("hé€ a").Select(tokenizer.IdToPiece));
        Assert.Equal("h ⁇  a", tokenizer.Decode(tokenizer.Encode("hé€ a")));
    }

    [Fact]
    public void Invalid_utf8_input_becomes_one_replacement_character_per_byte()
    {
        var tokenizer = TestTokenizers.Tiny();
        byte[] input = [(byte)'a', 0xE2, 0x82, (byte)'b', 0xFF];
        Assert.Equal("a\uFFFD\uFFFDb\uFFFD", Utf8Text.Decode(input));
        Assert.Equal(tokenizer.Encode("a\uFFFD\uFFFDb\uFFFD"), tokenizer.Encode(input));
        Assert.Equal(tokenizer.Encode("a\uFFFD"), tokenizer.Encode("a\uD800")); // a lone surrogate in a .NET string
    }

    [Fact]
    public void Empty_text_has_no_dummy_prefix()
    {
        var tokenizer = TestTokenizers.Tiny();
        Assert.Empty(tokenizer.Encode(""));
        Assert.Equal([1, 2], tokenizer.Encode("", addBos: true, addEos: true));
    }

    [Fact]
    public void Ids_out_of_range_are_rejected()
    {
        var tokenizer = TestTokenizers.Tiny();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([1, tokenizer.VocabSize]));
        Assert.Contains("out of range", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([-1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.CreateStreamingDecoder().Append(100000));
    }

    [Fact]
    public void Model_round_trips_through_the_protobuf_writer()
    {
        var tokenizer = TestTokenizers.Tiny();
        var copy = SentencePieceModel.Parse(tokenizer.Model.ToBytes());
        Assert.Equal(tokenizer.Model.Pieces, copy.Pieces);
        Assert.Equal(tokenizer.Model.Normalizer, copy.Normalizer);
        Assert.Equal(tokenizer.Model.Trainer, copy.Trainer);
    }

    [Fact]
    public void Garbage_and_truncated_models_get_a_clear_error()
    {
        using var dir = new TempDirectory();
        var path = dir.File("tokenizer.model");

        File.WriteAllBytes(path, Encoding.UTF8.GetBytes("this is not a tokenizer at all, just text\n"));
        var e = Assert.Throws<InvalidModelFileException>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, e.Message);

        var good = TestTokenizers.Tiny().Model.ToBytes();
        foreach (int length in new[] { 0, 1, 7, good.Length / 2, good.Length - 1 })
        {
            File.WriteAllBytes(path, good[..length]);
            e = Assert.Throws<InvalidModelFileException>(() => TokenizerLoader.Load(path));
            Assert.StartsWith(path + ":", e.Message);
        }

        var random = new byte[4096];
        new Random(1).NextBytes(random);
        File.WriteAllBytes(path, random);
        Assert.Throws<InvalidModelFileException>(() => TokenizerLoader.Load(path));

        e = Assert.Throws<InvalidModelFileException>(() => TokenizerLoader.Load(dir.File("missing.model")));
        Assert.Contains("no such file", e.Message);
    }

    [Fact]
    public void Gguf_without_vocabulary_is_reported()
    {
        using var dir = new TempDirectory();
        var path = dir.File("empty.gguf");
        using (var w = new BinaryWriter(File.Create(path)))
        {
            w.Write(GgufFile.Magic);
            w.Write(3u);
            w.Write(0UL); // tensors
            w.Write(1UL); // metadata
            WriteString(w, "general.architecture");
            w.Write((uint)GgufValueType.String);
            WriteString(w, "llama");
        }

        var e = Assert.Throws<InvalidModelFileException>(() => TokenizerLoader.Load(path));
        Assert.Contains("no vocabulary", e.Message);

        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        e = Assert.Throws<InvalidModelFileException>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, e.Message);

        // A count that the file cannot hold is refused before anything is allocated.
        bytes[16] = 0xFF;
        bytes[23] = 0x7F;
        File.WriteAllBytes(path, bytes);
        e = Assert.Throws<InvalidModelFileException>(() => GgufFile.Read(path));
        Assert.Contains("larger than the file can hold", e.Message);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }
}
