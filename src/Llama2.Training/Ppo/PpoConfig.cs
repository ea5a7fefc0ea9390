using System.Text.Json;
using Llama2.Core.IO;

namespace Llama2.Training.Ppo;

/// <summary>
/// PPO settings (Llama 2 §3.2.3): AdamW β 0.9/0.95, eps 1e-5, weight decay 0.1, gradient clipping 1.0, constant LR 1e-6;
/// 512 prompts per iteration; PPO clip 0.2; mini-batches of 64 with one gradient step each; KL penalty β = 0.01 (7B/13B)
/// or 0.005 (34B/70B); 200–400 iterations with early stopping on held-out prompts. Not in the paper, chosen here: a value
/// head on the policy's trunk (value-loss weight 0.1, value clip 0.2), GAE with γ = 1, λ = 0.95 (TRL's defaults), the
/// whitening population is the iteration's batch, rollouts at temperature 1.
/// </summary>
public sealed record PpoConfig
{
    /// <summary>The policy to start from (after SFT / rejection sampling); also the frozen reference π0.</summary>
    public string Policy { get; init; } = "";

    public string SafetyRewardModel { get; init; } = "";

    public string HelpfulnessRewardModel { get; init; } = "";

    /// <summary>Prompt jsonl (<c>"is_safety"</c> picks the Safety RM).</summary>
    public IReadOnlyList<string> Prompts { get; init; } = [];

    /// <summary>Held-out prompts for early stopping.</summary>
    public IReadOnlyList<string> HeldOutPrompts { get; init; } = [];

    /// <summary>
    /// Not the paper's; a diagnostic. A world folder (<c>llama2 data synth</c>) whose gold judge scores the answers to the
    /// training prompts in place of the Helpfulness RM (R_h from the answer's quality, <see cref="PpoMath.GoldHelpfulness"/>):
    /// what PPO does with a perfect Helpfulness RM, to tell the RM's limits from PPO's. The prompt files must then be
    /// world tasks or pairs; held-out prompts are still scored by the RM, so early stopping never sees the judge.
    /// </summary>
    public string? GoldJudgeWorld { get; init; }

    public string Output { get; init; } = "runs/ppo";

    public int Iterations { get; init; } = 300;

    /// <summary>Llama 2: 512.</summary>
    public int PromptsPerIteration { get; init; } = 512;

    /// <summary>Llama 2: 64, one gradient step each.</summary>
    public int MiniBatch { get; init; } = 64;

    /// <summary>Llama 2: 1e-6, constant.</summary>
    public double Lr { get; init; } = 1e-6;

    /// <summary>KL penalty (Llama 2: 0.01 for 7B and 13B, 0.005 for 34B and 70B).</summary>
    public double Beta { get; init; } = 0.01;

    public double Clip { get; init; } = 0.2;

    /// <summary>Prompts whose Safety RM score is below this use it even when not safety prompts (Llama 2: 0.15).</summary>
    public double SafetyThreshold { get; init; } = 0.15;

    public double ValueCoef { get; init; } = 0.1;

    /// <summary>
    /// The value head's own learning rate (not in the paper; null: <see cref="Lr"/>). The head starts at zero, and at a
    /// policy's LR a linear head moves about LR per weight per step, far too slowly to learn a baseline in a few hundred
    /// steps: without one the whitened reward's largest part, which prompt type was asked, becomes every token's advantage.
    /// </summary>
    public double? ValueLr { get; init; }

    public double ValueClip { get; init; } = 0.2;

    public double Gamma { get; init; } = 1.0;

    public double Lambda { get; init; } = 0.95;

    public int MaxNewTokens { get; init; } = 128;

    public float Temperature { get; init; } = 1.0f;

    public double WeightDecay { get; init; } = 0.1;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.95;

    public double Eps { get; init; } = 1e-5;

    public double GradClip { get; init; } = 1.0;

    /// <summary>Held-out evaluation every this many iterations.</summary>
    public int EvalInterval { get; init; } = 10;

    /// <summary>Stop after this many held-out evaluations without a new best reward (the best model is kept).</summary>
    public int Patience { get; init; } = 3;

    /// <summary>A resumable checkpoint (<see cref="PpoCheckpoint"/>) every this many iterations; the newest two are kept.</summary>
    public int CheckpointInterval { get; init; } = 10;

    public ulong Seed { get; init; } = 1234;

    public int Threads { get; init; }

    /// <summary>
    /// The paper's recipe scaled for the built-in world's small models. Small: rollouts at temperature 0.7, β 0.1 and
    /// LR 3e-5, the one of four 100-iteration settings measured on 2026-11-28 that did not lose held-out gold accuracy or
    /// refusals (β 0.02 at temperature 1 over-optimised the RMs; docs/runs/small-2026-11-28/README.md).
    /// </summary>
    public static PpoConfig ForPreset(string preset) => preset.ToLowerInvariant() switch
    {
        "micro" => new PpoConfig { Iterations = 3, PromptsPerIteration = 8, MiniBatch = 4, Lr = 1e-4, MaxNewTokens = 16, EvalInterval = 2, CheckpointInterval = 2 },
        "tiny" => new PpoConfig { Iterations = 30, PromptsPerIteration = 32, MiniBatch = 8, Lr = 2e-5, Beta = 0.05, MaxNewTokens = 48, EvalInterval = 5, CheckpointInterval = 5 },
        "small" => new PpoConfig { Iterations = 100, PromptsPerIteration = 64, MiniBatch = 16, Lr = 3e-5, Beta = 0.1, Temperature = 0.7f, MaxNewTokens = 64, EvalInterval = 10 },
        "paper" => new PpoConfig(),
        _ => throw new ArgumentException($"unknown PPO preset '{preset}' (micro, tiny, small, paper)"),
    };

    /// <exception cref="ArgumentException">A field is out of range; the message names it.</exception>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }

        Check(Policy.Length > 0 && SafetyRewardModel.Length > 0 && HelpfulnessRewardModel.Length > 0, "policy, safety_reward_model and helpfulness_reward_model are required");
        Check(Prompts.Count > 0, "prompts: give at least one prompt file");
        Check(EvalInterval >= 1 && CheckpointInterval >= 1, "eval_interval and checkpoint_interval must be at least 1");
        Check(Iterations >= 1 && PromptsPerIteration >= 1 && MiniBatch >= 1 && MiniBatch <= PromptsPerIteration, "iterations, prompts_per_iteration ≥ mini_batch ≥ 1");
        Check(Lr is > 0 and < 1 && ValueLr is null or (> 0 and < 1) && Beta >= 0 && Clip > 0 && MaxNewTokens >= 1 && Temperature > 0, "lr, value_lr, beta, clip, max_new_tokens or temperature out of range");
    }

    public static readonly JsonSerializerOptions Json = Pretraining.PretrainConfig.Json;

    /// <summary>Reads a config file; with <paramref name="defaults"/> (a preset), the file overrides only the fields it names.</summary>
    public static PpoConfig Load(string path, PpoConfig? defaults = null) => Runs.ConfigFile.Read(path, "PPO", Json, defaults);
}
