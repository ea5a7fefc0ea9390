using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Tokenization;

namespace Llama2.Core.Model;

/// <summary>The checkpoint layouts the loader reads.</summary>
public enum ModelFormat
{
    Gguf,
    HuggingFace,
    Meta,
}

/// <summary>
/// A loaded Llama 2 checkpoint: its config, tokenizer and weights under Meta's names, usually
/// memory-mapped. Open any layout with <see cref="Open"/>; dispose it when done with the weights.
/// </summary>
public sealed class ModelFile : IDisposable
{
    private readonly List<IDisposable> _owned;

    internal ModelFile(string path, ModelFormat format, ModelConfig config, LlamaTokenizer tokenizer,
        Dictionary<string, ModelTensor> tensors, List<IDisposable> owned, IReadOnlyDictionary<string, object>? metadata = null)
    {
        Path = path;
        Format = format;
        Config = config;
        Tokenizer = tokenizer;
        Tensors = tensors;
        _owned = owned;
        Metadata = metadata ?? new Dictionary<string, object>();
    }

    public string Path { get; }

    public ModelFormat Format { get; }

    public ModelConfig Config { get; }

    public LlamaTokenizer Tokenizer { get; }

    /// <summary>Weights by Meta name (<see cref="TensorNames"/>).</summary>
    public IReadOnlyDictionary<string, ModelTensor> Tensors { get; }

    /// <summary>GGUF metadata (empty for other formats).</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    public ModelTensor this[string name] => Tensors[name];

    /// <summary>
    /// Opens a GGUF file, a Hugging Face folder (or one of its <c>.safetensors</c> files), or a Meta folder
    /// (<c>params.json</c> + <c>consolidated.NN.pth</c>). The layout is detected from what is there.
    /// </summary>
    /// <exception cref="InvalidModelFileException">Nothing loadable is there, or a file is malformed; the message names it.</exception>
    public static ModelFile Open(string path)
    {
        ModelFile model;
        if (Directory.Exists(path))
        {
            if (File.Exists(System.IO.Path.Combine(path, "config.json")))
            {
                model = SafetensorsModelReader.Read(path, weightsFile: null);
            }
            else if (File.Exists(System.IO.Path.Combine(path, "params.json")))
            {
                model = MetaModelReader.Read(path);
            }
            else
            {
                var ggufs = Directory.GetFiles(path, "*.gguf");
                model = ggufs.Length == 1
                    ? GgufModelReader.Read(ggufs[0])
                    : throw InvalidModelFileException.For(path, "folder has no config.json (Hugging Face), params.json (Meta) or single .gguf file");
            }
        }
        else if (!File.Exists(path))
        {
            throw InvalidModelFileException.For(path, "no such file or folder");
        }
        else if (GgufFile.HasGgufMagic(path))
        {
            model = GgufModelReader.Read(path);
        }
        else if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            model = SafetensorsModelReader.Read(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, path);
        }
        else
        {
            throw InvalidModelFileException.For(path, "not a GGUF file (wrong magic), a .safetensors file or a model folder");
        }

        try
        {
            model.Validate();
        }
        catch
        {
            model.Dispose();
            throw;
        }

        return model;
    }

    /// <summary>Checks that every tensor the forward pass needs is there with the shape the config implies.</summary>
    private void Validate()
    {
        var c = Config;
        c.Validate(Path);
        if (Tokenizer.VocabSize != c.VocabSize)
        {
            throw InvalidModelFileException.For(Path, $"the tokenizer has {Tokenizer.VocabSize} pieces but the model's vocabulary is {c.VocabSize}");
        }

        foreach (var (name, shape) in TensorNames.Expected(c))
        {
            if (name != TensorNames.Output || Tensors.ContainsKey(name)) // output may be tied to the embedding
            {
                Expect(name, shape);
            }
        }
    }

    private void Expect(string name, params int[] shape)
    {
        if (!Tensors.TryGetValue(name, out var tensor))
        {
            throw InvalidModelFileException.For(Path, $"tensor '{name}' is missing");
        }

        if (!tensor.Shape.SequenceEqual(shape))
        {
            throw InvalidModelFileException.For(Path,
                $"tensor '{name}' has shape [{string.Join(", ", tensor.Shape)}] but the config needs [{string.Join(", ", shape)}]");
        }
    }

    public void Dispose()
    {
        foreach (var d in _owned)
        {
            d.Dispose();
        }
    }
}
