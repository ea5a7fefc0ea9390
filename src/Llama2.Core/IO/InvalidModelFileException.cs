namespace Llama2.Core.IO;

/// <summary>
/// A model, tokenizer or data file is malformed, truncated or unsupported. The message names the file
/// (or field) and says what is wrong, so a command-line user can act on it.
/// </summary>
public sealed class InvalidModelFileException : Exception
{
    public InvalidModelFileException(string message)
        : base(message)
    {
    }

    public InvalidModelFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public InvalidModelFileException()
    {
    }

    /// <summary>Creates the exception with a message of the form "<c>path</c>: what is wrong".</summary>
    public static InvalidModelFileException For(string? path, string problem) =>
        new(string.IsNullOrEmpty(path) ? problem : $"{path}: {problem}");
}
