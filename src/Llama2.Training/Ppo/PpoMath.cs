using static TorchSharp.torch;

namespace Llama2.Training.Ppo;

/// <summary>
/// The pieces of Llama 2's PPO (§3.2.3) as small pure functions, each unit-tested with hand numbers: the piecewise
/// safety/helpfulness reward, LOGIT and WHITEN, the per-token KL penalty, GAE, the clipped policy loss, the value loss
/// and the tokens' log-probabilities at the sampling temperature.
/// </summary>
public static class PpoMath
{
    /// <summary>
    /// R_c: the Safety RM's score if the prompt is a safety prompt or that score is below <paramref name="threshold"/>
    /// (Llama 2: 0.15), otherwise the Helpfulness RM's. Scores are probabilities (σ of the RM output).
    /// </summary>
    public static double PiecewiseReward(double safety, double helpfulness, bool isSafetyPrompt, double threshold = 0.15) =>
        isSafetyPrompt || safety < threshold ? safety : helpfulness;

    /// <summary>
    /// R_h of an answer the gold judge graded (<see cref="PpoConfig.GoldJudgeWorld"/>): rising with the quality, from 0.1
    /// (off topic or refusing a harmless request) through 0.2 (wrong) and 0.4 (right and wrong) to 0.8 (right, curt) and
    /// 0.9 (right, complete), the range of σ(RM score) on the world's pairs.
    /// </summary>
    public static double GoldHelpfulness(Core.World.AnswerQuality quality) => quality switch
    {
        Core.World.AnswerQuality.Complete => 0.9,
        Core.World.AnswerQuality.Curt => 0.8,
        Core.World.AnswerQuality.PartlyWrong => 0.4,
        Core.World.AnswerQuality.Wrong => 0.2,
        _ => 0.1,
    };

    /// <summary>LOGIT: undoes the sigmoid, <c>log(p / (1 − p))</c>, with p clamped away from 0 and 1.</summary>
    public static double Logit(double p)
    {
        p = Math.Clamp(p, 1e-6, 1 - 1e-6);
        return Math.Log(p / (1 - p));
    }

    /// <summary>WHITEN: zero mean, unit variance (population variance) over the batch.</summary>
    public static double[] Whiten(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double mean = values.Average();
        double std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        return [.. values.Select(v => (v - mean) / (std + 1e-8))];
    }

    /// <summary>
    /// Per-token rewards of one response: <c>−β·(log π_θ(a_t) − log π_0(a_t))</c> at every token, plus the final reward
    /// <paramref name="score"/> at the last token (the KL-penalised reward of §3.2.3, spread over tokens).
    /// </summary>
    public static double[] TokenRewards(IReadOnlyList<double> policyLogProbs, IReadOnlyList<double> referenceLogProbs, double score, double beta)
    {
        ArgumentNullException.ThrowIfNull(policyLogProbs);
        ArgumentNullException.ThrowIfNull(referenceLogProbs);
        var rewards = policyLogProbs.Select((lp, t) => -beta * (lp - referenceLogProbs[t])).ToArray();
        rewards[^1] += score;
        return rewards;
    }

    /// <summary>Generalised advantage estimation: δ_t = r_t + γV_{t+1} − V_t, A_t = δ_t + γλA_{t+1} (V after the end is 0); returns = A + V.</summary>
    public static (double[] Advantages, double[] Returns) Gae(IReadOnlyList<double> rewards, IReadOnlyList<double> values, double gamma, double lambda)
    {
        ArgumentNullException.ThrowIfNull(rewards);
        ArgumentNullException.ThrowIfNull(values);
        int n = rewards.Count;
        var advantages = new double[n];
        double next = 0, running = 0;
        for (int t = n - 1; t >= 0; t--)
        {
            double delta = rewards[t] + gamma * next - values[t];
            running = delta + gamma * lambda * running;
            advantages[t] = running;
            next = values[t];
        }

        return (advantages, [.. advantages.Select((a, t) => a + values[t])]);
    }

    /// <summary>PPO's clipped surrogate: mean over tokens of <c>max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε))</c>, ρ = exp(log π − log π_old); also the clipped fraction.</summary>
    public static (Tensor Loss, Tensor ClipFraction) ClippedPolicyLoss(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, Tensor mask, double clip)
    {
        ArgumentNullException.ThrowIfNull(logProbs);
        ArgumentNullException.ThrowIfNull(mask);
        var ratio = exp(logProbs - oldLogProbs);
        var unclipped = -advantages * ratio;
        var clipped = -advantages * ratio.Clamp(1 - clip, 1 + clip);
        var count = mask.sum();
        return ((maximum(unclipped, clipped) * mask).sum() / count, ((unclipped < clipped).to_type(float32) * mask).sum() / count);
    }

    /// <summary>The value loss, clipped around the old values as PPO implementations do: mean of <c>½·max((V − R)², (V_clip − R)²)</c>.</summary>
    public static Tensor ValueLoss(Tensor values, Tensor oldValues, Tensor returns, Tensor mask, double clip)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(mask);
        var clipped = oldValues.Plus((values - oldValues).Clamp(-clip, clip));
        var loss = maximum((values - returns).Pow(2), (clipped - returns).Pow(2)).Times(0.5);
        return (loss * mask).sum() / mask.sum();
    }

    /// <summary>
    /// log π(token_{t+1} | ≤ t) at position t: (batch, len); the last position is 0. The logits are divided by the
    /// rollouts' sampling <paramref name="temperature"/>, so the ratios and the KL are those of the distribution the
    /// responses were drawn from (as TRL does); at 1 this is the model's own distribution.
    /// </summary>
    public static Tensor TokenLogProbs(Tensor logits, Tensor tokens, float temperature)
    {
        var next = tokens[.., 1..];
        var scaled = temperature == 1 ? logits[.., ..^1] : logits[.., ..^1].Over(temperature);
        var logp = scaled.log_softmax(-1).gather(-1, next.unsqueeze(-1)).squeeze(-1);
        return nn.functional.pad(logp, [0, 1]);
    }
}
