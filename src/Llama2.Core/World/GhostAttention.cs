using Llama2.Core.Chat;

namespace Llama2.Core.World;

/// <summary>The kinds of system instruction Ghost Attention teaches (paper §3.3), each checkable on any single answer.</summary>
public enum ConstraintKind
{
    /// <summary>Answer in capital letters.</summary>
    Capitals,

    /// <summary>End every answer with "Over."</summary>
    EndWithOver,

    /// <summary>Start every answer with "Arr!"</summary>
    StartWithArr,

    /// <summary>Answer in at most five words.</summary>
    AtMostFiveWords,

    /// <summary>Mention a given town in every answer.</summary>
    MentionTown,
}

/// <summary>A system instruction that must hold at every turn of a dialog.</summary>
/// <param name="Kind">Which instruction.</param>
/// <param name="Town">The town to mention (<see cref="ConstraintKind.MentionTown"/> only).</param>
public sealed record AnswerConstraint(ConstraintKind Kind, string? Town = null)
{
    /// <summary>The instruction as the system message (or the text Ghost Attention appends to user messages).</summary>
    public string Instruction => Kind switch
    {
        ConstraintKind.Capitals => "Always answer in capital letters.",
        ConstraintKind.EndWithOver => "End every answer with 'Over.'",
        ConstraintKind.StartWithArr => "Start every answer with 'Arr!'",
        ConstraintKind.AtMostFiveWords => "Answer in at most five words.",
        _ => $"Mention {Town} in every answer.",
    };

    /// <summary>
    /// Makes a plain answer keep the constraint: upper-cases it, appends " Over.", prefixes "Arr! ", mentions the town, or
    /// (at most five words) uses <paramref name="shortAnswer"/> — cut to five words if needed — when the answer is longer.
    /// </summary>
    public string Apply(string answer, string? shortAnswer = null)
    {
        ArgumentNullException.ThrowIfNull(answer);
        answer = answer.Trim();
        return Kind switch
        {
            ConstraintKind.Capitals => answer.ToUpperInvariant(),
            ConstraintKind.EndWithOver => answer.EndsWith("Over.", StringComparison.Ordinal) ? answer : answer + " Over.",
            ConstraintKind.StartWithArr => answer.StartsWith("Arr!", StringComparison.Ordinal) ? answer : "Arr! " + answer,
            ConstraintKind.AtMostFiveWords => WordCount(answer) <= 5 ? answer : FirstWords(shortAnswer ?? answer, 5),
            _ => IsKeptBy(answer) ? answer : $"{answer} Greetings from {Town}!",
        };
    }

    /// <summary>Whether <paramref name="answer"/> keeps the constraint.</summary>
    public bool IsKeptBy(string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var text = answer.Trim();
        return Kind switch
        {
            ConstraintKind.Capitals => text.Any(char.IsLetter) && !text.Any(char.IsLower),
            ConstraintKind.EndWithOver => text.EndsWith("Over.", StringComparison.OrdinalIgnoreCase),
            ConstraintKind.StartWithArr => text.StartsWith("Arr!", StringComparison.OrdinalIgnoreCase),
            ConstraintKind.AtMostFiveWords => WordCount(text) is >= 1 and <= 5,
            _ => Town is not null && GoldJudge.Tokens(text).Contains(Town, StringComparer.OrdinalIgnoreCase),
        };
    }

    /// <summary>Words: whitespace-separated pieces with at least one letter or digit.</summary>
    public static int WordCount(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Count(w => w.Any(char.IsLetterOrDigit));

    private static string FirstWords(string text, int n)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return words.Count(w => w.Any(char.IsLetterOrDigit)) <= n ? text : string.Join(' ', words.Take(n)).TrimEnd(',', ';', ':') + ".";
    }
}

/// <summary>
/// A Ghost Attention dialog: the constraint as the system message, then user turns drawn from the helpful task
/// families, each answered with the task's reference made to keep the constraint.
/// </summary>
/// <param name="Id">Unique within the world.</param>
/// <param name="Split">Training or held-out entities.</param>
/// <param name="Constraint">The instruction every answer must keep.</param>
/// <param name="Turns">The task of each user turn, in order (for judging each answer's helpfulness).</param>
/// <param name="Messages">System (the instruction), then user/assistant alternating; every assistant message keeps the constraint.</param>
public sealed record GattDialogue(string Id, WorldSplit Split, AnswerConstraint Constraint, IReadOnlyList<WorldTask> Turns, IReadOnlyList<ChatMessage> Messages);

/// <summary>Builds Ghost Attention dialogs.</summary>
internal static class GhostAttention
{
    public static AnswerConstraint RandomConstraint(WorldRandom random, IReadOnlyList<Town> towns)
    {
        var kind = (ConstraintKind)random.Next(5);
        return new AnswerConstraint(kind, kind == ConstraintKind.MentionTown ? random.Pick(towns).Name : null);
    }

    /// <summary>A dialog of <paramref name="turns"/> user turns on the split's entities.</summary>
    public static GattDialogue Dialogue(HelpfulTasks tasks, WorldSplit split, int turns, WorldRandom random, string id)
    {
        var constraint = RandomConstraint(random, HelpfulTasks.Of(tasks.Entities.Towns, split, t => t.Split));
        var messages = new List<ChatMessage> { new(ChatRole.System, constraint.Instruction) };
        var turnTasks = new List<WorldTask>();
        for (int i = 0; i < turns; i++)
        {
            var draft = tasks.Draft(random.Pick(HelpfulTasks.Families), split, random, $"{id}-turn{i + 1}");
            turnTasks.Add(draft.Task);
            messages.Add(new ChatMessage(ChatRole.User, draft.Task.Prompt));
            messages.Add(new ChatMessage(ChatRole.Assistant, constraint.Apply(draft.Task.Reference, draft.ShortAnswer)));
        }

        return new GattDialogue(id, split, constraint, turnTasks, messages);
    }
}
