using Llama2.Training.Ppo;
using static TorchSharp.torch;

namespace Llama2.Training.Tests;

/// <summary>Each PPO piece against numbers worked out by hand (in the comments).</summary>
public sealed class PpoMathTests
{
    [Fact]
    public void The_piecewise_reward_uses_safety_on_safety_prompts_and_below_the_threshold()
    {
        Assert.Equal(0.1, PpoMath.PiecewiseReward(0.1, 0.9, isSafetyPrompt: false)); // unsafe answer: Rs < 0.15
        Assert.Equal(0.9, PpoMath.PiecewiseReward(0.5, 0.9, isSafetyPrompt: false));
        Assert.Equal(0.5, PpoMath.PiecewiseReward(0.5, 0.9, isSafetyPrompt: true));
        Assert.Equal(0.9, PpoMath.PiecewiseReward(0.15, 0.9, isSafetyPrompt: false)); // the threshold itself is not below it
    }

    [Fact]
    public void Logit_undoes_the_sigmoid_and_whitening_gives_zero_mean_unit_variance()
    {
        Assert.Equal(0, PpoMath.Logit(0.5), 12);
        Assert.Equal(2, PpoMath.Logit(1 / (1 + Math.Exp(-2))), 9);
        Assert.True(double.IsFinite(PpoMath.Logit(1)) && double.IsFinite(PpoMath.Logit(0)));
        // [1, 2, 3]: mean 2, population std √(2/3) = 0.816497 → ±1.224745
        var w = PpoMath.Whiten([1, 2, 3]);
        Assert.Equal(-1.224745, w[0], 5);
        Assert.Equal(0, w[1], 9);
        Assert.Equal(1.224745, w[2], 5);
    }

    [Fact]
    public void Token_rewards_are_the_KL_penalty_per_token_plus_the_score_at_the_end()
    {
        // KL per token = log π − log π0 = [0.5, −1]; β = 0.1 → [−0.05, 0.1], plus the score 2 at the last token
        var r = PpoMath.TokenRewards([-1, -2], [-1.5, -1], score: 2, beta: 0.1);
        Assert.Equal(-0.05, r[0], 12);
        Assert.Equal(2.1, r[1], 12);
    }

    [Fact]
    public void Gae_matches_a_hand_example()
    {
        // γ = 1, λ = 0.95; δ2 = 1 − 0.3 = 0.7; δ1 = 0.3 − 0.4 = −0.1; δ0 = 0.4 − 0.5 = −0.1
        // A2 = 0.7; A1 = −0.1 + 0.95·0.7 = 0.565; A0 = −0.1 + 0.95·0.565 = 0.43675
        var (a, returns) = PpoMath.Gae([0, 0, 1], [0.5, 0.4, 0.3], gamma: 1, lambda: 0.95);
        Assert.Equal([0.43675, 0.565, 0.7], a.Select(x => Math.Round(x, 6)));
        Assert.Equal([0.93675, 0.965, 1.0], returns.Select(x => Math.Round(x, 6)));
    }

    [Fact]
    public void The_clipped_policy_loss_matches_hand_numbers()
    {
        using var logp = tensor(new[] { MathF.Log(1.5f), MathF.Log(0.5f) });
        using var old = zeros(2);
        using var mask = ones(2);
        // A = +1: ratios 1.5, 0.5 → unclipped −1.5, −0.5; clipped −1.2, −0.8; max → −1.2, −0.5; mean −0.85; clipped where unclipped < clipped: 1 of 2
        var (loss, fraction) = PpoMath.ClippedPolicyLoss(logp, old, ones(2), mask, 0.2);
        Assert.Equal(-0.85f, loss.item<float>(), 5);
        Assert.Equal(0.5f, fraction.item<float>(), 5);
        // A = −1: unclipped 1.5, 0.5; clipped 1.2, 0.8; max → 1.5, 0.8; mean 1.15
        (loss, _) = PpoMath.ClippedPolicyLoss(logp, old, -ones(2), mask, 0.2);
        Assert.Equal(1.15f, loss.item<float>(), 5);
    }

    [Fact]
    public void Token_log_probabilities_are_those_of_the_sampling_temperature()
    {
        // one sequence [0, 1]; the logits at position 0 are (0, ln 3): p(1) = 3/4 at temperature 1; at 2 they are
        // (0, ln 3 / 2): p(1) = √3 / (1 + √3) = 0.633975; the last position has no next token: 0
        using var logits = tensor(new[] { 0f, MathF.Log(3), 5f, -5f }, [1, 2, 2]);
        using var tokens = tensor(new long[] { 0, 1 }, [1, 2]);
        var atOne = PpoMath.TokenLogProbs(logits, tokens, 1).data<float>().ToArray();
        var atTwo = PpoMath.TokenLogProbs(logits, tokens, 2).data<float>().ToArray();
        Assert.Equal(Math.Log(0.75), atOne[0], 5);
        Assert.Equal(Math.Log(0.633975), atTwo[0], 5);
        Assert.Equal(0f, atOne[1]);
        Assert.Equal(0f, atTwo[1]);
    }

    [Fact]
    public void The_value_loss_is_clipped_around_the_old_values()
    {
        // V = [1, 0], V_old = [0.5, 0.5], R = [0.8, 1], clip 0.2 → V_clip = [0.7, 0.3];
        // (V − R)² = [0.04, 1]; (V_clip − R)² = [0.01, 0.49]; ½·max = [0.02, 0.5]; mean 0.26
        using var loss = PpoMath.ValueLoss(tensor(new[] { 1f, 0f }), tensor(new[] { 0.5f, 0.5f }), tensor(new[] { 0.8f, 1f }), ones(2), 0.2);
        Assert.Equal(0.26f, loss.item<float>(), 5);
    }
}
