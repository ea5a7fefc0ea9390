using Llama2.Core.World;

namespace Llama2.Evaluation;

/// <summary>
/// How a reward model ranks one family's sampled answers against the gold judge. Per prompt there are K answers; "right"
/// is the gold judge's <see cref="HelpfulnessVerdict.IsCorrect"/>.
/// </summary>
/// <param name="Family">The task family ("all" for the total).</param>
/// <param name="Prompts">Prompts of the family.</param>
/// <param name="SampleRight">The share of all sampled answers that are right: what one sample gets.</param>
/// <param name="BestRight">The share of prompts whose highest-reward answer is right: what rejection sampling keeps.</param>
/// <param name="AnyRight">The share of prompts with at least one right answer among the K: what a perfect RM would keep.</param>
/// <param name="Pairs">Ordered pairs (right answer, wrong answer) of one prompt.</param>
/// <param name="Agreeing">Those pairs where the RM scores the right answer higher (ties count half).</param>
public sealed record FamilyRewardAgreement(string Family, int Prompts, double SampleRight, double BestRight, double AnyRight, int Pairs, double Agreeing)
{
    /// <summary>The share of right-versus-wrong pairs the RM orders as the gold judge does; NaN without such pairs.</summary>
    public double Agreement => Pairs == 0 ? double.NaN : Agreeing / Pairs;
}

/// <summary>
/// Does a reward model rank a policy's own answers by correctness? Rejection sampling keeps the RM's best of K samples and
/// PPO climbs the RM, so both raise gold helpfulness only where the RM orders the policy's right and wrong answers as the
/// gold judge does. Held-out preference pairs (Table 7) test the RM on the world's written answers; this tests it on the
/// answers the RLHF stages actually see.
/// </summary>
public static class RewardAgreement
{
    /// <summary>Per family (by category, in name order), then "all": answers[i] and rewards[i] are prompt i's K answers and their rewards.</summary>
    public static IReadOnlyList<FamilyRewardAgreement> Measure(GoldJudge judge, IReadOnlyList<WorldTask> tasks, IReadOnlyList<IReadOnlyList<string>> answers, IReadOnlyList<IReadOnlyList<double>> rewards)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(answers);
        ArgumentNullException.ThrowIfNull(rewards);
        if (answers.Count != tasks.Count || rewards.Count != tasks.Count)
        {
            throw new ArgumentException($"{tasks.Count} tasks, {answers.Count} answer lists and {rewards.Count} reward lists");
        }

        var rows = new List<(string Family, double Sample, bool Best, bool Any, int Pairs, double Agreeing)>();
        for (int i = 0; i < tasks.Count; i++)
        {
            if (answers[i].Count == 0 || answers[i].Count != rewards[i].Count)
            {
                throw new ArgumentException($"prompt {i}: {answers[i].Count} answers and {rewards[i].Count} rewards");
            }

            var right = answers[i].Select(a => judge.Helpfulness(tasks[i], a).IsCorrect).ToArray();
            var r = rewards[i];
            int best = Enumerable.Range(0, r.Count).MaxBy(j => r[j]);
            int pairs = 0;
            double agreeing = 0;
            for (int x = 0; x < right.Length; x++)
            {
                for (int y = 0; y < right.Length; y++)
                {
                    if (right[x] && !right[y])
                    {
                        pairs++;
                        agreeing += r[x] > r[y] ? 1 : r[x] == r[y] ? 0.5 : 0;
                    }
                }
            }

            rows.Add((tasks[i].Category, right.Count(c => c) / (double)right.Length, right[best], right.Any(c => c), pairs, agreeing));
        }

        FamilyRewardAgreement Sum(string name, IReadOnlyList<(string Family, double Sample, bool Best, bool Any, int Pairs, double Agreeing)> of) =>
            new(name, of.Count, of.Average(o => o.Sample), of.Average(o => o.Best ? 1.0 : 0), of.Average(o => o.Any ? 1.0 : 0), of.Sum(o => o.Pairs), of.Sum(o => o.Agreeing));
        return rows.Count == 0 ? [] : [.. rows.GroupBy(o => o.Family, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Sum(g.Key, [.. g])), Sum("all", rows)];
    }
}
