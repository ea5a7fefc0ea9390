using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Core.Tokenization;
using static TorchSharp.torch;

namespace Llama2.Training.Sft;

/// <summary>A dialogue as tokens, with the tokens whose prediction is learned (answers of learned turns, with their EOS).</summary>
public sealed record EncodedDialogue(int[] Tokens, bool[] Learn);

/// <summary>What happened to dialogues longer than the sequence: cut to fewer exchanges, or dropped whole.</summary>
public readonly record struct FitCounts(int Kept, int Truncated, int Dropped);

/// <summary>
/// Supervised fine-tuning data (Llama 2 §3.1): dialogues encoded in the Llama 2-Chat format with a loss mask, packed
/// several per sequence with attention that never crosses a dialogue boundary.
/// </summary>
public sealed class SftData
{
    private readonly List<EncodedDialogue> _dialogues;
    private readonly List<int[]> _packs; // dialogue indices per sequence

    private SftData(List<EncodedDialogue> dialogues, List<int[]> packs, int seqLen, FitCounts counts)
    {
        _dialogues = dialogues;
        _packs = packs;
        SeqLen = seqLen;
        Counts = counts;
    }

    public int SeqLen { get; }

    /// <summary>Sequences (packs).</summary>
    public int Count => _packs.Count;

    public FitCounts Counts { get; }

    /// <summary>Learned tokens in all sequences.</summary>
    public long LearnedTokens => _dialogues.Sum(d => (long)d.Learn.Count(l => l));

    /// <summary>
    /// Encodes a dialogue: each exchange as Meta's format (<c>BOS [INST] user [/INST]</c>, then <c>answer EOS</c>); the answer
    /// tokens of every assistant turn (or only the last, for <see cref="LossScope.LastAssistantTurn"/>) are learned.
    /// </summary>
    /// <exception cref="ChatFormatException">Roles out of order, or the dialogue does not end with the assistant.</exception>
    public static EncodedDialogue Encode(LlamaTokenizer tokenizer, ChatExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var exchanges = Llama2ChatFormat.EncodeExchanges(tokenizer, example.Messages);
        var tokens = new List<int>();
        var learn = new List<bool>();
        for (int i = 0; i < exchanges.Count; i++)
        {
            var (prompt, answer) = exchanges[i];
            bool learned = example.Loss == LossScope.AllAssistantTurns || i == exchanges.Count - 1;
            tokens.AddRange(prompt);
            learn.AddRange(Enumerable.Repeat(false, prompt.Length));
            tokens.AddRange(answer);
            learn.AddRange(Enumerable.Repeat(learned, answer.Length));
        }

        return new EncodedDialogue([.. tokens], [.. learn]);
    }

    /// <summary>
    /// Encodes, fits and packs dialogues into sequences of <paramref name="seqLen"/> tokens. A dialogue that is too long
    /// loses exchanges from its end while one remains (counted as truncated); one whose learned turn would be cut
    /// (last-turn loss) or whose first exchange alone is too long is dropped (counted). Never mis-masked.
    /// </summary>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="examples">Dialogues ending with the assistant.</param>
    /// <param name="seqLen">Tokens per sequence.</param>
    /// <param name="pack">Several dialogues per sequence (first fit, in the given order); false puts one per sequence.</param>
    public static SftData Build(LlamaTokenizer tokenizer, IEnumerable<ChatExample> examples, int seqLen, bool pack = true)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var dialogues = new List<EncodedDialogue>();
        int truncated = 0, dropped = 0;
        foreach (var example in examples)
        {
            var fitted = Fit(tokenizer, example, seqLen);
            if (fitted is null)
            {
                dropped++;
                continue;
            }

            truncated += fitted.Value.Truncated ? 1 : 0;
            dialogues.Add(fitted.Value.Dialogue);
        }

        var packs = new List<int[]>();
        var current = new List<int>();
        int used = 0;
        for (int i = 0; i < dialogues.Count; i++)
        {
            int length = dialogues[i].Tokens.Length;
            if (current.Count > 0 && (!pack || used + length > seqLen))
            {
                packs.Add([.. current]);
                (current, used) = ([], 0);
            }

            current.Add(i);
            used += length;
        }

        if (current.Count > 0)
        {
            packs.Add([.. current]);
        }

        return new SftData(dialogues, packs, seqLen, new FitCounts(dialogues.Count, truncated, dropped));
    }

    /// <summary>
    /// Sequences <paramref name="indices"/> as tensors: inputs (b, seq), targets (b, seq) with <see cref="Losses.IgnoreIndex"/>
    /// wherever the next token is not learned (prompts, padding, dialogue ends), and the attention mask (b, 1, seq, seq):
    /// causal within each dialogue, nothing across dialogues.
    /// </summary>
    public (Tensor Inputs, Tensor Targets, Tensor Mask) Batch(IReadOnlyList<int> indices, Device device)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int b = indices.Count, s = SeqLen;
        var inputs = new long[b * s];
        var targets = new long[b * s];
        var mask = new bool[b * s * s];
        Array.Fill(targets, Losses.IgnoreIndex);
        for (int row = 0; row < b; row++)
        {
            int offset = 0;
            foreach (int d in _packs[indices[row]])
            {
                var (tokens, learn) = (_dialogues[d].Tokens, _dialogues[d].Learn);
                for (int t = 0; t < tokens.Length; t++)
                {
                    int position = row * s + offset + t;
                    inputs[position] = tokens[t];
                    if (t + 1 < tokens.Length && learn[t + 1])
                    {
                        targets[position] = tokens[t + 1];
                    }

                    // attends to the dialogue's own tokens up to itself
                    long maskRow = ((long)row * s + offset + t) * s;
                    Array.Fill(mask, true, (int)(maskRow + offset), t + 1);
                }

                offset += tokens.Length;
            }

            for (int p = offset; p < s; p++)
            {
                mask[((row * s) + p) * s + p] = true; // padding attends to itself only (no empty softmax rows)
            }
        }

        return (tensor(inputs, [b, s], device: device), tensor(targets, [b, s], device: device), tensor(mask, [b, 1, s, s], device: device));
    }

    private static (EncodedDialogue Dialogue, bool Truncated)? Fit(LlamaTokenizer tokenizer, ChatExample example, int seqLen)
    {
        var encoded = Encode(tokenizer, example);
        if (encoded.Tokens.Length <= seqLen)
        {
            return (encoded, false);
        }

        if (example.Loss == LossScope.LastAssistantTurn)
        {
            return null;
        }

        // Cut whole exchanges from the end; a prefix of whole exchanges keeps the mask exact.
        var messages = example.Messages.ToList();
        while (messages.Count(m => m.Role == ChatRole.Assistant) > 1)
        {
            messages.RemoveRange(messages.Count - 2, 2);
            encoded = Encode(tokenizer, example with { Messages = messages });
            if (encoded.Tokens.Length <= seqLen)
            {
                return (encoded, true);
            }
        }

        return null;
    }
}
