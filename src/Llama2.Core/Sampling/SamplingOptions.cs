namespace Llama2.Core.Sampling;

/// <summary>
/// How the next token is chosen. Defaults are Meta's for Llama 2-Chat (<c>temperature=0.6, top_p=0.9</c>,
/// <c>example_chat_completion.py</c>). A temperature of 0 is greedy decoding.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Divides the logits; 0 means greedy (always the most likely token).</summary>
    public float Temperature { get; init; } = 0.6f;

    /// <summary>Keep only the k most likely tokens; 0 disables.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability sums to at least p; 1 disables.</summary>
    public float TopP { get; init; } = 0.9f;

    /// <summary>Drop tokens whose probability is below min_p times the most likely one's; 0 disables.</summary>
    public float MinP { get; init; }

    /// <summary>CTRL-style repetition penalty over the last <see cref="RepeatLastN"/> tokens (llama.cpp's <c>--repeat-penalty</c>); 1 disables.</summary>
    public float RepeatPenalty { get; init; } = 1f;

    public int RepeatLastN { get; init; } = 64;

    /// <summary>OpenAI's frequency penalty: subtract count × this from a token's logit.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>OpenAI's presence penalty: subtract this from the logit of any token already generated.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Added to the logits of the given token ids before anything else (OpenAI's <c>logit_bias</c>).</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Same seed, same prompt, same model: same tokens. Null picks a random seed.</summary>
    public ulong? Seed { get; init; }

    public static SamplingOptions Greedy => new() { Temperature = 0, TopP = 1 };

    /// <summary>Checks the ranges; the message names the option.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }

        Check(float.IsFinite(Temperature) && Temperature >= 0, $"temperature must be ≥ 0, got {Temperature}");
        Check(TopK >= 0, $"top-k must be ≥ 0, got {TopK}");
        Check(TopP is > 0 and <= 1, $"top-p must be in (0, 1], got {TopP}");
        Check(MinP is >= 0 and <= 1, $"min-p must be in [0, 1], got {MinP}");
        Check(float.IsFinite(RepeatPenalty) && RepeatPenalty > 0, $"repeat penalty must be > 0, got {RepeatPenalty}");
        Check(RepeatLastN >= 0, $"repeat-last-n must be ≥ 0, got {RepeatLastN}");
        Check(float.IsFinite(FrequencyPenalty) && Math.Abs(FrequencyPenalty) <= 2, $"frequency penalty must be in [-2, 2], got {FrequencyPenalty}");
        Check(float.IsFinite(PresencePenalty) && Math.Abs(PresencePenalty) <= 2, $"presence penalty must be in [-2, 2], got {PresencePenalty}");
        Check(LogitBias is null || LogitBias.Values.All(float.IsFinite), "logit bias values must be finite");
    }
}
