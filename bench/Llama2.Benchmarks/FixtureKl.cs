using System.Runtime.InteropServices;
using System.Text.Json;
using LLama;
using LLama.Common;
using LLama.Native;
using Llama2.Core.Model;
using Llama2.Evaluation;
using Llama2.Inference;

namespace Llama2.Benchmarks;

/// <summary>
/// Accuracy of a GGUF file of the tiny-gqa fixture's model that the fixtures do not hold (Q5_K_M, Q3_K_M, Q2_K …,
/// made from its F32 file by <c>quantize</c>): mean KL from Meta's reference logits of our engine (prompt at once and
/// token by token) and of llama.cpp on the same file, over the fixture's prompts, as the fixture's README measures it.
/// <c>fixture-kl --fixtures ../shared/fixtures --model tiny-gqa-q5_k_m.gguf</c>
/// </summary>
internal static class FixtureKl
{
    public static int Run(string[] args)
    {
        string fixtures = "../shared/fixtures", model = "";
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--fixtures": fixtures = args[i + 1]; break;
                case "--model": model = args[i + 1]; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(fixtures, "tiny-gqa/expected/cases.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (Ids: c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(), Row: c.GetProperty("logits_row_offset").GetInt32()))
            .ToList();
        var meta = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(fixtures, "tiny-gqa/expected/logits-meta-reference.f32"))).ToArray();
        using var ours = ModelFile.Open(model);
        int vocab = ours.Config.VocabSize;

        var parameters = new ModelParams(model) { ContextSize = 256, Threads = 1, BatchThreads = 1, GpuLayerCount = 0, BatchSize = 256, UBatchSize = 256 };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var theirs = new float[meta.Length];
        var prefill = new float[meta.Length];
        var stepwise = new float[meta.Length];
        foreach (var (ids, row) in cases)
        {
            var handle = context.NativeHandle;
            handle.MemoryClear(true);
            var batch = new LLamaBatch();
            for (int i = 0; i < ids.Length; i++)
            {
                batch.Add((LLamaToken)ids[i], i, LLamaSeqId.Zero, true);
            }

            if (handle.Decode(batch) != DecodeResult.Ok)
            {
                throw new InvalidOperationException("llama.cpp decode failed");
            }

            for (int i = 0; i < ids.Length; i++)
            {
                handle.GetLogitsIth(i).CopyTo(theirs.AsSpan((row + i) * vocab, vocab));
            }

            var all = new float[ids.Length * vocab];
            new Transformer(ours, contextLength: 256).Forward(ids, all, allLogits: true);
            all.CopyTo(prefill, row * vocab);
            var transformer = new Transformer(ours, contextLength: 256);
            var one = new float[vocab];
            for (int i = 0; i < ids.Length; i++)
            {
                transformer.Forward([ids[i]], one);
                one.CopyTo(stepwise, (row + i) * vocab);
            }
        }

        Console.WriteLine($"| {Path.GetFileName(model)} | {Divergence.MeanKl(meta, prefill, vocab):G4} | {Divergence.MeanKl(meta, stepwise, vocab):G4} | {Divergence.MeanKl(meta, theirs, vocab):G4} | {Divergence.MeanKl(theirs, stepwise, vocab):G3} |");
        return 0;
    }
}
