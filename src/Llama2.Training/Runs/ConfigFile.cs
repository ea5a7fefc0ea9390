using System.Text.Json;
using System.Text.Json.Nodes;
using Llama2.Core.IO;

namespace Llama2.Training.Runs;

/// <summary>Reads the trainers' JSON configs (snake_case; unknown fields are errors, so typos do not pass silently).</summary>
internal static class ConfigFile
{
    /// <summary>
    /// Reads the config in <paramref name="path"/>: the file's fields laid over <paramref name="defaults"/> (a preset),
    /// or over the type's defaults when none is given.
    /// </summary>
    /// <exception cref="InvalidModelFileException">Missing, empty, or not a valid <paramref name="kind"/> config.</exception>
    public static T Read<T>(string path, string kind, JsonSerializerOptions options, T? defaults = null)
        where T : class, new()
    {
        try
        {
            var documentOptions = new JsonDocumentOptions { CommentHandling = options.ReadCommentHandling, AllowTrailingCommas = options.AllowTrailingCommas };
            var file = JsonNode.Parse(File.ReadAllText(path), documentOptions: documentOptions)
                as JsonObject ?? throw InvalidModelFileException.For(path, $"not a valid {kind} config: expected a JSON object");
            var merged = JsonSerializer.SerializeToNode(defaults ?? new T(), options)!.AsObject();
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
