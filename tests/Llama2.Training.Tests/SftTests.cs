using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Core.IO;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;
using Llama2.Training.Builders;
using Llama2.Training.Sft;
using static TorchSharp.torch;

namespace Llama2.Training.Tests;

public sealed class SftTests
{
    private static LlamaTokenizer Tokenizer() => TokenizerLoader.FromSentencePiece(TrainingFixture.Tokenizer);

    private static readonly ChatMessage[] s_dialogue =
    [
        new(ChatRole.System, "Be kind."),
        new(ChatRole.User, "Where does the llama sleep?"),
        new(ChatRole.Assistant, "The llama sleeps near the old barn."),
        new(ChatRole.User, "And the alpaca?"),
        new(ChatRole.Assistant, "It walks across the high meadow."),
    ];

    [Fact]
    public void The_loss_mask_is_exactly_the_assistant_tokens_with_their_EOS()
    {
        var tokenizer = Tokenizer();
        var encoded = SftData.Encode(tokenizer, new ChatExample(s_dialogue));

        // The whole dialogue is Meta's training text for it.
        Assert.Equal(tokenizer.Decode(Llama2ChatFormat.EncodeCompletedDialog(tokenizer, s_dialogue)), tokenizer.Decode(encoded.Tokens));

        // The learned tokens are the two answers (each "answer </s>"), nothing else.
        var learned = Runs(encoded, learn: true);
        Assert.Equal(2, learned.Count);
        Assert.Equal([.. tokenizer.Encode("The llama sleeps near the old barn. ", addEos: true)], learned[0]);
        Assert.Equal([.. tokenizer.Encode("It walks across the high meadow. ", addEos: true)], learned[1]);
        var prompts = Runs(encoded, learn: false);
        Assert.Equal([.. tokenizer.Encode("[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nWhere does the llama sleep? [/INST]", addBos: true)], prompts[0]);
        Assert.Equal([.. tokenizer.Encode("[INST] And the alpaca? [/INST]", addBos: true)], prompts[1]);

        // Ghost Attention's scope: only the last answer.
        var last = SftData.Encode(tokenizer, new ChatExample(s_dialogue, LossScope.LastAssistantTurn));
        Assert.Equal(encoded.Tokens, last.Tokens);
        Assert.Equal(learned[1], Assert.Single(Runs(last, learn: true)));
    }

    [Fact]
    public void Targets_are_ignored_except_where_the_next_token_is_learned_and_those_get_all_the_gradient()
    {
        var tokenizer = Tokenizer();
        var data = SftData.Build(tokenizer, [new ChatExample(s_dialogue), new ChatExample(s_dialogue[..3])], seqLen: 256);
        Assert.Equal(1, data.Count); // both packed into one sequence
        var (inputs, targets, _) = data.Batch([0], CPU);
        var t = targets.data<long>().ToArray();
        var x = inputs.data<long>().ToArray();
        int learned = t.Count(v => v != Losses.IgnoreIndex);
        Assert.Equal(data.LearnedTokens, learned);
        for (int i = 0; i < t.Length - 1; i++)
        {
            Assert.True(t[i] == Losses.IgnoreIndex || t[i] == x[i + 1]);
        }

        using var logits = randn(1, 256, tokenizer.VocabSize).requires_grad_(true);
        Losses.NextTokenCrossEntropy(logits, targets).backward();
        var rowNorms = logits.grad!.abs().sum(2).squeeze(0).data<float>().ToArray();
        for (int i = 0; i < t.Length; i++)
        {
            Assert.Equal(t[i] != Losses.IgnoreIndex, rowNorms[i] > 0);
        }
    }

