using System.CommandLine;
using System.Globalization;
using Llama2.Core.Tokenization;

namespace Llama2.Cli;

/// <summary><c>llama2 detokenize</c>: token ids on standard input → text.</summary>
internal static class DetokenizeCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var command = new Command("detokenize", "Decode token ids (separated by spaces, commas or newlines) read from standard input to text")
        {
            model,
        };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var tokenizer = TokenizerLoader.Load(parse.GetRequiredValue(model));
            var ids = ParseIds(Utf8Text.Decode(CliRunner.ReadAllStdin()));
            foreach (int id in ids)
            {
                if ((uint)id >= (uint)tokenizer.VocabSize)
                {
                    throw new CliException($"token id {id} is out of range: the vocabulary has {tokenizer.VocabSize} pieces (0..{tokenizer.VocabSize - 1})");
                }
            }

            using var stdout = CliRunner.OpenStdout();
            stdout.Write(tokenizer.Decode(ids));
            return 0;
        }));
        return command;
    }

    public static int[] ParseIds(string text)
    {
        var parts = text.Split([' ', ',', '\n', '\r', '\t', '[', ']'], StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ids[i]))
            {
                throw new CliException($"'{parts[i]}' is not a token id (expected integers separated by spaces or commas)");
            }
        }

        return ids;
    }
}
