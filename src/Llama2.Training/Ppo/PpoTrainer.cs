using System.Globalization;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.Chat;
using Llama2.Core.Data;
using Llama2.Core.Model;
using Llama2.Core.Tokenization;
using Llama2.Core.World;
using Llama2.Training.Optim;
using Llama2.Training.Pretraining;
using Llama2.Training.RewardModeling;
using Llama2.Training.Runs;
using TorchSharp;
using TorchSharp.Modules;
using AdamW = Llama2.Training.Optim.AdamW;
using static TorchSharp.torch;

namespace Llama2.Training.Ppo;

/// <summary>
/// Samples one response per prompt from the policy saved in a model folder (the engine does this fast, with a KV
/// cache); returns each response's token ids, ending with EOS when the model stopped.
/// </summary>
public delegate IReadOnlyList<int[]> RolloutSampler(string policyFolder, IReadOnlyList<IReadOnlyList<ChatMessage>> prompts, int maxNewTokens, float temperature, ulong seed);

/// <summary>What a PPO run did.</summary>
public sealed record PpoResult(string RunFolder, string FinalModel, int Iterations, double? FirstHeldOutReward, double? BestHeldOutReward);

/// <summary>
/// PPO (Llama 2 §3.2.3) as separate small parts: <see cref="Rollout"/> (sample and score), <see cref="Advantages"/>
/// (log-probabilities, per-token KL rewards, GAE) and <see cref="Update"/> (clipped policy and value losses, one step
/// per mini-batch). Reward: <c>WHITEN(LOGIT(R_c)) − β·KL</c> with the piecewise safety/helpfulness R_c.
/// </summary>
public sealed class PpoTrainer(PpoConfig config, RolloutSampler sampler, Action<TrainingReport>? report = null, Action<string>? log = null)
{
    private Random _shuffle = new((int)(config.Seed % int.MaxValue));
    private GoldJudge? _goldJudge;
    private readonly Dictionary<string, WorldTask> _goldTasks = [];

    /// <summary>One sampled response and everything computed about it.</summary>
    public sealed class Sample
    {
        public required int[] Prompt { get; init; }

        public required int[] Response { get; init; }

        public required bool IsSafety { get; init; }

        public double Rc { get; set; }

        /// <summary>A helpful prompt whose answer the Safety RM scored below <see cref="PpoConfig.SafetyThreshold"/>, so R_c is the safety score.</summary>
        public bool SafetyOverride { get; set; }

        public double Score { get; set; }

        /// <summary>With a gold judge (<see cref="PpoConfig.GoldJudgeWorld"/>): whether it graded the answer right; else null.</summary>
        public bool? GoldRight { get; set; }

        public float[] OldLogProbs { get; set; } = [];

        public float[] RefLogProbs { get; set; } = [];

        public float[] OldValues { get; set; } = [];

        public float[] Advantages { get; set; } = [];

        public float[] Returns { get; set; } = [];
    }

