using System.Text.Json.Nodes;

namespace Llama2.Cli;

/// <summary>
/// How big each stage of <c>llama2 pipeline</c> runs: the world's size, the pretraining config, the training presets of the
/// later stages and the sample counts that bound their time. One record per preset, so what a preset costs reads in one place.
/// </summary>
/// <param name="Name">micro, tiny or small.</param>
/// <param name="World">The built-in world's size (<c>data synth --size</c>).</param>
/// <param name="StagePreset">The preset of the SFT, reward-model and PPO stages.</param>
/// <param name="Pretrain">The pretraining config (snake_case, as <c>pretrain --config</c> reads it; inputs/output added).</param>
/// <param name="SftEpochs">SFT epochs (null: the SFT preset's).</param>
/// <param name="RewardModelPairs">At most this many training pairs per reward model (null: all).</param>
/// <param name="MarginVariants">Also train the Helpfulness RM without a margin and with the large one (Table 28, Fig. 27).</param>
/// <param name="RejectionK">Samples per prompt in rejection sampling.</param>
/// <param name="RejectionPrompts">Prompts in rejection sampling.</param>
/// <param name="SweepPrompts">Prompts of rejection sampling's temperature sweep (Fig. 8: T 0.7 and 1.3 beside the 1.0 used).</param>
/// <param name="PpoIterations">PPO iterations (null: the PPO preset's).</param>
/// <param name="PpoHeldOut">The split whose prompts decide PPO's early stopping ("heldout", or "train" for the smoke test).</param>
/// <param name="GattDialogues">At most this many Ghost Attention dialogues (null: all).</param>
/// <param name="ExtraDialogues">This many SFT dialogues mixed into the GAtt and distillation fine-tuning, so they keep the earlier
/// skills (refusals above all); null: none.</param>
/// <param name="EvalPrompts">At most this many held-out helpful and as many safety prompts in the evaluation (null: all).</param>
/// <param name="EvalDialogues">At most this many held-out 20-turn GAtt dialogues in the evaluation (null: all).</param>
/// <param name="EvalTurns">Turns per evaluated GAtt dialogue (null: 20).</param>
internal sealed record PipelinePreset(
    string Name, string World, string StagePreset, JsonObject Pretrain, int? SftEpochs, int? RewardModelPairs, bool MarginVariants, int RejectionK, int RejectionPrompts, int SweepPrompts,
    int? PpoIterations, string PpoHeldOut, int? GattDialogues, int? ExtraDialogues, int? EvalPrompts, int? EvalDialogues, int? EvalTurns)
{
    public const string Help = "micro (a minute or two, a smoke test), tiny (the quickstart: about 15 minutes on 2 cores) or small (the shipped model: about 1.5 hours on the small world; the margin variants are left to tiny)";

    public static PipelinePreset Named(string name) => name switch
    {
        "micro" => new(
            name, "tiny", "micro",
            new JsonObject { ["preset"] = "micro", ["vocab_size"] = 512, ["seq_len"] = 128, ["batch_tokens"] = 2048, ["micro_batch"] = 16, ["max_steps"] = 40, ["peak_lr"] = 3e-3, ["warmup_steps"] = 5, ["eval_interval"] = 20, ["checkpoint_interval"] = 20 },
            SftEpochs: 1, RewardModelPairs: 64, MarginVariants: true, RejectionK: 4, RejectionPrompts: 16, SweepPrompts: 4, PpoIterations: null, PpoHeldOut: "train", GattDialogues: 8, ExtraDialogues: 32,
            EvalPrompts: 20, EvalDialogues: 20, EvalTurns: 4),
        "tiny" => new(
            name, "tiny", "tiny",
            new JsonObject
            {
                ["preset"] = "tiny", ["dim"] = 192, ["n_layers"] = 4, ["n_heads"] = 6, ["n_kv_heads"] = 6, ["hidden_dim"] = 512, ["vocab_size"] = 2048, ["seq_len"] = 256,
                // 2,048-token steps: four times the steps of 8,192-token ones in the same time, which at this size learn more
                // (validation loss 1.79 → 1.40 on the tiny world's corpus, both about 3.7 minutes: docs/runs/world-tiny-probes.md)
                ["batch_tokens"] = 2048, ["micro_batch"] = 8, ["max_steps"] = 480, ["peak_lr"] = 2e-3, ["warmup_steps"] = 20, ["eval_interval"] = 120, ["checkpoint_interval"] = 160,
            },
            SftEpochs: 3, RewardModelPairs: 500, MarginVariants: true, RejectionK: 8, RejectionPrompts: 150, SweepPrompts: 48, PpoIterations: 10, PpoHeldOut: "heldout", GattDialogues: 100, ExtraDialogues: 600,
            // all 300 held-out helpful prompts, 43 per family: at 14 a family moves by a prompt or two between runs
            EvalPrompts: 300, EvalDialogues: 12, EvalTurns: null),
        "small" => new(
            name, "small", "small",
            new JsonObject
            {
                ["preset"] = "small", ["dim"] = 256, ["n_layers"] = 6, ["n_heads"] = 8, ["n_kv_heads"] = 8, ["hidden_dim"] = 704, ["vocab_size"] = 2048, ["seq_len"] = 512,
                // the same 5.2 M tokens as 320 steps of 16,384, in four times the steps: as at tiny, smaller steps learn more
                // (docs/runs/small-2026-11-28/README.md)
                ["batch_tokens"] = 4096, ["micro_batch"] = 8, ["max_steps"] = 1280, ["peak_lr"] = 1.5e-3, ["warmup_steps"] = 60, ["eval_interval"] = 160, ["checkpoint_interval"] = 80,
            },
            SftEpochs: 1, RewardModelPairs: 1500, MarginVariants: false, RejectionK: 8, RejectionPrompts: 300, SweepPrompts: 48, PpoIterations: 12, PpoHeldOut: "heldout", GattDialogues: 150, ExtraDialogues: 1500,
            EvalPrompts: 150, EvalDialogues: 30, EvalTurns: null),
        _ => throw new CliException($"--preset must be micro, tiny or small, got '{name}'"),
    };

    /// <summary>This preset with <paramref name="steps"/> pretraining steps (null: unchanged).</summary>
    public PipelinePreset WithPretrainSteps(int? steps)
    {
        if (steps is not { } n)
        {
            return this;
        }

        if (n < 1)
        {
            throw new CliException($"--pretrain-steps must be at least 1, got {n}");
        }

        var pretrain = Pretrain.DeepClone().AsObject();
        pretrain["max_steps"] = n;
        return this with { Pretrain = pretrain };
    }
}
