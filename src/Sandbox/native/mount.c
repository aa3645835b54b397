/* mount.c - the sandbox's filesystem.
 *
 * Everything is fd-based (open_tree, fsopen/fsmount, move_mount, mount_setattr; Linux 5.12+):
 * a mount is built detached, given its flags, then attached to a target that was resolved
 * with openat2(RESOLVE_IN_ROOT) against the new root. A symlink or ".." in a root
 * filesystem therefore cannot send a mount, or a directory we create, outside that root
 * (the runc CVE-2021-30465 class).
 *
 * Order: clone the root tree and every bind source first, while the host's paths are still
 * what the caller meant; then cover /tmp with a private staging tmpfs and attach the root
 * tree there; apply the mounts in spec order; pivot_root into it and detach the old root,
 * staging included. */
#include "mount.h"

#include "kernel.h"
#include "protocol.h"
#include "report.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define STAGING "/tmp"
#define NEW_ROOT STAGING "/root"

/* Detached copy of a host tree; -1 with errno on failure. */
static int clone_tree(const char *path, int recursive)
{
    return sys_open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
}

static int set_mount_attrs(int mnt_fd, uint64_t attrs, int recursive)
{
    struct sbx_mount_attr attr = {.attr_set = attrs, .propagation = MS_PRIVATE};
    return sys_mount_setattr(mnt_fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr);
}

static uint64_t attrs_from_flags(uint32_t flags)
{
    uint64_t attrs = 0;
    if (flags & SBX_MOUNTF_READONLY)
        attrs |= SBX_MOUNT_ATTR_RDONLY;
    if (flags & SBX_MOUNTF_NOSUID)
        attrs |= SBX_MOUNT_ATTR_NOSUID;
    if (flags & SBX_MOUNTF_NODEV)
        attrs |= SBX_MOUNT_ATTR_NODEV;
    if (flags & SBX_MOUNTF_NOEXEC)
        attrs |= SBX_MOUNT_ATTR_NOEXEC;
    return attrs;
}

/* Resolve path inside root_fd without ever leaving it; O_PATH fd or -1 with errno. */
static int open_in_root(int root_fd, const char *path)
{
    struct sbx_open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = SBX_RESOLVE_IN_ROOT | SBX_RESOLVE_NO_MAGICLINKS};
    return (int)RETRY_EINTR(sys_openat2(root_fd, path, &how));
}

/* Split an absolute path into its parent ("/" for a top-level name) and its last component. */
static int split_path(const char *path, char parent[SBX_MAX_PATH], const char **name)
{
    const char *slash = strrchr(path, '/');
    size_t plen = (size_t)(slash - path);
    if (plen == 0)
        plen = 1; /* parent is "/" */
    if (plen >= SBX_MAX_PATH || slash[1] == '\0') {
        errno = plen >= SBX_MAX_PATH ? ENAMETOOLONG : EINVAL;
        return -1;
    }
    memcpy(parent, path, plen);
    parent[plen] = '\0';
    *name = slash + 1;
    return 0;
}

/* Open (creating when missing) the mount target `path` inside root_fd: a directory, or an
 * empty file when the mount source is a file. Parents are created as directories. Every
 * component is resolved by openat2 inside the root, and mkdirat/openat(O_EXCL) never follow
 * a symlink in the last component, so nothing is created outside the root. */
