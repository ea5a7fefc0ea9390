using System.Runtime.CompilerServices;
using Llama2.Core.Model;
using Llama2.Core.Sampling;
using Microsoft.Extensions.AI;
using LlamaMessage = Llama2.Core.Chat.ChatMessage;
using LlamaRole = Llama2.Core.Chat.ChatRole;

namespace Llama2.Inference;

/// <summary>
/// <see cref="IChatClient"/> over the engine, for in-process use by .NET apps and Semantic Kernel: messages
/// become a Llama 2-Chat prompt (Meta's format and unsafe-tag rule), and concurrent calls share the model
/// through a <see cref="BatchGenerator"/>. Unset options take Meta's defaults (temperature 0.6, top-p 0.9);
/// the answer may run to the end of the context window unless <see cref="ChatOptions.MaxOutputTokens"/> is set.
/// </summary>
public sealed class LlamaChatClient : IChatClient
{
    private readonly BatchGenerator _generator;
    private readonly IDisposable? _owned;
    private readonly ChatClientMetadata _metadata;

    /// <param name="generator">The engine; the caller keeps ownership.</param>
    /// <param name="modelId">The name reported as <see cref="ChatResponse.ModelId"/>.</param>
    public LlamaChatClient(BatchGenerator generator, string modelId = "llama-2")
        : this(generator, modelId, null)
    {
    }

    private LlamaChatClient(BatchGenerator generator, string modelId, IDisposable? owned)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _generator = generator;
        _owned = owned;
        _metadata = new ChatClientMetadata("llama2-csharp", null, modelId);
    }

    /// <summary>Loads a model (GGUF, Hugging Face or Meta folder) and serves it; disposing the client closes it.</summary>
    /// <exception cref="Core.IO.InvalidModelFileException">The model cannot be read.</exception>
    public static LlamaChatClient Load(string modelPath, BatchGeneratorOptions? options = null)
    {
        var model = ModelFile.Open(modelPath);
        try
        {
            var generator = new BatchGenerator(model, options);
            return new LlamaChatClient(generator, Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(modelPath)), new Owned(generator, model));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    /// <exception cref="Core.Chat.ChatFormatException">Roles out of Llama 2-Chat's order, or no message.</exception>
    /// <exception cref="ContextLengthExceededException">The conversation does not fit in the context window.</exception>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (prompt, generation) = Prepare(messages, options);
        var id = ResponseId();
        if (prompt.FixedReply is { } reply)
        {
            return Response(id, reply, ChatFinishReason.Stop, 0, 0);
        }

        var result = await _generator.CompleteAsync(prompt.Ids, generation, cancellationToken).ConfigureAwait(false);
        return Response(id, result.Text, FinishReason(result.FinishReason), result.PromptTokens, result.Ids.Count);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (prompt, generation) = Prepare(messages, options);
        var id = ResponseId();
        if (prompt.FixedReply is { } reply)
        {
            yield return Update(id, reply, ChatFinishReason.Stop);
            yield break;
        }

        var running = _generator.Start(prompt.Ids, generation, cancellationToken);
        await foreach (var token in running.Tokens.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (token.Text.Length > 0)
            {
                yield return Update(id, token.Text, null);
            }
        }

        var result = await running.Result.ConfigureAwait(false);
        var last = Update(id, null, FinishReason(result.FinishReason));
        last.Contents.Add(new UsageContent(Usage(result.PromptTokens, result.Ids.Count)));
        yield return last;
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : serviceType.IsInstanceOfType(_generator) ? _generator
            : null;
    }

    public void Dispose() => _owned?.Dispose();

    /// <summary>Maps <see cref="ChatOptions"/> onto the engine's options.</summary>
    internal static GenerationOptions Options(ChatOptions? options, int promptTokens, int contextLength)
    {
        var defaults = new SamplingOptions();
        var sampling = new SamplingOptions
        {
            Temperature = options?.Temperature ?? defaults.Temperature,
            TopP = options?.TopP ?? defaults.TopP,
            TopK = options?.TopK ?? 0,
            FrequencyPenalty = options?.FrequencyPenalty ?? 0,
            PresencePenalty = options?.PresencePenalty ?? 0,
            Seed = options?.Seed is { } seed ? unchecked((ulong)seed) : null,
        };
        return new GenerationOptions
        {
            MaxTokens = options?.MaxOutputTokens ?? contextLength - promptTokens,
            Stop = options?.StopSequences is { } stop ? [.. stop] : [],
            Sampling = sampling,
        };
    }

    private (ChatPrompt Prompt, GenerationOptions Generation) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var dialog = messages.Select(m => new LlamaMessage(Role(m.Role), m.Text)).ToList();
        var prompt = ChatPrompt.Build(_generator.Tokenizer, dialog, _generator.ContextLength);
        return (prompt, Options(options, prompt.Ids.Length, _generator.ContextLength));
    }

    private static LlamaRole Role(ChatRole role) =>
        role == ChatRole.System ? LlamaRole.System
        : role == ChatRole.User ? LlamaRole.User
        : role == ChatRole.Assistant ? LlamaRole.Assistant
        : throw new Core.Chat.ChatFormatException($"role '{role.Value}' is not part of Llama 2-Chat: expected system, user or assistant");

    private static ChatFinishReason FinishReason(Inference.FinishReason finish) =>
        finish == Inference.FinishReason.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length;

    private static string ResponseId() => "chatcmpl-" + Guid.NewGuid().ToString("N");

    private static UsageDetails Usage(int prompt, int generated) =>
        new() { InputTokenCount = prompt, OutputTokenCount = generated, TotalTokenCount = prompt + generated };

    private ChatResponse Response(string id, string text, ChatFinishReason finish, int prompt, int generated) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ResponseId = id,
            ModelId = _metadata.DefaultModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = finish,
            Usage = Usage(prompt, generated),
        };

    private ChatResponseUpdate Update(string id, string? text, ChatFinishReason? finish) =>
        new(ChatRole.Assistant, text)
        {
            ResponseId = id,
            MessageId = id,
            ModelId = _metadata.DefaultModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = finish,
        };

    private sealed class Owned(BatchGenerator generator, ModelFile model) : IDisposable
    {
        public void Dispose()
        {
            generator.Dispose();
            model.Dispose();
        }
    }
}
