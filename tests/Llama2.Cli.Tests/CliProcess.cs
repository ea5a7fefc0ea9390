using System.Diagnostics;
using System.Text;

namespace Llama2.Cli.Tests;

/// <summary>Runs the built <c>llama2</c> command in a child process, as a user would.</summary>
internal static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(string? stdin, params string[] args) => RunBytes(stdin is null ? null : Encoding.UTF8.GetBytes(stdin), args);

    public static Result RunBytes(byte[]? stdin, params string[] args) => RunBytes(stdin, TimeSpan.FromMinutes(2), args);

    /// <summary>For the long end-to-end runs (the pipeline), with their own time limit.</summary>
    public static Result RunLong(TimeSpan timeout, params string[] args) => RunBytes(null, timeout, args);

    /// <summary>Starts <c>llama2 args</c> without waiting, for tests that kill it; its output is read, and its stderr kept for failure messages.</summary>
    public static Running Start(params string[] args)
    {
        var process = Process.Start(Info(args))!;
        _ = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Close();
        return new Running(process, stderr);
    }

    /// <summary>A started <c>llama2</c> process.</summary>
    public sealed class Running(Process process, Task<string> stderr) : IDisposable
    {
        public Process Process => process;

        /// <summary>What it wrote to stderr, once it has exited.</summary>
        public string Stderr => process.HasExited ? stderr.GetAwaiter().GetResult() : "(still running)";

        public void Dispose() => process.Dispose();
    }

    private static ProcessStartInfo Info(string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "llama2.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        return start;
    }

    private static Result RunBytes(byte[]? stdin, TimeSpan timeout, string[] args)
    {
        using var process = Process.Start(Info(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.BaseStream.Write(stdin);
        }

        process.StandardInput.Close();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"llama2 {string.Join(' ', args)} did not finish in {timeout.TotalMinutes} minutes");
        }

        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
