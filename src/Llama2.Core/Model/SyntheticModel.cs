using Llama2.Core.Gguf;
using Llama2.Core.Quantization;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Model;

/// <summary>
/// Writes a Llama 2-shaped GGUF with random but valid weights of any size and type, so speed and memory can
/// be measured on real shapes (7B, 13B, a 134M "bench" shape) without downloads: random weights do the same work.
/// Rows are drawn from N(0, 0.02), quantized with the real quantizers, and tiled, which keeps writing a 7B file fast.
/// </summary>
public static class SyntheticModel
{
    /// <summary>Shapes by name: the Llama 2 sizes, "bench" (dim 768, 12 layers: the 134M shape of the bench goals) and "tiny".</summary>
    public static ModelConfig Preset(string name) => name.ToLowerInvariant() switch
    {
        "7b" => ModelConfig.Llama2_7B,
        "13b" => ModelConfig.Llama2_13B,
        "70b" => ModelConfig.Llama2_70B,
        "bench" => new ModelConfig { Dim = 768, NLayers = 12, NHeads = 12, NKvHeads = 12, HiddenDim = 2048, VocabSize = 32000 },
        "tiny" => new ModelConfig { Dim = 288, NLayers = 6, NHeads = 6, NKvHeads = 6, HiddenDim = 768, VocabSize = 32000 },
        _ => throw new ArgumentException($"unknown preset '{name}' (7b, 13b, 70b, bench, tiny)"),
    };

    public static void Write(string path, ModelConfig config, ExportType type, LlamaTokenizer? tokenizer = null, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(config);
        tokenizer ??= SyntheticTokenizer(config.VocabSize);
        if (tokenizer.VocabSize != config.VocabSize)
        {
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabSize} pieces but the shape needs {config.VocabSize}");
        }

        var random = new Random(seed);
        var tensors = new Dictionary<string, ModelTensor>();
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            var target = GgufExporter.TargetType(name, shape, type, TensorNames.LayerOf(name), config.NLayers);
            tensors[name] = Random(name, shape, target, random);
        }

        using var model = new ModelFile(path, ModelFormat.Gguf, config, tokenizer, tensors, []);
        GgufExporter.Export(model, path, type, name: "synthetic");
    }

    /// <summary>A tensor of <paramref name="type"/> whose rows repeat 64 random rows (norm weights are 1).</summary>
    private static ModelTensor Random(string name, int[] shape, GgmlType type, Random random)
    {
        int rows = shape.Length == 1 ? 1 : shape[0], cols = shape[^1];
        GgmlTypeInfo.TryGetBlock(type, out int blockElements, out int blockBytes);
        int rowBytes = cols / blockElements * blockBytes;
        var data = new byte[(long)rowBytes * rows];
        var row = new float[cols];
        int distinct = Math.Min(rows, 64);
        for (int r = 0; r < distinct; r++)
        {
            for (int i = 0; i < cols; i++)
            {
                row[i] = shape.Length == 1 ? 1f : (float)(NextGaussian(random) * 0.02);
            }

            Quantize.Row(type, row, data.AsSpan(r * rowBytes, rowBytes));
        }

        for (int r = distinct; r < rows; r++)
        {
            data.AsSpan((r % distinct) * rowBytes, rowBytes).CopyTo(data.AsSpan(r * rowBytes, rowBytes));
        }

        return new ModelTensor(name, shape, type, data);
    }

    private static double NextGaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>A Llama-style vocabulary of the given size: the special and byte pieces, then placeholder pieces.</summary>
    public static LlamaTokenizer SyntheticTokenizer(int vocabSize)
    {
        var pieces = new List<VocabularyPiece> { new("<unk>", 0, PieceType.Unknown), new("<s>", 0, PieceType.Control), new("</s>", 0, PieceType.Control) };
        pieces.AddRange(Enumerable.Range(0, 256).Select(b => new VocabularyPiece($"<0x{b:X2}>", 0, PieceType.Byte)));
        for (int i = pieces.Count; i < vocabSize; i++)
        {
            pieces.Add(new VocabularyPiece($"▁piece{i}", -i, PieceType.Normal));
        }

        return new LlamaTokenizer(new SentencePieceModel(pieces, new NormalizerSpec(), new TrainerSpec { VocabSize = vocabSize }));
    }
}
