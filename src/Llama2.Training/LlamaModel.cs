using Llama2.Core.Model;
using Llama2.Core.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Llama2.Training;

/// <summary>
/// The Llama 2 model in TorchSharp, for training: the same math as the engine's <c>Transformer</c>, read top
/// to bottom as Meta's <c>llama/model.py</c>, with Meta's names, so parameter names are Meta's state-dict
/// keys (<c>tok_embeddings.weight</c>, <c>layers.0.attention.wq.weight</c>, …). RoPE uses Meta's
/// interleaved pairs; attention is causal, or follows an explicit mask (packed documents).
/// </summary>
public sealed class LlamaModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding tok_embeddings;
    private readonly ModuleList<TransformerBlock> layers;
    private readonly RmsNorm norm;
    private readonly Linear output;
    private readonly Tensor _cos, _sin; // (max_seq_len, head_dim/2), not parameters

    /// <summary>A model with fresh weights drawn from <paramref name="generator"/> (default: libtorch's global one; trainers
    /// pass their own, seeded, so that a run does not depend on what else in the process draws random numbers).</summary>
    public LlamaModel(ModelConfig config, Device? device = null, Generator? generator = null)
        : base(nameof(LlamaModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate("model config");
        Config = config;
        tok_embeddings = nn.Embedding(config.VocabSize, config.Dim);
        layers = new ModuleList<TransformerBlock>([.. Enumerable.Range(0, config.NLayers).Select(_ => new TransformerBlock(config))]);
        norm = new RmsNorm(config.Dim, config.NormEps);
        output = nn.Linear(config.Dim, config.VocabSize, hasBias: false);
        RegisterComponents();

        // freqs = 1 / theta^(2i/head_dim); angle = t · freq (Meta's precompute_freqs_cis), in float32
        int half = config.HeadDim / 2;
        using var scope = NewDisposeScope();
        var freqs = pow(tensor(config.RopeTheta), Scalars.Arange(0, config.HeadDim, 2, float32)[..half].Over(config.HeadDim)).reciprocal();
        var angles = outer(Scalars.Arange(0, config.MaxSeqLen, dtype: float32), freqs);
        _cos = angles.cos().MoveToOuterDisposeScope();
        _sin = angles.sin().MoveToOuterDisposeScope();
        InitializeWeights(generator);
        if (device is not null)
        {
            this.to(device);
        }
    }

    public ModelConfig Config { get; }

    /// <summary>
    /// tokens (batch, seq) → logits (batch, seq, vocab). <paramref name="mask"/> is an optional boolean
    /// (batch, 1, seq, seq) attention mask (true = may attend); without it attention is causal.
    /// </summary>
    public Tensor forward(Tensor tokens, Tensor? mask) => output.forward(Hidden(tokens, mask));

    /// <summary>The output projection of hidden states from <see cref="Hidden"/>: (…, dim) → (…, vocab).</summary>
    public Tensor Logits(Tensor hidden) => output.forward(hidden);

    /// <summary>
    /// tokens (batch, seq) → the final normed hidden states (batch, seq, dim), before the output projection
    /// (what a reward model's scalar head reads).
    /// </summary>
    public Tensor Hidden(Tensor tokens, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        long seqLen = tokens.shape[1];
        if (seqLen > Config.MaxSeqLen)
        {
            throw new ArgumentException($"sequence of {seqLen} tokens is longer than the model's context of {Config.MaxSeqLen}");
        }

        var cos = _cos[..(int)seqLen].to(tokens.device);
        var sin = _sin[..(int)seqLen].to(tokens.device);

        var h = tok_embeddings.forward(tokens);
        foreach (var layer in layers)
        {
            h = layer.forward(h, cos, sin, mask);
        }

        return norm.forward(h);
    }

    public override Tensor forward(Tensor tokens) => forward(tokens, null);

    /// <summary>Copies weights from a checkpoint the engine reads (any layout and type; quantized ones are dequantized).</summary>
    /// <exception cref="ArgumentException">The checkpoint's shape differs from this model's.</exception>
    public void LoadWeights(ModelFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (file.Config with { MaxSeqLen = Config.MaxSeqLen } != Config with { MaxSeqLen = Config.MaxSeqLen })
        {
            throw new ArgumentException($"{file.Path}: the checkpoint's shape ({Describe(file.Config)}) differs from the model's ({Describe(Config)})");
        }

        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            var source = name == "output.weight" && !file.Tensors.ContainsKey(name) ? file[TensorNames.TokEmbeddings] : file[name];
            var values = new float[(long)source.Rows * source.Cols];
            for (int r = 0; r < source.Rows; r++)
            {
                Dequantize.Row(source.Type, source.Row(r), values.AsSpan(r * source.Cols, source.Cols));
            }

            using var t = tensor(values, parameter.shape);
            parameter.copy_(t);
        }
    }

    /// <summary>Meta's initialization is not published; this is the common GPT-style one: N(0, 0.02), norms at 1.</summary>
    private void InitializeWeights(Generator? generator)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                parameter.Fill(1);
            }
            else
            {
                parameter.normal_(0, 0.02, generator); // not nn.init.normal_: TorchSharp 0.107 ignores its generator
            }
        }
    }

    internal static string Describe(ModelConfig c) =>
        $"dim {c.Dim}, {c.NLayers} layers, {c.NHeads} heads, {c.NKvHeads} KV heads, FFN {c.HiddenDim}, vocab {c.VocabSize}";

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cos.Dispose();
            _sin.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>One layer: attention_norm → attention → residual → ffn_norm → feed_forward → residual.</summary>
    private sealed class TransformerBlock : nn.Module
    {
        private readonly Attention attention;
        private readonly FeedForward feed_forward;
        private readonly RmsNorm attention_norm;
        private readonly RmsNorm ffn_norm;

        public TransformerBlock(ModelConfig config)
            : base(nameof(TransformerBlock))
        {
            attention = new Attention(config);
            feed_forward = new FeedForward(config);
            attention_norm = new RmsNorm(config.Dim, config.NormEps);
            ffn_norm = new RmsNorm(config.Dim, config.NormEps);
            RegisterComponents();
        }

        public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask)
        {
            var h = x.Plus(attention.forward(attention_norm.forward(x), cos, sin, mask));
            return h.Plus(feed_forward.forward(ffn_norm.forward(h)));
        }
    }

    /// <summary>Grouped-query attention with RoPE on q and k.</summary>
    private sealed class Attention : nn.Module
    {
        private readonly Linear wq, wk, wv, wo;
        private readonly int _nHeads, _nKvHeads, _headDim;

        public Attention(ModelConfig c)
            : base(nameof(Attention))
        {
            _nHeads = c.NHeads;
            _nKvHeads = c.NKvHeads;
            _headDim = c.HeadDim;
            wq = nn.Linear(c.Dim, c.NHeads * c.HeadDim, hasBias: false);
            wk = nn.Linear(c.Dim, c.NKvHeads * c.HeadDim, hasBias: false);
            wv = nn.Linear(c.Dim, c.NKvHeads * c.HeadDim, hasBias: false);
            wo = nn.Linear(c.NHeads * c.HeadDim, c.Dim, hasBias: false);
            RegisterComponents();
        }

        public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask)
        {
            long batch = x.shape[0], seqLen = x.shape[1];
            var xq = wq.forward(x).view(batch, seqLen, _nHeads, _headDim);
            var xk = wk.forward(x).view(batch, seqLen, _nKvHeads, _headDim);
            var xv = wv.forward(x).view(batch, seqLen, _nKvHeads, _headDim);
            xq = Rope(xq, cos, sin);
            xk = Rope(xk, cos, sin);

            // (batch, heads, seq, head_dim); each KV head serves n_heads / n_kv_heads query heads
            xq = xq.transpose(1, 2);
            xk = RepeatKv(xk.transpose(1, 2));
            xv = RepeatKv(xv.transpose(1, 2));
            var attended = mask is null
                ? nn.functional.scaled_dot_product_attention(xq, xk, xv, is_casual: true)
                : nn.functional.scaled_dot_product_attention(xq, xk, xv, attn_mask: mask);
            return wo.forward(attended.transpose(1, 2).contiguous().view(batch, seqLen, -1));
        }

        private Tensor RepeatKv(Tensor x) => _nKvHeads == _nHeads ? x : x.repeat_interleave(_nHeads / _nKvHeads, dim: 1);

        /// <summary>Rotates interleaved pairs (2i, 2i+1) of each head: x (batch, seq, heads, head_dim).</summary>
        private static Tensor Rope(Tensor x, Tensor cos, Tensor sin)
        {
            var pairs = x.view(x.shape[0], x.shape[1], x.shape[2], -1, 2);
            var x0 = pairs.select(-1, 0);
            var x1 = pairs.select(-1, 1);
            var c = cos.view(1, cos.shape[0], 1, cos.shape[1]);
            var s = sin.view(1, sin.shape[0], 1, sin.shape[1]);
            return stack([x0 * c - x1 * s, (x0 * s).Plus(x1 * c)], -1).flatten(3);
        }
    }

    /// <summary>SwiGLU: w2(silu(w1(x)) · w3(x)).</summary>
    private sealed class FeedForward : nn.Module
    {
        private readonly Linear w1, w2, w3;

        public FeedForward(ModelConfig c)
            : base(nameof(FeedForward))
        {
            w1 = nn.Linear(c.Dim, c.HiddenDim, hasBias: false);
            w2 = nn.Linear(c.HiddenDim, c.Dim, hasBias: false);
            w3 = nn.Linear(c.Dim, c.HiddenDim, hasBias: false);
            RegisterComponents();
        }

        public Tensor forward(Tensor x) => w2.forward(nn.functional.silu(w1.forward(x)) * w3.forward(x));
    }
}

/// <summary>Meta's RMSNorm: <c>x · rsqrt(mean(x²) + eps) · weight</c>, computed in float32.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly float _eps;

    public RmsNorm(int dim, float eps)
        : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = nn.Parameter(ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var xf = x.to_type(float32);
        var normed = xf * rsqrt(xf.Pow(2).mean([-1L], keepdim: true).Plus(_eps));
        return normed.to_type(x.dtype) * weight;
    }
}
