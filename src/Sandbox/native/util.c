/* util.c - fd and file helpers. */
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int write_file(const char *path, const char *content)
{
    cleanup_fd int fd = (int)RETRY_EINTR(open(path, O_WRONLY | O_CLOEXEC));
    if (fd < 0)
        return -1;
    size_t len = strlen(content);
    /* One write: uid_map, setgroups and timens_offsets reject a second one. */
    ssize_t n = RETRY_EINTR(write(fd, content, len));
    if (n < 0)
        return -1;
    if ((size_t)n != len) {
        errno = EIO;
        return -1;
    }
    return 0;
}

void close_fds_from(int first)
{
    if (syscall(SYS_close_range, (unsigned)first, ~0u, 0u) == 0)
        return;
    /* Linux < 5.9: walk /proc/self/fd, then fall back to the fd limit. */
    DIR *dir = opendir("/proc/self/fd");
    if (dir != NULL) {
        int dfd = dirfd(dir);
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            int fd = atoi(e->d_name);
            if (fd >= first && fd != dfd)
                close(fd);
        }
        closedir(dir);
        return;
    }
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = first; fd < max; fd++)
        close((int)fd);
}

int read_whole_fd(int fd, size_t min, size_t max, uint8_t **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    if (st.st_size < 0 || (uint64_t)st.st_size < min || (uint64_t)st.st_size > max) {
        errno = EINVAL;
        return -1;
    }
    uint8_t *buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL)
        return -1;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = RETRY_EINTR(pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got));
        if (n <= 0) {
            free(buf);
            errno = n < 0 ? errno : EIO;
            return -1;
        }
        got += (size_t)n;
    }
    *out = buf;
    *len = got;
    return 0;
}
