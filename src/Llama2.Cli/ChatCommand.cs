using System.CommandLine;
using System.Runtime.CompilerServices;
using Llama2.Core.Model;
using Llama2.Inference;

namespace Llama2.Cli;

/// <summary><c>llama2 chat</c>: an interactive Llama 2-Chat conversation on the terminal.</summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var model = ModelOption.CreateWithDefault();
        var system = new Option<string?>("--system", "-s") { Description = "System prompt" };
        var sampling = new SamplingArguments();
        var command = new Command("chat", "Chat with a Llama 2-Chat model; /reset, /system TEXT, /exit") { model, system };
        sampling.AddTo(command);
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var options = sampling.Read(parse);
            using var file = ModelFile.Open(ModelOption.Resolve(parse.GetValue(model)));
            var generator = new Generator(file, sampling.ContextLength(parse, file.Config.MaxSeqLen));
            var session = new ChatSession(generator, parse.GetValue(system));
            using var stdout = CliRunner.OpenStdout();
            bool interactive = !Console.IsInputRedirected;
            Console.Error.WriteLine($"chatting with {file.Path} (context {generator.ContextLength} tokens). Commands: /reset, /system TEXT, /exit");
            while (true)
            {
                if (interactive)
                {
                    stdout.Write("> ");
                    stdout.Flush();
                }

                var line = Console.In.ReadLine();
                if (line is null || line.Trim() == "/exit")
                {
                    return 0;
                }

                if (line.Trim() == "/reset")
                {
                    session.Reset();
                    Console.Error.WriteLine("(conversation cleared)");
                    continue;
                }

                if (line.StartsWith("/system", StringComparison.Ordinal))
                {
                    session.System = line["/system".Length..].Trim();
                    session.Reset();
                    Console.Error.WriteLine(session.System.Length > 0 ? "(system prompt set; conversation cleared)" : "(system prompt removed; conversation cleared)");
                    continue;
                }

                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                int dropped = session.DroppedExchanges;
                var finish = new StrongBox<FinishReason>();
                try
                {
                    foreach (var token in session.Send(line, options, finish))
                    {
                        stdout.Write(token.Text);
                        stdout.Flush();
                    }
                }
                catch (ArgumentException e)
                {
                    Console.Error.WriteLine($"error: {e.Message}");
                    continue;
                }

                stdout.WriteLine();
                stdout.Flush();
                if (session.DroppedExchanges > dropped)
                {
                    Console.Error.WriteLine($"(dropped the {session.DroppedExchanges - dropped} oldest exchange(s) to fit the context window)");
                }

                if (finish.Value == FinishReason.Length)
                {
                    Console.Error.WriteLine($"(reply cut at {options.MaxTokens} tokens)");
                }
            }
        })));
        return command;
    }
}
