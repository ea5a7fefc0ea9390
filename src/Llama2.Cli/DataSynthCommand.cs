using System.CommandLine;
using System.Diagnostics;
using Llama2.Core.World;

namespace Llama2.Cli;

/// <summary><c>llama2 data synth</c>: writes the built-in synthetic world's datasets as files.</summary>
internal static class DataSynthCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Folder to write the datasets into (created if needed)", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed of every random choice (same seed, same files)", DefaultValueFactory = _ => 1 };
        var size = new Option<string>("--size") { Description = "tiny (the quickstart) or small (a few times larger)", DefaultValueFactory = _ => "tiny" };
        var synth = new Command("synth", "Write the built-in world: pretraining text, SFT dialogs, preference pairs, prompts with judge data, GAtt dialogs, safety preprompts")
        {
            output, seed, size,
        };
        synth.SetAction(parse => CliRunner.Run(() =>
        {
            var name = parse.GetValue(size) ?? "tiny";
            if (name is not ("tiny" or "small"))
            {
                throw new CliException($"--size must be 'tiny' or 'small', got '{name}'");
            }

            var clock = Stopwatch.StartNew();
            var world = SyntheticWorld.Generate(WorldOptions.ForSize(name, parse.GetValue(seed)));
            var directory = parse.GetRequiredValue(output);
            var files = WorldFiles.Write(world, directory);
            foreach (var file in files)
            {
                Console.Error.WriteLine($"{Path.Combine(directory, file.Path)}: {file.Count} records, {file.Bytes} bytes");
            }

            Console.Error.WriteLine($"wrote the {name} world (seed {world.Options.Seed}) to {directory} in {clock.Elapsed.TotalSeconds:F1} s");
            return 0;
        }));
        return new Command("data", "Datasets") { synth, DataAnnotateCommand.Create() };
    }
}
