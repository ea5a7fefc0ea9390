using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Model;

/// <summary>Reads a GGUF file (architecture <c>llama</c>) as llama.cpp writes it; tensors stay memory-mapped.</summary>
internal static class GgufModelReader
{
    public static ModelFile Read(string path)
    {
        var file = GgufFile.Read(path);
        if (!file.TryGet<string>("general.architecture", out var arch) || arch != "llama")
        {
            throw InvalidModelFileException.For(path, $"general.architecture is '{arch ?? "(missing)"}'; only 'llama' is supported");
        }

        var tokenizer = TokenizerLoader.FromGguf(file);
        var config = ReadConfig(file, tokenizer.VocabSize);
        var mapped = new MappedFile(path);
        try
        {
            var tensors = new Dictionary<string, ModelTensor>(StringComparer.Ordinal);
            foreach (var info in file.Tensors)
            {
                var name = TensorNames.FromGguf(info.Name);
                if (name is null)
                {
                    continue; // e.g. rope_freqs.weight: not used by Llama 2
                }

                if (info.Shape.Length > 2 || info.Shape.Any(d => d > int.MaxValue))
                {
                    throw InvalidModelFileException.For(path, $"tensor '{info.Name}' has shape [{string.Join(", ", info.Shape)}], not a matrix or vector");
                }

                // GGUF lists dimensions fastest-first: [cols, rows]. Ours are PyTorch's [rows, cols].
                int[] shape = [.. info.Shape.Reverse().Select(d => (int)d)];
                try
                {
                    tensors[name] = new ModelTensor(name, shape, info.Type, mapped.Slice(info.Offset, info.ByteCount));
                }
                catch (ArgumentException e)
                {
                    throw InvalidModelFileException.For(path, e.Message);
                }
            }

            return new ModelFile(path, ModelFormat.Gguf, config, tokenizer, tensors, [mapped], file.Metadata);
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    private static ModelConfig ReadConfig(GgufFile file, int vocabSize)
    {
        int Required(string key) => file.GetInteger(key) is { } v and >= 0 and <= int.MaxValue
            ? (int)v
            : throw InvalidModelFileException.For(file.Path, $"metadata '{key}' is missing or not a valid integer");
        float Optional(string key, float fallback) => file.Metadata.TryGetValue(key, out var v) && v is float f ? f : fallback;

        int nHeads = Required("llama.attention.head_count");
        var config = new ModelConfig
        {
            Dim = Required("llama.embedding_length"),
            NLayers = Required("llama.block_count"),
            NHeads = nHeads,
            NKvHeads = file.GetInteger("llama.attention.head_count_kv") is { } kv ? (int)Math.Clamp(kv, 0, int.MaxValue) : nHeads,
            VocabSize = vocabSize,
            HiddenDim = Required("llama.feed_forward_length"),
            NormEps = Optional("llama.attention.layer_norm_rms_epsilon", 1e-5f),
            RopeTheta = Optional("llama.rope.freq_base", 10000f),
            MaxSeqLen = file.GetInteger("llama.context_length") is { } n ? (int)Math.Clamp(n, 0, int.MaxValue) : 4096,
        };
        config.Validate(file.Path);
        if (file.GetInteger("llama.rope.dimension_count") is { } ropeDims && ropeDims != config.HeadDim)
        {
            throw InvalidModelFileException.For(file.Path, $"llama.rope.dimension_count {ropeDims} differs from the head dimension {config.HeadDim}; partial RoPE is not supported");
        }

        return config;
    }
}
