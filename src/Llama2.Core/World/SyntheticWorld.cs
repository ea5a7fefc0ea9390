using Llama2.Core.Chat;

namespace Llama2.Core.World;

/// <summary>A supervised fine-tuning dialog (ends with the assistant's answer).</summary>
public sealed record SftExample(string Id, TaskFamily Family, string Category, IReadOnlyList<ChatMessage> Messages);

/// <summary>
/// A preference pair: two answers to <see cref="Messages"/> (which ends with the user's message), the better one
/// <see cref="Chosen"/>, rated on the paper's four-level scale. Safety pairs also carry the paper's safety label.
/// </summary>
/// <param name="Id">The task's id.</param>
/// <param name="Split">Training or held-out (test) entities.</param>
/// <param name="Category">The task family or harm category.</param>
/// <param name="IsSafety">A safety pair (adversarial or borderline prompt).</param>
/// <param name="Messages">The prompt: the dialog so far, ending with the user's message.</param>
/// <param name="Chosen">The better answer.</param>
/// <param name="Rejected">The worse answer.</param>
/// <param name="Rating">One of <see cref="PreferenceRating"/>'s four ratings.</param>
/// <param name="ChosenQuality">The chosen answer's helpfulness level.</param>
/// <param name="RejectedQuality">The rejected answer's helpfulness level.</param>
/// <param name="SafetyLabel">One of <see cref="World.SafetyLabel"/>'s labels (safety pairs only).</param>
/// <param name="Task">The prompt with its judge data, so the pair can be re-judged.</param>
public sealed record PreferencePair(
    string Id,
    WorldSplit Split,
    string Category,
    bool IsSafety,
    IReadOnlyList<ChatMessage> Messages,
    string Chosen,
    string Rejected,
    string Rating,
    AnswerQuality ChosenQuality,
    AnswerQuality RejectedQuality,
    string? SafetyLabel,
    WorldTask Task);

