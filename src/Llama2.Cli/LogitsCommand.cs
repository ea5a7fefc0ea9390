using System.CommandLine;
using System.Runtime.InteropServices;
using Llama2.Core.Model;
using Llama2.Inference;

namespace Llama2.Cli;

/// <summary><c>llama2 logits</c>: float32 logits of every position, row-major [len(ids), vocab].</summary>
internal static class LogitsCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var ids = new Option<string>("--ids") { Description = "Token ids, e.g. 1,450,4996 (used as given: include BOS yourself)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Output file (float32 little-endian)", Required = true };
        var command = new Command("logits", "Write the logits after each prefix of the ids") { model, ids, output };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            using var file = ModelFile.Open(parse.GetRequiredValue(model));
            var tokens = GenerateCommand.ParseIdList(parse.GetRequiredValue(ids), file.Config.VocabSize);
            if (tokens.Length > file.Config.MaxSeqLen)
            {
                throw new CliException($"{tokens.Length} ids do not fit in the model's context of {file.Config.MaxSeqLen} tokens");
            }

            var transformer = new Transformer(file, tokens.Length);
            var logits = new float[tokens.Length * file.Config.VocabSize];
            transformer.Forward(tokens, logits, allLogits: true);
            var path = parse.GetRequiredValue(output);
            File.WriteAllBytes(path, MemoryMarshal.AsBytes(logits.AsSpan()).ToArray());
            Console.Error.WriteLine($"wrote {path}: [{tokens.Length}, {file.Config.VocabSize}] float32");
            return 0;
        }));
        return command;
    }
}
