using System.Runtime.InteropServices;
using System.Text.Json;
using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;
using Llama2.Training.Optim;
using static TorchSharp.torch;

namespace Llama2.Training.Runs;

/// <summary>Where a run is: enough to continue it exactly.</summary>
public sealed record TrainerState(long Step, long WindowsConsumed, long TokensSeen, ulong Seed, double ElapsedSeconds);

/// <summary>
/// Checkpoints: Hugging Face folders (<c>config.json</c>, <c>model.safetensors</c>, <c>tokenizer.model</c>) plus
/// <c>optimizer.safetensors</c> and <c>trainer_state.json</c>. Written into a temporary folder and renamed, so a
/// kill at any moment leaves the previous checkpoint whole.
/// </summary>
public static class Checkpoint
{
    public const string StateFile = "trainer_state.json";
    private const string OptimizerFile = "optimizer.safetensors";

    /// <summary>Saves a resumable checkpoint as <c>checkpoints/step-NNNNNN</c>.</summary>
    public static void SaveStep(string checkpoints, LlamaModel model, LlamaTokenizer tokenizer, AdamW optimizer, TrainerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Directory.CreateDirectory(checkpoints);
        Save(Path.Combine(checkpoints, $"step-{state.Step:D6}"), model, tokenizer, optimizer, state);
    }

    /// <summary>Deletes all but the newest <paramref name="keep"/> (at least one) complete checkpoints.</summary>
    public static void Prune(string checkpoints, int keep)
    {
        var all = Directory.GetDirectories(checkpoints, "step-*").Where(d => File.Exists(Path.Combine(d, StateFile)))
            .Order(StringComparer.Ordinal).ToList();
        foreach (var old in all.Take(Math.Max(0, all.Count - Math.Max(1, keep))))
        {
            Directory.Delete(old, recursive: true);
        }
    }

    /// <summary>Saves a Hugging Face folder at <paramref name="directory"/> (replacing it atomically).</summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="model">The weights.</param>
    /// <param name="tokenizer">Saved as tokenizer.model.</param>
    /// <param name="optimizer">Moments to resume with (optional).</param>
    /// <param name="state">Where the run is (optional).</param>
    /// <param name="extra">Writes further files (for example a reward head) into the folder before it is renamed into place.</param>
    public static void Save(string directory, LlamaModel model, LlamaTokenizer tokenizer, AdamW? optimizer = null, TrainerState? state = null, Action<string>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var temporary = directory + ".tmp";
        if (Directory.Exists(temporary))
        {
            Directory.Delete(temporary, recursive: true);
        }

        Directory.CreateDirectory(temporary);
        var config = model.Config;
        File.WriteAllText(Path.Combine(temporary, "config.json"), config.ToHuggingFaceConfigJson(tokenizer.BosId, tokenizer.EosId));
        tokenizer.Model.Save(Path.Combine(temporary, "tokenizer.model"));

        var tensors = new List<(string, int[], GgmlType, ReadOnlyMemory<byte>)>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var bytes = Bytes(parameter);
            int[] shape = [.. parameter.shape.Select(d => (int)d)];
            if (TensorNames.IsPermutedByHuggingFace(name))
            {
                int heads = name.EndsWith(".wq.weight", StringComparison.Ordinal) ? config.NHeads : config.NKvHeads;
                bytes = TensorNames.PermuteForHuggingFace(bytes, shape[0], bytes.Length / shape[0], heads);
            }

            tensors.Add((TensorNames.ToHuggingFace(name), shape, GgmlType.F32, bytes));
        }

        SafetensorsWriter.Write(Path.Combine(temporary, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        if (optimizer is not null)
        {
            var moments = optimizer.State.SelectMany(s => new[]
            {
                ($"m.{s.Name}", Shape(s.M), GgmlType.F32, (ReadOnlyMemory<byte>)Bytes(s.M)),
                ($"v.{s.Name}", Shape(s.V), GgmlType.F32, (ReadOnlyMemory<byte>)Bytes(s.V)),
            });
            SafetensorsWriter.Write(Path.Combine(temporary, OptimizerFile), moments);
        }

        if (state is not null)
        {
            File.WriteAllText(Path.Combine(temporary, StateFile), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
        }

        extra?.Invoke(temporary);
        if (Directory.Exists(directory))
        {
            var old = directory + ".old";
            if (Directory.Exists(old))
            {
                Directory.Delete(old, recursive: true);
            }

            Directory.Move(directory, old);
            Directory.Move(temporary, directory);
            Directory.Delete(old, recursive: true);
        }
        else
        {
            Directory.Move(temporary, directory);
        }
    }

    /// <summary>The complete checkpoint with the highest step under <paramref name="checkpoints"/>, or null.</summary>
    public static string? FindLatest(string checkpoints)
    {
        if (!Directory.Exists(checkpoints))
        {
            return null;
        }

        return Directory.GetDirectories(checkpoints, "step-*")
            .Where(d => !d.EndsWith(".tmp", StringComparison.Ordinal) && !d.EndsWith(".old", StringComparison.Ordinal) && File.Exists(Path.Combine(d, StateFile)))
            .Select(d => (Path: d, Step: long.TryParse(Path.GetFileName(d)["step-".Length..], out long s) ? s : -1))
            .Where(d => d.Step >= 0)
            .OrderByDescending(d => d.Step)
            .Select(d => d.Path)
            .FirstOrDefault();
    }

    public static TrainerState LoadState(string directory)
    {
        var path = Path.Combine(directory, StateFile);
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path)) ?? throw InvalidModelFileException.For(path, "is empty");
        }
        catch (JsonException e)
        {
            throw InvalidModelFileException.For(path, $"not a valid trainer state: {e.Message}");
        }
    }

    /// <summary>Restores model weights, and optimizer moments when an optimizer is given.</summary>
    /// <exception cref="InvalidModelFileException">The checkpoint is unreadable or of another shape.</exception>
    public static void Load(string directory, LlamaModel model, AdamW? optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        using (var file = ModelFile.Open(directory))
        {
            if (file.Config with { MaxSeqLen = 0 } != model.Config with { MaxSeqLen = 0 })
            {
                throw InvalidModelFileException.For(directory,
                    $"checkpoint is of another shape ({LlamaModel.Describe(file.Config)}) than the run's model ({LlamaModel.Describe(model.Config)})");
            }

            model.LoadWeights(file);
        }

        if (optimizer is null)
        {
            return;
        }

        var path = Path.Combine(directory, OptimizerFile);
        using var mapped = new MappedFile(path);
        var tensors = SafetensorsModelReader.ReadTensors(mapped).ToDictionary(t => t.Name, t => MemoryMarshal.Cast<byte, float>(t.Data.Span).ToArray());
        var state = new Dictionary<string, (float[], float[])>();
        foreach (var name in tensors.Keys.Where(k => k.StartsWith("m.", StringComparison.Ordinal)))
        {
            var parameter = name[2..];
            state[parameter] = (tensors[name], tensors.TryGetValue("v." + parameter, out var v) ? v : throw InvalidModelFileException.For(path, $"'v.{parameter}' is missing"));
        }

        try
        {
            optimizer.LoadState(state);
        }
        catch (ArgumentException e)
        {
            throw InvalidModelFileException.For(path, e.Message);
        }
    }

    /// <summary>A float32 tensor's bytes, for safetensors.</summary>
    internal static byte[] Bytes(Tensor t)
    {
        using var cpu = t.detach().cpu().contiguous();
        return MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()).ToArray();
    }

    internal static int[] Shape(Tensor t) => [.. t.shape.Select(d => (int)d)];
}
