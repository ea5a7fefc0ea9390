using Llama2.Core.Chat;
using Llama2.Core.Tokenization;
using static TorchSharp.torch;

namespace Llama2.Training.RewardModeling;

/// <summary>Scores (prompt, answer) pairs with a reward model, in batches; answers too long for the model are cut at the end.</summary>
public sealed class RewardScorer(RewardModel model, LlamaTokenizer tokenizer, int batch = 16) : IDisposable
{
    public RewardModel Model => model;

    /// <summary>Loads a reward model saved by <see cref="RewardModel.Save"/>.</summary>
    public static RewardScorer Load(string directory, int batch = 16)
    {
        var (model, tokenizer) = RewardModel.Load(directory);
        return new RewardScorer(model, tokenizer, batch);
    }

    /// <summary>The reward of each (prompt, answer), read at the answer's EOS.</summary>
    public double[] Score(IReadOnlyList<(IReadOnlyList<ChatMessage> Prompt, string Answer)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        using var noGrad = no_grad();
        model.eval();
        var scores = new double[items.Count];
        int limit = model.Config.MaxSeqLen;
        for (int start = 0; start < items.Count; start += batch)
        {
            using var scope = NewDisposeScope();
            var rows = items.Skip(start).Take(batch).Select(i =>
            {
                var ids = RewardData.Encode(tokenizer, i.Prompt, i.Answer);
                return ids.Length <= limit ? ids : [.. ids[..(limit - 1)], tokenizer.EosId];
            }).ToList();
            int length = rows.Max(r => r.Length);
            var tokens = new long[rows.Count * length];
            for (int r = 0; r < rows.Count; r++)
            {
                for (int t = 0; t < rows[r].Length; t++)
                {
                    tokens[r * length + t] = rows[r][t];
                }
            }

            var rewards = model.forward(tensor(tokens, [rows.Count, length]), tensor(rows.Select(r => (long)r.Length - 1).ToArray())).data<float>().ToArray();
            for (int r = 0; r < rows.Count; r++)
            {
                scores[start + r] = rewards[r];
            }
        }

        return scores;
    }

    public void Dispose() => model.Dispose();
}
