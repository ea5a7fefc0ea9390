using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.Model;
using Llama2.Core.World;
using Llama2.Evaluation;
using Llama2.Inference;
using Llama2.Training.Runs;

namespace Llama2.Cli;

/// <summary><c>llama2 eval</c>: scores chat models on the built-in world's held-out data with its gold judges.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model", "-m") { Description = "Models to compare (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var labels = new Option<string[]>("--label") { Description = "A name per model for tables and plots", AllowMultipleArgumentsPerToken = true };
        var world = new Option<string>("--world") { Description = "A folder written by `llama2 data synth`", Required = true };
        var suites = new Option<string[]>("--suite") { Description = "tasks (accuracy by family), safety (violation and false-refusal %), gatt (constraint adherence per turn)", AllowMultipleArgumentsPerToken = true };
        var turns = new Option<int>("--turns") { Description = "GAtt dialogue turns to evaluate", DefaultValueFactory = _ => 20 };
        var limit = new Option<int>("--limit") { Description = "At most this many prompts (and GAtt dialogues) per suite; 0 = all" };
        var output = new Option<string?>("--output", "-o") { Description = "Folder for results.json and the plots" };
        var command = new Command("eval", "Evaluate chat models on the built-in world: task accuracy, safety, Ghost Attention adherence")
        {
            models, labels, world, suites, turns, limit, output,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var paths = parse.GetRequiredValue(models);
            var names = parse.GetValue(labels) is { Length: > 0 } l ? l : [.. paths.Select(p => Path.GetFileName(Path.TrimEndingDirectorySeparator(p)))];
            if (names.Length != paths.Length)
            {
                throw new CliException($"--label: {names.Length} labels for {paths.Length} models");
            }

            var dir = parse.GetRequiredValue(world);
            var chosen = parse.GetValue(suites) is { Length: > 0 } s ? s : ["tasks", "safety", "gatt"];
            if (chosen.FirstOrDefault(x => x is not ("tasks" or "safety" or "gatt")) is { } bad)
            {
                throw new CliException($"--suite: unknown suite '{bad}' (tasks, safety, gatt)");
            }

            int take = parse.GetValue(limit) is > 0 and var n ? n : int.MaxValue;
            var tasks = WorldFiles.ReadTasks(Path.Combine(dir, "heldout", "prompts.jsonl"));
            var judge = new GoldJudge(WorldFiles.ReadLexicon(Path.Combine(dir, "lexicon.json")));
            var results = new JsonObject();
            var accuracy = new Dictionary<string, double[]>();
            var adherence = new Dictionary<string, double[]>();
            string[] families = [];
            for (int m = 0; m < paths.Length; m++)
            {
                using var file = ModelFile.Open(paths[m]);
                using var generator = new BatchGenerator(file, new BatchGeneratorOptions { Slots = 8, QueueLimit = int.MaxValue });
                var result = new JsonObject { ["model"] = paths[m] };
                Console.Error.WriteLine($"evaluating {names[m]} ({paths[m]})");
                if (chosen.Contains("tasks"))
                {
                    var helpful = tasks.Where(t => !t.IsSafety).Take(take).ToList();
                    var byFamily = WorldEvaluation.TaskAccuracy(generator, judge, helpful);
                    families = [.. byFamily.Select(f => f.Family)];
                    accuracy[names[m]] = [.. byFamily.Select(f => f.Accuracy * 100)];
                    result["task_accuracy"] = new JsonObject(byFamily.Select(f => KeyValuePair.Create(f.Family, (JsonNode?)f.Accuracy)));
                    result["task_accuracy_mean"] = byFamily.Sum(f => f.Correct) / (double)Math.Max(1, byFamily.Sum(f => f.Total));
                    foreach (var f in byFamily)
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{names[m]}\ttask {f.Family}\t{f.Correct}/{f.Total}\t{f.Accuracy * 100:F1}%"));
                    }
                }

                if (chosen.Contains("safety"))
                {
                    var safety = tasks.Where(t => t.IsSafety).Take(take).ToList();
                    var answers = WorldEvaluation.Answer(generator, [.. safety.Select(t => t.Messages)], WorldEvaluation.Decoding());
                    var verdicts = safety.Zip(answers, (t, a) => (Task: t, Verdict: judge.Safety(t, a))).ToList();
                    var adversarial = verdicts.Where(v => v.Task.Family == TaskFamily.Harmful).ToList();
                    var borderline = verdicts.Where(v => v.Task.Family == TaskFamily.Borderline).ToList();
                    double violation = adversarial.Count(v => v.Verdict.Violation) * 100.0 / Math.Max(1, adversarial.Count);
                    double falseRefusal = borderline.Count(v => v.Verdict.FalseRefusal) * 100.0 / Math.Max(1, borderline.Count);
                    result["violation_percent"] = violation;
                    result["false_refusal_percent"] = falseRefusal;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{names[m]}\tviolation {violation:F1}% of {adversarial.Count}\tfalse refusal {falseRefusal:F1}% of {borderline.Count}"));
                }

                if (chosen.Contains("gatt"))
                {
                    var dialogues = WorldFiles.ReadGatt(Path.Combine(dir, "heldout", "gatt.jsonl")).Take(take).ToList();
                    var kept = WorldEvaluation.ConstraintAdherence(generator, dialogues, parse.GetValue(turns));
                    adherence[names[m]] = [.. kept.Select(k => k * 100)];
                    result["gatt_adherence"] = new JsonArray([.. kept.Select(k => (JsonNode?)k)]);
                    Console.WriteLine($"{names[m]}\tadherence by turn\t" + string.Join(' ', kept.Select(k => (k * 100).ToString("F0", CultureInfo.InvariantCulture))));
                }

                results[names[m]] = result;
            }

            if (parse.GetValue(output) is { } outDir)
            {
                Directory.CreateDirectory(outDir);
                File.WriteAllText(Path.Combine(outDir, "results.json"), results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                if (accuracy.Count > 0)
                {
                    Plots.Bars(Path.Combine(outDir, "task-accuracy.png"), "Held-out task accuracy by family (gold judge)", "% correct", families, accuracy);
                }

                if (adherence.Count > 0)
                {
                    Plots.Curves(Path.Combine(outDir, "gatt-adherence.png"), "Constraint adherence by turn (cf. Llama 2 Fig. 28)", "dialogue turn", "% of answers keeping the constraint", adherence);
                }

                Console.Error.WriteLine($"wrote {Path.Combine(outDir, "results.json")}");
            }

            return 0;
        })));
        return command;
    }
}
