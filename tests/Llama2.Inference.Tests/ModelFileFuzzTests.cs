using System.Buffers.Binary;
using System.Diagnostics;
using Llama2.Core.IO;
using Llama2.Core.Model;
using Xunit.Abstractions;

namespace Llama2.Inference.Tests;

/// <summary>
/// Mutates the fixture model files (bit flips, byte and field rewrites, truncations) and opens each result:
/// it must load (and run one token) or fail with <see cref="InvalidModelFileException"/> — never another
/// exception, a hang or a crash. 10,000 runs in all, deterministic.
/// </summary>
public sealed class ModelFileFuzzTests(ITestOutputHelper output)
{
    private static readonly ulong[] s_interesting =
    [
        0, 1, 2, 3, 7, 8, 31, 32, 255, 256, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
        1UL << 32, 1UL << 40, long.MaxValue, 1UL << 63, ulong.MaxValue,
    ];

    [SkippableTheory]
    [InlineData("tiny-gqa/gguf/tiny-gqa-q4_0.gguf", "file", 3000)]
    [InlineData("tiny-gqa/gguf/tiny-gqa-q4_k_m.gguf", "file", 1000)]
    [InlineData("tiny-gqa/hf/model.safetensors", "hf", 3000)]
    [InlineData("tiny-gqa/meta/consolidated.00.pth", "meta", 3000)]
    public void Mutated_files_fail_cleanly(string fixture, string layout, int runs)
    {
        var source = Fixtures.Path(fixture);
        using var dir = new TempDirectory();
        string target = Path.Combine(dir.Path, Path.GetFileName(source));
        string open = target;
        if (layout != "file")
        {
            foreach (var f in Directory.GetFiles(Path.GetDirectoryName(source)!).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal) && !f.EndsWith(".pth", StringComparison.Ordinal)))
            {
                File.Copy(f, Path.Combine(dir.Path, Path.GetFileName(f)));
            }

            open = dir.Path;
        }

        var original = File.ReadAllBytes(source);
        File.WriteAllBytes(target, original);
        int header = HeaderLength(original, layout);
        var random = new Random(fixture.Length * 7919 + runs);
        int loaded = 0, refused = 0;
        var clock = Stopwatch.StartNew();
        var messages = new Dictionary<string, int>();
        for (int run = 0; run < runs; run++)
        {
            var (description, undo) = Mutate(target, original, header, layout, random);
            var start = clock.Elapsed;
            try
            {
                using var model = ModelFile.Open(open);
                var transformer = new Transformer(model, contextLength: 8);
                transformer.Forward([1, 2], new float[model.Config.VocabSize]);
                loaded++;
            }
            catch (InvalidModelFileException e)
            {
                refused++;
                var key = e.Message.Replace(dir.Path, "", StringComparison.Ordinal);
                key = key.Length > 90 ? key[..90] : key;
                messages[key] = messages.GetValueOrDefault(key) + 1;
            }
            catch (Exception e)
            {
                Assert.Fail($"run {run} ({description}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }

            Assert.True(clock.Elapsed - start < TimeSpan.FromSeconds(10), $"run {run} ({description}) took {(clock.Elapsed - start).TotalSeconds:F1} s");
            undo();
        }

        output.WriteLine($"{fixture}: {runs} runs in {clock.Elapsed.TotalSeconds:F1} s: {loaded} loaded, {refused} refused; most common errors:");
        foreach (var (message, count) in messages.OrderByDescending(m => m.Value).Take(5))
        {
            output.WriteLine($"  {count,5} × {message}");
        }
    }

    /// <summary>Where the structure is: the GGUF header, the safetensors JSON, the pickle (at the start of a .pth).</summary>
    private static int HeaderLength(byte[] bytes, string layout) => layout switch
    {
        "hf" => 8 + (int)BinaryPrimitives.ReadInt64LittleEndian(bytes),
        "meta" => Math.Min(bytes.Length, 8192),
        _ => Math.Min(bytes.Length, (int)Llama2.Core.Gguf.GgufFile.Read(Fixtures.Path("tiny-gqa/gguf/tiny-gqa-q4_0.gguf")).DataOffset),
    };

    private static (string Description, Action Undo) Mutate(string path, byte[] original, int header, string layout, Random random)
    {
        // Mostly the structured regions: the header, and for zips the central directory at the end.
        int Offset()
        {
            int pick = random.Next(10);
            if (pick < 7)
            {
                return random.Next(header);
            }

            if (pick < 9 && layout == "meta")
            {
                return original.Length - 1 - random.Next(Math.Min(4096, original.Length));
            }

            return random.Next(original.Length);
        }

        int kind = random.Next(4);
        if (kind == 3)
        {
            int length = random.Next(3) switch
            {
                0 => random.Next(header),
                1 => original.Length - 1 - random.Next(Math.Min(4096, original.Length - 1)),
                _ => random.Next(original.Length),
            };
            using (var stream = new FileStream(path, FileMode.Open))
            {
                stream.SetLength(length);
            }

            return ($"truncate to {length}", () =>
            {
                using var stream = new FileStream(path, FileMode.Open);
                stream.Seek(length, SeekOrigin.Begin);
                stream.Write(original, length, original.Length - length);
            });
        }

        int at = Offset();
        byte[] patch = kind switch
        {
            0 => [(byte)(original[at] ^ (1 << random.Next(8)))],
            1 => [.. Enumerable.Range(0, random.Next(1, 9)).Select(_ => (byte)(random.Next(4) switch { 0 => 0, 1 => 0xFF, 2 => 0x80, _ => random.Next(256) }))],
            _ => BitConverter.GetBytes(s_interesting[random.Next(s_interesting.Length)])[..(random.Next(2) == 0 ? 4 : 8)],
        };
        int count = Math.Min(patch.Length, original.Length - at);
        Write(path, at, patch.AsSpan(0, count));
        return ($"{(kind == 0 ? "bit flip" : kind == 1 ? "bytes" : "field")} at {at}: {Convert.ToHexString(patch, 0, count)}",
            () => Write(path, at, original.AsSpan(at, count)));
    }

    private static void Write(string path, long at, ReadOnlySpan<byte> bytes)
    {
        using var stream = new FileStream(path, FileMode.Open);
        stream.Seek(at, SeekOrigin.Begin);
        stream.Write(bytes);
    }
}
