using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;
using Llama2.Inference;

namespace Llama2.Cli;

/// <summary><c>llama2 bench</c>: prompt and generation tokens/s, like llama-bench; <c>bench model</c> writes a random model of a real shape.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "A model (GGUF, Hugging Face or Meta folder)" };
        var prompt = new Option<int>("-p") { Description = "Prompt tokens (0 skips the prompt test)", DefaultValueFactory = _ => 512 };
        var generate = new Option<int>("-n") { Description = "Generated tokens (0 skips the generation test)", DefaultValueFactory = _ => 128 };
        var threads = new Option<int[]>("-t") { Description = "Threads (repeatable: -t 1 -t 2)", AllowMultipleArgumentsPerToken = true };
        var repetitions = new Option<int>("-r") { Description = "Repetitions", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "One JSON line per test with llama-bench's field names" };
        var command = new Command("bench", "Measure prompt-processing and generation speed (like llama-bench)") { model, prompt, generate, threads, repetitions, json };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            var path = parse.GetValue(model) ?? throw new CliException("--model is required (or use 'llama2 bench model' to write a random one)");
            int p = parse.GetValue(prompt), n = parse.GetValue(generate), r = parse.GetValue(repetitions);
            if (p < 0 || n < 0 || r < 1)
            {
                throw new CliException("-p and -n must be ≥ 0 and -r ≥ 1");
            }

            var threadCounts = parse.GetValue(threads) is { Length: > 0 } t ? t : [Environment.ProcessorCount];
            using var file = ModelFile.Open(path);
            using var stdout = CliRunner.OpenStdout();
            if (!parse.GetValue(json))
            {
                stdout.WriteLine($"{path}: {file.Config.Dim} dim, {file.Config.NLayers} layers, {string.Join(", ", file.Tensors.Values.GroupBy(x => x.Type).Select(g => $"{g.Key}×{g.Count()}"))}");
                stdout.WriteLine("| test | threads | t/s |");
                stdout.WriteLine("| --- | ---: | ---: |");
            }

            foreach (int th in threadCounts)
            {
                if (th < 1)
                {
                    throw new CliException($"-t must be ≥ 1, got {th}");
                }

                var results = new List<ThroughputResult>();
                if (p > 0)
                {
                    results.Add(Throughput.Prompt(file, p, th, r));
                }

                if (n > 0)
                {
                    results.Add(Throughput.Generation(file, n, th, r));
                }

                foreach (var result in results)
                {
                    if (parse.GetValue(json))
                    {
                        stdout.WriteLine(JsonSerializer.Serialize(new
                        {
                            model = path, n_prompt = result.Prompt, n_gen = result.Generated, n_threads = result.Threads,
                            avg_ts = result.Mean, stddev_ts = result.StdDev, samples_ts = result.Samples,
                        }));
                    }
                    else
                    {
                        var test = result.Prompt > 0 ? $"pp{result.Prompt}" : $"tg{result.Generated}";
                        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {test} | {result.Threads} | {result.Mean:F2} ± {result.StdDev:F2} |"));
                    }

                    stdout.Flush();
                }
            }

            return 0;
        }));

        var preset = new Option<string>("--preset") { Description = "7b, 13b, 70b, bench (134M: dim 768, 12 layers) or tiny", Required = true };
        var type = new Option<string>("--type") { Description = "f32, f16, q8_0, q4_0 or q4_k_m", DefaultValueFactory = _ => "q4_0" };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file to write", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Use this vocabulary (e.g. the real Llama 2 tokenizer.model) instead of a placeholder one" };
        var make = new Command("model", "Write a GGUF of a real Llama 2 shape with random weights (for benchmarks; nothing downloaded)") { preset, type, output, tokenizer };
        make.SetAction(parse => CliRunner.Run(() =>
        {
            var config = SyntheticModel.Preset(parse.GetRequiredValue(preset));
            var vocabulary = parse.GetValue(tokenizer) is { } tk ? TokenizerLoader.Load(tk) : null;
            var path = parse.GetRequiredValue(output);
            SyntheticModel.Write(path, config with { VocabSize = vocabulary?.VocabSize ?? config.VocabSize }, GgufExporter.ParseType(parse.GetValue(type)!), vocabulary);
            Console.Error.WriteLine($"wrote {path} ({new FileInfo(path).Length / (1024.0 * 1024 * 1024):F2} GiB)");
            return 0;
        }));
        command.Subcommands.Add(make);
        return command;
    }
}
