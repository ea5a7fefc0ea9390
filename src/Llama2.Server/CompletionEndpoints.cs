using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Llama2.Core.Chat;
using Llama2.Inference;
using Microsoft.AspNetCore.Http;

namespace Llama2.Server;

/// <summary>The endpoints' work: parse, build the prompt, run the generations, answer as JSON or as an event stream.</summary>
internal sealed class CompletionEndpoints(BatchGenerator generator, ServerOptions options, ServerMetrics metrics)
{
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public Task Models(HttpContext http) => Json.Write(http, 200, w =>
    {
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        w.WriteStartObject();
        WriteModel(w);
        w.WriteEndObject();
        w.WriteEndArray();
    });

    public Task Model(HttpContext http) => (string?)http.Request.RouteValues["id"] == options.ModelId
        ? Json.Write(http, 200, WriteModel)
        : throw new RequestException(404, $"the model '{http.Request.RouteValues["id"]}' does not exist", "model", "model_not_found");

    /// <summary><c>/v1/chat/completions</c> (<paramref name="chat"/>) or <c>/v1/completions</c>.</summary>
    public async Task Complete(HttpContext http, bool chat)
    {
        var clock = Stopwatch.StartNew();
        using var body = await ReadJson(http).ConfigureAwait(false);
        var request = OpenAiRequest.Parse(body.RootElement, chat, options);
        var prompt = BuildPrompt(request);
        var generation = request.Generation with { MaxTokens = MaxTokens(request, prompt.Ids.Length) };
        var response = new Response(chat, (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow.ToUnixTimeSeconds(), options.ModelId);
        if (prompt.FixedReply is { } reply)
        {
            await Answer(http, request, response, [new Choice(reply, "stop", 0)], 0).ConfigureAwait(false);
            return;
        }

        // One request may hold several generations (n); they stop together when the client goes away.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var running = new List<BatchGeneration>();
        try
        {
            for (int i = 0; i < request.Choices; i++)
            {
                var seeded = generation with { Sampling = generation.Sampling with { Seed = generation.Sampling.Seed + (ulong)i } };
                running.Add(generator.Start(prompt.Ids, seeded, cancel.Token));
            }

            if (request.Stream)
            {
                await Stream(http, request, response, running, clock).ConfigureAwait(false);
            }
            else
            {
                var results = await Task.WhenAll(running.Select(r => r.Result)).ConfigureAwait(false);
                metrics.FirstToken(clock.Elapsed.TotalSeconds);
                var choices = results.Select((r, i) => new Choice(r.Text, FinishReason(r.FinishReason), r.Ids.Count)).ToList();
                await Answer(http, request, response, choices, prompt.Ids.Length).ConfigureAwait(false);
            }
        }
        finally
        {
            await cancel.CancelAsync().ConfigureAwait(false); // frees the slots of any generation still running
        }
    }

    /// <summary><c>/tokenize</c> (llama.cpp's shape): <c>{"content": text, "add_special"?: bool}</c> → <c>{"tokens": [...]}</c>.</summary>
    public async Task Tokenize(HttpContext http)
    {
        using var body = await ReadJson(http).ConfigureAwait(false);
        var root = body.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
        {
            throw new RequestException(400, "content must be a string", "content");
        }

        bool bos = root.TryGetProperty("add_special", out var special) && special.ValueKind == JsonValueKind.True;
        var ids = generator.Tokenizer.Encode(content.GetString()!, addBos: bos);
        await Json.Write(http, 200, w =>
        {
            w.WriteStartArray("tokens");
            foreach (int id in ids)
            {
                w.WriteNumberValue(id);
            }

            w.WriteEndArray();
        }).ConfigureAwait(false);
    }

    /// <summary><c>/detokenize</c>: <c>{"tokens": [...]}</c> → <c>{"content": text}</c>.</summary>
    public async Task Detokenize(HttpContext http)
    {
        using var body = await ReadJson(http).ConfigureAwait(false);
        var root = body.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("tokens", out var tokens) || tokens.ValueKind != JsonValueKind.Array)
        {
            throw new RequestException(400, "tokens must be an array of token ids", "tokens");
        }

        int vocab = generator.Model.Config.VocabSize;
        var ids = new List<int>();
        foreach (var token in tokens.EnumerateArray())
        {
            ids.Add(token.ValueKind == JsonValueKind.Number && token.TryGetInt32(out int id) && (uint)id < (uint)vocab
                ? id
                : throw new RequestException(400, $"tokens[{ids.Count}] must be a token id in [0, {vocab})", "tokens"));
        }

        var text = generator.Tokenizer.Decode([.. ids]);
        await Json.Write(http, 200, w => w.WriteString("content", text)).ConfigureAwait(false);
    }

