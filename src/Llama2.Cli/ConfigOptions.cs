namespace Llama2.Cli;

/// <summary>How the training verbs combine <c>--config</c> and <c>--preset</c>.</summary>
internal static class ConfigOptions
{
    /// <summary>
    /// The preset's config (tiny when none is named); with a <c>--config</c> file, the file's fields over the named
    /// preset's, or over the type's defaults when no preset is named.
    /// </summary>
    public static T Resolve<T>(string? path, string? preset, Func<string, T> forPreset, Func<string, T?, T> load)
        where T : class =>
        path is null ? forPreset(preset ?? "tiny") : load(path, preset is null ? null : forPreset(preset));
}
