using Llama2.Core.Chat;
using Llama2.Core.World;

namespace Llama2.Evaluation.Tests;

/// <summary>The base-model probes: which text each held-out task gives, and which completions count.</summary>
public sealed class ProbeTests
{
    private static readonly WorldLexicon Lexicon = new(new Dictionary<string, IReadOnlyList<string>>
    {
        ["town"] = ["Zarford", "Kelmere", "Dunby", "Velwick"],
        ["colour"] = ["red", "blue"],
    });

    private static WorldTask Task(TaskFamily family, string prompt, string reference, TaskCheck check) =>
        new("t", WorldSplit.HeldOut, family, family.ToString().ToLowerInvariant(), false, [new ChatMessage(ChatRole.User, prompt)], reference, check);

    [Fact]
    public void Copy_probes_cut_where_the_answer_repeats_the_word_and_fact_probes_before_the_fact()
    {
        var tasks = new[]
        {
            Task(TaskFamily.Uppercase, "Write 'mibo' in capital letters.", "In capital letters, 'mibo' is 'MIBO'.", new(["MIBO"], 1, null, ["anagram"], ["mibo"], [])),
            Task(TaskFamily.CountLetters, "Count the letter 'a' in 'zarada'.", "The letter 'a' appears 3 times in 'zarada'.", new(["3"], 1, null, ["number"], ["zarada", "a"], [])),
            Task(TaskFamily.Fact, "Where does Mibo live?", "Mibo lives in Zarford.", new(["Zarford"], 1, "Mibo", ["town"], [], [])),
            Task(TaskFamily.Fact, "How old is Mibo?", "Mibo is 47 years old.", new(["47"], 1, "Mibo", ["number"], [], [])),
            Task(TaskFamily.Sort, "Sort: pela, dorn.", "In alphabetical order: dorn, pela.", new(["dorn", "pela"], 2, null, ["permutation"], ["pela", "dorn"], [])),
        };

        var probes = WorldEvaluation.Probes(tasks, Lexicon);

        Assert.Equal(
            [
                new Probe("copy", "Ben: Write 'mibo' in capital letters.\nCleo: In capital letters, '", "mibo", 0),
                new Probe("copy", "Ben: Count the letter 'a' in 'zarada'.\nCleo: The letter 'a' appears 3 times in '", "zarada", 0),
                new Probe("fact", "Mibo lives in", "Zarford", 0.25),
                new Probe("fact", "Mibo is", "47", 0),
            ],
            probes);
    }

    [Theory]
    [InlineData(" Zarford.", true)]
    [InlineData("Zarford and works as a baker", true)]
    [InlineData("Zarford", true)]
    [InlineData(" Zarfordwick.", false)] // another, longer name
    [InlineData(" zarford.", false)]
    [InlineData(" Kelmere, near Zarford.", false)]
    [InlineData("", false)]
    public void A_completion_hits_when_it_starts_with_the_expected_word(string completion, bool hit) =>
        Assert.Equal(hit, new Probe("fact", "Mibo lives in", "Zarford", 0.25).IsHitBy(completion));
}