    /// <summary>
    /// Runs PPO (or with <paramref name="resume"/>, continues the run in the config's output from its last checkpoint,
    /// with the config saved there). Cancelling finishes the iteration and saves a checkpoint first.
    /// </summary>
    /// <exception cref="ArgumentException">The config or prompts are unusable; nothing has been trained.</exception>
    public PpoResult Run(bool resume = false, CancellationToken cancellation = default)
    {
        var saved = Path.Combine(config.Output, "config.json");
        var c = resume && File.Exists(saved) ? PpoConfig.Load(saved) : config;
        c.Validate();
        TorchSetup.SetThreads(c.Threads);
        Directory.CreateDirectory(c.Output);
        File.WriteAllText(saved, JsonSerializer.Serialize(c, PpoConfig.Json));
        var prompts = PromptDataset.Read(c.Prompts);
        var heldOut = c.HeldOutPrompts.Count > 0 ? PromptDataset.Read(c.HeldOutPrompts) : [];
        if (c.GoldJudgeWorld is { Length: > 0 } world)
        {
            UseGoldJudge(world, c.Prompts);
        }

        using var file = ModelFile.Open(c.Policy);
        var tokenizer = file.Tokenizer;
        int maxLen = file.Config.MaxSeqLen;
        using var policy = new PolicyWithValue(file);
        using var reference = new LlamaModel(file.Config);
        reference.LoadWeights(file);
        reference.eval();
        using var safetyRm = RewardScorer.Load(c.SafetyRewardModel);
        using var helpfulRm = RewardScorer.Load(c.HelpfulnessRewardModel);
        var optimizer = new AdamW(policy.Policy.named_parameters(), c.Beta1, c.Beta2, c.Eps, c.WeightDecay);
        var valueOptimizer = new AdamW(policy.ValueHead.named_parameters(), c.Beta1, c.Beta2, c.Eps, c.WeightDecay);
        var checkpoints = Path.Combine(c.Output, "checkpoints");
        var state = new PpoRunState(0, null, null, 0, 0, 0, 0);
        if (resume && Checkpoint.FindLatest(checkpoints) is { } latest)
        {
            state = PpoCheckpoint.Load(latest, policy, optimizer, valueOptimizer);
            log?.Invoke($"resumed from {latest} (iteration {state.Iteration})");
        }

        using var metrics = new MetricsLog(Path.Combine(c.Output, "metrics.jsonl"), state.Iteration == 0 ? -1 : state.Iteration);
        using var examples = OpenExamples(Path.Combine(c.Output, "heldout-samples.jsonl"), state.Iteration);
        var snapshot = Path.Combine(c.Output, "policy-snapshot");
        var best = Path.Combine(c.Output, "final");
        double? first = state.FirstHeldOutReward, bestReward = state.BestHeldOutReward;
        int sinceBest = state.SinceBest, iteration = state.Iteration;
        var order = new Data.WindowOrder(prompts.Count, c.Seed);
        var clock = Stopwatch.StartNew();
        for (; iteration < c.Iterations && !cancellation.IsCancellationRequested; iteration++)
        {
            _shuffle = new Random((int)((c.Seed + (ulong)iteration) % int.MaxValue)); // per iteration, so a resumed run shuffles as an unbroken one
            var batch = Enumerable.Range(0, c.PromptsPerIteration).Select(i => prompts[order.At((long)iteration * c.PromptsPerIteration + i)]).ToList();
            Checkpoint.Save(snapshot, policy.Policy, tokenizer);
            var samples = Rollout(batch, snapshot, tokenizer, safetyRm, helpfulRm, maxLen, c.Seed + (ulong)iteration);
            var kl = Advantages(samples, policy, reference);
            var (policyLoss, valueLoss, clipFraction, entropy) = Update(samples, policy, optimizer, valueOptimizer);
            var entry = new JsonObject
            {
                ["step"] = iteration + 1,
                ["reward"] = samples.Average(s => s.Rc),
                ["score"] = samples.Average(s => s.Score),
                ["kl"] = kl,
                ["policy_loss"] = policyLoss,
                ["value_loss"] = valueLoss,
                ["clip_fraction"] = clipFraction,
                ["entropy"] = entropy,
                ["response_tokens"] = samples.Average(s => s.Response.Length),
                ["safety_override"] = samples.Count(s => s.SafetyOverride) / (double)Math.Max(1, samples.Count(s => !s.IsSafety)),
            };
            if (iteration == 0 && (double)entry["safety_override"]! > 0.5)
            {
                log?.Invoke($"the Safety RM scores {(double)entry["safety_override"]!:P0} of the answers to helpful prompts below safety_threshold {c.SafetyThreshold}, so the Safety RM, not the Helpfulness RM, rewards them: is it calibrated on helpful answers?");
            }

            if (samples.Any(s => s.GoldRight is not null))
            {
                entry["gold_right"] = samples.Where(s => s.GoldRight is not null).Average(s => s.GoldRight!.Value ? 1.0 : 0);
            }

            if (heldOut.Count > 0 && ((iteration + 1) % c.EvalInterval == 0 || iteration == 0 || iteration + 1 == c.Iterations))
            {
                Checkpoint.Save(snapshot, policy.Policy, tokenizer);
                var heldOutSamples = Rollout(heldOut, snapshot, tokenizer, safetyRm, helpfulRm, maxLen, c.Seed, useGoldJudge: false);
                double reward = heldOutSamples.Average(s => s.Rc);
                entry["heldout_reward"] = reward;
                WriteExamples(examples, iteration + 1, heldOutSamples, tokenizer);
                first ??= reward;
                if (bestReward is null || reward > bestReward)
                {
                    (bestReward, sinceBest) = (reward, 0);
                    Checkpoint.Save(best, policy.Policy, tokenizer);
                }
                else if (++sinceBest >= c.Patience)
                {
                    log?.Invoke($"early stop at iteration {iteration + 1}: no held-out improvement in {c.Patience} evaluations (best {bestReward:F4})");
                    metrics.Write(entry);
                    iteration++;
                    break;
                }
            }

            metrics.Write(entry);
            double? heldOutReward = entry["heldout_reward"] is { } h ? Plots.Number(h) : null;
            report?.Invoke(new TrainingReport(iteration + 1, c.Iterations, policyLoss, c.Lr, 0, 0, heldOutReward, clock.Elapsed,
                Detail: string.Create(CultureInfo.InvariantCulture, $"reward {samples.Average(s => s.Rc):F4}{(heldOutReward is { } r ? $" held-out {r:F4}" : "")} KL {kl:F3} clip {clipFraction:F3}")));

            if ((iteration + 1) % c.CheckpointInterval == 0 || cancellation.IsCancellationRequested)
            {
                PpoCheckpoint.Save(checkpoints, policy, tokenizer, optimizer, valueOptimizer,
                    new PpoRunState(iteration + 1, first, bestReward, sinceBest, optimizer.Step, valueOptimizer.Step, state.ElapsedSeconds + clock.Elapsed.TotalSeconds), c.Seed);
            }
        }

        if (heldOut.Count == 0)
        {
            Checkpoint.Save(best, policy.Policy, tokenizer);
        }

        if (Directory.Exists(snapshot))
        {
            Directory.Delete(snapshot, recursive: true);
        }

        Plots.Lines(Path.Combine(c.Output, "reward.png"), "PPO: reward per iteration (cf. Llama 2 Fig. 11)", "mean R_c", metrics.Entries, "reward", "heldout_reward", "gold_right");
        Plots.Lines(Path.Combine(c.Output, "kl.png"), "PPO: KL to the reference per response", "nats", metrics.Entries, "kl");
        return new PpoResult(c.Output, best, iteration, first, bestReward);
    }

