namespace Llama2.Benchmarks;

/// <summary>The benchmark text: a file given by LLAMA2_BENCH_TEXT, else a built-in mix made from the fixtures.</summary>
internal static class BenchText
{
    public static string FixturesRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Llama2.slnx")))
            {
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "fixtures"));
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Llama2.slnx)");
    }

    /// <summary>Lines of text to encode, one sentence each.</summary>
    public static string[] Lines(string? path)
    {
        path ??= Environment.GetEnvironmentVariable("LLAMA2_BENCH_TEXT");
        if (!string.IsNullOrEmpty(path))
        {
            return File.ReadAllLines(path);
        }

        // Without a corpus: the 600 SentencePiece fixture texts (prose, code, many scripts, emoji).
        var cases = Path.Combine(FixturesRoot(), "tokenizer", "encode-cases.jsonl");
        return [.. File.ReadLines(cases).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()!)];
    }
}
