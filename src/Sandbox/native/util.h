/* util.h - small helpers shared by every part of sandbox-helper. */
#ifndef SBX_UTIL_H
#define SBX_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#define SBX_NORETURN __attribute__((noreturn))
#define SBX_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Retry a system call interrupted by a signal. */
#define RETRY_EINTR(expr)                                                                   \
    ({                                                                                      \
        long _r;                                                                            \
        do                                                                                  \
            _r = (long)(expr);                                                              \
        while (_r == -1 && errno == EINTR);                                                 \
        _r;                                                                                 \
    })

/* Close an fd when the variable holding it goes out of scope. */
static inline void close_fd_ptr(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
#define cleanup_fd __attribute__((cleanup(close_fd_ptr)))

/* Write a whole string into an existing file (procfs control files want one write). */
int write_file(const char *path, const char *content);

/* Read a whole file (a spec memfd) of min to max bytes with pread from offset 0 into a
 * malloc'd buffer. Returns 0, or -1 with errno (EINVAL: the size is out of range). */
int read_whole_fd(int fd, size_t min, size_t max, uint8_t **out, size_t *len);

/* Close every fd >= first (close_range, falling back to a loop on old kernels). */
void close_fds_from(int first);

#endif
