namespace Sandboxing;

/// <summary>
/// Every check a configuration must pass before anything is created on the host, in one
/// place. Each failure names the setting and says how to fix it.
/// </summary>
internal static class ConfigurationValidator
{
    // The helper's own limits (protocol.h), checked here so a bad setting fails in Build()
    // with its name, not in the helper as a malformed spec.
    public const int MaxHostnameLength = Helper.HelperProtocol.MaxHostname;
    public const int MaxIdMappings = Helper.HelperProtocol.MaxIdMaps; // the kernel's limit on uid_map lines
    public const int MaxPathLength = Helper.HelperProtocol.MaxPath;

    public static void Validate(SandboxConfiguration config, HostIdentity caller)
    {
        ValidateNamespaces(config, caller);
        ValidateHostname(config);
        ValidateIdentity(config, caller);
        ValidateRoot(config);
        ValidateMounts(config);
        ValidateEnvironment(config);
        ValidateResources(config);
        ValidatePrivileges(config, caller);
        for (int i = 0; i < config.MaskedPaths.Length; i++)
            ValidateSandboxPath($"maskedPaths[{i}]", config.MaskedPaths[i], allowRoot: false);
        for (int i = 0; i < config.ReadOnlyPaths.Length; i++)
            ValidateSandboxPath($"readOnlyPaths[{i}]", config.ReadOnlyPaths[i], allowRoot: false);
        if (config.MaskedPaths.Length + config.ReadOnlyPaths.Length > MaxMounts)
            throw new SandboxConfigurationException("maskedPaths", $"more than {MaxMounts} masked and read-only paths.");
        ValidateSandboxPath("workingDirectory", config.WorkingDirectory, allowRoot: true);
        config.Terminal?.Validate("terminal");
        if (config.CpuTimeLimit is { } cpuTime && cpuTime <= TimeSpan.Zero)
            throw new SandboxConfigurationException("cpuTimeLimit", $"{cpuTime} is not a positive duration.");
        if (config.Timeout is { } timeout && (timeout <= TimeSpan.Zero || timeout.TotalMilliseconds >= long.MaxValue))
            throw new SandboxConfigurationException("timeout", $"{timeout} is not a positive duration.");
        if ((config.MonotonicClockOffset != TimeSpan.Zero || config.BoottimeClockOffset != TimeSpan.Zero) && !config.Has(SandboxNamespaces.Time))
            throw new SandboxConfigurationException("clockOffsets", "clock offsets need the time namespace, which is off.", "Keep SandboxNamespaces.Time in WithNamespaces, or drop the offsets.");
        if (config.HelperPath is { } helper && (helper.Length == 0 || !Path.IsPathRooted(helper)))
            throw new SandboxConfigurationException("helperPath", $"'{helper}' is not an absolute path.", "Pass the absolute path of sandbox-helper, or null to use the one next to the application.");
    }

    /// <summary>What a command exec'd into a running sandbox may change; the rest was checked when the sandbox was built.</summary>
    public static void ValidateExec(SandboxConfiguration sandbox, SandboxConfiguration exec)
    {
        ValidateEnvironment(exec);
        ValidateSandboxPath("workingDirectory", exec.WorkingDirectory, allowRoot: true);
        exec.Terminal?.Validate("terminal");
        if (!exec.Has(SandboxNamespaces.User))
            return;
        // Without explicit mappings the sandbox's user namespace maps its command's ids alone.
        if (sandbox.UidMappings.IsEmpty && exec.CommandUid != sandbox.CommandUid)
            throw new SandboxConfigurationException("uid", $"{exec.CommandUid} is not mapped in this sandbox, whose user namespace maps only its command's uid {sandbox.CommandUid}.",
                "Build the sandbox with WithUidMappings (and WithGidMappings) covering every id its commands run as.");
        if (sandbox.GidMappings.IsEmpty && exec.CommandGid != sandbox.CommandGid)
            throw new SandboxConfigurationException("gid", $"{exec.CommandGid} is not mapped in this sandbox, whose user namespace maps only its command's gid {sandbox.CommandGid}.",
                "Build the sandbox with WithGidMappings (and WithUidMappings) covering every id its commands run as.");
        CheckMapped("uid", exec.CommandUid, exec.UidMappings);
        CheckMapped("gid", exec.CommandGid, exec.GidMappings);
    }

