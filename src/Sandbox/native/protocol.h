/*
 * protocol.h - the wire format between the .NET library and sandbox-helper.
 *
 * This file is the single C definition of the protocol; HelperProtocol.cs is the single
 * C# one, and a test reads this header and checks that every constant matches. The
 * protocol is described, with a diagram, in docs/helper-protocol.md.
 *
 * All integers are little-endian and unaligned; strings are length-prefixed bytes
 * without a terminating NUL (a NUL inside a string is a malformed spec).
 */
#ifndef SBX_PROTOCOL_H
#define SBX_PROTOCOL_H

/* ---- File descriptors the helper is started with ---------------------------------- */
#define SBX_FD_SPEC 3    /* memfd holding the whole spec, read with pread from offset 0 */
#define SBX_FD_CONTROL 4 /* AF_UNIX SOCK_SEQPACKET: commands in, reports out */
#define SBX_FD_FIRST_EXTRA 5 /* everything from here on is closed at helper start */

/* ---- Spec: header, then records --------------------------------------------------- */
/* header: u32 magic, u32 version, u32 total length in bytes (header included) */
#define SBX_SPEC_MAGIC 0x53584253u /* the bytes "SBXS" */
#define SBX_SPEC_VERSION 1
#define SBX_SPEC_HEADER_SIZE 12
#define SBX_SPEC_MAX_SIZE (64u * 1024u * 1024u)
/* record: u16 tag, u16 reserved (0), u32 payload length, payload */
#define SBX_RECORD_HEADER_SIZE 8

/* payload: u32 namespace flags (SBX_NS_*) - required, once */
#define SBX_REC_NAMESPACES 1
/* payload: string - once */
#define SBX_REC_HOSTNAME 2
/* payload: u32 inside, u32 outside, u32 count - repeated, in order */
#define SBX_REC_UID_MAP 3
#define SBX_REC_GID_MAP 4
/* payload: u32 uid, u32 gid inside the sandbox for the command - once */
#define SBX_REC_USER 5
/* payload: u32 flags (SBX_ROOT_*), string path ("/" is the host; empty for an overlay root,
 * whose layers come in SBX_REC_OVERLAY_LOWER and SBX_REC_OVERLAY_UPPER) - required, once */
#define SBX_REC_ROOT 6
/* payload: u32 type (SBX_MOUNT_*), u32 flags (SBX_MOUNTF_*), u32 mode, u64 size,
 *          u32 source length, source, u32 target length, target - repeated, in order */
#define SBX_REC_MOUNT 7
/* payload: string - repeated, in order; at least one */
#define SBX_REC_ARG 8
/* payload: string "NAME=value" - repeated */
#define SBX_REC_ENV 9
/* payload: string, absolute path inside the sandbox - once */
#define SBX_REC_CWD 10
/* payload: i64 monotonic offset ns, i64 boottime offset ns - once, needs SBX_NS_TIME */
#define SBX_REC_TIME_OFFSETS 11
/* payload: u64 wall-clock limit in milliseconds - once */
#define SBX_REC_TIMEOUT 12
/* payload: string, a cgroup.procs file the helper writes "0" into before it clones, so the
 * sandbox's init starts inside that (v1) cgroup - repeated */
#define SBX_REC_CGROUP_JOIN 13
/* payload: string, a cgroup.procs file the helper writes "0" into right after it cloned: its
 * own original cgroup, so the supervisor does not count against the sandbox's limits -
 * repeated */
#define SBX_REC_CGROUP_RETURN 14
/* payload: string, a cgroup v2 directory the sandbox's init is cloned into
 * (clone3 CLONE_INTO_CGROUP, Linux 5.7) - once */
#define SBX_REC_CGROUP_UNIFIED 15
/* payload: string, absolute path inside the sandbox hidden after the mounts: an empty
 * read-only tmpfs over a directory, /dev/null over a file; skipped when missing - repeated */
#define SBX_REC_MASK_PATH 16
/* payload: string, absolute path inside the sandbox made read-only (recursively) after the
 * mounts; skipped when missing - repeated */
#define SBX_REC_READONLY_PATH 17
/* payload: string, absolute host path of a read-only overlay layer - repeated, TOP layer first
 * (overlayfs's lowerdir order); only with SBX_ROOT_OVERLAY, at least one */
