using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Llama2.Core.Model;
using Llama2.Core.World;
using Llama2.Evaluation;
using Llama2.Inference;

namespace Llama2.Cli;

/// <summary>
/// <c>llama2 data annotate</c>: preference pairs of a model's own answers, labelled by the world's gold judge — the
/// paper's way of collecting preferences (§3.2.1: annotators compare responses sampled from the latest models, a new
/// batch per RLHF version), so the reward models learn to rank the answers rejection sampling and PPO actually see.
/// With <c>--safety</c> the safety prompts are annotated instead, safety first (<see cref="Annotation"/>), for the Safety RM.
/// </summary>
internal static class DataAnnotateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "The chat model whose answers are compared", Required = true };
        var world = new Option<string>("--world") { Description = "The world folder (`data synth --out`): its lexicon feeds the gold judge", Required = true };
        var safety = new Option<bool>("--safety") { Description = "Annotate the safety prompts (harmful and borderline), graded safety first, for `reward-model --safety`; without it the helpful ones" };
        var tasks = new Option<string[]>("--tasks") { Description = "Task files: prompts.jsonl or preference lines (default: the world's train/prompts.jsonl and train/preferences_helpfulness.jsonl, or train/preferences_safety.jsonl with --safety); repeated prompts are asked once", AllowMultipleArgumentsPerToken = true };
        var k = new Option<int>("--k") { Description = "Answers sampled per prompt; every two of different grades make a pair", DefaultValueFactory = _ => 4 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => 1.0f };
        var limit = new Option<int>("--limit") { Description = "At most this many prompts; 0 = all" };
        var output = new Option<string>("--out", "-o") { Description = "The preference jsonl to write (the world's format: `reward-model --helpfulness`, or `--safety`, reads it)", Required = true };
        var command = new Command("annotate", "Preference pairs of a model's own sampled answers, graded by the world's gold judge (Llama 2 §3.2.1)")
        {
            model, world, safety, tasks, k, temperature, limit, output,
        };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            int samples = parse.GetValue(k);
            if (samples < 2)
            {
                throw new CliException($"--k must be at least 2 (a pair needs two answers), got {samples}");
            }

            float temp = parse.GetValue(temperature);
            if (!(temp >= 0))
            {
                throw new CliException($"--temperature must be 0 or more, got {temp.ToString(CultureInfo.InvariantCulture)}");
            }

            var dir = parse.GetRequiredValue(world);
            bool isSafety = parse.GetValue(safety);
            var files = parse.GetValue(tasks) is { Length: > 0 } t ? t
                : [Path.Combine(dir, "train", "prompts.jsonl"), Path.Combine(dir, "train", isSafety ? "preferences_safety.jsonl" : "preferences_helpfulness.jsonl")];
            var chosen = files.SelectMany(WorldFiles.ReadTasksOrPairs).Where(x => x.IsSafety == isSafety)
                .DistinctBy(x => JsonSerializer.Serialize(x.Messages, WorldFiles.JsonOptions))
                .Take(parse.GetValue(limit) is > 0 and var n ? n : int.MaxValue).ToList();
            if (chosen.Count == 0)
            {
                throw new CliException($"no {(isSafety ? "safety" : "helpful")} task in {string.Join(", ", files)}");
            }

            var judge = new GoldJudge(WorldFiles.ReadLexicon(Path.Combine(dir, "lexicon.json")));
            Console.Error.WriteLine($"sampling {samples} answers for each of {chosen.Count} prompts at temperature {temp}");
            IReadOnlyList<IReadOnlyList<string>> answers;
            using (var file = ModelFile.Open(parse.GetRequiredValue(model)))
            using (var generator = new BatchGenerator(file, new BatchGeneratorOptions { Slots = 8, QueueLimit = int.MaxValue }))
            {
                answers = WorldEvaluation.Samples(generator, [.. chosen.Select(x => x.Messages)], samples, temp);
            }

            var pairs = chosen.SelectMany((x, i) => Annotation.Compare(judge, x, answers[i], $"annotated-{i}")).ToList();
            var path = parse.GetRequiredValue(output);
            WorldFiles.WritePreferences(path, pairs);
            foreach (var family in chosen.Select((x, i) => (Task: x, Answers: answers[i])).GroupBy(x => x.Task.Category, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                double right = family.Average(x => x.Answers.Average(a => judge.Helpfulness(x.Task, a).IsCorrect ? 1.0 : 0));
                double unsafeShare = family.Average(x => x.Answers.Average(a => judge.Safety(x.Task, a).IsSafe ? 0 : 1.0));
                int familyPairs = pairs.Count(p => p.Category == family.Key);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{family.Key}\t{family.Count()} prompts\t{right * 100:F1}% of answers right{(isSafety ? $"\t{unsafeShare * 100:F1}% violations" : "")}\t{familyPairs} pairs"));
            }

            foreach (var rating in pairs.GroupBy(p => p.Rating).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                Console.WriteLine($"{rating.Key}\t{rating.Count()} pairs");
            }

            Console.WriteLine($"wrote {pairs.Count} pairs of {chosen.Count} prompts to {path}");
            return 0;
        }));
        return command;
    }
}