    public const int MaxArguments = Helper.HelperProtocol.MaxArgs, MaxEnvironment = Helper.HelperProtocol.MaxEnv, MaxMounts = Helper.HelperProtocol.MaxMounts;
    public const int MaxStringBytes = Helper.HelperProtocol.MaxString; // MAX_ARG_STRLEN: execve refuses longer strings

    public static void ValidateCommand(IReadOnlyList<string> command)
    {
        if (command is { Count: > MaxArguments })
            throw new SandboxConfigurationException("command", $"{command.Count} arguments; at most {MaxArguments} are supported.");
        if (command is null || command.Count == 0)
            throw new SandboxConfigurationException("command", "the command is empty.", "Pass the program and its arguments, for example [\"/bin/sh\", \"-c\", \"echo hi\"].");
        if (string.IsNullOrEmpty(command[0]))
            throw new SandboxConfigurationException("command[0]", "the program name is empty.");
        for (int i = 0; i < command.Count; i++)
        {
            if (command[i] is null)
                throw new SandboxConfigurationException($"command[{i}]", "the argument is null.");
            if (command[i].Contains('\0'))
                throw new SandboxConfigurationException($"command[{i}]", "the argument contains a NUL character, which cannot reach a program.");
            if (System.Text.Encoding.UTF8.GetByteCount(command[i]) >= MaxStringBytes)
                throw new SandboxConfigurationException($"command[{i}]", $"the argument is {System.Text.Encoding.UTF8.GetByteCount(command[i])} bytes; the kernel's limit for one argument is {MaxStringBytes - 1}.", "Pass large data through standard input or a bind-mounted file.");
        }
    }

    private static void ValidateNamespaces(SandboxConfiguration config, HostIdentity caller)
    {
        if ((config.Namespaces & ~SandboxNamespaces.All) != 0)
            throw new SandboxConfigurationException("namespaces", $"unknown namespace flags 0x{(int)config.Namespaces:x}.");
        if (!caller.IsRoot && config.Namespaces != SandboxNamespaces.None && !config.Has(SandboxNamespaces.User))
            throw new SandboxConfigurationException("namespaces",
                $"the calling user (uid {caller.EffectiveUid}) is not root, and creating {config.Namespaces} namespaces without a user namespace needs root.",
                "Keep SandboxNamespaces.User, or run as root.");
        if (!config.Has(SandboxNamespaces.Mount))
        {
            if (!config.Root.IsHost || !config.Mounts.IsEmpty)
                throw new SandboxConfigurationException("namespaces",
                    "a root filesystem and mounts need the mount namespace, which is off.",
                    "Keep SandboxNamespaces.Mount, or call WithoutDefaultMounts() and keep the host root (the command then sees the host's filesystem exactly as the caller does).");
        }
    }

    private static void ValidateHostname(SandboxConfiguration config)
    {
        if (config.Hostname is not { } hostname)
            return;
        if (!config.Has(SandboxNamespaces.Uts))
            throw new SandboxConfigurationException("hostname", "a hostname needs the UTS namespace, which is off.", "Keep SandboxNamespaces.Uts, or do not set a hostname.");
        if (hostname.Length is 0 or > MaxHostnameLength)
            throw new SandboxConfigurationException("hostname", $"'{hostname}' must be 1 to {MaxHostnameLength} characters long.");
        foreach (var label in hostname.Split('.'))
        {
            bool ok = label.Length > 0 && label[0] != '-' && label[^1] != '-' && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
            if (!ok)
                throw new SandboxConfigurationException("hostname", $"'{hostname}' is not a valid hostname (letters, digits and inner hyphens, in dot-separated labels).");
        }
    }

    private static void ValidateIdentity(SandboxConfiguration config, HostIdentity caller)
    {
        if (!config.Has(SandboxNamespaces.User))
        {
            if (!config.UidMappings.IsEmpty || !config.GidMappings.IsEmpty)
                throw new SandboxConfigurationException("uidMappings", "id mappings need the user namespace, which is off.");
            if (!caller.IsRoot && ((config.Uid is { } u && u != caller.EffectiveUid) || (config.Gid is { } g && g != caller.EffectiveGid)))
                throw new SandboxConfigurationException("user", $"without a user namespace, only root can run the command as another user (caller is uid {caller.EffectiveUid}).", "Keep SandboxNamespaces.User.");
            return;
        }

        ValidateMappings("uidMappings", config.UidMappings, caller.EffectiveUid, caller, "uid");
        ValidateMappings("gidMappings", config.GidMappings, caller.EffectiveGid, caller, "gid");
        CheckMapped("uid", config.CommandUid, config.UidMappings);
        CheckMapped("gid", config.CommandGid, config.GidMappings);
    }

