using System.CommandLine;

namespace Llama2.Cli;

internal static class ModelOption
{
    /// <summary>The <c>--model</c> option shared by every verb that loads a model or tokenizer.</summary>
    public static Option<string> Create() => new("--model", "-m")
    {
        Description = "A GGUF file, a Hugging Face or Meta model folder, or a SentencePiece tokenizer.model",
        Required = true,
    };
}
