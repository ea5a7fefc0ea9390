using System.Text;

namespace Llama2.Core.Gguf;

/// <summary>
/// Writes GGUF v3 files as llama.cpp's gguf-py does: metadata, tensor infos, then tensor data, each
/// tensor aligned to <c>general.alignment</c> (32). Written to a temporary name and renamed.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValueType Type, object Value)> _metadata = [];
    private readonly List<(string Name, long[] Shape, GgmlType Type, ReadOnlyMemory<byte> Data)> _tensors = [];

    public const int Alignment = 32;

    public GgufWriter Add(string key, string value) => AddRaw(key, GgufValueType.String, value);

    public GgufWriter Add(string key, uint value) => AddRaw(key, GgufValueType.UInt32, value);

    public GgufWriter Add(string key, int value) => AddRaw(key, GgufValueType.Int32, value);

    public GgufWriter Add(string key, float value) => AddRaw(key, GgufValueType.Float32, value);

    public GgufWriter Add(string key, bool value) => AddRaw(key, GgufValueType.Bool, value);

    public GgufWriter Add(string key, string[] values) => AddRaw(key, GgufValueType.Array, values);

    public GgufWriter Add(string key, float[] values) => AddRaw(key, GgufValueType.Array, values);

    public GgufWriter Add(string key, int[] values) => AddRaw(key, GgufValueType.Array, values);

    /// <summary>Adds a tensor; <paramref name="shape"/> in GGUF order (fastest-varying first: [cols, rows]).</summary>
    public GgufWriter AddTensor(string name, long[] shape, GgmlType type, ReadOnlyMemory<byte> data)
    {
        _tensors.Add((name, shape, type, data));
        return this;
    }

    private GgufWriter AddRaw(string key, GgufValueType type, object value)
    {
        _metadata.Add((key, type, value));
        return this;
    }

    public void Write(string path)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Write(stream);
        }

        File.Move(temporary, path, overwrite: true);
    }

    public void Write(Stream stream)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, type, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)type);
            WriteValue(w, type, value);
        }

        long offset = 0;
        foreach (var (name, shape, type, data) in _tensors)
        {
            WriteString(w, name);
            w.Write((uint)shape.Length);
            foreach (long d in shape)
            {
                w.Write((ulong)d);
            }

            w.Write((uint)type);
            w.Write((ulong)offset);
            offset = Align(offset + data.Length);
        }

        Pad(w);
        foreach (var (_, _, _, data) in _tensors)
        {
            w.Write(data.Span);
            Pad(w);
        }
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object value)
    {
        switch (value)
        {
            case string s: WriteString(w, s); break;
            case uint u: w.Write(u); break;
            case int i: w.Write(i); break;
            case float f: w.Write(f); break;
            case bool b: w.Write((byte)(b ? 1 : 0)); break;
            case string[] strings:
                w.Write((uint)GgufValueType.String);
                w.Write((ulong)strings.Length);
                foreach (var s in strings)
                {
                    WriteString(w, s);
                }

                break;
            case float[] floats:
                w.Write((uint)GgufValueType.Float32);
                w.Write((ulong)floats.Length);
                foreach (var f in floats)
                {
                    w.Write(f);
                }

                break;
            case int[] ints:
                w.Write((uint)GgufValueType.Int32);
                w.Write((ulong)ints.Length);
                foreach (var i in ints)
                {
                    w.Write(i);
                }

                break;
            default:
                throw new ArgumentException($"metadata value of type {value.GetType()} ({type}) is not supported");
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void Pad(BinaryWriter w)
    {
        long position = w.BaseStream.Position;
        for (long i = position; i < Align(position); i++)
        {
            w.Write((byte)0);
        }
    }

    private static long Align(long value) => (value + Alignment - 1) / Alignment * Alignment;
}