    private static void ValidatePrivileges(SandboxConfiguration config, HostIdentity caller)
    {
        foreach (var cap in config.Capabilities)
            if (!Enum.IsDefined(cap))
                throw new SandboxConfigurationException("capabilities", $"{(int)cap} is not a capability this library knows.", "Use the Capability enum's names (capabilities(7)).");
        if (!config.Capabilities.IsEmpty && !config.Has(SandboxNamespaces.User) && !caller.IsRoot)
            throw new SandboxConfigurationException("capabilities", "an unprivileged caller's command can keep capabilities only inside a user namespace.", "Keep SandboxNamespaces.User.");
        if (config.Umask is < 0 or > 0x1FF)
            throw new SandboxConfigurationException("umask", $"0{Convert.ToString(config.Umask, 8)} is not a umask (0 to 0777).");
        foreach (var (limit, value) in config.ResourceLimits)
        {
            if (!Enum.IsDefined(limit))
                throw new SandboxConfigurationException("resourceLimits", $"{(int)limit} is not a resource limit (RLIMIT_*) this library knows.");
            if (value.Soft > value.Hard)
                throw new SandboxConfigurationException($"resourceLimits.{ResourceLimitValue.NameOf(limit)}", $"the soft limit {value.Soft} is above the hard limit {value.Hard}.");
        }
        if (config.Seccomp is { } policy)
        {
            try
            {
                Seccomp.SeccompCompiler.Validate(policy);
            }
            catch (ArgumentException e)
            {
                throw new SandboxConfigurationException("seccomp", e.Message, "Check the system call names against the kernel's table (man 2 syscalls), or pass null for no filter.");
            }
        }
        if (config.Landlock is { } landlock)
        {
            if (landlock.Rules.Length > MaxMounts)
                throw new SandboxConfigurationException("landlock.rules", $"{landlock.Rules.Length} rules; at most {MaxMounts} are supported.");
            for (int i = 0; i < landlock.Rules.Length; i++)
            {
                var rule = landlock.Rules[i] ?? throw new SandboxConfigurationException($"landlock.rules[{i}]", "the rule is null.");
                ValidateSandboxPath($"landlock.rules[{i}].path", rule.Path, allowRoot: true);
                if (rule.Access == 0 || (rule.Access & ~LandlockAccess.All) != 0)
                    throw new SandboxConfigurationException($"landlock.rules[{i}].access", $"{rule.Access} grants nothing or has unknown bits.", "Use LandlockAccess.Read, Write, Execute or a combination.");
            }
        }
        if (config.SupplementaryGroups.Length > Helper.HelperProtocol.MaxGroups)
            throw new SandboxConfigurationException("supplementaryGroups", $"{config.SupplementaryGroups.Length} groups; at most {Helper.HelperProtocol.MaxGroups} are supported.");
        if (config.SupplementaryGroups.Length > 0 && config.Has(SandboxNamespaces.User))
        {
            if (config.GidMappings.IsEmpty)
                throw new SandboxConfigurationException("supplementaryGroups", "supplementary groups must be mapped in the user namespace, and the default mapping maps one gid only.",
                    caller.IsRoot ? "Map a range, for example WithGidMappings(new IdMapping(0, 100000, 65536))." : "An unprivileged caller's namespace cannot have supplementary groups (the kernel denies setgroups there).");
            foreach (uint gid in config.SupplementaryGroups)
                CheckMapped("supplementaryGroups", gid, config.GidMappings);
        }
    }

    private static void ValidateMappings(string setting, IReadOnlyList<IdMapping> mappings, uint callerId, HostIdentity caller, string kind)
    {
        if (mappings.Count > MaxIdMappings)
            throw new SandboxConfigurationException(setting, $"{mappings.Count} lines; the kernel accepts at most {MaxIdMappings}.");
        for (int i = 0; i < mappings.Count; i++)
        {
            var m = mappings[i];
            if (m.Count == 0)
                throw new SandboxConfigurationException($"{setting}[{i}]", "the count is 0.");
            if ((ulong)m.InsideId + m.Count > uint.MaxValue || (ulong)m.OutsideId + m.Count > uint.MaxValue)
                throw new SandboxConfigurationException($"{setting}[{i}]", $"'{m}' runs past the largest {kind} (4294967294).");
            for (int j = 0; j < i; j++)
            {
                var o = mappings[j];
                if (Overlaps(m.InsideId, m.Count, o.InsideId, o.Count))
                    throw new SandboxConfigurationException($"{setting}[{i}]", $"inside range of '{m}' overlaps line {j} '{o}'.");
                if (Overlaps(m.OutsideId, m.Count, o.OutsideId, o.Count))
                    throw new SandboxConfigurationException($"{setting}[{i}]", $"outside range of '{m}' overlaps line {j} '{o}'.");
            }
            if (!caller.IsRoot && (mappings.Count != 1 || m.OutsideId != callerId || m.Count != 1))
                throw new SandboxConfigurationException(setting,
                    $"an unprivileged caller can map only its own {kind} ({callerId}), one id; '{m}' asks for more.",
                    $"Map just {callerId} (for example WithUser(...) alone does that), or run as root for full ranges.");
        }
    }

