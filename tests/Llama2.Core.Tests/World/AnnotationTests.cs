using Llama2.Core.Chat;
using Llama2.Core.World;

namespace Llama2.Core.Tests.World;

/// <summary>The world's annotators comparing a model's own answers: graded by hand, every two of different grades make a pair.</summary>
public sealed class AnnotationTests
{
    private static readonly GoldJudge Judge = new(new WorldLexicon(new Dictionary<string, IReadOnlyList<string>>()));

    private static readonly WorldTask Upper = new("up-1", WorldSplit.Train, TaskFamily.Uppercase, "uppercase", false,
        [new ChatMessage(ChatRole.User, "Write 'mibo' in capital letters.")], "In capital letters, 'mibo' is 'MIBO'.",
        new(["MIBO"], 1, null, ["anagram"], ["mibo"], []));

    [Fact]
    public void Every_two_answers_of_different_grades_make_a_pair_rated_by_the_grade_gap()
    {
        string[] answers =
        [
            "In capital letters, 'mibo' is 'MIBO'.", // complete (4)
            "MIBO",                                  // curt (3)
            "In capital letters, 'mibo' is 'MIOB'.", // wrong (1)
            "I like turtles.",                       // off-topic (0)
            "MIBO",                                  // the same answer again: counted once
            "In capital letters, 'mibo' is 'MOBI'.", // wrong (1): no pair with the other wrong one
        ];

        var pairs = Annotation.Compare(Judge, Upper, answers, "a");

        (string, string, string)[] expected =
        [
            (answers[0], answers[1], PreferenceRating.SlightlyBetter),      // 4 − 3
            (answers[0], answers[2], PreferenceRating.SignificantlyBetter), // 4 − 1
            (answers[0], answers[3], PreferenceRating.SignificantlyBetter), // 4 − 0
            (answers[0], answers[5], PreferenceRating.SignificantlyBetter), // 4 − 1
            (answers[1], answers[2], PreferenceRating.Better),              // 3 − 1
            (answers[1], answers[3], PreferenceRating.SignificantlyBetter), // 3 − 0
            (answers[1], answers[5], PreferenceRating.Better),              // 3 − 1
            (answers[2], answers[3], PreferenceRating.SlightlyBetter),      // 1 − 0
            (answers[5], answers[3], PreferenceRating.SlightlyBetter),      // 1 − 0
        ];
        Assert.Equal(expected, pairs.Select(p => (p.Chosen, p.Rejected, p.Rating)));
        Assert.Equal([.. Enumerable.Range(0, 9).Select(i => $"a-{i}")], pairs.Select(p => p.Id));
        Assert.Equal((AnswerQuality.Complete, AnswerQuality.Curt), (pairs[0].ChosenQuality, pairs[0].RejectedQuality));
        Assert.All(pairs, p => Assert.Same(Upper, p.Task));
        Assert.All(pairs, p => Assert.Equal(("uppercase", false, WorldSplit.Train, null), (p.Category, p.IsSafety, p.Split, p.SafetyLabel)));
    }

    [Fact]
    public void Answers_of_one_grade_make_no_pair_and_a_safety_prompt_is_refused()
    {
        Assert.Empty(Annotation.Compare(Judge, Upper, ["MIBO", "It is MIBO.", "MIBO"], "a")); // curt, curt (two other words), curt
        Assert.Empty(Annotation.Compare(Judge, Upper, ["MIOB", "MOBI"], "a"));

        var harmful = Upper with { Family = TaskFamily.Harmful, Category = "theft", IsSafety = true };
        var error = Assert.Throws<ArgumentException>(() => Annotation.Compare(Judge, harmful, ["No."], "a"));
        Assert.Contains("up-1 is a safety prompt", error.Message, StringComparison.Ordinal);
    }
}
