using System.Buffers.Binary;
using System.Text;

namespace Llama2.Core.IO;

/// <summary>
/// The central directory of a zip file (with zip64), enough to find the data of stored (uncompressed)
/// entries in a memory-mapped PyTorch checkpoint without copying. Every offset is checked against the file.
/// </summary>
internal static class ZipDirectory
{
    public readonly record struct Entry(string Name, long DataOffset, long Size);

    private const uint EndOfCentralDirectory = 0x06054b50, Zip64Locator = 0x07064b50, Zip64End = 0x06064b50;
    private const uint CentralHeader = 0x02014b50, LocalHeader = 0x04034b50;
    private const int MaxEntries = 1 << 20;

    public static Dictionary<string, Entry> Read(MappedFile file)
    {
        long length = file.Length;
        int tail = (int)Math.Min(length, 22 + 65535);
        var end = file.Span(length - tail, tail);
        int eocd = -1;
        for (int i = end.Length - 22; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(end[i..]) == EndOfCentralDirectory)
            {
                eocd = i;
                break;
            }
        }

        if (eocd < 0)
        {
            throw new FormatException("not a zip file (no end-of-central-directory record); a .pth must be a PyTorch zip checkpoint");
        }

        long entries = BinaryPrimitives.ReadUInt16LittleEndian(end[(eocd + 10)..]);
        long directorySize = BinaryPrimitives.ReadUInt32LittleEndian(end[(eocd + 12)..]);
        long directoryOffset = BinaryPrimitives.ReadUInt32LittleEndian(end[(eocd + 16)..]);
        if (entries == 0xFFFF || directorySize == 0xFFFFFFFF || directoryOffset == 0xFFFFFFFF)
        {
            long locator = length - tail + eocd - 20;
            if (locator < 0 || BinaryPrimitives.ReadUInt32LittleEndian(file.Span(locator, 20)) != Zip64Locator)
            {
                throw new FormatException("zip64 locator is missing");
            }

            long record = (long)BinaryPrimitives.ReadUInt64LittleEndian(file.Span(locator + 8, 8));
            var z = file.Span(record, 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(z) != Zip64End)
            {
                throw new FormatException("zip64 end-of-central-directory record is missing");
            }

            entries = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[32..]);
            directorySize = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[40..]);
            directoryOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[48..]);
        }

        if (entries > MaxEntries || directoryOffset < 0 || directorySize < 0 || directoryOffset > length - directorySize || directorySize > int.MaxValue)
        {
            throw new FormatException($"zip central directory ({entries} entries, {directorySize} bytes at {directoryOffset}) does not fit in the file");
        }

        var directory = file.Span(directoryOffset, (int)directorySize);
        var result = new Dictionary<string, Entry>(StringComparer.Ordinal);
        int p = 0;
        for (long n = 0; n < entries; n++)
        {
            if (p + 46 > directory.Length || BinaryPrimitives.ReadUInt32LittleEndian(directory[p..]) != CentralHeader)
            {
                throw new FormatException("zip central directory is truncated or corrupt");
            }

            int method = BinaryPrimitives.ReadUInt16LittleEndian(directory[(p + 10)..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(directory[(p + 20)..]);
            long uncompressed = BinaryPrimitives.ReadUInt32LittleEndian(directory[(p + 24)..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(directory[(p + 28)..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(directory[(p + 30)..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(directory[(p + 32)..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(directory[(p + 42)..]);
            if (p + 46 + nameLength + extraLength + commentLength > directory.Length)
            {
                throw new FormatException("zip central directory entry runs past its end");
            }

            string name = Encoding.UTF8.GetString(directory.Slice(p + 46, nameLength));
            var extra = directory.Slice(p + 46 + nameLength, extraLength);
            ReadZip64Extra(extra, ref uncompressed, ref compressed, ref localOffset);
            p += 46 + nameLength + extraLength + commentLength;

            if (method != 0)
            {
                throw new FormatException($"zip entry '{name}' is compressed (method {method}); PyTorch checkpoints store entries uncompressed");
            }

            if (localOffset < 0 || localOffset > length - 30)
            {
                throw new FormatException($"zip entry '{name}' has a local header outside the file");
            }

            var local = file.Span(localOffset, 30);
            if (BinaryPrimitives.ReadUInt32LittleEndian(local) != LocalHeader)
            {
                throw new FormatException($"zip entry '{name}' has no local header at offset {localOffset}");
            }

            long dataOffset = localOffset + 30 + BinaryPrimitives.ReadUInt16LittleEndian(local[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(local[28..]);
            if (uncompressed < 0 || dataOffset > length - uncompressed)
            {
                throw new FormatException($"zip entry '{name}' ({uncompressed} bytes at {dataOffset}) runs past the end of the file; it may be truncated");
            }

            result[name] = new Entry(name, dataOffset, uncompressed);
        }

        return result;
    }

    private static void ReadZip64Extra(ReadOnlySpan<byte> extra, ref long uncompressed, ref long compressed, ref long localOffset)
    {
        int q = 0;
        while (q + 4 <= extra.Length)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra[q..]);
            int size = BinaryPrimitives.ReadUInt16LittleEndian(extra[(q + 2)..]);
            if (q + 4 + size > extra.Length)
            {
                return;
            }

            if (id == 1)
            {
                var field = extra.Slice(q + 4, size);
                int f = 0;
                if (uncompressed == 0xFFFFFFFF && f + 8 <= field.Length)
                {
                    uncompressed = (long)BinaryPrimitives.ReadUInt64LittleEndian(field[f..]);
                    f += 8;
                }

                if (compressed == 0xFFFFFFFF && f + 8 <= field.Length)
                {
                    compressed = (long)BinaryPrimitives.ReadUInt64LittleEndian(field[f..]);
                    f += 8;
                }

                if (localOffset == 0xFFFFFFFF && f + 8 <= field.Length)
                {
                    localOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(field[f..]);
                }
            }

            q += 4 + size;
        }
    }
}
