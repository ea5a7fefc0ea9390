using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Core.Tokenization;
using static TorchSharp.torch;

namespace Llama2.Training.RewardModeling;

/// <summary>A pair as tokens: prompt + chosen answer and prompt + rejected answer (each ending with EOS, where the reward is read).</summary>
public sealed record EncodedPair(int[] Chosen, int[] Rejected, double Margin, string? Rating, bool IsSafety);

/// <summary>Preference pairs encoded in the Llama 2-Chat format, and the data mixes of the two reward models.</summary>
public static class RewardData
{
    /// <summary>The paper drops safety pairs whose chosen answer is unsafe and rejected answer safe (§3.2.2).</summary>
    public static bool IsContradictory(PreferenceExample pair) =>
        pair?.SafetyLabel is "chosen_unsafe_rejected_safe" or "rejected_safe_chosen_unsafe";

    /// <summary>Prompt + answer as the chat model sees it: the dialogue's exchanges, the answer closed with EOS.</summary>
    public static int[] Encode(LlamaTokenizer tokenizer, IReadOnlyList<ChatMessage> prompt, string answer) =>
        [.. Llama2ChatFormat.EncodeExchanges(tokenizer, [.. prompt, new ChatMessage(ChatRole.Assistant, answer)]).SelectMany(e => e.Prompt.Concat(e.Answer))];

    /// <summary>Encodes pairs; those longer than <paramref name="seqLen"/> are dropped (the count is returned).</summary>
    public static (List<EncodedPair> Pairs, int TooLong) EncodeAll(LlamaTokenizer tokenizer, IEnumerable<PreferenceExample> pairs, string marginTable, int seqLen)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var encoded = new List<EncodedPair>();
        int tooLong = 0;
        foreach (var pair in pairs)
        {
            var chosen = Encode(tokenizer, pair.Prompt, pair.Chosen);
            var rejected = Encode(tokenizer, pair.Prompt, pair.Rejected);
            if (chosen.Length > seqLen || rejected.Length > seqLen)
            {
                tooLong++;
                continue;
            }

            encoded.Add(new EncodedPair(chosen, rejected, pair.Margin ?? MarginTable.For(marginTable, pair.Rating), pair.Rating, pair.IsSafety));
        }

        return (encoded, tooLong);
    }

    /// <summary>
    /// The training mix (§3.2.2): Helpfulness RM = all helpfulness pairs + as many sampled from the safety pairs;
    /// Safety RM = all safety pairs + helpfulness pairs making 10% of the mix. Contradictory safety pairs are dropped.
    /// </summary>
    public static List<PreferenceExample> Mix(string kind, IReadOnlyList<PreferenceExample> helpfulness, IReadOnlyList<PreferenceExample> safety, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(helpfulness);
        ArgumentNullException.ThrowIfNull(safety);
        var safe = safety.Where(p => !IsContradictory(p)).ToList();
        var random = new Random((int)(seed % int.MaxValue));
        List<PreferenceExample> Sample(IReadOnlyList<PreferenceExample> from, int count) =>
            [.. from.OrderBy(_ => random.Next()).Take(Math.Min(count, from.Count))];
        List<PreferenceExample> mix = kind == "helpfulness"
            ? [.. helpfulness, .. Sample(safe, helpfulness.Count)]
            : [.. safe, .. Sample(helpfulness, safe.Count / 9)];
        return [.. mix.OrderBy(_ => random.Next())];
    }

    /// <summary>
    /// Pairs as one right-padded batch: rows 0..n-1 the chosen sequences, n..2n-1 the rejected ones; tokens (2n, len),
    /// last (2n) the index of each row's EOS, margins (n).
    /// </summary>
    public static (Tensor Tokens, Tensor Last, Tensor Margins) Batch(IReadOnlyList<EncodedPair> pairs, Device device)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        int n = pairs.Count;
        int length = pairs.Max(p => Math.Max(p.Chosen.Length, p.Rejected.Length));
        var tokens = new long[2 * n * length];
        var last = new long[2 * n];
        for (int i = 0; i < 2 * n; i++)
        {
            var row = i < n ? pairs[i].Chosen : pairs[i - n].Rejected;
            for (int t = 0; t < row.Length; t++)
            {
                tokens[i * length + t] = row[t];
            }

            last[i] = row.Length - 1;
        }

        return (tensor(tokens, [2 * n, length], device: device), tensor(last, device: device), tensor(pairs.Select(p => (float)p.Margin).ToArray(), device: device));
    }
}
