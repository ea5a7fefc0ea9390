using System.CommandLine;
using System.Globalization;
using Llama2.Core.Model;
using Llama2.Evaluation;
using Spectre.Console;

namespace Llama2.Cli;

/// <summary><c>llama2 perplexity</c>: llama-perplexity's method, with a progress bar.</summary>
internal static class PerplexityCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var file = new Option<string>("--file", "-f") { Description = "Text file to score", Required = true };
        var ctx = new Option<int>("--ctx", "-c") { Description = "Tokens per chunk (the second half of each is scored)", DefaultValueFactory = _ => 512 };
        var command = new Command("perplexity", "Perplexity of a text, computed as llama.cpp's llama-perplexity does") { model, file, ctx };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var path = parse.GetRequiredValue(file);
            if (!File.Exists(path))
            {
                throw new CliException($"{path}: no such file");
            }

            using var m = ModelFile.Open(parse.GetRequiredValue(model));
            var text = File.ReadAllText(path);
            PerplexityResult result;
            try
            {
                if (Console.IsOutputRedirected)
                {
                    result = Evaluation.Perplexity.Compute(m, text, parse.GetValue(ctx),
                        (done, total, ppl) => Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"[{done}]{ppl:F4},")));
                    Console.Error.WriteLine();
                }
                else
                {
                    result = null!;
                    AnsiConsole.Progress().Start(context =>
                    {
                        var task = context.AddTask("perplexity");
                        result = Evaluation.Perplexity.Compute(m, text, parse.GetValue(ctx), (done, total, ppl) =>
                        {
                            task.MaxValue = total;
                            task.Value = done;
                            task.Description = string.Create(CultureInfo.InvariantCulture, $"chunk {done}/{total} PPL {ppl:F4}");
                        });
                    });
                }
            }
            catch (ArgumentException e)
            {
                throw new CliException(e.Message);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Final estimate: PPL = {result.Perplexity:F4} +/- {result.StdError:F5} ({result.Chunks} chunks of {parse.GetValue(ctx)}, {result.ScoredTokens} tokens scored)"));
            return 0;
        }));
        return command;
    }
}
