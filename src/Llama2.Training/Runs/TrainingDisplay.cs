using System.Globalization;
using Llama2.Training.Pretraining;
using Spectre.Console;

namespace Llama2.Training.Runs;

/// <summary>
/// Shows a run's progress: a Spectre.Console progress bar (loss, LR, tokens/s, ETA) on a terminal, plain
/// lines when output is redirected (logs, CI).
/// </summary>
public static class TrainingDisplay
{
    public static T Run<T>(string title, Func<Action<TrainingReport>, Action<string>, T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            long lastPrinted = 0;
            return body(r =>
            {
                long every = Math.Max(1, r.TotalSteps / 50);
                if (r.Step - lastPrinted >= every || r.ValLoss is not null || r.Step == r.TotalSteps)
                {
                    lastPrinted = r.Step;
                    Console.WriteLine(Describe(r) + $" elapsed {r.Elapsed:hh\\:mm\\:ss}");
                }
            }, message => Console.WriteLine(message));
        }

        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(title), maxValue: 1);
                result = body(r =>
                {
                    task.MaxValue = r.TotalSteps;
                    task.Value = r.Step;
                    task.Description = Markup.Escape(Describe(r));
                }, message => AnsiConsole.WriteLine(message));
            });
        return result;
    }

    private static string Describe(TrainingReport r) => r.Detail is { } detail ? $"step {r.Step}/{r.TotalSteps} {detail}" : string.Create(CultureInfo.InvariantCulture,
        $"step {r.Step}/{r.TotalSteps} loss {r.Loss:F4}{(r.ValLoss is { } v ? $" val {v:F4}" : "")} lr {r.Lr:E2} |g| {r.GradNorm:F2} {r.TokensPerSecond:F0} {r.RateUnit}");
}
