using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Llama2.Inference;

namespace Llama2.Server;

/// <summary>Counters and latency histograms, written in Prometheus' text format at <c>/metrics</c>.</summary>
internal sealed class ServerMetrics(BatchGenerator generator)
{
    private static readonly double[] Buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    private readonly ConcurrentDictionary<(string Endpoint, int Status), long> _requests = new();
    private readonly Histogram _duration = new(), _firstToken = new();

    public void Request(string endpoint, int status, double seconds)
    {
        _requests.AddOrUpdate((endpoint, status), 1, (_, n) => n + 1);
        _duration.Observe(seconds);
    }

    public void FirstToken(double seconds) => _firstToken.Observe(seconds);

    public string Render()
    {
        var text = new StringBuilder();
        var (prompt, generated) = generator.TokenCounts;
        text.AppendLine("# HELP llama2_requests_total HTTP requests by endpoint and status.");
        text.AppendLine("# TYPE llama2_requests_total counter");
        foreach (var ((endpoint, status), count) in _requests.OrderBy(e => e.Key.Endpoint, StringComparer.Ordinal).ThenBy(e => e.Key.Status))
        {
            text.Append(CultureInfo.InvariantCulture, $"llama2_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {count}\n");
        }

        Counter(text, "llama2_prompt_tokens_total", "Prompt tokens processed.", prompt);
        Counter(text, "llama2_generated_tokens_total", "Tokens generated.", generated);
        Gauge(text, "llama2_queue_depth", "Requests waiting for a slot.", generator.QueueDepth);
        Gauge(text, "llama2_running", "Generations holding a slot.", generator.Running);
        Gauge(text, "llama2_slots", "Generations decoded together at most.", generator.Slots);
        _duration.Render(text, "llama2_request_duration_seconds", "Time from request to last byte.");
        _firstToken.Render(text, "llama2_time_to_first_token_seconds", "Time from request to the first generated token.");
        return text.ToString();
    }

    private static void Counter(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");

    private static void Gauge(StringBuilder text, string name, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");

    private sealed class Histogram
    {
        private readonly long[] _counts = new long[Buckets.Length + 1];
        private readonly object _gate = new();
        private double _sum;
        private long _total;

        public void Observe(double seconds)
        {
            lock (_gate)
            {
                int bucket = Array.FindIndex(Buckets, b => seconds <= b);
                _counts[bucket < 0 ? Buckets.Length : bucket]++;
                _sum += seconds;
                _total++;
            }
        }

        public void Render(StringBuilder text, string name, string help)
        {
            lock (_gate)
            {
                text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
                long cumulative = 0;
                for (int i = 0; i < Buckets.Length; i++)
                {
                    cumulative += _counts[i];
                    text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{Buckets[i]}\"}} {cumulative}\n");
                }

                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {_total}\n{name}_sum {_sum}\n{name}_count {_total}\n");
            }
        }
    }
}
