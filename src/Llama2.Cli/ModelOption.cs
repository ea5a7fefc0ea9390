using System.CommandLine;

namespace Llama2.Cli;

internal static class ModelOption
{
    /// <summary>The shipped chat model's file name: <c>models/</c> in the repository, copied next to the binary by the build.</summary>
    public const string DefaultModelName = "llama2-world-small.gguf";

    /// <summary>The <c>--model</c> option shared by every verb that loads a model or tokenizer.</summary>
    public static Option<string> Create() => new("--model", "-m")
    {
        Description = "A GGUF file, a Hugging Face or Meta model folder, or a SentencePiece tokenizer.model",
        Required = true,
    };

    /// <summary>The <c>--model</c> option of <c>chat</c> and <c>serve</c>: optional, the shipped model when absent.</summary>
    public static Option<string?> CreateWithDefault() => new("--model", "-m")
    {
        Description = $"A GGUF file, a Hugging Face or Meta model folder (default: the shipped chat model, models/{DefaultModelName})",
    };

    /// <summary>The shipped model's path next to the binary.</summary>
    public static string DefaultModel => Path.Combine(AppContext.BaseDirectory, "models", DefaultModelName);

    /// <summary>The given model, or the shipped one; one clear error when neither exists.</summary>
    public static string Resolve(string? given)
    {
        if (given is not null)
        {
            return given;
        }

        return File.Exists(DefaultModel)
            ? DefaultModel
            : throw new CliException($"--model is required: the shipped model {DefaultModel} is not there (build from a clone that has models/{DefaultModelName})");
    }
}
