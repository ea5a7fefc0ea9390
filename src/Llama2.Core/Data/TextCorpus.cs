using System.Text.Json;
using Llama2.Core.IO;

namespace Llama2.Core.Data;

/// <summary>
/// Pretraining documents from files: a <c>.txt</c> file is one document; each line of a <c>.jsonl</c> is one
/// (<c>{"text": …}</c>); each row of a <c>.parquet</c> file's <c>text</c> column is one (Hugging Face datasets).
/// A folder is read file by file in name order.
/// </summary>
public static class TextCorpus
{
    /// <summary>Reads every document of <paramref name="paths"/>.</summary>
    /// <exception cref="InvalidModelFileException">A file is missing, unreadable, or malformed (the message names it and the line).</exception>
    public static IEnumerable<string> ReadDocuments(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        foreach (var path in paths.SelectMany(Expand))
        {
            IEnumerable<string> documents = Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".jsonl" or ".json" => ReadJsonLines(path),
                ".parquet" => ParquetText.ReadColumn(path, "text"),
                _ => [ReadText(path)],
            };
            foreach (var document in documents)
            {
                yield return document;
            }
        }
    }

    private static IEnumerable<string> Expand(string path)
    {
        if (Directory.Exists(path))
        {
            return Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".txt" or ".jsonl" or ".json" or ".parquet" or ".md")
                .Order(StringComparer.Ordinal);
        }

        return File.Exists(path) ? [path] : throw InvalidModelFileException.For(path, "no such file or folder");
    }

    private static string ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw InvalidModelFileException.For(path, $"cannot be read: {e.Message}");
        }
    }

    private static IEnumerable<string> ReadJsonLines(string path)
    {
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            string? text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString()
                    : throw InvalidModelFileException.For($"{path}:{number}", "expected an object with a string \"text\"");
            }
            catch (JsonException e)
            {
                throw InvalidModelFileException.For($"{path}:{number}", $"not valid JSON: {e.Message}");
            }

            yield return text!;
        }
    }
}
