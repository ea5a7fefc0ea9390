using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Core.IO;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;
using Llama2.Training.RewardModeling;
using static TorchSharp.torch;

namespace Llama2.Training.Tests;

public sealed class RewardModelTests
{
    // Pairs rated significantly better, slightly better, better (hand-computed with the formula, margins of Table 27).
    private static readonly string[] s_ratings = ["significantly better", "slightly better", "better"];

    [Theory]
    [InlineData("none", 0.628493, -0.089647, -0.207486, -0.150055)]
    [InlineData("small", 0.946942, -0.166667, -0.232353, -0.204865)]
    [InlineData("large", 1.927106, -0.293599, -0.272525, -0.286050)]
    public void Ranking_loss_and_its_gradient_match_hand_numbers_for_each_margin_table(string table, double loss, double g0, double g1, double g2)
    {
        using var chosen = tensor(new[] { 1.0f, 0.5f, -0.2f }).requires_grad_(true);
        using var rejected = tensor(new[] { 0.0f, 1.0f, -0.4f }).requires_grad_(true);
        using var margins = tensor(s_ratings.Select(r => (float)MarginTable.For(table, r)).ToArray());
        var value = Losses.RankingLoss(chosen, rejected, margins);
        value.backward();
        Assert.Equal(loss, value.item<float>(), 5);
        var grad = chosen.grad!.data<float>().ToArray();
        Assert.Equal(g0, grad[0], 5);
        Assert.Equal(g1, grad[1], 5);
        Assert.Equal(g2, grad[2], 5);
        Assert.Equal(grad.Select(g => -g), rejected.grad!.data<float>().ToArray()); // ∂/∂r_r = −∂/∂r_c
    }

    [Fact]
    public void Margins_follow_table_27()
    {
        Assert.Equal([1, 2.0 / 3, 1.0 / 3, 0], PreferenceDataset.Ratings.Select(r => MarginTable.For("small", r)));
        Assert.Equal([3, 2, 1, 0], PreferenceDataset.Ratings.Select(r => MarginTable.For("large", r)));
        Assert.Equal(0, MarginTable.For("large", null));
        Assert.Throws<ArgumentException>(() => MarginTable.For("huge", "better"));
    }

    [Fact]
    public void Preference_lines_in_both_formats_identical_answers_and_missing_ratings_are_handled_and_counted()
    {
        using var dir = new TempDirectory();
        var path = dir.File("prefs.jsonl");
        File.WriteAllLines(path,
        [
            """{"prompt": "Where is the llama?", "chosen": "Near the barn.", "rejected": "I cannot say.", "rating": "better"}""",
            """{"messages": [{"role": "user", "content": "Hi"}], "chosen": "Hello!", "rejected": "Hello!", "rating": "better"}""",
            """{"prompt": "2+2?", "chosen": "4", "rejected": "5"}""",
            """{"chosen": "\n\nHuman: Is the river cold?\n\nAssistant: Yes.\n\nHuman: How cold?\n\nAssistant: Very cold in winter.", "rejected": "\n\nHuman: Is the river cold?\n\nAssistant: Yes.\n\nHuman: How cold?\n\nAssistant: No idea."}""",
        ]);
        var (pairs, counts) = PreferenceDataset.Read([path]);
        Assert.Equal(new PreferenceReadCounts(3, 1, 2, 0), counts);
        var hh = pairs[2];
        Assert.Equal(["Is the river cold?", "Yes.", "How cold?"], hh.Prompt.Select(m => m.Content));
        Assert.Equal(ChatRole.User, hh.Prompt[^1].Role);
        Assert.Equal(("Very cold in winter.", "No idea."), (hh.Chosen, hh.Rejected));

        File.AppendAllLines(path, ["""{"prompt": "x", "chosen": "a", "rejected": "b", "rating": "much better"}"""]);
        var e = Assert.Throws<InvalidModelFileException>(() => PreferenceDataset.Read([path]));
        Assert.Contains("line 5", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, PreferenceDataset.Read([path], skipInvalid: true).Counts.Invalid);
    }

    [Fact]
    public void The_safety_mix_drops_contradictory_pairs_and_adds_ten_percent_helpfulness()
    {
        var helpful = Enumerable.Range(0, 50).Select(i => Pair($"h{i}", false, null)).ToList();
        var safety = Enumerable.Range(0, 90).Select(i => Pair($"s{i}", true, "both_safe"))
            .Append(Pair("bad", true, "chosen_unsafe_rejected_safe")).ToList();
        var mix = RewardData.Mix("safety", helpful, safety, 1);
        Assert.Equal(100, mix.Count);
        Assert.Equal(10, mix.Count(p => !p.IsSafety));
        Assert.DoesNotContain(mix, p => p.Chosen == "bad");
        var helpfulMix = RewardData.Mix("helpfulness", helpful, safety, 1);
        Assert.Equal(100, helpfulMix.Count);
        Assert.Equal(50, helpfulMix.Count(p => p.IsSafety));
    }

    [Fact]
    public void A_reward_model_saves_loads_and_refuses_a_head_of_another_shape()
    {
        var tokenizer = TokenizerLoader.FromSentencePiece(TrainingFixture.Tokenizer);
        var shape = SmallShape(tokenizer, 64);
        using var dir = new TempDirectory();
        using var model = new RewardModel(shape, generator: new Generator(3));
        model.Save(dir.File("rm"), tokenizer);
        var (loaded, _) = RewardModel.Load(dir.File("rm"));
        Assert.Equal(RewardOf(model, tokenizer, "Where is the llama?", "Near the barn."), RewardOf(loaded, tokenizer, "Where is the llama?", "Near the barn."), 5);

        using var other = new RewardModel(shape with { Dim = 64, NHeads = 4 });
        other.Save(dir.File("other"), tokenizer);
        File.Copy(Path.Combine(dir.File("other"), RewardModel.HeadFile), Path.Combine(dir.File("rm"), RewardModel.HeadFile), overwrite: true);
        var e = Assert.Throws<InvalidModelFileException>(() => RewardModel.Load(dir.File("rm")));
        Assert.Contains("another shape", e.Message, StringComparison.Ordinal);
        loaded.Dispose();
    }

