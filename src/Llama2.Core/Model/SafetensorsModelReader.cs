using System.Text.Json;
using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Model;

/// <summary>
/// Reads a Hugging Face folder: <c>config.json</c>, <c>tokenizer.model</c>, and <c>model.safetensors</c> or the
/// shards listed in <c>model.safetensors.index.json</c>. Weights stay memory-mapped, except q/k, whose
/// rows are put back into Meta's order (<see cref="TensorNames.UnpermuteHuggingFaceRows"/>).
/// </summary>
public static class SafetensorsModelReader
{
    private const long MaxHeaderBytes = 100L << 20;

    internal static ModelFile Read(string folder, string? weightsFile)
    {
        var config = ModelConfig.FromHuggingFaceConfig(System.IO.Path.Combine(folder, "config.json"));
        var tokenizerPath = System.IO.Path.Combine(folder, "tokenizer.model");
        if (!File.Exists(tokenizerPath))
        {
            throw InvalidModelFileException.For(folder, "folder has no tokenizer.model (SentencePiece); tokenizer.json alone is not supported");
        }

        var tokenizer = TokenizerLoader.FromSentencePiece(tokenizerPath);
        var files = weightsFile is not null ? [weightsFile] : WeightFiles(folder);
        var owned = new List<IDisposable>();
        var tensors = new Dictionary<string, ModelTensor>(StringComparer.Ordinal);
        try
        {
            foreach (var file in files)
            {
                var mapped = new MappedFile(file);
                owned.Add(mapped);
                foreach (var (hfName, type, shape, data) in ReadTensors(mapped))
                {
                    var name = TensorNames.FromHuggingFace(hfName);
                    if (name is null)
                    {
                        continue; // e.g. rotary_emb.inv_freq
                    }

                    if (shape.Length is 0 or > 2)
                    {
                        throw InvalidModelFileException.For(file, $"tensor '{hfName}' has {shape.Length} dimensions");
                    }

                    var bytes = data;
                    if (TensorNames.IsPermutedByHuggingFace(name))
                    {
                        int heads = name.EndsWith(".wq.weight", StringComparison.Ordinal) ? config.NHeads : config.NKvHeads;
                        if (shape.Length != 2 || shape[0] % heads != 0 || shape[0] / heads % 2 != 0)
                        {
                            throw InvalidModelFileException.For(file, $"tensor '{hfName}' has shape [{string.Join(", ", shape)}], which does not split into {heads} heads");
                        }

                        int rowBytes = data.Length / shape[0];
                        bytes = TensorNames.UnpermuteHuggingFaceRows(data.Span, shape[0], rowBytes, heads);
                    }

                    tensors[name] = new ModelTensor(name, shape, type, bytes);
                }
            }

            return new ModelFile(weightsFile ?? folder, ModelFormat.HuggingFace, config, tokenizer, tensors, owned);
        }
        catch (Exception e) when (e is ArgumentException)
        {
            owned.ForEach(d => d.Dispose());
            throw InvalidModelFileException.For(weightsFile ?? folder, e.Message);
        }
        catch
        {
            owned.ForEach(d => d.Dispose());
            throw;
        }
    }

    private static List<string> WeightFiles(string folder)
    {
        var single = System.IO.Path.Combine(folder, "model.safetensors");
        if (File.Exists(single))
        {
            return [single];
        }

        var index = System.IO.Path.Combine(folder, "model.safetensors.index.json");
        if (!File.Exists(index))
        {
            throw InvalidModelFileException.For(folder, "folder has neither model.safetensors nor model.safetensors.index.json");
        }

        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            var files = doc.RootElement.GetProperty("weight_map").EnumerateObject()
                .Select(p => p.Value.GetString() ?? throw new JsonException("a weight_map entry is not a string"))
                .Distinct().ToList();
            foreach (var f in files)
            {
                if (f.Contains('/') || f.Contains('\\') || f.StartsWith('.'))
                {
                    throw InvalidModelFileException.For(index, $"weight_map names '{f}', which is not a file in this folder");
                }
            }

            return [.. files.Select(f => System.IO.Path.Combine(folder, f))];
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw InvalidModelFileException.For(index, $"not a valid safetensors index: {e.Message}");
        }
    }

    /// <summary>Parses and checks a safetensors header: every tensor must lie inside the data section with the size its shape implies.</summary>
    public static List<(string Name, GgmlType Type, int[] Shape, ReadOnlyMemory<byte> Data)> ReadTensors(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8)
        {
            throw InvalidModelFileException.For(path, "file is too short to be safetensors");
        }

        long headerLength = BitConverter.ToInt64(file.Span(0, 8));
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || headerLength > file.Length - 8)
        {
            throw InvalidModelFileException.For(path, $"safetensors header length {headerLength} is impossible for a {file.Length}-byte file");
        }

        long dataStart = 8 + headerLength;
        long dataLength = file.Length - dataStart;
        var result = new List<(string, GgmlType, int[], ReadOnlyMemory<byte>)>();
        try
        {
            using var doc = JsonDocument.Parse(file.Slice(8, headerLength));
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    continue;
                }

                var t = entry.Value;
                var dtype = t.GetProperty("dtype").GetString();
                var type = dtype switch
                {
                    "F32" => GgmlType.F32,
                    "F16" => GgmlType.F16,
                    "BF16" => GgmlType.BF16,
                    _ => throw InvalidModelFileException.For(path, $"tensor '{entry.Name}' has dtype {dtype}; F32, F16 and BF16 are supported"),
                };
                int[] shape = [.. t.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32())];
                var offsets = t.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToArray();
                long elements = shape.Any(d => d < 0) ? -1 : shape.Aggregate(1L, (a, b) => checked(a * b));
                long size = elements * (type == GgmlType.F32 ? 4 : 2);
                if (elements < 0 || offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength || offsets[1] - offsets[0] != size)
                {
                    throw InvalidModelFileException.For(path,
                        $"tensor '{entry.Name}': data_offsets [{string.Join(", ", offsets)}] do not hold shape [{string.Join(", ", shape)}] of {dtype} inside the {dataLength}-byte data section");
                }

                result.Add((entry.Name, type, shape, file.Slice(dataStart + offsets[0], size)));
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw InvalidModelFileException.For(path, $"invalid safetensors header: {e.Message}");
        }

        return result;
    }
}
