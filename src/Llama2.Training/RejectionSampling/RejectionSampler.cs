using Llama2.Core.Chat;
using Llama2.Core.Data;

namespace Llama2.Training.RejectionSampling;

/// <summary>K answers to one prompt with their rewards, and the best one.</summary>
public sealed record SampledPrompt(IReadOnlyList<ChatMessage> Prompt, IReadOnlyList<string> Answers, IReadOnlyList<double> Rewards)
{
    public int Best => Rewards.Select((r, i) => (r, i)).MaxBy(p => p.r).i;
}

/// <summary>One point of Figure 7: over prompts, the mean of the best and of the median reward among the first k samples.</summary>
public sealed record RewardCurvePoint(int K, double Best, double Median);

/// <summary>
/// Rejection sampling fine-tuning (Llama 2 §3.2.3): sample K answers per prompt from the latest policy, score them with
/// the reward model, keep the best as the new target; later rounds pool the best answers of all earlier rounds. The kept
/// answers are fine-tuned on as in SFT (<see cref="Sft.SftTrainer"/>).
/// </summary>
public static class RejectionSampler
{
    /// <summary>Samples and scores: <paramref name="sample"/> gives K answers per prompt, <paramref name="score"/> a reward per (prompt, answer).</summary>
    public static List<SampledPrompt> Sample(IReadOnlyList<PromptExample> prompts, int k,
        Func<IReadOnlyList<IReadOnlyList<ChatMessage>>, int, IReadOnlyList<IReadOnlyList<string>>> sample,
        Func<IReadOnlyList<(IReadOnlyList<ChatMessage> Prompt, string Answer)>, double[]> score)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(score);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var answers = sample([.. prompts.Select(p => p.Messages)], k);
        var items = prompts.SelectMany((p, i) => answers[i].Select(a => (p.Messages, a))).ToList();
        var rewards = score(items);
        return [.. prompts.Select((p, i) => new SampledPrompt(p.Messages, answers[i], rewards[(i * k)..((i + 1) * k)]))];
    }

    /// <summary>Figure 7's curve: for k = 1..K, mean over prompts of the maximum and of the median reward of the first k samples.</summary>
    public static List<RewardCurvePoint> Curve(IReadOnlyList<SampledPrompt> sampled)
    {
        ArgumentNullException.ThrowIfNull(sampled);
        int k = sampled.Min(s => s.Rewards.Count);
        return [.. Enumerable.Range(1, k).Select(n => new RewardCurvePoint(n,
            sampled.Average(s => s.Rewards.Take(n).Max()),
            sampled.Average(s => Median([.. s.Rewards.Take(n)]))))];
    }

    /// <summary>
    /// The training targets after a round: per prompt, the best answer of this round, or of an earlier round when that
    /// one scored higher (the paper's later rounds keep the best samples from all iterations).
    /// </summary>
    public static List<(IReadOnlyList<ChatMessage> Prompt, string Answer, double Reward)> Pool(
        IReadOnlyList<SampledPrompt> round, IReadOnlyList<(IReadOnlyList<ChatMessage> Prompt, string Answer, double Reward)> earlier)
    {
        ArgumentNullException.ThrowIfNull(round);
        ArgumentNullException.ThrowIfNull(earlier);
        var best = new Dictionary<string, (IReadOnlyList<ChatMessage> Prompt, string Answer, double Reward)>(StringComparer.Ordinal);
        foreach (var item in earlier)
        {
            best[Key(item.Prompt)] = item;
        }

        foreach (var s in round)
        {
            var candidate = (s.Prompt, s.Answers[s.Best], s.Rewards[s.Best]);
            if (!best.TryGetValue(Key(s.Prompt), out var previous) || candidate.Item3 > previous.Reward)
            {
                best[Key(s.Prompt)] = candidate;
            }
        }

        return [.. best.Values];
    }

    /// <summary>The kept answers as fine-tuning examples.</summary>
    public static List<ChatExample> Examples(IEnumerable<(IReadOnlyList<ChatMessage> Prompt, string Answer, double Reward)> kept) =>
        [.. kept.Select(k => new ChatExample([.. k.Prompt, new ChatMessage(ChatRole.Assistant, k.Answer)]))];

    private static double Median(double[] values)
    {
        Array.Sort(values);
        int n = values.Length;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }

    private static string Key(IReadOnlyList<ChatMessage> prompt) => string.Join("\u0001", prompt.Select(m => $"{m.Role}\u0002{m.Content}"));
}
