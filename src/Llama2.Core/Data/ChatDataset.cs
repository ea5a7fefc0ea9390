using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.IO;

namespace Llama2.Core.Data;

/// <summary>Which assistant turns of a dialogue are learned in supervised fine-tuning.</summary>
public enum LossScope
{
    /// <summary>Every assistant turn (Llama 2 §3.1: only answer tokens are learned).</summary>
    AllAssistantTurns,

    /// <summary>Only the last assistant turn: Ghost Attention zeroes the loss on every token of earlier turns (§3.3).</summary>
    LastAssistantTurn,
}

/// <summary>One fine-tuning dialogue: messages ending with the assistant's answer.</summary>
public sealed record ChatExample(IReadOnlyList<ChatMessage> Messages, LossScope Loss = LossScope.AllAssistantTurns);

/// <summary>
/// Reads chat fine-tuning data (DESIGN.md): jsonl lines <c>{"messages": [{"role", "content"}, …], "loss"?: "last_turn"}</c>
/// or <c>{"prompt": …, "completion": …}</c>. A bad line is an error naming the file and line, unless skipped.
/// </summary>
public static class ChatDataset
{
    /// <summary>Reads every file (one example per non-empty line).</summary>
    /// <param name="paths">jsonl files.</param>
    /// <param name="skipInvalid">Skip bad lines (each reported through <paramref name="warn"/>) instead of failing.</param>
    /// <param name="warn">Receives one message per skipped line.</param>
    /// <exception cref="InvalidModelFileException">A bad line (when not skipping), or a file that cannot be read.</exception>
    public static List<ChatExample> Read(IEnumerable<string> paths, bool skipInvalid = false, Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var examples = new List<ChatExample>();
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
                    examples.Add(Parse(line));
                }
                catch (Exception e) when (e is JsonException or ChatFormatException)
                {
                    var problem = $"line {number}: {e.Message}";
                    if (!skipInvalid)
                    {
                        throw InvalidModelFileException.For(path, problem + " (--skip-invalid skips such lines)");
                    }

                    warn?.Invoke($"{path}: {problem} (skipped)");
                }
            }
        }

        return examples;
    }

    /// <summary>Writes examples as <c>{"messages": […], "loss": "last_turn"?}</c> lines (what <see cref="Read"/> reads back).</summary>
    public static void Write(string path, IEnumerable<ChatExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        using var writer = new StreamWriter(path, false, new System.Text.UTF8Encoding(false)) { NewLine = "\n" };
        foreach (var example in examples)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteStartArray("messages");
                foreach (var message in example.Messages)
                {
                    json.WriteStartObject();
                    json.WriteString("role", ChatMessage.RoleName(message.Role));
                    json.WriteString("content", message.Content);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                if (example.Loss == LossScope.LastAssistantTurn)
                {
                    json.WriteString("loss", "last_turn");
                }

                json.WriteEndObject();
            }

            writer.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        }
    }

    /// <summary>Parses one line.</summary>
    /// <exception cref="JsonException">Not a JSON object of either shape.</exception>
    /// <exception cref="ChatFormatException">Roles out of order, or the dialogue does not end with the assistant.</exception>
    public static ChatExample Parse(string line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("expected a JSON object");
        }

        List<ChatMessage> messages;
        if (root.TryGetProperty("messages", out var array))
        {
            messages = ParseMessages(array);
        }
        else if (root.TryGetProperty("prompt", out var prompt) && root.TryGetProperty("completion", out var completion))
        {
            messages = [new ChatMessage(ChatRole.User, Text(prompt, "prompt")), new ChatMessage(ChatRole.Assistant, Text(completion, "completion"))];
        }
        else
        {
            throw new JsonException("expected \"messages\", or \"prompt\" and \"completion\"");
        }

        var loss = root.TryGetProperty("loss", out var scope) && scope.ValueKind == JsonValueKind.String
            ? scope.GetString() switch
            {
                "last_turn" => LossScope.LastAssistantTurn,
                "all_turns" => LossScope.AllAssistantTurns,
                var other => throw new JsonException($"\"loss\" must be \"all_turns\" or \"last_turn\", got \"{other}\""),
            }
            : LossScope.AllAssistantTurns;
        Check(messages);
        return new ChatExample(messages, loss);
    }

    /// <summary>Checks Llama 2-Chat's order for a training dialogue: system?, user, assistant, (user, assistant)*.</summary>
    /// <exception cref="ChatFormatException">The message says which turn is wrong.</exception>
    public static void Check(IReadOnlyList<ChatMessage> messages)
    {
        var turns = Llama2ChatFormat.FoldSystem(messages);
        int offset = messages.Count - turns.Count;
        for (int i = 0; i < turns.Count; i++)
        {
            var expected = i % 2 == 0 ? ChatRole.User : ChatRole.Assistant;
            if (turns[i].Role != expected)
            {
                throw new ChatFormatException($"message {i + offset}: expected role '{ChatMessage.RoleName(expected)}' but got '{ChatMessage.RoleName(turns[i].Role)}'");
            }
        }

        if (turns.Count % 2 != 0)
        {
            throw new ChatFormatException("the dialogue must end with an assistant message to learn from");
        }
    }

    /// <summary>A <c>"messages"</c> array of <c>{"role", "content"}</c> objects.</summary>
    /// <exception cref="JsonException">Not such an array.</exception>
    public static List<ChatMessage> ParseMessages(JsonElement array)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("\"messages\" must be an array of {\"role\", \"content\"} objects");
        }

        var messages = new List<ChatMessage>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("content", out var content))
            {
                throw new JsonException($"messages[{messages.Count}] must be an object with string \"role\" and \"content\"");
            }

            messages.Add(new ChatMessage(ChatMessage.ParseRole(role.GetString()), Text(content, $"messages[{messages.Count}].content")));
        }

        return messages;
    }

    private static string Text(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new JsonException($"\"{name}\" must be a string");
}
