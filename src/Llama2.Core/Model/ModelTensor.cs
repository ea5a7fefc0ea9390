using Llama2.Core.Gguf;

namespace Llama2.Core.Model;

/// <summary>
/// One weight tensor under its Meta name, in PyTorch's row-major order: <see cref="Shape"/> is
/// <c>[rows, cols]</c> for matrices and <c>[n]</c> for vectors; each row is <c>cols</c> elements of
/// <see cref="Type"/> (ggml blocks for quantized types). The bytes usually live in a memory-mapped file.
/// </summary>
public sealed class ModelTensor
{
    public ModelTensor(string name, int[] shape, GgmlType type, ReadOnlyMemory<byte> data)
    {
        Name = name;
        Shape = shape;
        Type = type;
        Data = data;
        if (!GgmlTypeInfo.TryGetBlock(type, out int blockElements, out int blockBytes))
        {
            throw new ArgumentException($"tensor '{name}' has unsupported type {type}");
        }

        if (Cols % blockElements != 0)
        {
            throw new ArgumentException($"tensor '{name}': a row of {Cols} elements is not a whole number of {type} blocks");
        }

        RowBytes = Cols / blockElements * blockBytes;
        if ((long)RowBytes * Rows != data.Length)
        {
            throw new ArgumentException($"tensor '{name}' has {data.Length} bytes, but shape [{string.Join(", ", shape)}] of {type} needs {(long)RowBytes * Rows}");
        }
    }

    public string Name { get; }

    public int[] Shape { get; }

    public GgmlType Type { get; }

    public ReadOnlyMemory<byte> Data { get; }

    public int Rows => Shape.Length == 1 ? 1 : Shape[0];

    public int Cols => Shape[^1];

    /// <summary>Bytes of one row.</summary>
    public int RowBytes { get; }

    public ReadOnlySpan<byte> Row(int row) => Data.Span.Slice(row * RowBytes, RowBytes);

    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}] {Type}";
}
