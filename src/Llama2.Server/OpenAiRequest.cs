using System.Globalization;
using System.Text.Json;
using Llama2.Core.Chat;
using Llama2.Core.Sampling;
using Llama2.Inference;

namespace Llama2.Server;

/// <summary>A request the server refuses, with OpenAI's error fields (<c>{"error": {message, type, param, code}}</c>).</summary>
internal sealed class RequestException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public string Type { get; } = type;
}

/// <summary>The fields of <c>/v1/chat/completions</c> and <c>/v1/completions</c> the engine uses, validated.</summary>
internal sealed record OpenAiRequest(
    IReadOnlyList<ChatMessage>? Messages,
    string? Prompt,
    int? MaxTokens,
    GenerationOptions Generation,
    int Choices,
    bool Stream,
    bool IncludeUsage)
{
    /// <summary>Parses and checks a request body; every problem names its field.</summary>
    /// <exception cref="RequestException">400 for a malformed field, 404 for another model.</exception>
    public static OpenAiRequest Parse(JsonElement root, bool chat, ServerOptions options)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("the request body must be a JSON object", null);
        }

        var fields = new Fields(root);
        var model = fields.String("model") ?? throw Invalid("you must provide a model parameter", "model");
        if (model != options.ModelId)
        {
            throw new RequestException(404, $"the model '{model}' does not exist: this server serves '{options.ModelId}'", "model", "model_not_found");
        }

        IReadOnlyList<ChatMessage>? messages = null;
        string? prompt = null;
        if (chat)
        {
            messages = ParseMessages(root);
        }
        else
        {
            prompt = ParsePrompt(root);
            if (fields.String("suffix") is { Length: > 0 })
            {
                throw Invalid("suffix is not supported", "suffix");
            }
        }

        int? maxTokens = fields.Int(chat && root.TryGetProperty("max_completion_tokens", out _) ? "max_completion_tokens" : "max_tokens", 1, int.MaxValue)
            ?? (chat ? null : 16); // the legacy completions endpoint defaults to 16 tokens, as OpenAI's does
        var defaults = new SamplingOptions();
        var sampling = new SamplingOptions
        {
            Temperature = (float?)fields.Number("temperature", 0, 2) ?? defaults.Temperature,
            TopP = (float?)fields.Number("top_p", double.Epsilon, 1) ?? defaults.TopP,
            FrequencyPenalty = (float?)fields.Number("frequency_penalty", -2, 2) ?? 0,
            PresencePenalty = (float?)fields.Number("presence_penalty", -2, 2) ?? 0,
            Seed = fields.Long("seed") is { } seed ? unchecked((ulong)seed) : null,
            LogitBias = ParseLogitBias(root),
        };
        int choices = fields.Int("n", 1, options.MaxChoices) ?? 1;
        fields.String("user");
        bool stream = fields.Bool("stream") ?? false;
        bool includeUsage = root.TryGetProperty("stream_options", out var streamOptions) && streamOptions.ValueKind == JsonValueKind.Object
            && new Fields(streamOptions, "stream_options.").Bool("include_usage") == true;
        var generation = new GenerationOptions { Stop = ParseStop(root), Sampling = sampling };
        return new OpenAiRequest(messages, prompt, maxTokens, generation, choices, stream, includeUsage);
    }

    private static List<ChatMessage> ParseMessages(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw Invalid("messages must be an array of {role, content} objects", "messages");
        }

        if (array.GetArrayLength() == 0)
        {
            throw Invalid("messages is empty: it needs at least one user message", "messages");
        }

        var messages = new List<ChatMessage>();
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var name = $"messages[{i}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"{name} must be an object", name);
            }

            var fields = new Fields(item, name + ".");
            var role = fields.String("role") ?? throw Invalid($"{name}.role is required", name + ".role");
            ChatRole parsed;
            try
            {
                parsed = ChatMessage.ParseRole(role);
            }
            catch (ChatFormatException e)
            {
                throw Invalid($"{name}.role: {e.Message}", name + ".role");
            }

            messages.Add(new ChatMessage(parsed, Content(item, name)));
            i++;
        }

        return messages;
    }

    /// <summary>A message's content: a string, or an array of <c>{"type": "text", "text": …}</c> parts joined.</summary>
    private static string Content(JsonElement message, string name)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            throw Invalid($"{name}.content is required", name + ".content");
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"{name}.content must be a string or an array of text parts", name + ".content");
        }

        var text = new System.Text.StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "text"
                || !part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
            {
                throw Invalid($"{name}.content: only text parts ({{\"type\": \"text\", \"text\": …}}) are supported", name + ".content");
            }

            text.Append(partText.GetString());
        }

        return text.ToString();
    }

    private static string ParsePrompt(JsonElement root)
    {
        if (!root.TryGetProperty("prompt", out var prompt))
        {
            throw Invalid("prompt is required", "prompt");
        }

        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String)
        {
            prompt = prompt[0];
        }

        return prompt.ValueKind == JsonValueKind.String ? prompt.GetString()! : throw Invalid("prompt must be a string (or an array of one string)", "prompt");
    }

    private static string[] ParseStop(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        string[] stops = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array when stop.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String) => [.. stop.EnumerateArray().Select(s => s.GetString()!)],
            _ => throw Invalid("stop must be a string or an array of strings", "stop"),
        };
        return stops.Length <= 4 && stops.All(s => s.Length is > 0 and <= 1000)
            ? stops
            : throw Invalid("stop takes at most 4 non-empty sequences of at most 1000 characters", "stop");
    }

    private static Dictionary<int, float>? ParseLogitBias(JsonElement root)
    {
        if (!root.TryGetProperty("logit_bias", out var bias) || bias.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (bias.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("logit_bias must be an object mapping token ids to numbers", "logit_bias");
        }

        var result = new Dictionary<int, float>();
        foreach (var entry in bias.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id)
                || entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetDouble(out double value) || value is < -100 or > 100)
            {
                throw Invalid($"logit_bias: '{entry.Name}' must be a token id with a number in [-100, 100]", "logit_bias");
            }

            if (result.Count >= 300)
            {
                throw Invalid("logit_bias takes at most 300 entries", "logit_bias");
            }

            result[id] = (float)value;
        }

        return result;
    }

    private static RequestException Invalid(string message, string? param) => new(400, message, param);

    /// <summary>Typed optional fields of one JSON object; a present field of the wrong type or range is an error.</summary>
    private readonly struct Fields(JsonElement element, string prefix = "")
    {
        public string? String(string name) => Get(name) is { } value
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw Invalid($"{prefix}{name} must be a string", prefix + name)
            : null;

        public bool? Bool(string name) => Get(name) is { } value
            ? value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : throw Invalid($"{prefix}{name} must be true or false", prefix + name)
            : null;

        public double? Number(string name, double min, double max) => Get(name) is { } value
            ? value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && d >= min && d <= max
                ? d
                : throw Invalid($"{prefix}{name} must be a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]", prefix + name)
            : null;

        public int? Int(string name, int min, int max) => Get(name) is { } value
            ? value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int i) && i >= min && i <= max
                ? i
                : throw Invalid($"{prefix}{name} must be an integer in [{min}, {max}]", prefix + name)
            : null;

        public long? Long(string name) => Get(name) is { } value
            ? value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long l) ? l : throw Invalid($"{prefix}{name} must be an integer", prefix + name)
            : null;

        private JsonElement? Get(string name) =>
            element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;
    }
}
