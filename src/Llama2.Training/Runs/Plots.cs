using System.Text.Json.Nodes;

namespace Llama2.Training.Runs;

/// <summary>PNG plots of a run's metrics (ScottPlot).</summary>
public static class Plots
{
    /// <summary>Plots the given metric keys against <c>step</c>, one line each, into <paramref name="path"/>.</summary>
    public static void Lines(string path, string title, string yLabel, IReadOnlyList<JsonObject> entries, params string[] keys)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var plot = new ScottPlot.Plot();
        foreach (var key in keys)
        {
            var points = entries.Where(e => e[key] is not null && e["step"] is not null)
                .Select(e => (X: Number(e["step"]!), Y: Number(e[key]!))).ToArray();
            if (points.Length == 0)
            {
                continue;
            }

            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            line.LegendText = key;
            line.MarkerSize = points.Length > 60 ? 0 : 4;
        }

        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }

    /// <summary>Curves y(x) for x = 1, 2, …, one line per series (for example adherence per turn, with and without GAtt).</summary>
    public static void Curves(string path, string title, string xLabel, string yLabel, IReadOnlyDictionary<string, double[]> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plot = new ScottPlot.Plot();
        foreach (var (name, ys) in series)
        {
            var line = plot.Add.Scatter(Enumerable.Range(1, ys.Length).Select(x => (double)x).ToArray(), ys);
            line.LegendText = name;
        }

        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }

    /// <summary>Grouped bars: one group per category, one bar per series (for example accuracy by family, base vs SFT).</summary>
    public static void Bars(string path, string title, string yLabel, IReadOnlyList<string> categories, IReadOnlyDictionary<string, double[]> series)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        var plot = new ScottPlot.Plot();
        int s = 0, count = series.Count;
        var palette = new ScottPlot.Palettes.Category10();
        foreach (var (name, values) in series)
        {
            var bars = values.Select((v, i) => new ScottPlot.Bar
            {
                Position = i * (count + 1) + s,
                Value = v,
                FillColor = palette.GetColor(s),
            }).ToList();
            plot.Add.Bars(bars).LegendText = name;
            s++;
        }

        plot.Axes.Bottom.SetTicks([.. categories.Select((_, i) => i * (count + 1) + (count - 1) / 2.0)], [.. categories]);
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }

    /// <summary>Overlaid histograms, one per series (for example rewards of chosen and rejected answers).</summary>
    public static void Histogram(string path, string title, IReadOnlyDictionary<string, double[]> series, int bins = 30)
    {
        ArgumentNullException.ThrowIfNull(series);
        var all = series.Values.SelectMany(v => v).ToArray();
        if (all.Length == 0)
        {
            return;
        }

        double min = all.Min(), max = all.Max(), width = Math.Max(1e-9, (max - min) / bins);
        var plot = new ScottPlot.Plot();
        foreach (var (name, values) in series)
        {
            var counts = new double[bins];
            foreach (var v in values)
            {
                counts[Math.Min(bins - 1, (int)((v - min) / width))]++;
            }

            var line = plot.Add.Scatter(Enumerable.Range(0, bins).Select(b => min + (b + 0.5) * width).ToArray(), counts);
            line.LegendText = name;
        }

        plot.Title(title);
        plot.XLabel("reward");
        plot.YLabel("pairs");
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }

    /// <summary>A JSON number as double, whether it was written as an integer or not.</summary>
    public static double Number(JsonNode node) =>
        double.Parse(node.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
}
