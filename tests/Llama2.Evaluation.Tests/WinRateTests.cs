namespace Llama2.Evaluation.Tests;

public sealed class WinRateTests
{
    [Fact]
    public void Ties_are_removed_from_the_win_rate()
    {
        // 3 wins, 2 ties, 1 loss → 3 / (3 + 1) = 0.75
        var (rate, wins, ties, losses) = WorldEvaluation.WinRate([(2, 1), (1, 1), (5, 0), (0, 3), (4, 4), (1, 0.5)]);
        Assert.Equal((0.75, 3, 2, 1), (rate, wins, ties, losses));
        Assert.True(double.IsNaN(WorldEvaluation.WinRate([(1, 1)]).WinRate));
    }
}
