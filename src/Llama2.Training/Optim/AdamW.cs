using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Llama2.Training.Optim;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter), as PyTorch's <c>torch.optim.AdamW</c> computes it, with weight decay only on
/// matrices (norm weights are not decayed). Llama 2 (paper §2.2): β1 0.9, β2 0.95, eps 1e-5, weight decay 0.1.
/// State (m, v, step) is exposed for checkpoints.
/// </summary>
public sealed class AdamW
{
    private readonly List<(string Name, Parameter Parameter, bool Decay)> _parameters;
    private readonly Dictionary<string, (Tensor M, Tensor V)> _state = [];
    private readonly double _beta1, _beta2, _eps, _weightDecay;

    public AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-5, double weightDecay = 0.1)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = [.. parameters.Select(p => (p.Name, p.Parameter, Decays(p.Name, p.Parameter)))];
        (_beta1, _beta2, _eps, _weightDecay) = (beta1, beta2, eps, weightDecay);
        foreach (var (name, p, _) in _parameters)
        {
            _state[name] = (zeros_like(p).requires_grad_(false), zeros_like(p).requires_grad_(false));
        }
    }

    /// <summary>Updates taken so far.</summary>
    public long Step { get; set; }

    /// <summary>Whether a parameter gets weight decay: matrices yes, vectors (RMSNorm weights) no.</summary>
    public static bool Decays(string name, Parameter parameter) => parameter.dim() >= 2 && !name.EndsWith("norm.weight", StringComparison.Ordinal);

    /// <summary>One update with learning rate <paramref name="lr"/> from the current gradients.</summary>
    public void Update(double lr)
    {
        Step++;
        double bias1 = 1 - Math.Pow(_beta1, Step), bias2 = 1 - Math.Pow(_beta2, Step);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope(); // temporaries die here; m, v and parameters live outside
        using Scalar beta1 = _beta1.ToScalar(), beta2 = _beta2.ToScalar(), oneMinusBeta1 = (1 - _beta1).ToScalar(), oneMinusBeta2 = (1 - _beta2).ToScalar();
        using Scalar decayFactor = (1 - lr * _weightDecay).ToScalar(), stepSize = (-lr / bias1).ToScalar(), eps = _eps.ToScalar(), one = 1.ToScalar();
        foreach (var (name, p, decay) in _parameters)
        {
            var grad = p.grad;
            if (grad is null)
            {
                continue;
            }

            var (m, v) = _state[name];
            if (decay && _weightDecay != 0)
            {
                p.mul_(decayFactor);
            }

            m.mul_(beta1).add_(grad, alpha: oneMinusBeta1);
            v.mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
            var denominator = v.sqrt().Over(Math.Sqrt(bias2)).add_(eps, one);
            p.addcdiv_(m, denominator, value: stepSize);
        }
    }

    public void ZeroGrad()
    {
        foreach (var (_, p, _) in _parameters)
        {
            p.grad?.zero_();
        }
    }

    /// <summary>Scales gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public double ClipGradNorm(double maxNorm)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        double total = 0;
        foreach (var (_, p, _) in _parameters)
        {
            if (p.grad is { } g)
            {
                double n = g.norm().item<float>();
                total += n * n;
            }
        }

        total = Math.Sqrt(total);
        if (total > maxNorm)
        {
            using var scale = (maxNorm / (total + 1e-6)).ToScalar();
            foreach (var (_, p, _) in _parameters)
            {
                p.grad?.mul_(scale);
            }
        }

        return total;
    }

    /// <summary>First and second moments by parameter name, for checkpoints.</summary>
    public IEnumerable<(string Name, Tensor M, Tensor V)> State => _state.Select(s => (s.Key, s.Value.M, s.Value.V));

    /// <summary>Restores moments saved by <see cref="State"/>.</summary>
    /// <exception cref="ArgumentException">A moment is missing or has the wrong shape.</exception>
    public void LoadState(IReadOnlyDictionary<string, (float[] M, float[] V)> state)
    {
        using var noGrad = no_grad();
        foreach (var (name, (m, v)) in _state)
        {
            if (!state.TryGetValue(name, out var saved) || saved.M.Length != m.numel() || saved.V.Length != v.numel())
            {
                throw new ArgumentException($"optimizer state for '{name}' is missing or has the wrong size");
            }

            m.copy_(tensor(saved.M, m.shape));
            v.copy_(tensor(saved.V, v.shape));
        }
    }
}
