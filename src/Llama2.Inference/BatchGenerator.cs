using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Llama2.Core.Model;
using Llama2.Core.Sampling;
using Llama2.Core.Tokenization;

namespace Llama2.Inference;

/// <summary>Limits of a <see cref="BatchGenerator"/>.</summary>
public sealed record BatchGeneratorOptions
{
    /// <summary>Generations decoded together, each with its own KV cache (llama.cpp's <c>--parallel</c>).</summary>
    public int Slots { get; init; } = 4;

    /// <summary>KV cache size per slot in tokens; 0 means the model's trained context.</summary>
    public int ContextLength { get; init; }

    /// <summary>Requests that may wait for a free slot; past this <see cref="BatchGenerator.Start"/> refuses.</summary>
    public int QueueLimit { get; init; } = 64;

    /// <summary>Prompt tokens fed per scheduling step, so a long prompt does not stall the other streams for long.</summary>
    public int PrefillChunk { get; init; } = 64;

    /// <summary>Threads for the kernels; null uses <see cref="Kernels.WorkerPool.Shared"/>.</summary>
    public Kernels.WorkerPool? Pool { get; init; }
}

/// <summary>Thrown by <see cref="BatchGenerator.Start"/> when every slot is busy and the queue is full.</summary>
public sealed class QueueFullException(int limit)
    : Exception($"the server is busy: {limit} requests are already waiting; retry later")
{
    public int Limit { get; } = limit;
}

/// <summary>One generation submitted to a <see cref="BatchGenerator"/>: its tokens as they come, and its result.</summary>
public sealed class BatchGeneration
{
    private readonly Channel<GeneratedToken> _tokens = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly TaskCompletionSource<GenerationResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<int> _ids = [];
    private readonly System.Text.StringBuilder _text = new();
    private CancellationTokenRegistration _registration;

    internal BatchGeneration(IReadOnlyList<int> prompt, GenerationOptions options, CancellationToken cancellation)
    {
        Prompt = prompt;
        Options = options;
        Cancellation = cancellation;
    }

    /// <summary>Generated tokens in order; completes at the end (with the error or cancellation, if any).</summary>
    public ChannelReader<GeneratedToken> Tokens => _tokens.Reader;

    /// <summary>The whole generation, when it ends.</summary>
    public Task<GenerationResult> Result => _result.Task;

    internal IReadOnlyList<int> Prompt { get; }

    internal GenerationOptions Options { get; }

    internal CancellationToken Cancellation { get; }

    internal GenerationState? State { get; set; }

    internal int Slot { get; set; } = -1;

    internal int Prefilled { get; set; } // prompt tokens already in the slot's cache

    internal int NextInput { get; set; } = -1; // the sampled token to feed in the next decode step

    internal void Register(Action<BatchGeneration> onCancel) => _registration = Cancellation.Register(() => onCancel(this));

    internal void Emit(GeneratedToken token)
    {
        if (token.Id >= 0)
        {
            _ids.Add(token.Id);
        }

        _text.Append(token.Text);
        _tokens.Writer.TryWrite(token);
    }

    internal void Complete(FinishReason finish)
    {
        _registration.Dispose();
        _tokens.Writer.TryComplete();
        _result.TrySetResult(new GenerationResult(_ids, _text.ToString(), finish, Prompt.Count));
    }

    internal void Fail(Exception error)
    {
        _registration.Dispose();
        _tokens.Writer.TryComplete(error);
        _result.TrySetException(error);
    }
}

/// <summary>
/// Serves many generations at once over one model (continuous batching, as llama.cpp's server does): each
/// running generation owns a slot (a KV cache); every step feeds one chunk of each new prompt and then one token
/// of every running generation in a single batched pass, so the weights are read once for all of them. New
/// requests join and finished or cancelled ones leave between steps. Thread-safe; one scheduler thread.
/// </summary>
public sealed class BatchGenerator : IDisposable
{
    private readonly BatchGeneratorOptions _options;
    private readonly Transformer _transformer;
    private readonly BatchGeneration?[] _slots;
    private readonly List<int>[] _cached; // per slot: the tokens whose keys/values are in its cache
    private readonly LinkedList<BatchGeneration> _queue = [];
    private readonly object _gate = new();
    private readonly Thread _thread;
    private readonly float[] _logits;      // (slots, vocab)
    private readonly int[] _stepSlots, _stepTokens;
    private bool _disposed;
    private long _promptTokens, _generatedTokens;

    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public BatchGenerator(ModelFile model, BatchGeneratorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _options = options ?? new BatchGeneratorOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Slots, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(_options.QueueLimit, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.PrefillChunk, 1, nameof(options));
        Model = model;
        _transformer = new Transformer(model, _options.ContextLength, Math.Max(_options.PrefillChunk, _options.Slots), _options.Pool, _options.Slots);
        _slots = new BatchGeneration?[_options.Slots];
        _cached = [.. Enumerable.Range(0, _options.Slots).Select(_ => new List<int>())];
        _logits = new float[_options.Slots * model.Config.VocabSize];
        _stepSlots = new int[_options.Slots];
        _stepTokens = new int[_options.Slots];
        _thread = new Thread(Loop) { IsBackground = true, Name = "llama2 batch generator" };
        _thread.Start();
    }

