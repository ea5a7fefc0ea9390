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

    /// <summary>A JSON number as double, whether it was written as an integer or not.</summary>
    public static double Number(JsonNode node) =>
        double.Parse(node.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);
}