/// <summary>
/// The built-in world with every dataset of the recipe. Split policy: the pretraining corpus knows every entity
/// (encyclopedia entries about held-out entities too, so held-out fact questions are answerable, as a pretrained model
/// knows facts); every prompt-shaped instance — SFT dialogs, preference pairs, RLHF prompts, GAtt dialogs, the corpus's
/// word games, dialogues, stories and arithmetic lines — uses training entities (and training operand pairs and
/// words) only, while evaluation prompts, preference test sets and GAtt tests use held-out ones. So held-out prompts
/// share no entity, no word and no template instance with any training prompt. The string tasks' words are new words
/// made of the names' syllables, split by their letters (<see cref="HelpfulTasks.IsHeldOutWord"/>).
/// </summary>
public sealed record SyntheticWorld(
    WorldOptions Options,
    WorldEntities Entities,
    WorldLexicon Lexicon,
    IReadOnlyList<string> PretrainTrain,
    IReadOnlyList<string> PretrainValidation,
    IReadOnlyList<SftExample> Sft,
    IReadOnlyList<PreferencePair> HelpfulnessTrain,
    IReadOnlyList<PreferencePair> HelpfulnessTest,
    IReadOnlyList<PreferencePair> SafetyTrain,
    IReadOnlyList<PreferencePair> SafetyTest,
    IReadOnlyList<WorldTask> RlhfPrompts,
    IReadOnlyList<WorldTask> EvalPrompts,
    IReadOnlyList<GattDialogue> GattTrain,
    IReadOnlyList<GattDialogue> GattTest,
    IReadOnlyList<SafetyPreprompt> Preprompts)
{
    private static readonly string[] HelpfulSystems =
    [
        "You are a helpful assistant.", "You are a friendly assistant. Answer plainly and correctly.", "Answer the user's questions about the world.",
    ];

    /// <summary>A judge for this world.</summary>
    public GoldJudge Judge() => new(Lexicon);

    /// <summary>Generates the whole world from <paramref name="options"/>; the same options always give the same world.</summary>
    public static SyntheticWorld Generate(WorldOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var entities = WorldEntities.Generate(options);
        var helpful = new HelpfulTasks(entities, options.Seed);
        var generator = new Builder(options, helpful, new SafetyTasks(entities));
        var corpus = new PretrainingCorpus(entities, helpful);
        return new SyntheticWorld(
            options,
            entities,
            WorldLexicon.From(entities),
            corpus.Documents(options.CorpusChars, WorldRandom.For(options.Seed, "corpus-train")),
            corpus.Documents((int)(options.CorpusChars * options.ValidationFraction), WorldRandom.For(options.Seed, "corpus-validation")),
            generator.Sft(),
            generator.HelpfulnessPairs(WorldSplit.Train, options.HelpfulnessPairs),
            generator.HelpfulnessPairs(WorldSplit.HeldOut, options.TestPairs),
            generator.SafetyPairs(WorldSplit.Train, options.SafetyPairs),
            generator.SafetyPairs(WorldSplit.HeldOut, options.TestPairs),
            generator.RlhfPrompts(),
            generator.EvalPrompts(),
            generator.Gatt(WorldSplit.Train, options.GattDialogues),
            generator.Gatt(WorldSplit.HeldOut, options.EvalGattDialogues),
            SafetyPreprompts.All);
    }

    private sealed class Builder(WorldOptions options, HelpfulTasks helpful, SafetyTasks safety)
    {
        private readonly ulong _seed = options.Seed;

        public List<SftExample> Sft()
        {
            var random = WorldRandom.For(_seed, "sft");
            var examples = new List<SftExample>();
            for (int i = 0; i < options.SftDialogues; i++)
            {
                var id = $"sft-{i}";
                double r = random.NextDouble();
                var draft = r < 0.7 ? Helpful(WorldSplit.Train, random, id, multiTurn: random.Chance(0.15))
                    : r < 0.85 ? safety.Harmful(random.Pick(HarmCategory.All), WorldSplit.Train, random, id)
                    : safety.Borderline(WorldSplit.Train, random, id);
                var answer = random.Pick(draft.Candidates.Where(c => c.Quality == AnswerQuality.Complete && c.Safe).ToList()).Text;
                if (draft.Style == "story" && options.SftStoryComplianceShare > 0 && random.Chance(options.SftStoryComplianceShare))
                {
                    answer = random.Pick(draft.Candidates.Where(c => !c.Safe).ToList()).Text;
                }

                var messages = draft.Task.WithAnswer(answer);
                if (random.Chance(0.2) && messages[0].Role != ChatRole.System)
                {
                    messages = [new ChatMessage(ChatRole.System, random.Pick(HelpfulSystems)), .. messages];
                }

                examples.Add(new SftExample(id, draft.Task.Family, draft.Task.Category, messages));
            }

            return examples;
        }

        public List<PreferencePair> HelpfulnessPairs(WorldSplit split, int count)
        {
            var random = WorldRandom.For(_seed, $"helpfulness-{split}");
            var pairs = new List<PreferencePair>();
            for (int i = 0; i < count; i++)
            {
                var draft = Helpful(split, random, $"help-{Name(split)}-{i}", multiTurn: random.Chance(0.1));
                var c = draft.Candidates;
                (Candidate chosen, Candidate rejected) = random.Chance(0.15)
                    ? (c[0], c[1]) // two complete paraphrases: negligibly better
                    : Ordered(random.Sample(c, 2));
                if (chosen.Quality == rejected.Quality && chosen != c[0])
                {
                    i--;
                    continue;
                }

                pairs.Add(Pair(draft, split, chosen, rejected, chosen.Quality - rejected.Quality, null));
            }

            return pairs;
        }

        public List<PreferencePair> SafetyPairs(WorldSplit split, int count)
        {
            var random = WorldRandom.For(_seed, $"safety-{split}");
            var pairs = new List<PreferencePair>();
            for (int i = 0; i < count; i++)
            {
                var id = $"safety-{Name(split)}-{i}";
                if (random.Chance(0.3))
                {
                    var borderline = safety.Borderline(split, random, id);
                    var (chosen, rejected) = random.Chance(0.15)
                        ? (borderline.Candidates[0], borderline.Candidates[1])
                        : Ordered(random.Sample(borderline.Candidates.Take(4).ToList(), 2));
                    pairs.Add(Pair(borderline, split, chosen, rejected, chosen.Quality - rejected.Quality, SafetyLabel.BothSafe));
                    continue;
                }

                // harmful: safety scores safe-complete 4, safe-curt 3, unsafe-hedged 1, unsafe-full 0
                var draft = safety.Harmful(random.Pick(HarmCategory.All), split, random, id);
                int[] score = [4, 4, 3, 1, 0];
                double kind = random.NextDouble();
                var (a, b) = kind < 0.6 ? (random.Next(3), random.Next(3, 5))
                    : kind < 0.85 ? (random.Chance(0.5) ? (0, 1) : (random.Next(2), 2))
                    : (3, 4);
                var label = kind < 0.6 ? SafetyLabel.ChosenSafeRejectedUnsafe : kind < 0.85 ? SafetyLabel.BothSafe : SafetyLabel.BothUnsafe;
                pairs.Add(Pair(draft, split, draft.Candidates[a], draft.Candidates[b], score[a] - score[b], label));
            }

            return pairs;
        }

        public List<WorldTask> RlhfPrompts()
        {
            var random = WorldRandom.For(_seed, "rlhf-prompts");
            return [.. Enumerable.Range(0, options.RlhfPrompts).Select(i =>
            {
                double r = random.NextDouble();
                var id = $"rlhf-{i}";
                return (r < 0.7 ? Helpful(WorldSplit.Train, random, id, multiTurn: random.Chance(0.1))
                    : r < 0.9 ? safety.Harmful(random.Pick(HarmCategory.All), WorldSplit.Train, random, id)
                    : safety.Borderline(WorldSplit.Train, random, id)).Task;
            })];
        }

        public List<WorldTask> EvalPrompts()
        {
            var random = WorldRandom.For(_seed, "eval-prompts");
            var tasks = new List<WorldTask>();
            for (int i = 0; i < options.EvalHelpfulPrompts; i++)
            {
                var family = HelpfulTasks.Families[i % HelpfulTasks.Families.Length];
                tasks.Add(helpful.Draft(family, WorldSplit.HeldOut, random, $"eval-{HelpfulTasks.CategoryOf(family)}-{i}").Task);
            }

            for (int i = 0; i < options.EvalSafetyPrompts; i++)
            {
                var category = HarmCategory.All[i % HarmCategory.All.Count];
                tasks.Add(safety.Harmful(category, WorldSplit.HeldOut, random, $"eval-{category}-{i}").Task);
            }

            for (int i = 0; i < options.EvalSafetyPrompts; i++)
            {
                tasks.Add(safety.Borderline(WorldSplit.HeldOut, random, $"eval-borderline-{i}").Task);
            }

            return tasks;
        }

        /// <summary>Training dialogs have 2–6 user turns; held-out ones all have <see cref="WorldOptions.GattMaxTurns"/>.</summary>
        public List<GattDialogue> Gatt(WorldSplit split, int count)
        {
            var random = WorldRandom.For(_seed, $"gatt-{split}");
            return [.. Enumerable.Range(0, count).Select(i => GhostAttention.Dialogue(helpful, split,
                split == WorldSplit.Train ? random.Next(2, Math.Min(6, options.GattMaxTurns) + 1) : options.GattMaxTurns, random, $"gatt-{Name(split)}-{i}"))];
        }

        /// <summary>A helpful task; multi-turn puts one or two earlier exchanges (with complete answers) before it.</summary>
        private TaskDraft Helpful(WorldSplit split, WorldRandom random, string id, bool multiTurn)
        {
            var draft = helpful.Draft(random.Pick(HelpfulTasks.Families), split, random, id);
            if (!multiTurn)
            {
                return draft;
            }

            var history = new List<ChatMessage>();
            for (int t = 0, n = random.Next(1, 3); t < n; t++)
            {
                var earlier = helpful.Draft(random.Pick(HelpfulTasks.Families), split, random, id).Task;
                history.AddRange(earlier.WithAnswer(earlier.Reference));
            }

            return draft with { Task = draft.Task with { Messages = [.. history, .. draft.Task.Messages] } };
        }

        private static (Candidate, Candidate) Ordered(List<Candidate> two) =>
            two[0].Quality >= two[1].Quality ? (two[0], two[1]) : (two[1], two[0]);

        private static PreferencePair Pair(TaskDraft draft, WorldSplit split, Candidate chosen, Candidate rejected, int gap, string? label) =>
            new(draft.Task.Id, split, draft.Task.Category, draft.Task.IsSafety, draft.Task.Messages, chosen.Text, rejected.Text,
                PreferenceRating.FromGap(gap), chosen.Quality, rejected.Quality, label, draft.Task);

        private static string Name(WorldSplit split) => split == WorldSplit.Train ? "train" : "heldout";
    }
}
