using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;
using Llama2.Training.Runs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Llama2.Training.RewardModeling;

/// <summary>
/// A reward model (Llama 2 §3.2.2): the Llama trunk, initialised from a chat checkpoint, with the next-token head
/// replaced by a scalar regression head read at the last token of prompt + response. Saved as the trunk's Hugging
/// Face folder plus <c>reward_head.safetensors</c>.
/// </summary>
public sealed class RewardModel : nn.Module<Tensor, Tensor, Tensor>
{
    public const string HeadFile = "reward_head.safetensors";

    private readonly LlamaModel trunk;
    private readonly Linear score;

    public RewardModel(ModelConfig config, Device? device = null, Generator? generator = null)
        : base(nameof(RewardModel))
    {
        trunk = new LlamaModel(config, generator: generator);
        score = nn.Linear(config.Dim, 1, hasBias: false);
        using (no_grad())
        {
            score.weight.normal_(0, 1 / Math.Sqrt(config.Dim + 1), generator); // TRL's scalar-head initialisation
        }

        RegisterComponents();
        if (device is not null)
        {
            this.to(device);
        }
    }

    public ModelConfig Config => trunk.Config;

    internal LlamaModel Trunk => trunk;

    /// <summary>tokens (batch, seq), right-padded; last (batch) the index of each row's last real token → rewards (batch).</summary>
    public override Tensor forward(Tensor tokens, Tensor last)
    {
        ArgumentNullException.ThrowIfNull(last);
        var hidden = trunk.Hidden(tokens, null); // causal: padding after the last token cannot reach it
        var rows = Scalars.Arange(0, hidden.shape[0], device: hidden.device);
        return score.forward(hidden[rows, last]).squeeze(-1);
    }

    /// <summary>A reward model whose trunk starts from <paramref name="chatModel"/>'s weights (the head is new, drawn from <paramref name="generator"/>).</summary>
    public static RewardModel FromChatModel(ModelFile chatModel, int maxSeqLen, Device? device = null, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(chatModel);
        var model = new RewardModel(chatModel.Config with { MaxSeqLen = Math.Max(chatModel.Config.MaxSeqLen, maxSeqLen) }, generator: generator);
        model.trunk.LoadWeights(chatModel);
        if (device is not null)
        {
            model.to(device);
        }

        return model;
    }

    /// <summary>Saves the trunk as a Hugging Face folder and the head beside it (with optimizer state: a resumable checkpoint).</summary>
    public void Save(string directory, LlamaTokenizer tokenizer, Optim.AdamW? optimizer = null, TrainerState? state = null)
    {
        var bytes = Checkpoint.Bytes(score.weight!);
        Checkpoint.Save(directory, trunk, tokenizer, optimizer, state, folder =>
            SafetensorsWriter.Write(Path.Combine(folder, HeadFile), [("score.weight", [1, Config.Dim], GgmlType.F32, bytes)], new Dictionary<string, string> { ["format"] = "pt" }));
    }

    /// <summary>Loads a reward model saved by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidModelFileException">Not a reward model folder, or its head does not fit its trunk.</exception>
    public static (RewardModel Model, LlamaTokenizer Tokenizer) Load(string directory, Device? device = null)
    {
        using var trunkFile = ModelFile.Open(directory);
        var model = new RewardModel(trunkFile.Config);
        model.trunk.LoadWeights(trunkFile);
        model.LoadHead(directory);
        if (device is not null)
        {
            model.to(device);
        }

        return (model, trunkFile.Tokenizer);
    }

    /// <summary>Continues from a checkpoint saved with optimizer state: weights, head and optimizer moments.</summary>
    /// <exception cref="InvalidModelFileException">The checkpoint is not a reward model of this shape.</exception>
    public void LoadCheckpoint(string directory, Optim.AdamW optimizer)
    {
        Checkpoint.Load(directory, trunk, optimizer);
        LoadHead(directory);
    }

    private void LoadHead(string directory)
    {
        var headPath = Path.Combine(directory, HeadFile);
        if (!File.Exists(headPath))
        {
            throw InvalidModelFileException.For(directory, $"is not a reward model: {HeadFile} is missing");
        }
        float[] values;
        using (var mapped = new MappedFile(headPath))
        {
            var head = SafetensorsModelReader.ReadTensors(mapped).FirstOrDefault(t => t.Name == "score.weight");
            if (head.Name is null || head.Type != GgmlType.F32)
            {
                throw InvalidModelFileException.For(headPath, "has no float32 score.weight");
            }

            values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(head.Data.Span).ToArray();
        }

        if (values.Length != Config.Dim)
        {
            throw InvalidModelFileException.For(headPath, $"score.weight has {values.Length} values but the trunk's dim is {Config.Dim}: the head belongs to a model of another shape");
        }

        using (no_grad())
        {
            using var loaded = tensor(values, [1, Config.Dim]);
            score.weight.copy_(loaded);
        }
    }
}