#define SBX_REC_OVERLAY_LOWER 18
/* payload: u64 tmpfs size cap in bytes (0: the kernel's default), u32 length, upper directory,
 * u32 length, work directory - required once with SBX_ROOT_OVERLAY. Both directories empty: the
 * writable layer is a tmpfs of the sandbox's own, gone at exit; both absolute host paths on one
 * filesystem: a persistent writable layer. A read-only overlay root is a tmpfs upper plus
 * SBX_ROOT_READONLY, so mount targets can still be created before it turns read-only. */
#define SBX_REC_OVERLAY_UPPER 19
/* payload: u32 resource (RLIMIT_*), u64 soft, u64 hard (UINT64_MAX: unlimited) - repeated, at
 * most once per resource; set on the command just before exec */
#define SBX_REC_RLIMIT 20
/* payload: u64 capability mask the command keeps in its bounding, permitted, effective,
 * inheritable and ambient sets - once; absent: it keeps none */
#define SBX_REC_CAPABILITIES 21
/* payload: u32 supplementary gid inside the sandbox - repeated (SBX_MAX_GROUPS) */
#define SBX_REC_GROUP 22
/* payload: u32 umask - once; absent: 022 */
#define SBX_REC_UMASK 23
/* payload: a classic BPF program for seccomp (struct sock_filter: u16 code, u8 jt, u8 jf,
 * u32 k; at most SBX_MAX_BPF_INSNS), installed as the command's last step before exec - once */
#define SBX_REC_SECCOMP 24
/* payload: u32 flags (SBX_SECURITY_*) - once */
#define SBX_REC_SECURITY 25
/* payload: u32 flags (SBX_LANDLOCK_*) - once; present: the command runs under a Landlock
 * ruleset that handles every filesystem access the kernel knows, so only the rules below grant
 * any */
#define SBX_REC_LANDLOCK 26
/* payload: u32 access (SBX_LANDLOCK_READ | _WRITE | _EXECUTE [| _OPTIONAL]), string absolute path inside the
 * sandbox - repeated (SBX_MAX_MOUNTS), only with SBX_REC_LANDLOCK */
#define SBX_REC_LANDLOCK_RULE 27
/* no payload - once: the command's stdin is a terminal the library allocated for it; it
 * becomes the command's controlling terminal (TIOCSCTTY in its new session) */
#define SBX_REC_TERMINAL 28
/* no payload - once, never in an exec's spec: the sandbox is created but its command waits.
 * init sets everything up, the helper reports SBX_MSG_CREATED, and the command starts only on
 * SBX_CMD_START; the timeout counts from then */
#define SBX_REC_WAIT_FOR_START 29

/* security flags */
#define SBX_SECURITY_ALLOW_NEW_PRIVS 0x01 /* no PR_SET_NO_NEW_PRIVS: setuid binaries work */
#define SBX_SECURITY_SECCOMP_LOG 0x02     /* SECCOMP_FILTER_FLAG_LOG: log what the filter denies */

/* Landlock */
#define SBX_LANDLOCK_BEST_EFFORT 0x01 /* flag: run without Landlock where the kernel has none */
#define SBX_LANDLOCK_READ 0x01        /* access: read files, list directories */
#define SBX_LANDLOCK_WRITE 0x02       /* access: write, create, remove, rename, truncate */
#define SBX_LANDLOCK_EXECUTE 0x04     /* access: execute files */
#define SBX_LANDLOCK_OPTIONAL 0x08    /* access flag: skip the rule when its path is missing */

/* namespace flags */
#define SBX_NS_USER 0x01
#define SBX_NS_PID 0x02
#define SBX_NS_MOUNT 0x04
#define SBX_NS_NET 0x08
#define SBX_NS_UTS 0x10
#define SBX_NS_IPC 0x20
#define SBX_NS_CGROUP 0x40
#define SBX_NS_TIME 0x80
#define SBX_NS_ALL 0xff

/* root flags */
#define SBX_ROOT_READONLY 0x01
#define SBX_ROOT_OVERLAY 0x02 /* the root is an overlay of SBX_REC_OVERLAY_* layers */
/* The helper (root on the host) gives every lower layer an idmapped mount (Linux 5.12; overlayfs takes them from 5.19) through
 * the sandbox's user namespace and hands them to init over the report channel: an image whose
 * files belong to host uid 0 then belongs to root inside, although root inside is an
 * unprivileged host user. Needs SBX_ROOT_OVERLAY and SBX_NS_USER. */
