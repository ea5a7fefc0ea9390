using System.CommandLine;

namespace Llama2.Cli;

/// <summary><c>llama2 tokenizer train</c>.</summary>
internal static class TokenizerTrainCommand
{
    public static Command Create()
    {
        var tokenizer = new Command("tokenizer", "Tokenizer tools");
        return tokenizer;
    }
}