    [Fact]
    public void Pairs_longer_than_the_window_are_dropped_and_counted_and_unrated_pairs_get_no_margin()
    {
        var tokenizer = TokenizerLoader.FromSentencePiece(TrainingFixture.Tokenizer);
        var pairs = new[]
        {
            new PreferenceExample([new ChatMessage(ChatRole.User, "Where?")], "Near the barn.", "No.", "significantly better"),
            new PreferenceExample([new ChatMessage(ChatRole.User, string.Join(' ', Enumerable.Repeat("llama", 200)))], "Yes.", "No."),
            new PreferenceExample([new ChatMessage(ChatRole.User, "Where?")], "Near the barn.", "No."),
        };
        var (encoded, tooLong) = RewardData.EncodeAll(tokenizer, pairs, "large", seqLen: 64);
        Assert.Equal(1, tooLong);
        Assert.Equal([3.0, 0.0], encoded.Select(p => p.Margin));
        Assert.All(encoded, p => Assert.Equal(tokenizer.EosId, p.Chosen[^1]));
    }

    [Fact]
    public void Test_only_scores_a_saved_reward_model_per_bucket_as_pair_by_pair_scoring_does_and_names_what_is_missing()
    {
        var tokenizer = TokenizerLoader.FromSentencePiece(TrainingFixture.Tokenizer);
        using var dir = new TempDirectory();
        using var model = new RewardModel(SmallShape(tokenizer, 256), generator: new Generator(5));
        model.Save(dir.File("rm"), tokenizer);
        (string Prompt, string Chosen, string Rejected, string Rating)[] pairs =
        [
            ("Where is the llama?", "Near the barn.", "No.", "significantly better"),
            ("What does the llama eat?", "It eats hay.", "Rocks, mostly, and a long story about rocks.", "significantly better"),
            ("Who owns the llama?", "Mibo.", "I like turtles.", "better"),
            ("Is the llama tall?", "Yes, quite tall.", "Blue.", "better"),
            ("Can the llama sing?", "No, it hums.", "Yes.", "slightly better"),
        ];
        File.WriteAllLines(dir.File("test.jsonl"), pairs.Select(p => new System.Text.Json.Nodes.JsonObject
        {
            ["messages"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["role"] = "user", ["content"] = p.Prompt }),
            ["chosen"] = p.Chosen, ["rejected"] = p.Rejected, ["rating"] = p.Rating,
        }.ToJsonString()));

        // each answer scored alone, unpadded
        double Reward(string prompt, string answer) => RewardOf(model, tokenizer, prompt, answer);
        var expected = pairs.GroupBy(p => p.Rating)
            .ToDictionary(g => g.Key, g => (Correct: g.Count(p => Reward(p.Prompt, p.Chosen) > Reward(p.Prompt, p.Rejected)), Total: g.Count()));
        var config = new RewardModelConfig { ChatModel = dir.File("rm"), HelpfulnessTest = [dir.File("test.jsonl")], Output = dir.File("out"), SeqLen = 256, MicroBatch = 2 };

        var result = new RewardModelTrainer(config).TestOnly();

        Assert.Equal(["helpfulness"], result.Keys);
        Assert.Equal(expected, result["helpfulness"].ToDictionary(b => b.Rating, b => (b.Correct, b.Total)));
        Assert.True(File.Exists(Path.Combine(dir.File("out"), "accuracy.json")) && File.Exists(Path.Combine(dir.File("out"), "rewards-helpfulness-test.png")));

        var none = Assert.Throws<ArgumentException>(() => new RewardModelTrainer(config with { HelpfulnessTest = [] }).TestOnly());
        Assert.Contains("helpfulness_test / safety_test", none.Message, StringComparison.Ordinal);
        File.Delete(Path.Combine(dir.File("rm"), RewardModel.HeadFile)); // a chat model's folder, not a reward model's
        var notRm = Assert.Throws<InvalidModelFileException>(() => new RewardModelTrainer(config).TestOnly());
        Assert.Contains("is not a reward model", notRm.Message, StringComparison.Ordinal);
    }

    private static ModelConfig SmallShape(LlamaTokenizer tokenizer, int maxSeqLen) =>
        new() { Dim = 32, NLayers = 1, NHeads = 4, NKvHeads = 2, HiddenDim = 64, VocabSize = tokenizer.VocabSize, MaxSeqLen = maxSeqLen };

    /// <summary>The reward of one answer scored alone, unpadded: the head's output at its EOS.</summary>
    private static double RewardOf(RewardModel model, LlamaTokenizer tokenizer, string prompt, string answer)
    {
        var ids = RewardData.Encode(tokenizer, [new ChatMessage(ChatRole.User, prompt)], answer);
        using var tokens = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]);
        using var last = tensor(new long[] { ids.Length - 1 });
        using var noGrad = no_grad();
        return model.forward(tokens, last).item<float>();
    }

    private static PreferenceExample Pair(string id, bool safety, string? label) =>
        new([new ChatMessage(ChatRole.User, "q " + id)], id, "other " + id, "better", null, safety, label);
}
