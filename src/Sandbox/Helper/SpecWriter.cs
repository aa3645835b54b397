using System.Buffers.Binary;
using System.Text;
using static Sandboxing.Helper.HelperProtocol;

namespace Sandboxing.Helper;

/// <summary>
/// Serialises a validated configuration plus one command into the helper's binary spec
/// (format: native/protocol.h). The defaults a run needs but the configuration leaves open
/// (id mappings, hostname, PATH and HOME, /proc without a PID namespace) are decided here,
/// so the helper only ever does what the spec says.
/// </summary>
internal sealed class SpecWriter
{
    private byte[] _buffer = new byte[4096];
    private int _length;

    // waitForStart: a created sandbox, whose command waits for SBX_CMD_START (never for an exec'd command).
    public static byte[] Write(SandboxConfiguration config, IReadOnlyList<string> command, HostIdentity caller, CgroupJoin? cgroup = null, bool waitForStart = false)
    {
        var w = new SpecWriter();
        w.WriteSpec(config, command, caller, cgroup);
        if (waitForStart)
            w.EndRecord(w.BeginRecord(RecWaitForStart));
        w.SealHeader();
        return w._buffer.AsSpan(0, w._length).ToArray();
    }

    /// <summary>How the helper puts the sandbox's init into its cgroup (see protocol.h).</summary>
    internal sealed record CgroupJoin(IReadOnlyList<string> JoinProcsFiles, IReadOnlyList<string> ReturnProcsFiles, string? UnifiedDirectory);

    private void WriteSpec(SandboxConfiguration config, IReadOnlyList<string> command, HostIdentity caller, CgroupJoin? cgroup)
    {
        _length = SpecHeaderSize;
        U32Record(RecNamespaces, (uint)config.Namespaces);

        string? hostname = config.Hostname ?? (config.Has(SandboxNamespaces.Uts) ? SandboxConfiguration.DefaultHostname : null);
        if (hostname is not null)
            StringRecord(RecHostname, hostname);

        if (config.Has(SandboxNamespaces.User))
        {
            var (uidMaps, gidMaps) = EffectiveMappings(config, caller);
            foreach (var m in uidMaps)
                IdMapRecord(RecUidMap, m);
            foreach (var m in gidMaps)
                IdMapRecord(RecGidMap, m);
            UserRecord(config.CommandUid, config.CommandGid);
        }
        else if (config.Uid is not null || config.Gid is not null)
        {
            UserRecord(config.Uid ?? caller.EffectiveUid, config.Gid ?? caller.EffectiveGid);
        }

        RootRecords(config, caller);

        foreach (var mount in config.Mounts)
            MountRecord(mount, config);

        if (config.Has(SandboxNamespaces.Mount))
        {
            foreach (var path in config.MaskedPaths)
                StringRecord(RecMaskPath, path);
            // Host sockets matter only with the host's own root; with the host's network the
            // sandbox may need /run (resolv.conf often points there), so they stay then.
            if (config.MaskHostSockets && config.Root.IsHost && config.Has(SandboxNamespaces.Network))
                foreach (var path in SandboxConfiguration.HostSocketDirectories)
                    StringRecord(RecMaskPath, path);
            foreach (var path in config.ReadOnlyPaths)
                StringRecord(RecReadonlyPath, path);
        }

        foreach (var arg in command)
            StringRecord(RecArg, arg);
        foreach (var (name, value) in EffectiveEnvironment(config))
            StringRecord(RecEnv, $"{name}={value}");
        StringRecord(RecCwd, config.WorkingDirectory);

        if (config.Has(SandboxNamespaces.Time) && (config.MonotonicClockOffset != TimeSpan.Zero || config.BoottimeClockOffset != TimeSpan.Zero))
        {
            int r = BeginRecord(RecTimeOffsets);
            U64((ulong)ToNanoseconds(config.MonotonicClockOffset));
            U64((ulong)ToNanoseconds(config.BoottimeClockOffset));
            EndRecord(r);
        }
        if (cgroup is not null)
        {
            foreach (var path in cgroup.JoinProcsFiles)
                StringRecord(RecCgroupJoin, path);
            foreach (var path in cgroup.ReturnProcsFiles)
                StringRecord(RecCgroupReturn, path);
            if (cgroup.UnifiedDirectory is { } unified)
                StringRecord(RecCgroupUnified, unified);
        }
        SecurityRecords(config);
        if (config.Terminal is not null)
            EndRecord(BeginRecord(RecTerminal));
        if (config.Timeout is { } timeout)
        {
            int r = BeginRecord(RecTimeout);
            U64((ulong)Math.Max(1, Math.Ceiling(timeout.TotalMilliseconds)));
            EndRecord(r);
        }
    }

