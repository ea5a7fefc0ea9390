namespace Llama2.Core.Chat;

/// <summary>The roles of a Llama 2-Chat dialog.</summary>
public enum ChatRole
{
    System,
    User,
    Assistant,
}

/// <summary>One message of a dialog.</summary>
public sealed record ChatMessage(ChatRole Role, string Content)
{
    /// <summary>Parses "system", "user" or "assistant" (as in OpenAI's and Meta's JSON).</summary>
    /// <exception cref="ChatFormatException">Any other role.</exception>
    public static ChatRole ParseRole(string? role) => role switch
    {
        "system" => ChatRole.System,
        "user" => ChatRole.User,
        "assistant" => ChatRole.Assistant,
        _ => throw new ChatFormatException($"unknown role '{role}': expected 'system', 'user' or 'assistant'"),
    };

    public static string RoleName(ChatRole role) => role switch
    {
        ChatRole.System => "system",
        ChatRole.User => "user",
        _ => "assistant",
    };
}

/// <summary>A dialog breaks the Llama 2-Chat rules (role order, empty dialog); the message says which message and why.</summary>
public sealed class ChatFormatException : Exception
{
    public ChatFormatException(string message)
        : base(message)
    {
    }

    public ChatFormatException()
    {
    }

    public ChatFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
