using Llama2.Core.Gguf;
using Llama2.Core.IO;

namespace Llama2.Core.Tokenization;

/// <summary>Loads the Llama 2 tokenizer from a <c>tokenizer.model</c>, a GGUF file or a model folder.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads from <paramref name="path"/>: a SentencePiece <c>tokenizer.model</c>, a GGUF file (its
    /// <c>tokenizer.ggml.*</c> metadata), or a folder holding <c>tokenizer.model</c> (Hugging Face and Meta layouts).
    /// </summary>
    /// <exception cref="InvalidModelFileException">Nothing usable is at the path, or the file is malformed.</exception>
    public static LlamaTokenizer Load(string path)
    {
        if (Directory.Exists(path))
        {
            var model = System.IO.Path.Combine(path, "tokenizer.model");
            if (File.Exists(model))
            {
                return FromSentencePiece(model);
            }

            var ggufs = Directory.GetFiles(path, "*.gguf");
            return ggufs.Length == 1
                ? FromGguf(GgufFile.Read(ggufs[0]))
                : throw InvalidModelFileException.For(path, "folder has no tokenizer.model (and not exactly one .gguf file)");
        }

        if (!File.Exists(path))
        {
            throw InvalidModelFileException.For(path, "no such file or folder");
        }

        return GgufFile.HasGgufMagic(path) ? FromGguf(GgufFile.Read(path)) : FromSentencePiece(path);
    }

    public static LlamaTokenizer FromSentencePiece(string path)
    {
        var model = SentencePieceModel.Load(path);
        try
        {
            return new LlamaTokenizer(model);
        }
        catch (ArgumentException e)
        {
            throw InvalidModelFileException.For(path, e.Message);
        }
    }

    /// <summary>Builds the tokenizer from a GGUF file's <c>tokenizer.ggml.*</c> metadata (llama.cpp's "llama" SentencePiece vocabulary).</summary>
    public static LlamaTokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!file.TryGet<string[]>("tokenizer.ggml.tokens", out var tokens))
        {
            throw InvalidModelFileException.For(file.Path, "GGUF file has no vocabulary (tokenizer.ggml.tokens is missing)");
        }

        if (file.TryGet<string>("tokenizer.ggml.model", out var kind) && kind != "llama")
        {
            throw InvalidModelFileException.For(file.Path, $"tokenizer.ggml.model is '{kind}'; only the SentencePiece 'llama' tokenizer is supported");
        }

        file.TryGet<float[]>("tokenizer.ggml.scores", out var scores);
        file.TryGet<int[]>("tokenizer.ggml.token_type", out var types);
        if ((scores is not null && scores.Length != tokens.Length) || (types is not null && types.Length != tokens.Length))
        {
            throw InvalidModelFileException.For(file.Path, $"tokenizer.ggml.scores/token_type lengths do not match the {tokens.Length} tokens");
        }

        var pieces = new VocabularyPiece[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            int type = types?[i] ?? (int)PieceType.Normal;
            if (type is < 1 or > 6)
            {
                throw InvalidModelFileException.For(file.Path, $"tokenizer.ggml.token_type[{i}] is {type}, not a SentencePiece type 1..6");
            }

            if (tokens[i].Length == 0)
            {
                throw InvalidModelFileException.For(file.Path, $"tokenizer.ggml.tokens[{i}] is empty");
            }

            pieces[i] = new VocabularyPiece(tokens[i], scores?[i] ?? 0f, (PieceType)type);
        }

        bool addSpacePrefix = !file.TryGet<bool>("tokenizer.ggml.add_space_prefix", out var prefix) || prefix;
        var normalizer = new NormalizerSpec { AddDummyPrefix = addSpacePrefix };
        var trainer = new TrainerSpec
        {
            VocabSize = tokens.Length,
            ByteFallback = pieces.Any(p => p.Type == PieceType.Byte),
            UnkId = (int)(file.GetInteger("tokenizer.ggml.unknown_token_id") ?? 0),
            BosId = (int)(file.GetInteger("tokenizer.ggml.bos_token_id") ?? 1),
            EosId = (int)(file.GetInteger("tokenizer.ggml.eos_token_id") ?? 2),
        };
        try
        {
            return new LlamaTokenizer(new SentencePieceModel(pieces, normalizer, trainer));
        }
        catch (ArgumentException e)
        {
            throw InvalidModelFileException.For(file.Path, e.Message);
        }
    }
}