    [Fact]
    public void Packed_dialogues_never_attend_across_their_boundary()
    {
        var tokenizer = Tokenizer();
        using var model = new LlamaModel(new ModelConfig { Dim = 32, NLayers = 2, NHeads = 4, NKvHeads = 2, HiddenDim = 64, VocabSize = tokenizer.VocabSize, MaxSeqLen = 256 }, generator: new Generator(5));
        var first = new ChatExample(s_dialogue[..3]);
        var second = new ChatExample([new(ChatRole.User, "Who climbs the stone wall?"), new(ChatRole.Assistant, "A shepherd climbs it.")]);
        var packed = SftData.Build(tokenizer, [first, second], 256);
        var alone = SftData.Build(tokenizer, [second], 256);
        Assert.Equal(1, packed.Count);
        int offset = SftData.Encode(tokenizer, first).Tokens.Length, length = SftData.Encode(tokenizer, second).Tokens.Length;
        using var noGrad = no_grad();
        var (packedInputs, _, packedMask) = packed.Batch([0], CPU);
        var (aloneInputs, _, aloneMask) = alone.Batch([0], CPU);
        var inPack = model.forward(packedInputs, packedMask)[0, offset..(offset + length)];
        var byItself = model.forward(aloneInputs, aloneMask)[0, ..length];
        Assert.True(inPack.allclose(byItself, rtol: 1e-4, atol: 1e-4), "the second dialogue's logits do not depend on the first");
    }

    [Fact]
    public void Dialogues_longer_than_the_sequence_are_cut_at_exchanges_or_dropped_and_counted()
    {
        var tokenizer = Tokenizer();
        int firstExchange = SftData.Encode(tokenizer, new ChatExample(s_dialogue[..3])).Tokens.Length;
        var data = SftData.Build(tokenizer,
            [new ChatExample(s_dialogue), new ChatExample(s_dialogue, LossScope.LastAssistantTurn), new ChatExample([new(ChatRole.User, new string('x', 400)), new(ChatRole.Assistant, "ok")])],
            seqLen: firstExchange + 2);
        Assert.Equal(new FitCounts(1, 1, 2), data.Counts);
        Assert.Equal(SftData.Encode(tokenizer, new ChatExample(s_dialogue[..3])).Learn.Count(l => l), data.LearnedTokens);
    }

