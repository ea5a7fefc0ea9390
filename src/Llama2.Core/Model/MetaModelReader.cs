using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Model;

/// <summary>
/// Reads Meta's folder: <c>params.json</c>, <c>tokenizer.model</c> and <c>consolidated.NN.pth</c>
/// (PyTorch zip checkpoints, read with <see cref="RestrictedUnpickler"/>). One shard is used in place;
/// model-parallel shards (13B: 2, 70B: 8) are joined along the axis Meta split them on.
/// </summary>
internal static class MetaModelReader
{
    private const long MaxPickleBytes = 64L << 20;

    public static ModelFile Read(string folder)
    {
        var tokenizerPath = System.IO.Path.Combine(folder, "tokenizer.model");
        var tokenizer = File.Exists(tokenizerPath)
            ? TokenizerLoader.FromSentencePiece(tokenizerPath)
            : throw InvalidModelFileException.For(folder, "folder has no tokenizer.model");
        var config = ModelConfig.FromMetaParams(System.IO.Path.Combine(folder, "params.json"), tokenizer.VocabSize, 0);
        var shards = Directory.GetFiles(folder, "consolidated.*.pth").Order(StringComparer.Ordinal).ToArray();
        if (shards.Length == 0)
        {
            throw InvalidModelFileException.For(folder, "folder has no consolidated.NN.pth checkpoint");
        }

        var owned = new List<IDisposable>();
        try
        {
            var perShard = shards.Select(path => ReadShard(path, owned)).ToList();
            var tensors = new Dictionary<string, ModelTensor>(StringComparer.Ordinal);
            foreach (var name in perShard[0].Keys)
            {
                if (name == "rope.freqs")
                {
                    continue; // Llama 1 checkpoints carry precomputed RoPE frequencies
                }

                var parts = perShard.Select((s, i) => s.TryGetValue(name, out var t) ? t
                    : throw InvalidModelFileException.For(shards[i], $"tensor '{name}' is missing from this shard")).ToList();
                tensors[name] = parts.Count == 1 ? parts[0] : Join(name, parts, shards[0]);
            }

            return new ModelFile(folder, ModelFormat.Meta, config, tokenizer, tensors, owned);
        }
        catch
        {
            owned.ForEach(d => d.Dispose());
            throw;
        }
    }

    private static Dictionary<string, ModelTensor> ReadShard(string path, List<IDisposable> owned)
    {
        var file = new MappedFile(path);
        owned.Add(file);
        try
        {
            var entries = ZipDirectory.Read(file);
            var pickle = entries.Values.FirstOrDefault(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal) || e.Name == "data.pkl");
            if (pickle.Name is null)
            {
                throw new FormatException("the zip has no data.pkl; not a PyTorch checkpoint");
            }

            if (pickle.Size > MaxPickleBytes)
            {
                throw new FormatException($"data.pkl is {pickle.Size} bytes, far larger than a state dict's");
            }

            string prefix = pickle.Name[..^"data.pkl".Length];
            var refs = RestrictedUnpickler.LoadStateDict(file.Span(pickle.DataOffset, (int)pickle.Size).ToArray());
            var tensors = new Dictionary<string, ModelTensor>(StringComparer.Ordinal);
            foreach (var (name, t) in refs)
            {
                var (type, size) = t.Storage.Type switch
                {
                    "FloatStorage" => (GgmlType.F32, 4),
                    "HalfStorage" => (GgmlType.F16, 2),
                    "BFloat16Storage" => (GgmlType.BF16, 2),
                    var other => throw new FormatException($"tensor '{name}' uses {other}"),
                };
                if (!entries.TryGetValue(prefix + "data/" + t.Storage.Key, out var storage))
                {
                    throw new FormatException($"storage '{t.Storage.Key}' of tensor '{name}' is missing from the zip");
                }

                long elements = t.Shape.Aggregate(1L, (a, b) => a * b);
                long expectedStride = 1;
                for (int d = t.Shape.Length - 1; d >= 0; d--)
                {
                    if (t.Shape[d] != 1 && t.Stride[d] != expectedStride)
                    {
                        throw new FormatException($"tensor '{name}' is not contiguous (stride [{string.Join(", ", t.Stride)}])");
                    }

                    expectedStride *= t.Shape[d];
                }

                if (t.Shape.Length is 0 or > 2 || t.Offset < 0 || (t.Offset + elements) * size > storage.Size)
                {
                    throw new FormatException($"tensor '{name}' (shape [{string.Join(", ", t.Shape)}] at element {t.Offset}) does not fit its {storage.Size}-byte storage");
                }

                tensors[name] = new ModelTensor(name, t.Shape, type, file.Slice(storage.DataOffset + t.Offset * size, elements * size));
            }

            return tensors;
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw InvalidModelFileException.For(path, e.Message);
        }
    }

    /// <summary>
    /// Joins model-parallel slices as Meta's fairscale layers split them: column-parallel weights
    /// (wq wk wv w1 w3 output) by rows, row-parallel ones (wo w2) and the embedding by columns; norms are copies.
    /// </summary>
    private static ModelTensor Join(string name, List<ModelTensor> parts, string path)
    {
        var first = parts[0];
        if (first.Shape.Length == 1)
        {
            return first;
        }

        bool byColumns = name == TensorNames.TokEmbeddings || name.EndsWith(".wo.weight", StringComparison.Ordinal) || name.EndsWith(".w2.weight", StringComparison.Ordinal);
        if (parts.Any(p => p.Type != first.Type || p.Shape.Length != 2 || (byColumns ? p.Rows != first.Rows : p.Cols != first.Cols)))
        {
            throw InvalidModelFileException.For(path, $"the shards of tensor '{name}' do not have matching shapes");
        }

        if (!byColumns)
        {
            var joined = new byte[parts.Sum(p => (long)p.Data.Length)];
            long at = 0;
            foreach (var p in parts)
            {
                p.Data.Span.CopyTo(joined.AsSpan((int)at));
                at += p.Data.Length;
            }

            return new ModelTensor(name, [parts.Sum(p => p.Rows), first.Cols], first.Type, joined);
        }

        int cols = parts.Sum(p => p.Cols);
        int rowBytes = parts.Sum(p => p.RowBytes);
        var data = new byte[(long)rowBytes * first.Rows];
        for (int r = 0; r < first.Rows; r++)
        {
            int at = r * rowBytes;
            foreach (var p in parts)
            {
                p.Row(r).CopyTo(data.AsSpan(at));
                at += p.RowBytes;
            }
        }

        return new ModelTensor(name, [first.Rows, cols], first.Type, data);
    }
}
