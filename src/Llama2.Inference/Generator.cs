using System.Runtime.CompilerServices;
using Llama2.Core.Model;
using Llama2.Core.Sampling;
using Llama2.Core.Tokenization;

namespace Llama2.Inference;

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model produced EOS, or a stop string appeared.</summary>
    Stop,

    /// <summary>The token limit was reached.</summary>
    Length,

    /// <summary>The context window is full.</summary>
    ContextFull,
}

/// <summary>Limits and sampling for one generation.</summary>
public sealed record GenerationOptions
{
    /// <summary>At most this many new tokens.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Generation ends when one of these appears in the text; it is not included in the output.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Keep going after EOS (for benchmarks).</summary>
    public bool IgnoreEos { get; init; }

    public SamplingOptions Sampling { get; init; } = new();
}

/// <summary>
/// One generated token and the text it completes (possibly empty while a character or stop string is
/// pending). A final entry with id -1 may carry text held back until the end.
/// </summary>
public readonly record struct GeneratedToken(int Id, string Text);

/// <summary>A prompt does not fit in the context window (with room for one generated token).</summary>
public sealed class ContextLengthExceededException(int promptTokens, int contextLength)
    : ArgumentException($"the prompt has {promptTokens} tokens, which does not fit in the context window of {contextLength} tokens (with room for one more)")
{
    public int PromptTokens { get; } = promptTokens;

    public int ContextLength { get; } = contextLength;
}

/// <summary>The outcome of a whole generation.</summary>
public sealed record GenerationResult(IReadOnlyList<int> Ids, string Text, FinishReason FinishReason, int PromptTokens);

/// <summary>
/// Autoregressive generation over a <see cref="Transformer"/>: prompt prefill, sampling, EOS and stop
/// strings, streaming text that never splits a UTF-8 character. Reuses the KV cache when a new prompt
/// starts with the previous sequence (a chat continuing).
/// </summary>
public sealed class Generator
{
    private readonly Transformer _transformer;
    private readonly List<int> _cached = []; // tokens whose keys/values are in the cache, in order
    private readonly float[] _logits;

    public Generator(ModelFile model, int contextLength = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _transformer = new Transformer(model, contextLength);
        _logits = new float[model.Config.VocabSize];
    }

    public ModelFile Model { get; }

    public LlamaTokenizer Tokenizer => Model.Tokenizer;

    public int ContextLength => _transformer.ContextLength;

    /// <summary>Generates after <paramref name="prompt"/>, yielding tokens as they come; <paramref name="finish"/> is set at the end.</summary>
    /// <exception cref="ArgumentException">The prompt is empty or does not fit in the context window.</exception>
    public IEnumerable<GeneratedToken> Generate(IReadOnlyList<int> prompt, GenerationOptions options, StrongBox<FinishReason> finish, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(finish);
        CheckPrompt(prompt, options, ContextLength, Model.Config.VocabSize);
        var sampler = new Sampler(options.Sampling);
        return Run(prompt, options, sampler, finish, cancellation);
    }

    /// <exception cref="ArgumentException">The prompt is empty, has an unknown token id or does not fit in the context window; max tokens is negative.</exception>
    internal static void CheckPrompt(IReadOnlyList<int> prompt, GenerationOptions options, int contextLength, int vocabSize)
    {
        if (prompt.Count == 0)
        {
            throw new ArgumentException("the prompt is empty: it needs at least one token (usually BOS)");
        }

        if (prompt.Count >= contextLength)
        {
            throw new ContextLengthExceededException(prompt.Count, contextLength);
        }

        if (prompt.FirstOrDefault(id => (uint)id >= (uint)vocabSize, -1) is var bad and not -1)
        {
            throw new ArgumentException($"token id {bad} is out of range: the vocabulary has {vocabSize} tokens");
        }

        if (options.MaxTokens < 0)
        {
            throw new ArgumentException($"max tokens must be ≥ 0, got {options.MaxTokens}");
        }

        options.Sampling.Validate();
    }

    /// <summary>Generates to the end and returns the generated ids and text.</summary>
    public GenerationResult Complete(IReadOnlyList<int> prompt, GenerationOptions options, CancellationToken cancellation = default)
    {
        var finish = new StrongBox<FinishReason>();
        var ids = new List<int>();
        var text = new System.Text.StringBuilder();
        foreach (var token in Generate(prompt, options, finish, cancellation))
        {
            if (token.Id >= 0)
            {
                ids.Add(token.Id);
            }

            text.Append(token.Text);
        }

        return new GenerationResult(ids, text.ToString(), finish.Value, prompt.Count);
    }

    private IEnumerable<GeneratedToken> Run(IReadOnlyList<int> prompt, GenerationOptions options, Sampler sampler, StrongBox<FinishReason> finish, CancellationToken cancellation)
    {
        Prefill(prompt);
        var state = new GenerationState(Tokenizer, options, sampler);
        while (!state.Done)
        {
            cancellation.ThrowIfCancellationRequested();
            var token = state.Step(_logits, _transformer.Position < ContextLength);
            if (token is not { } next)
            {
                break;
            }

            yield return next;
            if (!state.Done)
            {
                _transformer.Forward([next.Id], _logits);
                _cached.Add(next.Id);
            }
        }

        finish.Value = state.Finish ?? FinishReason.Length;
        var rest = state.Rest();
        if (rest.Length > 0)
        {
            yield return new GeneratedToken(-1, rest);
        }
    }

    /// <summary>Feeds the prompt, reusing the cached prefix it shares with the previous sequence.</summary>
    private void Prefill(IReadOnlyList<int> prompt)
    {
        int common = 0;
        while (common < _cached.Count && common < prompt.Count - 1 && _cached[common] == prompt[common])
        {
            common++;
        }

        _transformer.Rewind(common);
        _cached.RemoveRange(common, _cached.Count - common);
        var rest = prompt.Skip(common).ToArray();
        _transformer.Forward(rest, _logits);
        _cached.AddRange(rest);
    }
}
