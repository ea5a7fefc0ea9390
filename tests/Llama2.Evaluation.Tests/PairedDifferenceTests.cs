namespace Llama2.Evaluation.Tests;

public sealed class PairedDifferenceTests
{
    [Fact]
    public void The_paired_difference_has_the_hand_computed_mean_and_standard_error()
    {
        // differences 0.5, 0, 0.5, −0.25: mean 0.1875; squared deviations sum to 0.421875, / 3 = 0.140625 (sample variance),
        // / 4 prompts = 0.03515625, √ = 0.1875 → z 1
        var d = PairedDifference.Of([1, 0.5, 0.75, 0], [0.5, 0.5, 0.25, 0.25]);
        Assert.Equal(0.1875, d.Mean, 12);
        Assert.Equal(0.1875, d.StandardError, 12);
        Assert.Equal(1.0, d.Z, 12);
        Assert.Equal((2, 1, 4), (d.Better, d.Worse, d.Prompts));

        // the same shares for both: no difference and no spread, so no z
        var same = PairedDifference.Of([0.5, 1], [0.5, 1]);
        Assert.Equal((0.0, 0.0, 0, 0), (same.Mean, same.StandardError, same.Better, same.Worse));
        Assert.True(double.IsNaN(same.Z));
    }

    [Fact]
    public void Lists_of_different_length_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => PairedDifference.Of([1, 0], [1]));
        Assert.Contains("2 and 1 scores", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => PairedDifference.Of([], []));
    }
}
