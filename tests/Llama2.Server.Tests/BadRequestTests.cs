using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Llama2.Inference;

namespace Llama2.Server.Tests;

/// <summary>Every refused request gets the right status and OpenAI's error body, and leaves the server serving with no slot held.</summary>
public sealed class BadRequestTests
{
    private const string Hi = """[{"role": "user", "content": "hi"}]""";

    [SkippableTheory]
    [InlineData("{not json", 400, null)]
    [InlineData("[1, 2]", 400, null)]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}]}""", 400, "model")]
    [InlineData("""{"model": 5, "messages": [{"role": "user", "content": "hi"}]}""", 400, "model")]
    [InlineData("""{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}""", 404, "model")]
    [InlineData("""{"model": "tiny", "messages": "hi"}""", 400, "messages")]
    [InlineData("""{"model": "tiny", "messages": []}""", 400, "messages")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "assistant", "content": "hi"}]}""", 400, "messages")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}""", 400, "messages")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "wizard", "content": "hi"}]}""", 400, "messages[0].role")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user"}]}""", 400, "messages[0].content")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": 42}]}""", 400, "messages[0].content")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}""", 400, "temperature")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": 3}""", 400, "temperature")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "top_p": 0}""", 400, "top_p")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -5}""", 400, "max_tokens")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}""", 400, "max_tokens")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 99999999999}""", 400, "max_tokens")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000000}""", 400, "max_tokens")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 250}""", 400, "max_tokens")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "n": 0}""", 400, "n")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "n": 100}""", 400, "n")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": 7}""", 400, "stop")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]}""", 400, "stop")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"x": 1}}""", 400, "logit_bias")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"5": 500}}""", 400, "logit_bias")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}""", 400, "stream")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "seed": 1.5}""", 400, "seed")]
    [InlineData("""{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "presence_penalty": 9}""", 400, "presence_penalty")]
    public async Task Refused_with_status_and_error_body(string body, int status, string? param)
    {
        await using var server = await ServerHarness.Start();
        var (code, json) = await server.Post("/v1/chat/completions", body);
        Assert.Equal(status, code);
        var error = json.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(status == 404 ? "model_not_found" : null, error.GetProperty("code").GetString() is "model_not_found" ? "model_not_found" : null);
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        await StillServes(server);
    }

    [SkippableFact]
    public async Task A_prompt_over_the_window_is_refused_as_context_length_exceeded()
    {
        await using var server = await ServerHarness.Start();
        var words = string.Join(' ', Enumerable.Repeat("hello", 400));
        var (code, json) = await server.Post("/v1/chat/completions", $$"""{"model": "tiny", "messages": [{"role": "user", "content": "{{words}}"}]}""");
        Assert.Equal(400, code);
        Assert.Equal("context_length_exceeded", json.GetProperty("error").GetProperty("code").GetString());
        (code, json) = await server.Post("/v1/completions", $$"""{"model": "tiny", "prompt": "{{words}}"}""");
        Assert.Equal(400, code);
        Assert.Equal("prompt", json.GetProperty("error").GetProperty("param").GetString());
        await StillServes(server);
    }

    [SkippableFact]
    public async Task An_oversize_body_gets_413()
    {
        await using var server = await ServerHarness.Start(new ServerOptions { MaxBodyBytes = 4096 });
        var big = new string('a', 10_000);
        var (code, json) = await server.Post("/v1/chat/completions", $$"""{"model": "tiny", "messages": [{"role": "user", "content": "{{big}}"}]}""");
        Assert.Equal(413, code);
        Assert.Equal("request_too_large", json.GetProperty("error").GetProperty("code").GetString());
        await StillServes(server);
    }

    [SkippableFact]
    public async Task The_API_key_is_required_when_configured()
    {
        await using var server = await ServerHarness.Start(new ServerOptions { ApiKey = "s3cret" });
        var body = $$"""{"model": "tiny", "messages": {{Hi}}, "max_tokens": 2}""";
        Assert.Equal(401, (await server.Post("/v1/chat/completions", body)).Status);
        var (code, json) = await server.Post("/v1/chat/completions", body, apiKey: "wrong");
        Assert.Equal(401, code);
        Assert.Equal("invalid_api_key", json.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(401, (int)(await server.Http.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(401, (int)(await server.Http.GetAsync("/metrics")).StatusCode);
        Assert.Equal(200, (await server.Post("/v1/chat/completions", body, apiKey: "s3cret")).Status);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/health")).StatusCode);
    }

    [SkippableFact]
    public async Task A_full_queue_gets_429_and_a_retry_after()
    {
        await using var server = await ServerHarness.Start(batch: new BatchGeneratorOptions { Slots = 1, QueueLimit = 0, ContextLength = 4096 });
        using var cancel = new CancellationTokenSource();
        var endless = server.Generator.Start([1, 50], new GenerationOptions { MaxTokens = 1_000_000, IgnoreEos = true }, cancel.Token);
        await endless.Tokens.ReadAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$"""{"model": "tiny", "messages": {{Hi}}, "max_tokens": 2}""", Encoding.UTF8, "application/json"),
        };
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(429, (int)response.StatusCode);
        Assert.True(response.Headers.Contains("Retry-After"));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("rate_limit_exceeded", json.RootElement.GetProperty("error").GetProperty("code").GetString());
        await cancel.CancelAsync();
        await server.AssertNoSlotHeld();
        await StillServes(server);
    }

    [SkippableFact]
    public async Task A_client_that_disconnects_mid_stream_frees_its_slot()
    {
        await using var server = await ServerHarness.Start(batch: new BatchGeneratorOptions { Slots = 2, ContextLength = 4096 });
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent($$$"""{"model": "tiny", "messages": {{{Hi}}}, "stream": true, "max_tokens": 4000, "seed": 3, "logit_bias": {"2": -100}}""", Encoding.UTF8, "application/json"),
        })
        {
            using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            using var stream = await response.Content.ReadAsStreamAsync();
            using var reader = new StreamReader(stream);
            for (int events = 0; events < 5;)
            {
                events += (await reader.ReadLineAsync())!.StartsWith("data: ", StringComparison.Ordinal) ? 1 : 0;
            }

            Assert.Equal(1, server.Generator.Running);
        } // disposing the response closes the connection mid-stream

        await server.AssertNoSlotHeld();
        await StillServes(server);
    }

    [SkippableFact]
    public async Task Tokenize_and_detokenize_round_trip_and_refuse_bad_ids()
    {
        await using var server = await ServerHarness.Start();
        var (code, json) = await server.Post("/tokenize", """{"content": "Hello world", "add_special": true}""");
        Assert.Equal(200, code);
        var ids = json.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(server.Model.Tokenizer.Encode("Hello world", addBos: true), ids);
        (code, json) = await server.Post("/detokenize", JsonSerializer.Serialize(new { tokens = ids }));
        Assert.Equal(200, code);
        Assert.Equal("Hello world", json.GetProperty("content").GetString());
        Assert.Equal(400, (await server.Post("/detokenize", """{"tokens": [1, 999999]}""")).Status);
        Assert.Equal(400, (await server.Post("/tokenize", """{"content": 5}""")).Status);
        Assert.Equal(404, (int)(await server.Http.GetAsync("/v1/engines")).StatusCode);
    }

    /// <summary>After a refusal the server still answers and holds no slot.</summary>
    private static async Task StillServes(ServerHarness server)
    {
        var (code, json) = await server.Post("/v1/chat/completions", $$"""{"model": "tiny", "messages": {{Hi}}, "max_tokens": 3}""");
        Assert.Equal(200, code);
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        await server.AssertNoSlotHeld();
        var metrics = await server.Http.GetStringAsync("/metrics");
        Assert.Contains("llama2_requests_total{endpoint=\"chat_completions\",status=\"200\"}", metrics, StringComparison.Ordinal);
    }
}
