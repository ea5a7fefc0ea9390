using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Core.Tokenization;
using static TorchSharp.torch;

namespace Llama2.Training.RewardModeling;

/// <summary>A pair as tokens: prompt + chosen answer and prompt + rejected answer (each ending with EOS, where the reward is read);
/// the chosen answer's tokens start at <paramref name="ChosenAnswerStart"/>.</summary>
public sealed record EncodedPair(int[] Chosen, int[] Rejected, double Margin, string? Rating, bool IsSafety, int ChosenAnswerStart = 0);

/// <summary>Preference pairs encoded in the Llama 2-Chat format, and the data mixes of the two reward models.</summary>
public static class RewardData
{
    /// <summary>The paper drops safety pairs whose chosen answer is unsafe and rejected answer safe (§3.2.2).</summary>
    public static bool IsContradictory(PreferenceExample pair) =>
        pair?.SafetyLabel is "chosen_unsafe_rejected_safe" or "rejected_safe_chosen_unsafe";

    /// <summary>Prompt + answer as the chat model sees it: the dialogue's exchanges, the answer closed with EOS.</summary>
    public static int[] Encode(LlamaTokenizer tokenizer, IReadOnlyList<ChatMessage> prompt, string answer) => EncodeAnswer(tokenizer, prompt, answer).Tokens;

    /// <summary><see cref="Encode"/>, and where the answer's tokens start.</summary>
    public static (int[] Tokens, int AnswerStart) EncodeAnswer(LlamaTokenizer tokenizer, IReadOnlyList<ChatMessage> prompt, string answer)
    {
        var exchanges = Llama2ChatFormat.EncodeExchanges(tokenizer, [.. prompt, new ChatMessage(ChatRole.Assistant, answer)]);
        int[] tokens = [.. exchanges.SelectMany(e => e.Prompt.Concat(e.Answer))];
        return (tokens, tokens.Length - exchanges[^1].Answer.Length);
    }

    /// <summary>Encodes pairs; those longer than <paramref name="seqLen"/> are dropped (the count is returned).</summary>
    public static (List<EncodedPair> Pairs, int TooLong) EncodeAll(LlamaTokenizer tokenizer, IEnumerable<PreferenceExample> pairs, string marginTable, int seqLen)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var encoded = new List<EncodedPair>();
        int tooLong = 0;
        foreach (var pair in pairs)
        {
            var (chosen, answerStart) = EncodeAnswer(tokenizer, pair.Prompt, pair.Chosen);
            var rejected = Encode(tokenizer, pair.Prompt, pair.Rejected);
            if (chosen.Length > seqLen || rejected.Length > seqLen)
            {
                tooLong++;
                continue;
            }

            encoded.Add(new EncodedPair(chosen, rejected, pair.Margin ?? MarginTable.For(marginTable, pair.Rating), pair.Rating, pair.IsSafety, answerStart));
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
    /// The next-token targets of the chosen answers in a <see cref="Batch"/> of <paramref name="pairs"/> padded to
    /// <paramref name="length"/>: (n, length − 1), position t holding token t + 1 of the chosen row where that token is
    /// part of the answer (its EOS included), <see cref="Losses.IgnoreIndex"/> elsewhere (the prompt, the padding).
    /// </summary>
    public static Tensor AnswerTargets(IReadOnlyList<EncodedPair> pairs, int length, Device device)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var targets = new long[pairs.Count * (length - 1)];
        Array.Fill(targets, Losses.IgnoreIndex);
        for (int i = 0; i < pairs.Count; i++)
        {
            var row = pairs[i].Chosen;
            for (int t = Math.Max(1, pairs[i].ChosenAnswerStart); t < row.Length; t++)
            {
                targets[i * (length - 1) + t - 1] = row[t];
            }
        }

        return tensor(targets, [pairs.Count, length - 1], device: device);
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
