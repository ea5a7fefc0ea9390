using System.CommandLine;
using Llama2.Core.Model;

namespace Llama2.Cli;

/// <summary><c>llama2 export</c> / <c>llama2 convert</c>: any readable model → GGUF (llama.cpp's layout).</summary>
internal static class ExportCommand
{
    public static Command Create(string verb)
    {
        var input = new Option<string>("--input", "-i") { Description = "A GGUF file, Hugging Face folder (e.g. a training checkpoint) or Meta folder", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "The GGUF file to write", Required = true };
        var type = new Option<string>("--type") { Description = "f32, f16, q8_0, q4_0 or q4_k_m", DefaultValueFactory = _ => "f16" };
        var command = new Command(verb, "Write a model as GGUF, quantized as llama-quantize does") { input, output, type };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var kind = GgufExporter.ParseType(parse.GetValue(type)!);
            using var model = ModelFile.Open(parse.GetRequiredValue(input));
            var path = parse.GetRequiredValue(output);
            GgufExporter.Export(model, path, kind);
            Console.Error.WriteLine($"wrote {path} ({new FileInfo(path).Length / (1024.0 * 1024):F1} MiB, {kind})");
            return 0;
        }));
        return command;
    }
}
