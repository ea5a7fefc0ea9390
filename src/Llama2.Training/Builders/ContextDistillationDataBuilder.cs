using Llama2.Core.Chat;
using Llama2.Core.Data;

namespace Llama2.Training.Builders;

/// <summary>One adversarial prompt after context distillation: both answers, their Safety RM scores, and whether the distilled one is kept.</summary>
public sealed record DistilledAnswer(PromptExample Prompt, string WithPreprompt, string Without, double ScoreWith, double ScoreWithout, bool Kept);

/// <summary>
/// Safety context distillation (Llama 2 §4.2.4): prefix adversarial prompts with a safety preprompt (and, when the risk
/// category is known, an answer template), generate, then fine-tune on the answer without the preprompt. Targeted: a
/// distilled answer is kept only where the Safety RM scores it above the answer the model gives without the preprompt.
/// </summary>
public static class ContextDistillationDataBuilder
{
    /// <param name="prompts">Adversarial prompts (their category picks the template).</param>
    /// <param name="preprompt">The preprompt for a prompt: its category's (with the answer template) or the generic one.</param>
    /// <param name="sample">Answers a batch of dialogues.</param>
    /// <param name="score">Safety RM rewards of (prompt without preprompt, answer).</param>
    /// <param name="targeted">Keep only answers the Safety RM prefers to the plain ones (the paper's targeted variant); false keeps all.</param>
    public static List<DistilledAnswer> Build(IReadOnlyList<PromptExample> prompts, Func<PromptExample, string> preprompt,
        Func<IReadOnlyList<IReadOnlyList<ChatMessage>>, IReadOnlyList<string>> sample,
        Func<IReadOnlyList<(IReadOnlyList<ChatMessage> Prompt, string Answer)>, double[]> score, bool targeted = true)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(preprompt);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(score);
        var with = sample([.. prompts.Select(p => WithPreprompt(p.Messages, preprompt(p)))]);
        var without = sample([.. prompts.Select(p => p.Messages)]);
        var scoresWith = score([.. prompts.Select((p, i) => (p.Messages, with[i]))]);
        var scoresWithout = score([.. prompts.Select((p, i) => (p.Messages, without[i]))]);
        var keep = Keep(scoresWith, scoresWithout, targeted);
        // an empty answer (for example a prompt that did not fit with its preprompt) is never a target
        return [.. prompts.Select((p, i) => new DistilledAnswer(p, with[i], without[i], scoresWith[i], scoresWithout[i], keep[i] && with[i].Trim().Length > 0))];
    }

    /// <summary>The targeted filter: keep where the distilled answer scores strictly higher than the plain one.</summary>
    public static bool[] Keep(IReadOnlyList<double> scoresWith, IReadOnlyList<double> scoresWithout, bool targeted = true)
    {
        ArgumentNullException.ThrowIfNull(scoresWith);
        ArgumentNullException.ThrowIfNull(scoresWithout);
        return [.. scoresWith.Select((s, i) => !targeted || s > scoresWithout[i])];
    }

    /// <summary>The fine-tuning examples: the prompt without the preprompt, answered with the kept distilled answer.</summary>
    public static List<ChatExample> Examples(IEnumerable<DistilledAnswer> answers) =>
        [.. answers.Where(a => a.Kept).Select(a => new ChatExample([.. a.Prompt.Messages, new ChatMessage(ChatRole.Assistant, a.WithPreprompt)]))];

    /// <summary>The dialogue with the preprompt before the last user message (after any system message).</summary>
    public static IReadOnlyList<ChatMessage> WithPreprompt(IReadOnlyList<ChatMessage> dialog, string preprompt)
    {
        ArgumentNullException.ThrowIfNull(dialog);
        var messages = dialog.ToList();
        messages[^1] = messages[^1] with { Content = $"{preprompt}\n\n{messages[^1].Content}" };
        return messages;
    }
}