    public ModelFile Model { get; }

    public LlamaTokenizer Tokenizer => Model.Tokenizer;

    /// <summary>KV cache size of each slot, in tokens.</summary>
    public int ContextLength => _transformer.ContextLength;

    public int Slots => _options.Slots;

    /// <summary>Requests waiting for a slot.</summary>
    public int QueueDepth
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Generations holding a slot.</summary>
    public int Running
    {
        get
        {
            lock (_gate)
            {
                return _slots.Count(s => s is not null);
            }
        }
    }

    /// <summary>Prompt tokens fed and tokens generated since start.</summary>
    public (long Prompt, long Generated) TokenCounts => (Interlocked.Read(ref _promptTokens), Interlocked.Read(ref _generatedTokens));

    /// <summary>
    /// Queues a generation after <paramref name="prompt"/>. Cancelling <paramref name="cancellation"/> ends it and
    /// frees its slot before the next step; its token stream then completes with <see cref="OperationCanceledException"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is empty or does not fit in a slot's context window.</exception>
    /// <exception cref="QueueFullException">All slots are busy and <see cref="BatchGeneratorOptions.QueueLimit"/> requests wait.</exception>
    public BatchGeneration Start(IReadOnlyList<int> prompt, GenerationOptions options, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        Generator.CheckPrompt(prompt, options, ContextLength, Model.Config.VocabSize);
        var generation = new BatchGeneration([.. prompt], options, cancellation) { State = new GenerationState(Tokenizer, options, new Sampler(options.Sampling)) };
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            bool slotFree = _slots.Any(s => s is null) && _queue.Count == 0;
            if (!slotFree && _queue.Count >= _options.QueueLimit)
            {
                throw new QueueFullException(_options.QueueLimit);
            }

            _queue.AddLast(generation);
            Monitor.Pulse(_gate);
        }

