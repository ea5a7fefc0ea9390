using Llama2.Core.Tokenization;

namespace Llama2.Core.Chat;

/// <summary>
/// The Llama 2-Chat prompt format, exactly as Meta's <c>Llama.chat_completion</c> builds it:
/// <c>&lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt;\n{system}\n&lt;&lt;/SYS&gt;&gt;\n\n{user} [/INST] {answer} &lt;/s&gt;&lt;s&gt;[INST] {user} [/INST]</c>.
/// </summary>
public static class Llama2ChatFormat
{
    public const string BeginInstruction = "[INST]";
    public const string EndInstruction = "[/INST]";
    public const string BeginSystem = "<<SYS>>\n";
    public const string EndSystem = "\n<</SYS>>\n\n";

    /// <summary>Meta's reply when a message contains one of <see cref="SpecialTags"/>.</summary>
    public const string UnsafeRequestError = "Error: special tags are not allowed as part of the prompt.";

    /// <summary>Tags a user must not write: Meta's <c>SPECIAL_TAGS</c>.</summary>
    public static readonly IReadOnlyList<string> SpecialTags = [BeginInstruction, EndInstruction, "<<SYS>>", "<</SYS>>"];

    /// <summary>Meta's unsafe-request rule: true when any message contains a special tag.</summary>
    public static bool ContainsSpecialTags(IEnumerable<ChatMessage> dialog) =>
        dialog.Any(m => SpecialTags.Any(tag => m.Content.Contains(tag, StringComparison.Ordinal)));

    /// <summary>
    /// Encodes a dialog as the prompt for the next assistant turn: each completed (user, assistant)
    /// exchange is <c>BOS [INST] user [/INST] answer EOS</c>, the last user turn <c>BOS [INST] user [/INST]</c>.
    /// A leading system message is folded into the first user turn. Contents are stripped as Python's
    /// <c>str.strip()</c> does.
    /// </summary>
    /// <exception cref="ChatFormatException">The roles are not system?, user, (assistant, user)*.</exception>
    public static int[] EncodeDialog(LlamaTokenizer tokenizer, IReadOnlyList<ChatMessage> dialog)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var turns = FoldSystem(dialog);
        Validate(turns, dialog.Count != turns.Count);
        var ids = new List<int>();
        for (int i = 0; i + 1 < turns.Count; i += 2)
        {
            ids.AddRange(tokenizer.Encode(
                $"{BeginInstruction} {PythonStrip(turns[i].Content)} {EndInstruction} {PythonStrip(turns[i + 1].Content)} ",
                addBos: true, addEos: true));
        }

