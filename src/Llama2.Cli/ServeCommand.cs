using System.CommandLine;
using Llama2.Core.Model;
using Llama2.Inference;
using Llama2.Inference.Kernels;
using Llama2.Server;

namespace Llama2.Cli;

/// <summary><c>llama2 serve</c>: the OpenAI-compatible server.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = ModelOption.CreateWithDefault();
        var host = new Option<string>("--host") { Description = "Address to bind (loopback by default; 0.0.0.0 exposes the server to the network)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 picks a free one)", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' (or set LLAMA2_API_KEY, which keeps it out of the process list)" };
        var name = new Option<string?>("--model-id") { Description = "The model name clients pass as 'model' (default: the file name)" };
        var parallel = new Option<int>("--parallel", "-np") { Description = "Generations decoded together (continuous batching)", DefaultValueFactory = _ => 4 };
        var context = new Option<int>("--ctx-size", "-c") { Description = "Context window per generation in tokens (default: the model's)" };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a slot; more get 429", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Largest max_tokens a request may ask (default: the context window)" };
        var maxBody = new Option<long>("--max-body") { Description = "Largest request body in bytes", DefaultValueFactory = _ => 1 << 20 };
        var threads = new Option<int>("--threads", "-t") { Description = "Threads for the kernels (default: one per core)" };
        var command = new Command("serve", "OpenAI-compatible server: /v1/chat/completions (SSE streaming), /v1/completions, /v1/models, /health, /metrics, /tokenize, /detokenize")
        {
            model, host, port, apiKey, name, parallel, context, queue, maxTokens, maxBody, threads,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(CliRunner.Run(() =>
        {
            var path = ModelOption.Resolve(parse.GetValue(model));
            using var file = ModelFile.Open(path);
            using var pool = new WorkerPool(parse.GetValue(threads));
            var batch = new BatchGeneratorOptions
            {
                Slots = Positive(parse.GetValue(parallel), "--parallel"),
                ContextLength = Math.Min(Math.Max(0, parse.GetValue(context)), file.Config.MaxSeqLen) is var c and > 0 ? c : file.Config.MaxSeqLen,
                QueueLimit = Math.Max(0, parse.GetValue(queue)),
                Pool = pool,
            };
            using var generator = new BatchGenerator(file, batch);
            var options = new ServerOptions
            {
                Host = parse.GetRequiredValue(host),
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("LLAMA2_API_KEY"),
                ModelId = parse.GetValue(name) ?? Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(path)),
                MaxTokensLimit = Math.Max(0, parse.GetValue(maxTokens)),
                MaxBodyBytes = parse.GetValue(maxBody),
            };
            var server = LlamaServer.Create(generator, options);
            try
            {
                server.StartAsync(cancellation).GetAwaiter().GetResult();
                Console.Error.WriteLine($"serving '{options.ModelId}' ({file.Path}) at {server.Address} — {batch.Slots} slots × {generator.ContextLength} tokens"
                    + (string.IsNullOrEmpty(options.ApiKey) ? "" : ", API key required") + "; Ctrl+C stops");
                server.WaitForShutdownAsync(cancellation).GetAwaiter().GetResult();
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            return 0;
        })));
        return command;
    }

    private static int Positive(int value, string name) => value > 0 ? value : throw new CliException($"{name} must be at least 1, got {value}");
}