        generation.Register(OnCancel);
        return generation;
    }

    /// <summary>Streams a generation's tokens (see <see cref="Start"/>).</summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var generation = Start(prompt, options, cancellation);
        await foreach (var token in generation.Tokens.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            yield return token;
        }
    }

    /// <summary>Runs a generation to the end (see <see cref="Start"/>).</summary>
    public Task<GenerationResult> CompleteAsync(IReadOnlyList<int> prompt, GenerationOptions options, CancellationToken cancellation = default) =>
        Start(prompt, options, cancellation).Result;

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Monitor.Pulse(_gate);
        }

        _thread.Join();
    }

    private void OnCancel(BatchGeneration generation)
    {
        lock (_gate)
        {
            // Waiting: leave the queue now. Running: the scheduler frees the slot before its next step.
            if (_queue.Remove(generation))
            {
                generation.Fail(new OperationCanceledException(generation.Cancellation));
            }

            Monitor.Pulse(_gate);
        }
    }

    private void Loop()
    {
        while (true)
        {
            lock (_gate)
            {
                while (!_disposed && _queue.Count == 0 && _slots.All(s => s is null))
                {
                    Monitor.Wait(_gate);
                }

                if (_disposed)
                {
                    FailAll(new ObjectDisposedException(nameof(BatchGenerator)));
                    return;
                }

                Admit();
            }

            try
            {
                Step();
            }
#pragma warning disable CA1031 // a failing step fails its generations, never the scheduler
            catch (Exception e)
#pragma warning restore CA1031
            {
                lock (_gate)
                {
                    for (int s = 0; s < _slots.Length; s++)
                    {
                        if (_slots[s] is { } running)
                        {
                            Free(s, forget: true);
                            running.Fail(e);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Moves waiting requests into free slots, preferring the slot whose cache shares the longest prefix.</summary>
    private void Admit()
    {
        while (_queue.First is { } node && Array.IndexOf(_slots, null) >= 0)
        {
            var generation = node.Value;
            _queue.RemoveFirst();
            int best = -1, bestCommon = -1;
            for (int s = 0; s < _slots.Length; s++)
            {
                if (_slots[s] is null)
                {
                    int common = CommonPrefix(_cached[s], generation.Prompt);
                    if (common > bestCommon)
                    {
                        (best, bestCommon) = (s, common);
                    }
                }
            }

            _transformer.Rewind(best, bestCommon);
            _cached[best].RemoveRange(bestCommon, _cached[best].Count - bestCommon);
            (generation.Slot, generation.Prefilled) = (best, bestCommon);
            _slots[best] = generation;
        }
    }

    /// <summary>One scheduling step: drop cancelled generations, feed a chunk of each prompt, then decode one token of every running generation together.</summary>
    private void Step()
    {
        int vocab = Model.Config.VocabSize, decoding = 0;
        for (int s = 0; s < _slots.Length; s++)
        {
            if (_slots[s] is not { } generation)
            {
                continue;
            }

            if (generation.Cancellation.IsCancellationRequested)
            {
                Finish(s, new OperationCanceledException(generation.Cancellation));
            }
            else if (generation.Prefilled < generation.Prompt.Count)
            {
                Prefill(s, generation);
            }
            else if (generation.NextInput >= 0)
            {
                (_stepSlots[decoding], _stepTokens[decoding]) = (s, generation.NextInput);
                decoding++;
            }
        }

        if (decoding == 0)
        {
            return;
        }

        _transformer.Decode(_stepSlots.AsSpan(0, decoding), _stepTokens.AsSpan(0, decoding), _logits);
        for (int i = 0; i < decoding; i++)
        {
            int s = _stepSlots[i];
            _cached[s].Add(_stepTokens[i]);
            Sample(s, _logits.AsSpan(i * vocab, vocab));
        }

        Interlocked.Add(ref _generatedTokens, decoding);
    }

    private void Prefill(int slot, BatchGeneration generation)
    {
        int count = Math.Min(_options.PrefillChunk, generation.Prompt.Count - generation.Prefilled);
        var chunk = generation.Prompt.Skip(generation.Prefilled).Take(count).ToArray();
        _transformer.Forward(slot, chunk, _logits);
        _cached[slot].AddRange(chunk);
        generation.Prefilled += count;
        Interlocked.Add(ref _promptTokens, count);
        if (generation.Prefilled == generation.Prompt.Count)
        {
            Sample(slot, _logits.AsSpan(0, Model.Config.VocabSize));
        }
    }

    private void Sample(int slot, Span<float> logits)
    {
        var generation = _slots[slot]!;
        var state = generation.State!;
        var token = state.Step(logits, _transformer.PositionOf(slot) < ContextLength);
        generation.NextInput = -1;
        if (token is { } next)
        {
            generation.Emit(next);
            generation.NextInput = next.Id;
        }

        if (state.Done)
        {
            var rest = state.Rest();
            if (rest.Length > 0)
            {
                generation.Emit(new GeneratedToken(-1, rest));
            }

            Finish(slot, null);
        }
    }

    /// <summary>Frees the slot first, then completes the generation: whoever sees the result also sees the slot free.</summary>
    private void Finish(int slot, Exception? error)
    {
        var generation = _slots[slot]!;
        lock (_gate)
        {
            Free(slot);
        }

        if (error is null)
        {
            generation.Complete(generation.State!.Finish ?? FinishReason.Length);
        }
        else
        {
            generation.Fail(error);
        }
    }

    /// <summary>Frees a slot. Its cache stays valid for prefix reuse (every fed token is recorded in <c>_cached</c>) unless a step failed mid-way.</summary>
    private void Free(int slot, bool forget = false)
    {
        _slots[slot] = null;
        if (forget)
        {
            _transformer.Reset(slot);
            _cached[slot].Clear();
        }
    }

    private void FailAll(Exception error)
    {
        foreach (var waiting in _queue)
        {
            waiting.Fail(error);
        }

        _queue.Clear();
        for (int s = 0; s < _slots.Length; s++)
        {
            _slots[s]?.Fail(error);
            _slots[s] = null;
        }
    }

    private static int CommonPrefix(List<int> cached, IReadOnlyList<int> prompt)
    {
        int common = 0;
        while (common < cached.Count && common < prompt.Count - 1 && cached[common] == prompt[common])
        {
            common++;
        }

        return common;
    }
}
