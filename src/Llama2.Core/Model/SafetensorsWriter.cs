using System.Text;
using System.Text.Json;
using Llama2.Core.Gguf;

namespace Llama2.Core.Model;

/// <summary>Writes a safetensors file (F32/F16/BF16 tensors), to a temporary name then renamed.</summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> (name, PyTorch shape, type, bytes) in the given order.</summary>
    public static void Write(string path, IEnumerable<(string Name, int[] Shape, GgmlType Type, ReadOnlyMemory<byte> Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new Dictionary<string, object>();
        if (metadata is not null)
        {
            header["__metadata__"] = metadata;
        }

        long offset = 0;
        foreach (var (name, shape, type, data) in list)
        {
            var dtype = type switch
            {
                GgmlType.F32 => "F32",
                GgmlType.F16 => "F16",
                GgmlType.BF16 => "BF16",
                _ => throw new ArgumentException($"safetensors cannot hold {type} tensor '{name}'"),
            };
            header[name] = new { dtype, shape, data_offsets = new[] { offset, offset + data.Length } };
            offset += data.Length;
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padding = (8 - json.Length % 8) % 8; // keep the data 8-byte aligned, as the reference writer does
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            stream.Write(BitConverter.GetBytes((long)(json.Length + padding)));
            stream.Write(json);
            stream.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
            foreach (var (_, _, _, data) in list)
            {
                stream.Write(data.Span);
            }
        }

        File.Move(temporary, path, overwrite: true);
    }
}