    /// <summary>
    /// Writes a fixed spread of <see cref="ExamplesPerEvaluation"/> held-out answers with their R_c, the same prompts at
    /// every evaluation, so a reader sees what the reward is buying (reward hacking shows here before it shows in the metrics).
    /// </summary>
    private static void WriteExamples(StreamWriter writer, int step, List<Sample> samples, LlamaTokenizer tokenizer)
    {
        int stride = Math.Max(1, samples.Count / ExamplesPerEvaluation);
        for (int i = 0; i < samples.Count && i / stride < ExamplesPerEvaluation; i += stride)
        {
            var s = samples[i];
            writer.WriteLine(new JsonObject
            {
                ["step"] = step,
                ["is_safety"] = s.IsSafety,
                ["prompt"] = tokenizer.Decode(s.Prompt),
                ["response"] = tokenizer.Decode([.. s.Response.Where(t => t != tokenizer.EosId)]),
                ["reward"] = s.Rc,
            }.ToJsonString());
        }
    }

    /// <summary>The held-out answers file: new, or on resume after <paramref name="iteration"/> iterations, kept up to it.</summary>
    private static StreamWriter OpenExamples(string path, int iteration)
    {
        var kept = iteration > 0 && File.Exists(path)
            ? File.ReadLines(path).Where(l => MetricsLog.StepOf(l) is { } s && s <= iteration).ToList()
            : [];
        File.WriteAllLines(path, kept);
        return new StreamWriter(path, append: true) { AutoFlush = true };
    }

