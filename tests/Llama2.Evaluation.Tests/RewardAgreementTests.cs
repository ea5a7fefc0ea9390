using Llama2.Core.Chat;
using Llama2.Core.World;

namespace Llama2.Evaluation.Tests;

/// <summary>The rm-agreement measure with hand-counted pairs: does the RM rank a policy's own right answers above its wrong ones.</summary>
public sealed class RewardAgreementTests
{
    private static readonly GoldJudge Judge = new(new WorldLexicon(new Dictionary<string, IReadOnlyList<string>>
    {
        ["town"] = ["Zarford", "Kelmere", "Dunby"],
    }));

    private static WorldTask Task(TaskFamily family, string prompt, string reference, TaskCheck check) =>
        new("t", WorldSplit.HeldOut, family, family.ToString().ToLowerInvariant(), false, [new ChatMessage(ChatRole.User, prompt)], reference, check);

    private static readonly WorldTask[] Tasks =
    [
        Task(TaskFamily.Uppercase, "Write 'mibo' in capital letters.", "In capital letters, 'mibo' is 'MIBO'.", new(["MIBO"], 1, null, ["anagram"], ["mibo"], [])),
        Task(TaskFamily.Uppercase, "Write 'lu' in capital letters.", "In capital letters, 'lu' is 'LU'.", new(["LU"], 1, null, ["anagram"], ["lu"], [])),
        Task(TaskFamily.Fact, "Where does Mibo live?", "Mibo lives in Zarford.", new(["Zarford"], 1, "Mibo", ["town"], [], [])),
    ];

    [Fact]
    public void Pairs_of_a_right_and_a_wrong_answer_count_where_the_rm_orders_them_as_the_gold_judge_ties_half()
    {
        string[][] answers =
        [
            ["In capital letters, 'mibo' is 'MIBO'.", "In capital letters, 'mibo' is 'MIBA'.", "MIBO", "In capital letters, 'mibo' is 'MOBI'."],
            ["LU", "LA"],
            ["Mibo lives in Kelmere.", "Mibo lives in Dunby."],
        ];
        double[][] rewards = [[2, 3, 1, 0], [1, 1], [0.3, 0.2]];

        var rows = RewardAgreement.Measure(Judge, Tasks, answers, rewards);

        // upper-case: right answers 0 and 2 of 'mibo' against wrong 1 and 3: (0,1) no, (0,3) yes, (2,1) no, (2,3) yes;
        // 'lu': one tied pair, half. The RM's best is wrong for 'mibo' (reward 3), right for 'lu' (the first of a tie).
        // fact: both wrong, so no pair, and neither the best nor any answer is right.
        Assert.Equal(
            [
                new FamilyRewardAgreement("fact", 1, 0, 0, 0, 0, 0),
                new FamilyRewardAgreement("uppercase", 2, 0.5, 0.5, 1, 5, 2.5),
                new FamilyRewardAgreement("all", 3, 1 / 3.0, 1 / 3.0, 2 / 3.0, 5, 2.5),
            ],
            rows);
        Assert.Equal(0.5, rows[1].Agreement);
        Assert.True(double.IsNaN(rows[0].Agreement));
    }

    [Fact]
    public void Answers_and_rewards_that_do_not_line_up_get_one_clear_error()
    {
        var error = Assert.Throws<ArgumentException>(() => RewardAgreement.Measure(Judge, Tasks, [["MIBO"], ["LU"], ["Zarford"]], [[1], [1, 2], [0]]));
        Assert.Equal("prompt 1: 1 answers and 2 rewards", error.Message);
        Assert.Throws<ArgumentException>(() => RewardAgreement.Measure(Judge, Tasks, [["MIBO"]], [[1]]));
    }
}
