using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.IO;

namespace Llama2.Training.Runs;

/// <summary>Reads the trainers' JSON configs (snake_case; unknown fields are errors, so typos do not pass silently).</summary>
internal static class ConfigFile
{
    /// <summary>
    /// Reads the config in <paramref name="path"/>. With <paramref name="defaults"/> (a preset), the file's fields
    /// override the preset's and the rest keep the preset's values; without, they keep the type's defaults.
    /// </summary>
    /// <exception cref="InvalidModelFileException">Missing, empty, or not a valid <paramref name="kind"/> config.</exception>
    public static T Read<T>(string path, string kind, JsonSerializerOptions options, T? defaults = null)
        where T : class
    {
        try
        {
            var text = File.ReadAllText(path);
            if (defaults is null)
            {
                return JsonSerializer.Deserialize<T>(text, options) ?? throw InvalidModelFileException.For(path, "is empty");
            }

            var file = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                as JsonObject ?? throw InvalidModelFileException.For(path, $"not a valid {kind} config: expected a JSON object");
            var merged = JsonSerializer.SerializeToNode(defaults, options)!.AsObject();
            foreach (var (name, value) in file)
            {
                merged[name] = value?.DeepClone();
            }

            return merged.Deserialize<T>(options)!;
        }
        catch (JsonException e)
        {
            throw InvalidModelFileException.For(path, $"not a valid {kind} config: {e.Message}");
        }
        catch (FileNotFoundException)
        {
            throw InvalidModelFileException.For(path, "no such file");
        }
    }
}
