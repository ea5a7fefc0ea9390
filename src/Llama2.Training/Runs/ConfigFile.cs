using System.Text.Json;
using Llama2.Core.IO;

namespace Llama2.Training.Runs;

/// <summary>Reads the trainers' JSON configs (snake_case; unknown fields are errors, so typos do not pass silently).</summary>
internal static class ConfigFile
{
    /// <exception cref="InvalidModelFileException">Missing, empty, or not a valid <paramref name="kind"/> config.</exception>
    public static T Read<T>(string path, string kind, JsonSerializerOptions options)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), options) ?? throw InvalidModelFileException.For(path, "is empty");
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
