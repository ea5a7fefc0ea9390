using Llama2.Core.Model;
using Llama2.Inference;

namespace Llama2.Cli.Tests;

/// <summary>
/// The whole recipe end to end on the micro preset (about a minute): killed mid-stage and resumed without redoing finished
/// stages, every stage runs, writes its metrics, and the final model answers.
/// </summary>
public sealed class PipelineTests
{
    private static readonly string[] s_stages = ["world", "pretrain", "sft", "rm-helpfulness", "rm-safety", "rm-margins", "rejection-sampling", "ppo", "gatt", "distill", "export", "eval", "report"];

    [Fact]
    [Trait("Category", "Slow")]
    public void The_micro_pipeline_survives_a_kill_runs_every_stage_and_the_final_model_answers()
    {
        using var dir = new TempDirectory();

        // Kill -9 once SFT is done and a later stage is under way, at a random moment.
        using (var first = CliProcess.Start("pipeline", "--preset", "micro", "--output", dir.Path))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!first.Process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(10) && !Directory.Exists(dir.File("rm-helpfulness")))
            {
                Thread.Sleep(50);
            }

            if (first.Process.HasExited)
            {
                Assert.Fail($"the pipeline ended (exit {first.Process.ExitCode}) before it could be killed; its stderr:\n{first.Stderr}");
            }

