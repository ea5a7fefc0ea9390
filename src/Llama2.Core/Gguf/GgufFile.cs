using System.Text;
using Llama2.Core.IO;

namespace Llama2.Core.Gguf;

/// <summary>GGUF metadata value types.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>One tensor's description in a GGUF file. <see cref="Shape"/> is in GGUF order (fastest-varying first).</summary>
public sealed record GgufTensorInfo(string Name, long[] Shape, GgmlType Type, long Offset, long ByteCount)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// The header of a GGUF (v2/v3) file: metadata and tensor descriptions. Tensor data is not read here;
/// <see cref="DataOffset"/> tells where it starts, so it can be memory-mapped.
/// Every count and length is checked against the file size before anything is allocated.
/// </summary>
public sealed class GgufFile
{
    private GgufFile(string path, uint version, Dictionary<string, object> metadata, List<GgufTensorInfo> tensors, long dataOffset, int alignment)
    {
        Path = path;
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        DataOffset = dataOffset;
        Alignment = alignment;
    }

    public string Path { get; }

    public uint Version { get; }

    /// <summary>Metadata values: numbers as their CLR type, strings, and arrays as typed CLR arrays (<c>string[]</c>, <c>float[]</c>, …).</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }

    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Absolute file offset of the tensor data section.</summary>
    public long DataOffset { get; }

    public int Alignment { get; }

    public const uint Magic = 0x46554747; // "GGUF" little-endian

    /// <summary>True when the file starts with the GGUF magic.</summary>
    public static bool HasGgufMagic(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && BitConverter.ToUInt32(magic) == Magic;
    }

    /// <summary>Reads the header of a GGUF file.</summary>
    /// <exception cref="InvalidModelFileException">The file is missing, not GGUF, of an unsupported version, or truncated/corrupt.</exception>
    public static GgufFile Read(string path)
    {
        if (!File.Exists(path))
        {
            throw InvalidModelFileException.For(path, "file not found");
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return new Parser(stream, path).Parse();
        }
        catch (EndOfStreamException)
        {
            throw InvalidModelFileException.For(path, "GGUF header is truncated");
        }
        catch (FormatException e)
        {
            throw InvalidModelFileException.For(path, e.Message);
        }
        catch (OverflowException)
        {
            throw InvalidModelFileException.For(path, "a tensor's shape is too large to address");
        }
    }

    public bool TryGet<T>(string key, out T value)
    {
        if (Metadata.TryGetValue(key, out var raw) && raw is T typed)
        {
            value = typed;
            return true;
        }

        value = default!;
        return false;
    }

    /// <summary>Reads an integer metadata value of any integer type.</summary>
    public long? GetInteger(string key) => Metadata.TryGetValue(key, out var raw) ? raw switch
    {
        byte v => v, sbyte v => v, ushort v => v, short v => v, uint v => v, int v => v,
        ulong v => v <= long.MaxValue ? (long)v : null, long v => v,
        _ => null,
    } : null;

    private sealed class Parser(FileStream stream, string path)
    {
        private const int MaxStringBytes = 64 << 20;
        private const int MaxDimensions = 8;
        private readonly BinaryReader _reader = new(stream, Encoding.UTF8, leaveOpen: true);
        private readonly long _length = stream.Length;

        public GgufFile Parse()
        {
            if (_length < 24 || _reader.ReadUInt32() != Magic)
            {
                throw new FormatException("not a GGUF file (the first 4 bytes are not \"GGUF\")");
            }

            uint version = _reader.ReadUInt32();
            if (version is not (2 or 3))
            {
                throw new FormatException($"GGUF version {version} is not supported (versions 2 and 3 are)");
            }

            ulong tensorCount = _reader.ReadUInt64();
            ulong metadataCount = _reader.ReadUInt64();
            CheckCount(tensorCount, 8 + 4 + 8 + 4 + 8, "tensor count");
            CheckCount(metadataCount, 8 + 4, "metadata count");

            var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
            for (ulong i = 0; i < metadataCount; i++)
            {
                string key = ReadString();
                var type = (GgufValueType)_reader.ReadUInt32();
                if (!metadata.TryAdd(key, ReadValue(type, key)))
                {
                    throw new FormatException($"metadata key '{key}' appears twice");
                }
            }

            int alignment = 32;
            if (metadata.TryGetValue("general.alignment", out var a))
            {
                alignment = a is uint u && u > 0 && u <= 1 << 20 && (u & (u - 1)) == 0
                    ? (int)u
                    : throw new FormatException($"general.alignment {a} is not a power of two");
            }

            var infos = new List<(string Name, long[] Shape, GgmlType Type, ulong Offset)>();
            for (ulong i = 0; i < tensorCount; i++)
            {
                string name = ReadString();
                uint dims = _reader.ReadUInt32();
                if (dims is 0 or > MaxDimensions)
                {
                    throw new FormatException($"tensor '{name}' has {dims} dimensions (1..{MaxDimensions} allowed)");
                }

                var shape = new long[dims];
                for (int d = 0; d < dims; d++)
                {
                    ulong n = _reader.ReadUInt64();
                    shape[d] = n is > 0 and <= 1UL << 40 ? (long)n : throw new FormatException($"tensor '{name}' has dimension {d} of size {n}");
                }

                var type = (GgmlType)_reader.ReadUInt32();
                infos.Add((name, shape, type, _reader.ReadUInt64()));
            }

            long dataOffset = AlignUp(stream.Position, alignment);
            var tensors = new List<GgufTensorInfo>(infos.Count);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, shape, type, offset) in infos)
            {
                if (!names.Add(name))
                {
                    throw new FormatException($"tensor '{name}' appears twice");
                }

                if (!GgmlTypeInfo.TryGetBlock(type, out int blockElements, out int blockBytes))
                {
                    throw new FormatException($"tensor '{name}' has ggml type {(int)type}, which is not supported");
                }

                long elements = shape.Aggregate(1L, (x, y) => checked(x * y));
                if (shape[0] % blockElements != 0)
                {
                    throw new FormatException($"tensor '{name}': its row of {shape[0]} elements is not a whole number of {type} blocks ({blockElements})");
                }

                long bytes = elements / blockElements * blockBytes;
                if (offset % (ulong)alignment != 0 || offset > (ulong)_length || (long)offset + bytes > _length - dataOffset)
                {
                    throw new FormatException($"tensor '{name}' ({bytes} bytes at data offset {offset}) lies outside the file or is misaligned; the file may be truncated");
                }

                tensors.Add(new GgufTensorInfo(name, shape, type, dataOffset + (long)offset, bytes));
            }