    private static void CheckMapped(string setting, uint id, IReadOnlyList<IdMapping> mappings)
    {
        if (mappings.Count == 0)
            return; // the implicit mapping maps the caller to exactly this id
        if (!mappings.Any(m => m.ContainsInside(id)))
            throw new SandboxConfigurationException(setting, $"{id} is not mapped inside the sandbox ({string.Join(", ", mappings)}).",
                $"Add a mapping that covers {setting} {id}, or choose a {setting} inside the mapped range.");
    }

    private static bool Overlaps(uint a, uint aCount, uint b, uint bCount) =>
        (ulong)a < (ulong)b + bCount && (ulong)b < (ulong)a + aCount;

    private static void ValidateRoot(SandboxConfiguration config)
    {
        var root = config.Root ?? throw new SandboxConfigurationException("root", "the root is null.");
        switch (root.Kind)
        {
            case SandboxRootKind.Host:
                return;
            case SandboxRootKind.Directory:
                ValidateHostPath("root", root.Path);
                if (!Directory.Exists(root.Path))
                    throw new SandboxConfigurationException("root", $"'{root.Path}' is not a directory.", "Point WithRootFilesystem at an unpacked root filesystem (a directory with bin/, etc/, ...).");
                return;
            case SandboxRootKind.Overlay:
                if (root.Layers.IsDefaultOrEmpty)
                    throw new SandboxConfigurationException("root.layers", "an overlay root needs at least one layer.", "Pass the image's layer directories, bottom first.");
                if (root.Layers.Length > Helper.HelperProtocol.MaxLayers)
                    throw new SandboxConfigurationException("root.layers", $"{root.Layers.Length} layers; overlayfs takes at most {Helper.HelperProtocol.MaxLayers}.", "Flatten the image (docker export | sandbox --image).");
                for (int i = 0; i < root.Layers.Length; i++)
                {
                    ValidateHostPath($"root.layers[{i}]", root.Layers[i]);
                    if (!Directory.Exists(root.Layers[i]))
                        throw new SandboxConfigurationException($"root.layers[{i}]", $"'{root.Layers[i]}' is not a directory.", "Layers are directories (ImageStore.ImportAsync unpacks images into them).");
                }
                if (root.Upper is { DirectoryPath: { } dir })
                {
                    ValidateHostPath("root.upper", dir);
                    // SandboxStorage creates upper/ and work/ inside, often as root, and never
                    // follows a symlink there: a link would be refused then, so it is refused here.
                    if (Images.ImageNative.LStat(Path.TrimEndingDirectorySeparator(dir)) is { } st && (st.Mode & Images.ImageNative.S_IFMT) == Images.ImageNative.S_IFLNK)
                        throw new SandboxConfigurationException("root.upper", $"'{dir}' is a symlink; the writable layer must be a directory itself.",
                            $"Pass the directory it points to ('{HostPaths.Resolve(dir)}') if that is what you mean.");
                    if (File.Exists(dir))
                        throw new SandboxConfigurationException("root.upper", $"'{dir}' is a file; the writable layer needs a directory.");
                    // By real paths: a symlinked parent must not smuggle the directory into a
                    // layer (where upper/ and work/ would then be created), nor a layer into it.
                    string realDir = HostPaths.Resolve(dir);
                    if (root.Layers.FirstOrDefault(l => HostPaths.Overlap(realDir, HostPaths.Resolve(l))) is { } layer)
                        throw new SandboxConfigurationException("root.upper", $"'{dir}' ({realDir}) overlaps the layer '{layer}'; overlayfs refuses layers inside one another, and a layer must never change.",
                            "Keep the writable directory outside the image store and the layers.");
                }
                if (root.Upper is { SizeBytes: <= 0 })
                    throw new SandboxConfigurationException("root.upper.size", $"{root.Upper.SizeBytes} is not a positive size.");
                return;
            default:
                throw new SandboxConfigurationException("root", $"unknown root kind {root.Kind}.");
        }
    }

