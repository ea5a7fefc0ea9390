using System.Reflection;
using System.Reflection.Emit;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama2.Training.Tests;

/// <summary>
/// TorchSharp 0.107 hands libtorch Scalars that only the finalizer frees (see <see cref="Scalars"/>);
/// build/BannedSymbols.txt makes the calls that do so compile errors. These tests keep that list equal to what the
/// referenced TorchSharp actually does, and check the helpers.
/// </summary>
public sealed class TorchSharpScalarTests
{
    private static readonly string s_bannedFile = Path.Combine(Fixtures.RepositoryRoot, "build", "BannedSymbols.txt");

    [Fact]
    public void The_banned_list_is_exactly_the_TorchSharp_calls_that_leave_a_Scalar_to_the_finalizer()
    {
        var banned = File.ReadLines(s_bannedFile)
            .Where(line => line.Length > 0 && !line.StartsWith("//", StringComparison.Ordinal))
            .Select(line => line.Split(';')[0])
            .ToHashSet(StringComparer.Ordinal);
        var found = FinalizerScalarCalls();
        if (Environment.GetEnvironmentVariable("LLAMA2_UPDATE_BANNED_SYMBOLS") == "1")
        {
            // After a TorchSharp upgrade: rewrite the list (header comments kept), then review the compile errors.
            string reason = File.ReadLines(s_bannedFile).First(line => !line.StartsWith("//", StringComparison.Ordinal)).Split(';', 2)[1];
            File.WriteAllLines(s_bannedFile, [.. File.ReadLines(s_bannedFile).TakeWhile(line => line.StartsWith("//", StringComparison.Ordinal)),
                .. found.Order(StringComparer.Ordinal).Select(id => id + ";" + reason)]);
            banned = found;
        }


        string[] missing = [.. found.Except(banned).Order(StringComparer.Ordinal)];
        string[] stale = [.. banned.Except(found).Order(StringComparer.Ordinal)];
        Assert.True(missing.Length == 0 && stale.Length == 0,
            $"build/BannedSymbols.txt is out of date with TorchSharp {typeof(Scalar).Assembly.GetName().Version}: "
            + $"{missing.Length} missing (first: {string.Join(", ", missing.Take(5))}), {stale.Length} stale (first: {string.Join(", ", stale.Take(5))})");
        Assert.Contains("M:TorchSharp.torch.Tensor.op_Addition(TorchSharp.torch.Tensor,TorchSharp.torch.Tensor)", found);
        Assert.Contains("M:TorchSharp.Scalar.op_Implicit(System.Double)~TorchSharp.Scalar", found);
    }

    [Fact]
    public void The_helpers_compute_what_the_TorchSharp_operators_compute()
    {
        var a = randn(3, 5, generator: new Generator(1));
        var b = randn(3, 5, generator: new Generator(2));
#pragma warning disable RS0030 // the banned operators, once, as the reference
        Assert.True(Same(a.Plus(b), a + b));
        Assert.True(Same(a.Plus(1e-5), a + 1e-5f));
        Assert.True(Same(a.Times(0.5), a * 0.5));
        Assert.True(Same(a.Over(3), a / 3));
        Assert.True(Same(a.Pow(2), a.pow(2)));
        Assert.True(Same(a.Clamp(-0.2, 0.3), a.clamp(-0.2, 0.3)));
        Assert.True(Same(Scalars.Arange(0, 8, 2, float32), arange(0, 8, 2, float32)));
        Assert.True(Same(Scalars.Arange(0, 5), arange(5)));
        var ids = tensor(new long[] { -100, 3, -100 });
        Assert.True(Same(ids.NotEqual(-100), ids.ne(-100)));
#pragma warning restore RS0030
        Assert.Equal(2f, zeros(4).Fill(2).sum().item<float>() / 4);

        static bool Same(Tensor x, Tensor y) => x.dtype == y.dtype && x.shape.SequenceEqual(y.shape) && x.eq(y).all().item<bool>();
    }

