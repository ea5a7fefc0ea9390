using System.Text.Json;

namespace Llama2.Cli.Tests;

public sealed class DataSynthCommandTests
{
    [Fact]
    public void Data_synth_writes_the_world_files_and_a_manifest()
    {
        using var dir = new TempDirectory();
        var result = CliProcess.Run(null, "data", "synth", "--out", dir.Path, "--seed", "3", "--size", "tiny");
        Assert.True(result.ExitCode == 0, result.Stderr);
        foreach (var file in new[]
        {
            "pretrain/train.jsonl", "pretrain/validation.jsonl", "train/sft.jsonl", "train/preferences_helpfulness.jsonl",
            "train/preferences_safety.jsonl", "train/prompts.jsonl", "train/gatt.jsonl", "heldout/prompts.jsonl",
            "heldout/preferences_helpfulness.jsonl", "heldout/preferences_safety.jsonl", "heldout/gatt.jsonl",
            "safety/preprompts.jsonl", "lexicon.json", "entities.json", "README.md",
        })
        {
            Assert.True(new FileInfo(dir.File(file)).Length > 0, file);
        }

        using var manifest = JsonDocument.Parse(File.ReadAllText(dir.File("manifest.json")));
        Assert.Equal(3UL, manifest.RootElement.GetProperty("seed").GetUInt64());
        Assert.Equal("tiny", manifest.RootElement.GetProperty("size").GetString());
        var sft = manifest.RootElement.GetProperty("files").EnumerateArray().First(f => f.GetProperty("path").GetString() == "train/sft.jsonl");
        Assert.Equal(File.ReadLines(dir.File("train/sft.jsonl")).Count(), sft.GetProperty("count").GetInt32());

        using var line = JsonDocument.Parse(File.ReadLines(dir.File("train/preferences_safety.jsonl")).First());
        foreach (var field in new[] { "messages", "chosen", "rejected", "rating", "safety_label" })
        {
            Assert.True(line.RootElement.TryGetProperty(field, out _), field);
        }
    }

    [Fact]
    public void A_bad_size_gets_one_clear_error()
    {
        using var dir = new TempDirectory();
        var result = CliProcess.Run(null, "data", "synth", "--out", dir.Path, "--size", "huge");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: --size must be 'tiny' or 'small', got 'huge'", result.Stderr.Trim());
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }
}
