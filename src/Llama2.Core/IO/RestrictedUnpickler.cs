using System.Buffers.Binary;
using System.Text;

namespace Llama2.Core.IO;

/// <summary>
/// Reads the pickle of a PyTorch state dict without running anything: only the opcodes a state dict uses,
/// and only these globals: <c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c>,
/// <c>torch._utils._rebuild_parameter</c> and the float storage types. Anything else (for example
/// <c>os.system</c> or <c>builtins.eval</c>) is refused with <see cref="FormatException"/> — a model file
/// must never execute code.
/// </summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>A storage named by a persistent id: its element type and its zip entry key.</summary>
    public sealed record StorageRef(string Type, string Key, long Elements);

    /// <summary>What <c>_rebuild_tensor_v2</c> describes: a view of a storage.</summary>
    public sealed record TensorRef(StorageRef Storage, long Offset, int[] Shape, long[] Stride);

    private sealed record Global(string Module, string Name);

    private sealed class Mark
    {
        public static readonly Mark Instance = new();
    }

    private static readonly HashSet<string> s_allowedGlobals =
    [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage",
    ];

    private const int MaxStack = 1 << 16, MaxMemo = 1 << 20, MaxItems = 1 << 22;

    private readonly byte[] _data;
    private int _pos;
    private readonly List<object?> _stack = [];
    private readonly Dictionary<long, object?> _memo = [];

    private RestrictedUnpickler(byte[] data) => _data = data;

    /// <summary>Parses a state-dict pickle into name → tensor reference.</summary>
    /// <exception cref="FormatException">The pickle is malformed or asks for anything outside the allowed set.</exception>
    public static Dictionary<string, TensorRef> LoadStateDict(byte[] pickle)
    {
        var result = new RestrictedUnpickler(pickle).Run();
        if (result is not Dictionary<object, object?> dict)
        {
            throw new FormatException("the checkpoint's pickle is not a state dict (a dictionary)");
        }

        var tensors = new Dictionary<string, TensorRef>(StringComparer.Ordinal);
        foreach (var (key, value) in dict)
        {
            if (key is string name && value is TensorRef tensor)
            {
                tensors[name] = tensor;
            }
        }

        return tensors;
    }

    private object? Run()
    {
        while (true)
        {
            byte op = Byte();
            switch (op)
            {
                case 0x80: Byte(); break;                                        // PROTO
                case 0x95: Bytes(8); break;                                      // FRAME
                case (byte)'}': Push(new Dictionary<object, object?>()); break;  // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;                // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break;             // EMPTY_TUPLE
                case (byte)'(': Push(Mark.Instance); break;                      // MARK
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Bytes(4))); break;
                case (byte)'K': Push((long)Byte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2))); break;
                case 0x8a: Push(Long1()); break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8))); break;
                case (byte)'X': Push(Utf8(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)))); break;
                case 0x8c: Push(Utf8(Byte())); break;
                case 0x8d: Push(Utf8(BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8)))); break;
                case (byte)'q': Memo(Byte()); break;
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))); break;
                case 0x94: Memo(_memo.Count); break;                             // MEMOIZE
                case (byte)'h': Push(Recall(Byte())); break;
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)))); break;
                case (byte)'t': Push(PopToMark().ToArray()); break;              // TUPLE
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'c': Push(MakeGlobal(Line(), Line())); break;         // GLOBAL
                case 0x93: { var name = Pop() as string; var module = Pop() as string; Push(MakeGlobal(module, name)); break; }
                case (byte)'Q': Push(PersistentLoad(Pop())); break;              // BINPERSID
                case (byte)'R': { var args = Pop(); var callable = Pop(); Push(Call(callable, args)); break; } // REDUCE
                case (byte)'b': Pop(); break;                                    // BUILD: state of an OrderedDict (_metadata); ignored
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItem(Peek(), k, v); break; }
                case (byte)'u': { var items = PopToMark(); var target = Peek(); for (int i = 0; i + 1 < items.Count; i += 2) { SetItem(target, items[i], items[i + 1]); } break; }
                case (byte)'a': { var v = Pop(); Append(Peek(), v); break; }
                case (byte)'e': { var items = PopToMark(); var target = Peek(); items.ForEach(i => Append(target, i)); break; }
                case (byte)'.': return Pop();                                    // STOP
                default:
                    throw new FormatException($"pickle opcode 0x{op:X2} at byte {_pos - 1} is not allowed in a state dict");
            }
        }
    }

    private static Global MakeGlobal(string? module, string? name)
    {
        var full = $"{module}.{name}";
        return s_allowedGlobals.Contains(full)
            ? new Global(module!, name!)
            : throw new FormatException($"the pickle asks for '{full}', which a state dict never needs; refusing to load it (a model file must not run code)");
    }

    private static StorageRef PersistentLoad(object? pid)
    {
        if (pid is object?[] { Length: 5 } t && t[0] is "storage" && t[1] is Global type && t[2] is string key && t[4] is long elements && elements >= 0)
        {
            return new StorageRef(type.Name, key, elements);
        }

        throw new FormatException("a persistent id in the pickle is not a PyTorch storage reference");
    }

    private static object? Call(object? callable, object? args)
    {
        if (callable is not Global g || args is not object?[] a)
        {
            throw new FormatException("the pickle calls something that is not an allowed function");
        }

        switch (g.Name)
        {
            case "OrderedDict" when a.Length == 0:
                return new Dictionary<object, object?>();
            case "_rebuild_tensor_v2" when a.Length >= 4 && a[0] is StorageRef storage && a[1] is long offset && a[2] is object?[] size && a[3] is object?[] stride:
                int[] shape = [.. size.Select(s => s is long v and >= 0 and <= int.MaxValue ? (int)v : throw new FormatException("a tensor size is not a valid integer"))];
                long[] strides = [.. stride.Select(s => s is long v ? v : throw new FormatException("a tensor stride is not an integer"))];
                return new TensorRef(storage, offset, shape, strides);
            case "_rebuild_parameter" when a.Length >= 1:
                return a[0];
            default:
                throw new FormatException($"the pickle calls {g.Module}.{g.Name} with arguments a state dict never uses");
        }
    }

    private static void SetItem(object? target, object? key, object? value)
    {
        if (target is not Dictionary<object, object?> dict || key is null)
        {
            throw new FormatException("the pickle sets an item on something that is not a dictionary");
        }

        if (dict.Count >= MaxItems)
        {
            throw new FormatException("the pickle's dictionary is too large");
        }

        dict[key] = value;
    }

    private static void Append(object? target, object? value)
    {
        if (target is not List<object?> list || list.Count >= MaxItems)
        {
            throw new FormatException("the pickle appends to something that is not a list");
        }

        list.Add(value);
    }

    private void Push(object? value)
    {
        if (_stack.Count >= MaxStack)
        {
            throw new FormatException("the pickle's stack grows without bound");
        }

        _stack.Add(value);
    }

    private object? Pop()
    {
        if (_stack.Count == 0 || _stack[^1] is Mark)
        {
            throw new FormatException($"pickle stack underflow at byte {_pos - 1}");
        }

        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw new FormatException("pickle stack underflow");

    private List<object?> PopToMark()
    {
        int mark = _stack.FindLastIndex(x => x is Mark);
        if (mark < 0)
        {
            throw new FormatException("pickle MARK is missing");
        }

        var items = _stack.GetRange(mark + 1, _stack.Count - mark - 1);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private void Memo(long index)
    {
        if (_memo.Count >= MaxMemo)
        {
            throw new FormatException("the pickle's memo grows without bound");
        }

        _memo[index] = Peek();
    }

    private object? Recall(long index) =>
        _memo.TryGetValue(index, out var value) ? value : throw new FormatException($"pickle memo entry {index} does not exist");

    private byte Byte() => Bytes(1)[0];

    private ReadOnlySpan<byte> Bytes(long count)
    {
        if (count < 0 || count > _data.Length - _pos)
        {
            throw new FormatException("the pickle is truncated");
        }

        var span = _data.AsSpan(_pos, (int)count);
        _pos += (int)count;
        return span;
    }

    private string Utf8(ulong length) => length > (ulong)(_data.Length - _pos)
        ? throw new FormatException("a pickle string runs past the end")
        : Encoding.UTF8.GetString(Bytes((long)length));

    private long Long1()
    {
        int n = Byte();
        if (n > 8)
        {
            throw new FormatException("a pickle integer is wider than 64 bits");
        }

        var bytes = Bytes(n);
        long value = 0;
        for (int i = n - 1; i >= 0; i--)
        {
            value = (value << 8) | bytes[i];
        }

        if (n is > 0 and < 8 && (bytes[n - 1] & 0x80) != 0)
        {
            value -= 1L << (8 * n); // sign-extend
        }

        return value;
    }

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0 || end - _pos > 256)
        {
            throw new FormatException("a pickle GLOBAL name is not terminated");
        }

        var text = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return text;
    }
}
