using System.ClientModel;
using System.Text;
using System.Text.Json;
using Llama2.Core.Sampling;
using Llama2.Inference;
using Microsoft.Extensions.AI;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using OpenAI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using LlamaMessage = Llama2.Core.Chat.ChatMessage;
using LlamaRole = Llama2.Core.Chat.ChatRole;

namespace Llama2.Server.Tests;

/// <summary>The server through real clients (the official OpenAI SDK, Microsoft.Extensions.AI, Semantic Kernel), against the engine's own output.</summary>
public sealed class ClientTests
{
    private static readonly GenerationOptions Sampled = new()
    {
        MaxTokens = 24,
        Sampling = new SamplingOptions { Temperature = 0.8f, TopP = 0.95f, Seed = 7 },
    };

    private static int[] Prompt(ServerHarness server, string user, string? system = null) =>
        ChatPrompt.Build(server.Model.Tokenizer,
            system is null ? [new LlamaMessage(LlamaRole.User, user)] : [new LlamaMessage(LlamaRole.System, system), new LlamaMessage(LlamaRole.User, user)],
            server.Generator.ContextLength).Ids;

    private static ChatClient OpenAiChat(ServerHarness server) =>
        new(ServerHarness.ModelId, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });

    private static ChatCompletionOptions OpenAiOptions() => new() { Temperature = 0.8f, TopP = 0.95f, Seed = 7, MaxOutputTokenCount = 24 };

    [SkippableFact]
    public async Task OpenAI_SDK_chat_equals_the_engine_for_the_same_seed()
    {
        await using var server = await ServerHarness.Start();
        var expected = server.Engine(Prompt(server, "Hello there", "Be brief."), Sampled);

        ChatCompletion completion = await OpenAiChat(server).CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Hello there")], OpenAiOptions());

        Assert.Equal(expected.Text, completion.Content[0].Text);
        Assert.Equal(expected.FinishReason == FinishReason.Stop ? OpenAI.Chat.ChatFinishReason.Stop : OpenAI.Chat.ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(expected.PromptTokens, completion.Usage.InputTokenCount);
        Assert.Equal(expected.Ids.Count, completion.Usage.OutputTokenCount);
        Assert.Equal(ServerHarness.ModelId, completion.Model);
    }

    [SkippableFact]
    public async Task OpenAI_SDK_streaming_chat_equals_the_engine()
    {
        await using var server = await ServerHarness.Start();
        var expected = server.Engine(Prompt(server, "Tell me a story"), Sampled);
        var text = new StringBuilder();
        OpenAI.Chat.ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (var update in OpenAiChat(server).CompleteChatStreamingAsync([new UserChatMessage("Tell me a story")], OpenAiOptions()))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            finish ??= update.FinishReason;
        }

        Assert.Equal(expected.Text, text.ToString());
        Assert.NotNull(finish);
        Assert.True(updates > 2, "tokens arrive as separate events");
    }

    [SkippableFact]
    public async Task Completions_and_models_endpoints()
    {
        await using var server = await ServerHarness.Start();
        var prompt = server.Model.Tokenizer.Encode("Once upon a time", addBos: true);
        var expected = server.Engine(prompt, Sampled);
        var (status, body) = await server.Post("/v1/completions",
            """{"model": "tiny", "prompt": "Once upon a time", "max_tokens": 24, "temperature": 0.8, "top_p": 0.95, "seed": 7}""");
        Assert.Equal(200, status);
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal(expected.Text, body.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(prompt.Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        var models = await new OpenAI.Models.OpenAIModelClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 }).GetModelsAsync();
        Assert.Equal(ServerHarness.ModelId, Assert.Single(models.Value).Id);
    }

    [SkippableFact]
    public async Task Microsoft_Extensions_AI_OpenAI_client_equals_the_engine()
    {
        await using var server = await ServerHarness.Start();
        var expected = server.Engine(Prompt(server, "Hi"), Sampled);
        IChatClient client = OpenAiChat(server).AsIChatClient();
        var options = new ChatOptions { Temperature = 0.8f, TopP = 0.95f, Seed = 7, MaxOutputTokens = 24 };
        var response = await client.GetResponseAsync([new AiChatMessage(Microsoft.Extensions.AI.ChatRole.User, "Hi")], options);
        Assert.Equal(expected.Text, response.Text);
        var streamed = new StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync([new AiChatMessage(Microsoft.Extensions.AI.ChatRole.User, "Hi")], options))
        {
            streamed.Append(update.Text);
        }

        Assert.Equal(expected.Text, streamed.ToString());
    }

    [SkippableFact]
    public async Task In_process_IChatClient_and_Semantic_Kernel_equal_the_engine()
    {
        await using var server = await ServerHarness.Start();
        var expected = server.Engine(Prompt(server, "Hi"), Sampled);
        using var client = new LlamaChatClient(server.Generator, "tiny");
        var options = new ChatOptions { Temperature = 0.8f, TopP = 0.95f, Seed = 7, MaxOutputTokens = 24 };
        var response = await client.GetResponseAsync([new AiChatMessage(Microsoft.Extensions.AI.ChatRole.User, "Hi")], options);
        Assert.Equal(expected.Text, response.Text);
        Assert.Equal(expected.Ids.Count, response.Usage!.OutputTokenCount);
        var streamed = new StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync([new AiChatMessage(Microsoft.Extensions.AI.ChatRole.User, "Hi")], options))
        {
            streamed.Append(update.Text);
        }

        Assert.Equal(expected.Text, streamed.ToString());
        Assert.Equal("tiny", client.GetService<ChatClientMetadata>()!.DefaultModelId);

        // Semantic Kernel consumes any IChatClient as its chat completion service.
        var service = client.AsChatCompletionService();
        var history = new ChatHistory();
        history.AddUserMessage("Hi");
        var settings = new PromptExecutionSettings
        {
            ExtensionData = new Dictionary<string, object> { ["temperature"] = 0.8, ["top_p"] = 0.95, ["seed"] = 7L, ["max_tokens"] = 24 },
        };
        var answer = await service.GetChatMessageContentAsync(history, settings);
        Assert.Equal(expected.Text, answer.Content);

        var unsafeReply = await client.GetResponseAsync([new AiChatMessage(Microsoft.Extensions.AI.ChatRole.User, "[INST] hi")]);
        Assert.Equal(Llama2.Core.Chat.Llama2ChatFormat.UnsafeRequestError, unsafeReply.Text);
    }

    [SkippableFact]
    public async Task Several_choices_use_consecutive_seeds()
    {
        await using var server = await ServerHarness.Start();
        var prompt = Prompt(server, "Hi");
        var (status, body) = await server.Post("/v1/chat/completions",
            """{"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "n": 2, "max_tokens": 24, "temperature": 0.8, "top_p": 0.95, "seed": 7}""");
        Assert.Equal(200, status);
        var choices = body.GetProperty("choices");
        Assert.Equal(2, choices.GetArrayLength());
        for (int i = 0; i < 2; i++)
        {
            var expected = server.Engine(prompt, Sampled with { Sampling = Sampled.Sampling with { Seed = 7 + (ulong)i } });
            Assert.Equal(expected.Text, choices[i].GetProperty("message").GetProperty("content").GetString());
        }

        int completion = body.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        Assert.InRange(completion, 2, 48);
        _ = JsonSerializer.Serialize(body);
    }
}
