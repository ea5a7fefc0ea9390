using Llama2.Core.Chat;
using Llama2.Core.Tokenization;

namespace Llama2.Inference;

/// <summary>
/// A Llama 2-Chat request made ready to generate: the prompt ids, or — when a message carries one of Meta's
/// special tags — the fixed reply Meta's <c>chat_completion</c> gives instead of generating.
/// </summary>
public sealed record ChatPrompt(int[] Ids, string? FixedReply)
{
    /// <summary>Encodes <paramref name="dialog"/> for the next assistant turn and checks it fits in <paramref name="contextLength"/>.</summary>
    /// <exception cref="ChatFormatException">No messages, or roles out of Llama 2-Chat's order (the message says which).</exception>
    /// <exception cref="ContextLengthExceededException">The prompt leaves no room to answer.</exception>
    public static ChatPrompt Build(LlamaTokenizer tokenizer, IReadOnlyList<ChatMessage> dialog, int contextLength)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(dialog);
        if (dialog.Count == 0)
        {
            throw new ChatFormatException("the dialog has no messages: it needs at least one user message");
        }

        if (Llama2ChatFormat.ContainsSpecialTags(dialog))
        {
            return new ChatPrompt([], Llama2ChatFormat.UnsafeRequestError);
        }

        var ids = Llama2ChatFormat.EncodeDialog(tokenizer, dialog);
        return ids.Length < contextLength ? new ChatPrompt(ids, null) : throw new ContextLengthExceededException(ids.Length, contextLength);
    }

    /// <summary>
    /// Encodes <paramref name="system"/> + <paramref name="history"/> (completed exchanges) + <paramref name="user"/>, dropping
    /// the oldest exchanges whole — never the system prompt — until <paramref name="room"/> tokens are left to answer.
    /// </summary>
    /// <exception cref="ContextLengthExceededException">Even without history the message does not fit.</exception>
    public static (int[] Ids, int Dropped) Fit(LlamaTokenizer tokenizer, string? system, IReadOnlyList<ChatMessage> history, string user, int contextLength, int room)
    {
        ArgumentNullException.ThrowIfNull(history);
        for (int dropped = 0; ; dropped++)
        {
            var dialog = new List<ChatMessage>();
            if (!string.IsNullOrEmpty(system))
            {
                dialog.Add(new ChatMessage(ChatRole.System, system));
            }

            dialog.AddRange(history.Skip(2 * dropped));
            dialog.Add(new ChatMessage(ChatRole.User, user));
            var ids = Llama2ChatFormat.EncodeDialog(tokenizer, dialog);
            if (ids.Length + room <= contextLength)
            {
                return (ids, dropped);
            }

            if (2 * dropped >= history.Count)
            {
                throw new ContextLengthExceededException(ids.Length + room, contextLength);
            }
        }
    }
}