    private static async Task<JsonDocument> ReadJson(HttpContext http)
    {
        if (http.Request.ContentLength is null && !http.Request.Headers.TransferEncoding.Any())
        {
            throw new RequestException(400, "the request has no body: send a JSON object");
        }

        try
        {
            return await JsonDocument.ParseAsync(http.Request.Body, new JsonDocumentOptions { MaxDepth = 32 }, http.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw new RequestException(400, $"the body is not valid JSON: {e.Message}");
        }
    }

    private ChatPrompt BuildPrompt(OpenAiRequest request)
    {
        try
        {
            return request.Messages is { } messages
                ? ChatPrompt.Build(generator.Tokenizer, messages, generator.ContextLength)
                : Completion(request.Prompt!);
        }
        catch (ChatFormatException e)
        {
            throw new RequestException(400, e.Message, "messages");
        }
        catch (ContextLengthExceededException e)
        {
            throw new RequestException(400, $"this model's maximum context length is {e.ContextLength} tokens; the prompt has {e.PromptTokens}",
                request.Messages is null ? "prompt" : "messages", "context_length_exceeded");
        }
    }

    /// <summary>A raw completion prompt: BOS + text, as llama.cpp's <c>/completion</c> does.</summary>
    private ChatPrompt Completion(string text)
    {
        var ids = generator.Tokenizer.Encode(text, addBos: true);
        return ids.Length < generator.ContextLength ? new ChatPrompt(ids, null) : throw new ContextLengthExceededException(ids.Length, generator.ContextLength);
    }

    /// <summary>The request's <c>max_tokens</c> within the configured limit and the window, or the rest of the window.</summary>
    private int MaxTokens(OpenAiRequest request, int promptTokens)
    {
        int window = generator.ContextLength, limit = options.MaxTokensLimit > 0 ? options.MaxTokensLimit : window;
        if (request.MaxTokens is not { } asked)
        {
            return Math.Min(limit, window - promptTokens);
        }

        if (asked > limit)
        {
            throw new RequestException(400, $"max_tokens is too large: {asked}; this server allows at most {limit}", "max_tokens");
        }

        return promptTokens + asked <= window ? asked : throw new RequestException(400,
            $"this model's maximum context length is {window} tokens; you asked for {promptTokens + asked} ({promptTokens} in the prompt, {asked} to generate)",
            "max_tokens", "context_length_exceeded");
    }

    private async Task Stream(HttpContext http, OpenAiRequest request, Response response, List<BatchGeneration> running, Stopwatch clock)
    {
        Sse.Begin(http);
        if (response.Chat)
        {
            for (int i = 0; i < running.Count; i++)
            {
                await Sse.Event(http, response.Chunk(i, "", null, role: true)).ConfigureAwait(false);
            }
        }

        // Interleave the choices' tokens as they come.
        var merged = Channel.CreateUnbounded<(int Index, GeneratedToken Token)>();
        var readers = running.Select((r, i) => Task.Run(async () =>
        {
            await foreach (var token in r.Tokens.ReadAllAsync(http.RequestAborted).ConfigureAwait(false))
            {
                merged.Writer.TryWrite((i, token));
            }
        })).ToArray();
        _ = Task.WhenAll(readers).ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);

        bool first = true;
        await foreach (var (index, token) in merged.Reader.ReadAllAsync(http.RequestAborted).ConfigureAwait(false))
        {
            if (first)
            {
                metrics.FirstToken(clock.Elapsed.TotalSeconds);
                first = false;
            }

            if (token.Text.Length > 0)
            {
                await Sse.Event(http, response.Chunk(index, token.Text, null)).ConfigureAwait(false);
            }
        }

        var results = await Task.WhenAll(running.Select(r => r.Result)).ConfigureAwait(false);
        for (int i = 0; i < results.Length; i++)
        {
            await Sse.Event(http, response.Chunk(i, null, FinishReason(results[i].FinishReason))).ConfigureAwait(false);
        }

        if (request.IncludeUsage)
        {
            await Sse.Event(http, response.UsageChunk(results[0].PromptTokens, results.Sum(r => r.Ids.Count))).ConfigureAwait(false);
        }

        await Sse.Done(http).ConfigureAwait(false);
    }

