using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Llama2.Core.Model;
using Llama2.Inference;
using Llama2.Server;

namespace Llama2.Benchmarks;

/// <summary>
/// <c>server-load --model F [--clients 1,8] [--requests 20] [--max-tokens 64] [--slots 8]</c>: starts the server on a
/// loopback port in this process and runs C concurrent streaming clients × R requests each, for every C given.
/// Reports failures, malformed streams, aggregate generated tokens/s and time to first token, and the
/// throughput ratio against the first client count (continuous batching should make it grow with clients).
/// </summary>
internal static class ServerLoad
{
    public static int Run(string[] args)
    {
        string model = Arg(args, "--model") ?? throw new ArgumentException("--model is required");
        int[] clientCounts = [.. (Arg(args, "--clients") ?? "1,8").Split(',').Select(int.Parse)];
        int requests = int.Parse(Arg(args, "--requests") ?? "20", CultureInfo.InvariantCulture);
        int maxTokens = int.Parse(Arg(args, "--max-tokens") ?? "64", CultureInfo.InvariantCulture);
        int slots = int.Parse(Arg(args, "--slots") ?? "8", CultureInfo.InvariantCulture);
        return RunAsync(model, clientCounts, requests, maxTokens, slots).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(string path, int[] clientCounts, int requests, int maxTokens, int slots)
    {
        using var file = ModelFile.Open(path);
        using var generator = new BatchGenerator(file, new BatchGeneratorOptions { Slots = slots, ContextLength = 512, QueueLimit = 256 });
        var server = LlamaServer.Create(generator, new ServerOptions { Port = 0, ModelId = "bench" });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };
        Console.WriteLine($"model {path}: {slots} slots, {requests} streaming requests per client, max_tokens {maxTokens} (ignore EOS via logit_bias)");
        Console.WriteLine("| clients | requests | failed | malformed | generated tokens | wall s | aggregate tok/s | mean TTFT s | vs first |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        await Load(http, 1, 2, maxTokens, file.Tokenizer.EosId); // warm-up
        double first = 0;
        int failedTotal = 0;
        foreach (int clients in clientCounts)
        {
            var clock = Stopwatch.StartNew();
            var results = await Load(http, clients, requests, maxTokens, file.Tokenizer.EosId);
            double wall = clock.Elapsed.TotalSeconds;
            long tokens = results.Sum(r => r.Tokens);
            int failed = results.Count(r => r.Status != 200), malformed = results.Count(r => r.Status == 200 && !r.WellFormed);
            double rate = tokens / wall;
            first = first == 0 ? rate : first;
            failedTotal += failed + malformed;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {clients} | {results.Count} | {failed} | {malformed} | {tokens} | {wall:F1} | {rate:F1} | {results.Average(r => r.FirstToken):F3} | {rate / first:F2}× |"));
        }

        await server.DisposeAsync();
        return failedTotal == 0 ? 0 : 1;
    }

    private sealed record Result(int Status, bool WellFormed, int Tokens, double FirstToken);

    private static async Task<List<Result>> Load(HttpClient http, int clients, int requests, int maxTokens, int eos)
    {
        var all = new List<Result>();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            for (int r = 0; r < requests; r++)
            {
                var result = await Stream(http, c * 1000 + r, maxTokens, eos);
                lock (all)
                {
                    all.Add(result);
                }
            }
        })));
        return all;
    }

    private static async Task<Result> Stream(HttpClient http, int seed, int maxTokens, int eos)
    {
        var body = $$$"""{"model": "bench", "messages": [{"role": "user", "content": "Tell me about request {{{seed}}}"}], "stream": true, "stream_options": {"include_usage": true}, "max_tokens": {{{maxTokens}}}, "seed": {{{seed}}}, "logit_bias": {"{{{eos}}}": -100}}""";
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if ((int)response.StatusCode != 200)
        {
            return new Result((int)response.StatusCode, false, 0, 0);
        }

        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double firstToken = 0;
        int tokens = 0, events = 0;
        bool done = false, wellFormed = true;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            wellFormed &= line.StartsWith("data: ", StringComparison.Ordinal) && !done;
            var data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                continue;
            }

            using var chunk = JsonDocument.Parse(data);
            if (chunk.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                tokens = usage.GetProperty("completion_tokens").GetInt32();
            }

            if (++events == 2)
            {
                firstToken = clock.Elapsed.TotalSeconds; // the first event after the role event
            }
        }

        return new Result(200, wellFormed && done, tokens, firstToken);
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
