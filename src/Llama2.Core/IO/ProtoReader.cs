namespace Llama2.Core.IO;

/// <summary>Protocol Buffers wire types (proto2/proto3 share them).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// A minimal, bounds-checked reader of the protobuf wire format: enough to read SentencePiece's
/// <c>ModelProto</c> without a protobuf dependency. Every read is checked against the buffer, so a
/// truncated or hostile file fails with <see cref="FormatException"/> instead of reading past the end.
/// </summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public readonly bool End => _position >= _data.Length;

    /// <summary>Reads the next field tag; returns false at the end of the message.</summary>
    public bool TryReadTag(out int fieldNumber, out WireType wireType)
    {
        fieldNumber = 0;
        wireType = 0;
        if (End)
        {
            return false;
        }

        ulong tag = ReadVarint();
        fieldNumber = (int)(tag >> 3);
        wireType = (WireType)(tag & 7);
        if (fieldNumber <= 0 || tag >> 3 > int.MaxValue)
        {
            throw new FormatException($"invalid protobuf field number {tag >> 3} at byte {_position}");
        }

        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw new FormatException("truncated protobuf varint");
            }

            byte b = _data[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new FormatException($"protobuf varint longer than 10 bytes at byte {_position}");
    }

    public int ReadInt32() => unchecked((int)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public float ReadFloat()
    {
        var bytes = Take(4);
        return BitConverter.ToSingle(bytes);
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new FormatException($"protobuf field of {length} bytes runs past the end of the data");
        }

        return Take((int)length);
    }

    public string ReadString() => System.Text.Encoding.UTF8.GetString(ReadBytes());

    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                Take(8);
                break;
            case WireType.LengthDelimited:
                ReadBytes();
                break;
            case WireType.Fixed32:
                Take(4);
                break;
            default:
                throw new FormatException($"unsupported protobuf wire type {(int)wireType}");
        }
    }

    /// <summary>Checks the wire type of a known field, so a garbage file is reported, not misread.</summary>
    public static void Expect(int fieldNumber, WireType actual, WireType expected)
    {
        if (actual != expected)
        {
            throw new FormatException($"protobuf field {fieldNumber} has wire type {(int)actual}, expected {(int)expected}");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position)
        {
            throw new FormatException("truncated protobuf data");
        }

        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }
}