    private static void ValidateMounts(SandboxConfiguration config)
    {
        if (config.Mounts.Length > MaxMounts)
            throw new SandboxConfigurationException("mounts", $"{config.Mounts.Length} mounts; at most {MaxMounts} are supported.");
        for (int i = 0; i < config.Mounts.Length; i++)
        {
            var mount = config.Mounts[i];
            string setting = $"mounts[{i}]";
            if (mount is null)
                throw new SandboxConfigurationException(setting, "the mount is null.");
            ValidateSandboxPath($"{setting}.target", mount.Target, allowRoot: false);
            switch (mount)
            {
                case BindMount bind:
                    ValidateHostPath($"{setting}.source", bind.Source);
                    if (!bind.Optional && !File.Exists(bind.Source) && !Directory.Exists(bind.Source))
                        throw new SandboxConfigurationException($"{setting}.source", $"'{bind.Source}' does not exist on the host.",
                            "Create it or fix the path (from the API, a bind mount can also be marked optional).");
                    break;
                case TmpfsMount tmpfs:
                    if (tmpfs.SizeBytes is <= 0)
                        throw new SandboxConfigurationException($"{setting}.size", $"{tmpfs.SizeBytes} is not a positive size.");
                    ValidateMode($"{setting}.mode", tmpfs.Mode);
                    break;
                case ProcMount or DevMount or SysfsMount:
                    break;
                case MqueueMount:
                    if (!config.Has(SandboxNamespaces.Ipc))
                        throw new SandboxConfigurationException(setting, "an mqueue mount needs the IPC namespace (it shows the queues of the namespace that mounts it).", "Keep SandboxNamespaces.Ipc, or drop the mqueue mount.");
                    break;
                case VolumeMount volume:
                    if (!VolumeStore.IsValidName(volume.Name))
                        throw new SandboxConfigurationException($"{setting}.name", $"'{volume.Name}' is not a volume name.", "Use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 128 characters); a host path makes a bind mount instead.");
                    break;
                case SymlinkEntry link:
                    if (string.IsNullOrEmpty(link.LinkText) || link.LinkText.Contains('\0') || System.Text.Encoding.UTF8.GetByteCount(link.LinkText) >= MaxPathLength)
                        throw new SandboxConfigurationException($"{setting}.linkText", "a symlink's text must be non-empty, shorter than 4096 bytes and free of NUL characters.");
                    break;
                case DirectoryEntry dir:
                    ValidateMode($"{setting}.mode", dir.Mode);
                    break;
                case FileEntry file:
                    ValidateMode($"{setting}.mode", file.Mode);
                    if (file.Content is null || file.Content.Contains('\0') || System.Text.Encoding.UTF8.GetByteCount(file.Content) >= MaxStringBytes)
                        throw new SandboxConfigurationException($"{setting}.content", $"a created file holds text of less than {MaxStringBytes} bytes without NUL characters.", "Bind a host file for larger or binary content.");
                    break;
                default:
                    throw new SandboxConfigurationException(setting, $"unsupported mount type {mount.GetType().Name}.");
            }
        }
    }

    private static void ValidateMode(string setting, int mode)
    {
        if (mode is < 0 or > 0xFFF)
            throw new SandboxConfigurationException(setting, $"0{Convert.ToString(mode, 8)} is not a permission mode (0 to 07777).");
    }

    public const long MinMemoryBytes = 6 * 1024 * 1024; // docker's minimum: less cannot start a process