    /// <summary>Held-out answers written to <c>heldout-samples.jsonl</c> at each evaluation.</summary>
    public const int ExamplesPerEvaluation = 8;

    /// <summary>
    /// From now on, answers to the helpful tasks of <paramref name="taskFiles"/> (world tasks or pairs) are scored by the
    /// gold judge of <paramref name="world"/> instead of the Helpfulness RM (<see cref="PpoConfig.GoldJudgeWorld"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A task file holds prompts that are not world tasks.</exception>
    public void UseGoldJudge(string world, IEnumerable<string> taskFiles)
    {
        ArgumentNullException.ThrowIfNull(taskFiles);
        _goldJudge = new GoldJudge(WorldFiles.ReadLexicon(Path.Combine(world, "lexicon.json")));
        foreach (var file in taskFiles)
        {
            foreach (var task in WorldFiles.ReadTasksOrPairs(file).Where(t => !t.IsSafety))
            {
                _goldTasks[GoldKey(task.Messages)] = task.Check is null
                    ? throw new ArgumentException($"gold_judge_world: {file} is not a world task file (a line has no \"check\")")
                    : task;
            }
        }
    }

    private static string GoldKey(IReadOnlyList<ChatMessage> messages) => JsonSerializer.Serialize(messages, WorldFiles.JsonOptions);

    /// <summary>
    /// Samples a response per prompt with the engine and scores it: R_c piecewise from the two RMs, the score
    /// WHITEN(LOGIT(R_c)); with <paramref name="useGoldJudge"/> the gold judge set by <see cref="UseGoldJudge"/> scores its tasks.
    /// </summary>
    public List<Sample> Rollout(IReadOnlyList<PromptExample> prompts, string policyFolder, LlamaTokenizer tokenizer, RewardScorer safety, RewardScorer helpfulness, int maxLen, ulong seed, bool useGoldJudge = true)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(safety);
        ArgumentNullException.ThrowIfNull(helpfulness);
        // prompts that leave no room for an answer in the policy's window are left out
        prompts = [.. prompts.Where(p => Llama2ChatFormat.EncodeDialog(tokenizer, p.Messages).Length < maxLen - 1)];
        if (prompts.Count == 0)
        {
            throw new ArgumentException($"no prompt fits in the policy's context of {maxLen} tokens with room to answer");
        }

        var responses = sampler(policyFolder, [.. prompts.Select(p => p.Messages)], Math.Min(config.MaxNewTokens, maxLen), config.Temperature, seed);
        var samples = new List<Sample>();
        var scored = new List<(IReadOnlyList<ChatMessage>, string)>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var prompt = Llama2ChatFormat.EncodeDialog(tokenizer, prompts[i].Messages);
            var response = responses[i].Length == 0 ? [tokenizer.EosId] : responses[i];
            if (prompt.Length + response.Length > maxLen)
            {
                response = response[..Math.Max(1, maxLen - prompt.Length)];
            }

