using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.Tokenization;

namespace Llama2.Cli.Tests;

public sealed class TokenizerCommandTests
{
    private static int[] ParseIds(string line) => [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)];

    [SkippableTheory]
    [InlineData("tiny-gqa/tokenizer.model")]
    [InlineData("tiny-gqa/gguf/tiny-gqa-q8_0.gguf")]
    [InlineData("tiny-gqa/hf")]
    [InlineData("tiny-gqa/meta")]
    public void Tokenize_reads_a_tokenizer_model_a_gguf_or_a_folder(string model)
    {
        var path = Fixtures.Path(model);
        var expected = TokenizerLoader.Load(Fixtures.Path("tiny-gqa/tokenizer.model")).Encode("Hello world\n", addBos: true);
        var result = CliProcess.Run("Hello world\n", "tokenize", "--model", path, "--bos");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected, ParseIds(result.Stdout.Trim()));

        var back = CliProcess.Run(result.Stdout, "detokenize", "-m", path);
        Assert.Equal(0, back.ExitCode);
        Assert.Equal("Hello world\n", back.Stdout);
    }

    [SkippableFact]
    public void Tokenize_jsonl_handles_text_and_dialog_lines_in_order()
    {
        var model = Fixtures.Path("tokenizer/llama2-tokenizer.model");
        var chat = File.ReadLines(Fixtures.Path("chat/llama2-chat-prompts.jsonl")).Take(5).ToList();
        var input = string.Join('\n', chat.Prepend("{\"text\": \"Hello world\"}")) + "\n";
        var result = CliProcess.Run(input, "tokenize", "--model", model, "--jsonl");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        var ids = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToList();
        Assert.Equal(TokenizerLoader.Load(model).Encode("Hello world"), ids[0]);
        for (int i = 0; i < chat.Count; i++)
        {
            var expected = JsonDocument.Parse(chat[i]).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32());
            Assert.Equal(expected, ids[i + 1]);
        }
    }

    [SkippableFact]
    public void Bad_input_gets_one_clear_error_line_and_exit_code_1()
    {
        var model = Fixtures.Path("tiny-gqa/tokenizer.model");
        AssertError(CliProcess.Run("x", "tokenize", "--model", "/nonexistent/tokenizer.model"), "/nonexistent/tokenizer.model");
        AssertError(CliProcess.Run("1 2 99999", "detokenize", "--model", model), "token id 99999 is out of range");
        AssertError(CliProcess.Run("1 two 3", "detokenize", "--model", model), "'two' is not a token id");
        AssertError(CliProcess.Run("{\"text\": \"ok\"}\n{\"text\": 5}\n", "tokenize", "--model", model, "--jsonl"), "input line 2");
        AssertError(CliProcess.Run("{not json\n", "tokenize", "--model", model, "--jsonl"), "input line 1");
        AssertError(CliProcess.Run("{\"dialog\": [{\"role\": \"assistant\", \"content\": \"hi\"}]}\n", "tokenize", "--model", model, "--jsonl"),
            "expected role 'user'");
        AssertError(CliProcess.Run("{\"dialog\": [{\"role\": \"robot\", \"content\": \"hi\"}]}\n", "tokenize", "--model", model, "--jsonl"),
            "unknown role 'robot'");

        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("garbage.model"), "definitely not protobuf");
        AssertError(CliProcess.Run("x", "tokenize", "--model", dir.File("garbage.model")), dir.File("garbage.model"));
    }

    [SkippableFact]
    public void Invalid_utf8_on_stdin_is_encoded_as_replacement_characters()
    {
        var model = Fixtures.Path("tokenizer/llama2-tokenizer.model");
        var result = CliProcess.RunBytes([(byte)'a', 0xE2, 0x82, (byte)'b'], "tokenize", "--model", model);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(TokenizerLoader.Load(model).Encode("a\uFFFD\uFFFDb"), ParseIds(result.Stdout.Trim()));
    }

    [Fact]
    public void Tokenizer_train_writes_a_model_that_encodes_and_decodes()
    {
        using var dir = new TempDirectory();
        var corpus = dir.File("corpus.txt");
        var random = new Random(7);
        string[] syllables = ["la", "ma", "pa", "ca", "gra", "zes", "an", "des", "wo", "ol", "her", "di", "so", "ft", "ku", "ri", "ten", "bo"];
        string[] words = ["llama", "the", "herd", "of", "42", .. Enumerable.Range(0, 300).Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 5)).Select(_ => syllables[random.Next(syllables.Length)])))];
        File.WriteAllLines(corpus, Enumerable.Range(0, 3000).Select(_ => "llama " + string.Join(" ", Enumerable.Range(0, 12).Select(_ => words[random.Next(words.Length)]))));
        File.WriteAllLines(dir.File("chat.jsonl"), ["{\"messages\": [{\"role\": \"user\", \"content\": \"Où est le lama ?\"}]}", "{\"text\": \"über 1234\"}"]);

        var output = dir.File("tokenizer.model");
        var result = CliProcess.Run(null, "tokenizer", "train", "--input", corpus, dir.File("chat.jsonl"), "--vocab-size", "400", "--output", output);
        Assert.True(result.ExitCode == 0, result.Stderr);

        var tokenizer = TokenizerLoader.Load(output);
        Assert.Equal(400, tokenizer.VocabSize);
        Assert.Equal((0, 1, 2), (tokenizer.UnknownId, tokenizer.BosId, tokenizer.EosId));
        Assert.Equal("<0x00>", tokenizer.IdToPiece(3));
        Assert.Contains("▁llama", tokenizer.EncodeAsPieces("llama"));
        Assert.Equal(["▁", "4", "2"], tokenizer.EncodeAsPieces("42")); // digits are split
        var text = "the herd of alpacas 🦙 grazes in the Andes, 1234";
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));

        AssertError(CliProcess.Run(null, "tokenizer", "train", "--input", corpus, "--vocab-size", "100", "--output", output), "smaller than");
        AssertError(CliProcess.Run(null, "tokenizer", "train", "--input", dir.File("missing.txt"), "--vocab-size", "400", "--output", output), "missing.txt");
    }

    private static void AssertError(CliProcess.Result result, string expected)
    {
        Assert.Equal(1, result.ExitCode);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one error line, got: " + result.Stderr);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
    }
}