            return new GgufFile(path, version, metadata, tensors, dataOffset, alignment);
        }

        private object ReadValue(GgufValueType type, string key) => type switch
        {
            GgufValueType.UInt8 => _reader.ReadByte(),
            GgufValueType.Int8 => _reader.ReadSByte(),
            GgufValueType.UInt16 => _reader.ReadUInt16(),
            GgufValueType.Int16 => _reader.ReadInt16(),
            GgufValueType.UInt32 => _reader.ReadUInt32(),
            GgufValueType.Int32 => _reader.ReadInt32(),
            GgufValueType.Float32 => _reader.ReadSingle(),
            GgufValueType.Bool => _reader.ReadByte() switch
            {
                0 => false,
                1 => true,
                var b => throw new FormatException($"metadata '{key}' has bool value {b}"),
            },
            GgufValueType.String => ReadString(),
            GgufValueType.UInt64 => _reader.ReadUInt64(),
            GgufValueType.Int64 => _reader.ReadInt64(),
            GgufValueType.Float64 => _reader.ReadDouble(),
            GgufValueType.Array => ReadArray(key),
            _ => throw new FormatException($"metadata '{key}' has unknown value type {(uint)type}"),
        };

        private Array ReadArray(string key)
        {
            var type = (GgufValueType)_reader.ReadUInt32();
            ulong count = _reader.ReadUInt64();
            int size = type switch
            {
                GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
                GgufValueType.UInt16 or GgufValueType.Int16 => 2,
                GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
                GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
                GgufValueType.Array => throw new FormatException($"metadata '{key}' is an array of arrays, which llama models never use"),
                _ => throw new FormatException($"metadata '{key}' is an array of unknown type {(uint)type}"),
            };
            CheckCount(count, size, $"length of metadata array '{key}'");
            int n = (int)count;
            switch (type)
            {
                case GgufValueType.String:
                    var strings = new string[n];
                    for (int i = 0; i < n; i++)
                    {
                        strings[i] = ReadString();
                    }

                    return strings;
                case GgufValueType.Float32:
                    return Fill(n, _reader.ReadSingle);
                case GgufValueType.Int32:
                    return Fill(n, _reader.ReadInt32);
                case GgufValueType.UInt32:
                    return Fill(n, _reader.ReadUInt32);
                default:
                    var values = new object[n];
                    for (int i = 0; i < n; i++)
                    {
                        values[i] = ReadValue(type, key);
                    }

                    return values;
            }
        }

        private static T[] Fill<T>(int n, Func<T> read)
        {
            var values = new T[n];
            for (int i = 0; i < n; i++)
            {
                values[i] = read();
            }

            return values;
        }

        private string ReadString()
        {
            ulong length = _reader.ReadUInt64();
            if (length > MaxStringBytes || (long)length > _length - stream.Position)
            {
                throw new FormatException($"a string of {length} bytes at offset {stream.Position - 8} runs past the end of the file");
            }

            return Encoding.UTF8.GetString(_reader.ReadBytes((int)length));
        }

        /// <summary>Refuses a count whose smallest possible encoding would not fit in the rest of the file.</summary>
        private void CheckCount(ulong count, int minBytesEach, string what)
        {
            if (count > int.MaxValue || count * (ulong)minBytesEach > (ulong)(_length - stream.Position))
            {
                throw new FormatException($"{what} {count} is larger than the file can hold; the file is truncated or corrupt");
            }
        }

        private static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;
    }
}
