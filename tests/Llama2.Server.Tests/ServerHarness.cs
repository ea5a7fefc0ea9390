using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Llama2.Core.Model;
using Llama2.Inference;

namespace Llama2.Server.Tests;

/// <summary>A server on a free loopback port over the tiny-gqa fixture model, and an HTTP client for it.</summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    public const string ModelId = "tiny";

    private ServerHarness(ModelFile model, BatchGenerator generator, LlamaServer server)
    {
        Model = model;
        Generator = generator;
        Server = server;
        Http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public ModelFile Model { get; }

    public BatchGenerator Generator { get; }

    public LlamaServer Server { get; }

    public HttpClient Http { get; }

    public Uri V1 => new(Server.Address, "/v1");

    public static async Task<ServerHarness> Start(ServerOptions? options = null, BatchGeneratorOptions? batch = null)
    {
        var model = ModelFile.Open(Fixtures.Path("tiny-gqa/gguf/tiny-gqa-f32.gguf"));
        var generator = new BatchGenerator(model, batch ?? new BatchGeneratorOptions { Slots = 4, ContextLength = 256 });
        var server = LlamaServer.Create(generator, (options ?? new ServerOptions()) with { Port = 0, ModelId = ModelId });
        await server.StartAsync();
        return new ServerHarness(model, generator, server);
    }

    /// <summary>The engine's own answer for the same prompt and options (the reference for the server's output).</summary>
    public GenerationResult Engine(int[] prompt, GenerationOptions options) => new Generator(Model, Generator.ContextLength).Complete(prompt, options);

    public async Task<(int Status, JsonElement Body)> Post(string path, string json, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Waits until every slot is free again (a cancelled generation leaves before the next step).</summary>
    public async Task AssertNoSlotHeld()
    {
        for (int i = 0; i < 200 && (Generator.Running > 0 || Generator.QueueDepth > 0); i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(0, Generator.Running);
        Assert.Equal(0, Generator.QueueDepth);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Generator.Dispose();
        Model.Dispose();
    }
}
