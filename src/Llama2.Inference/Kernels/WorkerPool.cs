namespace Llama2.Inference.Kernels;

/// <summary>
/// A small fork-join pool for per-token work: <see cref="Run"/> splits <c>count</c> items into one contiguous
/// range per thread (the caller takes the first), or hands out chunks to whichever thread is free (so a thread that
/// woke late or shares its core with another process does not hold up the rest), with no allocation per call. Idle
/// workers spin briefly, then sleep, so a decode loop's back-to-back matrix-vector products do not pay a wake-up each
/// time.
/// (<c>Parallel.For</c> costs several microseconds and allocates per call; a 7B token makes ~230 such calls.)
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    private Action<int, int, int>? _work; // (thread, start, end)
    private int _count;
    private int _chunk; // 0: one range per thread
    private int _next;  // the first item of the next chunk
    private int _pending;
    private volatile bool _stopping;
    private readonly Lock _gate = new(); // one Run at a time: callers on other threads wait
    private Exception? _failure;

    /// <param name="threads">Threads including the caller; 0 means one per core.</param>
    public WorkerPool(int threads = 0)
    {
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
        _threads = new Thread[Threads - 1];
        _wake = new SemaphoreSlim[Threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int index = i;
            _wake[i] = new SemaphoreSlim(0);
            _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"llama2-worker-{i + 1}" };
            _threads[i].Start();
        }
    }

    public int Threads { get; }

    /// <summary>A shared pool sized to the machine, for callers that do not manage their own.</summary>
    public static WorkerPool Shared { get; } = new();

    /// <summary>
    /// Runs <paramref name="work"/>(thread, start, end) over [0, count): split evenly, or with <paramref name="chunk"/> &gt; 0
    /// in chunks of that many items (starts are multiples of it) taken by whichever thread is free. Returns when all are
    /// done.
    /// </summary>
    public void Run(int count, Action<int, int, int> work, int chunk = 0)
    {
        ArgumentNullException.ThrowIfNull(work);
        int threads = Parts(count, chunk);
        if (threads == 1)
        {
            work(0, 0, count);
            return;
        }

        lock (_gate)
        {
            _work = work;
            _count = count;
            _chunk = chunk;
            _next = 0;
            _failure = null;
            Volatile.Write(ref _pending, threads - 1);
            for (int i = 0; i < threads - 1; i++)
            {
                _wake[i].Release();
            }

            Exception? own = null;
            try
            {
                Share(work, 0, threads);
            }
            catch (Exception e)
            {
                own = e;
            }

            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) > 0)
            {
                spin.SpinOnce(-1);
            }

            _work = null;
            if ((own ?? _failure) is { } failure)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
        }
    }

    private static int Range(int part, int parts, int count) => (int)((long)count * part / parts);

    /// <summary>Threads that take part: no more than there are ranges or chunks.</summary>
    private int Parts(int count, int chunk) => Math.Min(Threads, Math.Max(1, chunk > 0 ? (count + chunk - 1) / chunk : count));

    /// <summary>Thread <paramref name="part"/>'s share of the current call.</summary>
    private void Share(Action<int, int, int> work, int part, int threads)
    {
        if (_chunk == 0)
        {
            work(part, Range(part, threads, _count), Range(part + 1, threads, _count));
            return;
        }

        int start;
        while ((start = Interlocked.Add(ref _next, _chunk) - _chunk) < _count)
        {
            work(part, start, Math.Min(start + _chunk, _count));
        }
    }

    private void Loop(int index)
    {
        while (true)
        {
            // Spin a little first: the next call usually comes within microseconds.
            bool woke = false;
            for (int i = 0; i < 2000 && !woke; i++)
            {
                woke = _wake[index].Wait(0);
                if (!woke)
                {
                    Thread.SpinWait(20);
                }
            }

            if (!woke)
            {
                _wake[index].Wait();
            }

            if (_stopping)
            {
                return;
            }

            var work = _work!;
            int threads = Parts(_count, _chunk);
            int part = index + 1;
            try
            {
                if (part < threads)
                {
                    Share(work, part, threads);
                }
            }
            catch (Exception e)
            {
                _failure = e; // rethrown on the calling thread
            }

            Interlocked.Decrement(ref _pending);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var w in _wake)
        {
            w.Release();
        }

        foreach (var t in _threads)
        {
            t.Join();
        }

        foreach (var w in _wake)
        {
            w.Dispose();
        }
    }
}
