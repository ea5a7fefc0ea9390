using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama2.Training.Runs;

/// <summary>
/// <c>metrics.jsonl</c>: one JSON object per logged step (<c>step</c>, <c>loss</c>, <c>lr</c>, <c>grad_norm</c>,
/// <c>tokens_per_s</c>, and <c>val_loss</c> when evaluated), flushed line by line.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _writer;

    /// <summary>Opens the log; when resuming at <paramref name="resumeStep"/>, lines after it are dropped (they will be redone).</summary>
    public MetricsLog(string path, long resumeStep = -1)
    {
        Path = path;
        var kept = new List<string>();
        if (resumeStep >= 0 && File.Exists(path))
        {
            kept.AddRange(File.ReadLines(path).Where(l => StepOf(l) is { } s && s <= resumeStep));
        }

        Entries.AddRange(kept.Select(l => JsonNode.Parse(l)!.AsObject()));
        File.WriteAllLines(path, kept);
        _writer = new StreamWriter(path, append: true) { AutoFlush = true };
    }

    public string Path { get; }

    /// <summary>Everything logged (including what was kept on resume), for plots.</summary>
    public List<JsonObject> Entries { get; } = [];

    public void Write(JsonObject entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Entries.Add(entry);
        _writer.WriteLine(entry.ToJsonString());
    }

    public void Dispose() => _writer.Dispose();

    /// <summary>A jsonl line's <c>step</c>; null for a line without one or cut by a kill.</summary>
    internal static long? StepOf(string line)
    {
        try
        {
            return JsonNode.Parse(line)?["step"]?.GetValue<long>();
        }
        catch (JsonException)
        {
            return null; // a line cut by a kill
        }
    }
}
