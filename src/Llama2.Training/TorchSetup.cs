using static TorchSharp.torch;

namespace Llama2.Training;

/// <summary>Device and thread settings for libtorch.</summary>
public static class TorchSetup
{
    /// <summary>"cpu" or "cuda"; CUDA needs TorchSharp's CUDA libtorch package in place of the CPU one.</summary>
    /// <exception cref="ArgumentException">CUDA was asked for but is not available.</exception>
    public static Device Device(string name)
    {
        if (name == "cuda")
        {
            return cuda.is_available()
                ? CUDA
                : throw new ArgumentException("device 'cuda' is not available: install TorchSharp's CUDA libtorch package instead of libtorch-cpu-linux-x64 (see README)");
        }

        return CPU;
    }

    /// <summary>Sets libtorch's intra-op threads (0 = physical cores, as PyTorch's default).</summary>
    public static void SetThreads(int threads)
    {
        int n = threads > 0 ? threads : Math.Max(1, Environment.ProcessorCount);
        if (get_num_threads() != n)
        {
            set_num_threads(n);
        }
    }
}
