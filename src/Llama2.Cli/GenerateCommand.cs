using System.CommandLine;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Llama2.Core.Model;
using Llama2.Inference;

namespace Llama2.Cli;

/// <summary><c>llama2 generate</c>: text completion, streamed, or <c>--json</c>.</summary>
internal static class GenerateCommand
{
    private static readonly JsonSerializerOptions s_json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var model = ModelOption.Create();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text (encoded with BOS, as Meta's text completion does)" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as token ids, used as given: 1,450,4996" };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating after EOS" };
        var json = new Option<bool>("--json") { Description = "Print {\"ids\": [generated ids], \"text\": generated text} instead of streaming" };
        var sampling = new SamplingArguments();
        var command = new Command("generate", "Complete a prompt") { model, prompt, promptIds, ignoreEos, json };
        sampling.AddTo(command);
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var text = parse.GetValue(prompt);
            var idsText = parse.GetValue(promptIds);
            if ((text is null) == (idsText is null))
            {
                throw new CliException("give exactly one of --prompt or --prompt-ids");
            }

            var options = sampling.Read(parse, parse.GetValue(ignoreEos));
            using var file = ModelFile.Open(parse.GetRequiredValue(model));
            int[] ids = text is not null ? file.Tokenizer.Encode(text, addBos: true) : ParseIdList(idsText!, file.Config.VocabSize);
            int ctx = parse.GetValue(sampling.Context) > 0
                ? sampling.ContextLength(parse, file.Config.MaxSeqLen)
                : Math.Min(file.Config.MaxSeqLen, ids.Length + options.MaxTokens + 1);
            var generator = new Generator(file, ctx);
            using var stdout = CliRunner.OpenStdout();
            try
            {
                if (parse.GetValue(json))
                {
                    var result = generator.Complete(ids, options, cancellation);
                    stdout.WriteLine(JsonSerializer.Serialize(new { ids = result.Ids, text = result.Text }, s_json));
                    return 0;
                }

                var finish = new StrongBox<FinishReason>();
                foreach (var token in generator.Generate(ids, options, finish, cancellation))
                {
                    stdout.Write(token.Text);
                    stdout.Flush();
                }

                stdout.WriteLine();
                if (finish.Value == FinishReason.ContextFull)
                {
                    Console.Error.WriteLine($"note: stopped because the context window of {generator.ContextLength} tokens is full");
                }
            }
            catch (ArgumentException e)
            {
                throw new CliException(e.Message);
            }

            return 0;
        })));
        return command;
    }

    /// <summary>Parses "1,2,3" (or spaces), checking each id against the vocabulary.</summary>
    public static int[] ParseIdList(string text, int vocabSize)
    {
        var ids = DetokenizeCommand.ParseIds(text);
        if (ids.Length == 0)
        {
            throw new CliException("the id list is empty");
        }

        foreach (int id in ids)
        {
            if ((uint)id >= (uint)vocabSize)
            {
                throw new CliException($"token id {id} is out of range: the vocabulary has {vocabSize} tokens (0..{vocabSize - 1})");
            }
        }

        return ids;
    }
}
