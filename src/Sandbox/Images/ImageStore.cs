using System.Collections.Immutable;
using System.Text.Json;

namespace Sandboxing.Images;

/// <summary>
/// A content-addressed store of images whose layers are ready to be overlayfs lower layers.
/// <see cref="ImportAsync"/> reads OCI image layouts (directories or tars), <c>docker save</c>
/// archives (old and Docker 25+ formats) and plain root filesystem tars (<c>docker export</c>),
/// gzip-compressed or not; each layer is extracted once per uncompressed digest, shared by
/// every image that has it, and never modified after it appears.
/// </summary>
/// <remarks>
/// <para>Layout: <c>layers/sha256/&lt;diff-id hex&gt;/</c> (a layer, in overlayfs format),
/// <c>layers/sha256/&lt;hex&gt;.json</c> (what its extraction skipped),
/// <c>images/&lt;id hex&gt;.json</c> (an image: layer digests and config), <c>locks/</c> and
/// <c>tmp/</c> (work in progress, renamed into place when complete).</para>
/// <para>Safe for concurrent use by any number of threads, tasks and processes: a layer is
/// extracted under an exclusive flock on <c>locks/&lt;hex&gt;.lock</c>, imports hold a shared
/// lock on <c>locks/store.lock</c> and <see cref="Remove"/> an exclusive one, so a layer is
/// never pruned while an import may still use it.</para>
/// </remarks>
public sealed class ImageStore
{
    private static readonly TimeSpan StaleAge = TimeSpan.FromHours(1);
    private const int PrivateDirectoryMode = 0x1C0; // 0700

    private readonly Lock _initializeLock = new();
    private bool _initialized;
    private int _extractedLayers;

    /// <summary>A store in <paramref name="rootDirectory"/>, which is created (mode 0700) on first use.</summary>
    /// <param name="rootDirectory">The store's directory; relative paths are made absolute now.</param>
    public ImageStore(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        RootDirectory = Path.GetFullPath(rootDirectory);
    }