    /// <summary>
    /// Documentation IDs of TorchSharp's public methods that create a Scalar (implicit conversion or ToScalar) without
    /// disposing one, or call such a method, found by reading their IL.
    /// </summary>
    private static HashSet<string> FinalizerScalarCalls()
    {
        var scalar = typeof(Scalar);
        var opcodes = typeof(OpCodes).GetFields().Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);
        var calls = new Dictionary<MethodBase, List<MethodBase>>();
        var hazards = new HashSet<MethodBase>();
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in scalar.Assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                var il = method.GetMethodBody()?.GetILAsByteArray();
                if (il is null)
                {
                    continue;
                }

                bool creates = false, disposes = false;
                var callees = calls[method] = [];
                for (int i = 0; i < il.Length;)
                {
                    var op = il[i] == 0xFE ? opcodes[(short)(0xFE00 | il[i + 1])] : opcodes[il[i]];
                    if (op.OperandType == OperandType.InlineMethod)
                    {
                        var callee = Resolve(method, BitConverter.ToInt32(il, i + op.Size));
                        if (callee is MethodInfo m && m.ReturnType == scalar && (m.Name == "op_Implicit" || m.Name.StartsWith("To", StringComparison.Ordinal)))
                        {
                            creates = true;
                        }

                        disposes |= callee?.DeclaringType == scalar && callee.Name == "Dispose";
                        if (callee is not null)
                        {
                            callees.Add(callee is MethodInfo { IsGenericMethod: true } g ? g.GetGenericMethodDefinition() : callee);
                        }
                    }

                    i += op.Size + OperandSize(op, il, i);
                }

                if (creates && !disposes)
                {
                    hazards.Add(method);
                }
            }
        }

        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var (method, callees) in calls)
            {
                if (!hazards.Contains(method) && callees.Any(hazards.Contains))
                {
                    grew = hazards.Add(method);
                }
            }
        }

        return [.. hazards.Where(m => m.IsPublic && (m.DeclaringType!.IsPublic || m.DeclaringType.IsNestedPublic)).Select(DocumentationId)];
    }

    private static MethodBase? Resolve(MethodBase caller, int token)
    {
        try
        {
            return caller.Module.ResolveMethod(token, caller.DeclaringType?.GetGenericArguments(), caller.IsGenericMethod ? caller.GetGenericArguments() : null);
        }
        catch (ArgumentException)
        {
            return null; // a token in a generic context the resolver cannot place
        }
    }

    private static int OperandSize(OpCode op, byte[] il, int at) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, at + op.Size)),
        _ => 4,
    };

    private static string DocumentationId(MethodBase m)
    {
        string name = m.IsConstructor ? "#ctor" : m.Name;
        if (m is MethodInfo { IsGenericMethod: true } generic)
        {
            name += "``" + generic.GetGenericArguments().Length;
        }

        var parameters = m.GetParameters();
        string id = "M:" + TypeId(m.DeclaringType!) + "." + name
            + (parameters.Length > 0 ? "(" + string.Join(",", parameters.Select(p => TypeId(p.ParameterType))) + ")" : "");
        return m.Name is "op_Implicit" or "op_Explicit" ? id + "~" + TypeId(((MethodInfo)m).ReturnType) : id;
    }

    private static string TypeId(Type t)
    {
        if (t.IsByRef)
        {
            return TypeId(t.GetElementType()!) + "@";
        }

        if (t.IsArray)
        {
            return TypeId(t.GetElementType()!) + "[]";
        }

        if (t.IsGenericParameter)
        {
            return (t.DeclaringMethod is not null ? "``" : "`") + t.GenericParameterPosition;
        }

        if (t.IsGenericType)
        {
            string definition = t.GetGenericTypeDefinition().FullName!.Replace('+', '.');
            return definition[..definition.IndexOf('`', StringComparison.Ordinal)] + "{" + string.Join(",", t.GetGenericArguments().Select(TypeId)) + "}";
        }

        return t.FullName!.Replace('+', '.');
    }
}
