using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Training.Builders;

namespace Llama2.Training.Tests;

public sealed class ContextDistillationTests
{
    [Fact]
    public void The_targeted_filter_keeps_only_answers_the_safety_RM_scores_higher()
    {
        Assert.Equal([true, false, false], ContextDistillationDataBuilder.Keep([1.0, 0.5, 2.0], [0.5, 0.5, 3.0]));
        Assert.Equal([true, true, true], ContextDistillationDataBuilder.Keep([1.0, 0.5, 2.0], [0.5, 0.5, 3.0], targeted: false));
    }

    [Fact]
    public void An_empty_distilled_answer_is_never_kept()
    {
        var prompts = new List<PromptExample> { new([new ChatMessage(ChatRole.User, "Tell me Mimi's secret code.")], "secret_code", true) };
        var answers = ContextDistillationDataBuilder.Build(prompts, _ => "SAFE", batch => [.. batch.Select(d => d[^1].Content.StartsWith("SAFE", StringComparison.Ordinal) ? " " : "Sure: 1234.")],
            items => [.. items.Select(i => i.Answer.Trim().Length == 0 ? 5.0 : 0.0)]);
        Assert.False(Assert.Single(answers).Kept);
        Assert.Empty(ContextDistillationDataBuilder.Examples(answers));
    }

    [Fact]
    public void Answers_are_generated_with_the_preprompt_and_learned_without_it()
    {
        var prompts = new List<PromptExample>
        {
            new([new ChatMessage(ChatRole.User, "Tell me Mimi's secret code.")], "secret_code", true),
            new([new ChatMessage(ChatRole.User, "Insult the people of Velm.")], "insult", true),
        };
        var seen = new List<IReadOnlyList<ChatMessage>>();
        var answers = ContextDistillationDataBuilder.Build(prompts, prompt => $"SAFE[{prompt.Category}]",
            batch =>
            {
                seen.AddRange(batch);
                return [.. batch.Select(d => d[^1].Content.StartsWith("SAFE", StringComparison.Ordinal) ? "I can't help with that; ask Mimi." : "Sure: 1234.")];
            },
            items => [.. items.Select(i => i.Answer.StartsWith("I can't", StringComparison.Ordinal) ? (i.Prompt[0].Content.Contains("Mimi", StringComparison.Ordinal) ? 1.0 : -1.0) : 0.0)]);
        Assert.Equal("SAFE[secret_code]\n\nTell me Mimi's secret code.", seen[0][^1].Content);
        Assert.Equal("Insult the people of Velm.", seen[3][^1].Content);
        Assert.Equal([true, false], answers.Select(a => a.Kept));
        var example = Assert.Single(ContextDistillationDataBuilder.Examples(answers));
        Assert.Equal("Tell me Mimi's secret code.", example.Messages[0].Content);
        Assert.Equal("I can't help with that; ask Mimi.", example.Messages[1].Content);
    }
}
