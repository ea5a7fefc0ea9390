using System.Diagnostics;
using System.Globalization;
using Llama2.Core.Model;
using Llama2.Training;
using Llama2.Training.Optim;
using static TorchSharp.torch;

namespace Llama2.Benchmarks;

/// <summary>
/// Tokens/s of one training step (forward, backward, clipping, AdamW) of <see cref="LlamaModel"/> on random
/// tokens: the side-by-side peer of bench/pretrain_step_pytorch.py (same flags, same shape).
/// </summary>
internal static class TrainThroughput
{
    public static int Run(string[] args)
    {
        var o = new Dictionary<string, int>
        {
            ["vocab"] = 4096, ["dim"] = 288, ["layers"] = 6, ["heads"] = 6, ["kv-heads"] = 6, ["hidden"] = 768,
            ["seq"] = 256, ["micro"] = 8, ["steps"] = 10, ["warmup"] = 2, ["threads"] = 2,
        };
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            o[args[i].TrimStart('-')] = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
        }

        TorchSetup.SetThreads(o["threads"]);
        manual_seed(0);
        var config = new ModelConfig
        {
            Dim = o["dim"], NLayers = o["layers"], NHeads = o["heads"], NKvHeads = o["kv-heads"], HiddenDim = o["hidden"],
            VocabSize = o["vocab"], MaxSeqLen = o["seq"],
        };
        using var model = new LlamaModel(config);
        var optimizer = new AdamW(model.named_parameters(), 0.9, 0.95, 1e-5, 0.1);
        var data = randint(0, o["vocab"], [o["micro"], o["seq"] + 1]);
        var inputs = data[.., ..^1];
        var targets = data[.., 1..];
        var times = new List<double>();
        for (int step = 0; step < o["warmup"] + o["steps"]; step++)
        {
            var clock = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                var loss = Losses.NextTokenCrossEntropy(model.forward(inputs), targets);
                loss.backward();
                optimizer.ClipGradNorm(1.0);
                optimizer.Update(3e-4);
                optimizer.ZeroGrad();
            }

            if (step >= o["warmup"])
            {
                times.Add(clock.Elapsed.TotalSeconds);
            }
        }

        times.Sort();
        double tokens = o["micro"] * o["seq"];
        long parameters = model.parameters().Sum(p => p.numel());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"llama2 (C#, TorchSharp) ({parameters:N0} parameters, batch {o["micro"]}x{o["seq"]}, {o["threads"]} threads): {tokens / times[times.Count / 2]:F0} tokens/s median, {tokens / times[0]:F0} best"));
        return 0;
    }
}
