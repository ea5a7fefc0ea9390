using Llama2.Core.Chat;
using Llama2.Core.Sampling;
using Llama2.Core.World;
using Llama2.Inference;

namespace Llama2.Evaluation;

/// <summary>Correct answers of one task family.</summary>
public sealed record FamilyAccuracy(string Family, int Correct, int Total)
{
    public double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;
}

/// <summary>A probe of what pretraining taught: plain text the model should continue with <paramref name="Expected"/>.</summary>
/// <param name="Kind">"copy" or "fact" (<see cref="WorldEvaluation.Probes"/>).</param>
/// <param name="Prompt">The text given, ending just before the expected word.</param>
/// <param name="Expected">The word the completion should start with.</param>
/// <param name="Guessing">The chance of writing it by guessing among the words of its kind (0 where that is not counted).</param>
public sealed record Probe(string Kind, string Prompt, string Expected, double Guessing)
{
    /// <summary>True when <paramref name="completion"/>, leading spaces aside, starts with the expected word as a whole word.</summary>
    public bool IsHitBy(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var text = completion.TrimStart();
        return text.StartsWith(Expected, StringComparison.Ordinal) && (text.Length == Expected.Length || !char.IsLetterOrDigit(text[Expected.Length]));
    }
}

/// <summary>
/// Scores a chat model on the built-in world with its gold judges: task accuracy by family (SFT, §3.1) and
/// constraint adherence turn by turn (Ghost Attention, §3.3, Figure 28). Prompts run concurrently through a
/// <see cref="BatchGenerator"/>, decoded as the paper evaluates (temperature 0.1, top-p 0.9) with a fixed seed.
/// </summary>
public static class WorldEvaluation
{
    /// <summary>The paper's decoding for evaluation (§4: temperature 0.1, top-p 0.9), seeded for repeatability.</summary>
    public static GenerationOptions Decoding(int maxTokens = 96) =>
        new() { MaxTokens = maxTokens, Sampling = new SamplingOptions { Temperature = 0.1f, TopP = 0.9f, Seed = 1 } };

    /// <summary>Answers every prompt (a dialogue ending with the user), concurrently; a prompt that does not fit gets an empty answer.</summary>
    public static IReadOnlyList<string> Answer(BatchGenerator generator, IReadOnlyList<IReadOnlyList<ChatMessage>> prompts, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(prompts);
        var running = prompts.Select(dialog =>
        {
            var (history, user, system) = Split(dialog);
            try
            {
                int room = Math.Min(options.MaxTokens, generator.ContextLength / 4);
                var (ids, _) = ChatPrompt.Fit(generator.Tokenizer, system, history, user, generator.ContextLength, room);
                return generator.CompleteAsync(ids, options with { MaxTokens = Math.Min(options.MaxTokens, generator.ContextLength - ids.Length) });
            }
            catch (ContextLengthExceededException)
            {
                return Task.FromResult(new GenerationResult([], "", FinishReason.ContextFull, 0));
            }
        }).ToList();
        return [.. running.Select(r => r.GetAwaiter().GetResult().Text.Trim())];
    }

