using static TorchSharp.torch;

namespace Llama2.Training;

/// <summary>The training losses, as small pure functions.</summary>
public static class Losses
{
    /// <summary>Targets with this value are ignored (PyTorch's <c>ignore_index</c> default).</summary>
    public const long IgnoreIndex = -100;

    /// <summary>
    /// Mean next-token cross-entropy over the targets that are not <see cref="IgnoreIndex"/>:
    /// logits (batch, seq, vocab), targets (batch, seq).
    /// </summary>
    public static Tensor NextTokenCrossEntropy(Tensor logits, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1), ignore_index: IgnoreIndex);
    }

    /// <summary>
    /// The reward model's binary ranking loss with margin (Llama 2 eq. 2): mean of <c>−log σ(r_c − r_r − m)</c> over the
    /// pairs. chosen, rejected, margin: (pairs).
    /// </summary>
    public static Tensor RankingLoss(Tensor chosen, Tensor rejected, Tensor margin)
    {
        ArgumentNullException.ThrowIfNull(chosen);
        return -nn.functional.logsigmoid(chosen - rejected - margin).mean();
    }
}
