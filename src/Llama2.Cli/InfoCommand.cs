using System.CommandLine;
using System.Text.Json;
using Llama2.Core.Model;

namespace Llama2.Cli;

/// <summary><c>llama2 info</c>: format, architecture, shapes, tensor types, tokenizer.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var json = new Option<bool>("--json") { Description = "Machine-readable output" };
        var command = new Command("info", "Describe a model: format, shapes, tensor types, tokenizer") { model, json };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            using var file = ModelFile.Open(parse.GetRequiredValue(model));
            var c = file.Config;
            var types = file.Tensors.Values.GroupBy(t => t.Type.ToString()).OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count());
            long parameters = file.Tensors.Values.Sum(t => (long)t.Rows * t.Cols);
            long bytes = file.Tensors.Values.Sum(t => (long)t.Data.Length);
            var tokenizer = file.Tokenizer;
            var info = new
            {
                path = file.Path,
                format = file.Format.ToString().ToLowerInvariant(),
                architecture = "llama",
                dim = c.Dim,
                n_layers = c.NLayers,
                n_heads = c.NHeads,
                n_kv_heads = c.NKvHeads,
                head_dim = c.HeadDim,
                hidden_dim = c.HiddenDim,
                vocab_size = c.VocabSize,
                context_length = c.MaxSeqLen,
                norm_eps = c.NormEps,
                rope_theta = c.RopeTheta,
                parameters,
                weight_bytes = bytes,
                tensor_types = types,
                tokenizer = new { vocab_size = tokenizer.VocabSize, bos_id = tokenizer.BosId, eos_id = tokenizer.EosId, unk_id = tokenizer.UnknownId, byte_fallback = tokenizer.Model.Trainer.ByteFallback },
            };
            using var stdout = CliRunner.OpenStdout();
            if (parse.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(info));
                return 0;
            }

            stdout.WriteLine($"{file.Path}");
            stdout.WriteLine($"  format        {info.format}, architecture llama");
            stdout.WriteLine($"  shape         dim {c.Dim}, {c.NLayers} layers, {c.NHeads} heads ({c.NKvHeads} KV heads, head dim {c.HeadDim}), FFN {c.HiddenDim}");
            stdout.WriteLine($"  vocabulary    {c.VocabSize}; context {c.MaxSeqLen}; norm eps {c.NormEps:G}; RoPE theta {c.RopeTheta:G}");
            stdout.WriteLine($"  parameters    {parameters:N0} ({bytes / (1024.0 * 1024):F1} MiB of weights)");
            stdout.WriteLine($"  tensor types  {string.Join(", ", types.Select(t => $"{t.Key} ×{t.Value}"))}");
            stdout.WriteLine($"  tokenizer     SentencePiece BPE, {tokenizer.VocabSize} pieces, BOS {tokenizer.BosId}, EOS {tokenizer.EosId}, byte fallback {(tokenizer.Model.Trainer.ByteFallback ? "on" : "off")}");
            return 0;
        }));
        return command;
    }
}
