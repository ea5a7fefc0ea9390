using System.Text.Json;
using Llama2.Core.Chat;

namespace Llama2.Cli;

/// <summary>Reads a dialog: a JSON array of {"role": …, "content": …}.</summary>
internal static class DialogJson
{
    public static List<ChatMessage> Parse(JsonElement array)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new CliException("\"dialog\" must be an array of {\"role\", \"content\"} objects");
        }

        var messages = new List<ChatMessage>();
        int index = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                throw new CliException($"dialog message {index} must be an object with string \"role\" and \"content\"");
            }

            messages.Add(new ChatMessage(ChatMessage.ParseRole(role.GetString()), content.GetString()!));
            index++;
        }

        return messages;
    }
}
