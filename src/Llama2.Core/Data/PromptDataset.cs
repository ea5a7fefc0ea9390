using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.IO;

namespace Llama2.Core.Data;

/// <summary>A prompt for RLHF or evaluation: a dialogue ending with the user, its category, and whether it is a safety prompt.</summary>
public sealed record PromptExample(IReadOnlyList<ChatMessage> Messages, string? Category = null, bool IsSafety = false);

/// <summary>Reads prompt jsonl (DESIGN.md): <c>{"prompt" | "messages", "category"?, "is_safety"?}</c>; bad lines name their line.</summary>
public static class PromptDataset
{
    /// <exception cref="InvalidModelFileException">A missing file, or a bad line.</exception>
    public static List<PromptExample> Read(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var prompts = new List<PromptExample>();
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

                try
                {
                    using var document = JsonDocument.Parse(line);
                    var root = document.RootElement;
                    List<ChatMessage> messages = root.TryGetProperty("messages", out var array) ? ChatDataset.ParseMessages(array)
                        : root.TryGetProperty("prompt", out var prompt) && prompt.ValueKind == JsonValueKind.String ? [new ChatMessage(ChatRole.User, prompt.GetString()!)]
                        : throw new JsonException("expected \"prompt\" (a string) or \"messages\"");
                    Llama2ChatFormat.CheckPrompt(messages);
                    string? category = root.TryGetProperty("category", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                    bool safety = root.TryGetProperty("is_safety", out var s) && s.ValueKind == JsonValueKind.True;
                    prompts.Add(new PromptExample(messages, category, safety));
                }
                catch (Exception e) when (e is JsonException or ChatFormatException)
                {
                    throw InvalidModelFileException.For(path, $"line {number}: {e.Message}");
                }
            }
        }

        return prompts;
    }
}
