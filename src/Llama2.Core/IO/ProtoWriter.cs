using System.Text;

namespace Llama2.Core.IO;

/// <summary>A minimal protobuf wire-format writer (the counterpart of <see cref="ProtoReader"/>).</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _stream = new();

    public byte[] ToArray() => _stream.ToArray();

    public void WriteVarint(int fieldNumber, long value)
    {
        WriteTag(fieldNumber, WireType.Varint);
        WriteRawVarint(unchecked((ulong)value));
    }

    public void WriteBool(int fieldNumber, bool value) => WriteVarint(fieldNumber, value ? 1 : 0);

    public void WriteFloat(int fieldNumber, float value)
    {
        WriteTag(fieldNumber, WireType.Fixed32);
        Span<byte> bytes = stackalloc byte[4];
        BitConverter.TryWriteBytes(bytes, value);
        _stream.Write(bytes);
    }

    public void WriteString(int fieldNumber, string value) => WriteBytes(fieldNumber, Encoding.UTF8.GetBytes(value));

    public void WriteBytes(int fieldNumber, ReadOnlySpan<byte> value)
    {
        WriteTag(fieldNumber, WireType.LengthDelimited);
        WriteRawVarint((ulong)value.Length);
        _stream.Write(value);
    }

    public void WriteMessage(int fieldNumber, ProtoWriter message) => WriteBytes(fieldNumber, message.ToArray());

    private void WriteTag(int fieldNumber, WireType wireType) => WriteRawVarint(((ulong)fieldNumber << 3) | (ulong)wireType);

    private void WriteRawVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        _stream.WriteByte((byte)value);
    }
}
