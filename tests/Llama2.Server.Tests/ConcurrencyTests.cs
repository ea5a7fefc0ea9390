using System.Text;
using System.Text.Json;
using Llama2.Inference;

namespace Llama2.Server.Tests;

/// <summary>Many clients at once: every stream well formed, none failed, no slot left held. Speed is measured in bench/, not here.</summary>
public sealed class ConcurrencyTests
{
    [SkippableFact]
    public async Task Eight_streaming_clients_all_get_well_formed_streams()
    {
        await using var server = await ServerHarness.Start(batch: new BatchGeneratorOptions { Slots = 4, QueueLimit = 64, ContextLength = 256 });
        var failures = new List<string>();
        var clients = Enumerable.Range(0, 8).Select(client => Task.Run(async () =>
        {
            for (int r = 0; r < 3; r++)
            {
                var problem = await OneStream(server, seed: client * 10 + r);
                if (problem is not null)
                {
                    lock (failures)
                    {
                        failures.Add($"client {client} request {r}: {problem}");
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(clients);
        Assert.Empty(failures);
        await server.AssertNoSlotHeld();
    }

    /// <summary>Reads one streamed chat completion; returns what is wrong with it, or null.</summary>
    internal static async Task<string?> OneStream(ServerHarness server, int seed)
    {
        var body = $$"""{"model": "tiny", "messages": [{"role": "user", "content": "Say something {{seed}}"}], "stream": true, "max_tokens": 16, "seed": {{seed}}}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if ((int)response.StatusCode != 200)
        {
            return $"status {(int)response.StatusCode}";
        }

        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        if (events.Length < 3 || events[^1] != "data: [DONE]")
        {
            return "the stream does not end with data: [DONE]";
        }

        string? id = null, finish = null;
        foreach (var e in events[..^1])
        {
            if (!e.StartsWith("data: ", StringComparison.Ordinal))
            {
                return $"not an SSE data event: {e}";
            }

            using var chunk = JsonDocument.Parse(e["data: ".Length..]);
            var root = chunk.RootElement;
            if (root.GetProperty("object").GetString() != "chat.completion.chunk")
            {
                return "wrong object type";
            }

            id ??= root.GetProperty("id").GetString();
            if (root.GetProperty("id").GetString() != id)
            {
                return "ids differ within one stream";
            }

            finish = root.GetProperty("choices")[0].GetProperty("finish_reason").GetString() ?? finish;
        }

        return finish is "stop" or "length" ? null : "no finish_reason";
    }
}
