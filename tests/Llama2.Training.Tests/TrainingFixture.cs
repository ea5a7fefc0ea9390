using Llama2.Core.Tokenization;
using Llama2.Training.Pretraining;

namespace Llama2.Training.Tests;

/// <summary>A generated corpus and tokenizer shared by the training tests (no downloads, deterministic).</summary>
internal static class TrainingFixture
{
    private static readonly Lazy<string> s_folder = new(Create);

    public static string Folder => s_folder.Value;

    public static string Corpus => Path.Combine(Folder, "corpus.txt");

    public static string Tokenizer => Path.Combine(Folder, "tokenizer.model");

    /// <summary>A micro config over the shared corpus, writing into a fresh folder.</summary>
    public static PretrainConfig Micro(string output, int steps = 12) => PretrainConfig.ForPreset("micro") with
    {
        Inputs = [Corpus],
        Tokenizer = Tokenizer,
        Output = output,
        MaxSteps = steps,
        BatchTokens = 512,
        MicroBatch = 4,
        SeqLen = 32,
        EvalInterval = 4,
        EvalWindows = 8,
        CheckpointInterval = 6,
        Threads = 1,
    };

    private static string Create()
    {
        var folder = Path.Combine(Path.GetTempPath(), "llama2-training-tests-" + Environment.ProcessId);
        Directory.CreateDirectory(folder);
        var random = new Random(3);
        string[] subjects = ["the llama", "an alpaca", "the herd", "a shepherd", "the guanaco"];
        string[] verbs = ["grazes on", "walks across", "sleeps near", "watches", "climbs"];
        string[] objects = ["the high meadow", "a cold river", "the stone wall", "green grass", "the old barn"];
        var lines = Enumerable.Range(0, 4000).Select(_ =>
            $"{subjects[random.Next(subjects.Length)]} {verbs[random.Next(verbs.Length)]} {objects[random.Next(objects.Length)]}.");
        File.WriteAllLines(Path.Combine(folder, "corpus.txt"), lines);
        TokenizerTrainer.Train(File.ReadLines(Path.Combine(folder, "corpus.txt")), new TokenizerTrainerOptions { VocabSize = 320 })
            .Save(Path.Combine(folder, "tokenizer.model"));
        return folder;
    }
}
