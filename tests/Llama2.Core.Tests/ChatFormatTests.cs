using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Tests;

public sealed class ChatFormatTests
{
    private static readonly Lazy<LlamaTokenizer> s_tokenizer = new(() => TokenizerLoader.Load(Fixtures.Path("tokenizer/llama2-tokenizer.model")));

    internal static List<ChatMessage> ParseDialog(JsonElement dialog) =>
        [.. dialog.EnumerateArray().Select(m => new ChatMessage(
            ChatMessage.ParseRole(m.GetProperty("role").GetString()), m.GetProperty("content").GetString()!))];

    [SkippableFact]
    public void Builds_every_Meta_chat_prompt()
    {
        var lines = File.ReadAllLines(Fixtures.Path("chat/llama2-chat-prompts.jsonl"));
        Assert.Equal(120, lines.Length);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var dialog = ParseDialog(doc.RootElement.GetProperty("dialog"));
            var expected = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(expected, Llama2ChatFormat.EncodeDialog(s_tokenizer.Value, dialog));
        }
    }

    [SkippableFact]
    public void Completed_dialog_closes_the_last_answer_with_eos()
    {
        var tokenizer = s_tokenizer.Value;
        var ids = Llama2ChatFormat.EncodeCompletedDialog(tokenizer,
            [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Hi"), new(ChatRole.Assistant, " Hello! ")]);
        Assert.Equal(tokenizer.Encode("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! ", addBos: true, addEos: true), ids);
    }

    [Fact]
    public void System_is_folded_into_the_first_user_turn()
    {
        var folded = Llama2ChatFormat.FoldSystem([new(ChatRole.System, "S"), new(ChatRole.User, "U"), new(ChatRole.Assistant, "A"), new(ChatRole.User, "V")]);
        Assert.Equal(3, folded.Count);
        Assert.Equal(new ChatMessage(ChatRole.User, "<<SYS>>\nS\n<</SYS>>\n\nU"), folded[0]);
    }

    [Fact]
    public void Roles_out_of_order_are_rejected_with_the_position()
    {
        var tokenizer = TestTokenizers.Tiny();
        var e = Assert.Throws<ChatFormatException>(() => Llama2ChatFormat.EncodeDialog(tokenizer,
            [new(ChatRole.User, "a"), new(ChatRole.User, "b")]));
        Assert.Contains("message 1", e.Message);
        Assert.Contains("expected role 'assistant'", e.Message);

        e = Assert.Throws<ChatFormatException>(() => Llama2ChatFormat.EncodeDialog(tokenizer,
            [new(ChatRole.System, "s"), new(ChatRole.User, "a"), new(ChatRole.System, "b")]));
        Assert.Contains("message 2", e.Message);

        e = Assert.Throws<ChatFormatException>(() => Llama2ChatFormat.EncodeDialog(tokenizer,
            [new(ChatRole.User, "a"), new(ChatRole.Assistant, "b")]));
        Assert.Contains("last message must be from the user", e.Message);

        Assert.Throws<ChatFormatException>(() => Llama2ChatFormat.EncodeDialog(tokenizer, []));
        Assert.Throws<ChatFormatException>(() => Llama2ChatFormat.EncodeDialog(tokenizer, [new(ChatRole.System, "s")]));
        Assert.Throws<ChatFormatException>(() => Llama2ChatFormat.EncodeDialog(tokenizer, [new(ChatRole.Assistant, "s")]));
        Assert.Throws<ChatFormatException>(() => ChatMessage.ParseRole("tool"));
    }

    [Theory]
    [InlineData("[INST] hi", true)]
    [InlineData("please [/INST]", true)]
    [InlineData("<<SYS>>", true)]
    [InlineData("x <</SYS>> y", true)]
    [InlineData("[inst] lower case is fine", false)]
    [InlineData("<<SYS> almost", false)]
    [InlineData("plain text", false)]
    public void Special_tags_are_detected(string content, bool unsafeRequest) =>
        Assert.Equal(unsafeRequest, Llama2ChatFormat.ContainsSpecialTags([new(ChatRole.User, "hello"), new(ChatRole.Assistant, content)]));

    [Theory]
    [InlineData(" \t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u00a0\u2000\u2028\u2029\u3000x y\u00a0 ", "x y")]
    [InlineData("\u200bx\u200b", "\u200bx\u200b")] // zero-width space is not whitespace in Python
    [InlineData("", "")]
    public void Strip_matches_Python(string input, string expected) => Assert.Equal(expected, Llama2ChatFormat.PythonStrip(input));
}