        ids.AddRange(tokenizer.Encode($"{BeginInstruction} {PythonStrip(turns[^1].Content)} {EndInstruction}", addBos: true));
        return [.. ids];
    }

    /// <summary>Encodes a dialog that ends with an assistant message, as training data: every exchange closed with EOS.</summary>
    /// <exception cref="ChatFormatException">The roles are not system?, user, assistant, (user, assistant)*.</exception>
    public static int[] EncodeCompletedDialog(LlamaTokenizer tokenizer, IReadOnlyList<ChatMessage> dialog)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var turns = FoldSystem(dialog);
        ValidateOrder(turns, dialog.Count != turns.Count);
        if (turns.Count % 2 != 0)
        {
            throw new ChatFormatException($"the last message must be from the assistant, got '{ChatMessage.RoleName(turns[^1].Role)}'");
        }

        var ids = new List<int>();
        for (int i = 0; i < turns.Count; i += 2)
        {
            ids.AddRange(tokenizer.Encode(
                $"{BeginInstruction} {PythonStrip(turns[i].Content)} {EndInstruction} {PythonStrip(turns[i + 1].Content)} ",
                addBos: true, addEos: true));
        }

        return [.. ids];
    }

    /// <summary>
    /// Encodes a dialog that ends with an assistant message for supervised fine-tuning: per exchange, the prompt
    /// <c>BOS [INST] user [/INST]</c> and the answer <c>answer EOS</c> (Meta's text, with its trailing space), split where
    /// the answer starts — the same prompt tokens the model sees at inference, so loss masks fall on exact boundaries.
    /// </summary>
    /// <exception cref="ChatFormatException">The roles are not system?, user, assistant, (user, assistant)*.</exception>
    public static IReadOnlyList<(int[] Prompt, int[] Answer)> EncodeExchanges(LlamaTokenizer tokenizer, IReadOnlyList<ChatMessage> dialog)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var turns = FoldSystem(dialog);
        ValidateOrder(turns, dialog.Count != turns.Count);
        if (turns.Count % 2 != 0)
        {
            throw new ChatFormatException($"the last message must be from the assistant, got '{ChatMessage.RoleName(turns[^1].Role)}'");
        }

        var exchanges = new List<(int[], int[])>(turns.Count / 2);
        for (int i = 0; i < turns.Count; i += 2)
        {
            exchanges.Add((
                tokenizer.Encode($"{BeginInstruction} {PythonStrip(turns[i].Content)} {EndInstruction}", addBos: true),
                tokenizer.Encode($"{PythonStrip(turns[i + 1].Content)} ", addEos: true)));
        }

        return exchanges;
    }

    /// <summary>Checks a prompt dialogue's roles: system?, user, (assistant, user)*.</summary>
    /// <exception cref="ChatFormatException">The message says which turn is wrong.</exception>
    public static void CheckPrompt(IReadOnlyList<ChatMessage> dialog)
    {
        var turns = FoldSystem(dialog);
        Validate(turns, dialog.Count != turns.Count);
    }

    /// <summary>Folds a leading system message into the first user message, as Meta's code does.</summary>
    public static IReadOnlyList<ChatMessage> FoldSystem(IReadOnlyList<ChatMessage> dialog)
    {
        ArgumentNullException.ThrowIfNull(dialog);
        if (dialog.Count == 0)
        {
            throw new ChatFormatException("the dialog is empty: it needs at least one user message");
        }

        if (dialog[0].Role != ChatRole.System)
        {
            return dialog;
        }

        if (dialog.Count == 1)
        {
            throw new ChatFormatException("the dialog has only a system message: it needs a user message after it");
        }

        var folded = new List<ChatMessage>(dialog.Count - 1)
        {
            dialog[1] with { Content = BeginSystem + dialog[0].Content + EndSystem + dialog[1].Content },
        };
        folded.AddRange(dialog.Skip(2));
        return folded;
    }

    private static void Validate(IReadOnlyList<ChatMessage> turns, bool hadSystem)
    {
        ValidateOrder(turns, hadSystem);
        if (turns[^1].Role != ChatRole.User)
        {
            throw new ChatFormatException($"the last message must be from the user, got '{ChatMessage.RoleName(turns[^1].Role)}'");
        }
    }

    private static void ValidateOrder(IReadOnlyList<ChatMessage> turns, bool hadSystem)
    {
        int offset = hadSystem ? 1 : 0; // report positions in the caller's dialog
        for (int i = 0; i < turns.Count; i++)
        {
            var expected = i % 2 == 0 ? ChatRole.User : ChatRole.Assistant;
            if (turns[i].Role != expected)
            {
                throw new ChatFormatException(
                    $"message {i + offset}: expected role '{ChatMessage.RoleName(expected)}' but got '{ChatMessage.RoleName(turns[i].Role)}' " +
                    "(the model supports an optional 'system' first, then 'user' and 'assistant' alternating, starting with 'user')");
            }
        }
    }

    /// <summary>Python's <c>str.strip()</c>: removes leading and trailing characters for which <c>str.isspace()</c> is true.</summary>
    public static string PythonStrip(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int start = 0, end = text.Length;
        while (start < end && IsPythonSpace(text[start]))
        {
            start++;
        }

        while (end > start && IsPythonSpace(text[end - 1]))
        {
            end--;
        }

        return text[start..end];
    }

    /// <summary>Python's <c>str.isspace()</c> for one UTF-16 unit (all whitespace code points are in the BMP).</summary>
    public static bool IsPythonSpace(char c) =>
        c is (>= '\t' and <= '\r') or (>= '\x1c' and <= ' ') or '\x85'
        || (c > '\x85' && char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.SpaceSeparator
            or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator);
}
