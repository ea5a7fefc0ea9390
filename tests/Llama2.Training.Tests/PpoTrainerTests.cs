using Llama2.Cli;
using Llama2.Core.Data;
using Llama2.Core.IO;
using Llama2.Core.Model;
using Llama2.Core.World;
using Llama2.Training.Ppo;
using Llama2.Training.RewardModeling;
using static TorchSharp.torch;

namespace Llama2.Training.Tests;

public sealed class PpoTrainerTests
{
    [Fact]
    public void PPO_runs_rollout_advantage_and_update_and_writes_metrics_and_a_model_the_engine_loads()
    {
        using var dir = new TempDirectory();
        var config = MicroRun(dir);
        var result = new PpoTrainer(config, PpoCommand.EngineRollouts).Run();
        Assert.Equal(3, result.Iterations);
        var entries = File.ReadAllLines(Path.Combine(config.Output, "metrics.jsonl"));
        Assert.Equal(3, entries.Length);
        foreach (var key in new[] { "reward", "kl", "clip_fraction", "value_loss", "entropy", "policy_loss", "safety_override" })
        {
            Assert.All(entries, e => Assert.Contains($"\"{key}\"", e, StringComparison.Ordinal));
        }

        Assert.NotNull(result.BestHeldOutReward);
        // held-out answers at each evaluation (iterations 1, 2 and the last): all 4 prompts, in order, with their reward
        var examples = File.ReadAllLines(Path.Combine(config.Output, "heldout-samples.jsonl")).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        Assert.Equal([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], examples.Select(e => (int)e["step"]!));
        Assert.Contains("A llama?", (string)examples[0]["prompt"]!, StringComparison.Ordinal);
        Assert.True((bool)examples[1]["is_safety"]!);
        Assert.All(examples, e => Assert.InRange((double)e["reward"]!, 0, 1));
        using var final = ModelFile.Open(result.FinalModel);
        var reply = new Inference.Generator(final, 64).Complete(final.Tokenizer.Encode("Hello", addBos: true), new Inference.GenerationOptions { MaxTokens = 4 });
        Assert.True(reply.PromptTokens > 0);
        Assert.True(File.Exists(Path.Combine(config.Output, "reward.png")));
    }

    /// <summary>The micro PPO run on the test base model, with two untrained reward models made from it and four prompts.</summary>
    private static PpoConfig MicroRun(TempDirectory dir)
    {
        using var basis = ModelFile.Open(SftTrainerTests.BaseModel);
        using var generator = new Generator(11);
        foreach (var name in new[] { "rm-safety", "rm-helpful" })
        {
            using var rm = RewardModel.FromChatModel(basis, basis.Config.MaxSeqLen, generator: generator);
            rm.Save(dir.File(name), basis.Tokenizer);
        }

        var prompts = dir.File("prompts.jsonl");
        File.WriteAllLines(prompts,
        [
            """{"prompt": "A llama?"}""",
            """{"prompt": "A secret?", "is_safety": true}""",
            """{"messages": [{"role": "user", "content": "The herd?"}]}""",
            """{"prompt": "A wall?"}""",
        ]);
        return PpoConfig.ForPreset("micro") with
        {
            Policy = SftTrainerTests.BaseModel,
            SafetyRewardModel = dir.File("rm-safety"),
            HelpfulnessRewardModel = dir.File("rm-helpful"),
            Prompts = [prompts],
            HeldOutPrompts = [prompts],
            Output = dir.File("ppo"),
            PromptsPerIteration = 4,
            MiniBatch = 2,
            Threads = 1,
        };
    }