static int open_target(int root_fd, const char *path, int want_dir)
{
    int fd = open_in_root(root_fd, path);
    if (fd >= 0 || errno != ENOENT)
        return fd;

    char parent[SBX_MAX_PATH];
    const char *name;
    if (split_path(path, parent, &name) != 0)
        return -1;
    cleanup_fd int parent_fd = open_target(root_fd, parent, 1);
    if (parent_fd < 0)
        return -1;
    int dir_fd = parent_fd; /* an O_PATH directory fd is enough for mkdirat and openat */
    if (want_dir) {
        if (mkdirat(dir_fd, name, 0755) != 0 && errno != EEXIST)
            return -1;
    } else {
        int ffd = (int)RETRY_EINTR(openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (ffd < 0 && errno != EEXIST)
            return -1;
        if (ffd >= 0)
            close(ffd);
    }
    return open_in_root(root_fd, path);
}

static void attach(int mnt_fd, int root_fd, const char *target, int want_dir, int step)
{
    cleanup_fd int target_fd = open_target(root_fd, target, want_dir);
    if (target_fd < 0)
        die(SBX_STEP_MOUNT_TARGET, errno, "%s", target);
    if (sys_move_mount(mnt_fd, "", target_fd, "", SBX_MOVE_MOUNT_F_EMPTY_PATH | SBX_MOVE_MOUNT_T_EMPTY_PATH) != 0)
        die(step, errno, "attach at %s", target);
}

/* Configure an fsopen()ed filesystem, create it and return its detached mount with attributes.
 * options: key/value pairs ending at a NULL key; a NULL value makes the key a flag. */
static int configure_fs(int fs_fd, const char *type, const char *const *options, uint64_t attrs, int step, const char *target)
{
    for (; options != NULL && options[0] != NULL; options += 2) {
        int rc = options[1] == NULL ? sys_fsconfig(fs_fd, SBX_FSCONFIG_SET_FLAG, options[0], NULL, 0)
                                    : sys_fsconfig(fs_fd, SBX_FSCONFIG_SET_STRING, options[0], options[1], 0);
        if (rc != 0)
            die(step, errno, "%s option %s=%s for %s", type, options[0], options[1] != NULL ? options[1] : "", target);
    }
    if (sys_fsconfig(fs_fd, SBX_FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
        int err = errno;
        char log[256] = "";
        ssize_t n = read(fs_fd, log, sizeof log - 1); /* the kernel's own reason, if any */
        log[n > 0 ? n : 0] = '\0';
        die(step, err, "create %s for %s%s%s", type, target, n > 0 ? ": " : "", log);
    }
    int mnt_fd = sys_fsmount(fs_fd, SBX_FSMOUNT_CLOEXEC, (unsigned)attrs);
    if (mnt_fd < 0)
        die(step, errno, "fsmount(%s) for %s", type, target);
    return mnt_fd;
}

/* A new filesystem instance (tmpfs, proc, devpts, sysfs), detached, with mount attributes. */
static int new_fs(const char *type, const char *const *options, uint64_t attrs, int step, const char *target)
{
    cleanup_fd int fs_fd = sys_fsopen(type, SBX_FSOPEN_CLOEXEC);
    if (fs_fd < 0)
        die(step, errno, "fsopen(%s) for %s", type, target);
    return configure_fs(fs_fd, type, options, attrs, step, target);
}

/* sysfs shows the network devices of the namespace that mounts it: the sandbox's only. */
static void mount_sysfs(int root_fd, const struct sbx_mount *m)
{
    cleanup_fd int mnt_fd = new_fs("sysfs", NULL, SBX_MOUNT_ATTR_RDONLY | SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV | SBX_MOUNT_ATTR_NOEXEC, SBX_STEP_MOUNT_SYSFS, m->target);
    attach(mnt_fd, root_fd, m->target, 1, SBX_STEP_MOUNT_SYSFS);
}

static void mount_tmpfs(int root_fd, const struct sbx_mount *m)
{
    char size[32], mode[16];
    snprintf(mode, sizeof mode, "%o", m->mode);
    snprintf(size, sizeof size, "%llu", (unsigned long long)m->size);
    const char *opts[] = {"mode", mode, m->size ? "size" : NULL, size, NULL};
    cleanup_fd int mnt_fd = new_fs("tmpfs", opts, attrs_from_flags(m->flags) | SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV, SBX_STEP_MOUNT_TMPFS, m->target);
    attach(mnt_fd, root_fd, m->target, 1, SBX_STEP_MOUNT_TMPFS);
}

static void mount_proc(int root_fd, const struct sbx_mount *m)
{
    cleanup_fd int mnt_fd = new_fs("proc", NULL, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV | SBX_MOUNT_ATTR_NOEXEC, SBX_STEP_MOUNT_PROC, m->target);
    attach(mnt_fd, root_fd, m->target, 1, SBX_STEP_MOUNT_PROC);
}

/* A tmpfs holding bind mounts of the host's harmless character devices. Device nodes
 * cannot be created in a user namespace, so binding the host's nodes is the only way. */
static void mount_dev(int root_fd, const struct sbx_mount *m)
{
    static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
    static const char *const links[][2] = {
        {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}};
    const char *opts[] = {"mode", "755", "size", "65536", NULL};
    cleanup_fd int mnt_fd = new_fs("tmpfs", opts, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NOEXEC, SBX_STEP_MOUNT_DEV, m->target);
    /* Populate through the detached mount's own root fd before it is attached. */
    for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
        int fd = (int)RETRY_EINTR(openat(mnt_fd, devices[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
        if (fd < 0)
            die(SBX_STEP_MOUNT_DEV, errno, "create %s/%s", m->target, devices[i]);
        close(fd);
    }
    if (symlinkat("pts/ptmx", mnt_fd, "ptmx") != 0)
        die(SBX_STEP_MOUNT_DEV, errno, "symlink %s/ptmx", m->target);
    for (size_t i = 0; i < sizeof links / sizeof *links; i++)
        if (symlinkat(links[i][1], mnt_fd, links[i][0]) != 0)
            die(SBX_STEP_MOUNT_DEV, errno, "symlink %s/%s", m->target, links[i][0]);
    for (const char *dir = "pts"; dir != NULL; dir = strcmp(dir, "pts") == 0 ? "shm" : NULL)
        if (mkdirat(mnt_fd, dir, 0755) != 0)
            die(SBX_STEP_MOUNT_DEV, errno, "mkdir %s/%s", m->target, dir);
    attach(mnt_fd, root_fd, m->target, 1, SBX_STEP_MOUNT_DEV);

    /* Its own devpts instance: ptys work inside, and none of the host's terminals is there. */
    char pts_target[SBX_MAX_PATH];
    snprintf(pts_target, sizeof pts_target, "%s/pts", m->target);
    const char *pts_opts[] = {"newinstance", NULL, "ptmxmode", "0666", "mode", "0620", NULL};
    {
        cleanup_fd int pts_fd = new_fs("devpts", pts_opts, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NOEXEC, SBX_STEP_MOUNT_DEV, pts_target);
        attach(pts_fd, root_fd, pts_target, 1, SBX_STEP_MOUNT_DEV);
    }

    /* Its own POSIX shared memory: nothing leaks between sandboxes through /dev/shm. */
    char shm_target[SBX_MAX_PATH];
    snprintf(shm_target, sizeof shm_target, "%s/shm", m->target);
    const char *shm_opts[] = {"mode", "1777", "size", "67108864", NULL};
    cleanup_fd int shm_fd = new_fs("tmpfs", shm_opts, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV | SBX_MOUNT_ATTR_NOEXEC, SBX_STEP_MOUNT_DEV, shm_target);
    attach(shm_fd, root_fd, shm_target, 1, SBX_STEP_MOUNT_DEV);

    for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
        char host[32], target[SBX_MAX_PATH];
        snprintf(host, sizeof host, "/dev/%s", devices[i]);
        snprintf(target, sizeof target, "%s/%s", m->target, devices[i]);
        cleanup_fd int dev_fd = clone_tree(host, 0);
        if (dev_fd < 0)
            die(SBX_STEP_MOUNT_DEV, errno, "%s on the host", host);
        if (set_mount_attrs(dev_fd, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NOEXEC, 0) != 0)
            die(SBX_STEP_MOUNT_DEV, errno, "mount attributes of %s", host);
        attach(dev_fd, root_fd, target, 0, SBX_STEP_MOUNT_DEV);
    }
}

/* POSIX message queues: the mqueue filesystem shows the queues of the mounting IPC namespace. */
static void mount_mqueue(int root_fd, const struct sbx_mount *m)
{
    cleanup_fd int mnt_fd = new_fs("mqueue", NULL, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV | SBX_MOUNT_ATTR_NOEXEC, SBX_STEP_MOUNT_MQUEUE, m->target);
    attach(mnt_fd, root_fd, m->target, 1, SBX_STEP_MOUNT_MQUEUE);
}

/* A symlink, directory or file created inside: the parent is resolved inside the root (and
 * created when missing), and the last component is never followed. */
static void create_entry(int root_fd, const struct sbx_mount *m)
{
    char parent[SBX_MAX_PATH];
    const char *name;
    if (split_path(m->target, parent, &name) != 0)
        die(SBX_STEP_CREATE, errno, "%s", m->target);
    cleanup_fd int parent_fd = open_target(root_fd, parent, 1);
    if (parent_fd < 0)
        die(SBX_STEP_CREATE, errno, "parent directory of %s", m->target);
    switch (m->type) {
    case SBX_MOUNT_SYMLINK:
        if (symlinkat(m->source, parent_fd, name) != 0)
            die(SBX_STEP_CREATE, errno, "symlink %s -> %s", m->target, m->source);
        break;
    case SBX_MOUNT_DIR: {
        /* An existing directory is kept as it is (an image's working directory, say). */
        if (mkdirat(parent_fd, name, (mode_t)m->mode) != 0) {
            if (errno != EEXIST)
                die(SBX_STEP_CREATE, errno, "directory %s", m->target);
            break;
        }
        cleanup_fd int dir_fd = (int)RETRY_EINTR(openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (dir_fd < 0 || fchmod(dir_fd, (mode_t)m->mode) != 0) /* the umask must not narrow it */
            die(SBX_STEP_CREATE, errno, "directory %s", m->target);
        break;
    }
    case SBX_MOUNT_FILE: {
        /* Written under a temporary name and renamed over the target: whatever was there (a
         * FIFO that would block the open, a hard link to a file elsewhere, a symlink) is
         * replaced, never written through. */
        char temp[64];
        snprintf(temp, sizeof temp, ".sandbox-new-%d", (int)getpid());
        cleanup_fd int fd = (int)RETRY_EINTR(openat(parent_fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)m->mode));
        if (fd < 0)
            die(SBX_STEP_CREATE, errno, "file %s", m->target);
        size_t len = strlen(m->source), done = 0;
        while (done < len) {
            ssize_t n = RETRY_EINTR(write(fd, m->source + done, len - done));
            if (n <= 0)
                die(SBX_STEP_CREATE, n < 0 ? errno : EIO, "write %s", m->target);
            done += (size_t)n;
        }
        if (fchmod(fd, (mode_t)m->mode) != 0) /* the umask must not narrow it */
            die(SBX_STEP_CREATE, errno, "mode of %s", m->target);
        if (renameat(parent_fd, temp, parent_fd, name) != 0) {
            int err = errno;
            unlinkat(parent_fd, temp, 0);
            die(SBX_STEP_CREATE, err, "file %s", m->target);
        }
        break;
    }
    }
}

/* Hide or freeze paths the sandbox should not use (docker's masked and read-only paths, host
 * sockets under /run): after every mount, so they cover what the mounts brought in. The
 * command cannot undo them: it has no CAP_SYS_ADMIN. Missing paths are skipped. */
static void apply_masks(int root_fd, const struct sbx_spec *spec)
{
    for (size_t i = 0; i < spec->n_mask_paths; i++) {
        const char *path = spec->mask_paths[i];
        cleanup_fd int target_fd = open_in_root(root_fd, path);
        if (target_fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            die(SBX_STEP_MASK, errno, "mask %s", path);
        }
        struct stat st;
        if (fstat(target_fd, &st) != 0)
            die(SBX_STEP_MASK, errno, "mask %s", path);
        cleanup_fd int mnt_fd = -1;
        if (S_ISDIR(st.st_mode)) {
            const char *opts[] = {"mode", "755", "size", "4096", NULL};
            mnt_fd = new_fs("tmpfs", opts, SBX_MOUNT_ATTR_RDONLY | SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV | SBX_MOUNT_ATTR_NOEXEC, SBX_STEP_MASK, path);
        } else {
            mnt_fd = clone_tree("/dev/null", 0);
            if (mnt_fd < 0 || set_mount_attrs(mnt_fd, SBX_MOUNT_ATTR_RDONLY | SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NOEXEC, 0) != 0)
                die(SBX_STEP_MASK, errno, "mask %s with /dev/null", path);
        }
        if (sys_move_mount(mnt_fd, "", target_fd, "", SBX_MOVE_MOUNT_F_EMPTY_PATH | SBX_MOVE_MOUNT_T_EMPTY_PATH) != 0)
            die(SBX_STEP_MASK, errno, "mask %s", path);
    }
    for (size_t i = 0; i < spec->n_readonly_paths; i++) {
        const char *path = spec->readonly_paths[i];
        cleanup_fd int target_fd = open_in_root(root_fd, path);
        if (target_fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            die(SBX_STEP_MASK, errno, "make %s read-only", path);
        }
        cleanup_fd int copy_fd = sys_open_tree(target_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (copy_fd < 0 || set_mount_attrs(copy_fd, SBX_MOUNT_ATTR_RDONLY | SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV, 1) != 0
            || sys_move_mount(copy_fd, "", target_fd, "", SBX_MOVE_MOUNT_F_EMPTY_PATH | SBX_MOVE_MOUNT_T_EMPTY_PATH) != 0)
            die(SBX_STEP_MASK, errno, "make %s read-only", path);
    }
}

void mount_precreate_targets(const struct sbx_spec *spec)
{
    /* The host's root is never written; an overlay root gets its targets in its upper layer. */
    if (strcmp(spec->root_path, "/") == 0 || (spec->root_flags & SBX_ROOT_OVERLAY))
        return;
    cleanup_fd int root_fd = (int)RETRY_EINTR(open(spec->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root_fd < 0)
        return;
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct sbx_mount *m = &spec->mounts[i];
        if (m->type >= SBX_MOUNT_SYMLINK)
            continue; /* created by the sandbox itself, after the mounts before them */
        int want_dir = 1;
        struct stat st;
        if (m->type == SBX_MOUNT_BIND) {
            if (stat(m->source, &st) != 0)
                continue;
            want_dir = S_ISDIR(st.st_mode);
        }
        int fd = open_target(root_fd, m->target, want_dir);
        if (fd >= 0)
            close(fd);
    }
}

/* O_PATH fd of a host directory, or die naming it. */
static int open_host_dir(const char *path, int step, const char *what)
{
    int fd = (int)RETRY_EINTR(open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (fd < 0)
        die(step, errno, "%s %s", what, path);
    return fd;
}

static void open_overlay_sources(const struct sbx_spec *spec, struct mount_sources *sources)
{
    if (sources->lower_fds == NULL) {
        sources->lower_fds = calloc(spec->n_overlay_lowers, sizeof *sources->lower_fds);
        if (sources->lower_fds == NULL)
            die(SBX_STEP_OVERLAY, ENOMEM, "layer table");
        for (size_t i = 0; i < spec->n_overlay_lowers; i++)
            sources->lower_fds[i] = open_host_dir(spec->overlay_lowers[i], SBX_STEP_OVERLAY, "layer");
    }
    if (spec->overlay_upper[0] != '\0') {
        sources->upper_fd = open_host_dir(spec->overlay_upper, SBX_STEP_OVERLAY, "upper directory");
        sources->work_fd = open_host_dir(spec->overlay_work, SBX_STEP_OVERLAY, "work directory");
    }
}

void mount_open_sources(const struct sbx_spec *spec, struct mount_sources *sources)
{
    /* Nothing we mount may propagate back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        die(SBX_STEP_MOUNT_PRIVATE, errno, "make / private");

    int host_root = strcmp(spec->root_path, "/") == 0;
    if (spec->root_flags & SBX_ROOT_OVERLAY) {
        open_overlay_sources(spec, sources); /* the overlay itself is made inside the namespace */
    } else {
        sources->tree_fd = clone_tree(spec->root_path, 1);
        if (sources->tree_fd < 0)
            die(SBX_STEP_ROOT, errno, "%s", spec->root_path);
        /* The host's tree is read-only before anything touches it, so a missing mount target
         * can never be created on the host. A root directory stays writable until its mount
         * targets exist; its read-only flag comes at the end. Devices come only from /dev,
         * and no setuid binary of the root grants anything. */
        uint64_t root_attrs = SBX_MOUNT_ATTR_NODEV | SBX_MOUNT_ATTR_NOSUID | (host_root ? SBX_MOUNT_ATTR_RDONLY : 0);
        if (set_mount_attrs(sources->tree_fd, root_attrs, 1) != 0)
            die(SBX_STEP_ROOT, errno, "mount attributes of %s", spec->root_path);
    }

    sources->bind_fds = calloc(spec->n_mounts + 1, sizeof *sources->bind_fds);
    if (sources->bind_fds == NULL)
        die(SBX_STEP_MOUNT_BIND, ENOMEM, "bind mount table");
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct sbx_mount *m = &spec->mounts[i];
        sources->bind_fds[i] = -1;
        if (m->type != SBX_MOUNT_BIND)
            continue;
        sources->bind_fds[i] = clone_tree(m->source, m->flags & SBX_MOUNTF_RECURSIVE);
        if (sources->bind_fds[i] < 0 && !(errno == ENOENT && (m->flags & SBX_MOUNTF_OPTIONAL)))
            die(SBX_STEP_MOUNT_BIND, errno, "%s -> %s", m->source, m->target);
    }
}

/* Append text to buf, or die: an overlay option list that does not fit. */
static void append(char *buf, size_t size, size_t *len, const char *text)
{
    size_t n = strlen(text);
    if (n >= size - *len)
        die(SBX_STEP_OVERLAY, ENAMETOOLONG, "overlay option list");
    memcpy(buf + *len, text, n + 1);
    *len += n;
}

/* Linux before 6.8 has no "lowerdir+", and fsconfig takes strings of at most 256 bytes, which
 * 15 layers fill. mount(2) takes a page of options, enough for SBX_MAX_LAYERS: the overlay is
 * mounted on the staging tmpfs and handed on as an fd, like a detached one. */
static int mount_overlay_legacy(const struct sbx_spec *spec, char layers[][32], const char *upper, const char *work)
{
    char data[4096] = "";
    size_t len = 0;
    append(data, sizeof data, &len, "lowerdir=");
    for (size_t i = 0; i < spec->n_overlay_lowers; i++) {
        if (i > 0)
            append(data, sizeof data, &len, ":");
        append(data, sizeof data, &len, layers[i]);
    }
    append(data, sizeof data, &len, ",upperdir=");
    append(data, sizeof data, &len, upper);
    append(data, sizeof data, &len, ",workdir=");
    append(data, sizeof data, &len, work);
    if (spec->namespaces & SBX_NS_USER)
        append(data, sizeof data, &len, ",userxattr");
    if (mkdir(STAGING "/overlay", 0700) != 0 || mount("overlay", STAGING "/overlay", "overlay", MS_NOSUID | MS_NODEV, data) != 0)
        die(SBX_STEP_OVERLAY, errno, "mount the overlay (legacy mount(2))");
    int fd = sys_open_tree(AT_FDCWD, STAGING "/overlay", OPEN_TREE_CLOEXEC);
    if (fd < 0)
        die(SBX_STEP_OVERLAY, errno, "open the overlay");
    return fd;
}

/* The overlay root: the layers read-only underneath, a writable layer on top (a tmpfs of the
 * sandbox's own, or a directory that outlives it). Layers are named "/proc/self/fd/N", fds
 * opened with the caller's identity (or made by the helper), so no host path is looked up
 * again here. Inside a user namespace overlayfs keeps its whiteout and opaque markers in
 * user.overlay.* xattrs (userxattr, Linux 5.11). overlayfs takes private clones of its layers,
 * which the kernel allows only for mounts in our own mount namespace (before 6.15), so
 * detached mounts (the helper's idmapped layers, a new tmpfs) are attached on the staging
 * tmpfs first. */
static int mount_overlay_root(const struct sbx_spec *spec, struct mount_sources *sources)
{
    char (*layers)[32] = calloc(spec->n_overlay_lowers, sizeof *layers);
    if (layers == NULL)
        die(SBX_STEP_OVERLAY, ENOMEM, "layer table");
    for (size_t i = 0; i < spec->n_overlay_lowers; i++) {
        if (spec->root_flags & SBX_ROOT_IDMAP_LAYERS) {
            char path[64];
            snprintf(path, sizeof path, STAGING "/layer-%zu", i);
            if (mkdir(path, 0700) != 0 || sys_move_mount(sources->lower_fds[i], "", AT_FDCWD, path, SBX_MOVE_MOUNT_F_EMPTY_PATH) != 0)
                die(SBX_STEP_IDMAP_LAYERS, errno, "attach layer %s", spec->overlay_lowers[i]);
            close(sources->lower_fds[i]);
            sources->lower_fds[i] = open_host_dir(path, SBX_STEP_IDMAP_LAYERS, "attached layer");
        }
        snprintf(layers[i], sizeof layers[i], "/proc/self/fd/%d", sources->lower_fds[i]);
    }

    char upper[64], work[64];
    if (spec->overlay_upper[0] == '\0') {
        char size[32];
        snprintf(size, sizeof size, "%llu", (unsigned long long)spec->overlay_upper_size);
        const char *opts[] = {"mode", "755", spec->overlay_upper_size ? "size" : NULL, size, NULL};
        cleanup_fd int tmpfs_fd = new_fs("tmpfs", opts, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV, SBX_STEP_OVERLAY, "the writable layer");
        if (mkdir(STAGING "/rw", 0700) != 0 || sys_move_mount(tmpfs_fd, "", AT_FDCWD, STAGING "/rw", SBX_MOVE_MOUNT_F_EMPTY_PATH) != 0
            || mkdir(STAGING "/rw/upper", 0755) != 0 || mkdir(STAGING "/rw/work", 0700) != 0)
            die(SBX_STEP_OVERLAY, errno, "the writable layer's tmpfs");
        snprintf(upper, sizeof upper, STAGING "/rw/upper");
        snprintf(work, sizeof work, STAGING "/rw/work");
    } else {
        snprintf(upper, sizeof upper, "/proc/self/fd/%d", sources->upper_fd);
        snprintf(work, sizeof work, "/proc/self/fd/%d", sources->work_fd);
    }

    int mnt_fd;
    cleanup_fd int fs_fd = sys_fsopen("overlay", SBX_FSOPEN_CLOEXEC);
    if (fs_fd < 0)
        die(SBX_STEP_OVERLAY, errno, "fsopen(overlay)");
    if (sys_fsconfig(fs_fd, SBX_FSCONFIG_SET_STRING, "lowerdir+", layers[0], 0) != 0) {
        if (errno != EINVAL)
            die(SBX_STEP_OVERLAY, errno, "layer %s", spec->overlay_lowers[0]);
        mnt_fd = mount_overlay_legacy(spec, layers, upper, work);
    } else {
        const char *opts[2 * SBX_MAX_LAYERS + 8];
        size_t n = 0;
        for (size_t i = 1; i < spec->n_overlay_lowers; i++) {
            opts[n++] = "lowerdir+";
            opts[n++] = layers[i];
        }
        opts[n++] = "upperdir";
        opts[n++] = upper;
        opts[n++] = "workdir";
        opts[n++] = work;
        if (spec->namespaces & SBX_NS_USER) {
            opts[n++] = "userxattr";
            opts[n++] = NULL;
        }
        opts[n] = NULL;
        mnt_fd = configure_fs(fs_fd, "overlay", opts, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV, SBX_STEP_OVERLAY, "/");
    }
    for (size_t i = 0; i < spec->n_overlay_lowers; i++)
        close(sources->lower_fds[i]);
    free(sources->lower_fds);
    free(layers);
    sources->lower_fds = NULL;
    if (sources->upper_fd >= 0)
        close(sources->upper_fd);
    if (sources->work_fd >= 0)
        close(sources->work_fd);
    sources->upper_fd = sources->work_fd = -1;
    return mnt_fd;
}

int mount_lock_layers(const struct sbx_spec *spec, int *fds, size_t max_fds)
{
    if (!(spec->root_flags & SBX_ROOT_OVERLAY))
        return 0;
    size_t n = 0;
    /* Shared locks on the layers: an image store does not delete a layer in use (it takes
     * an exclusive lock first), and a layer being deleted does not start a sandbox. */
    for (size_t i = 0; i < spec->n_overlay_lowers && n < max_fds; i++) {
        int fd = (int)RETRY_EINTR(open(spec->overlay_lowers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (fd < 0)
            die(SBX_STEP_OVERLAY, errno, "layer %s", spec->overlay_lowers[i]);
        fds[n++] = fd;
        if (flock(fd, LOCK_SH | LOCK_NB) != 0)
            die(SBX_STEP_OVERLAY, errno == EWOULDBLOCK ? EBUSY : errno, "layer %s is being removed", spec->overlay_lowers[i]);
    }
    /* An exclusive one on a persistent upper directory: overlayfs only warns when two mounts
     * share one, and what it does then is undefined. */
    if (spec->overlay_upper[0] != '\0' && n < max_fds) {
        int fd = (int)RETRY_EINTR(open(spec->overlay_upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (fd < 0)
            die(SBX_STEP_OVERLAY, errno, "upper directory %s", spec->overlay_upper);
        fds[n++] = fd;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0)
            die(SBX_STEP_OVERLAY, errno == EWOULDBLOCK ? EBUSY : errno, "%s is in use by another sandbox", spec->overlay_upper);
    }
    return (int)n;
}

void mount_send_idmapped_layers(const struct sbx_spec *spec, pid_t init_pid, int socket_fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)init_pid);
    cleanup_fd int userns_fd = (int)RETRY_EINTR(open(path, O_RDONLY | O_CLOEXEC));
    if (userns_fd < 0)
        die(SBX_STEP_IDMAP_LAYERS, errno, "%s", path);

    int fds[SBX_MAX_LAYERS];
    size_t n = 0;
    for (; n < spec->n_overlay_lowers; n++) {
        fds[n] = clone_tree(spec->overlay_lowers[n], 0);
        if (fds[n] < 0)
            die(SBX_STEP_IDMAP_LAYERS, errno, "layer %s", spec->overlay_lowers[n]);
        struct sbx_mount_attr attr = {
            .attr_set = SBX_MOUNT_ATTR_IDMAP | SBX_MOUNT_ATTR_RDONLY | SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV,
            .userns_fd = (uint64_t)userns_fd,
        };
        if (sys_mount_setattr(fds[n], "", AT_EMPTY_PATH, &attr) != 0)
            die(SBX_STEP_IDMAP_LAYERS, errno, "idmapped mount of layer %s", spec->overlay_lowers[n]);
    }
    union {
        char buf[CMSG_SPACE(sizeof(int) * SBX_MAX_LAYERS)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    char byte = 'L';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    if (RETRY_EINTR(sendmsg(socket_fd, &mh, MSG_NOSIGNAL)) != 1)
        die(SBX_STEP_IDMAP_LAYERS, errno, "hand the layers to the sandbox");
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
}

void mount_receive_idmapped_layers(const struct sbx_spec *spec, int socket_fd, struct mount_sources *sources)
{
    size_t n = spec->n_overlay_lowers;
    union {
        char buf[CMSG_SPACE(sizeof(int) * SBX_MAX_LAYERS)];
        struct cmsghdr align;
    } control;
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    if (RETRY_EINTR(recvmsg(socket_fd, &mh, MSG_CMSG_CLOEXEC)) != 1)
        die(SBX_STEP_IDMAP_LAYERS, errno, "receive the layers from the helper");
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (cm == NULL || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int) * n) || (mh.msg_flags & MSG_CTRUNC))
        die(SBX_STEP_IDMAP_LAYERS, EPROTO, "expected %zu layers from the helper", n);
    sources->lower_fds = calloc(n, sizeof *sources->lower_fds);
    if (sources->lower_fds == NULL)
        die(SBX_STEP_IDMAP_LAYERS, ENOMEM, "layer table");
    memcpy(sources->lower_fds, CMSG_DATA(cm), sizeof(int) * n);
}

void mount_setup_filesystem(const struct sbx_spec *spec, struct mount_sources *sources)
{
    int host_root = strcmp(spec->root_path, "/") == 0;
    int tree_fd = sources->tree_fd;
    int *bind_fds = sources->bind_fds;

    const char *staging_opts[] = {"mode", "700", "size", "65536", NULL};
    {
        cleanup_fd int staging_fd = new_fs("tmpfs", staging_opts, SBX_MOUNT_ATTR_NOSUID | SBX_MOUNT_ATTR_NODEV | SBX_MOUNT_ATTR_NOEXEC, SBX_STEP_ROOT, STAGING);
        if (sys_move_mount(staging_fd, "", AT_FDCWD, STAGING, SBX_MOVE_MOUNT_F_EMPTY_PATH) != 0)
            die(SBX_STEP_ROOT, errno, "staging tmpfs on %s", STAGING);
    }
    if (mkdir(NEW_ROOT, 0755) != 0)
        die(SBX_STEP_ROOT, errno, "%s", NEW_ROOT);
    if (spec->root_flags & SBX_ROOT_OVERLAY)
        tree_fd = sources->tree_fd = mount_overlay_root(spec, sources);
    if (sys_move_mount(tree_fd, "", AT_FDCWD, NEW_ROOT, SBX_MOVE_MOUNT_F_EMPTY_PATH) != 0)
        die(SBX_STEP_ROOT, errno, "attach %s", spec->root_path);
    cleanup_fd int root_fd = (int)RETRY_EINTR(open(NEW_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root_fd < 0)
        die(SBX_STEP_ROOT, errno, "%s", NEW_ROOT);

    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct sbx_mount *m = &spec->mounts[i];
        switch (m->type) {
        case SBX_MOUNT_BIND: {
            if (bind_fds[i] < 0)
                break; /* optional and missing */
            struct stat st;
            if (fstat(bind_fds[i], &st) != 0)
                die(SBX_STEP_MOUNT_BIND, errno, "%s", m->source);
            if (set_mount_attrs(bind_fds[i], attrs_from_flags(m->flags), m->flags & SBX_MOUNTF_RECURSIVE) != 0)
                die(SBX_STEP_MOUNT_BIND, errno, "mount attributes of %s -> %s", m->source, m->target);
            attach(bind_fds[i], root_fd, m->target, S_ISDIR(st.st_mode), SBX_STEP_MOUNT_BIND);
            close(bind_fds[i]);
            bind_fds[i] = -1;
            break;
        }
        case SBX_MOUNT_TMPFS:
            mount_tmpfs(root_fd, m);
            break;
        case SBX_MOUNT_PROC:
            mount_proc(root_fd, m);
            break;
        case SBX_MOUNT_DEV:
            mount_dev(root_fd, m);
            break;
        case SBX_MOUNT_SYSFS:
            mount_sysfs(root_fd, m);
            break;
        case SBX_MOUNT_MQUEUE:
            mount_mqueue(root_fd, m);
            break;
        case SBX_MOUNT_SYMLINK:
        case SBX_MOUNT_DIR:
        case SBX_MOUNT_FILE:
            create_entry(root_fd, m);
            break;
        }
    }
    free(bind_fds);
    sources->bind_fds = NULL;
    apply_masks(root_fd, spec);

    if (!host_root && (spec->root_flags & SBX_ROOT_READONLY)) {
        struct sbx_mount_attr attr = {.attr_set = SBX_MOUNT_ATTR_RDONLY};
        if (sys_mount_setattr(tree_fd, "", AT_EMPTY_PATH, &attr) != 0)
            die(SBX_STEP_ROOT, errno, "make %s read-only", spec->root_path);
    }

    /* pivot_root(".", ".") stacks the old root on the new one; detaching "." then removes
     * the old root (and the staging tmpfs under it) without needing a directory for it. */
    if (fchdir(root_fd) != 0)
        die(SBX_STEP_PIVOT_ROOT, errno, "chdir to the new root");
    if (syscall(SYS_pivot_root, ".", ".") != 0)
        die(SBX_STEP_PIVOT_ROOT, errno, "pivot_root into %s", spec->root_path);
    if (umount2(".", MNT_DETACH) != 0)
        die(SBX_STEP_PIVOT_ROOT, errno, "detach the old root");
    if (chdir("/") != 0)
        die(SBX_STEP_PIVOT_ROOT, errno, "chdir /");
    close(tree_fd);
    sources->tree_fd = -1;
}
