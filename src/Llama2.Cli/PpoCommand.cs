using System.CommandLine;
using System.Globalization;
using Llama2.Core.Chat;
using Llama2.Core.Model;
using Llama2.Core.Sampling;
using Llama2.Inference;
using Llama2.Training.Ppo;
using Llama2.Training.Runs;

namespace Llama2.Cli;

/// <summary><c>llama2 ppo</c>: RLHF with PPO against the Safety and Helpfulness reward models; rollouts on the engine.</summary>
internal static class PpoCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "A JSON config (snake_case fields of PpoConfig); its fields override --preset's, and flags override both" };
        var preset = new Option<string?>("--preset") { Description = "micro, tiny, small (scaled recipes) or paper (Llama 2 §3.2.3)" };
        var model = new Option<string?>("--model", "-m") { Description = "The policy to start from (also the frozen reference)" };
        var safety = new Option<string?>("--safety-rm") { Description = "Safety reward model folder" };
        var helpful = new Option<string?>("--helpfulness-rm") { Description = "Helpfulness reward model folder" };
        var prompts = new Option<string[]>("--prompts") { Description = "Prompt jsonl", AllowMultipleArgumentsPerToken = true };
        var heldOut = new Option<string[]>("--heldout") { Description = "Held-out prompt jsonl for early stopping", AllowMultipleArgumentsPerToken = true };
        var iterations = new Option<int?>("--iterations") { Description = "PPO iterations" };
        var output = new Option<string?>("--output", "-o") { Description = "Run folder" };
        var goldJudge = new Option<string?>("--gold-judge") { Description = "Diagnostic, not the paper's: this world's gold judge replaces the Helpfulness RM on the training prompts (world task files), to tell the RM's limits from PPO's" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --output from its last checkpoint (with the config saved there)" };
        var command = new Command("ppo", "PPO (Llama 2 §3.2.3): reward WHITEN(LOGIT(Rc)) − β·KL, clipped objective, early stopping on held-out prompts")
        {
            config, preset, model, safety, helpful, prompts, heldOut, iterations, output, goldJudge, resume,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var path = parse.GetValue(config);
            var c = ConfigOptions.Resolve(path, parse.GetValue(preset), PpoConfig.ForPreset, PpoConfig.Load);
            c = c with
            {
                Policy = parse.GetValue(model) ?? c.Policy,
                SafetyRewardModel = parse.GetValue(safety) ?? c.SafetyRewardModel,
                HelpfulnessRewardModel = parse.GetValue(helpful) ?? c.HelpfulnessRewardModel,
                Prompts = parse.GetValue(prompts) is { Length: > 0 } p ? p : c.Prompts,
                HeldOutPrompts = parse.GetValue(heldOut) is { Length: > 0 } h ? h : c.HeldOutPrompts,
                Iterations = parse.GetValue(iterations) ?? c.Iterations,
                Output = parse.GetValue(output) ?? c.Output,
                GoldJudgeWorld = parse.GetValue(goldJudge) ?? c.GoldJudgeWorld,
            };
            var result = TrainingDisplay.Run("PPO", (report, log) => new PpoTrainer(c, EngineRollouts, report, log).Run(parse.GetValue(resume), cancellation));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run folder {result.RunFolder}: {result.Iterations} iterations, held-out reward {result.FirstHeldOutReward:F4} → best {result.BestHeldOutReward:F4}; final model {result.FinalModel}"));
            return 0;
        })));
        return command;
    }

    /// <summary>Rollouts on the engine: one sampled response per prompt, EOS kept when the model stopped.</summary>
    internal static IReadOnlyList<int[]> EngineRollouts(string policyFolder, IReadOnlyList<IReadOnlyList<ChatMessage>> prompts, int maxNewTokens, float temperature, ulong seed)
    {
        using var file = ModelFile.Open(policyFolder);
        using var generator = new BatchGenerator(file, new BatchGeneratorOptions { Slots = 8, QueueLimit = int.MaxValue });
        var running = prompts.Select((dialog, i) =>
        {
            var prompt = ChatPrompt.Build(file.Tokenizer, dialog, generator.ContextLength).Ids;
            if (prompt.Length == 0)
            {
                return Task.FromResult(new GenerationResult([], "", FinishReason.Stop, 0)); // Meta's fixed reply to special tags: nothing to learn
            }

            var options = new GenerationOptions
            {
                MaxTokens = Math.Max(1, Math.Min(maxNewTokens, generator.ContextLength - prompt.Length - 1)),
                Sampling = new SamplingOptions { Temperature = temperature, TopP = 1, Seed = seed * 7919 + (ulong)i },
            };
            return generator.CompleteAsync(prompt, options);
        }).ToList();
        return [.. running.Select(r =>
        {
            var result = r.GetAwaiter().GetResult();
            return result.FinishReason == FinishReason.Stop ? [.. result.Ids, file.Tokenizer.EosId] : result.Ids.ToArray();
        })];
    }
}
