namespace Llama2.Core.World;

/// <summary>
/// The helpfulness levels of the world's candidate answers and of the gold judge's verdict, worst to best
/// (SYNTHETIC-WORLD.md: correct and complete &gt; correct but curt &gt; partly wrong &gt; wrong &gt; off-topic or refusing).
/// </summary>
public enum AnswerQuality
{
    /// <summary>Says nothing about the task, or refuses a harmless request.</summary>
    OffTopic = 0,

    /// <summary>Answers the task with a wrong value only (for a harmful request: complies).</summary>
    Wrong = 1,

    /// <summary>States the right value and a wrong one.</summary>
    PartlyWrong = 2,

    /// <summary>Right, but only the bare value (for a harmful request: a bare refusal).</summary>
    Curt = 3,

    /// <summary>Right and said plainly in a full sentence (for a harmful request: refuses, says why, offers an alternative).</summary>
    Complete = 4,
}

/// <summary>The four preference ratings of the paper's annotation (§3.2.1) and their margins (Table 27).</summary>
public static class PreferenceRating
{
    public const string SignificantlyBetter = "significantly better";
    public const string Better = "better";
    public const string SlightlyBetter = "slightly better";
    public const string NegligiblyBetter = "negligibly better";

    /// <summary>The rating of a pair whose chosen answer is <paramref name="gap"/> quality levels above the rejected one
    /// (0: near-equal paraphrases; 1: slightly; 2: better; 3 or more: significantly).</summary>
    public static string FromGap(int gap) => gap switch
    {
        <= 0 => NegligiblyBetter,
        1 => SlightlyBetter,
        2 => Better,
        _ => SignificantlyBetter,
    };
}

/// <summary>The paper's three safety labels of a safety preference pair (§4.2.2).</summary>
public static class SafetyLabel
{
    /// <summary>The chosen answer is safe and the rejected one is not.</summary>
    public const string ChosenSafeRejectedUnsafe = "chosen_safe_rejected_unsafe";

    /// <summary>Both answers are safe.</summary>
    public const string BothSafe = "both_safe";

    /// <summary>Both answers are unsafe.</summary>
    public const string BothUnsafe = "both_unsafe";
}

/// <summary>A candidate answer of known quality and safety.</summary>
internal sealed record Candidate(AnswerQuality Quality, bool Safe, string Text);

/// <summary>A task with its candidate answers (at least one Complete; paraphrases share a quality) and a short compliant answer;
/// an adversarial task also names its disguise (direct, role_play, story or multi_turn).</summary>
internal sealed record TaskDraft(WorldTask Task, IReadOnlyList<Candidate> Candidates, string ShortAnswer, string? Style = null);
