using System.Text.Json.Nodes;
using Llama2.Tests;

namespace Llama2.Cli.Tests;

/// <summary>The report's shape sentences follow the numbers: hand-made evaluation results, each sentence checked.</summary>
public sealed class PipelineReportTests
{
    private static string Row(string stage, (double Violation, double Refused, double False, double Accuracy)[] models, double[] heldOutReward, double[]? safetyRmWinRates = null)
    {
        using var dir = new TempDirectory();
        string[] labels = ["base", "sft", "rs", "ppo", "gatt", "final"];
        var eval = new JsonObject();
        for (int i = 0; i < labels.Length; i++)
        {
            eval[labels[i]] = new JsonObject
            {
                ["violation_percent"] = models[i].Violation, ["harmful_refused_percent"] = models[i].Refused,
                ["false_refusal_percent"] = models[i].False, ["task_accuracy_mean"] = models[i].Accuracy,
            };
            if (safetyRmWinRates is not null)
            {
                eval[labels[i]]!["win_rate_vs_sft"] = new JsonObject { ["safety_rm"] = new JsonObject { ["win_rate"] = safetyRmWinRates[i] } };
            }
        }

        Directory.CreateDirectory(Path.Combine(dir.Path, "eval"));
        File.WriteAllText(Path.Combine(dir.Path, "eval", "results.json"), eval.ToJsonString());
        Directory.CreateDirectory(Path.Combine(dir.Path, "ppo"));
        File.WriteAllLines(Path.Combine(dir.Path, "ppo", "metrics.jsonl"),
            heldOutReward.Select((r, i) => new JsonObject { ["step"] = i + 1, ["kl"] = 0.1 * i, ["heldout_reward"] = r }.ToJsonString()));
        PipelineReport.Write(dir.Path, "test");
        return File.ReadLines(Path.Combine(dir.Path, "report.md")).Single(l => l.StartsWith($"| {stage} |", StringComparison.Ordinal));
    }

    // base, sft, rs, ppo, gatt (before distillation), final
    private static readonly (double, double, double, double)[] Safer = [(20, 0, 0, 0.01), (12, 60, 4, 0.10), (8, 70, 4, 0.11), (6, 75, 5, 0.12), (6, 75, 5, 0.12), (2, 90, 6, 0.12)];
    private static readonly (double, double, double, double)[] NoViolations = [(20, 0, 0, 0.01), (0, 100, 82, 0.10), (0, 60, 30, 0.10), (0, 54, 26, 0.10), (0, 100, 90, 0.10), (0, 96, 6, 0.10)];

    [Fact]
    public void Safety_matches_when_rlhf_and_distillation_lower_violations_without_many_more_false_refusals()
    {
        var row = Row("safety", Safer, [0.5, 0.6]);
        Assert.Contains("Matches Figs. 14–17: safety RLHF lowers violations (sft 12% → ppo 6%), context distillation lowers them (gatt 6% → final 2%)", row);
        Assert.Contains("rise at most a little (sft 4% → final 6%)", row);
    }

    [Fact]
    public void Safety_matches_only_in_part_when_distillation_does_not_lower_violations()
    {
        var models = (((double, double, double, double)[])Safer.Clone());
        models[5] = (6, 90, 30, 0.12);
        var row = Row("safety", models, [0.5, 0.6]);
        Assert.Contains("Matches in part: safety RLHF lowers violations", row);
        Assert.Contains("context distillation does not lower them", row);
        Assert.Contains("false refusals rise (sft 4% → final 30%)", row);
    }

    [Fact]
    public void With_no_violation_left_before_distillation_the_safety_rm_win_rate_judges_it()
    {
        (double, double, double, double)[] models = [(4, 0, 0, 0.01), (20, 80, 0, 0.13), (2, 90, 0, 0.13), (2, 90, 0, 0.12), (0, 90, 0, 0.12), (0, 94, 0, 0.12)];
        var row = Row("safety", models, [0.5, 0.6], [0.2, 0.5, 0.7, 0.7, 0.5, 0.6]);
        Assert.Contains("Matches Figs. 14–17: safety RLHF lowers violations (sft 20% → ppo 2%), context distillation had no violation left to lower (gatt 0% → final 0%) and raises the Safety RM's win rate against SFT (gatt 50.0% → final 60.0%", row);
        var worse = Row("safety", models, [0.5, 0.6], [0.2, 0.5, 0.7, 0.7, 0.5, 0.4]);
        Assert.Contains("Matches in part:", worse);
        Assert.Contains("does not raise the Safety RM's win rate against SFT (gatt 50.0% → final 40.0%", worse);
    }

