using Llama2.Core.Chat;
using Llama2.Core.Data;

namespace Llama2.Training.Builders;

/// <summary>A multi-turn dialogue to build Ghost Attention data from: an instruction and the user's turns.</summary>
public sealed record GattSource(string Instruction, IReadOnlyList<string> UserTurns);

/// <summary>
/// Ghost Attention (Llama 2 §3.3): the instruction is attached to every user turn and the answers are sampled with the
/// current model; then the instruction is kept only in the first turn (as the system message, which Llama 2-Chat folds
/// into the first user message) and the loss is zeroed on every token of earlier turns, assistant turns included. The
/// examples feed <see cref="Sft.SftTrainer"/>.
/// </summary>
public static class GhostAttentionDataBuilder
{
    /// <summary>
    /// Samples every dialogue turn by turn (all dialogues' turn t in one call, so the engine can batch them) and returns
    /// the training examples: for each dialogue and each turn k (or only the last, unless <paramref name="everyTurn"/>),
    /// the dialogue up to turn k with the loss on answer k only.
    /// </summary>
    /// <param name="sources">Instructions and user turns.</param>
    /// <param name="sample">Answers a batch of dialogues (each ending with a user message whose turn carries the instruction).</param>
    /// <param name="everyTurn">One example per turn (a dialogue of T turns gives T examples); false gives one, learning the last turn.</param>
    /// <param name="accept">
    /// Optional filter (not in the paper): a sampled answer it rejects ends that dialogue's examples at the previous turn,
    /// so the data never teaches an answer that broke the instruction.
    /// </param>
    public static List<ChatExample> Build(IReadOnlyList<GattSource> sources, Func<IReadOnlyList<IReadOnlyList<ChatMessage>>, IReadOnlyList<string>> sample,
        bool everyTurn = true, Func<string, string, bool>? accept = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(sample);
        var sampled = sources.Select(_ => new List<ChatMessage>()).ToList(); // with the instruction in every user turn
        var answers = sources.Select(_ => new List<string>()).ToList();
        var open = Enumerable.Range(0, sources.Count).ToList();
        for (int turn = 0; open.Count > 0; turn++)
        {
            open = [.. open.Where(d => turn < sources[d].UserTurns.Count)];
            foreach (int d in open)
            {
                if (turn == 0)
                {
                    sampled[d].Add(new ChatMessage(ChatRole.System, sources[d].Instruction));
                }

                sampled[d].Add(new ChatMessage(ChatRole.User, $"{sources[d].UserTurns[turn]} {sources[d].Instruction}"));
            }

            var replies = open.Count == 0 ? [] : sample([.. open.Select(d => (IReadOnlyList<ChatMessage>)[.. sampled[d]])]);
            var still = new List<int>();
            for (int i = 0; i < open.Count; i++)
            {
                int d = open[i];
                if (accept is not null && !accept(sources[d].Instruction, replies[i]))
                {
                    continue; // this dialogue ends here
                }

                sampled[d].Add(new ChatMessage(ChatRole.Assistant, replies[i]));
                answers[d].Add(replies[i]);
                still.Add(d);
            }

            open = still;
        }

        var examples = new List<ChatExample>();
        for (int d = 0; d < sources.Count; d++)
        {
            int turns = answers[d].Count;
            for (int k = everyTurn ? 1 : turns; k <= turns && k > 0; k++)
            {
                examples.Add(new ChatExample(Dialogue(sources[d], answers[d], k), LossScope.LastAssistantTurn));
            }
        }

        return examples;
    }

    /// <summary>The training dialogue of the first <paramref name="turns"/> turns: the instruction only in the first (as the system message).</summary>
    public static IReadOnlyList<ChatMessage> Dialogue(GattSource source, IReadOnlyList<string> answers, int turns)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(answers);
        var messages = new List<ChatMessage> { new(ChatRole.System, source.Instruction) };
        for (int t = 0; t < turns; t++)
        {
            messages.Add(new ChatMessage(ChatRole.User, source.UserTurns[t]));
            messages.Add(new ChatMessage(ChatRole.Assistant, answers[t]));
        }

        return messages;
    }
}
