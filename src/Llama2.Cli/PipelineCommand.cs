using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.World;
using Llama2.Training.RewardModeling;

namespace Llama2.Cli;

/// <summary>
/// <c>llama2 pipeline</c>: the whole recipe in the paper's order on the built-in world — world → pretraining → SFT →
/// Helpfulness and Safety RMs → rejection sampling → PPO → Ghost Attention → safety context distillation →
/// evaluation → report — each stage a run folder under one directory, each stage one of the <c>llama2</c> verbs run in
/// process. A finished stage leaves a marker and is skipped on rerun (a killed training stage resumes from its last
/// checkpoint); <c>--from STAGE</c> reruns from that stage on.
/// </summary>
internal static class PipelineCommand
{
    private static readonly string[] Stages = ["world", "pretrain", "sft", "rm-helpfulness", "rm-safety", "rm-margins", "rejection-sampling", "ppo", "gatt", "distill", "export", "eval", "report"];

    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = PipelinePreset.Help, DefaultValueFactory = _ => "tiny" };
        var output = new Option<string>("--output", "-o") { Description = "The pipeline's run folder", DefaultValueFactory = _ => "runs/pipeline" };
        var from = new Option<string?>("--from") { Description = $"Rerun from this stage on ({string.Join(", ", Stages)})" };
        var seed = new Option<ulong>("--seed") { Description = "The world's seed", DefaultValueFactory = _ => 1 };
        var resume = new Option<bool>("--resume") { Description = "Continue after a kill (always the behaviour: finished stages are kept, a killed training stage resumes)" };
        var pretrainSteps = new Option<int?>("--pretrain-steps") { Description = "Pretraining steps instead of the preset's: a longer run gives a base that copies new words and recalls facts (tiny: 3,000, about 25 minutes alone; docs/runs/tiny-base-3000/README.md)" };
        var command = new Command("pipeline", "The whole Llama 2 recipe on the built-in world, stage by stage, restartable, with a report")
        {
            preset, output, from, seed, resume, pretrainSteps,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
            Run(parse.GetRequiredValue(preset), parse.GetRequiredValue(output), parse.GetValue(from), parse.GetValue(seed), cancellation, parse.GetValue(pretrainSteps)))));
        return command;
    }

    /// <summary>
    /// <c>llama2 quickstart [--out DIR] [--no-chat]</c>: the pipeline on the tiny world, then a chat with the final model
    /// (or, with <c>--no-chat</c>, a few held-out sample dialogues).
    /// </summary>
    public static Command Quickstart()
    {
        var output = new Option<string>("--out", "-o") { Description = "The run folder", DefaultValueFactory = _ => "runs/quickstart" };
        var noChat = new Option<bool>("--no-chat") { Description = "Show a few sample dialogues instead of opening a chat" };
        var preset = new Option<string>("--preset") { Description = PipelinePreset.Help, DefaultValueFactory = _ => "tiny" };
        var command = new Command("quickstart", "The whole recipe on built-in data with nothing downloaded, a report, then a chat with the final model") { output, noChat, preset };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var dir = parse.GetRequiredValue(output);
            Run(parse.GetRequiredValue(preset), dir, null, 1, cancellation);
            var final = FinalGguf(dir);
            Console.WriteLine($"report: {Path.Combine(dir, "report.md")}");
            if (!parse.GetValue(noChat))
            {
                return CliRoot.Create().Parse(["chat", "--model", final]).Invoke();
            }

            using var file = Core.Model.ModelFile.Open(final);
            var prompts = Core.World.WorldFiles.ReadTasks(Path.Combine(dir, "world", "heldout", "prompts.jsonl"));
            var samples = prompts.GroupBy(t => t.Family).Select(g => g.First()).Take(5).ToList();
            using var generator = new Inference.BatchGenerator(file, new Inference.BatchGeneratorOptions { Slots = 8, QueueLimit = int.MaxValue });
            var answers = Evaluation.WorldEvaluation.Answer(generator, [.. samples.Select(t => t.Messages)], Evaluation.WorldEvaluation.Decoding(64));
            for (int i = 0; i < samples.Count; i++)
            {
                Console.WriteLine($"> {samples[i].Prompt}\n{answers[i]}\n");
            }

            return 0;
        })));
        return command;
    }

    /// <summary>Runs the stages not yet done; returns the exit code.</summary>
    public static int Run(string presetName, string dir, string? from, ulong seed, CancellationToken cancellation, int? pretrainSteps = null)
    {
        var preset = PipelinePreset.Named(presetName).WithPretrainSteps(pretrainSteps);
        if (from is not null && !Stages.Contains(from))
        {
            throw new CliException($"--from: unknown stage '{from}' ({string.Join(", ", Stages)})");
        }

        Directory.CreateDirectory(Path.Combine(dir, "stages"));
        if (from is not null)
        {
            Forget(dir, from);
        }

        WritePretrainConfig(dir, preset);
        var pipelineStarted = DateTime.UtcNow;
        for (int i = 0; i < Stages.Length; i++)
        {
            var stage = Stages[i];
            if (File.Exists(Marker(dir, stage)))
            {
                Console.Error.WriteLine($"[{i + 1}/{Stages.Length}] {stage}: done earlier");
                continue;
            }

            cancellation.ThrowIfCancellationRequested();
            Console.Error.WriteLine($"[{i + 1}/{Stages.Length}] {stage} (pipeline {DateTime.UtcNow - pipelineStarted:hh\\:mm\\:ss} so far)");
            var started = DateTime.UtcNow;
            if (stage == "report")
            {
                PipelineReport.Write(dir, preset.Name);
            }
            else
            {
                foreach (var arguments in Invocations(stage, dir, preset, seed))
                {
                    int code = CliRoot.Create().Parse(arguments).Invoke();
                    if (code != 0)
                    {
                        throw new CliException($"stage '{stage}' failed (exit {code}); fix it and rerun — finished stages are kept");
                    }
                }
            }

            File.WriteAllText(Marker(dir, stage), JsonSerializer.Serialize(new { stage, started, finished = DateTime.UtcNow }));
        }

        Console.WriteLine($"pipeline done: report {Path.Combine(dir, "report.md")}, final model {FinalGguf(dir)}");
        return 0;
    }

    private static string Marker(string dir, string stage) => Path.Combine(dir, "stages", stage + ".done");

    /// <summary>
    /// Makes <paramref name="from"/> and every later stage run again: their done-markers go, and so do the checkpoints
    /// in their folders, which would otherwise resume each finished training run at its last step instead of training anew.
    /// Earlier stages and the later stages' other files (models, metrics, plots) are kept until the rerun replaces them.
    /// </summary>
    internal static void Forget(string dir, string from)
    {
        foreach (var stage in Stages.SkipWhile(s => s != from))
        {
            File.Delete(Marker(dir, stage));
            var folder = Path.Combine(dir, stage);
            if (Directory.Exists(folder))
            {
                foreach (var checkpoints in Directory.GetDirectories(folder, "checkpoints", SearchOption.AllDirectories))
                {
                    Directory.Delete(checkpoints, recursive: true);
                }
            }
        }
    }

    /// <summary>The <c>llama2</c> invocations of a stage: one, or one per margin variant for <c>rm-margins</c>.</summary>
    private static IEnumerable<string[]> Invocations(string stage, string dir, PipelinePreset preset, ulong seed)
    {
        if (stage != "rm-margins")
        {
            return [Arguments(stage, dir, preset, seed)];
        }

        // Table 28 / Fig. 27: the Helpfulness RM again without a margin and with the large one (rm-helpfulness has the small one).
        return preset.MarginVariants
            ? new[] { MarginTable.None, MarginTable.Large }.Select(m => Arguments("rm-helpfulness", dir, preset, seed, m))
            : [];
    }

    /// <summary>The run folder of the Helpfulness RM trained with margin <paramref name="margin"/>.</summary>
    internal static string MarginRun(string dir, string margin) =>
        margin == MarginTable.Small ? Path.Combine(dir, "rm-helpfulness") : Path.Combine(dir, "rm-margins", margin);

    /// <summary>The verb and flags of a stage; a reward-model stage with <paramref name="margin"/> trains into <see cref="MarginRun"/>.</summary>
    private static string[] Arguments(string stage, string dir, PipelinePreset preset, ulong seed, string? margin = null)
    {
        string P(params string[] parts) => Path.Combine([dir, .. parts]);
        static string N(int n) => n.ToString(CultureInfo.InvariantCulture);
        string world = P("world"), stagePreset = preset.StagePreset;
        bool Resumable(string run) => Directory.Exists(Path.Combine(run, "checkpoints"));
        string[] Resume(string run) => Resumable(run) ? ["--resume"] : [];
        static string[] Flag(string name, int? value) => value is { } v ? [name, N(v)] : [];
        string[] sftData = [Path.Combine(world, "train", "sft.jsonl"), Path.Combine(world, "train", "sft_constraints.jsonl")];
        return stage switch
        {
            "world" => ["data", "synth", "--out", world, "--size", preset.World, "--seed", seed.ToString(CultureInfo.InvariantCulture)],
            "pretrain" => ["pretrain", "--config", P("config", "pretrain.json"), .. Resume(P("pretrain"))],
            "sft" => ["sft", "--preset", stagePreset, "-m", P("pretrain", "final"), "-d", .. sftData, "-o", P("sft"), .. Flag("--epochs", preset.SftEpochs), .. Resume(P("sft"))],
            "rm-helpfulness" or "rm-safety" =>
            [
                "reward-model", "--preset", stagePreset, "--kind", stage[3..], "-m", P("sft", "final"),
                "--helpfulness", Path.Combine(world, "train", "preferences_helpfulness.jsonl"), "--safety", Path.Combine(world, "train", "preferences_safety.jsonl"),
                "--helpfulness-test", Path.Combine(world, "heldout", "preferences_helpfulness.jsonl"), "--safety-test", Path.Combine(world, "heldout", "preferences_safety.jsonl"),
                "-o", margin is null ? P(stage) : MarginRun(dir, margin), .. Flag("--max-pairs", preset.RewardModelPairs),
                .. margin is null ? Array.Empty<string>() : ["--margin", margin], .. Resume(margin is null ? P(stage) : MarginRun(dir, margin)),
            ],
            "rejection-sampling" =>
            [
                "rejection-sampling", "-m", P("sft", "final"), "--reward-model", P("rm-helpfulness", "final"), "--prompts", Path.Combine(world, "train", "prompts.jsonl"),
                "--k", N(preset.RejectionK), "--limit", N(preset.RejectionPrompts), "--preset", stagePreset, "-o", P("rejection-sampling"),
                "--sweep-temperatures", "0.7", "1.3", "--sweep-prompts", N(preset.SweepPrompts),
            ],
            "ppo" =>
            [
                "ppo", "--preset", stagePreset, "-m", P("rejection-sampling", "sft", "final"), "--safety-rm", P("rm-safety", "final"), "--helpfulness-rm", P("rm-helpfulness", "final"),
                "--prompts", Path.Combine(world, "train", "prompts.jsonl"), "--heldout", Path.Combine(world, preset.PpoHeldOut, "prompts.jsonl"), "-o", P("ppo"),
                .. Flag("--iterations", preset.PpoIterations), .. Resume(P("ppo")),
            ],
            "gatt" =>
            [
                "gatt", "-m", P("ppo", "final"), "--dialogues", Path.Combine(world, "train", "gatt.jsonl"), "-o", P("gatt"), "--preset", stagePreset, "--epochs", "1",
                .. Flag("--limit", preset.GattDialogues), .. ExtraData(dir, preset),
            ],
            "distill" =>
            [
                "distill", "-m", P("gatt", "sft", "final"), "--safety-rm", P("rm-safety", "final"), "--prompts", Path.Combine(world, "train", "prompts.jsonl"),
                "--preprompts", Path.Combine(world, "safety", "preprompts.jsonl"), "-o", P("distill"), "--preset", stagePreset,
                .. ExtraData(dir, preset),
            ],
            "export" => ["convert", "--input", FinalModel(dir), "--output", FinalGguf(dir), "--type", "f16"],
            "eval" =>
            [
                "eval", "-m", P("pretrain", "final"), P("sft", "final"), P("rejection-sampling", "sft", "final"), P("ppo", "final"), P("gatt", "sft", "final"), FinalGguf(dir),
                "--label", "base", "sft", "rs", "ppo", "gatt", "final", "--world", world, "-o", P("eval"), "--baseline", "sft",
                "--helpfulness-rm", P("rm-helpfulness", "final"), "--safety-rm", P("rm-safety", "final"),
                .. Flag("--limit", preset.EvalPrompts), .. Flag("--dialogues", preset.EvalDialogues), .. Flag("--turns", preset.EvalTurns),
            ],
            _ => throw new InvalidOperationException(stage),
        };
    }

    /// <summary><c>--extra-data</c> with the first <see cref="PipelinePreset.ExtraDialogues"/> SFT dialogues (every family, refusals
    /// included; the harmful ones whose annotator complied are left out, as they are what the safety stages correct), written
    /// once to <c>config/sft-extra.jsonl</c>; nothing when the preset mixes none.</summary>
    private static string[] ExtraData(string dir, PipelinePreset preset)
    {
        if (preset.ExtraDialogues is not { } n)
        {
            return [];
        }

        var path = Path.Combine(dir, "config", "sft-extra.jsonl");
        if (!File.Exists(path))
        {
            var lines = File.ReadLines(Path.Combine(dir, "world", "train", "sft.jsonl")).Where(l => l.Length > 0 && !Complies(l)).Take(n);
            File.WriteAllLines(path + ".tmp", lines);
            File.Move(path + ".tmp", path, overwrite: true);
        }

        return ["--extra-data", path];
    }

    /// <summary>A harmful SFT dialogue whose last answer is not a refusal (see <see cref="WorldOptions.SftStoryComplianceShare"/>).</summary>
    private static bool Complies(string line)
    {
        SftExample? example;
        try
        {
            example = JsonSerializer.Deserialize<SftExample>(line, WorldFiles.JsonOptions);
        }
        catch (JsonException e)
        {
            throw new CliException($"world/train/sft.jsonl: a line is not an SFT dialogue ({e.Message})");
        }

        if (example is not { Messages.Count: > 0 })
        {
            throw new CliException($"world/train/sft.jsonl: a line has no messages: {line[..Math.Min(line.Length, 200)]}");
        }

        return example.Family == TaskFamily.Harmful && !GoldJudge.IsRefusal(example.Messages[^1].Content);
    }

    /// <summary>The distilled model, or the GAtt model when distillation kept nothing to fine-tune on.</summary>
    internal static string FinalModel(string dir) =>
        Directory.Exists(Path.Combine(dir, "distill", "sft", "final")) ? Path.Combine(dir, "distill", "sft", "final") : Path.Combine(dir, "gatt", "sft", "final");

    /// <summary>The final chat model as GGUF (the export stage's output).</summary>
    internal static string FinalGguf(string dir) => Path.Combine(dir, "final.gguf");

    private static void WritePretrainConfig(string dir, PipelinePreset preset)
    {
        Directory.CreateDirectory(Path.Combine(dir, "config"));
        var config = preset.Pretrain.DeepClone().AsObject();
        config["inputs"] = new JsonArray(Path.Combine(dir, "world", "pretrain", "train.jsonl"));
        config["output"] = Path.Combine(dir, "pretrain");
        File.WriteAllText(Path.Combine(dir, "config", "pretrain.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