#define SBX_ROOT_IDMAP_LAYERS 0x04

/* mount types */
#define SBX_MOUNT_BIND 1
#define SBX_MOUNT_TMPFS 2
#define SBX_MOUNT_PROC 3
#define SBX_MOUNT_DEV 4 /* tmpfs with null, zero, full, random, urandom, tty; devpts; shm */
#define SBX_MOUNT_SYSFS 5 /* a read-only sysfs of the sandbox's network namespace */
#define SBX_MOUNT_MQUEUE 6 /* POSIX message queues of the sandbox's IPC namespace */
/* Not mounts, but steps in the same ordered list, so they can land on a tmpfs mounted before: */
#define SBX_MOUNT_SYMLINK 7 /* create a symlink at target whose text is source */
#define SBX_MOUNT_DIR 8     /* create a directory (and missing parents) with mode */
#define SBX_MOUNT_FILE 9    /* create or replace a file with mode, holding source as its content */

/* mount flags */
#define SBX_MOUNTF_READONLY 0x01
#define SBX_MOUNTF_RECURSIVE 0x02
#define SBX_MOUNTF_OPTIONAL 0x04 /* bind: skip silently when the source is missing */
#define SBX_MOUNTF_NOSUID 0x08
#define SBX_MOUNTF_NODEV 0x10
#define SBX_MOUNTF_NOEXEC 0x20

/* limits the parser enforces */
#define SBX_MAX_ARGS 65536
#define SBX_MAX_ENV 65536
#define SBX_MAX_MOUNTS 1024
#define SBX_MAX_ID_MAPS 340 /* the kernel's limit on uid_map lines */
#define SBX_MAX_PATH 4096
#define SBX_MAX_STRING (128 * 1024) /* MAX_ARG_STRLEN */
#define SBX_MAX_HOSTNAME 64
#define SBX_MAX_CGROUP_PATHS 32
#define SBX_MAX_GROUPS 64
#define SBX_RLIMIT_COUNT 16 /* RLIMIT_NLIMITS: resources are 0 to 15 on every architecture */
#define SBX_MAX_BPF_INSNS 4096 /* BPF_MAXINSNS */
#define SBX_MAX_EXECS 64 /* exec'd commands running at once in one sandbox */
#define SBX_MAX_LAYERS 128 /* overlay lower layers (docker's limit is 127; SCM_RIGHTS takes 253) */

/* ---- Control channel messages (both directions) ----------------------------------- */
/* every message: u32 type, i32 a, i32 b, i32 c, then up to SBX_MSG_MAX_DETAIL bytes of
 * detail text (not NUL-terminated); one message per SEQPACKET datagram */
#define SBX_MSG_HEADER_SIZE 16
#define SBX_MSG_MAX_DETAIL 1024

/* helper -> library */
#define SBX_MSG_ERROR 1   /* a = step (SBX_STEP_*), b = errno, detail = path or text */
#define SBX_MSG_STARTED 2 /* a = host pid of the command (0 if unknown), b = host pid of init;
                           * from init to the helper, b = 1 when SCM_CREDENTIALS carry the
                           * command's pid */
#define SBX_MSG_EXITED 3  /* a = SBX_EXIT_*, b = exit code or signal, c = SBX_REASON_* */
/* Commands exec'd into the running sandbox (SBX_CMD_EXEC); every one ends with exactly one
 * EXEC_ERROR, or with EXEC_STARTED and later EXEC_EXITED, all before the sandbox's EXITED. */
#define SBX_MSG_EXEC_STARTED 4 /* a = exec id, b = host pid of the exec'd command */
#define SBX_MSG_EXEC_ERROR 5   /* a = exec id, b = step (SBX_STEP_*), c = errno, detail */
#define SBX_MSG_EXEC_EXITED 6  /* a = exec id, b = SBX_EXIT_*, c = exit code or signal */
/* inside the helper only, init -> helper: SCM_RIGHTS carries init's namespaces, which
 * exec'd commands join: one fd per namespace the spec asks for, in the order user, mnt, pid,
 * net, uts, ipc, cgroup, time (the time namespace init made for its children) */
#define SBX_MSG_NAMESPACES 7
/* with SBX_REC_WAIT_FOR_START: the sandbox is set up and waits for SBX_CMD_START; a = host
 * pid of its init (from init to the helper: no fields) */
#define SBX_MSG_CREATED 8

