using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.IO;

namespace Llama2.Cli;

/// <summary>Runs a verb's body and turns every expected failure into one line on stderr and exit code 1.</summary>
internal static class CliRunner
{
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is InvalidModelFileException or ChatFormatException or CliException or IOException
            or UnauthorizedAccessException or JsonException or ArgumentException or FormatException or InvalidOperationException or OperationCanceledException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Standard output as raw UTF-8, so text round-trips whatever the console encoding is.</summary>
    public static StreamWriter OpenStdout() =>
        new(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false)) { AutoFlush = false, NewLine = "\n" };

    /// <summary>Reads all of standard input as bytes (bounded).</summary>
    public static byte[] ReadAllStdin(long maxBytes = 1L << 30)
    {
        using var stdin = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int n;
        while ((n = stdin.Read(chunk)) > 0)
        {
            if (buffer.Length + n > maxBytes)
            {
                throw new CliException($"standard input is larger than {maxBytes} bytes");
            }

            buffer.Write(chunk, 0, n);
        }

        return buffer.ToArray();
    }
}

/// <summary>A user-facing command-line error (bad flag value, bad input line).</summary>
internal sealed class CliException : Exception
{
    public CliException(string message)
        : base(message)
    {
    }

    public CliException()
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
