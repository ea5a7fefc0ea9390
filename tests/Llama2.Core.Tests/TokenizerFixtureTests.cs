using System.Text.Json;
using Llama2.Core.Gguf;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Tests;

/// <summary>The tokenizer against SentencePiece's and llama.cpp's own outputs (../shared/fixtures/tokenizer).</summary>
public sealed class TokenizerFixtureTests
{
    private static readonly Lazy<LlamaTokenizer> s_fromModel = new(() => TokenizerLoader.Load(Fixtures.Path("tokenizer/llama2-tokenizer.model")));
    private static readonly Lazy<LlamaTokenizer> s_fromGguf = new(() => TokenizerLoader.Load(Fixtures.Path("tokenizer/llama2-vocab.gguf")));

    public static TheoryData<string> Sources => new() { "model", "gguf" };

    private static LlamaTokenizer Get(string source) => source == "model" ? s_fromModel.Value : s_fromGguf.Value;

    [SkippableTheory]
    [MemberData(nameof(Sources))]
    public void Encodes_every_SentencePiece_case(string source)
    {
        var tokenizer = Get(source);
        var lines = File.ReadAllLines(Fixtures.Path("tokenizer/encode-cases.jsonl"));
        Assert.Equal(600, lines.Length);
        var failures = new List<string>();
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var text = doc.RootElement.GetProperty("text").GetString()!;
            var expected = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var actual = tokenizer.Encode(text);
            if (!expected.SequenceEqual(actual))
            {
                failures.Add($"{JsonSerializer.Serialize(text)}: expected [{string.Join(",", expected)}] got [{string.Join(",", actual)}]");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {lines.Length} differ; first: {failures.FirstOrDefault()}");
    }

    [SkippableFact]
    public void Pieces_match_SentencePiece_pieces()
    {
        var tokenizer = s_fromModel.Value;
        foreach (var line in File.ReadLines(Fixtures.Path("tokenizer/encode-cases.jsonl")).Take(100))
        {
            using var doc = JsonDocument.Parse(line);
            var expected = doc.RootElement.GetProperty("pieces").EnumerateArray().Select(e => e.GetString()!).ToArray();
            Assert.Equal(expected, tokenizer.EncodeAsPieces(doc.RootElement.GetProperty("text").GetString()!));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Sources))]
    public void Decodes_every_SentencePiece_case(string source)
    {
        var tokenizer = Get(source);
        var lines = File.ReadAllLines(Fixtures.Path("tokenizer/decode-cases.jsonl"));
        Assert.Equal(300, lines.Length);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(doc.RootElement.GetProperty("text").GetString(), tokenizer.Decode(ids));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Sources))]
    public void Streaming_decoder_output_equals_batch_decode(string source)
    {
        var tokenizer = Get(source);
        foreach (var line in File.ReadLines(Fixtures.Path("tokenizer/decode-cases.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var decoder = tokenizer.CreateStreamingDecoder();
            var streamed = string.Concat(ids.Select(decoder.Append).ToList());
            streamed += decoder.Finish();
            Assert.Equal(tokenizer.Decode(ids), streamed);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Sources))]
    public void Matches_llama_cpp_vocab_test(string source)
    {
        var tokenizer = Get(source);
        var inputs = File.ReadAllText(Fixtures.Path("tokenizer/llama2-vocab.gguf.inp")).Split("\n__ggml_vocab_test__\n");
        var outputs = File.ReadAllText(Fixtures.Path("tokenizer/llama2-vocab.gguf.out")).Split('\n');
        // Every input ends with a separator line and every output with a newline (46 cases in the file).
        Assert.Equal(outputs.Length, inputs.Length);
        Assert.True(inputs.Length > 40);
        for (int i = 0; i < inputs.Length - 1; i++)
        {
            var expected = outputs[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            Assert.True(expected.SequenceEqual(tokenizer.Encode(inputs[i])), $"case {i} {JsonSerializer.Serialize(inputs[i])}: expected [{outputs[i]}] got [{string.Join(" ", tokenizer.Encode(inputs[i]))}]");
        }
    }

    [SkippableFact]
    public void Model_and_gguf_vocabularies_agree()
    {
        var a = s_fromModel.Value;
        var b = s_fromGguf.Value;
        Assert.Equal(32000, a.VocabSize);
        Assert.Equal(a.VocabSize, b.VocabSize);
        Assert.Equal((1, 2, 0), (a.BosId, a.EosId, a.UnknownId));
        Assert.Equal((a.BosId, a.EosId, a.UnknownId), (b.BosId, b.EosId, b.UnknownId));
        for (int id = 0; id < a.VocabSize; id++)
        {
            Assert.Equal((a.IdToPiece(id), a.GetScore(id), a.GetPieceType(id)), (b.IdToPiece(id), b.GetScore(id), b.GetPieceType(id)));
        }
    }

    [SkippableFact]
    public void Control_tags_in_text_are_plain_text()
    {
        var tokenizer = s_fromModel.Value;
        var ids = tokenizer.Encode("<s>hello</s>");
        Assert.DoesNotContain(tokenizer.BosId, ids);
        Assert.DoesNotContain(tokenizer.EosId, ids);
        Assert.Equal("<s>hello</s>", tokenizer.Decode(ids));
        Assert.Equal([tokenizer.BosId, .. ids, tokenizer.EosId], tokenizer.Encode("<s>hello</s>", addBos: true, addEos: true));
    }

    [SkippableFact]
    public void Gguf_header_reads_metadata()
    {
        var file = GgufFile.Read(Fixtures.Path("tokenizer/llama2-vocab.gguf"));
        Assert.Equal("llama", file.Metadata["tokenizer.ggml.model"]);
        Assert.Empty(file.Tensors);
    }
}
