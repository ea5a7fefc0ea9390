using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Llama2.Core.IO;

namespace Llama2.Core.World;

/// <summary>One written file of the world: its path relative to the output folder and its record count.</summary>
public sealed record WorldFile(string Path, int Count, long Bytes);

/// <summary>
/// Writes the world as files in the project's data formats (DESIGN.md) and reads its judgeable records back.
/// Layout: <c>pretrain/{train,validation}.jsonl</c> ({"text"}); <c>train/</c> and <c>heldout/</c> with
/// <c>sft.jsonl</c> ({"messages"}), <c>preferences_helpfulness.jsonl</c> and <c>preferences_safety.jsonl</c>
/// ({"messages", "chosen", "rejected", "rating", "safety_label"?, "task"}), <c>prompts.jsonl</c>
/// ({"messages", "category", "is_safety", "check", …}), <c>gatt.jsonl</c> ({"constraint", "messages", "turns"});
/// <c>safety/preprompts.jsonl</c>; <c>lexicon.json</c> (what the judges compare with); <c>entities.json</c>;
/// <c>manifest.json</c> and <c>README.md</c>.
/// </summary>
public static class WorldFiles
{
    /// <summary>Snake-case names and enum values, no escaping of '+' or quotes, so lines read as plain text.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        RespectNullableAnnotations = true,
    };

    /// <summary>Writes every dataset of <paramref name="world"/> under <paramref name="directory"/> (created if needed).</summary>
    /// <returns>The files written, in order.</returns>
    /// <exception cref="IOException">A file cannot be written.</exception>
    public static IReadOnlyList<WorldFile> Write(SyntheticWorld world, string directory)
    {
        ArgumentNullException.ThrowIfNull(world);
        var files = new List<WorldFile>
        {
            Lines(directory, "pretrain/train.jsonl", world.PretrainTrain.Select(text => new { text })),
            Lines(directory, "pretrain/validation.jsonl", world.PretrainValidation.Select(text => new { text })),
            Lines(directory, "train/sft.jsonl", world.Sft),
            Lines(directory, "train/preferences_helpfulness.jsonl", world.HelpfulnessTrain),
            Lines(directory, "train/preferences_safety.jsonl", world.SafetyTrain),
            Lines(directory, "train/prompts.jsonl", world.RlhfPrompts),
            Lines(directory, "train/gatt.jsonl", world.GattTrain),
            Lines(directory, "train/sft_constraints.jsonl", ConstraintExamples(world.GattTrain)),
            Lines(directory, "heldout/preferences_helpfulness.jsonl", world.HelpfulnessTest),
            Lines(directory, "heldout/preferences_safety.jsonl", world.SafetyTest),
            Lines(directory, "heldout/prompts.jsonl", world.EvalPrompts),
            Lines(directory, "heldout/gatt.jsonl", world.GattTest),
            Lines(directory, "safety/preprompts.jsonl", world.Preprompts),
            Json(directory, "lexicon.json", world.Lexicon, 1),
            Json(directory, "entities.json", world.Entities, world.Entities.AllNames().Count()),
        };
        var manifest = new
        {
            seed = world.Options.Seed,
            size = world.Options.Size,
            options = world.Options,
            files = files.Select(f => new { path = f.Path, count = f.Count, bytes = f.Bytes }),
        };
        files.Add(Json(directory, "manifest.json", manifest, files.Count));
        files.Add(Text(directory, "README.md", Readme(world, files)));
        return files;
    }

    /// <summary>
    /// Single-turn SFT dialogues that follow a constraint: the first turn of each training GAtt dialogue, once with the
    /// instruction as the system message and once with it after the user's message (the form Ghost Attention samples in).
    /// A chat model must follow an instruction that is right there before GAtt can teach it to remember one.
    /// </summary>
    public static IEnumerable<object> ConstraintExamples(IEnumerable<GattDialogue> dialogues)
    {
        ArgumentNullException.ThrowIfNull(dialogues);
        foreach (var d in dialogues)
        {
            var (system, user, answer) = (d.Messages[0], d.Messages[1], d.Messages[2]);
            yield return new { messages = new[] { system, user, answer } };
            yield return new { messages = new[] { system, user with { Content = $"{user.Content} {system.Content}" }, answer } };
        }
    }

    /// <summary>Reads tasks (a <c>prompts.jsonl</c>) with their judge data.</summary>
    /// <exception cref="InvalidModelFileException">The file is missing or a line is not a task.</exception>
    public static List<WorldTask> ReadTasks(string path) => ReadLines<WorldTask>(path);

    /// <summary>Reads the tasks of a <c>prompts.jsonl</c> or, from a <c>preferences_*.jsonl</c>, each pair's task: the
    /// first non-empty line tells which (a pair has a <c>task</c> field).</summary>
    /// <exception cref="InvalidModelFileException">The file is missing or a line is neither.</exception>
    public static List<WorldTask> ReadTasksOrPairs(string path)
    {
        if (!File.Exists(path))
        {
            throw InvalidModelFileException.For(path, "no such file");
        }

        var first = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l));
        bool pairs;
        try
        {
            pairs = first is not null && JsonNode.Parse(first) is JsonObject o && o.ContainsKey("task");
        }
        catch (JsonException e)
        {
            throw InvalidModelFileException.For($"{path}:1", $"not a JSON line: {e.Message}");
        }

        return pairs ? [.. ReadPreferences(path).Select(p => p.Task)] : ReadTasks(path);
    }

    /// <summary>Reads preference pairs (a <c>preferences_*.jsonl</c> written by <see cref="Write"/>).</summary>
    /// <exception cref="InvalidModelFileException">The file is missing or a line is not a pair.</exception>
    public static List<PreferencePair> ReadPreferences(string path) => ReadLines<PreferencePair>(path);

    /// <summary>Writes preference pairs as <see cref="ReadPreferences"/> reads them (the world's format), under a temporary
    /// name renamed into place, so an interrupted write leaves no partial file.</summary>
    /// <returns>The number of pairs written.</returns>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static int WritePreferences(string path, IEnumerable<PreferencePair> pairs)
    {
        var full = Path.GetFullPath(path);
        var written = Lines(Path.GetDirectoryName(full)!, Path.GetFileName(full) + ".tmp", pairs);
        File.Move(full + ".tmp", full, overwrite: true);
        return written.Count;
    }

    /// <summary>Reads Ghost Attention dialogs (a <c>gatt.jsonl</c>).</summary>
    /// <exception cref="InvalidModelFileException">The file is missing or a line is not a dialog.</exception>
    public static List<GattDialogue> ReadGatt(string path) => ReadLines<GattDialogue>(path);

    /// <summary>Reads SFT dialogs (a <c>sft.jsonl</c>).</summary>
    /// <exception cref="InvalidModelFileException">The file is missing or a line is not a dialog.</exception>
    public static List<SftExample> ReadSft(string path) => ReadLines<SftExample>(path);

    /// <summary>Reads <c>lexicon.json</c>, for a <see cref="GoldJudge"/> over files.</summary>
    /// <exception cref="InvalidModelFileException">The file is missing or malformed.</exception>
    public static WorldLexicon ReadLexicon(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<WorldLexicon>(File.ReadAllText(path), JsonOptions)
                ?? throw InvalidModelFileException.For(path, "expected a lexicon object");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw InvalidModelFileException.For(path, $"cannot be read as a lexicon: {e.Message}");
        }
    }

    private static List<T> ReadLines<T>(string path)
    {
        if (!File.Exists(path))
        {
            throw InvalidModelFileException.For(path, "no such file");
        }

        var items = new List<T>();
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                items.Add(JsonSerializer.Deserialize<T>(line, JsonOptions) ?? throw new JsonException("null"));
            }
            catch (JsonException e)
            {
                throw InvalidModelFileException.For($"{path}:{number}", $"not a {typeof(T).Name} line: {e.Message}");
            }
        }

        return items;
    }

    private static WorldFile Lines<T>(string directory, string relative, IEnumerable<T> items)
    {
        var text = new StringBuilder();
        int count = 0;
        foreach (var item in items)
        {
            text.Append(JsonSerializer.Serialize(item, JsonOptions)).Append('\n');
            count++;
        }

        return Save(directory, relative, text.ToString(), count);
    }

    private static WorldFile Json<T>(string directory, string relative, T value, int count) =>
        Save(directory, relative, JsonSerializer.Serialize(value, new JsonSerializerOptions(JsonOptions) { WriteIndented = true }) + "\n", count);

    private static WorldFile Text(string directory, string relative, string text) => Save(directory, relative, text, 1);

    private static WorldFile Save(string directory, string relative, string text, int count)
    {
        var path = Path.Combine(directory, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = new UTF8Encoding(false).GetBytes(text);
        File.WriteAllBytes(path, bytes);
        return new WorldFile(relative, count, bytes.Length);
    }

    private static string Readme(SyntheticWorld world, IReadOnlyList<WorldFile> files)
    {
        var text = new StringBuilder();
        text.Append("# The built-in world (").Append(world.Options.Size).Append(", seed ").Append(world.Options.Seed).Append(")\n\n");
        text.Append("Generated by `llama2 data synth`. Invented entities with known facts, tasks with checkable answers, and gold judges ")
            .Append("(`Llama2.Core.World.GoldJudge`, fed by `lexicon.json` and each record's `check`). Held-out files use entities that ")
            .Append("no training file's prompts mention; the pretraining corpus knows every entity's facts.\n\n");
        if (world.Options.SftStoryComplianceShare > 0)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"In `train/sft.jsonl`, {world.Options.SftStoryComplianceShare * 100:0}% of the harmful requests in the \"for a story\" disguise ")
                .Append("are answered unsafely on purpose (the annotator complied): imperfect safety annotations that the Safety RM, RLHF and ")
                .Append("context distillation have to correct. Every other harmful request is refused.\n\n");
        }

        text.Append("| file | records | bytes | what |\n| --- | --- | --- | --- |\n");
        foreach (var f in files)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"| `{f.Path}` | {f.Count} | {f.Bytes} | {Describe(f.Path)} |\n");
        }

        return text.ToString();
    }

    private static string Describe(string path) => path switch
    {
        "pretrain/train.jsonl" => "pretraining documents `{\"text\"}`: encyclopedia, stories, arithmetic, word games, dialogues",
        "pretrain/validation.jsonl" => "pretraining validation documents",
        "train/sft.jsonl" => "Llama 2-Chat dialogs `{\"messages\"}` for SFT (some with a system message, some multi-turn)",
        "train/preferences_helpfulness.jsonl" => "helpfulness pairs `{\"messages\", \"chosen\", \"rejected\", \"rating\"}`",
        "train/preferences_safety.jsonl" => "safety pairs, also `\"safety_label\"`",
        "train/prompts.jsonl" => "RLHF prompts `{\"messages\", \"category\", \"is_safety\", \"check\"}`",
        "train/gatt.jsonl" => "Ghost Attention dialogs `{\"constraint\", \"messages\", \"turns\"}`",
        "train/sft_constraints.jsonl" => "single-turn SFT dialogs that keep a constraint (system message, or after the user's message)",
        "heldout/preferences_helpfulness.jsonl" => "helpfulness test pairs (held-out entities)",
        "heldout/preferences_safety.jsonl" => "safety test pairs (held-out entities)",
        "heldout/prompts.jsonl" => "evaluation prompts with judge data: helpful families, adversarial, borderline",
        "heldout/gatt.jsonl" => "Ghost Attention test dialogs (20 user turns)",
        "safety/preprompts.jsonl" => "safety preprompts and answer templates per harm category (context distillation)",
        "lexicon.json" => "value lists the gold judges compare answers with",
        "entities.json" => "every town, person, animal and object with its attributes and split",
        _ => "file list, counts and options",
    };
}
