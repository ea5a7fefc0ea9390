using System.CommandLine;
using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.Tokenization;

namespace Llama2.Cli;

/// <summary><c>llama2 tokenize</c>: standard input → token ids.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var jsonl = new Option<bool>("--jsonl") { Description = "Each input line is {\"text\": …} or {\"dialog\": […]}; each output line is {\"ids\": […]}" };
        var bos = new Option<bool>("--bos") { Description = "Prepend the BOS id (text input only)" };
        var eos = new Option<bool>("--eos") { Description = "Append the EOS id (text input only)" };
        var command = new Command("tokenize", "Encode standard input (all of it, exactly as given) to token ids, without BOS/EOS unless asked")
        {
            model, jsonl, bos, eos,
        };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var tokenizer = TokenizerLoader.Load(parse.GetRequiredValue(model));
            var input = CliRunner.ReadAllStdin();
            using var stdout = CliRunner.OpenStdout();
            if (parse.GetValue(jsonl))
            {
                EncodeJsonLines(tokenizer, input, parse.GetValue(bos), parse.GetValue(eos), stdout);
            }
            else
            {
                stdout.WriteLine(string.Join(' ', tokenizer.Encode(input, parse.GetValue(bos), parse.GetValue(eos))));
            }

            return 0;
        }));
        return command;
    }

    private static void EncodeJsonLines(LlamaTokenizer tokenizer, byte[] input, bool bos, bool eos, StreamWriter output)
    {
        var lines = Utf8Text.Decode(input).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            int[] ids;
            try
            {
                ids = EncodeLine(tokenizer, line, bos, eos);
            }
            catch (Exception e) when (e is JsonException or ChatFormatException or CliException)
            {
                throw new CliException($"input line {i + 1}: {e.Message}");
            }

            output.WriteLine(JsonSerializer.Serialize(new { ids }));
        }
    }

    private static int[] EncodeLine(LlamaTokenizer tokenizer, string line, bool bos, bool eos)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("text", out var text))
        {
            return text.ValueKind == JsonValueKind.String
                ? tokenizer.Encode(text.GetString()!, bos, eos)
                : throw new CliException("\"text\" must be a string");
        }

        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("dialog", out var dialog))
        {
            return Llama2ChatFormat.EncodeDialog(tokenizer, DialogJson.Parse(dialog));
        }

        throw new CliException("expected an object with \"text\" or \"dialog\"");
    }
}
