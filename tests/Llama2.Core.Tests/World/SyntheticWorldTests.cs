using Llama2.Core.Chat;
using Llama2.Core.World;

namespace Llama2.Core.Tests.World;

/// <summary>The generated world: determinism, split hygiene, judge-consistent labels, valid dialogs, round trips.</summary>
public sealed class SyntheticWorldTests
{
    /// <summary>The tiny preset with a short corpus, so each test generates in well under a second.</summary>
    private static readonly WorldOptions Quick = WorldOptions.Tiny with { Seed = 7, CorpusChars = 60_000 };

    private static readonly Lazy<SyntheticWorld> World = new(() => SyntheticWorld.Generate(Quick));

    [Fact]
    public void Same_seed_writes_identical_bytes_and_another_seed_writes_different_ones()
    {
        var options = Quick with { SftDialogues = 200, HelpfulnessPairs = 200, SafetyPairs = 100, TestPairs = 50, GattDialogues = 20 };
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        using var other = new TempDirectory();
        var files = WorldFiles.Write(SyntheticWorld.Generate(options), first.Path);
        WorldFiles.Write(SyntheticWorld.Generate(options), second.Path);
        WorldFiles.Write(SyntheticWorld.Generate(options with { Seed = 8 }), other.Path);
        foreach (var file in files)
        {
            Assert.Equal(File.ReadAllBytes(first.File(file.Path)), File.ReadAllBytes(second.File(file.Path)));
        }

        Assert.NotEqual(File.ReadAllBytes(first.File("train/sft.jsonl")), File.ReadAllBytes(other.File("train/sft.jsonl")));
        Assert.NotEqual(File.ReadAllBytes(first.File("pretrain/train.jsonl")), File.ReadAllBytes(other.File("pretrain/train.jsonl")));
    }

    [Fact]
    public void Held_out_prompts_share_no_entity_no_word_and_no_prompt_instance_with_training_data()
    {
        var world = World.Value;
        var heldOutNames = world.Entities.AllNames().Where(n => n.Split == WorldSplit.HeldOut).Select(n => n.Name.ToLowerInvariant()).ToHashSet();
        Assert.NotEmpty(heldOutNames);

        // The string tasks' words (reverse, capitals, counting, sorting) of held-out prompts: never seen in training, pretraining text included.
        var heldOutWords = world.EvalPrompts.Concat(world.HelpfulnessTest.Select(p => p.Task))
            .Where(t => t.Family is TaskFamily.Reverse or TaskFamily.Uppercase or TaskFamily.CountLetters or TaskFamily.Sort)
            .SelectMany(t => t.Check.Operands).Where(w => w.Length > 1).ToHashSet();
        Assert.True(heldOutWords.Count > 20, $"only {heldOutWords.Count} held-out words");
        var corpusWords = world.PretrainTrain.SelectMany(GoldJudge.Tokens).Select(t => t.ToLowerInvariant()).ToHashSet();
        Assert.DoesNotContain(heldOutWords, corpusWords.Contains);
        heldOutNames.UnionWith(heldOutWords);

        var training = world.Sft.Select(s => s.Messages)
            .Concat(world.HelpfulnessTrain.Concat(world.SafetyTrain).Select(p => p.WithAnswers()))
            .Concat(world.RlhfPrompts.Select(t => t.Messages))
            .Concat(world.GattTrain.Select(g => g.Messages))
            .ToList();
        var trainingTexts = training.SelectMany(m => m).Select(m => m.Content).ToList();
        var leaks = trainingTexts.Where(text => GoldJudge.Tokens(text).Any(t => heldOutNames.Contains(t.ToLowerInvariant()))).ToList();
        Assert.True(leaks.Count == 0, "held-out names in training data: " + string.Join(" | ", leaks.Take(3)));

        var trainingPrompts = training.SelectMany(m => m).Where(m => m.Role == ChatRole.User).Select(m => m.Content).ToHashSet();
        var heldOut = world.EvalPrompts.Select(t => t.Messages)
            .Concat(world.HelpfulnessTest.Concat(world.SafetyTest).Select(p => p.Messages))
            .Concat(world.GattTest.Select(g => g.Messages))
            .SelectMany(m => m).Where(m => m.Role == ChatRole.User).Select(m => m.Content).ToList();
        Assert.NotEmpty(heldOut);
        Assert.DoesNotContain(heldOut, trainingPrompts.Contains);
        Assert.All(world.EvalPrompts.Concat(world.HelpfulnessTest.Select(p => p.Task)), t => Assert.Equal(WorldSplit.HeldOut, t.Split));
    }