    /// <summary>A whole answer (no generation, or all generations done), as JSON or as a short event stream.</summary>
    private static async Task Answer(HttpContext http, OpenAiRequest request, Response response, IReadOnlyList<Choice> choices, int promptTokens)
    {
        int completion = choices.Sum(c => c.Tokens);
        if (!request.Stream)
        {
            await http.Response.Body.WriteAsync(Prepare(http, "application/json", response.Whole(choices, promptTokens, completion)), http.RequestAborted).ConfigureAwait(false);
            return;
        }

        Sse.Begin(http);
        for (int i = 0; i < choices.Count; i++)
        {
            await Sse.Event(http, response.Chunk(i, choices[i].Text, null, role: response.Chat)).ConfigureAwait(false);
            await Sse.Event(http, response.Chunk(i, null, choices[i].FinishReason)).ConfigureAwait(false);
        }

        if (request.IncludeUsage)
        {
            await Sse.Event(http, response.UsageChunk(promptTokens, completion)).ConfigureAwait(false);
        }

        await Sse.Done(http).ConfigureAwait(false);
    }

    private static byte[] Prepare(HttpContext http, string contentType, byte[] body)
    {
        http.Response.StatusCode = 200;
        http.Response.ContentType = contentType;
        return body;
    }

    private static string FinishReason(Inference.FinishReason finish) => finish == Inference.FinishReason.Stop ? "stop" : "length";

    private void WriteModel(Utf8JsonWriter w)
    {
        w.WriteString("id", options.ModelId);
        w.WriteString("object", "model");
        w.WriteNumber("created", _created);
        w.WriteString("owned_by", "llama2-csharp");
    }

    private sealed record Choice(string Text, string FinishReason, int Tokens);

    /// <summary>OpenAI's response objects: <c>chat.completion</c>, <c>chat.completion.chunk</c>, <c>text_completion</c>.</summary>
    private sealed record Response(bool Chat, string Id, long Created, string Model)
    {
        public byte[] Whole(IReadOnlyList<Choice> choices, int promptTokens, int completionTokens) => Json.Object(w =>
        {
            Header(w, chunk: false);
            w.WriteStartArray("choices");
            for (int i = 0; i < choices.Count; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("index", i);
                if (Chat)
                {
                    w.WriteStartObject("message");
                    w.WriteString("role", "assistant");
                    w.WriteString("content", choices[i].Text);
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteString("text", choices[i].Text);
                }

                w.WriteNull("logprobs");
                w.WriteString("finish_reason", choices[i].FinishReason);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            Usage(w, promptTokens, completionTokens);
        });

        /// <summary>One streamed piece of choice <paramref name="index"/>: text, or (text null) its finish reason.</summary>
        public byte[] Chunk(int index, string? text, string? finishReason, bool role = false) => Json.Object(w =>
        {
            Header(w, chunk: true);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", index);
            if (Chat)
            {
                w.WriteStartObject("delta");
                if (role)
                {
                    w.WriteString("role", "assistant");
                }

                if (text is not null)
                {
                    w.WriteString("content", text);
                }

                w.WriteEndObject();
            }
            else
            {
                w.WriteString("text", text ?? "");
            }

            w.WriteNull("logprobs");
            w.WriteString("finish_reason", finishReason);
            w.WriteEndObject();
            w.WriteEndArray();
        });

        /// <summary>The last chunk when <c>stream_options.include_usage</c>: no choices, the usage.</summary>
        public byte[] UsageChunk(int promptTokens, int completionTokens) => Json.Object(w =>
        {
            Header(w, chunk: true);
            w.WriteStartArray("choices");
            w.WriteEndArray();
            Usage(w, promptTokens, completionTokens);
        });

        private void Header(Utf8JsonWriter w, bool chunk)
        {
            w.WriteString("id", Id);
            w.WriteString("object", Chat ? chunk ? "chat.completion.chunk" : "chat.completion" : "text_completion");
            w.WriteNumber("created", Created);
            w.WriteString("model", Model);
        }

        private static void Usage(Utf8JsonWriter w, int prompt, int completion)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", prompt);
            w.WriteNumber("completion_tokens", completion);
            w.WriteNumber("total_tokens", prompt + completion);
            w.WriteEndObject();
        }
    }
}
