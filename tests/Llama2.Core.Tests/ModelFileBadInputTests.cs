using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Llama2.Core.Gguf;
using Llama2.Core.IO;
using Llama2.Core.Model;

namespace Llama2.Core.Tests;

/// <summary>Every kind of broken model file gets one clear error that names the file and the problem.</summary>
public sealed class ModelFileBadInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Error(string path)
    {
        var e = Assert.Throws<InvalidModelFileException>(() => ModelFile.Open(path).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void A_valid_tiny_gguf_loads()
    {
        var path = _dir.File("ok.gguf");
        TinyGguf.Write(path);
        using var model = ModelFile.Open(path);
        Assert.Equal(TinyGguf.Dim, model.Config.Dim);
        Assert.Equal(TinyGguf.KvHeads, model.Config.NKvHeads);
        Assert.Equal([TinyGguf.Hidden, TinyGguf.Dim], model[TensorNames.W1(0)].Shape);
    }

    [Fact]
    public void Missing_file_and_wrong_magic()
    {
        Assert.Contains("no such file", Error(_dir.File("absent.gguf")));
        var path = _dir.File("wrong.gguf");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("GGML this is not a gguf file at all........"));
        var message = Error(path);
        Assert.StartsWith(path, message);
        Assert.Contains("magic", message);
    }

    [Fact]
    public void Truncated_header_metadata_or_tensor_data()
    {
        var path = _dir.File("ok.gguf");
        TinyGguf.Write(path);
        var bytes = File.ReadAllBytes(path);
        int metadataMiddle = TinyGguf.Find(bytes, "tokenizer.ggml.tokens") + 100;
        int tensorInfos = TinyGguf.Find(bytes, "token_embd.weight");
        foreach (int length in new[] { 10, 23, 40, metadataMiddle, tensorInfos + 5, bytes.Length - 1000, bytes.Length - 1 })
        {
            var cut = _dir.File($"cut{length}.gguf");
            File.WriteAllBytes(cut, bytes[..length]);
            var message = Error(cut);
            Assert.StartsWith(cut, message);
        }

        Assert.Contains("truncated", Error(_dir.File("cut10.gguf")) + Error(_dir.File($"cut{bytes.Length - 1}.gguf")));
    }

    [Fact]
    public void Absurd_counts_and_lengths_are_refused_before_allocating()
    {
        var path = _dir.File("ok.gguf");
        TinyGguf.Write(path);
        var bytes = File.ReadAllBytes(path);

        var counts = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(counts.AsSpan(8), 1UL << 60); // tensor count
        File.WriteAllBytes(_dir.File("count.gguf"), counts);
        Assert.Contains("larger than the file can hold", Error(_dir.File("count.gguf")));

        var array = (byte[])bytes.Clone();
        int tokens = TinyGguf.Find(array, "tokenizer.ggml.tokens");
        BinaryPrimitives.WriteUInt64LittleEndian(array.AsSpan(tokens + "tokenizer.ggml.tokens".Length + 8), 1UL << 40); // array length
        File.WriteAllBytes(_dir.File("array.gguf"), array);
        Assert.Contains("larger than the file can hold", Error(_dir.File("array.gguf")));

        var text = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(text.AsSpan(24), ulong.MaxValue / 2); // first key's length
        File.WriteAllBytes(_dir.File("string.gguf"), text);
        Assert.Contains("runs past the end", Error(_dir.File("string.gguf")));

        var dims = (byte[])bytes.Clone();
        int info = TinyGguf.Find(dims, "token_embd.weight") + "token_embd.weight".Length;
        BinaryPrimitives.WriteUInt32LittleEndian(dims.AsSpan(info), 1000); // n_dims
        File.WriteAllBytes(_dir.File("dims.gguf"), dims);
        Assert.Contains("dimensions", Error(_dir.File("dims.gguf")));
    }

    [Fact]
    public void Tensor_offsets_beyond_the_file_and_unsupported_types()
    {
        var path = _dir.File("ok.gguf");
        TinyGguf.Write(path);
        var bytes = File.ReadAllBytes(path);
        int info = TinyGguf.Find(bytes, "output.weight\u0002") is var i and >= 0 ? i : TinyGguf.Find(bytes, "output.weight");
        int typeAt = info + "output.weight".Length + 4 + 16;

        var offset = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(offset.AsSpan(typeAt + 4), 1UL << 40);
        File.WriteAllBytes(_dir.File("offset.gguf"), offset);
        Assert.Contains("outside the file", Error(_dir.File("offset.gguf")));

        var type = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(type.AsSpan(typeAt), 99);
        File.WriteAllBytes(_dir.File("type.gguf"), type);
        Assert.Contains("ggml type 99", Error(_dir.File("type.gguf")));
    }

    [Fact]
    public void Shapes_that_disagree_with_the_config()
    {
        var path = _dir.File("shape.gguf");
        TinyGguf.Write(path, shape: (name, dims) => name == "blk.0.attn_k.weight" ? [TinyGguf.Dim, TinyGguf.Dim] : dims);
        var message = Error(path);
        Assert.Contains("layers.0.attention.wk.weight", message);
        Assert.Contains("config needs [16, 32]", message);

        TinyGguf.Write(path, skipHeadCount: true);
        Assert.Contains("llama.attention.head_count", Error(path));

        TinyGguf.Write(path, extraMetadata: w => w.Add("llama.rope.dimension_count", 4u));
        Assert.Contains("partial RoPE", Error(path));
    }

    [SkippableFact]
    public void A_pth_whose_pickle_asks_for_another_global_is_refused()
    {
        var folder = Path.Combine(_dir.Path, "meta");
        Directory.CreateDirectory(folder);
        foreach (var f in new[] { "params.json", "tokenizer.model" })
        {
            File.Copy(Fixtures.Path($"tiny-gqa/meta/{f}"), Path.Combine(folder, f));
        }

        var bytes = File.ReadAllBytes(Fixtures.Path("tiny-gqa/meta/consolidated.00.pth"));
        var global = Encoding.ASCII.GetBytes("torch._utils\n_rebuild_tensor_v2\n");
        int at = bytes.AsSpan().IndexOf(global);
        Assert.True(at > 0);
        Encoding.ASCII.GetBytes("os\nsystem__________________\n".PadRight(global.Length - 1, '_')[..(global.Length - 1)] + "\n").CopyTo(bytes, at);
        File.WriteAllBytes(Path.Combine(folder, "consolidated.00.pth"), bytes);
        var message = Error(folder);
        Assert.Contains("consolidated.00.pth", message);
        Assert.Contains("'os.system", message);
        Assert.Contains("refusing", message);
    }

    [SkippableFact]
    public void A_safetensors_header_that_lies()
    {
        var folder = Path.Combine(_dir.Path, "hf");
        Directory.CreateDirectory(folder);
        foreach (var f in new[] { "config.json", "tokenizer.model" })
        {
            File.Copy(Fixtures.Path($"tiny-gqa/hf/{f}"), Path.Combine(folder, f));
        }

        var original = File.ReadAllBytes(Fixtures.Path("tiny-gqa/hf/model.safetensors"));
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(original);
        var header = JsonNode.Parse(original.AsSpan(8, (int)headerLength))!.AsObject();
        var data = original.AsMemory(8 + (int)headerLength);

        void WriteWith(Action<JsonObject> lie)
        {
            var copy = JsonNode.Parse(header.ToJsonString())!.AsObject();
            lie(copy);
            var json = Encoding.UTF8.GetBytes(copy.ToJsonString());
            using var stream = File.Create(Path.Combine(folder, "model.safetensors"));
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, json.Length);
            stream.Write(length);
            stream.Write(json);
            stream.Write(data.Span);
        }

        WriteWith(h => h["model.norm.weight"]!["data_offsets"] = new JsonArray(0, 1L << 40));
        Assert.Contains("model.norm.weight", Error(folder));

        WriteWith(h => h["model.norm.weight"]!["shape"] = new JsonArray(999));
        Assert.Contains("do not hold shape [999]", Error(folder));

        WriteWith(h => h["model.norm.weight"]!["dtype"] = "I64");
        Assert.Contains("dtype I64", Error(folder));

        var lying = (byte[])original.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(lying, 1L << 50);
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), lying);
        Assert.Contains("header length", Error(folder));
    }
}
