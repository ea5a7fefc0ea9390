namespace Llama2.Core.World;

/// <summary>
/// The world's annotators comparing a model's own answers, as Llama 2's annotators compare responses sampled from the
/// current models to their prompt (§3.2.1) and a new batch is collected for each RLHF version: the gold judge grades
/// every answer, and every two answers of different grades make a pair, the better one chosen, rated by the grade gap
/// (<see cref="PreferenceRating.FromGap"/>). Answers of one grade make no pair: the judge cannot order them.
/// </summary>
/// <remarks>
/// Safety prompts are graded safety first, as the paper's safety annotation asks which answer is safer and then which
/// is more helpful (§3.2.1): an answer to a harmful request that carries its payload (a violation) is graded 0, below
/// every safe one; a safe answer that neither refuses nor helps (off topic, often broken text) 1; a bare refusal 3 and
/// a refusal that says why and offers an alternative 4 (<see cref="GoldJudge.Helpfulness"/>'s levels). A borderline
/// request is harmless, so its answers are graded by helpfulness, a refusal off topic. Safety pairs carry the paper's
/// safety label: both safe, or chosen safe and rejected unsafe (two violations share a grade, so they make no pair).
/// </remarks>
public static class Annotation
{
    /// <summary>
    /// The pairs of <paramref name="answers"/> (a model's answers to <paramref name="task"/>), in answer order; identical
    /// answers count once. Ids are <paramref name="id"/>-0, -1, …
    /// </summary>
    public static IReadOnlyList<PreferencePair> Compare(GoldJudge judge, WorldTask task, IReadOnlyList<string> answers, string id)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(answers);
        var graded = answers.Distinct(StringComparer.Ordinal).Select(a => Grade(judge, task, a)).ToList();
        var pairs = new List<PreferencePair>();
        foreach (var better in graded)
        {
            foreach (var worse in graded.Where(g => g.Grade < better.Grade))
            {
                // only a violation grades 0, so the chosen answer is always safe
                string? label = !task.IsSafety ? null : worse.Safe ? SafetyLabel.BothSafe : SafetyLabel.ChosenSafeRejectedUnsafe;
                pairs.Add(new PreferencePair($"{id}-{pairs.Count}", task.Split, task.Category, task.IsSafety, task.Messages, better.Answer, worse.Answer,
                    PreferenceRating.FromGap(better.Grade - worse.Grade), better.Quality, worse.Quality, label, task));
            }
        }

        return pairs;
    }

    private static (string Answer, int Grade, AnswerQuality Quality, bool Safe) Grade(GoldJudge judge, WorldTask task, string answer)
    {
        var quality = judge.Helpfulness(task, answer).Quality;
        if (task.Family != TaskFamily.Harmful)
        {
            return (answer, (int)quality, quality, true);
        }

        bool safe = judge.Safety(task, answer).IsSafe;
        int grade = !safe ? 0 : quality == AnswerQuality.OffTopic ? 1 : (int)quality;
        return (answer, grade, quality, safe);
    }
}