    [Fact]
    public void Without_sft_violations_refusals_are_the_measure_and_fewer_false_refusals_count()
    {
        var row = Row("safety", NoViolations, [0.5, 0.6]);
        Assert.Contains("Matches Figs. 14–17 in direction: harmful prompts refused sft 100% → final 96%, false refusals sft 82% → final 6%.", row);
        Assert.Contains("The SFT model leaked no payload", row);
    }

    [Fact]
    public void Percentages_of_a_count_show_one_decimal()
    {
        var models = (((double, double, double, double)[])NoViolations.Clone());
        models[1] = (0, 97.33333, 0, 0.10);
        models[5] = (0, 98.66667, 0, 0.10);
        var row = Row("safety", models, [0.5, 0.6]);
        Assert.Contains("harmful prompts refused sft 97.3% → final 98.7%", row);
        Assert.Contains("sft 0% / 97.3% / 0%", row);
    }

    [Theory]
    [InlineData(0.0, 0.16, "Too little pretraining for the tasks: the base model neither copies new words nor recalls facts much better than guessing")]
    [InlineData(0.8, 0.40, "Learned what the tasks need")]
    [InlineData(0.1, 0.40, "In part: the base model recalls facts but does not copy new words")]
    public void The_base_model_row_reads_the_probes_against_guessing(double copy, double fact, string shape)
    {
        using var dir = new TempDirectory();
        var eval = new JsonObject
        {
            ["base"] = new JsonObject
            {
                ["task_accuracy_mean"] = 0.0,
                ["probes"] = new JsonObject
                {
                    ["copy"] = new JsonObject { ["hits"] = 0, ["total"] = 129, ["rate"] = copy, ["guessing"] = 0.0 },
                    ["fact"] = new JsonObject { ["hits"] = 7, ["total"] = 43, ["rate"] = fact, ["guessing"] = 0.094 },
                },
            },
        };
        Directory.CreateDirectory(Path.Combine(dir.Path, "eval"));
        File.WriteAllText(Path.Combine(dir.Path, "eval", "results.json"), eval.ToJsonString());
        PipelineReport.Write(dir.Path, "test");
        var row = File.ReadLines(Path.Combine(dir.Path, "report.md")).Single(l => l.StartsWith("| base model |", StringComparison.Ordinal));
        Assert.Contains("of 129 held-out new words", row);
        Assert.Contains("of 43 held-out facts (guessing: 9.4%)", row);
        Assert.Contains(shape, row);
    }

    [Fact]
    public void Sft_matches_only_when_it_raises_accuracy_by_at_least_five_points()
    {
        Assert.Contains("Matches: SFT turns the base model", Row("SFT", Safer, [0.5, 0.6])); // 1% → 10%
        var models = (((double, double, double, double)[])Safer.Clone());
        models[1] = (12, 60, 4, 0.02); // 1% → 2%: one more prompt right out of 100
        Assert.Contains("Does not match: SFT raised accuracy by less than 5 points", Row("SFT", models, [0.5, 0.6]));
        models[1] = (12, 60, 4, 0.01);
        Assert.Contains("Does not match: SFT did not raise accuracy.", Row("SFT", models, [0.5, 0.6]));
    }

    [Fact]
    public void Ppo_matches_fig_11_only_when_reward_and_gold_helpfulness_rise_and_violations_fall()
    {
        Assert.Contains("Matches Fig. 11: the held-out RM reward rises", Row("PPO", Safer, [0.5, 0.6]));
        Assert.Contains("Does not match: the held-out RM reward did not rise", Row("PPO", Safer, [0.6, 0.5]));
        var flat = Row("PPO", NoViolations, [0.5, 0.6]);
        Assert.Contains("Matches in part:", flat);
        Assert.Contains("helpfulness does not rise and violations had none to lower", flat);
    }
}
