using System.Runtime.InteropServices;
using System.Text.Json;
using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;
using Llama2.Training.Optim;
using Llama2.Training.Runs;
using static TorchSharp.torch;

namespace Llama2.Training.Ppo;

/// <summary>Where a PPO run is after <see cref="Iteration"/> iterations: with the weights and moments, enough to continue it exactly.</summary>
public sealed record PpoRunState(int Iteration, double? FirstHeldOutReward, double? BestHeldOutReward, int SinceBest, long PolicySteps, long ValueSteps, double ElapsedSeconds);

/// <summary>
/// A resumable PPO checkpoint, <c>checkpoints/step-NNNNNN</c> (NNNNNN: iterations done): the policy as the other
/// trainers save a model (Hugging Face folder, its AdamW moments, <c>trainer_state.json</c>), plus the value head with
/// its own moments (<c>value_head.safetensors</c>) and the early-stopping state (<c>ppo_state.json</c>). The frozen
/// reference and the reward models are not saved: the run's config names them.
/// </summary>
public static class PpoCheckpoint
{
    private const string ValueFile = "value_head.safetensors";
    private const string StateFile = "ppo_state.json";

    /// <summary>Saves the checkpoint of <paramref name="state"/>'s iteration under <paramref name="checkpoints"/>, keeping the newest two.</summary>
    public static void Save(string checkpoints, PolicyWithValue policy, LlamaTokenizer tokenizer, AdamW optimizer, AdamW valueOptimizer, PpoRunState state, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(valueOptimizer);
        ArgumentNullException.ThrowIfNull(state);
        var head = policy.ValueHead.weight!;
        var (_, m, v) = valueOptimizer.State.Single();
        Directory.CreateDirectory(checkpoints);
        Checkpoint.Save(Path.Combine(checkpoints, $"step-{state.Iteration:D6}"), policy.Policy, tokenizer, optimizer,
            new TrainerState(state.Iteration, 0, 0, seed, state.ElapsedSeconds), folder =>
            {
                SafetensorsWriter.Write(Path.Combine(folder, ValueFile),
                [
                    ("weight", Checkpoint.Shape(head), GgmlType.F32, Checkpoint.Bytes(head)),
                    ("m.weight", Checkpoint.Shape(m), GgmlType.F32, Checkpoint.Bytes(m)),
                    ("v.weight", Checkpoint.Shape(v), GgmlType.F32, Checkpoint.Bytes(v)),
                ]);
                File.WriteAllText(Path.Combine(folder, StateFile), JsonSerializer.Serialize(state, PpoConfig.Json));
            });
        Checkpoint.Prune(checkpoints, 2);
    }

    /// <summary>Restores the policy, the value head and both optimizers from <paramref name="directory"/>; returns where the run was.</summary>
    /// <exception cref="InvalidModelFileException">Not a PPO checkpoint, or one of another shape.</exception>
    public static PpoRunState Load(string directory, PolicyWithValue policy, AdamW optimizer, AdamW valueOptimizer)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(valueOptimizer);
        var path = Path.Combine(directory, ValueFile);
        var statePath = Path.Combine(directory, StateFile);
        if (!File.Exists(path) || !File.Exists(statePath))
        {
            throw InvalidModelFileException.For(directory, $"is not a PPO checkpoint: {ValueFile} or {StateFile} is missing");
        }

        Checkpoint.Load(directory, policy.Policy, optimizer);
        int dim = policy.Policy.Config.Dim;
        Dictionary<string, float[]> tensors;
        using (var mapped = new MappedFile(path))
        {
            tensors = SafetensorsModelReader.ReadTensors(mapped).Where(t => t.Type == GgmlType.F32)
                .ToDictionary(t => t.Name, t => MemoryMarshal.Cast<byte, float>(t.Data.Span).ToArray());
        }

        float[] Get(string name) => tensors.TryGetValue(name, out var x) && x.Length == dim
            ? x
            : throw InvalidModelFileException.For(path, $"'{name}' is missing or is not {dim} float32 values (the policy's dim)");
        using (no_grad())
        {
            using var weight = tensor(Get("weight"), [1, dim]);
            policy.ValueHead.weight!.copy_(weight);
        }

        valueOptimizer.LoadState(new Dictionary<string, (float[], float[])> { ["weight"] = (Get("m.weight"), Get("v.weight")) });
        PpoRunState state;
        try
        {
            state = JsonSerializer.Deserialize<PpoRunState>(File.ReadAllText(statePath), PpoConfig.Json)
                ?? throw InvalidModelFileException.For(statePath, "is empty");
        }
        catch (JsonException e)
        {
            throw InvalidModelFileException.For(statePath, $"not a valid PPO state: {e.Message}");
        }

        (optimizer.Step, valueOptimizer.Step) = (state.PolicySteps, state.ValueSteps);
        return state;
    }
}