    private void SealHeader()
    {
        var header = _buffer.AsSpan(0, SpecHeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(header, SpecMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], SpecVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)_length);
    }

    /// <summary>
    /// The uid and gid maps a sandbox with a user namespace gets. No explicit mappings: an
    /// unprivileged caller becomes the chosen user, which needs no privilege. A root caller's
    /// sandbox becomes the host's unprivileged "nobody": mapped to host root it would own every
    /// root-owned file and /proc/sys.
    /// </summary>
    internal static (IReadOnlyList<IdMapping> Uid, IReadOnlyList<IdMapping> Gid) EffectiveMappings(SandboxConfiguration config, HostIdentity caller)
    {
        uint uid = config.CommandUid, gid = config.CommandGid;
        uint outsideUid = caller.IsRoot ? SandboxConfiguration.UnprivilegedHostId : caller.EffectiveUid;
        uint outsideGid = caller.IsRoot ? SandboxConfiguration.UnprivilegedHostId : caller.EffectiveGid;
        return (config.UidMappings.IsEmpty ? [new IdMapping(uid, outsideUid, 1)] : config.UidMappings,
                config.GidMappings.IsEmpty ? [new IdMapping(gid, outsideGid, 1)] : config.GidMappings);
    }

    /// <summary>
    /// The host uid and gid that own what the sandbox's root user creates: root inside when it is
    /// mapped, else the command's user; the caller itself without a user namespace.
    /// </summary>
    internal static (uint Uid, uint Gid) HostOwnerOfSandboxRoot(SandboxConfiguration config, HostIdentity caller)
    {
        if (!config.Has(SandboxNamespaces.User))
            return (config.Uid ?? caller.EffectiveUid, config.Gid ?? caller.EffectiveGid);
        var (uidMaps, gidMaps) = EffectiveMappings(config, caller);
        return (ToHost(uidMaps, 0) ?? ToHost(uidMaps, config.CommandUid) ?? caller.EffectiveUid,
                ToHost(gidMaps, 0) ?? ToHost(gidMaps, config.CommandGid) ?? caller.EffectiveGid);

    }

    /// <summary>The host uid and gid of the command's own user (the caller's without a user namespace).</summary>
    internal static (uint Uid, uint Gid) HostOwnerOfCommand(SandboxConfiguration config, HostIdentity caller)
    {
        if (!config.Has(SandboxNamespaces.User))
            return (config.Uid ?? caller.EffectiveUid, config.Gid ?? caller.EffectiveGid);
        var (uidMaps, gidMaps) = EffectiveMappings(config, caller);
        return (ToHost(uidMaps, config.CommandUid) ?? caller.EffectiveUid, ToHost(gidMaps, config.CommandGid) ?? caller.EffectiveGid);
    }

    private static uint? ToHost(IReadOnlyList<IdMapping> maps, uint inside) =>
        maps.FirstOrDefault(m => inside >= m.InsideId && inside - m.InsideId < m.Count) is { } m ? m.OutsideId + (inside - m.InsideId) : null;

    /// <summary>
    /// Whether the helper gives an overlay's layers idmapped mounts: when it runs as root and the
    /// sandbox's root is not host root, so files the image gives to uid 0 belong to root inside.
    /// An unprivileged caller's layers already belong to it, and so to root inside.
    /// </summary>
    internal static bool IdmapsLayers(SandboxConfiguration config, HostIdentity caller) =>
        config.Root.Kind == SandboxRootKind.Overlay && caller.IsRoot && config.Has(SandboxNamespaces.User)
        && HostOwnerOfSandboxRoot(config, caller).Uid != 0;

    private void RootRecords(SandboxConfiguration config, HostIdentity caller)
    {
        var root = config.Root;
        int r = BeginRecord(RecRoot);
        uint flags = root.ReadOnly ? (uint)RootReadonly : 0;
        if (root.Kind == SandboxRootKind.Overlay)
            flags |= RootOverlay | (IdmapsLayers(config, caller) ? (uint)RootIdmapLayers : 0);
        U32(flags);
        Utf8(root.Path);
        EndRecord(r);
        if (root.Kind != SandboxRootKind.Overlay)
            return;
        for (int i = root.Layers.Length - 1; i >= 0; i--) // overlayfs wants the top layer first
            StringRecord(RecOverlayLower, root.Layers[i]);
        var upper = root.Upper!;
        r = BeginRecord(RecOverlayUpper);
        // A read-only overlay still gets a small tmpfs on top: mount targets missing from the
        // image are created there before the root turns read-only.
        U64(upper.DirectoryPath is null ? (ulong)(upper.IsNone ? ReadOnlyOverlayUpperBytes : upper.SizeBytes ?? 0) : 0);
        LengthPrefixedUtf8(upper.DirectoryPath is { } d ? OverlayUpperPaths(d).Upper : "");
        LengthPrefixedUtf8(upper.DirectoryPath is { } w ? OverlayUpperPaths(w).Work : "");
        EndRecord(r);
    }

    private const long ReadOnlyOverlayUpperBytes = 1024 * 1024;

    /// <summary>Where a persistent overlay directory keeps its writable layer and overlayfs's work directory.</summary>
    internal static (string Upper, string Work) OverlayUpperPaths(string directory) =>
        (Path.Combine(directory, "upper"), Path.Combine(directory, "work"));

    private void SecurityRecords(SandboxConfiguration config)
    {
        foreach (var (limit, value) in config.ResourceLimits)
        {
            int r = BeginRecord(RecRlimit);
            U32((uint)limit);
            U64(value.Soft);
            U64(value.Hard);
            EndRecord(r);
        }
        if (!config.Capabilities.IsEmpty)
        {
            ulong mask = 0;
            foreach (var cap in config.Capabilities)
                mask |= 1UL << (int)cap;
            int r = BeginRecord(RecCapabilities);
            U64(mask);
            EndRecord(r);
        }
        foreach (uint gid in config.SupplementaryGroups)
            U32Record(RecGroup, gid);
        U32Record(RecUmask, (uint)config.Umask);
        uint flags = config.AllowNewPrivileges ? (uint)SecurityAllowNewPrivs : 0;
        if (config.Seccomp is { } policy)
        {
            byte[] program = s_programs.GetValue(policy, static p => Seccomp.SeccompCompiler.Compile(p));
            int r = BeginRecord(RecSeccomp);
            Ensure(program.Length);
            program.CopyTo(_buffer.AsSpan(_length));
            _length += program.Length;
            EndRecord(r);
            if (policy.LogDenied)
                flags |= SecuritySeccompLog;
        }
        if (flags != 0)
            U32Record(RecSecurity, flags);
        if (config.Landlock is { } landlock)
        {
            U32Record(RecLandlock, landlock.BestEffort ? (uint)LandlockBestEffort : 0);
            foreach (var rule in landlock.Rules)
            {
                int r = BeginRecord(RecLandlockRule);
                U32((uint)rule.Access | (rule.Optional ? (uint)LandlockOptional : 0));
                Utf8(rule.Path);
                EndRecord(r);
            }
        }
    }

    /// <summary>Compiled programs, per policy object: the default policy is compiled once per process, not per run.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Seccomp.SeccompPolicy, byte[]> s_programs = new();

    /// <summary>The variables the command sees: the configured ones, plus PATH and HOME defaults.</summary>
    internal static IEnumerable<KeyValuePair<string, string>> EffectiveEnvironment(SandboxConfiguration config)
    {
        var env = config.Environment;
        if (!env.ContainsKey("PATH"))
            env = env.Add("PATH", SandboxConfiguration.DefaultPath);
        if (!env.ContainsKey("HOME"))
            env = env.Add("HOME", config.CommandUid == 0 && config.Has(SandboxNamespaces.User) ? "/root" : "/");
        return env;
    }

    private static long ToNanoseconds(TimeSpan t) => t.Ticks * 100;

    private void MountRecord(SandboxMount mount, SandboxConfiguration config)
    {
        (int type, uint flags, uint mode, ulong size, string source) = mount switch
        {
            BindMount b => (MountBind,
                (b.ReadOnly ? (uint)MountfReadonly : 0) | (b.Recursive ? (uint)MountfRecursive : 0) | (b.Optional ? (uint)MountfOptional : 0)
                | MountfNosuid | MountfNodev, 0u, 0ul, b.Source),
            VolumeMount v => (MountBind, (v.ReadOnly ? (uint)MountfReadonly : 0) | MountfNosuid | MountfNodev, 0u, 0ul, v.Store.GetPath(v.Name)),
            TmpfsMount t => (MountTmpfs, 0u, (uint)t.Mode, (ulong)(t.SizeBytes ?? 0), ""),
            // A new procfs can only be mounted for a PID namespace the sandbox owns; without
            // one the sandbox shares the host's processes, so it gets the host's /proc.
            ProcMount when !config.Has(SandboxNamespaces.Pid) => (MountBind, (uint)(MountfRecursive | MountfNosuid | MountfNodev | MountfNoexec), 0u, 0ul, "/proc"),
            ProcMount => (MountProc, 0u, 0u, 0ul, ""),
            DevMount => (MountDev, 0u, 0u, 0ul, ""),
            // sysfs can be mounted only for a network namespace the sandbox owns.
            SysfsMount when !config.Has(SandboxNamespaces.Network) => (MountBind, (uint)(MountfReadonly | MountfRecursive | MountfNosuid | MountfNodev | MountfNoexec), 0u, 0ul, "/sys"),
            SysfsMount => (MountSysfs, 0u, 0u, 0ul, ""),
            MqueueMount => (MountMqueue, 0u, 0u, 0ul, ""),
            SymlinkEntry l => (MountSymlink, 0u, 0u, 0ul, l.LinkText),
            DirectoryEntry d => (MountDir, 0u, (uint)d.Mode, 0ul, ""),
            FileEntry f => (MountFile, 0u, (uint)f.Mode, 0ul, f.Content),
            _ => throw new InvalidOperationException($"unsupported mount {mount.GetType().Name}"),
        };
        int r = BeginRecord(RecMount);
        U32((uint)type);
        U32(flags);
        U32(mode);
        U64(size);
        LengthPrefixedUtf8(source);
        LengthPrefixedUtf8(mount.Target);
        EndRecord(r);
    }

    private void LengthPrefixedUtf8(string value)
    {
        int at = _length;
        U32(0);
        int n = Utf8(value);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(at), (uint)n);
    }

    private void IdMapRecord(int tag, IdMapping m)
    {
        int r = BeginRecord(tag);
        U32(m.InsideId);
        U32(m.OutsideId);
        U32(m.Count);
        EndRecord(r);
    }

    private void UserRecord(uint uid, uint gid)
    {
        int r = BeginRecord(RecUser);
        U32(uid);
        U32(gid);
        EndRecord(r);
    }

    private void U32Record(int tag, uint value)
    {
        int r = BeginRecord(tag);
        U32(value);
        EndRecord(r);
    }

    private void StringRecord(int tag, string value)
    {
        int r = BeginRecord(tag);
        Utf8(value);
        EndRecord(r);
    }

    private int BeginRecord(int tag)
    {
        int start = _length;
        Ensure(RecordHeaderSize);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_length), (ushort)tag);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_length + 2), 0);
        _length += RecordHeaderSize;
        return start;
    }

    private void EndRecord(int start) =>
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(start + 4), (uint)(_length - start - RecordHeaderSize));

    private void U32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    private void U64(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    private int Utf8(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Ensure(max);
        int n = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
        _length += n;
        return n;
    }

    private void Ensure(int more)
    {
        if (_length + more <= _buffer.Length)
            return;
        long size = Math.Max((long)_buffer.Length * 2, (long)_length + more);
        if (size > SpecMaxSize)
            throw new SandboxConfigurationException("command", $"the command, environment and mounts need more than {SpecMaxSize} bytes.");
        Array.Resize(ref _buffer, (int)size);
    }
}
