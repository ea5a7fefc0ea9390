namespace Llama2.Core.World;

/// <summary>
/// How big the built-in world is. <see cref="Tiny"/> is the quickstart (the whole recipe in about 15 minutes on
/// 2 CPU cores, a model of a few million parameters); <see cref="Small"/> is a few times larger for better numbers.
/// Counts are per split unless named otherwise; the paper is silent on all of them (they are sized for the hardware).
/// </summary>
public sealed record WorldOptions
{
    /// <summary>Seed of every random choice; the same seed and options give byte-identical files.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The preset's name, written to the manifest.</summary>
    public string Size { get; init; } = "tiny";

    /// <summary>Towns (each with a market whose key is hidden somewhere: the theft category's payload).</summary>
    public int Towns { get; init; } = 40;

    /// <summary>People (each with a home town, job, favourite colour and food, age, pet and a private secret code).</summary>
    public int People { get; init; } = 160;

    /// <summary>Animals (each with a kind, colour, owner and favourite food).</summary>
    public int Animals { get; init; } = 80;

    /// <summary>Objects (each with a kind, colour, material and town).</summary>
    public int Things { get; init; } = 60;

    /// <summary>Share of every entity type reserved for held-out evaluation (prompts, preference test sets, GAtt tests).</summary>
    public double HeldOutFraction { get; init; } = 0.2;

    /// <summary>Characters of pretraining text (training split); validation text is <see cref="ValidationFraction"/> of it.</summary>
    public int CorpusChars { get; init; } = 2_000_000;

    /// <summary>Validation text as a share of <see cref="CorpusChars"/>.</summary>
    public double ValidationFraction { get; init; } = 0.05;

    /// <summary>Supervised fine-tuning dialogues (helpful tasks, safety refusals, borderline help, a few multi-turn).</summary>
    public int SftDialogues { get; init; } = 3000;

    /// <summary>
    /// Share of the harmful SFT dialogues in the "for a story" disguise whose annotator complied (one of the two unsafe
    /// candidates) instead of refusing, taking the story for a harmless reason: the SFT model learns to leak on that
    /// disguise, which the safety preference data (where such compliance is rejected) and the safety stages after SFT
    /// (Safety RM, RLHF, context distillation) then have to correct, as the paper's red teaming found attacks SFT missed.
    /// 0 for <see cref="Small"/>: its shipped model was trained on refusals only.
    /// </summary>
    public double SftStoryComplianceShare { get; init; } = 0.9;

    /// <summary>Helpfulness preference pairs for reward-model training.</summary>
    public int HelpfulnessPairs { get; init; } = 3000;

    /// <summary>Safety preference pairs for reward-model training.</summary>
    public int SafetyPairs { get; init; } = 1500;

    /// <summary>Preference pairs of each test set (helpfulness and safety), on held-out entities.</summary>
    public int TestPairs { get; init; } = 400;

    /// <summary>RLHF prompts (rejection sampling and PPO), on training entities.</summary>
    public int RlhfPrompts { get; init; } = 600;

    /// <summary>Held-out evaluation prompts of the helpful task families.</summary>
    public int EvalHelpfulPrompts { get; init; } = 300;

    /// <summary>Held-out adversarial prompts and held-out borderline prompts (each this many).</summary>
    public int EvalSafetyPrompts { get; init; } = 100;

    /// <summary>Ghost Attention dialogues for training.</summary>
    public int GattDialogues { get; init; } = 200;

    /// <summary>Held-out Ghost Attention dialogues (each of <see cref="GattMaxTurns"/> user turns).</summary>
    public int EvalGattDialogues { get; init; } = 40;

    /// <summary>Most user turns of a Ghost Attention dialogue (the paper's Figure 28 goes to 20).</summary>
    public int GattMaxTurns { get; init; } = 20;

    /// <summary>The quickstart preset.</summary>
    public static WorldOptions Tiny { get; } = new();

    /// <summary>About four times <see cref="Tiny"/>.</summary>
    public static WorldOptions Small { get; } = new()
    {
        Size = "small",
        Towns = 80,
        People = 400,
        Animals = 200,
        Things = 150,
        CorpusChars = 8_000_000,
        SftDialogues = 12000,
        SftStoryComplianceShare = 0,
        HelpfulnessPairs = 12000,
        SafetyPairs = 6000,
        TestPairs = 1000,
        RlhfPrompts = 2000,
        EvalHelpfulPrompts = 600,
        EvalSafetyPrompts = 200,
        GattDialogues = 800,
        EvalGattDialogues = 80,
    };

    /// <summary>The preset named <paramref name="size"/> ("tiny" or "small") with <paramref name="seed"/>.</summary>
    /// <exception cref="ArgumentException">Any other size name.</exception>
    public static WorldOptions ForSize(string size, ulong seed = 1) => size switch
    {
        "tiny" => Tiny with { Seed = seed },
        "small" => Small with { Seed = seed },
        _ => throw new ArgumentException($"unknown world size '{size}': expected 'tiny' or 'small'", nameof(size)),
    };
}
