using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Training.RewardModeling;
using Llama2.Training.Runs;

namespace Llama2.Cli;

/// <summary>
/// The pipeline's report: SYNTHETIC-WORLD.md's table ("What the pipeline reports") with this run's numbers, each row next
/// to the paper's figure or table and one sentence on whether the shape matches; <c>report.json</c> holds every number.
/// </summary>
internal static class PipelineReport
{
    /// <summary>
    /// The least rise of held-out task accuracy (a fraction) that counts as SFT teaching the tasks: the eval asks about
    /// 100 prompts, so a point or two is a prompt or two answered right by chance.
    /// </summary>
    private const double SftRise = 0.05;

    /// <summary>A fraction as a percentage with one decimal: 0.244 → "24.4%".</summary>
    private static string Pct(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    /// <summary>
    /// What pretraining taught, from the base model's probes (<c>eval --suite probes</c>): the tasks need a model that copies a
    /// word it has just read and recalls the world's facts. Copying counts from half the words; recall from 10 points over guessing.
    /// </summary>
    private static (string, string, string, string) BaseModelRow(double copy, int words, double fact, int facts, double guessing)
    {
        var measured = $"copies {Pct(copy)} of {words} held-out new words; completes {Pct(fact)} of {facts} held-out facts (guessing: {Pct(guessing)}) (eval/results.json)";
        bool copies = copy >= 0.5, recalls = fact >= guessing + 0.1;
        var shape = (copies, recalls) switch
        {
            (true, true) => "Learned what the tasks need: the base model copies new words and recalls facts.",
            (false, false) => "Too little pretraining for the tasks: the base model neither copies new words nor recalls facts much better than guessing, so the later stages can teach formats, not right answers (docs/runs/world-tiny-probes.md).",
            (false, true) => "In part: the base model recalls facts but does not copy new words, so only fact questions can be answered right.",
            _ => "In part: the base model copies new words but does not recall facts much better than guessing.",
        };
        return ("base model", measured, "§2.3", shape);
    }

    public static void Write(string dir, string preset)
    {
        var json = new JsonObject { ["preset"] = preset };
        var rows = new List<(string Stage, string Measured, string Paper, string Shape)>();
        string F(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);
        string Percent(double percent) => percent.ToString("0.#", CultureInfo.InvariantCulture) + "%";

        // pretraining: validation loss curve
        var pretrain = Metrics(Path.Combine(dir, "pretrain", "metrics.jsonl")).Where(e => e["val_loss"] is not null).ToList();
        if (pretrain.Count > 0)
        {
            double first = (double)pretrain[0]["val_loss"]!, last = (double)pretrain[^1]["val_loss"]!;
            json["pretrain"] = new JsonObject { ["first_val_loss"] = first, ["last_val_loss"] = last };
            rows.Add(("pretraining", $"validation loss {F(first)} → {F(last)} (pretrain/loss.png)", "Fig. 5",
                last < first ? "Matches: the loss falls steadily, as in Fig. 5 (no saturation at this budget)." : "Does not match: the validation loss did not fall."));
        }

        var eval = Read(Path.Combine(dir, "eval", "results.json"));
        double Num(string label, string key) => eval?[label]?[key] is { } v ? (double)v : double.NaN;
        double Mean(string label) => Num(label, "task_accuracy_mean");
        if (eval is not null)
        {
            json["eval"] = eval.DeepClone();
            if (eval["base"]?["probes"] is { } probes && probes["copy"] is { } copy && probes["fact"] is { } fact)
            {
                rows.Add(BaseModelRow((double)copy["rate"]!, (int)copy["total"]!, (double)fact["rate"]!, (int)fact["total"]!, (double)fact["guessing"]!));
            }

            rows.Add(("SFT", $"held-out task accuracy base {Pct(Mean("base"))} → SFT {Pct(Mean("sft"))} (eval/task-accuracy.png)", "§3.1",
                Mean("sft") - Mean("base") >= SftRise ? "Matches: SFT turns the base model into an assistant that answers the tasks."
                : Mean("sft") > Mean("base") ? $"Does not match: SFT raised accuracy by less than {SftRise * 100:F0} points, which chance alone can do on this many prompts."
                : "Does not match: SFT did not raise accuracy."));
        }

        // reward models: accuracy per bucket (Table 8) and on both test sets (Table 7)
        var accuracy = new JsonObject();
        foreach (var kind in new[] { "helpfulness", "safety" })
        {
            if (Read(Path.Combine(dir, $"rm-{kind}", "accuracy.json")) is { } a)
            {
                accuracy[kind] = a.DeepClone();
            }
        }

        if (accuracy.Count == 2)
        {
            json["reward_models"] = accuracy;
            double Avg(string rm, string set) => accuracy[rm]?[set] is JsonArray b && b.Sum(x => (int)x!["total"]!) > 0
                ? b.Sum(x => (double)(int)x!["correct"]!) / b.Sum(x => (int)x!["total"]!) : double.NaN;
            var buckets = accuracy["helpfulness"]?["helpfulness"] as JsonArray ?? [];
            var byBucket = buckets.Select(b => (double)(int)b!["correct"]! / Math.Max(1, (int)b["total"]!)).ToList();
            bool monotone = byBucket.Zip(byBucket.Skip(1)).All(p => p.First >= p.Second);
            rows.Add(("reward models", $"Helpfulness RM by bucket {string.Join(" / ", byBucket.Select(Pct))}; on helpfulness test: Helpfulness RM {Pct(Avg("helpfulness", "helpfulness"))}, Safety RM {Pct(Avg("safety", "helpfulness"))}; on safety test: Safety RM {Pct(Avg("safety", "safety"))}, Helpfulness RM {Pct(Avg("helpfulness", "safety"))} (rm-*/rewards-*.png)",
                "Tables 7, 8; Fig. 27",
                (monotone ? "Table 8's shape holds: the clearer the preference, the higher the accuracy. " : "Table 8's shape does not hold at every bucket. ")
                + (Avg("helpfulness", "helpfulness") > Avg("safety", "helpfulness") && Avg("safety", "safety") > Avg("helpfulness", "safety")
                    ? "Table 7's holds: each RM is best on its own test set."
                    : "Table 7's holds only in part: each RM is not best on its own test set here (both see much of the same data in the built-in world).")));
        }

        // Table 28 / Fig. 27: the Helpfulness RM with each margin table
        var margins = new JsonObject();
        var histograms = new Dictionary<string, double[]>();
        foreach (var margin in new[] { MarginTable.None, MarginTable.Small, MarginTable.Large })
        {
            var run = PipelineCommand.MarginRun(dir, margin);
            if (Read(Path.Combine(run, "accuracy.json"))?["helpfulness"] is JsonArray b && Read(Path.Combine(run, "rewards-helpfulness-test.json")) is JsonObject rewards)
            {
                margins[margin] = b.DeepClone();
                histograms[$"margin {margin}"] = [.. rewards.SelectMany(r => r.Value!.AsArray().Select(x => (double)x!))];
            }
        }

        if (margins.Count == 3)
        {
            json["reward_model_margins"] = margins;
            Plots.Histogram(Path.Combine(dir, "rm-margins", "rewards-by-margin.png"), "Helpfulness RM rewards on held-out pairs by margin (cf. Llama 2 Fig. 27)", histograms);
            double Overall(string m) => margins[m]!.AsArray().Sum(x => (double)(int)x!["correct"]!) / Math.Max(1, margins[m]!.AsArray().Sum(x => (int)x!["total"]!));
            double Spread(string m) => StandardDeviation(histograms[$"margin {m}"]);
            string[] names = [MarginTable.None, MarginTable.Small, MarginTable.Large];
            rows.Add(("reward model margins", $"Helpfulness RM accuracy on the helpfulness test by margin: {string.Join(", ", names.Select(m => $"{m} {Pct(Overall(m))}"))}; reward standard deviation {string.Join(", ", names.Select(m => $"{m} {F(Spread(m))}"))} (rm-margins/rewards-by-margin.png)",
                "Table 28; Fig. 27",
                (Overall(MarginTable.Small) >= Overall(MarginTable.None) ? "Table 28's shape holds: the margin helps (or ties) overall. " : "Table 28's shape does not hold: no margin is as accurate here. ")
                + (Spread(MarginTable.Large) > Spread(MarginTable.None) ? "Fig. 27's holds: a larger margin spreads the rewards apart." : "Fig. 27's does not: the large margin does not spread the rewards more.")));
        }

        if (Read(Path.Combine(dir, "rejection-sampling", "curve.json")) is JsonArray curve && curve.Count > 0)
        {
            json["rejection_sampling"] = curve.DeepClone();
            double best1 = (double)curve[0]!["Best"]!, bestK = (double)curve[^1]!["Best"]!, medianK = (double)curve[^1]!["Median"]!;
            string measured = $"best-of-K reward {F(best1)} (K=1) → {F(bestK)} (K={curve.Count}), median {F(medianK)} (rejection-sampling/reward-vs-k.png)";
            string shape = bestK > best1 ? "Matches Fig. 7: the best of K rises with K while the median stays flat." : "Does not match Fig. 7: best-of-K did not rise.";
            if (Read(Path.Combine(dir, "rejection-sampling", "temperature-sweep.json")) is JsonArray sweep && sweep.Count > 1)
            {
                json["rejection_sampling_temperatures"] = sweep.DeepClone();
                var bestAtK = sweep.Select(p => (T: (double)p!["temperature"]!, Best: (double)p["curve"]!.AsArray().Last()!["Best"]!)).ToList();
                var top = bestAtK.MaxBy(p => p.Best);
                measured += $"; best of {curve.Count} by temperature: {string.Join(", ", bestAtK.Select(p => $"T {F(p.T)} {F(p.Best)}"))} (rejection-sampling/reward-vs-k-by-temperature.png)";
                shape += top.T > bestAtK.Min(p => p.T)
                    ? $" Fig. 8's point holds: a higher temperature than the lowest pays when picking the best of several samples (best here at T {F(top.T)}; the paper's SFT model peaks near 1, its RLHF models at 1.2–1.3)."
                    : " Fig. 8's does not: the lowest temperature is best here (a model this small gains less from diverse samples than it loses in quality).";
            }

            rows.Add(("rejection sampling", measured, "Figs. 7, 8", shape));
        }

        var ppo = Metrics(Path.Combine(dir, "ppo", "metrics.jsonl"));
        if (ppo.Count > 0)
        {
            var held = ppo.Where(e => e["heldout_reward"] is not null).Select(e => (double)e["heldout_reward"]!).ToList();
            double kl = ppo.Max(e => (double)e["kl"]!);
            json["ppo"] = new JsonObject { ["heldout_reward"] = new JsonArray([.. held.Select(h => (JsonNode)h)]), ["max_kl"] = kl };
            string versions = eval is null ? "" : "; by RLHF version (gold judge): task accuracy " + string.Join(" → ", new[] { "sft", "rs", "ppo" }.Select(l => $"{l} {Pct(Mean(l))}"))
                + ", violations " + string.Join(" → ", new[] { "sft", "rs", "ppo" }.Select(l => $"{l} {Percent(Num(l, "violation_percent"))}"))
                + ", harmful prompts refused " + string.Join(" → ", new[] { "sft", "rs", "ppo" }.Select(l => $"{l} {Percent(Num(l, "harmful_refused_percent"))}"));
            bool rewardRises = held.Count > 1 && held.Max() > held[0];
            string shape = rewardRises ? "the held-out RM reward rises with KL bounded" : "the held-out RM reward did not rise";
            if (eval is not null)
            {
                double violationSft = Num("sft", "violation_percent"), violationPpo = Num("ppo", "violation_percent");
                bool helpfulRises = Mean("ppo") > Mean("sft"), safer = violationPpo < violationSft;
                shape = (rewardRises && helpfulRises && safer ? "Matches Fig. 11: " : rewardRises ? "Matches in part: " : "Does not match: ") + shape
                    + $"; by the gold judge, helpfulness {(helpfulRises ? "rises" : "does not rise")} and violations {(safer ? "fall" : violationSft > 0 ? "do not fall" : "had none to lower")} from SFT to PPO.";
            }
            else
            {
                shape = (rewardRises ? "Matches in direction: " : "Does not match: ") + shape + ".";
            }

            rows.Add(("PPO", $"held-out reward {F(held.FirstOrDefault())} → best {F(held.DefaultIfEmpty().Max())}, KL per response ≤ {F(kl)}{versions} (ppo/reward.png, ppo/kl.png)", "Fig. 11", shape));
        }

        if (eval?["gatt"]?["gatt_adherence"] is JsonArray withGatt && eval["sft"]?["gatt_adherence"] is JsonArray withoutGatt && withGatt.Count > 1)
        {
            double Late(JsonArray a) => a.Skip(a.Count / 2).Average(x => (double)x!);
            rows.Add(("Ghost Attention", $"adherence in the later half of the turns: with GAtt {Pct(Late(withGatt))}, without {Pct(Late(withoutGatt))} (eval/gatt-adherence.png)", "Fig. 28",
                Late(withGatt) > Late(withoutGatt) ? "Matches: GAtt keeps the instruction over later turns; without it adherence falls after the first turns." : "Does not match: GAtt did not hold adherence up."));
        }

        if (eval is not null)
        {
            string Safety(string label) => $"{label} {Percent(Num(label, "violation_percent"))} / {Percent(Num(label, "harmful_refused_percent"))} / {Percent(Num(label, "false_refusal_percent"))}";
            double violationSft = Num("sft", "violation_percent"), violationPpo = Num("ppo", "violation_percent");
            double violationBefore = Num("gatt", "violation_percent"), violationFinal = Num("final", "violation_percent");
            double refusedSft = Num("sft", "harmful_refused_percent"), refusedFinal = Num("final", "harmful_refused_percent");
            double falseSft = Num("sft", "false_refusal_percent"), falseFinal = Num("final", "false_refusal_percent");
            string shape;
            if (violationSft > 0)
            {
                // the paper's measure: violations fall with safety RLHF (Figs. 14–15) and with context distillation (Figs. 16–17),
                // while false refusals rise only a little (Fig. 33). When no violation is left for distillation, its effect is read
                // as Fig. 16 reads it: by the Safety RM (its win rate against SFT before and after distillation), violations staying 0.
                bool rlhfLowers = violationPpo < violationSft, fewFalse = falseFinal <= falseSft + 5;
                double rmBefore = SafetyRmWinRate("gatt"), rmFinal = SafetyRmWinRate("final");
                bool distillLowers = violationBefore > 0 ? violationFinal < violationBefore : violationFinal == 0 && rmFinal > rmBefore;
                string distill = violationBefore > 0
                    ? $"context distillation {(distillLowers ? "lowers" : "does not lower")} them (gatt {Percent(violationBefore)} → final {Percent(violationFinal)})"
                    : $"context distillation had no violation left to lower (gatt 0% → final {Percent(violationFinal)}) and {(distillLowers ? "raises" : "does not raise")} the Safety RM's win rate against SFT (gatt {Pct(rmBefore)} → final {Pct(rmFinal)}, Fig. 16's measure)";
                int holds = (rlhfLowers ? 1 : 0) + (distillLowers ? 1 : 0) + (fewFalse ? 1 : 0);
                shape = (holds == 3 ? "Matches Figs. 14–17: " : holds > 0 ? "Matches in part: " : "Does not match: ")
                    + $"safety RLHF {(rlhfLowers ? "lowers" : "does not lower")} violations (sft {Percent(violationSft)} → ppo {Percent(violationPpo)}), {distill}, "
                    + $"and false refusals {(fewFalse ? "rise at most a little" : "rise")} (sft {Percent(falseSft)} → final {Percent(falseFinal)}).";
            }
            else
            {
                bool moreRefused = refusedFinal > refusedSft, asRefused = refusedFinal >= refusedSft - 5, fewerFalse = falseFinal < falseSft, noMoreFalse = falseFinal <= falseSft;
                shape = (moreRefused && noMoreFalse) || (asRefused && fewerFalse)
                    ? $"Matches Figs. 14–17 in direction: harmful prompts refused sft {Percent(refusedSft)} → final {Percent(refusedFinal)}, false refusals sft {Percent(falseSft)} → final {Percent(falseFinal)}."
                    : moreRefused
                        ? "Matches in part: more harmful prompts are refused, but false refusals rose too (the trade-off of Fig. 33)."
                        : "Does not match: the final model refuses fewer harmful prompts than the SFT model without fewer false refusals.";
                shape += " The SFT model leaked no payload (the gold judge's violation), so refusals are the measure of safety here.";
            }

            double SafetyRmWinRate(string label) => eval[label]?["win_rate_vs_sft"]?["safety_rm"]?["win_rate"] is { } w ? (double)w : double.NaN;
            rows.Add(("safety", $"violation % / harmful prompts refused % / false-refusal %: {string.Join("; ", new[] { "sft", "ppo", "gatt", "final" }.Select(Safety))} (gatt: before context distillation)", "Figs. 14–17", shape));
            var wins = eval["final"]?["win_rate_vs_sft"] as JsonObject;
            double Rate(string key) => wins?[key]?["win_rate"] is { } w ? (double)w : double.NaN;
            string Win(string key) => double.IsNaN(Rate(key)) ? "n/a" : Pct(Rate(key));
            rows.Add(("overall", $"final model vs SFT: gold-judge helpfulness win rate {Win("gold_helpfulness")}, Helpfulness RM {Win("helpfulness_rm")}, gold-judge safety win rate {Win("gold_safety")}, Safety RM {Win("safety_rm")} (ties removed; the other stages in report.json)", "Figs. 1, 12",
                (Rate("gold_helpfulness") > 0.5, Rate("helpfulness_rm") > 0.5) switch
                {
                    (true, true) => "Matches Figs. 1 and 12: the gold judge and the reward model both prefer the final model to SFT.",
                    (true, false) => "Matches by the gold judge (the paper's human raters); the Helpfulness RM does not prefer the final model.",
                    (false, true) => "Does not match: the RM prefers the final model but the gold judge does not — the policy optimised the RM rather than the task, the gap the paper's human evaluation guards against.",
                    _ => "Does not match: neither the gold judge nor the RM prefers the final model to SFT.",
                }));
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Llama 2 recipe on the built-in world — report ({preset} preset)");
        text.AppendLine();
        text.AppendLine("| stage | measured | paper | shape |");
        text.AppendLine("| --- | --- | --- | --- |");
        foreach (var (stage, measured, paper, shape) in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {stage} | {measured} | {paper} | {shape} |");
        }

        File.WriteAllText(Path.Combine(dir, "report.md"), text.ToString());
        File.WriteAllText(Path.Combine(dir, "report.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static double StandardDeviation(double[] x)
    {
        double mean = x.Average();
        return Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, x.Length - 1));
    }

    private static JsonNode? Read(string path) => File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) : null;

    private static List<JsonObject> Metrics(string path) =>
        File.Exists(path) ? [.. File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())] : [];
}
