using System.CommandLine;
using Llama2.Core.Sampling;
using Llama2.Inference;

namespace Llama2.Cli;

/// <summary>The sampling and limit flags shared by <c>generate</c> and <c>chat</c>.</summary>
internal sealed class SamplingArguments
{
    public Option<int> MaxTokens { get; } = new("--max-tokens", "-n") { Description = "Most tokens to generate", DefaultValueFactory = _ => 256 };
    public Option<float> Temperature { get; } = new("--temperature") { Description = "Sampling temperature; 0 is greedy (Meta's default 0.6)", DefaultValueFactory = _ => 0.6f };
    public Option<float> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass (Meta's default 0.9)", DefaultValueFactory = _ => 0.9f };
    public Option<int> TopK { get; } = new("--top-k") { Description = "Keep the k most likely tokens; 0 disables" };
    public Option<float> MinP { get; } = new("--min-p") { Description = "Drop tokens below min-p × the best probability; 0 disables" };
    public Option<float> RepeatPenalty { get; } = new("--repeat-penalty") { Description = "Penalty for the last 64 tokens; 1 disables", DefaultValueFactory = _ => 1f };
    public Option<ulong?> Seed { get; } = new("--seed") { Description = "Random seed: same seed, same text" };
    public Option<string[]> Stop { get; } = new("--stop") { Description = "Stop when this text appears (repeatable)" };
    public Option<int> Context { get; } = new("--ctx", "-c") { Description = "Context window in tokens (KV cache size); default: the model's, at most 4096" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { MaxTokens, Temperature, TopP, TopK, MinP, RepeatPenalty, Seed, Stop, Context })
        {
            command.Options.Add(option);
        }
    }

    public GenerationOptions Read(ParseResult parse, bool ignoreEos = false)
    {
        var sampling = new SamplingOptions
        {
            Temperature = parse.GetValue(Temperature),
            TopP = parse.GetValue(TopP),
            TopK = parse.GetValue(TopK),
            MinP = parse.GetValue(MinP),
            RepeatPenalty = parse.GetValue(RepeatPenalty),
            Seed = parse.GetValue(Seed),
        };
        try
        {
            sampling.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message);
        }

        int maxTokens = parse.GetValue(MaxTokens);
        if (maxTokens < 0)
        {
            throw new CliException($"--max-tokens must be ≥ 0, got {maxTokens}");
        }

        return new GenerationOptions { MaxTokens = maxTokens, Sampling = sampling, Stop = parse.GetValue(Stop) ?? [], IgnoreEos = ignoreEos };
    }

    /// <summary>The context window: the flag, else the model's (at most 4096, to bound the KV cache).</summary>
    public int ContextLength(ParseResult parse, int modelMax)
    {
        int ctx = parse.GetValue(Context);
        if (ctx < 0)
        {
            throw new CliException($"--ctx must be positive, got {ctx}");
        }

        return ctx > 0 ? ctx : Math.Min(modelMax, 4096);
    }
}
