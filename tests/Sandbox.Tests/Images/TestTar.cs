using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Sandboxing.Tests.Images;

/// <summary>Builds tar archives in memory with TarWriter (PAX format, fixed times and owners), for layers and hostile archives alike.</summary>
internal static class TestTar
{
    /// <summary>The modification time of every entry, so digests are the same on every run.</summary>
    public static readonly DateTimeOffset Time = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static byte[] Build(Action<TarWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
            write(writer);
        return buffer.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
            gzip.Write(data);
        return buffer.ToArray();
    }

    public static void Dir(this TarWriter writer, string name, int mode = 0x1ED /* 0755 */, int uid = 0, int gid = 0, DateTimeOffset? time = null) =>
        writer.WriteEntry(Entry(TarEntryType.Directory, name.EndsWith('/') ? name : name + "/", mode, uid, gid, time));

    public static void File(this TarWriter writer, string name, string content, int mode = 0x1A4 /* 0644 */, int uid = 0, int gid = 0,
        DateTimeOffset? time = null, IEnumerable<KeyValuePair<string, string>>? pax = null) =>
        writer.File(name, Encoding.UTF8.GetBytes(content), mode, uid, gid, time, pax);

    public static void File(this TarWriter writer, string name, byte[] content, int mode = 0x1A4, int uid = 0, int gid = 0,
        DateTimeOffset? time = null, IEnumerable<KeyValuePair<string, string>>? pax = null)
    {
        var entry = Entry(TarEntryType.RegularFile, name, mode, uid, gid, time, pax);
        entry.DataStream = new MemoryStream(content);
        writer.WriteEntry(entry);
    }

    public static void Symlink(this TarWriter writer, string name, string target, DateTimeOffset? time = null)
    {
        var entry = Entry(TarEntryType.SymbolicLink, name, 0x1FF, 0, 0, time);
        entry.LinkName = target;
        writer.WriteEntry(entry);
    }

    public static void HardLink(this TarWriter writer, string name, string target)
    {
        var entry = Entry(TarEntryType.HardLink, name, 0x1A4, 0, 0, null);
        entry.LinkName = target;
        writer.WriteEntry(entry);
    }

    public static void Device(this TarWriter writer, string name, TarEntryType type, int major, int minor, int mode = 0x1B6 /* 0666 */)
    {
        var entry = Entry(type, name, mode, 0, 0, null);
        entry.DeviceMajor = major;
        entry.DeviceMinor = minor;
        writer.WriteEntry(entry);
    }

    public static void Fifo(this TarWriter writer, string name, int mode = 0x1A4) =>
        writer.WriteEntry(Entry(TarEntryType.Fifo, name, mode, 0, 0, null));

    private static PaxTarEntry Entry(TarEntryType type, string name, int mode, int uid, int gid, DateTimeOffset? time, IEnumerable<KeyValuePair<string, string>>? pax = null)
    {
        var entry = pax is null ? new PaxTarEntry(type, name) : new PaxTarEntry(type, name, pax);
        entry.Mode = (UnixFileMode)mode;
        entry.Uid = uid;
        entry.Gid = gid;
        entry.ModificationTime = time ?? Time;
        entry.UserName = "";
        entry.GroupName = "";
        return entry;
    }
}
