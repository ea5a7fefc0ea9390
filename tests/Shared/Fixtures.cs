namespace Llama2.Tests;

/// <summary>
/// Locates <c>../shared/fixtures</c> (beside the repository). CI always has it; in a user's own clone it
/// may be absent, and tests that need it are skipped with this reason.
/// </summary>
internal static class Fixtures
{
    public static readonly string? Root = Find();

    public const string MissingReason = "../shared/fixtures is not present beside this repository (CI always has it)";

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "Llama2.slnx")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("cannot find the repository root (Llama2.slnx) above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Full path of a fixture file; skips the calling test when fixtures are absent.</summary>
    public static string Path(string relative)
    {
        Skip.If(Root is null, MissingReason);
        return System.IO.Path.Combine(Root!, relative);
    }

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("LLAMA2_FIXTURES");
        if (!string.IsNullOrEmpty(env))
        {
            return Directory.Exists(env) ? env : null;
        }

        var candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(RepositoryRoot, "..", "shared", "fixtures"));
        return Directory.Exists(candidate) ? candidate : null;
    }
}
