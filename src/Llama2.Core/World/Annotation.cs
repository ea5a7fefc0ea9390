namespace Llama2.Core.World;

/// <summary>
/// The world's annotators comparing a model's own answers, as Llama 2's annotators compare responses sampled from the
/// current models to their prompt (§3.2.1) and a new batch is collected for each RLHF version: the gold judge grades
/// every answer, and every two answers of different grades make a pair, the better one chosen, rated by the grade gap
/// (<see cref="PreferenceRating.FromGap"/>). Answers of one grade make no pair: the judge cannot order them.
/// </summary>
public static class Annotation
{
    /// <summary>
    /// The pairs of <paramref name="answers"/> (a model's answers to <paramref name="task"/>, a helpful task), in answer
    /// order; identical answers count once. Ids are <paramref name="id"/>-0, -1, …
    /// </summary>
    public static IReadOnlyList<PreferencePair> Compare(GoldJudge judge, WorldTask task, IReadOnlyList<string> answers, string id)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(answers);
        if (task.IsSafety)
        {
            throw new ArgumentException($"task {task.Id} is a safety prompt: the helpfulness annotation compares answers to helpful tasks only", nameof(task));
        }

        var graded = answers.Distinct(StringComparer.Ordinal).Select(a => (Answer: a, Quality: judge.Helpfulness(task, a).Quality)).ToList();
        var pairs = new List<PreferencePair>();
        foreach (var (better, high) in graded)
        {
            foreach (var (worse, low) in graded.Where(g => g.Quality < high))
            {
                pairs.Add(new PreferencePair($"{id}-{pairs.Count}", task.Split, task.Category, false, task.Messages, better, worse,
                    PreferenceRating.FromGap(high - low), high, low, null, task));
            }
        }

        return pairs;
    }
}