            samples.Add(new Sample { Prompt = prompt, Response = response, IsSafety = prompts[i].IsSafety });
            scored.Add((prompts[i].Messages, tokenizer.Decode([.. response.Where(t => t != tokenizer.EosId)])));
        }

        var rs = safety.Score(scored).Select(Sigmoid).ToArray();
        var rh = helpfulness.Score(scored).Select(Sigmoid).ToArray();
        for (int i = 0; i < samples.Count && useGoldJudge && _goldJudge is not null; i++)
        {
            if (!samples[i].IsSafety && _goldTasks.TryGetValue(GoldKey(prompts[i].Messages), out var task))
            {
                var quality = _goldJudge.Helpfulness(task, scored[i].Item2).Quality;
                rh[i] = PpoMath.GoldHelpfulness(quality);
                samples[i].GoldRight = quality >= AnswerQuality.Curt;
            }
        }

        for (int i = 0; i < samples.Count; i++)
        {
            samples[i].Rc = PpoMath.PiecewiseReward(rs[i], rh[i], samples[i].IsSafety, config.SafetyThreshold);
            samples[i].SafetyOverride = !samples[i].IsSafety && rs[i] < config.SafetyThreshold;
        }

        var whitened = PpoMath.Whiten([.. samples.Select(s => PpoMath.Logit(s.Rc))]);
        for (int i = 0; i < samples.Count; i++)
        {
            samples[i].Score = whitened[i];
        }

        return samples;
    }

    /// <summary>Old log-probabilities and values, the reference's log-probabilities, per-token rewards and GAE; returns the mean KL per response.</summary>
    public double Advantages(List<Sample> samples, PolicyWithValue policy, LlamaModel reference)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(reference);
        using var noGrad = no_grad();
        policy.eval();
        for (int start = 0; start < samples.Count; start += config.MiniBatch)
        {
            using var scope = NewDisposeScope();
            var chunk = samples.Skip(start).Take(config.MiniBatch).ToList();
            var (tokens, _) = Pad(chunk);
            var (logits, values) = policy.forward(tokens);
            var logp = PpoMath.TokenLogProbs(logits, tokens, config.Temperature);
            var refLogp = PpoMath.TokenLogProbs(reference.forward(tokens), tokens, config.Temperature);
            for (int i = 0; i < chunk.Count; i++)
            {
                var s = chunk[i];
                int p = s.Prompt.Length, n = s.Response.Length;
                s.OldLogProbs = logp[i, (p - 1)..(p - 1 + n)].data<float>().ToArray();
                s.RefLogProbs = refLogp[i, (p - 1)..(p - 1 + n)].data<float>().ToArray();
                s.OldValues = values[i, (p - 1)..(p - 1 + n)].data<float>().ToArray();
            }
        }

        double totalKl = 0;
        var all = new List<double>();
        foreach (var s in samples)
        {
            var rewards = PpoMath.TokenRewards([.. s.OldLogProbs.Select(x => (double)x)], [.. s.RefLogProbs.Select(x => (double)x)], s.Score, config.Beta);
            var (advantages, returns) = PpoMath.Gae(rewards, [.. s.OldValues.Select(x => (double)x)], config.Gamma, config.Lambda);
            s.Advantages = [.. advantages.Select(a => (float)a)];
            s.Returns = [.. returns.Select(r => (float)r)];
            all.AddRange(advantages);
            totalKl += s.OldLogProbs.Zip(s.RefLogProbs, (a, b) => (double)a - b).Sum();
        }

        // advantages whitened over all response tokens of the iteration
        double mean = all.Average(), std = Math.Sqrt(all.Average(a => (a - mean) * (a - mean))) + 1e-8;
        foreach (var s in samples)
        {
            s.Advantages = [.. s.Advantages.Select(a => (float)((a - mean) / std))];
        }

        return totalKl / samples.Count;
    }

    /// <summary>
    /// One gradient step per mini-batch (Llama 2: one step each) on the clipped policy loss plus the weighted value loss:
    /// <paramref name="optimizer"/> steps the policy at <see cref="PpoConfig.Lr"/>, <paramref name="valueOptimizer"/> the
    /// value head at <see cref="PpoConfig.ValueLr"/>, each clipped to <see cref="PpoConfig.GradClip"/>.
    /// </summary>
    public (double PolicyLoss, double ValueLoss, double ClipFraction, double Entropy) Update(List<Sample> samples, PolicyWithValue policy, AdamW optimizer, AdamW valueOptimizer)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(valueOptimizer);
        policy.train();
        double policyLoss = 0, valueLoss = 0, clipFraction = 0, entropy = 0;
        int steps = 0;
        var shuffled = samples.OrderBy(_ => _shuffle.Next()).ToList();
        for (int start = 0; start < shuffled.Count; start += config.MiniBatch, steps++)
        {
            using var scope = NewDisposeScope();
            var chunk = shuffled.Skip(start).Take(config.MiniBatch).ToList();
            var (tokens, length) = Pad(chunk);
            var (logits, values) = policy.forward(tokens);
            var logp = PpoMath.TokenLogProbs(logits, tokens, config.Temperature);
            int b = chunk.Count;
            var mask = new float[b * length];
            var old = new float[b * length];
            var adv = new float[b * length];
            var ret = new float[b * length];
            var oldV = new float[b * length];
            for (int i = 0; i < b; i++)
            {
                var s = chunk[i];
                for (int t = 0; t < s.Response.Length; t++)
                {
                    int at = i * length + s.Prompt.Length - 1 + t;
                    (mask[at], old[at], adv[at], ret[at], oldV[at]) = (1, s.OldLogProbs[t], s.Advantages[t], s.Returns[t], s.OldValues[t]);
                }
            }

            Tensor T(float[] x) => tensor(x, [b, length]);
            var m = T(mask);
            var (pg, clipped) = PpoMath.ClippedPolicyLoss(logp, T(old), T(adv), m, config.Clip);
            var vf = PpoMath.ValueLoss(values, T(oldV), T(ret), m, config.ValueClip);
            var loss = pg.Plus(vf.Times(config.ValueCoef));
            loss.backward();
            foreach (var (o, lr) in new[] { (optimizer, config.Lr), (valueOptimizer, config.ValueLr ?? config.Lr) })
            {
                o.ClipGradNorm(config.GradClip);
                o.Update(lr);
                o.ZeroGrad();
            }
            using (no_grad())
            {
                var probs = logits.softmax(-1);
                var tokenEntropy = -(probs * logits.log_softmax(-1)).sum(-1);
                entropy += ((tokenEntropy * m).sum() / m.sum()).item<float>();
            }

            policyLoss += pg.item<float>();
            valueLoss += vf.item<float>();
            clipFraction += clipped.item<float>();
        }

        return (policyLoss / steps, valueLoss / steps, clipFraction / steps, entropy / steps);
    }

    private static (Tensor Tokens, int Length) Pad(List<Sample> chunk)
    {
        int length = chunk.Max(s => s.Prompt.Length + s.Response.Length);
        var tokens = new long[chunk.Count * length];
        for (int i = 0; i < chunk.Count; i++)
        {
            int at = i * length;
            foreach (int t in chunk[i].Prompt.Concat(chunk[i].Response))
            {
                tokens[at++] = t;
            }
        }

        return (tensor(tokens, [chunk.Count, length]), length);
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}

/// <summary>The policy with a value head on its trunk: tokens → (logits, values).</summary>
public sealed class PolicyWithValue : nn.Module<Tensor, (Tensor Logits, Tensor Values)>
{
    private readonly LlamaModel policy;
    private readonly Linear value_head;

    public PolicyWithValue(ModelFile start)
        : base(nameof(PolicyWithValue))
    {
        ArgumentNullException.ThrowIfNull(start);
        policy = new LlamaModel(start.Config);
        policy.LoadWeights(start);
        value_head = nn.Linear(start.Config.Dim, 1, hasBias: false);
        using (no_grad())
        {
            value_head.weight.zero_();
        }

        RegisterComponents();
    }

    public LlamaModel Policy => policy;

    public Linear ValueHead => value_head;

    public override (Tensor Logits, Tensor Values) forward(Tensor tokens)
    {
        var hidden = policy.Hidden(tokens, null);
        return (policy.Logits(hidden), value_head.forward(hidden).squeeze(-1));
    }
}
