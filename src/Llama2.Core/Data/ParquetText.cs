using Llama2.Core.IO;
using Parquet;
using Parquet.Schema;

namespace Llama2.Core.Data;

/// <summary>Reads a string column of a parquet file (Hugging Face dataset shards).</summary>
internal static class ParquetText
{
    public static IEnumerable<string> ReadColumn(string path, string column)
    {
        List<string> values;
        try
        {
            values = ReadAsync(path, column).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw InvalidModelFileException.For(path, $"not a readable parquet file: {e.Message}");
        }

        return values;
    }

    private static async Task<List<string>> ReadAsync(string path, string column)
    {
        await using var reader = await ParquetReader.CreateAsync(path).ConfigureAwait(false);
        var field = reader.Schema.GetDataFields().FirstOrDefault(f => f.Name == column)
            ?? reader.Schema.GetDataFields().FirstOrDefault(f => f.ClrType == typeof(string))
            ?? throw InvalidModelFileException.For(path, $"has no '{column}' column (or any string column)");
        var values = new List<string>();
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            if (group.RowCount > int.MaxValue)
            {
                throw InvalidModelFileException.For(path, $"row group {g} has {group.RowCount} rows");
            }

            var rows = new string?[group.RowCount];
            await group.ReadAsync(field, rows.AsMemory(), null).ConfigureAwait(false);
            values.AddRange(rows.OfType<string>());
        }

        return values;
    }
}