    /// <summary>K answers per prompt at <paramref name="temperature"/> (top-p 1), sample j seeded j + 1; answers[i] are prompt i's.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Samples(BatchGenerator generator, IReadOnlyList<IReadOnlyList<ChatMessage>> prompts, int k, float temperature, int maxTokens = 96)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var bySample = Enumerable.Range(0, k).Select(j => Answer(generator, prompts,
            new GenerationOptions { MaxTokens = maxTokens, Sampling = new SamplingOptions { Temperature = temperature, TopP = 1, Seed = (ulong)j + 1 } })).ToList();
        return [.. prompts.Select((_, i) => (IReadOnlyList<string>)[.. bySample.Select(answers => answers[i])])];
    }

    /// <summary>Task accuracy by family: the share of answers the gold helpfulness judge finds correct.</summary>
    public static IReadOnlyList<FamilyAccuracy> TaskAccuracy(BatchGenerator generator, GoldJudge judge, IReadOnlyList<WorldTask> tasks, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(tasks);
        return TaskAccuracy(judge, tasks, Answer(generator, [.. tasks.Select(t => t.Messages)], options ?? Decoding()));
    }

    /// <summary>Task accuracy by family of given answers (one per task).</summary>
    public static IReadOnlyList<FamilyAccuracy> TaskAccuracy(GoldJudge judge, IReadOnlyList<WorldTask> tasks, IReadOnlyList<string> answers)
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentNullException.ThrowIfNull(tasks);
        return [.. tasks.Zip(answers)
            .GroupBy(p => p.First.Category, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new FamilyAccuracy(g.Key, g.Count(p => judge.Helpfulness(p.First, p.Second).IsCorrect), g.Count()))];
    }

    /// <summary>
    /// Constraint adherence at turns 1..<paramref name="turns"/>: each dialogue's system message is its constraint, the user
    /// turns are the dialogue's, the assistant turns are the model's own answers (oldest exchanges dropped when the
    /// window fills, never the system message). Returns, per turn, the share of dialogues whose answer keeps the constraint.
    /// </summary>
    public static double[] ConstraintAdherence(BatchGenerator generator, IReadOnlyList<GattDialogue> dialogues, int turns = 20, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dialogues);
        var histories = dialogues.Select(_ => new List<ChatMessage>()).ToList();
        var kept = new double[turns];
        for (int turn = 0; turn < turns; turn++)
        {
            var active = Enumerable.Range(0, dialogues.Count).Where(d => dialogues[d].Turns.Count > turn).ToList();
            if (active.Count == 0)
            {
                return kept[..turn];
            }

            var prompts = active.Select(d => (IReadOnlyList<ChatMessage>)
                [new ChatMessage(ChatRole.System, dialogues[d].Constraint.Instruction), .. histories[d], new ChatMessage(ChatRole.User, dialogues[d].Turns[turn].Prompt)]).ToList();
            var answers = Answer(generator, prompts, options ?? Decoding());
            int keeping = 0;
            for (int i = 0; i < active.Count; i++)
            {
                int d = active[i];
                keeping += dialogues[d].Constraint.IsKeptBy(answers[i]) ? 1 : 0;
                histories[d].Add(new ChatMessage(ChatRole.User, dialogues[d].Turns[turn].Prompt));
                histories[d].Add(new ChatMessage(ChatRole.Assistant, answers[i]));
            }

            kept[turn] = (double)keeping / active.Count;
        }

        return kept;
    }

    /// <summary>
    /// Base-model probes from held-out tasks, as plain text (no chat format) cut just before a word the model should write:
    /// <list type="bullet">
    /// <item>"copy": a reverse, capitals or counting question in the corpus's dialogue form ("Ben: …\nCleo: …"), cut where
    /// the reference answer repeats the prompt's new word. A model that cannot copy a word it has just read cannot
    /// answer these tasks.</item>
    /// <item>"fact": a fact question's reference answer cut before the fact ("Nelu lives in"). The pretraining text states
    /// every entity's facts, held-out ones too. Guessing is one over the size of the fact's vocabulary (towns, colours, …;
    /// 0 for numbers).</item>
    /// </list>
    /// </summary>
    public static IReadOnlyList<Probe> Probes(IReadOnlyList<WorldTask> tasks, WorldLexicon lexicon)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(lexicon);
        var probes = new List<Probe>();
        foreach (var task in tasks)
        {
            var check = task.Check;
            if (task.Family is TaskFamily.Reverse or TaskFamily.Uppercase or TaskFamily.CountLetters && check.Operands.Count > 0
                && task.Reference.IndexOf($"'{check.Operands[0]}'", StringComparison.Ordinal) is >= 0 and var quote)
            {
                probes.Add(new Probe("copy", $"Ben: {task.Messages[^1].Content}\nCleo: {task.Reference[..(quote + 1)]}", check.Operands[0], 0));
            }
            else if (task.Family == TaskFamily.Fact && check.Answers.Count > 0 && check.Domains.Count > 0
                && task.Reference.IndexOf(" " + check.Answers[0], StringComparison.Ordinal) is > 0 and var at)
            {
                int choices = lexicon.Values(check.Domains[0]).Count;
                probes.Add(new Probe("fact", task.Reference[..at], check.Answers[0], choices > 0 ? 1.0 / choices : 0));
            }
        }

        return probes;
    }

    /// <summary>Greedy completions of every probe (a dozen tokens after BOS + the probe's text); true where the model wrote the expected word.</summary>
    public static IReadOnlyList<bool> RunProbes(BatchGenerator generator, IReadOnlyList<Probe> probes)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(probes);
        var greedy = new GenerationOptions { MaxTokens = 12, Sampling = new SamplingOptions { Temperature = 0 } };
        var running = probes.Select(p => generator.CompleteAsync(generator.Tokenizer.Encode(p.Prompt, addBos: true), greedy)).ToList();
        return [.. running.Select((r, i) => probes[i].IsHitBy(r.GetAwaiter().GetResult().Text))];
    }

    /// <summary>
    /// Win rate of A over B with ties removed (Llama 2 Fig. 1 and 12): <c>wins / (wins + losses)</c> over paired scores
    /// (higher is better); NaN when every pair ties. Also returns the counts.
    /// </summary>
    public static (double WinRate, int Wins, int Ties, int Losses) WinRate(IEnumerable<(double A, double B)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        int wins = 0, ties = 0, losses = 0;
        foreach (var (a, b) in pairs)
        {
            if (a > b)
            {
                wins++;
            }
            else if (a < b)
            {
                losses++;
            }
            else
            {
                ties++;
            }
        }

        return (wins + losses == 0 ? double.NaN : (double)wins / (wins + losses), wins, ties, losses);
    }

    /// <summary>A prompt dialogue as (completed exchanges, last user message, system).</summary>
    private static (List<ChatMessage> History, string User, string? System) Split(IReadOnlyList<ChatMessage> dialog)
    {
        string? system = dialog.Count > 0 && dialog[0].Role == ChatRole.System ? dialog[0].Content : null;
        var rest = dialog.Skip(system is null ? 0 : 1).ToList();
        return (rest[..^1], rest[^1].Content, system);
    }
}
