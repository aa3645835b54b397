/* landlock.c - see landlock.h. The constants are the kernel's UAPI (linux/landlock.h), spelled
 * out here because the headers we build against may predate the newer access rights. */
#include "landlock.h"

#include "protocol.h"
#include "report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define SBX_NR_landlock_create_ruleset 444
#define SBX_NR_landlock_add_rule 445
#define SBX_NR_landlock_restrict_self 446
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1

#define LL_EXECUTE (1ULL << 0)
#define LL_WRITE_FILE (1ULL << 1)
#define LL_READ_FILE (1ULL << 2)
#define LL_READ_DIR (1ULL << 3)
#define LL_REMOVE_DIR (1ULL << 4)
#define LL_REMOVE_FILE (1ULL << 5)
#define LL_MAKE_CHAR (1ULL << 6)
#define LL_MAKE_DIR (1ULL << 7)
#define LL_MAKE_REG (1ULL << 8)
#define LL_MAKE_SOCK (1ULL << 9)
#define LL_MAKE_FIFO (1ULL << 10)
#define LL_MAKE_BLOCK (1ULL << 11)
#define LL_MAKE_SYM (1ULL << 12)
#define LL_REFER (1ULL << 13)     /* ABI 2, Linux 5.19 */
#define LL_TRUNCATE (1ULL << 14)  /* ABI 3, Linux 6.2 */
#define LL_IOCTL_DEV (1ULL << 15) /* ABI 5, Linux 6.10 */

/* What the kernel of this ABI version can handle: a ruleset may not name more. */
static uint64_t handled_by_abi(long abi)
{
    uint64_t all = LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_READ_DIR | LL_REMOVE_DIR | LL_REMOVE_FILE | LL_MAKE_CHAR
                   | LL_MAKE_DIR | LL_MAKE_REG | LL_MAKE_SOCK | LL_MAKE_FIFO | LL_MAKE_BLOCK | LL_MAKE_SYM;
    if (abi >= 2)
        all |= LL_REFER;
    if (abi >= 3)
        all |= LL_TRUNCATE;
    if (abi >= 5)
        all |= LL_IOCTL_DEV;
    return all;
}

static uint64_t rights_of(uint32_t access)
{
    uint64_t rights = 0;
    if (access & SBX_LANDLOCK_READ)
        rights |= LL_READ_FILE | LL_READ_DIR;
    if (access & SBX_LANDLOCK_WRITE)
        rights |= LL_WRITE_FILE | LL_REMOVE_DIR | LL_REMOVE_FILE | LL_MAKE_CHAR | LL_MAKE_DIR | LL_MAKE_REG | LL_MAKE_SOCK
                  | LL_MAKE_FIFO | LL_MAKE_BLOCK | LL_MAKE_SYM | LL_REFER | LL_TRUNCATE;
    if (access & SBX_LANDLOCK_EXECUTE)
        rights |= LL_EXECUTE;
    /* ioctl on devices goes with read or write: a terminal needs it for either. */
    if (access & (SBX_LANDLOCK_READ | SBX_LANDLOCK_WRITE))
        rights |= LL_IOCTL_DEV;
    return rights;
}

struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

void landlock_apply(const struct sbx_spec *spec)
{
    if (!spec->has_landlock)
        return;
    long abi = syscall(SBX_NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    if (abi < 0) {
        if ((errno == ENOSYS || errno == EOPNOTSUPP) && (spec->landlock_flags & SBX_LANDLOCK_BEST_EFFORT))
            return;
        die(SBX_STEP_LANDLOCK, errno, "Landlock is not available on this kernel");
    }
    uint64_t handled = handled_by_abi(abi);
    /* Only the first field: a size the oldest ABI accepts. */
    uint64_t attr = handled;
    cleanup_fd int ruleset = (int)syscall(SBX_NR_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        die(SBX_STEP_LANDLOCK, errno, "create a ruleset (ABI %ld)", abi);
    for (size_t i = 0; i < spec->n_landlock_rules; i++) {
        const struct sbx_landlock_rule *r = &spec->landlock_rules[i];
        cleanup_fd int fd = (int)RETRY_EINTR(open(r->path, O_PATH | O_CLOEXEC));
        if (fd < 0 && errno == ENOENT && (r->access & SBX_LANDLOCK_OPTIONAL))
            continue;
        if (fd < 0)
            die(SBX_STEP_LANDLOCK, errno, "rule path %s", r->path);
        struct stat st;
        if (fstat(fd, &st) != 0)
            die(SBX_STEP_LANDLOCK, errno, "rule path %s", r->path);
        uint64_t rights = rights_of(r->access) & handled;
        /* A file takes only the rights that make sense for one: the kernel refuses the rest. */
        if (!S_ISDIR(st.st_mode))
            rights &= LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV;
        struct ll_path_beneath beneath = {.allowed_access = rights, .parent_fd = fd};
        if (rights != 0 && syscall(SBX_NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &beneath, 0) != 0)
            die(SBX_STEP_LANDLOCK, errno, "rule for %s", r->path);
    }
    if (syscall(SBX_NR_landlock_restrict_self, ruleset, 0) != 0)
        die(SBX_STEP_LANDLOCK, errno, "restrict the command");
}