            Thread.Sleep(new Random().Next(2000));
            first.Process.Kill(entireProcessTree: true);
            first.Process.WaitForExit();
        }

        string[] finished = [.. s_stages.Where(s => File.Exists(dir.File($"stages/{s}.done")))];
        Assert.Contains("sft", finished);
        var before = finished.ToDictionary(s => s, s => File.ReadAllText(dir.File($"stages/{s}.done")));
        var result = CliProcess.RunLong(TimeSpan.FromMinutes(15), "pipeline", "--preset", "micro", "--output", dir.Path, "--resume");
        Assert.True(result.ExitCode == 0, result.Stderr);
        foreach (var stage in finished)
        {
            Assert.Contains($"{stage}: done earlier", result.Stderr, StringComparison.Ordinal);
            Assert.Equal(before[stage], File.ReadAllText(dir.File($"stages/{stage}.done")));
        }

        foreach (var stage in s_stages)
        {
            Assert.True(File.Exists(dir.File($"stages/{stage}.done")), $"stage {stage} did not finish");
        }

        foreach (var metrics in new[] { "pretrain/metrics.jsonl", "sft/metrics.jsonl", "rm-helpfulness/metrics.jsonl", "rm-safety/metrics.jsonl", "ppo/metrics.jsonl" })
        {
            Assert.True(File.ReadLines(dir.File(metrics)).Any(), metrics);
        }

        // the SFT mix of GAtt and distillation keeps refusals but leaves out the world's complying story-disguise annotations
        var sft = Core.World.WorldFiles.ReadSft(dir.File("world/train/sft.jsonl"));
        Assert.Contains(sft, e => e.Family == Core.World.TaskFamily.Harmful && !Core.World.GoldJudge.IsRefusal(e.Messages[^1].Content));
        var extra = Core.World.WorldFiles.ReadSft(dir.File("config/sft-extra.jsonl"));
        Assert.Contains(extra, e => e.Family == Core.World.TaskFamily.Harmful);
        Assert.All(extra.Where(e => e.Family == Core.World.TaskFamily.Harmful), e => Assert.True(Core.World.GoldJudge.IsRefusal(e.Messages[^1].Content), e.Id));

        var report = File.ReadAllText(dir.File("report.md"));
        foreach (var row in new[] { "| pretraining |", "| SFT |", "| reward models |", "| reward model margins |", "| rejection sampling |", "| PPO |", "| Ghost Attention |", "| safety |", "| overall |" })
        {
            Assert.Contains(row, report, StringComparison.Ordinal);
        }

        Assert.Contains("best of 4 by temperature: T 0.7", report, StringComparison.Ordinal); // Fig. 8's sweep
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.File("report.json")))!;
        foreach (var label in new[] { "base", "sft", "rs", "ppo", "gatt", "final" })
        {
            Assert.NotNull(json["eval"]![label]!["harmful_refused_percent"]);
            Assert.Equal(label != "sft", json["eval"]![label]!["win_rate_vs_sft"] is not null); // win rates are against SFT

            // answers.jsonl: every graded answer; its share of right ones is the accuracy in results.json
            var graded = File.ReadLines(dir.File("eval/answers.jsonl")).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!)
                .Where(a => (string)a["model"]! == label).ToList();
            var tasks = graded.Where(a => (string)a["suite"]! == "tasks").ToList();
            Assert.NotEmpty(tasks);
            Assert.Contains(graded, a => (string)a["suite"]! == "safety" && a["violation"] is not null);
            double right = tasks.Count(a => (string)a["quality"]! is "Curt" or "Complete") / (double)tasks.Count;
            Assert.Equal((double)json["eval"]![label]!["task_accuracy_mean"]!, right, 9);
        }

        using var final = ModelFile.Open(PipelineCommand.FinalGguf(dir.Path));
        var session = new ChatSession(new Generator(final, 128));
        var finish = new System.Runtime.CompilerServices.StrongBox<FinishReason>();
        var answer = string.Concat(session.Send("What is 2 + 2?", new GenerationOptions { MaxTokens = 16 }, finish).Select(t => t.Text));
        Assert.NotNull(answer);
        Assert.Single(session.History, m => m.Role == Core.Chat.ChatRole.Assistant);

        // A rerun skips finished stages; --from reruns from there on.
        var stamps = s_stages.ToDictionary(s => s, s => File.ReadAllText(dir.File($"stages/{s}.done")));
        result = CliProcess.Run(null, "pipeline", "--preset", "micro", "--output", dir.Path, "--from", "report");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains($"[1/{s_stages.Length}] world: done earlier", result.Stderr, StringComparison.Ordinal);
        Assert.All(s_stages[..^1], s => Assert.Equal(stamps[s], File.ReadAllText(dir.File($"stages/{s}.done"))));
        Assert.NotEqual(stamps["report"], File.ReadAllText(dir.File("stages/report.done")));

        // The rm-agreement suite (not a default one) on the run's SFT model and Helpfulness RM; it needs the RM.
        result = CliProcess.Run(null, "eval", "-m", dir.File("sft/final"), "--world", dir.File("world"), "--suite", "rm-agreement", "--limit", "7",
            "--helpfulness-rm", dir.File("rm-helpfulness/final"), "-o", dir.File("eval-rm"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        var all = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.File("eval-rm/results.json")))!["final"]!["rm_agreement"]!["all"]!;
        Assert.Equal(7, (int)all["prompts"]!);
        Assert.InRange((double)all["best_of_8_right"]!, 0, (double)all["any_right"]!);
        Assert.Contains("RM agrees on", result.Stdout, StringComparison.Ordinal);
        // --samples: sampled answers graded like greedy ones (tasks and safety); near temperature 0 sampling is greedy decoding, so the shares agree
        result = CliProcess.Run(null, "eval", "-m", dir.File("sft/final"), dir.File("ppo/final"), "--label", "sft", "ppo", "--world", dir.File("world"), "--suite", "tasks", "safety", "--limit", "7",
            "--samples", "2", "--temperature", "0.000001", "-o", dir.File("eval-sampled"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        var sampledResults = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.File("eval-sampled/results.json")))!;
        var sampledRun = sampledResults["sft"]!;
        Assert.Equal(2, (int)sampledRun["sampled_task_accuracy"]!["samples"]!);
        Assert.Equal((double)sampledRun["task_accuracy_mean"]!, (double)sampledRun["sampled_task_accuracy"]!["all"]!, 9);
        Assert.Contains("sampled task all\t2 per prompt at temperature", result.Stdout, StringComparison.Ordinal);
        Assert.Equal((double)sampledRun["violation_percent"]!, (double)sampledRun["sampled_safety"]!["violation_percent"]!, 9);
        Assert.Equal((double)sampledRun["false_refusal_percent"]!, (double)sampledRun["sampled_safety"]!["false_refusal_percent"]!, 9);
        // the paired gain against the first model: with the same number of answers per prompt its mean is the difference of the shares
        var gain = sampledResults["ppo"]!["sampled_task_accuracy"]!["gain"]!;
        Assert.Equal("sft", (string)gain["against"]!);
        Assert.Equal(7, (int)gain["all"]!["prompts"]!);
        Assert.Equal((double)sampledResults["ppo"]!["sampled_task_accuracy"]!["all"]! - (double)sampledRun["sampled_task_accuracy"]!["all"]!, (double)gain["all"]!["mean"]!, 9);
        Assert.InRange((int)gain["all"]!["better"]! + (int)gain["all"]!["worse"]!, 0, 7);
        Assert.Equal(7, gain["families"]!.AsObject().Sum(f => (int)f.Value!["prompts"]!));
        Assert.Contains("ppo\tsampled gain over sft\t", result.Stdout, StringComparison.Ordinal);
        result = CliProcess.Run(null, "eval", "-m", dir.File("sft/final"), "--world", dir.File("world"), "--suite", "tasks", "--samples", "-1");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--samples must be 0 or more", result.Stderr, StringComparison.Ordinal);
        result = CliProcess.Run(null, "eval", "-m", dir.File("sft/final"), "--world", dir.File("world"), "--suite", "rm-agreement");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--suite rm-agreement needs --helpfulness-rm", result.Stderr, StringComparison.Ordinal);

        // data annotate: the SFT model's own answers to training prompts, compared by the gold judge, in the format the RMs read.
        result = CliProcess.Run(null, "data", "annotate", "-m", dir.File("sft/final"), "--world", dir.File("world"), "--k", "4", "--limit", "24", "-o", dir.File("annotated.jsonl"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        var annotated = Core.World.WorldFiles.ReadPreferences(dir.File("annotated.jsonl"));
        Assert.Contains($"wrote {annotated.Count} pairs of 24 prompts", result.Stdout, StringComparison.Ordinal);
        Assert.All(annotated, p => Assert.Equal(Core.World.PreferenceRating.FromGap(p.ChosenQuality - p.RejectedQuality), p.Rating));
        Assert.All(annotated, p => Assert.True(p.ChosenQuality > p.RejectedQuality && !p.IsSafety && p.Split == Core.World.WorldSplit.Train));
        Assert.Equal(annotated.Count, Core.Data.PreferenceDataset.Read([dir.File("annotated.jsonl")]).Pairs.Count);
        result = CliProcess.Run(null, "data", "annotate", "--safety", "-m", dir.File("sft/final"), "--world", dir.File("world"), "--k", "4", "--limit", "12", "-o", dir.File("annotated-safety.jsonl"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        var safetyPairs = Core.World.WorldFiles.ReadPreferences(dir.File("annotated-safety.jsonl"));
        Assert.Contains($"wrote {safetyPairs.Count} pairs of 12 prompts", result.Stdout, StringComparison.Ordinal);
        Assert.All(safetyPairs, p => Assert.True(p.IsSafety && p.SafetyLabel is Core.World.SafetyLabel.BothSafe or Core.World.SafetyLabel.ChosenSafeRejectedUnsafe));
        Assert.Equal(safetyPairs.Count, Core.Data.PreferenceDataset.Read([dir.File("annotated-safety.jsonl")]).Pairs.Count(p => p.IsSafety));

        // reward-model --test-only: the run's Safety RM tested on the annotated pairs, nothing trained
        result = CliProcess.Run(null, "reward-model", "--test-only", "--preset", "micro", "--kind", "safety", "-m", dir.File("rm-safety/final"),
            "--safety-test", dir.File("annotated-safety.jsonl"), "-o", dir.File("rm-test"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("safety RM on safety test\tavg", result.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(dir.File("rm-test/accuracy.json")) && !Directory.Exists(dir.File("rm-test/final")));
        result = CliProcess.Run(null, "reward-model", "--test-only", "-m", dir.File("sft/final"), "--safety-test", dir.File("annotated-safety.jsonl"), "-o", dir.File("rm-test2"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is not a reward model", result.Stderr, StringComparison.Ordinal);
        result = CliProcess.Run(null, "data", "annotate", "-m", dir.File("sft/final"), "--world", dir.File("world"), "--k", "1", "-o", dir.File("one.jsonl"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--k must be at least 2", result.Stderr, StringComparison.Ordinal);
        result = CliProcess.Run(null, "data", "annotate", "-m", dir.File("sft/final"), "--world", dir.File("world"), "--temperature", "-1", "-o", dir.File("cold.jsonl"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--temperature must be 0 or more, got -1", result.Stderr, StringComparison.Ordinal);
        result = CliProcess.Run(null, "data", "annotate", "-m", dir.File("sft/final"), "--world", dir.File("no-world"), "-o", dir.File("none.jsonl"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no-world", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void From_a_stage_forgets_that_stage_and_the_later_ones_checkpoints_included()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(dir.Path, "stages"));
        foreach (var stage in s_stages)
        {
            File.WriteAllText(Path.Combine(dir.Path, "stages", stage + ".done"), "{}");
        }

        string[] checkpoints = ["pretrain/checkpoints/step-000480", "sft/checkpoints/step-000219", "rejection-sampling/sft/checkpoints/step-000006", "rm-margins/none/checkpoints/step-000016"];
        foreach (var folder in checkpoints)
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, folder));
        }

        Directory.CreateDirectory(Path.Combine(dir.Path, "sft", "final"));

        PipelineCommand.Forget(dir.Path, "sft");

        Assert.Equal(["world.done", "pretrain.done"], s_stages.Select(s => s + ".done").Where(f => File.Exists(Path.Combine(dir.Path, "stages", f))));
        Assert.True(Directory.Exists(Path.Combine(dir.Path, checkpoints[0])), "an earlier stage's checkpoints were deleted");
        Assert.All(checkpoints[1..], c => Assert.False(Directory.Exists(Path.Combine(dir.Path, Path.GetDirectoryName(c)!)), $"{c} would resume the old run"));
        Assert.True(Directory.Exists(Path.Combine(dir.Path, "sft", "final")), "a rerun stage's model goes only when the rerun replaces it");
    }

    [Fact]
    public void An_unknown_stage_or_preset_gets_one_clear_error()
    {
        using var dir = new TempDirectory();
        var result = CliProcess.Run(null, "pipeline", "--preset", "micro", "--output", dir.Path, "--from", "lunch");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("unknown stage 'lunch'", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("--preset must be micro, tiny or small", CliProcess.Run(null, "pipeline", "--preset", "huge", "--output", dir.Path).Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Pretrain_steps_replace_the_presets_in_the_pretraining_config_and_must_be_positive()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("stages"));
        foreach (var stage in s_stages)
        {
            File.WriteAllText(dir.File($"stages/{stage}.done"), "{}");
        }

        var result = CliProcess.Run(null, "pipeline", "--preset", "tiny", "--output", dir.Path, "--pretrain-steps", "3000");
        Assert.Equal(0, result.ExitCode);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.File("config/pretrain.json")))!;
        Assert.Equal(3000, (int)config["max_steps"]!);
        Assert.Equal(192, (int)config["dim"]!);

        var bad = CliProcess.Run(null, "pipeline", "--preset", "tiny", "--output", dir.Path, "--pretrain-steps", "0");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--pretrain-steps must be at least 1, got 0", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_world_sft_file_gets_one_clear_error_when_the_sft_mix_is_built()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("stages"));
        foreach (var stage in s_stages.TakeWhile(s => s != "gatt"))
        {
            File.WriteAllText(dir.File($"stages/{stage}.done"), "{}");
        }

        Directory.CreateDirectory(dir.File("world/train"));
        File.WriteAllText(dir.File("world/train/sft.jsonl"), "{\"id\": \"sft-0\", \"messages\": [\n");
        var result = CliProcess.Run(null, "pipeline", "--preset", "micro", "--output", dir.Path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("world/train/sft.jsonl: a line is not an SFT dialogue", result.Stderr, StringComparison.Ordinal);
    }
}
