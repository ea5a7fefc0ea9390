using System.Runtime.InteropServices;
using System.Text.Json;
using Llama2.Core.Model;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Llama2.Training.Tests;

/// <summary>The TorchSharp model against Meta's reference logits on the tiny-gqa fixture.</summary>
public sealed class LlamaModelParityTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData("tiny-gqa/meta")]
    [InlineData("tiny-gqa/hf")]
    [InlineData("tiny-gqa/gguf/tiny-gqa-f32.gguf")]
    public void Logits_match_Meta_reference(string layout)
    {
        using var file = ModelFile.Open(Fixtures.Path(layout));
        using var model = new LlamaModel(file.Config);
        model.LoadWeights(file);
        model.eval();
        var meta = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Fixtures.Path("tiny-gqa/expected/logits-meta-reference.f32"))).ToArray();
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixtures.Path("tiny-gqa/expected/cases.json")));
        double worst = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            long[] ids = [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64())];
            int row = c.GetProperty("logits_row_offset").GetInt32();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = model.forward(tensor(ids).unsqueeze(0)).squeeze(0).data<float>().ToArray();
            for (int i = 0; i < logits.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(logits[i] - meta[row * 512 + i]));
            }
        }

        output.WriteLine($"{layout}: max |Δlogit| vs Meta = {worst:G3}");
        Assert.True(worst < 1e-4, $"max |Δlogit| {worst}");
    }
}