/* library -> helper */
#define SBX_CMD_SIGNAL 101 /* a = signal, delivered to the command: one of the forwarded
                              * signals below, or SIGKILL (same as SBX_CMD_KILL) */
#define SBX_CMD_KILL 102   /* SIGKILL every process of the sandbox */
/* a = exec id (the library's choice, unique per sandbox); SCM_RIGHTS carries exactly four
 * fds: a memfd with a whole spec (the sandbox's, with the exec's command, environment,
 * working directory and user), then the command's stdin, stdout and stderr. The command
 * joins the sandbox's namespaces (init's), the spec's cgroups, and runs under the
 * spec's user, capabilities, rlimits, Landlock rules and seccomp filter. */
#define SBX_CMD_EXEC 103
#define SBX_CMD_EXEC_SIGNAL 104 /* a = exec id, b = signal: a forwarded one or SIGKILL */
/* the answer to SBX_MSG_EXITED: the library has the report and removes the cgroups itself;
 * the helper exits (until then its pid stays the library's to open a pidfd on) */
#define SBX_CMD_DONE 105
/* start the command of a sandbox created with SBX_REC_WAIT_FOR_START (ignored otherwise, and
 * after the first); the helper passes it on to init over the report channel. The answer is
 * SBX_MSG_STARTED, or SBX_MSG_ERROR when the command cannot be executed */
#define SBX_CMD_START 106
/* end of file on the control channel: the library is gone; kill everything, remove the
 * cgroups, exit */

#define SBX_EXIT_CODE 1
#define SBX_EXIT_SIGNAL 2

/* SIGHUP SIGINT SIGQUIT SIGUSR1 SIGUSR2 SIGALRM SIGTERM SIGCONT SIGWINCH (the same numbers on
 * every Linux architecture we build for) */
#define SBX_FORWARDED_SIGNALS 1, 2, 3, 10, 12, 14, 15, 18, 28

#define SBX_REASON_EXITED 0  /* the command ended on its own */
#define SBX_REASON_TIMEOUT 1 /* the helper killed the sandbox at SBX_REC_TIMEOUT */
#define SBX_REASON_KILLED 2  /* the helper killed the sandbox on SBX_CMD_KILL */

/* ---- Steps named in SBX_MSG_ERROR ------------------------------------------------- */
#define SBX_STEP_SPEC_READ 1
#define SBX_STEP_SPEC_PARSE 2
#define SBX_STEP_CLONE 3
#define SBX_STEP_SETGROUPS 4
#define SBX_STEP_UID_MAP 5
#define SBX_STEP_GID_MAP 6
#define SBX_STEP_SYNC 7
#define SBX_STEP_HOSTNAME 8
#define SBX_STEP_LOOPBACK 9
#define SBX_STEP_TIME_NAMESPACE 10
#define SBX_STEP_MOUNT_PRIVATE 11
#define SBX_STEP_ROOT 12
#define SBX_STEP_MOUNT_TARGET 13
#define SBX_STEP_MOUNT_BIND 14
#define SBX_STEP_MOUNT_TMPFS 15
#define SBX_STEP_MOUNT_PROC 16
#define SBX_STEP_MOUNT_DEV 17
#define SBX_STEP_PIVOT_ROOT 18
#define SBX_STEP_CHDIR 19
#define SBX_STEP_SET_USER 20
#define SBX_STEP_FORK 21
#define SBX_STEP_EXEC 22
#define SBX_STEP_EXEC_NOT_FOUND 23
#define SBX_STEP_SUPERVISE 24
#define SBX_STEP_CGROUP 25
#define SBX_STEP_MASK 26
#define SBX_STEP_MOUNT_SYSFS 27
#define SBX_STEP_OVERLAY 28
#define SBX_STEP_IDMAP_LAYERS 29
#define SBX_STEP_MOUNT_MQUEUE 30
#define SBX_STEP_CREATE 31 /* SBX_MOUNT_SYMLINK, SBX_MOUNT_DIR, SBX_MOUNT_FILE */
#define SBX_STEP_RLIMIT 32
#define SBX_STEP_CAPABILITIES 33
#define SBX_STEP_SECCOMP 34
#define SBX_STEP_LANDLOCK 35
#define SBX_STEP_EXEC_JOIN 36 /* an exec'd command joins the running sandbox */
#define SBX_STEP_TERMINAL 37

#endif
