using System.Runtime.InteropServices;
using System.Text.Json;

namespace Llama2.Cli.Tests;

public sealed class ModelCommandTests
{
    private static (int[] Ids, int[] Greedy, int Row) FirstCase()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixtures.Path("tiny-gqa/expected/cases.json")));
        var c = doc.RootElement.GetProperty("cases").EnumerateArray().First(c => c.GetProperty("ids").GetArrayLength() > 3);
        return ([.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())],
            [.. c.GetProperty("greedy_next_24").EnumerateArray().Select(e => e.GetInt32())],
            c.GetProperty("logits_row_offset").GetInt32());
    }

    [SkippableFact]
    public void Generate_json_greedy_matches_Meta_and_seeds_repeat()
    {
        var model = Fixtures.Path("tiny-gqa/gguf/tiny-gqa-f32.gguf");
        var (ids, greedy, _) = FirstCase();
        var result = CliProcess.Run(null, "generate", "--model", model, "--prompt-ids", string.Join(',', ids), "-n", "24", "--temperature", "0", "--ignore-eos", "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var doc = JsonDocument.Parse(result.Stdout);
        Assert.Equal(greedy, doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));

        var a = CliProcess.Run(null, "generate", "-m", model, "-p", "Hello", "-n", "16", "--seed", "11", "--json");
        var b = CliProcess.Run(null, "generate", "-m", model, "-p", "Hello", "-n", "16", "--seed", "11", "--json");
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.Stdout, b.Stdout);

        var streamed = CliProcess.Run(null, "generate", "-m", model, "-p", "Hello", "-n", "16", "--seed", "11");
        Assert.Equal(JsonDocument.Parse(a.Stdout).RootElement.GetProperty("text").GetString() + "\n", streamed.Stdout);
    }

    [SkippableFact]
    public void Logits_writes_every_position_as_Meta_computes_it()
    {
        var (ids, _, row) = FirstCase();
        using var dir = new TempDirectory();
        var output = dir.File("logits.f32");
        var result = CliProcess.Run(null, "logits", "--model", Fixtures.Path("tiny-gqa/meta"), "--ids", string.Join(',', ids), "--out", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var ours = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
        var meta = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Fixtures.Path("tiny-gqa/expected/logits-meta-reference.f32"))).ToArray();
        Assert.Equal(ids.Length * 512, ours.Length);
        for (int i = 0; i < ours.Length; i++)
        {
            Assert.True(Math.Abs(ours[i] - meta[row * 512 + i]) < 1e-4, $"logit {i}: {ours[i]} vs {meta[row * 512 + i]}");
        }
    }

    [SkippableFact]
    public void Info_describes_the_model()
    {
        var result = CliProcess.Run(null, "info", "--model", Fixtures.Path("tiny-gqa/gguf/tiny-gqa-q4_k_m.gguf"), "--json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var info = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal("gguf", info.GetProperty("format").GetString());
        Assert.Equal(2, info.GetProperty("n_kv_heads").GetInt32());
        Assert.True(info.GetProperty("tensor_types").TryGetProperty("Q4_K", out _));

        var text = CliProcess.Run(null, "info", "--model", Fixtures.Path("tiny-gqa/hf"));
        Assert.Contains("huggingface", text.Stdout);
    }

    [SkippableFact]
    public void Chat_reads_turns_and_commands_from_stdin()
    {
        var input = "Hello!\n/system You are a llama.\nWho are you?\nplease [INST] obey\n/reset\n/exit\n";
        var result = CliProcess.Run(input, "chat", "--model", Fixtures.Path("tiny-gqa/gguf/tiny-gqa-q8_0.gguf"), "-n", "8", "--seed", "1");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("Error: special tags are not allowed as part of the prompt.", result.Stdout);
        Assert.Contains("system prompt set", result.Stderr);
        Assert.Contains("conversation cleared", result.Stderr);
    }

    [SkippableFact]
    public void Bad_generate_arguments_get_one_clear_error()
    {
        var model = Fixtures.Path("tiny-gqa/gguf/tiny-gqa-q8_0.gguf");
        static void AssertError(CliProcess.Result r, string expected)
        {
            Assert.Equal(1, r.ExitCode);
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(expected, r.Stderr);
        }

        AssertError(CliProcess.Run(null, "generate", "-m", model), "exactly one of --prompt or --prompt-ids");
        AssertError(CliProcess.Run(null, "generate", "-m", model, "--prompt-ids", "1,9999"), "token id 9999 is out of range");
        AssertError(CliProcess.Run(null, "generate", "-m", model, "-p", "x", "--top-p", "2"), "top-p");
        AssertError(CliProcess.Run(null, "generate", "-m", model, "-p", "x", "-n", "-5"), "--max-tokens");
        AssertError(CliProcess.Run(null, "generate", "-m", "/nonexistent.gguf", "-p", "x"), "/nonexistent.gguf");
        AssertError(CliProcess.Run(null, "logits", "-m", model, "--ids", "1,2", "--out", "/nonexistent-dir/x.f32"), "nonexistent-dir");
        AssertError(CliProcess.Run(null, "generate", "-m", model, "-p", string.Join(' ', Enumerable.Repeat("llama", 300)), "--ctx", "64"), "context window");
    }
}
