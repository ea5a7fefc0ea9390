using Llama2.Core.IO;
using Llama2.Training.Ppo;
using Llama2.Training.Sft;

namespace Llama2.Training.Tests;

/// <summary>A config file given with a preset overrides the preset's fields it names and keeps the rest.</summary>
public sealed class ConfigFileTests
{
    [Fact]
    public void A_config_over_a_preset_changes_only_the_fields_it_names()
    {
        using var dir = new TempDirectory();
        var path = dir.File("ppo.json");
        File.WriteAllText(path, "{ \"lr\": 5e-5, // the only change\n }");
        var small = PpoConfig.ForPreset("small");

        var config = PpoConfig.Load(path, small);

        Assert.Equal(5e-5, config.Lr);
        Assert.Equal(small with { Lr = 5e-5 }, config with { Prompts = small.Prompts, HeldOutPrompts = small.HeldOutPrompts });
        Assert.Empty(config.Prompts);
        Assert.NotEqual(new PpoConfig().PromptsPerIteration, config.PromptsPerIteration);
    }

    [Fact]
    public void A_config_alone_starts_from_the_type_defaults()
    {
        using var dir = new TempDirectory();
        var path = dir.File("sft.json");
        File.WriteAllText(path, "{ \"epochs\": 3 }");

        IReadOnlyList<string> none = [];
        SftConfig Lists(SftConfig c) => c with { Data = none, ValidationData = none };

        Assert.Equal(Lists(new SftConfig { Epochs = 3 }), Lists(SftConfig.Load(path)));
        Assert.Equal(Lists(SftConfig.ForPreset("micro") with { Epochs = 3 }), Lists(SftConfig.Load(path, SftConfig.ForPreset("micro"))));
    }

    [Theory]
    [InlineData("{ \"lrr\": 1e-5 }", "lrr")]
    [InlineData("[1, 2]", "not a valid PPO config")]
    [InlineData("{ \"lr\": \"fast\" }", "not a valid PPO config")]
    public void A_bad_config_over_a_preset_names_the_file_and_the_problem(string json, string expected)
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.json");
        File.WriteAllText(path, json);

        var error = Assert.Throws<InvalidModelFileException>(() => PpoConfig.Load(path, PpoConfig.ForPreset("tiny")));
        Assert.Contains("bad.json", error.Message);
        Assert.Contains(expected, error.Message);
    }
}
