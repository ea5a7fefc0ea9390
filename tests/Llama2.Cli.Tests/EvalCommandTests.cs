using Llama2.Core.Chat;
using Llama2.Core.World;

namespace Llama2.Cli.Tests;

public sealed class EvalCommandTests
{
    private static WorldTask Task(TaskFamily family, int i) =>
        new($"{family}-{i}", WorldSplit.HeldOut, family, family.ToString(), true, [new ChatMessage(ChatRole.User, "q")], "", new([], 1, null, [], [], []));

    [Fact]
    public void A_limit_keeps_every_family_even_when_the_file_lists_them_one_after_the_other()
    {
        var tasks = Enumerable.Range(0, 5).Select(i => Task(TaskFamily.Harmful, i)).Concat(Enumerable.Range(0, 3).Select(i => Task(TaskFamily.Borderline, i))).ToList();
        var four = EvalCommand.RoundRobin(tasks, 4);
        Assert.Equal(2, four.Count(t => t.Family == TaskFamily.Harmful));
        Assert.Equal(2, four.Count(t => t.Family == TaskFamily.Borderline));
        Assert.Equal(tasks.Count, EvalCommand.RoundRobin(tasks, int.MaxValue).Distinct().Count());
        Assert.Equal(["Harmful-0", "Harmful-1", "Harmful-2"], EvalCommand.RoundRobin(tasks, 7).Where(t => t.Family == TaskFamily.Harmful).Take(3).Select(t => t.Id));
    }
}
