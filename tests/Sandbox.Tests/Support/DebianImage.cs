namespace Sandboxing.Tests.Support;

/// <summary>
/// A minimal Debian (debootstrap --variant=minbase bookworm) as a <c>docker export</c>-style tar
/// written by GNU tar, for tests that need a real distribution. Built once per machine and
/// cached under /var/cache/sandbox-tests (about 70 s and 200 MB the first time; needs
/// debootstrap and a Debian mirror, which .ci/run provides).
/// </summary>
internal static class DebianImage
{
    public const string CacheDirectory = "/var/cache/sandbox-tests";
    private const string Suite = "bookworm";
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static string TarPath => Path.Combine(CacheDirectory, $"debian-{Suite}-minbase.tar");

    public static async Task<string> GetTarAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (File.Exists(TarPath))
                return TarPath;
            Directory.CreateDirectory(CacheDirectory);
            string rootfs = Path.Combine(CacheDirectory, $"debian-{Suite}-{Environment.ProcessId}");
            try
            {
                string mirror = Environment.GetEnvironmentVariable("SANDBOX_TEST_DEBIAN_MIRROR") ?? "http://deb.debian.org/debian";
                await Tools.RunAsync("debootstrap", "--variant=minbase", Suite, rootfs, mirror);
                string temp = TarPath + $".{Environment.ProcessId}";
                await Tools.RunAsync("tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-cf", temp, ".");
                File.Move(temp, TarPath, overwrite: true);
            }
            finally
            {
                if (Directory.Exists(rootfs))
                    Directory.Delete(rootfs, recursive: true);
            }
            return TarPath;
        }
        finally
        {
            Gate.Release();
        }
    }
}
