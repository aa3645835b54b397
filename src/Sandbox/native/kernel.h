/* kernel.h - wrappers for system calls newer than the C libraries we must build against.
 * The numbers are the same on every architecture (the unified table from Linux 5.1 on). */
#ifndef SBX_KERNEL_H
#define SBX_KERNEL_H

#include <fcntl.h>
#include <linux/types.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SBX_NR_open_tree 428
#define SBX_NR_move_mount 429
#define SBX_NR_fsopen 430
#define SBX_NR_fsconfig 431
#define SBX_NR_fsmount 432
#define SBX_NR_pidfd_send_signal 424
#define SBX_NR_pidfd_open 434
#define SBX_NR_clone3 435
#define SBX_NR_openat2 437
#define SBX_NR_mount_setattr 442

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define SBX_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define SBX_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define SBX_FSOPEN_CLOEXEC 0x01
#define SBX_FSMOUNT_CLOEXEC 0x01
#define SBX_FSCONFIG_SET_FLAG 0
#define SBX_FSCONFIG_SET_STRING 1
#define SBX_FSCONFIG_CMD_CREATE 6
#define SBX_MOUNT_ATTR_RDONLY 0x01
#define SBX_MOUNT_ATTR_NOSUID 0x02
#define SBX_MOUNT_ATTR_NODEV 0x04
#define SBX_MOUNT_ATTR_NOEXEC 0x08
#define SBX_MOUNT_ATTR_IDMAP 0x00100000
#define SBX_RESOLVE_NO_MAGICLINKS 0x02
#define SBX_RESOLVE_IN_ROOT 0x10
#define SBX_CLONE_NEWTIME 0x00000080
#define SBX_CLONE_PIDFD 0x00001000
#define SBX_CLONE_INTO_CGROUP 0x200000000ULL

struct sbx_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

struct sbx_open_how {
    uint64_t flags, mode, resolve;
};

struct sbx_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

static inline int sys_open_tree(int dfd, const char *path, unsigned flags)
{
    return (int)syscall(SBX_NR_open_tree, dfd, path, flags);
}
static inline int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags)
{
    return (int)syscall(SBX_NR_move_mount, from_dfd, from, to_dfd, to, flags);
}
static inline int sys_fsopen(const char *fs, unsigned flags) { return (int)syscall(SBX_NR_fsopen, fs, flags); }
static inline int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
    return (int)syscall(SBX_NR_fsconfig, fd, cmd, key, value, aux);
}
static inline int sys_fsmount(int fd, unsigned flags, unsigned attrs) { return (int)syscall(SBX_NR_fsmount, fd, flags, attrs); }
static inline int sys_mount_setattr(int dfd, const char *path, unsigned flags, struct sbx_mount_attr *attr)
{
    return (int)syscall(SBX_NR_mount_setattr, dfd, path, flags, attr, sizeof *attr);
}
static inline int sys_openat2(int dfd, const char *path, struct sbx_open_how *how)
{
    return (int)syscall(SBX_NR_openat2, dfd, path, how, sizeof *how);
}
static inline long sys_clone3(struct sbx_clone_args *args) { return syscall(SBX_NR_clone3, args, sizeof *args); }
static inline int sys_pidfd_open(pid_t pid, unsigned flags) { return (int)syscall(SBX_NR_pidfd_open, pid, flags); }
static inline int sys_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SBX_NR_pidfd_send_signal, pidfd, sig, NULL, 0); }

#endif
