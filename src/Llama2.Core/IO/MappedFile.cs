using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace Llama2.Core.IO;

/// <summary>
/// A read-only memory-mapped file whose slices are handed out as <see cref="ReadOnlyMemory{T}"/>, so
/// model weights are used in place: no copy, no private pages. The only unsafe code outside the kernels:
/// turning the mapping's address into spans. Dispose it only when no slice is in use.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pointer;

    public MappedFile(string path)
    {
        Path = path;
        Length = new FileInfo(path).Length;
        if (Length == 0)
        {
            throw InvalidModelFileException.For(path, "file is empty");
        }

        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + _view.PointerOffset;
    }

    public string Path { get; }

    public long Length { get; }

    /// <summary>The bytes at <paramref name="offset"/>; throws when the range is not inside the file.</summary>
    public ReadOnlyMemory<byte> Slice(long offset, long length)
    {
        if (offset < 0 || length < 0 || length > int.MaxValue || offset > Length - length)
        {
            throw InvalidModelFileException.For(Path, $"{length} bytes at offset {offset} lie outside the file ({Length} bytes); it may be truncated");
        }

        return new Manager(_pointer + offset, (int)length).Memory;
    }

    public ReadOnlySpan<byte> Span(long offset, int length) => Slice(offset, length).Span;

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    private sealed class Manager(byte* pointer, int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => new(pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
