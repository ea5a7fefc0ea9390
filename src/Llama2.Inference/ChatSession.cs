using System.Runtime.CompilerServices;
using Llama2.Core.Chat;

namespace Llama2.Inference;

/// <summary>
/// A Llama 2-Chat conversation over a <see cref="Generator"/>: it keeps the history, builds the prompt with
/// Meta's format, drops the oldest exchanges whole (never the system prompt) when the context window would
/// overflow, and applies Meta's unsafe-request rule (special tags in a message get the fixed error reply).
/// </summary>
public sealed class ChatSession(Generator generator, string? system = null)
{
    private readonly List<ChatMessage> _history = [];

    public string? System { get; set; } = system;

    public IReadOnlyList<ChatMessage> History => _history;

    /// <summary>Exchanges dropped so far to fit the context window.</summary>
    public int DroppedExchanges { get; private set; }

    public void Reset()
    {
        _history.Clear();
        DroppedExchanges = 0;
    }

    /// <summary>
    /// Sends a user message and streams the reply. The exchange joins the history when the enumeration
    /// completes. A message with special tags is answered with <see cref="Llama2ChatFormat.UnsafeRequestError"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The message alone does not fit in the context window.</exception>
    public IEnumerable<GeneratedToken> Send(string user, GenerationOptions options, StrongBox<FinishReason> finish)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(options);
        var message = new ChatMessage(ChatRole.User, user);
        var candidate = Dialog([.. _history, message]);
        if (Llama2ChatFormat.ContainsSpecialTags(candidate))
        {
            finish.Value = FinishReason.Stop;
            return [new GeneratedToken(-1, Llama2ChatFormat.UnsafeRequestError)];
        }

        var prompt = FitPrompt(message, options.MaxTokens);
        return Stream(prompt, message, options, finish);
    }

    private IEnumerable<GeneratedToken> Stream(int[] prompt, ChatMessage message, GenerationOptions options, StrongBox<FinishReason> finish)
    {
        var reply = new System.Text.StringBuilder();
        foreach (var token in generator.Generate(prompt, options, finish))
        {
            reply.Append(token.Text);
            yield return token;
        }

        _history.Add(message);
        _history.Add(new ChatMessage(ChatRole.Assistant, reply.ToString()));
    }

    /// <summary>Encodes system + history + message, dropping the oldest exchanges until it fits with room to answer.</summary>
    private int[] FitPrompt(ChatMessage message, int maxTokens)
    {
        int room = Math.Clamp(maxTokens, 1, generator.ContextLength / 4);
        try
        {
            var (ids, dropped) = ChatPrompt.Fit(generator.Tokenizer, System, _history, message.Content, generator.ContextLength, room);
            _history.RemoveRange(0, 2 * dropped);
            DroppedExchanges += dropped;
            return ids;
        }
        catch (ContextLengthExceededException e)
        {
            throw new ArgumentException(
                $"the message needs {e.PromptTokens - room} tokens with the system prompt, more than the context window of {generator.ContextLength} tokens allows (keeping {room} for the answer)");
        }
    }

    private List<ChatMessage> Dialog(IEnumerable<ChatMessage> turns)
    {
        var dialog = new List<ChatMessage>();
        if (!string.IsNullOrEmpty(System))
        {
            dialog.Add(new ChatMessage(ChatRole.System, System));
        }

        dialog.AddRange(turns);
        return dialog;
    }
}
