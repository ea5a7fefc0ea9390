using Llama2.Core.Sampling;
using Llama2.Core.Tokenization;

namespace Llama2.Inference;

/// <summary>
/// One sequence's decoding, independent of how its logits were computed (alone or in a batch): sample, EOS,
/// stop strings, text that never splits a UTF-8 character, the token limit.
/// </summary>
internal sealed class GenerationState
{
    private readonly GenerationOptions _options;
    private readonly Sampler _sampler;
    private readonly int _eos;
    private readonly StreamingDecoder _decoder;
    private readonly StopMatcher _stops;
    private bool _stopped;

    public GenerationState(LlamaTokenizer tokenizer, GenerationOptions options, Sampler sampler)
    {
        _options = options;
        _sampler = sampler;
        _eos = tokenizer.EosId;
        _decoder = tokenizer.CreateStreamingDecoder();
        _stops = new StopMatcher(options.Stop);
        Finish = options.MaxTokens == 0 ? FinishReason.Length : null;
    }

    /// <summary>Tokens generated so far.</summary>
    public int Generated { get; private set; }

    /// <summary>Set once generation has ended.</summary>
    public FinishReason? Finish { get; private set; }

    public bool Done => Finish is not null;

    /// <summary>
    /// Samples the next token from <paramref name="logits"/> (modified). Returns it with the text it completes,
    /// or null at EOS. <paramref name="roomForMore"/>: the context can take the returned token as input.
    /// </summary>
    public GeneratedToken? Step(Span<float> logits, bool roomForMore)
    {
        int next = _sampler.Sample(logits);
        if (next == _eos && !_options.IgnoreEos)
        {
            Finish = FinishReason.Stop; // EOS itself is not part of the output
            return null;
        }

        var (text, stopped) = _stops.Push(_decoder.Append(next));
        Generated++;
        if (stopped)
        {
            (_stopped, Finish) = (true, FinishReason.Stop);
        }
        else if (Generated >= _options.MaxTokens)
        {
            Finish = FinishReason.Length;
        }
        else if (!roomForMore)
        {
            Finish = FinishReason.ContextFull;
        }

        return new GeneratedToken(next, text);
    }

    /// <summary>Text held back until the end (a partial stop string or character); empty after a stop string.</summary>
    public string Rest() => _stopped ? "" : _stops.Flush() + _decoder.Finish();

    /// <summary>Holds back text that may be the start of a stop string; reports when one is complete.</summary>
    private sealed class StopMatcher(IReadOnlyList<string> stops)
    {
        private string _pending = "";

        public (string Text, bool Stopped) Push(string text)
        {
            if (stops.Count == 0)
            {
                return (text, false);
            }

            _pending += text;
            int first = -1;
            foreach (var stop in stops)
            {
                int at = stop.Length == 0 ? -1 : _pending.IndexOf(stop, StringComparison.Ordinal);
                if (at >= 0 && (first < 0 || at < first))
                {
                    first = at;
                }
            }

            if (first >= 0)
            {
                var before = _pending[..first];
                _pending = "";
                return (before, true);
            }

            // Emit all but the longest suffix that is a prefix of some stop string.
            int hold = 0;
            foreach (var stop in stops)
            {
                for (int k = Math.Min(stop.Length - 1, _pending.Length); k > hold; k--)
                {
                    if (_pending.AsSpan(_pending.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                    {
                        hold = k;
                        break;
                    }
                }
            }

            var emit = _pending[..^hold];
            _pending = _pending[^hold..];
            return (emit, false);
        }

        public string Flush()
        {
            var rest = _pending;
            _pending = "";
            return rest;
        }
    }
}
