using System.Runtime.InteropServices;
using System.Text;

namespace Sandboxing.Interop;

/// <summary>
/// A NULL-terminated array of NUL-terminated UTF-8 strings (argv, envp) in one native block, so
/// it stays put while posix_spawn reads it and is freed with a single call.
/// </summary>
internal sealed unsafe class Utf8StringArray : IDisposable
{
    private byte* _block;

    public Utf8StringArray(IReadOnlyList<string> items)
    {
        nuint pointersSize = (nuint)(items.Count + 1) * (nuint)sizeof(byte*);
        nuint total = pointersSize;
        foreach (string item in items)
        {
            // An embedded NUL would silently cut the argument short in the child.
            if (item.Contains('\0'))
                throw new ArgumentException($"The string \"{item.Replace("\0", "\\0")}\" contains a NUL character, which cannot be passed to a process.", nameof(items));
            total += (nuint)Encoding.UTF8.GetByteCount(item) + 1;
        }

        _block = (byte*)NativeMemory.Alloc(total);
        byte** pointers = (byte**)_block;
        byte* next = _block + pointersSize;
        for (int i = 0; i < items.Count; i++)
        {
            pointers[i] = next;
            int length = Encoding.UTF8.GetBytes(items[i], new Span<byte>(next, (int)(total - (nuint)(next - _block))));
            next[length] = 0;
            next += length + 1;
        }
        pointers[items.Count] = null;
    }

    public byte** Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_block is null, this);
            return (byte**)_block;
        }
    }

    public void Dispose()
    {
        NativeMemory.Free(_block);
        _block = null;
    }
}
