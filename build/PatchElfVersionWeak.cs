using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Marks one symbol-version requirement of an ELF64 little-endian shared library weak, so the dynamic
/// loader accepts a system library that lacks that version. Does nothing when the system libstdc++
/// already provides it, or when the requirement is absent or already weak.
/// </summary>
public sealed class PatchElfVersionWeak : Task
{
    [Required]
    public string Library { get; set; } = "";

    [Required]
    public string Version { get; set; } = "";

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    public override bool Execute()
    {
        if (SystemProvides(Version))
        {
            Log.LogMessage(MessageImportance.Low, $"system libstdc++ provides {Version}; {Library} left as is");
            return true;
        }

        var bytes = File.ReadAllBytes(Library);
        if (bytes.Length < 64 || bytes[0] != 0x7F || bytes[1] != (byte)'E' || bytes[4] != 2 || bytes[5] != 1)
        {
            Log.LogWarning($"{Library} is not a 64-bit little-endian ELF file; not patched");
            return true;
        }

        long sectionHeaders = BitConverter.ToInt64(bytes, 0x28);
        int entrySize = BitConverter.ToUInt16(bytes, 0x3A);
        int count = BitConverter.ToUInt16(bytes, 0x3C);
        for (int s = 0; s < count; s++)
        {
            long header = sectionHeaders + (long)s * entrySize;
            if (BitConverter.ToUInt32(bytes, (int)header + 4) != ShtGnuVerneed)
            {
                continue;
            }

            long offset = BitConverter.ToInt64(bytes, (int)header + 0x18);
            int link = (int)BitConverter.ToUInt32(bytes, (int)header + 0x28);
            long strings = BitConverter.ToInt64(bytes, (int)(sectionHeaders + (long)link * entrySize) + 0x18);
            long need = offset;
            while (true)
            {
                int auxCount = BitConverter.ToUInt16(bytes, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(bytes, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    long name = strings + BitConverter.ToUInt32(bytes, (int)aux + 8);
                    if (ReadString(bytes, name) == Version)
                    {
                        ushort flags = BitConverter.ToUInt16(bytes, (int)aux + 4);
                        if ((flags & VerFlagWeak) != 0)
                        {
                            return true;
                        }

                        BitConverter.GetBytes((ushort)(flags | VerFlagWeak)).CopyTo(bytes, aux + 4);
                        var temporary = Library + ".patching";
                        File.WriteAllBytes(temporary, bytes);
                        File.Copy(temporary, Library, true);
                        File.Delete(temporary);
                        Log.LogMessage(MessageImportance.High, $"marked {Version} weak in {Library} (the system libstdc++ lacks it)");
                        return true;
                    }

                    uint nextAux = BitConverter.ToUInt32(bytes, (int)aux + 12);
                    if (nextAux == 0)
                    {
                        break;
                    }

                    aux += nextAux;
                }

                uint next = BitConverter.ToUInt32(bytes, (int)need + 12);
                if (next == 0)
                {
                    break;
                }

                need += next;
            }
        }

        return true;
    }

    private static string ReadString(byte[] bytes, long at)
    {
        int end = Array.IndexOf(bytes, (byte)0, (int)at);
        return Encoding.ASCII.GetString(bytes, (int)at, end - (int)at);
    }

    private static bool SystemProvides(string version)
    {
        foreach (var path in new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" })
        {
            if (File.Exists(path))
            {
                var text = Encoding.ASCII.GetString(File.ReadAllBytes(path));
                return text.Contains(version + "\0");
            }
        }

        return false;
    }
}
