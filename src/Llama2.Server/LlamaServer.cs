using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Llama2.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Llama2.Server;

/// <summary>
/// The OpenAI-compatible HTTP server (ASP.NET Core minimal API over Kestrel): <c>/v1/chat/completions</c>,
/// <c>/v1/completions</c>, <c>/v1/models</c>, <c>/health</c>, <c>/metrics</c>, <c>/tokenize</c>, <c>/detokenize</c>.
/// Generations of concurrent requests are decoded together by one <see cref="BatchGenerator"/>.
/// </summary>
public sealed class LlamaServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServerOptions _options;
    private readonly byte[]? _keyHash;

    private LlamaServer(WebApplication app, ServerOptions options)
    {
        _app = app;
        _options = options;
        _keyHash = options.ApiKey is { Length: > 0 } key ? SHA256.HashData(Encoding.UTF8.GetBytes(key)) : null;
    }

    /// <summary>Builds the server over <paramref name="generator"/> (which the caller keeps and disposes after the server).</summary>
    /// <exception cref="ArgumentException">The host is not an IP address or "localhost", or a limit is out of range.</exception>
    public static LlamaServer Create(BatchGenerator generator, ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(options);
        var address = options.Host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(options.Host, out var ip) ? ip
            : throw new ArgumentException($"--host: '{options.Host}' is not an IP address (or localhost)");
        if (options.Port is < 0 or > 65535 || options.MaxBodyBytes < 1 || options.MaxChoices < 1 || options.MaxTokensLimit < 0)
        {
            throw new ArgumentException("server limits out of range: port 0–65535, body size, max choices ≥ 1, max tokens ≥ 0");
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(address, options.Port);
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
        });
        var app = builder.Build();
        var server = new LlamaServer(app, options);
        var metrics = new ServerMetrics(generator);
        var endpoints = new CompletionEndpoints(generator, options, metrics);
        app.Use(server.Authorize);
        app.MapGet("/health", (HttpContext http) => Handle(http, metrics, "health", _ => Json.Write(http, 200, w => w.WriteString("status", "ok"))));
        app.MapGet("/metrics", (HttpContext http) => Handle(http, metrics, "metrics", _ => http.Response.WriteAsync(metrics.Render(), http.RequestAborted)));
        app.MapGet("/v1/models", (HttpContext http) => Handle(http, metrics, "models", endpoints.Models));
        app.MapGet("/v1/models/{id}", (HttpContext http) => Handle(http, metrics, "models", endpoints.Model));
        app.MapPost("/v1/chat/completions", (HttpContext http) => Handle(http, metrics, "chat_completions", h => endpoints.Complete(h, chat: true)));
        app.MapPost("/v1/completions", (HttpContext http) => Handle(http, metrics, "completions", h => endpoints.Complete(h, chat: false)));
        app.MapPost("/tokenize", (HttpContext http) => Handle(http, metrics, "tokenize", endpoints.Tokenize));
        app.MapPost("/detokenize", (HttpContext http) => Handle(http, metrics, "detokenize", endpoints.Detokenize));
        app.MapFallback((HttpContext http) => Handle(http, metrics, "unknown",
            h => throw new RequestException(404, $"unknown endpoint: {h.Request.Method} {h.Request.Path}", code: "unknown_url")));
        return server;
    }

    /// <summary>The address the server listens on (after <see cref="StartAsync"/>), with the port actually bound.</summary>
    public Uri Address => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public Task StartAsync(CancellationToken cancellation = default) => _app.StartAsync(cancellation);

    /// <summary>Serves until <paramref name="cancellation"/> is cancelled (or the process is asked to stop).</summary>
    public async Task RunAsync(CancellationToken cancellation = default)
    {
        await _app.StartAsync(cancellation).ConfigureAwait(false);
        await WaitForShutdownAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>After <see cref="StartAsync"/>: waits until <paramref name="cancellation"/> is cancelled or the process is asked to stop.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) => _app.WaitForShutdownAsync(cancellation);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>With an API key configured, every endpoint but /health needs <c>Authorization: Bearer KEY</c> (compared in constant time).</summary>
    private async Task Authorize(HttpContext http, RequestDelegate next)
    {
        if (_keyHash is not null && http.Request.Path != "/health")
        {
            var header = http.Request.Headers.Authorization.ToString();
            var given = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : "";
            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), _keyHash))
            {
                await Json.Error(http, new RequestException(401,
                    given.Length == 0 ? "missing API key: send 'Authorization: Bearer KEY'" : "incorrect API key provided",
                    code: "invalid_api_key")).ConfigureAwait(false);
                return;
            }
        }

        await next(http).ConfigureAwait(false);
    }

    /// <summary>Runs an endpoint, turning refusals into OpenAI error bodies and recording metrics.</summary>
    private static async Task Handle(HttpContext http, ServerMetrics metrics, string endpoint, Func<HttpContext, Task> handler)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await handler(http).ConfigureAwait(false);
        }
        catch (RequestException e)
        {
            await Json.Error(http, e).ConfigureAwait(false);
        }
        catch (QueueFullException e)
        {
            http.Response.Headers.RetryAfter = "1";
            await Json.Error(http, new RequestException(429, e.Message, code: "rate_limit_exceeded", type: "rate_limit_error")).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            http.Response.StatusCode = 499; // the client went away; its generation is already cancelled
        }
        catch (BadHttpRequestException e)
        {
            await Json.Error(http, new RequestException(e.StatusCode, e.StatusCode == 413
                ? "the request body is too large" : $"bad request: {e.Message}", code: e.StatusCode == 413 ? "request_too_large" : null)).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // one failing request must not take the server down
        catch (Exception e)
#pragma warning restore CA1031
        {
            await Json.Error(http, new RequestException(500, $"internal error: {e.Message}", type: "server_error")).ConfigureAwait(false);
        }

        metrics.Request(endpoint, http.Response.StatusCode, clock.Elapsed.TotalSeconds);
    }
}