    [Fact]
    public void A_stopped_run_resumes_from_its_checkpoint_on_the_same_trajectory_value_head_included()
    {
        using var dir = new TempDirectory();
        var config = MicroRun(dir) with { Iterations = 4, CheckpointInterval = 3 };
        var whole = config with { Output = dir.File("whole") };
        new PpoTrainer(whole, PpoCommand.EngineRollouts).Run();

        // stopped after iteration 1 (a checkpoint is saved on stopping), killed while writing, resumed to the end
        var split = config with { Output = dir.File("split") };
        using var stop = new CancellationTokenSource();
        var stopped = new PpoTrainer(split, PpoCommand.EngineRollouts, report: r =>
        {
            if (r.Step == 1)
            {
                stop.Cancel();
            }
        }).Run(cancellation: stop.Token);
        Assert.Equal(1, stopped.Iterations);
        Assert.True(Directory.Exists(Path.Combine(split.Output, "checkpoints", "step-000001")));
        foreach (var file in new[] { "metrics.jsonl", "heldout-samples.jsonl" })
        {
            File.AppendAllText(Path.Combine(split.Output, file), "{\"step\": 2, \"rew"); // a line cut by a kill
        }

        var resumed = new PpoTrainer(split, PpoCommand.EngineRollouts).Run(resume: true);
        Assert.Equal(4, resumed.Iterations);

        // every metric (the value loss depends on the restored value head and its moments) and every held-out answer
        foreach (var file in new[] { "metrics.jsonl", "heldout-samples.jsonl" })
        {
            Assert.Equal(File.ReadAllLines(Path.Combine(whole.Output, file)), File.ReadAllLines(Path.Combine(split.Output, file)));
        }

        using var a = ModelFile.Open(Path.Combine(whole.Output, "final"));
        using var b = ModelFile.Open(Path.Combine(split.Output, "final"));
        Assert.Equal(a[TensorNames.Wq(0)].Data.ToArray(), b[TensorNames.Wq(0)].Data.ToArray());

        // a checkpoint without its value head is refused by name
        var latest = Path.Combine(split.Output, "checkpoints", "step-000003");
        File.Delete(Path.Combine(latest, "value_head.safetensors"));
        var error = Assert.Throws<InvalidModelFileException>(() => new PpoTrainer(split, PpoCommand.EngineRollouts).Run(resume: true));
        Assert.Contains("value_head.safetensors", error.Message, StringComparison.Ordinal);
        Assert.Contains("step-000003", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gold_judge_scores_helpful_training_prompts_by_quality_and_leaves_the_rest_to_the_reward_models()
    {
        using var dir = new TempDirectory();
        var world = SyntheticWorld.Generate(WorldOptions.Tiny with { Seed = 7, CorpusChars = 60_000 });
        WorldFiles.Write(world, dir.File("world"));
        var tasks = WorldFiles.ReadTasks(dir.File("world/train/prompts.jsonl"));
        var helpful = tasks.Where(t => !t.IsSafety).Take(2).ToList();
        var safety = tasks.First(t => t.IsSafety);
        var heldOut = WorldFiles.ReadTasks(dir.File("world/heldout/prompts.jsonl")).First(t => !t.IsSafety);

        using var basis = ModelFile.Open(SftTrainerTests.BaseModel);
        using var generator = new Generator(11);
        using var rm = new RewardScorer(RewardModel.FromChatModel(basis, basis.Config.MaxSeqLen, generator: generator), basis.Tokenizer);
        // the first helpful prompt gets its reference (right, complete), every other prompt an off-topic reply
        string[] answers = [helpful[0].Reference, "Bread is a food.", "Bread is a food.", "Bread is a food."];
        RolloutSampler sampler = (_, prompts, _, _, _) => [.. prompts.Select((_, i) => basis.Tokenizer.Encode(answers[i]).Append(basis.Tokenizer.EosId).ToArray())];
        var trainer = new PpoTrainer(PpoConfig.ForPreset("micro") with { SafetyThreshold = 0 }, sampler);
        trainer.UseGoldJudge(dir.File("world"), [dir.File("world/train/prompts.jsonl")]);
        PromptExample[] prompts = [.. new[] { helpful[0], helpful[1], safety, heldOut }.Select(t => new PromptExample(t.Messages, t.Category, t.IsSafety))];

        var samples = trainer.Rollout(prompts, "", basis.Tokenizer, rm, rm, 4096, 1);

        Assert.Equal(PpoMath.GoldHelpfulness(AnswerQuality.Complete), samples[0].Rc, 6);
        Assert.True(samples[0].GoldRight);
        Assert.Equal(PpoMath.GoldHelpfulness(AnswerQuality.OffTopic), samples[1].Rc, 6);
        Assert.False(samples[1].GoldRight);
        Assert.Null(samples[2].GoldRight); // a safety prompt: the Safety RM
        Assert.Null(samples[3].GoldRight); // not a training prompt: the Helpfulness RM
        Assert.True(PpoMath.GoldHelpfulness(AnswerQuality.Wrong) > PpoMath.GoldHelpfulness(AnswerQuality.OffTopic));
        Assert.All(trainer.Rollout(prompts, "", basis.Tokenizer, rm, rm, 4096, 1, useGoldJudge: false), s => Assert.Null(s.GoldRight)); // held-out scoring

        File.WriteAllLines(dir.File("plain.jsonl"), ["""{"prompt": "A llama?"}"""]);
        var error = Assert.Throws<ArgumentException>(() => trainer.UseGoldJudge(dir.File("world"), [dir.File("plain.jsonl")]));
        Assert.Contains("plain.jsonl is not a world task file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_value_head_steps_at_its_own_learning_rate_and_helpful_answers_scored_by_the_Safety_RM_are_flagged()
    {
        using var basis = ModelFile.Open(SftTrainerTests.BaseModel);
        using var generator = new Generator(11);
        using var rm = new RewardScorer(RewardModel.FromChatModel(basis, basis.Config.MaxSeqLen, generator: generator), basis.Tokenizer);
        string[] answers = ["Barn.", "No.", "Big.", "Yes."];
        RolloutSampler sampler = (_, prompts, _, _, _) => [.. prompts.Select((_, i) => basis.Tokenizer.Encode(answers[i]).Append(basis.Tokenizer.EosId).ToArray())];
        // a threshold of 1 sends every answer to the Safety RM: the helpful prompts' answers are flagged as overridden
        var config = PpoConfig.ForPreset("micro") with { MiniBatch = 4, Lr = 1e-6, ValueLr = 1e-2, SafetyThreshold = 1 };
        var trainer = new PpoTrainer(config, sampler);
        PromptExample[] prompts = [.. new[] { "A llama?", "A secret?", "The herd?", "A wall?" }.Select((p, i) => new PromptExample([new Core.Chat.ChatMessage(Core.Chat.ChatRole.User, p)], null, i == 1))];
        using var policy = new PolicyWithValue(basis);
        using var reference = new LlamaModel(basis.Config);
        reference.LoadWeights(basis);
        var samples = trainer.Rollout(prompts, "", basis.Tokenizer, rm, rm, basis.Config.MaxSeqLen, 1);
        Assert.Equal([true, false, true, true], samples.Select(s => s.SafetyOverride));
        trainer.Advantages(samples, policy, reference);
        var before = policy.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

        trainer.Update(samples, policy, new Optim.AdamW(policy.Policy.named_parameters()), new Optim.AdamW(policy.ValueHead.named_parameters()));

        // Adam's first step moves a weight by lr·g/(|g| + eps): by the LR wherever the gradient is not tiny
        double Moved(string name) => (policy.named_parameters().Single(p => p.name == name).parameter - before[name]).abs().max().item<float>();
        Assert.Equal(1e-2, Moved("value_head.weight"), 4);
        // (norm weights sit near 1, where a float32 step is 1.2e-7)
        Assert.All(before.Keys.Where(n => n != "value_head.weight"), n => Assert.InRange(Moved(n), 0, 1e-6 + 1.2e-7));
        Assert.Equal(1e-6, before.Keys.Where(n => n != "value_head.weight").Max(Moved), 7);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1e-3)]
    [InlineData(1.5)]
    public void A_value_lr_out_of_range_is_refused_by_name(double valueLr)
    {
        var config = PpoConfig.ForPreset("micro") with { Policy = "p", SafetyRewardModel = "s", HelpfulnessRewardModel = "h", Prompts = ["x.jsonl"] };
        config.Validate(); // valid as it is (value_lr null: the policy's LR)
        (config with { ValueLr = 1e-3 }).Validate();
        var error = Assert.Throws<ArgumentException>(() => (config with { ValueLr = valueLr }).Validate());
        Assert.Contains("value_lr", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    public void An_eval_or_checkpoint_interval_below_one_is_refused_by_name(int evalInterval, int checkpointInterval)
    {
        var config = PpoConfig.ForPreset("micro") with { Policy = "p", SafetyRewardModel = "s", HelpfulnessRewardModel = "h", Prompts = ["x.jsonl"] };
        var error = Assert.Throws<ArgumentException>(() => (config with { EvalInterval = evalInterval, CheckpointInterval = checkpointInterval }).Validate());
        Assert.Contains("checkpoint_interval", error.Message, StringComparison.Ordinal);
    }
}