    [Fact]
    public void Malformed_lines_are_reported_with_their_line_number_or_skipped()
    {
        using var dir = new TempDirectory();
        var path = dir.File("chat.jsonl");
        File.WriteAllLines(path,
        [
            """{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}""",
            """{"prompt": "2+2?", "completion": "4"}""",
            """{"messages": [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "hello"}]}""",
            "{not json",
            """{"messages": [{"role": "user", "content": "only a question"}]}""",
        ]);
        var e = Assert.Throws<InvalidModelFileException>(() => ChatDataset.Read([path]));
        Assert.Contains("line 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("expected role 'user'", e.Message, StringComparison.Ordinal);
        var warnings = new List<string>();
        var examples = ChatDataset.Read([path], skipInvalid: true, warnings.Add);
        Assert.Equal(2, examples.Count);
        Assert.Equal(3, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("line 4", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("line 5", StringComparison.Ordinal) && w.Contains("assistant", StringComparison.Ordinal));
    }

    [Fact]
    public void Ghost_attention_keeps_the_instruction_only_in_the_first_turn_and_learns_only_the_last()
    {
        var seen = new List<IReadOnlyList<ChatMessage>>();
        var sources = new List<GattSource> { new("Always answer in capital letters.", ["Who sleeps?", "Who climbs?", "Who grazes?"]) };
        var examples = GhostAttentionDataBuilder.Build(sources, batch =>
        {
            seen.AddRange(batch);
            return [.. batch.Select(d => $"ANSWER {d.Count(m => m.Role == ChatRole.User)}")];
        });

        // Sampling saw the instruction with every user turn.
        Assert.Equal(3, seen.Count);
        Assert.All(seen[^1].Where(m => m.Role == ChatRole.User), m => Assert.EndsWith("Always answer in capital letters.", m.Content, StringComparison.Ordinal));
        Assert.Equal(["ANSWER 1", "ANSWER 2"], seen[^1].Where(m => m.Role == ChatRole.Assistant).Select(m => m.Content));

        // Training data: one example per turn; the instruction only as the system message; loss on the last turn.
        Assert.Equal(3, examples.Count);
        var full = examples[^1];
        Assert.Equal(LossScope.LastAssistantTurn, full.Loss);
        Assert.Equal(new ChatMessage(ChatRole.System, "Always answer in capital letters."), full.Messages[0]);
        Assert.Equal(["Who sleeps?", "Who climbs?", "Who grazes?"], full.Messages.Where(m => m.Role == ChatRole.User).Select(m => m.Content));
        var tokenizer = Tokenizer();
        var encoded = SftData.Encode(tokenizer, full);
        Assert.Equal([.. tokenizer.Encode("ANSWER 3 ", addEos: true)], Assert.Single(Runs(encoded, learn: true)));
    }

    /// <summary>The maximal runs of tokens whose learn flag is <paramref name="learn"/>.</summary>
    private static List<int[]> Runs(EncodedDialogue encoded, bool learn)
    {
        var runs = new List<int[]>();
        var current = new List<int>();
        for (int i = 0; i <= encoded.Tokens.Length; i++)
        {
            if (i < encoded.Tokens.Length && encoded.Learn[i] == learn)
            {
                current.Add(encoded.Tokens[i]);
            }
            else if (current.Count > 0)
            {
                runs.Add([.. current]);
                current = [];
            }
        }

        return runs;
    }
}

/// <summary>The trainer end to end on a micro model: run folder, learning, and resume on the same trajectory.</summary>
public sealed class SftTrainerTests
{
    private static readonly Lazy<string> s_base = new(() =>
    {
        var folder = Path.Combine(TrainingFixture.Folder, "sft-base");
        if (!Directory.Exists(Path.Combine(folder, "final")))
        {
            new Pretraining.PretrainTrainer(TrainingFixture.Micro(folder, steps: 4)).Run();
        }

        return Path.Combine(folder, "final");
    });

    /// <summary>A briefly pretrained micro model (shared by the RLHF tests).</summary>
    internal static string BaseModel => s_base.Value;

    private static string Data(TempDirectory dir)
    {
        var path = dir.File("sft.jsonl");
        string[] animals = ["llama", "alpaca", "guanaco", "herd", "shepherd"];
        File.WriteAllLines(path, Enumerable.Range(0, 40).Select(i =>
            $$"""{"messages": [{"role": "user", "content": "Where is the {{animals[i % 5]}}?"}, {"role": "assistant", "content": "The {{animals[i % 5]}} is near the old barn."}]}"""));
        return path;
    }

    private static SftConfig Config(string data, string output) => SftConfig.ForPreset("micro") with
    {
        BaseModel = s_base.Value,
        Data = [data],
        Output = output,
        SeqLen = 64,
        BatchSequences = 4,
        MicroBatch = 2,
        Epochs = 2,
        CheckpointInterval = 4,
        EvalInterval = 2,
        Threads = 1,
    };

    [Fact]
    public void Fine_tuning_lowers_the_answer_loss_and_resumes_on_the_same_trajectory()
    {
        using var dir = new TempDirectory();
        var data = Data(dir);
        var whole = Path.Combine(dir.Path, "whole");
        var result = new SftTrainer(Config(data, whole)).Run();
        Assert.True(result.LastValLoss < result.FirstValLoss, $"validation loss {result.FirstValLoss} → {result.LastValLoss}");
        Assert.True(File.Exists(Path.Combine(whole, "final", "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(whole, "loss.png")));

        var split = Path.Combine(dir.Path, "split");
        using var stop = new CancellationTokenSource();
        new SftTrainer(Config(data, split), report: r =>
        {
            if (r.Step == 4)
            {
                stop.Cancel();
            }
        }).Run(cancellation: stop.Token);
        new SftTrainer(Config(data, split)).Run(resume: true);
        var a = File.ReadAllLines(Path.Combine(whole, "metrics.jsonl"));
        var b = File.ReadAllLines(Path.Combine(split, "metrics.jsonl"));
        Assert.Equal(a.Length, b.Length);
        using var fa = ModelFile.Open(Path.Combine(whole, "final"));
        using var fb = ModelFile.Open(Path.Combine(split, "final"));
        Assert.Equal(fa[TensorNames.Wq(1)].Data.ToArray(), fb[TensorNames.Wq(1)].Data.ToArray());
    }
}
