namespace Llama2.Training.Optim;

/// <summary>Llama 2's schedule (paper §2.2): linear warmup, then cosine decay to a fraction of the peak.</summary>
public static class LearningRateSchedule
{
    /// <summary>
    /// The learning rate for update <paramref name="step"/> (0-based): <c>peak·(step+1)/warmup</c> during warmup,
    /// then <c>min + ½(peak − min)(1 + cos(π·progress))</c> with <c>min = minRatio·peak</c>; constant at min after <paramref name="totalSteps"/>.
    /// </summary>
    public static double Cosine(long step, long warmupSteps, long totalSteps, double peak, double minRatio = 0.1)
    {
        if (step < warmupSteps)
        {
            return peak * (step + 1) / warmupSteps;
        }

        double min = peak * minRatio;
        double progress = Math.Min(1.0, (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps));
        return min + 0.5 * (peak - min) * (1 + Math.Cos(Math.PI * progress));
    }
}