    /// <summary>
    /// Where a store lives by default: <c>$SANDBOX_IMAGE_STORE</c> if set; for root,
    /// <c>/var/lib/sandbox/images</c>; otherwise <c>$XDG_DATA_HOME/sandbox/images</c>, or
    /// <c>~/.local/share/sandbox/images</c> without XDG_DATA_HOME.
    /// </summary>
    public static string DefaultRootDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("SANDBOX_IMAGE_STORE") is { Length: > 0 } configured)
                return Path.GetFullPath(configured);
            if (ImageNative.geteuid() == 0)
                return "/var/lib/sandbox/images";
            if (Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg))
                return Path.Combine(xdg, "sandbox", "images");
            string home = Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return Path.Combine(home, ".local", "share", "sandbox", "images");
        }
    }

    /// <summary>The store's directory (absolute).</summary>
    public string RootDirectory { get; }

    /// <summary>How layers are extracted; tests pretend not to be root, or fail mid-layer, through it.</summary>
    internal ExtractionOptions ExtractionOptions { get; init; } = ExtractionOptions.ForCurrentProcess();

    /// <summary>Layers this instance has extracted and published (not those it found in place).</summary>
    internal int ExtractedLayerCount => Volatile.Read(ref _extractedLayers);

    internal string LayersDirectory => Path.Combine(RootDirectory, "layers", "sha256");
    internal string ImagesDirectory => Path.Combine(RootDirectory, "images");
    internal string LocksDirectory => Path.Combine(RootDirectory, "locks");
    internal string TmpDirectory => Path.Combine(RootDirectory, "tmp");
    private string StoreLockPath => Path.Combine(LocksDirectory, "store.lock");

    /// <summary>
    /// Imports the image at <paramref name="path"/>, or finds it already imported, and returns it.
    /// Recognised, in this order: a directory with an <c>oci-layout</c> file (an OCI image
    /// layout) or a <c>manifest.json</c> (an unpacked docker save); a tar, optionally gzip-
    /// compressed (by its magic, not its name), that is a docker save archive (a
    /// <c>manifest.json</c>, old format or Docker 25's) or an OCI layout; any other tar is a root
    /// filesystem (<c>docker export</c>): one layer, an empty config.
    /// </summary>
    /// <param name="path">The directory or file to import.</param>
    /// <param name="reference">Which image of a layout or archive that holds several: a tag or name
    /// as in <c>org.opencontainers.image.ref.name</c> (or <c>io.containerd.image.name</c>), or a
    /// <c>repo:tag</c> of docker save's RepoTags. Null picks the only image, and fails, listing
    /// them, when there are several. Must be null for a root filesystem tar.</param>
    /// <param name="cancellationToken">Stops the import; nothing half-done stays in the store.</param>
    /// <returns>The image, with its layer directories in the store.</returns>
    /// <exception cref="ImageException">The input is missing, unreadable, corrupt (a digest does
    /// not match) or hostile (an entry would land outside its layer), or the store cannot be written.</exception>
    public Task<SandboxImage> ImportAsync(string path, string? reference = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Extraction is system calls all the way down, so it gets a thread of its own rather
        // than a thread-pool thread for minutes.
        return Task.Factory.StartNew(() => Import(path, reference, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>
    /// The images imported into the store so far, by any process, in the order they were last
    /// imported (importing an image again refreshes its record).
    /// </summary>
    /// <exception cref="ImageException">A record is damaged.</exception>
    public IReadOnlyList<SandboxImage> List()
    {
        Initialize();
        return ReadRecords().Select(r => ToImage(r.Record)).ToList();
    }

    /// <summary>
    /// Removes <paramref name="image"/>'s record, then every one of its layers that no other image
    /// uses (each is renamed out of <c>layers/</c> first, so none is ever seen half-deleted).
    /// Waits for imports in progress to finish. Removing an image that is not there only prunes.
    /// An image that a running sandbox uses is not removed at all.
    /// </summary>
    /// <param name="image">An image returned by <see cref="ImportAsync"/> or <see cref="List"/>.</param>
    /// <exception cref="ImageException">A sandbox still runs on one of the layers that would go
    /// (nothing is changed then: stop those sandboxes first), or the store cannot be written.</exception>
    public void Remove(SandboxImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        string idHex = Digests.Sha256Hex(image.Id) ?? throw new ArgumentException($"'{image.Id}' is not an image id (sha256:<hex>).", nameof(image));
        Initialize();
        using var exclusive = FileLock.Acquire(StoreLockPath, exclusive: true, CancellationToken.None);

        var layers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var digest in image.LayerDigests)
            layers.Add(digest);
        foreach (var directory in image.LayerDirectories)
        {
            if (Path.GetDirectoryName(directory) == LayersDirectory && Digests.IsSha256Hex(Path.GetFileName(directory)))
                layers.Add(Digests.Sha256Prefix + Path.GetFileName(directory));
        }
        string recordPath = Path.Combine(ImagesDirectory, idHex + ".json");
        bool hasRecord = File.Exists(recordPath);
        if (hasRecord)
        {
            foreach (var digest in ImageRecord.Read(recordPath).Layers)
                layers.Add(digest);
        }
        foreach (var (path, record) in ReadRecords())
        {
            if (path != recordPath)
                layers.ExceptWith(record.Layers);
        }

        // Every sandbox on a layer holds a shared flock on the layer's directory for as long
        // as it runs (sandbox-helper); overlayfs's behaviour when a lower layer changes under a
        // mount is undefined. So: every lock first, before anything changes, and each held
        // until its layer is gone, so that no sandbox starts on a layer being deleted (the
        // helper's non-blocking lock fails then).
        var locks = new Dictionary<string, LayerLock>(StringComparer.Ordinal);
        try
        {
            foreach (var digest in layers)
            {
                if (LayerLock.TryAcquire(LayerPath(digest)) is { } layerLock)
                    locks.Add(digest, layerLock);
            }
            if (hasRecord)
            {
                File.Delete(recordPath);
                SyncDirectory(ImagesDirectory);
            }
            foreach (var digest in layers)
            {
                RemoveLayer(digest[Digests.Sha256Prefix.Length..]);
                if (locks.Remove(digest, out var layerLock))
                    layerLock.Dispose();
            }
        }
        finally
        {
            foreach (var layerLock in locks.Values)
                layerLock.Dispose();
        }
    }

    /// <summary>
    /// An exclusive flock on a layer directory, taken without waiting. The directory is opened
    /// O_NOFOLLOW: the store's layers are directories, never links.
    /// </summary>
    private sealed class LayerLock : IDisposable
    {
        private int _fd;

        private LayerLock(int fd) => _fd = fd;

        /// <summary>The lock, or null when the layer is not there; throws when a sandbox uses the layer.</summary>
        public static LayerLock? TryAcquire(string layer)
        {
            int fd = ImageNative.openat(ImageNative.AT_FDCWD, layer, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0);
            if (fd < 0)
            {
                int errno = ImageNative.LastErrno;
                if (errno == ImageNative.ENOENT)
                    return null;
                throw new ImageException(layer, null, $"cannot open the layer: {ImageNative.ErrnoText(errno)} (errno {errno}).");
            }
            var layerLock = new LayerLock(fd);
            while (ImageNative.flock(fd, ImageNative.LOCK_EX | ImageNative.LOCK_NB) != 0)
            {
                int errno = ImageNative.LastErrno;
                if (errno == ImageNative.EINTR)
                    continue;
                layerLock.Dispose();
                if (errno == ImageNative.EWOULDBLOCK)
                    throw new ImageException(layer, null, "the image is in use by a running sandbox: the layer is one of its overlay's lower layers, and nothing has been removed.",
                        "Stop the sandboxes that run this image first (kill them and wait for them to exit), then remove it.");
                throw new ImageException(layer, null, $"cannot lock the layer: {ImageNative.ErrnoText(errno)} (errno {errno}).");
            }
            return layerLock;
        }

        public void Dispose()
        {
            int fd = Interlocked.Exchange(ref _fd, -1);
            if (fd >= 0)
                ImageNative.close(fd);
        }
    }

    // ---- import ---------------------------------------------------------------------------

    private SandboxImage Import(string path, string? reference, CancellationToken cancellationToken)
    {
        Initialize();
        string file = Path.GetFullPath(path);
        using var shared = FileLock.Acquire(StoreLockPath, exclusive: false, cancellationToken);

        ImageSource source;
        ImagePlan plan;
        if (Directory.Exists(file))
        {
            source = new DirectorySource(file);
            if (source.Exists("oci-layout"))
                plan = OciLayout.Plan(source, reference);
            else if (source.Exists("manifest.json"))
                plan = DockerArchive.Plan(source, reference);
            else
                throw new ImageException(file, null, "the directory is neither an OCI image layout (it has no oci-layout file) nor an unpacked docker save (no manifest.json).",
                    "To import a root filesystem directory, make a tar of it first: tar -C DIR -cf rootfs.tar .");
        }
        else
        {
            var archive = ArchiveSource.Open(file, cancellationToken);
            source = archive;
            try
            {
                if (archive.IsDockerArchive)
                    plan = DockerArchive.Plan(archive, reference);
                else if (archive.Exists("oci-layout") && archive.Exists("index.json"))
                    plan = OciLayout.Plan(archive, reference);
                else if (reference is not null)
                    throw new ImageException(file, null, $"the file is a plain root filesystem tar, which holds one unnamed image, so the reference '{reference}' names nothing.", "Import it without a reference.");
                else
                    plan = new ImagePlan(archive.UncompressedDigest, ImageConfig.Empty, [new LayerPlan(null, "root filesystem tar", null, null, archive.UncompressedDigest, null)]);
            }
            catch
            {
                archive.Dispose();
                throw;
            }
        }

        string[] diffIds;
        using (source)
            diffIds = ImportLayers(source, plan, file, cancellationToken);

        // A layer that occurs twice is hidden by its upper occurrence: keep the topmost only.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var layers = diffIds.Reverse().Where(seen.Add).Reverse().ToImmutableArray();
        int skipped = layers.Sum(d => ReadLayerInfo(d[Digests.Sha256Prefix.Length..]));
        var record = new ImageRecord(plan.Id, layers, plan.Config, skipped);
        WriteAtomically(Path.Combine(ImagesDirectory, Digests.Sha256Hex(plan.Id) + ".json"), record.Serialize());
        return ToImage(record);
    }

    /// <summary>Makes sure every layer of <paramref name="plan"/> is in the store; returns their diff ids in plan order.</summary>
    private string[] ImportLayers(ImageSource source, ImagePlan plan, string file, CancellationToken cancellationToken)
    {
        var diffIds = new string?[plan.Layers.Length];
        // Layers already in the store are not read at all; blobs used twice are read once.
        var pending = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < plan.Layers.Length; i++)
        {
            var layer = plan.Layers[i];
            if (layer.DiffId is { } known && Directory.Exists(LayerPath(known)))
            {
                diffIds[i] = known;
                continue;
            }
            string key = layer.SourcePath ?? "";
            if (!pending.TryGetValue(key, out var indexes))
                pending[key] = indexes = [];
            indexes.Add(i);
        }
        foreach (var (key, indexes) in pending)
        {
            if (indexes.Select(i => plan.Layers[i].DiffId).Where(d => d is not null).Distinct().Count() > 1)
                throw ImageMetadata.Invalid(source, plan.Layers[indexes[0]].Description, "the config gives one blob two different diff ids");
        }

        void Ensure(string key, Stream stream)
        {
            var indexes = pending[key];
            var layer = indexes.Select(i => plan.Layers[i]).FirstOrDefault(l => l.DiffId is not null) ?? plan.Layers[indexes[0]];
            string diffId = EnsureLayer(stream, layer, file, cancellationToken);
            foreach (int i in indexes)
                diffIds[i] = diffId;
        }

        if (pending.ContainsKey(""))
        {
            // A root filesystem tar: the file is the layer.
            using var raw = ArchiveSource.OpenFile(file);
            Ensure("", raw);
        }
        else
        {
            source.ReadFiles(pending.Keys, Ensure, cancellationToken);
        }
        return diffIds.Select(d => d!).ToArray();
    }

    /// <summary>
    /// Puts the layer in <paramref name="raw"/> into the store unless it is there already, and
    /// returns its diff id. With a known diff id: lock, re-check, extract, publish. Without
    /// one (a config without diff_ids), the digest is only known once extracted, so: extract,
    /// lock, publish unless another import got there first.
    /// </summary>
    private string EnsureLayer(Stream raw, LayerPlan layer, string file, CancellationToken cancellationToken)
    {
        if (layer.DiffId is { } expected)
        {
            string hex = expected[Digests.Sha256Prefix.Length..];
            using var layerLock = FileLock.Acquire(Path.Combine(LocksDirectory, hex + ".lock"), exclusive: true, cancellationToken);
            if (Directory.Exists(LayerPath(expected)))
                return expected;
            var (work, stats, _) = ExtractToWork(raw, layer, file, cancellationToken);
            Publish(work, hex, stats);
            return expected;
        }
        else
        {
            var (work, stats, diffId) = ExtractToWork(raw, layer, file, cancellationToken);
            string hex = diffId[Digests.Sha256Prefix.Length..];
            using var layerLock = FileLock.Acquire(Path.Combine(LocksDirectory, hex + ".lock"), exclusive: true, cancellationToken);
            if (Directory.Exists(LayerPath(diffId)))
                RemoveQuietly(work);
            else
                Publish(work, hex, stats);
            return diffId;
        }
    }

    /// <summary>
    /// Extracts a layer into a fresh directory under <c>tmp/</c>, verifying the blob's digest and
    /// size and the uncompressed digest while it streams. On any failure the directory is removed.
    /// </summary>
    private (string Work, LayerStats Stats, string DiffId) ExtractToWork(Stream raw, LayerPlan layer, string file, CancellationToken cancellationToken)
    {
        string work = Path.Combine(TmpDirectory, "layer-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            using var blob = new HashingStream(raw, leaveOpen: true);
            LayerStats stats;
            string diffId;
            using (var uncompressed = Compression.Decompress(blob, layer.MediaType, file, layer.Description))
            using (var diff = new HashingStream(uncompressed, leaveOpen: true))
            {
                try
                {
                    stats = LayerExtractor.Extract(diff, work, ExtractionOptions, file, layer.Description, cancellationToken);
                    diffId = diff.Finish(cancellationToken);
                }
                catch (Exception e) when (e is ImageException or InvalidDataException)
                {
                    // A tampered or truncated blob shows up first as a broken gzip or tar stream:
                    // name the real cause when the digest says so.
                    if (layer.BlobDigest is not null && TryFinish(blob, cancellationToken) is { } actual && actual != layer.BlobDigest)
                        throw Mismatch(file, layer, "blob", actual, layer.BlobDigest, e);
                    if (e is ImageException)
                        throw;
                    throw new ImageException(file, layer.Description, $"the layer's compressed data is corrupt: {e.Message}", "The image is damaged; export it again.", e);
                }
            }
            string blobDigest = blob.Finish(cancellationToken);
            if (layer.BlobDigest is not null && blobDigest != layer.BlobDigest)
                throw Mismatch(file, layer, "blob", blobDigest, layer.BlobDigest, null);
            if (layer.BlobSize is { } size && blob.BytesRead != size)
                throw new ImageException(file, layer.Description, $"the blob has {blob.BytesRead} bytes but its descriptor says {size}.", "The image has been modified or corrupted; export it again.");
            if (layer.DiffId is not null && diffId != layer.DiffId)
                throw Mismatch(file, layer, "uncompressed layer (the config's rootfs.diff_ids)", diffId, layer.DiffId, null);
            return (work, stats, diffId);
        }
        catch
        {
            RemoveQuietly(work);
            throw;
        }
    }

    private static string? TryFinish(HashingStream stream, CancellationToken cancellationToken)
    {
        try
        {
            return stream.Finish(cancellationToken);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static ImageException Mismatch(string file, LayerPlan layer, string what, string actual, string expected, Exception? inner) =>
        new(file, layer.Description, $"the {what} digest is {actual}, not {expected}.", "The image has been modified or corrupted; export it again.", inner);

    /// <summary>
    /// Moves a complete extraction into <c>layers/</c>: its info file first, then the directory
    /// with one rename(2) (RENAME_NOREPLACE), then an fsync of <c>layers/</c> so the rename
    /// survives a crash. Called with the layer's lock held.
    /// </summary>
    private void Publish(string work, string hex, LayerStats stats)
    {
        try
        {
            WriteAtomically(Path.Combine(LayersDirectory, hex + ".json"), LayerInfo(stats));
            if (ImageNative.renameat2(ImageNative.AT_FDCWD, work, ImageNative.AT_FDCWD, Path.Combine(LayersDirectory, hex), ImageNative.RENAME_NOREPLACE) != 0)
            {
                int errno = ImageNative.LastErrno;
                throw new ImageException(Path.Combine(LayersDirectory, hex), null, $"cannot move the extracted layer into place: {ImageNative.ErrnoText(errno)} (errno {errno}).",
                    errno == ImageNative.EEXIST ? "Something other than this library writes to the store's layers/ directory." : null);
            }
        }
        catch
        {
            RemoveQuietly(work);
            throw;
        }
        SyncDirectory(LayersDirectory);
        Interlocked.Increment(ref _extractedLayers);
    }

    private static byte[] LayerInfo(LayerStats stats)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("entries", stats.Entries);
            writer.WriteNumber("skippedDeviceNodes", stats.SkippedDeviceNodes);
            writer.WriteNumber("skippedXattrs", stats.SkippedXattrs);
            writer.WriteNumber("skippedOwners", stats.SkippedOwners);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>The skipped device nodes of a layer, from its info file (0 when it has none).</summary>
    private int ReadLayerInfo(string hex)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(LayersDirectory, hex + ".json")));
            return document.RootElement.TryGetProperty("skippedDeviceNodes", out var n) && n.TryGetInt32(out int count) ? count : 0;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return 0;
        }
    }

    // ---- store housekeeping ---------------------------------------------------------------

    private void Initialize()
    {
        lock (_initializeLock)
        {
            if (_initialized)
                return;
            try
            {
                foreach (var directory in new[] { RootDirectory, LayersDirectory, ImagesDirectory, LocksDirectory, TmpDirectory })
                    CreatePrivateDirectory(directory);
            }
            catch (IOException e)
            {
                throw new ImageException(RootDirectory, null, $"cannot create the image store: {e.Message}",
                    "Pass a directory the caller can write, or set SANDBOX_IMAGE_STORE.", e);
            }
            RemoveStaleWork();
            _initialized = true;
        }
    }

    /// <summary>
    /// Removes what crashed imports left in <c>tmp/</c> (older than an hour), only when no import
    /// is running anywhere (the store lock is free), and never anything outside <c>tmp/</c>.
    /// </summary>
    private void RemoveStaleWork()
    {
        using var exclusive = FileLock.TryAcquire(StoreLockPath, exclusive: true);
        if (exclusive is null)
            return;
        DateTime cutoff = DateTime.UtcNow - StaleAge;
        foreach (var entry in new DirectoryInfo(TmpDirectory).EnumerateFileSystemInfos())
        {
            if (entry.LastWriteTimeUtc < cutoff)
                RemoveQuietly(entry.FullName);
        }
    }

    /// <summary>mkdir -p with mode 0700 for what it creates; what exists already keeps its mode.</summary>
    private static void CreatePrivateDirectory(string path)
    {
        if (Directory.Exists(path))
            return;
        if (Path.GetDirectoryName(path) is { } parent)
            CreatePrivateDirectory(parent);
        if (ImageNative.mkdirat(ImageNative.AT_FDCWD, path, PrivateDirectoryMode) != 0 && ImageNative.LastErrno is int errno && errno != ImageNative.EEXIST)
            throw new IOException($"mkdir {path}: {ImageNative.ErrnoText(errno)} (errno {errno})", errno);
    }

    private void RemoveLayer(string hex)
    {
        string layer = Path.Combine(LayersDirectory, hex);
        if (Directory.Exists(layer))
        {
            string trash = Path.Combine(TmpDirectory, "remove-" + Guid.NewGuid().ToString("N"));
            if (ImageNative.renameat2(ImageNative.AT_FDCWD, layer, ImageNative.AT_FDCWD, trash, ImageNative.RENAME_NOREPLACE) != 0)
            {
                int errno = ImageNative.LastErrno;
                throw new ImageException(layer, null, $"cannot remove the layer: {ImageNative.ErrnoText(errno)} (errno {errno}).");
            }
            SyncDirectory(LayersDirectory);
            RemoveQuietly(trash);
        }
        File.Delete(Path.Combine(LayersDirectory, hex + ".json"));
        // No import holds a layer lock now (they all hold the store lock, which Remove has).
        File.Delete(Path.Combine(LocksDirectory, hex + ".lock"));
    }

    private List<(string Path, ImageRecord Record)> ReadRecords() =>
        new DirectoryInfo(ImagesDirectory).EnumerateFiles("*.json")
            .Where(f => Digests.IsSha256Hex(Path.GetFileNameWithoutExtension(f.Name)))
            .OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => (f.FullName, ImageRecord.Read(f.FullName)))
            .ToList();

    private SandboxImage ToImage(ImageRecord record) => new()
    {
        Id = record.Id,
        LayerDirectories = [.. record.Layers.Select(LayerPath)],
        LayerDigests = record.Layers,
        Config = record.Config,
        SkippedDeviceNodes = record.SkippedDeviceNodes,
    };

    private string LayerPath(string diffId) => Path.Combine(LayersDirectory, diffId[Digests.Sha256Prefix.Length..]);

    /// <summary>Writes a file so that it appears complete or not at all: temp file, fsync, rename, fsync of the directory.</summary>
    private void WriteAtomically(string path, byte[] content)
    {
        string temp = Path.Combine(TmpDirectory, "write-" + Guid.NewGuid().ToString("N"));
        try
        {
            int fd = ImageNative.openat(ImageNative.AT_FDCWD, temp, ImageNative.O_WRONLY | ImageNative.O_CREAT | ImageNative.O_EXCL | ImageNative.O_NOFOLLOW | ImageNative.O_CLOEXEC, 0x1A4 /* 0644 */);
            if (fd < 0)
                throw new IOException($"cannot create {temp}: {ImageNative.ErrnoText(ImageNative.LastErrno)}");
            using (var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Write))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            RemoveQuietly(temp);
            throw new ImageException(path, null, $"cannot write: {e.Message}", "The image store must be writable by the caller and its filesystem not full.", e);
        }
        SyncDirectory(Path.GetDirectoryName(path)!);
    }

    private static void SyncDirectory(string directory)
    {
        int fd = ImageNative.openat(ImageNative.AT_FDCWD, directory, ImageNative.O_RDONLY | ImageNative.O_DIRECTORY | ImageNative.O_CLOEXEC, 0);
        if (fd < 0)
            return;
        ImageNative.fsync(fd);
        ImageNative.close(fd);
    }

    private static void RemoveQuietly(string path)
    {
        try
        {
            SafeTree.Remove(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the stale-work cleanup of a later store open.
        }
    }
}
