using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.IO;

namespace Llama2.Core.Data;

/// <summary>
/// One preference pair: a prompt (a dialogue ending with the user) and two answers, the better one chosen. Rating is
/// one of the paper's four levels (null when the line has none: no margin); safety pairs carry the paper's label.
/// </summary>
public sealed record PreferenceExample(
    IReadOnlyList<ChatMessage> Prompt,
    string Chosen,
    string Rejected,
    string? Rating = null,
    double? Margin = null,
    bool IsSafety = false,
    string? SafetyLabel = null,
    string? Category = null);

/// <summary>What reading preference data skipped or defaulted, so it can be reported.</summary>
public sealed record PreferenceReadCounts(int Read, int SameAnswers, int MissingRating, int Invalid);

/// <summary>
/// Reads preference data (DESIGN.md): jsonl <c>{"prompt" | "messages", "chosen", "rejected", "rating"?, "margin"?,
/// "is_safety"?, "safety_label"?}</c> and Anthropic HH-RLHF lines (<c>{"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": …}</c>).
/// Pairs whose two answers are the same carry no preference and are skipped (counted).
/// </summary>
public static class PreferenceDataset
{
    /// <summary>The paper's four ratings, clearest first (Table 8's buckets).</summary>
    public static readonly IReadOnlyList<string> Ratings = ["significantly better", "better", "slightly better", "negligibly better"];

    /// <exception cref="InvalidModelFileException">A bad line (unless <paramref name="skipInvalid"/>), or a missing file.</exception>
    public static (List<PreferenceExample> Pairs, PreferenceReadCounts Counts) Read(IEnumerable<string> paths, bool skipInvalid = false, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var pairs = new List<PreferenceExample>();
        int same = 0, missing = 0, invalid = 0;
        foreach (var path in paths)
        {
            if (!File.Exists(path))
            {
                throw InvalidModelFileException.For(path, "no such file");
            }

            int number = 0;
            foreach (var line in File.ReadLines(path))
            {
                number++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                PreferenceExample pair;
                try
                {
                    pair = Parse(line);
                }
                catch (Exception e) when (e is JsonException or ChatFormatException)
                {
                    if (!skipInvalid)
                    {
                        throw InvalidModelFileException.For(path, $"line {number}: {e.Message} (--skip-invalid skips such lines)");
                    }

                    invalid++;
                    warn?.Invoke($"{path}: line {number}: {e.Message} (skipped)");
                    continue;
                }

                if (pair.Chosen.Trim() == pair.Rejected.Trim())
                {
                    same++;
                    continue;
                }

                missing += pair.Rating is null && pair.Margin is null ? 1 : 0;
                pairs.Add(pair);
            }
        }

        return (pairs, new PreferenceReadCounts(pairs.Count, same, missing, invalid));
    }

    /// <summary>Parses one line of either format.</summary>
    /// <exception cref="JsonException">Not a preference object.</exception>
    /// <exception cref="ChatFormatException">The prompt's roles are out of order.</exception>
    public static PreferenceExample Parse(string line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("expected a JSON object");
        }

        var chosen = String(root, "chosen") ?? throw new JsonException("\"chosen\" is required");
        var rejected = String(root, "rejected") ?? throw new JsonException("\"rejected\" is required");
        string? rating = String(root, "rating");
        if (rating is not null && !Ratings.Contains(rating))
        {
            throw new JsonException($"\"rating\" must be one of {string.Join(", ", Ratings.Select(r => $"'{r}'"))}, got '{rating}'");
        }

        double? margin = root.TryGetProperty("margin", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetDouble() : null;
        bool isSafety = root.TryGetProperty("is_safety", out var s) && s.ValueKind == JsonValueKind.True;
        string? label = String(root, "safety_label");
        string? category = String(root, "category");
        if (root.TryGetProperty("messages", out var messages))
        {
            return new PreferenceExample(Prompt(ChatDataset.ParseMessages(messages)), chosen, rejected, rating, margin, isSafety, label, category);
        }

        if (String(root, "prompt") is { } prompt)
        {
            return new PreferenceExample([new ChatMessage(ChatRole.User, prompt)], chosen, rejected, rating, margin, isSafety, label, category);
        }

        // Anthropic HH-RLHF: both fields hold the whole conversation; they share it up to the last "Assistant:".
        var (conversation, chosenAnswer) = SplitHh(chosen);
        var (rejectedConversation, rejectedAnswer) = SplitHh(rejected);
        if (conversation.Count != rejectedConversation.Count)
        {
            throw new JsonException("HH-RLHF line: \"chosen\" and \"rejected\" hold different conversations");
        }

        return new PreferenceExample(conversation, chosenAnswer, rejectedAnswer, rating, margin, isSafety, label, category);
    }

    private static List<ChatMessage> Prompt(List<ChatMessage> messages)
    {
        if (messages.Count == 0 || messages[^1].Role != ChatRole.User)
        {
            throw new ChatFormatException("\"messages\" must end with the user's message (the answers are \"chosen\" and \"rejected\")");
        }

        Llama2ChatFormat.CheckPrompt(messages);
        return messages;
    }

    /// <summary>"\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d" → ([user a, assistant b, user c], d).</summary>
    private static (List<ChatMessage> Prompt, string Answer) SplitHh(string text)
    {
        var parts = text.Split(["\n\nHuman:", "\n\nAssistant:"], StringSplitOptions.None);
        var roles = new List<ChatMessage>();
        int at = 0;
        foreach (var part in parts.Skip(1))
        {
            at = text.IndexOf(part, at, StringComparison.Ordinal);
            bool human = text.AsSpan(0, at).EndsWith("\n\nHuman:", StringComparison.Ordinal);
            roles.Add(new ChatMessage(human ? ChatRole.User : ChatRole.Assistant, part.Trim()));
            at += part.Length;
        }

        if (roles.Count < 2 || roles[^1].Role != ChatRole.Assistant)
        {
            throw new JsonException("HH-RLHF line: expected \"\\n\\nHuman: …\\n\\nAssistant: …\" turns ending with the assistant");
        }

        return (roles[..^1], roles[^1].Content);
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw new JsonException($"\"{name}\" must be a string")
            : null;
}
