using Llama2.Cli;
using Llama2.Core.Model;
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
        var config = PpoConfig.ForPreset("micro") with
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
        var result = new PpoTrainer(config, PpoCommand.EngineRollouts).Run();
        Assert.Equal(3, result.Iterations);
        var entries = File.ReadAllLines(Path.Combine(config.Output, "metrics.jsonl"));
        Assert.Equal(3, entries.Length);
        foreach (var key in new[] { "reward", "kl", "clip_fraction", "value_loss", "entropy", "policy_loss" })
        {
            Assert.All(entries, e => Assert.Contains($"\"{key}\"", e, StringComparison.Ordinal));
        }

        Assert.NotNull(result.BestHeldOutReward);
        using var final = ModelFile.Open(result.FinalModel);
        var reply = new Inference.Generator(final, 64).Complete(final.Tokenizer.Encode("Hello", addBos: true), new Inference.GenerationOptions { MaxTokens = 4 });
        Assert.True(reply.PromptTokens > 0);
        Assert.True(File.Exists(Path.Combine(config.Output, "reward.png")));
    }
}
