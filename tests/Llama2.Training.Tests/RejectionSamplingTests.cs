using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Training.RejectionSampling;

namespace Llama2.Training.Tests;

public sealed class RejectionSamplingTests
{
    private static readonly PromptExample s_a = new([new ChatMessage(ChatRole.User, "a?")]);
    private static readonly PromptExample s_b = new([new ChatMessage(ChatRole.User, "b?")]);

    [Fact]
    public void The_best_sample_is_kept_and_the_curve_is_best_and_median_of_the_first_k()
    {
        var sampled = RejectionSampler.Sample([s_a, s_b], 4,
            (prompts, k) => [.. prompts.Select(p => (IReadOnlyList<string>)[.. Enumerable.Range(0, k).Select(j => $"{p[0].Content}{j}")])],
            items => [.. items.Select(i => i.Answer switch { "a?0" => 1.0, "a?1" => 3.0, "a?2" => 2.0, "a?3" => 0.0, "b?0" => -1.0, "b?1" => -2.0, "b?2" => 0.5, _ => 4.0 })]);
        Assert.Equal("a?1", sampled[0].Answers[sampled[0].Best]);
        Assert.Equal("b?3", sampled[1].Answers[sampled[1].Best]);

        // hand: k=1 best (1 + −1)/2 = 0, median 0; k=2 best (3 + −1)/2 = 1, median (2 + −1.5)/2 = 0.25;
        // k=3 best (3 + 0.5)/2 = 1.75, median (2 + −1)/2 = 0.5; k=4 best (3 + 4)/2 = 3.5, median (1.5 + −0.25)/2 = 0.625
        var curve = RejectionSampler.Curve(sampled);
        Assert.Equal([0, 1, 1.75, 3.5], curve.Select(p => p.Best));
        Assert.Equal([0, 0.25, 0.5, 0.625], curve.Select(p => p.Median));
    }

    [Fact]
    public void Later_rounds_keep_the_best_answer_of_all_rounds()
    {
        var round = new List<SampledPrompt>
        {
            new(s_a.Messages, ["new a"], [1.0]),
            new(s_b.Messages, ["new b"], [5.0]),
        };
        var earlier = new List<(IReadOnlyList<ChatMessage>, string, double)> { (s_a.Messages, "old a", 2.0), (s_b.Messages, "old b", 3.0) };
        var kept = RejectionSampler.Pool(round, earlier).ToDictionary(k => k.Prompt[0].Content, k => k.Answer);
        Assert.Equal("old a", kept["a?"]);
        Assert.Equal("new b", kept["b?"]);
        var examples = RejectionSampler.Examples(RejectionSampler.Pool(round, earlier));
        Assert.All(examples, e => Assert.Equal(ChatRole.Assistant, e.Messages[^1].Role));
    }
}
