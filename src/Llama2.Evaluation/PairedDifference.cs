namespace Llama2.Evaluation;

/// <summary>
/// Two models measured on the same prompts, compared prompt by prompt: the mean of the per-prompt differences (model −
/// baseline) and its standard error, <c>sd(d) / √n</c> with the sample standard deviation. Pairing removes what the
/// prompts share (an easy prompt is easy for both), so a small gain that two independent shares would hide in their
/// noise shows here; with sampled answers drawn with the same seeds for both models, the sampling noise shared by the
/// two is removed as well.
/// </summary>
/// <param name="Mean">Mean difference per prompt (model − baseline).</param>
/// <param name="StandardError">Standard error of <see cref="Mean"/>; 0 with fewer than two prompts.</param>
/// <param name="Better">Prompts where the model scores higher.</param>
/// <param name="Worse">Prompts where the baseline scores higher.</param>
/// <param name="Prompts">Prompts compared.</param>
public sealed record PairedDifference(double Mean, double StandardError, int Better, int Worse, int Prompts)
{
    /// <summary><see cref="Mean"/> in standard errors (NaN when the standard error is 0).</summary>
    public double Z => StandardError > 0 ? Mean / StandardError : double.NaN;

    /// <summary>Compares per-prompt scores of a model with a baseline's on the same prompts, in the same order.</summary>
    /// <exception cref="ArgumentException">The two lists differ in length or are empty.</exception>
    public static PairedDifference Of(IReadOnlyList<double> model, IReadOnlyList<double> baseline)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(baseline);
        if (model.Count != baseline.Count || model.Count == 0)
        {
            throw new ArgumentException($"a paired comparison needs the same prompts for both: {model.Count} and {baseline.Count} scores");
        }

        var d = model.Zip(baseline, (m, b) => m - b).ToArray();
        double mean = d.Average();
        double se = d.Length < 2 ? 0 : Math.Sqrt(d.Sum(x => (x - mean) * (x - mean)) / (d.Length - 1) / d.Length);
        return new PairedDifference(mean, se, d.Count(x => x > 0), d.Count(x => x < 0), d.Length);
    }
}
