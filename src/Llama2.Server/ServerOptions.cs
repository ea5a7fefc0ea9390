namespace Llama2.Server;

/// <summary>How <c>llama2 serve</c> listens and what it allows. Defaults are safe for a laptop.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind; loopback by default so nothing outside the machine can connect.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="LlamaServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every endpoint but <c>/health</c> needs <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The id clients pass as <c>model</c>; requests naming another model get 404.</summary>
    public string ModelId { get; init; } = "llama-2";

    /// <summary>Largest request body accepted, in bytes (413 past it).</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>Largest <c>max_tokens</c> a request may ask; 0 means the context window.</summary>
    public int MaxTokensLimit { get; init; }

    /// <summary>Largest <c>n</c> (choices per request).</summary>
    public int MaxChoices { get; init; } = 4;
}