    private static void ValidateResources(SandboxConfiguration config)
    {
        if (config.Resources is not { } r)
            return;
        if (r.MemoryBytes is { } m && m < MinMemoryBytes)
            throw new SandboxConfigurationException("resources.memory", $"{m} bytes is below the minimum of {MinMemoryBytes} (6 MiB).", "Use a size such as 64m.");
        if (r.MemorySwapBytes is { } ms && ms != -1 && (ms < MinMemoryBytes || (r.MemoryBytes is { } m2 && ms < m2)))
            throw new SandboxConfigurationException("resources.memorySwap", $"{ms} must be -1 (unlimited swap) or at least the memory limit (memory + swap, as docker's --memory-swap).");
        if (r.MemoryReservationBytes is <= 0)
            throw new SandboxConfigurationException("resources.memoryReservation", "must be positive.");
        if (r.Cpus is { } c && (!double.IsFinite(c) || c < 0.01 || c > Environment.ProcessorCount))
            throw new SandboxConfigurationException("resources.cpus", $"{c} must be between 0.01 and the number of CPUs ({Environment.ProcessorCount}).");
        if (r.CpuShares is { } sh && (sh < 2 || sh > 262144))
            throw new SandboxConfigurationException("resources.cpuShares", $"{sh} must be between 2 and 262144 (1024 is normal).");
        if (r.PidsMax is { } p && p < 1)
            throw new SandboxConfigurationException("resources.pidsLimit", $"{p} must be at least 1.");
        foreach (var (name, value) in new[] { ("resources.cpusetCpus", r.CpusetCpus), ("resources.cpusetMems", r.CpusetMems) })
            if (value is not null && !System.Text.RegularExpressions.Regex.IsMatch(value, @"^\d+(-\d+)?(,\d+(-\d+)?)*$"))
                throw new SandboxConfigurationException(name, $"'{value}' is not a CPU list such as 0-1,3.");
        foreach (var t in r.IoThrottles.IsDefault ? [] : r.IoThrottles)
            if (!Directory.Exists($"/sys/dev/block/{t.Major}:{t.Minor}"))
                throw new SandboxConfigurationException("resources.ioThrottles", $"there is no block device {t.Major}:{t.Minor} on this host.", "ls -l /dev/<disk> shows major, minor.");
    }

    private static void ValidateEnvironment(SandboxConfiguration config)
    {
        if (config.Environment.Count > MaxEnvironment)
            throw new SandboxConfigurationException("environment", $"{config.Environment.Count} variables; at most {MaxEnvironment} are supported.");
        foreach (var (name, value) in config.Environment)
        {
            if (name.Length == 0 || name.Contains('=') || name.Contains('\0'))
                throw new SandboxConfigurationException("environment", $"'{name}' is not a variable name (non-empty, no '=' or NUL).");
            if (value is null || value.Contains('\0'))
                throw new SandboxConfigurationException($"environment.{name}", "the value is null or contains a NUL character.");
            if (System.Text.Encoding.UTF8.GetByteCount(name) + System.Text.Encoding.UTF8.GetByteCount(value) + 1 >= MaxStringBytes)
                throw new SandboxConfigurationException($"environment.{name}", $"the variable is longer than the kernel's limit of {MaxStringBytes - 1} bytes.");
        }
    }

    /// <summary>A path inside the sandbox: absolute, normalised, no '.' or '..' components.</summary>
    internal static void ValidateSandboxPath(string setting, string path, bool allowRoot)
    {
        if (string.IsNullOrEmpty(path))
            throw new SandboxConfigurationException(setting, "the path is empty.");
        if (path[0] != '/')
            throw new SandboxConfigurationException(setting, $"'{path}' is relative; paths inside the sandbox must be absolute.", $"Use '/{path}'.");
        if (System.Text.Encoding.UTF8.GetByteCount(path) >= MaxPathLength || path.Contains('\0'))
            throw new SandboxConfigurationException(setting, "the path is 4096 bytes or longer, or contains a NUL character.");
        if (path == "/")
        {
            if (!allowRoot)
                throw new SandboxConfigurationException(setting, "'/' cannot be a mount target; choose the root with WithRootFilesystem.");
            return;
        }
        foreach (var part in path[1..].Split('/'))
        {
            if (part is "..")
                throw new SandboxConfigurationException(setting, $"'{path}' contains '..'; a sandbox path may not climb out of its parent.", "Write the resolved absolute path.");
            if (part is "." or "")
                throw new SandboxConfigurationException(setting, $"'{path}' is not normalised (empty or '.' component).", $"Use '{Normalise(path)}'.");
        }
    }

    private static void ValidateHostPath(string setting, string path)
    {
        if (string.IsNullOrEmpty(path))
            throw new SandboxConfigurationException(setting, "the path is empty.");
        if (path[0] != '/')
            throw new SandboxConfigurationException(setting, $"'{path}' is relative; host paths must be absolute.", $"Use '{Path.GetFullPath(path)}'.");
        if (System.Text.Encoding.UTF8.GetByteCount(path) >= MaxPathLength || path.Contains('\0'))
            throw new SandboxConfigurationException(setting, "the path is 4096 bytes or longer, or contains a NUL character.");
    }

    private static string Normalise(string path) =>
        "/" + string.Join('/', path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != "."));
}