    [Fact]
    public void Pretraining_text_knows_held_out_facts_but_not_held_out_arithmetic()
    {
        var world = World.Value;
        var corpus = string.Join('\n', world.PretrainTrain);
        Assert.Contains(world.Entities.People, p => p.Split == WorldSplit.HeldOut && corpus.Contains(p.SecretCode, StringComparison.Ordinal));
        var lines = corpus.Split('\n').ToHashSet();
        var heldOutSums = world.EvalPrompts.Where(t => t.Family == TaskFamily.Arithmetic).Select(t => t.Reference.Split(". ")[0]).ToList();
        Assert.NotEmpty(heldOutSums);
        Assert.DoesNotContain(heldOutSums, lines.Contains);
        Assert.Contains(lines, l => l.Contains(" = ", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_chosen_answer_is_judged_at_least_as_good_as_its_rejected_answer()
    {
        var world = World.Value;
        var judge = world.Judge();
        foreach (var pair in world.HelpfulnessTrain.Concat(world.HelpfulnessTest))
        {
            var chosen = judge.Helpfulness(pair.Task, pair.Chosen).Quality;
            var rejected = judge.Helpfulness(pair.Task, pair.Rejected).Quality;
            Assert.True(chosen >= rejected, $"{pair.Id}: '{pair.Chosen}' ({chosen}) < '{pair.Rejected}' ({rejected})");
            Assert.True(pair.ChosenQuality == chosen && pair.RejectedQuality == rejected,
                $"{pair.Id}: '{pair.Chosen}' {chosen}, '{pair.Rejected}' {rejected}, labelled {pair.ChosenQuality}, {pair.RejectedQuality}");
        }
    }

    [Fact]
    public void Safety_pairs_agree_with_the_safety_judge_and_their_labels()
    {
        var world = World.Value;
        var judge = world.Judge();
        foreach (var pair in world.SafetyTrain.Concat(world.SafetyTest))
        {
            bool chosenSafe = judge.Safety(pair.Task, pair.Chosen).IsSafe, rejectedSafe = judge.Safety(pair.Task, pair.Rejected).IsSafe;
            var expected = (chosenSafe, rejectedSafe) switch
            {
                (true, false) => SafetyLabel.ChosenSafeRejectedUnsafe,
                (true, true) => SafetyLabel.BothSafe,
                (false, false) => SafetyLabel.BothUnsafe,
                _ => "chosen unsafe, rejected safe: never generated",
            };
            Assert.True(expected == pair.SafetyLabel, $"{pair.Id}: '{pair.Chosen}' / '{pair.Rejected}' labelled {pair.SafetyLabel}");
            if (pair.Task.Family == TaskFamily.Borderline)
            {
                Assert.False(judge.Safety(pair.Task, pair.Chosen).FalseRefusal, pair.Chosen);
                Assert.True(judge.Helpfulness(pair.Task, pair.Chosen).Quality >= judge.Helpfulness(pair.Task, pair.Rejected).Quality);
            }
        }

        Assert.Contains(world.SafetyTrain, p => p.SafetyLabel == SafetyLabel.BothUnsafe);
        Assert.Contains(world.SafetyTrain, p => p.SafetyLabel == SafetyLabel.ChosenSafeRejectedUnsafe);
    }

    [Fact]
    public void References_are_judged_correct_safe_and_not_refusals_where_harmless()
    {
        var world = World.Value;
        var judge = world.Judge();
        foreach (var task in world.EvalPrompts.Concat(world.RlhfPrompts))
        {
            Assert.True(judge.Helpfulness(task, task.Reference).Quality == AnswerQuality.Complete, $"{task.Id}: {task.Reference}");
            var safety = judge.Safety(task, task.Reference);
            Assert.False(safety.Violation, task.Reference);
            Assert.False(safety.FalseRefusal, task.Reference);
            Assert.Equal(task.Family == TaskFamily.Harmful, safety.Refused);
        }

        foreach (var example in world.Sft)
        {
            Assert.False(Llama2ChatFormat.ContainsSpecialTags(example.Messages));
        }
    }

    [Fact]
    public void Harmful_sft_dialogues_refuse_except_story_disguises_at_the_compliance_share()
    {
        static bool IsStory(SftExample e) => e.Messages.Any(m => m.Role == ChatRole.User && m.Content.Contains("story", StringComparison.OrdinalIgnoreCase));
        static bool Refuses(SftExample e) => GoldJudge.IsRefusal(e.Messages[^1].Content);

        var harmful = World.Value.Sft.Where(e => e.Family == TaskFamily.Harmful).ToList();
        var complying = harmful.Where(e => !Refuses(e)).ToList();
        Assert.All(complying, e => Assert.True(IsStory(e), $"{e.Id} complies without the story disguise"));
        int stories = harmful.Count(IsStory);
        Assert.InRange(complying.Count / (double)stories, Quick.SftStoryComplianceShare - 0.15, Quick.SftStoryComplianceShare + 0.1);

        var refusalsOnly = SyntheticWorld.Generate(Quick with { SftStoryComplianceShare = 0, SftDialogues = 400 });
        Assert.All(refusalsOnly.Sft.Where(e => e.Family == TaskFamily.Harmful), e => Assert.True(Refuses(e), e.Id));
        Assert.Equal(0, WorldOptions.Small.SftStoryComplianceShare);
    }

    [Fact]
    public void Every_gatt_answer_keeps_its_constraint_and_held_out_dialogs_have_twenty_turns()
    {
        var world = World.Value;
        var judge = world.Judge();
        foreach (var dialog in world.GattTrain.Concat(world.GattTest))
        {
            Assert.Equal(ChatRole.System, dialog.Messages[0].Role);
            Assert.Equal(dialog.Constraint.Instruction, dialog.Messages[0].Content);
            var answers = dialog.Messages.Where(m => m.Role == ChatRole.Assistant).Select(m => m.Content).ToList();
            Assert.Equal(dialog.Turns.Count, answers.Count);
            Assert.All(GoldJudge.Adherence(dialog.Constraint, answers), Assert.True);
            for (int i = 0; i < answers.Count; i++)
            {
                Assert.True(judge.Helpfulness(dialog.Turns[i], answers[i], dialog.Constraint).IsCorrect, $"{dialog.Id}: {answers[i]}");
            }
        }

        Assert.All(world.GattTest, d => Assert.Equal(20, d.Turns.Count));
        Assert.Equal(5, world.GattTrain.Select(d => d.Constraint.Kind).Distinct().Count());
    }

    [Fact]
    public void All_dialogs_are_valid_llama2_chat_dialogs()
    {
        var world = World.Value;
        var tokenizer = TestTokenizers.Tiny();
        foreach (var messages in world.Sft.Select(s => s.Messages).Concat(world.GattTrain.Select(g => g.Messages)).Take(400))
        {
            Assert.NotEmpty(Llama2ChatFormat.EncodeCompletedDialog(tokenizer, messages));
        }

        var prompts = world.RlhfPrompts.Concat(world.EvalPrompts).Select(t => t.Messages)
            .Concat(world.HelpfulnessTrain.Concat(world.SafetyTrain).Select(p => p.Messages));
        foreach (var messages in prompts.Take(400))
        {
            Assert.NotEmpty(Llama2ChatFormat.EncodeDialog(tokenizer, messages));
        }

        var everything = world.Sft.Select(s => s.Messages).Concat(world.GattTrain.Concat(world.GattTest).Select(g => g.Messages))
            .Concat(world.HelpfulnessTrain.Concat(world.SafetyTrain).Concat(world.HelpfulnessTest).Concat(world.SafetyTest).Select(p => p.WithAnswers()))
            .Concat(world.RlhfPrompts.Concat(world.EvalPrompts).Select(t => t.Messages));
        foreach (var messages in everything)
        {
            Assert.False(Llama2ChatFormat.ContainsSpecialTags(messages));
            Assert.All(Llama2ChatFormat.FoldSystem(messages).Select((m, i) => (m, i)),
                x => Assert.Equal(x.i % 2 == 0 ? ChatRole.User : ChatRole.Assistant, x.m.Role));
        }

        Assert.Contains(world.Sft, s => s.Messages[0].Role == ChatRole.System);
        Assert.Contains(world.Sft, s => s.Messages.Count(m => m.Role == ChatRole.User) > 1);
    }

    [Fact]
    public void Written_records_read_back_equal()
    {
        var world = World.Value;
        using var dir = new TempDirectory();
        WorldFiles.Write(world, dir.Path);
        string Json<T>(T value) => System.Text.Json.JsonSerializer.Serialize(value, WorldFiles.JsonOptions);

        Assert.Equal(world.EvalPrompts.Select(Json), WorldFiles.ReadTasks(dir.File("heldout/prompts.jsonl")).Select(Json));
        Assert.Equal(world.SafetyTest.Select(Json), WorldFiles.ReadPreferences(dir.File("heldout/preferences_safety.jsonl")).Select(Json));
        Assert.Equal(world.GattTest.Select(Json), WorldFiles.ReadGatt(dir.File("heldout/gatt.jsonl")).Select(Json));
        Assert.Equal(world.Sft.Select(Json), WorldFiles.ReadSft(dir.File("train/sft.jsonl")).Select(Json));

        // a judge built from the files agrees with the in-memory one
        var judge = new GoldJudge(WorldFiles.ReadLexicon(dir.File("lexicon.json")));
        var task = WorldFiles.ReadTasks(dir.File("heldout/prompts.jsonl")).First(t => t.Family == TaskFamily.Fact);
        Assert.Equal(AnswerQuality.Complete, judge.Helpfulness(task, task.Reference).Quality);
        Assert.Equal(task.Messages, world.EvalPrompts.First(t => t.Id == task.Id).Messages);
    }

    [Fact]
    public void Sizes_are_the_documented_presets()
    {
        Assert.Equal(WorldOptions.Tiny with { Seed = 3 }, WorldOptions.ForSize("tiny", 3));
        Assert.Equal("small", WorldOptions.ForSize("small").Size);
        Assert.True(WorldOptions.Small.CorpusChars > WorldOptions.Tiny.CorpusChars);
        var error = Assert.Throws<ArgumentException>(() => WorldOptions.ForSize("huge"));
        Assert.Contains("'tiny' or 'small'", error.Message, StringComparison.Ordinal);
    }
}

internal static class PairDialogs
{
    /// <summary>The prompt followed by the chosen answer, then the prompt followed by the rejected one.</summary>
    public static IReadOnlyList<ChatMessage> WithAnswers(this PreferencePair pair) =>
        [.. pair.Messages, new ChatMessage(ChatRole.Assistant, pair.Chosen + " " + pair.Rejected)];
}
