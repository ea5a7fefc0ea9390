using System.Diagnostics;
using System.Text.Json.Nodes;
using Llama2.Core.IO;
using Llama2.Core.Model;
using Llama2.Inference;
using Llama2.Training.Pretraining;
using Llama2.Training.Runs;
using static TorchSharp.torch;

namespace Llama2.Training.Tests;

public sealed class PretrainTests
{
    private static List<JsonObject> Metrics(string run) =>
        [.. File.ReadLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject())];

    [Fact]
    public void Training_lowers_validation_loss_and_writes_the_run_folder()
    {
        using var dir = new TempDirectory();
        var result = new PretrainTrainer(TrainingFixture.Micro(dir.Path, steps: 24)).Run();
        Assert.True(result.LastValLoss < result.FirstValLoss - 0.5, $"validation loss {result.FirstValLoss} → {result.LastValLoss}");
        var metrics = Metrics(dir.Path);
        Assert.Equal(24, metrics.Count);
        Assert.All(metrics, m => Assert.NotNull(m["lr"]));
        Assert.True(File.Exists(Path.Combine(dir.Path, "loss.png")));
        Assert.True(File.Exists(Path.Combine(dir.Path, "final", "model.safetensors")));
        Assert.NotNull(Checkpoint.FindLatest(Path.Combine(dir.Path, "checkpoints")));
    }

    [Fact]
    public void Resume_continues_the_same_trajectory()
    {
        using var whole = new TempDirectory();
        new PretrainTrainer(TrainingFixture.Micro(whole.Path, steps: 12)).Run();

        using var split = new TempDirectory();
        using var stop = new CancellationTokenSource();
        new PretrainTrainer(TrainingFixture.Micro(split.Path, steps: 12), report: r =>
        {
            if (r.Step == 6)
            {
                stop.Cancel(); // the trainer checkpoints at step 6 and stops, as on Ctrl+C
            }
        }).Run(cancellation: stop.Token);
        Assert.Equal("step-000006", Path.GetFileName(Checkpoint.FindLatest(Path.Combine(split.Path, "checkpoints"))));
        new PretrainTrainer(TrainingFixture.Micro(split.Path, steps: 12)).Run(resume: true);

        var a = Metrics(whole.Path);
        var b = Metrics(split.Path);
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(Plots.Number(a[i]["loss"]!), Plots.Number(b[i]["loss"]!), 5);
        }

        using var fa = ModelFile.Open(Path.Combine(whole.Path, "final"));
        using var fb = ModelFile.Open(Path.Combine(split.Path, "final"));
        var wa = fa[TensorNames.Wq(1)].Data.ToArray();
        var wb = fb[TensorNames.Wq(1)].Data.ToArray();
        Assert.Equal(wa, wb);
    }

    [Fact]
    public void A_killed_checkpoint_write_leaves_the_previous_checkpoint_loadable()
    {
        using var dir = new TempDirectory();
        new PretrainTrainer(TrainingFixture.Micro(dir.Path, steps: 6)).Run();
        var checkpoints = Path.Combine(dir.Path, "checkpoints");

        // What a kill -9 in the middle of Checkpoint.Save leaves: a partial ".tmp" folder.
        var partial = Path.Combine(checkpoints, "step-000012.tmp");
        Directory.CreateDirectory(partial);
        File.WriteAllText(Path.Combine(partial, "model.safetensors"), "half a file");
        Assert.Equal("step-000006", Path.GetFileName(Checkpoint.FindLatest(checkpoints)));

        var result = new PretrainTrainer(TrainingFixture.Micro(dir.Path, steps: 8)).Run(resume: true);
        Assert.Equal(8, result.Steps);
    }

    [Fact]
    public void Kill_9_at_random_moments_never_loses_a_checkpoint()
    {
        using var dir = new TempDirectory();
        var config = TrainingFixture.Micro(dir.Path, steps: 400) with { CheckpointInterval = 1, EvalInterval = 1000 };
        File.WriteAllText(dir.File("config.json"), System.Text.Json.JsonSerializer.Serialize(config, PretrainConfig.Json));
        var cli = Path.Combine(AppContext.BaseDirectory, "llama2.dll");
        Skip.IfNot(File.Exists(cli), "the llama2 CLI is not built next to the tests");
        var random = new Random(11);
        long lastStep = 0;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "exec", cli, "pretrain", "--config", dir.File("config.json"), "--resume" })
            {
                start.ArgumentList.Add(a);
            }

            using var process = Process.Start(start)!;

            // Let it train (a loaded machine can take a while to start), then kill at a random moment.
            var checkpoints = Path.Combine(dir.Path, "checkpoints");
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(90) && !process.HasExited && Checkpoint.FindLatest(checkpoints) is null)
            {
                Thread.Sleep(50);
            }

            Thread.Sleep(random.Next(1500));
            process.Kill(entireProcessTree: true); // SIGKILL
            process.WaitForExit();

            var latest = Checkpoint.FindLatest(Path.Combine(dir.Path, "checkpoints"));
            if (latest is null)
            {
                continue; // killed before the first checkpoint
            }

            var state = Checkpoint.LoadState(latest);
            Assert.True(state.Step >= lastStep, "a checkpoint went backwards");
            lastStep = state.Step;
            using var model = new LlamaModel(config.ModelConfig(320));
            Checkpoint.Load(latest, model, new Optim.AdamW(model.named_parameters()));
        }

        Assert.True(lastStep > 0, "no checkpoint was ever written");
    }

    [Fact]
    public void The_engine_runs_a_trained_checkpoint_with_the_same_logits()
    {
        using var dir = new TempDirectory();
        var result = new PretrainTrainer(TrainingFixture.Micro(dir.Path, steps: 6)).Run();
        using var file = ModelFile.Open(result.FinalModel);
        using var model = new LlamaModel(file.Config);
        model.LoadWeights(file);
        int[] ids = [1, 20, 40, 60, 80, 100, 120];
        using var noGrad = no_grad();
        var expected = model.forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)).flatten().data<float>().ToArray();
        var actual = new float[ids.Length * file.Config.VocabSize];
        new Transformer(file, 16).Forward(ids, actual, allLogits: true);
        Assert.True(expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max() < 1e-4);
    }

    [Theory]
    [InlineData(ExportType.F32, 1e-4)]
    [InlineData(ExportType.F16, 2e-2)]
    [InlineData(ExportType.Q8_0, 0.2)]
    public void A_trained_model_exported_to_gguf_runs_in_the_engine(ExportType type, double tolerance)
    {
        using var dir = new TempDirectory();
        var result = new PretrainTrainer(TrainingFixture.Micro(dir.Path, steps: 6) with { Dim = 64, HiddenDim = 256 }).Run();
        using var file = ModelFile.Open(result.FinalModel);
        var gguf = dir.File("model.gguf");
        GgufExporter.Export(file, gguf, type);
        using var exported = ModelFile.Open(gguf);
        Assert.Equal(file.Config with { MaxSeqLen = 0 }, exported.Config with { MaxSeqLen = 0 });
        Assert.Equal(file.Tokenizer.Encode("the llama grazes"), exported.Tokenizer.Encode("the llama grazes"));

        using var model = new LlamaModel(file.Config);
        model.LoadWeights(file);
        int[] ids = [1, 20, 40, 60, 80];
        using var noGrad = no_grad();
        var expected = model.forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)).flatten().data<float>().ToArray();
        var actual = new float[ids.Length * file.Config.VocabSize];
        new Transformer(exported, 16).Forward(ids, actual, allLogits: true);
        double worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < tolerance, $"{type}: max |Δlogit| {worst}");
    }

    [Fact]
    public void Bad_configs_and_data_fail_before_training()
    {
        using var dir = new TempDirectory();
        var c = TrainingFixture.Micro(dir.Path);
        Assert.Contains("not divisible by n_heads", Assert.Throws<InvalidModelFileException>(() => new PretrainTrainer(c with { Dim = 30 }).Run()).Message);
        Assert.Contains("not a multiple of n_kv_heads", Assert.Throws<InvalidModelFileException>(() => new PretrainTrainer(c with { NKvHeads = 3 }).Run()).Message);

        var missing = Assert.Throws<InvalidModelFileException>(() => new PretrainTrainer(c with { Inputs = [dir.File("absent.txt")] }).Run());
        Assert.Contains("absent.txt", missing.Message);

        File.WriteAllText(dir.File("empty.txt"), "");
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new PretrainTrainer(c with { Inputs = [dir.File("empty.txt")] }).Run()).Message);

        File.WriteAllText(dir.File("bad.jsonl"), "{\"text\": \"fine\"}\n{not json}\n");
        Assert.Contains("bad.jsonl:2", Assert.Throws<InvalidModelFileException>(() => new PretrainTrainer(c with { Inputs = [dir.File("bad.jsonl")] }).Run()).Message);

        Assert.Contains("seq_len", Assert.Throws<ArgumentException>(() => new PretrainTrainer(c with { SeqLen = 1 }).Run()).Message);
        Assert.Contains("unknown preset", Assert.Throws<ArgumentException>(() => new PretrainTrainer(c with { Preset = "huge" }).Run()).Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "checkpoints")));
    }

    [Fact]
    public void A_checkpoint_of_another_shape_is_refused()
    {
        using var dir = new TempDirectory();
        var result = new PretrainTrainer(TrainingFixture.Micro(dir.Path, steps: 6)).Run();
        using var other = new LlamaModel((TrainingFixture.Micro(dir.Path) with { Preset = "tiny" }).ModelConfig(320));
        var latest = Checkpoint.FindLatest(Path.Combine(result.RunFolder, "checkpoints"))!;
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Load(latest, other, null));
        Assert.Contains("another shape", e.Message);
    }
}