/// <summary>Writing JSON bodies and OpenAI's error shape.</summary>
internal static class Json
{
    // Responses are never embedded in HTML, so only what JSON itself requires is escaped.
    private static readonly JsonWriterOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task Write(HttpContext http, int status, Action<Utf8JsonWriter> body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(Object(body), http.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>One JSON object as UTF-8 bytes.</summary>
    public static byte[] Object(Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>OpenAI's <c>{"error": {message, type, param, code}}</c>; inside an event stream that has started, an SSE event instead.</summary>
    public static async Task Error(HttpContext http, RequestException e)
    {
        var bytes = Object(w =>
        {
            w.WriteStartObject("error");
            w.WriteString("message", e.Message);
            w.WriteString("type", e.Type);
            w.WriteString("param", e.Param);
            w.WriteString("code", e.Code);
            w.WriteEndObject();
        });
        if (http.Response.HasStarted)
        {
            await Sse.Event(http, bytes).ConfigureAwait(false);
            return;
        }

        http.Response.StatusCode = e.Status;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(bytes, CancellationToken.None).ConfigureAwait(false);
    }
}

/// <summary>Server-sent events: <c>data: JSON\n\n</c>, flushed at once.</summary>
internal static class Sse
{
    private static readonly byte[] Data = "data: "u8.ToArray(), End = "\n\n"u8.ToArray();

    public static void Begin(HttpContext http)
    {
        http.Response.StatusCode = 200;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
    }

    public static async Task Event(HttpContext http, byte[] json)
    {
        var body = http.Response.Body;
        await body.WriteAsync(Data, http.RequestAborted).ConfigureAwait(false);
        await body.WriteAsync(json, http.RequestAborted).ConfigureAwait(false);
        await body.WriteAsync(End, http.RequestAborted).ConfigureAwait(false);
        await body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
    }

    public static Task Done(HttpContext http) => Event(http, "[DONE]"u8.ToArray());
}
