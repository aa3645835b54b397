/* report.c - the status channel: every failure is (step, errno, detail). */
#include "report.h"

#include "protocol.h"
#include "supervise.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

int report_fd = -1;
pid_t die_kill_pid = 0;
int die_control_fd = -1;

static void put_header(unsigned char *msg, uint32_t type, int32_t a, int32_t b, int32_t c)
{
    memcpy(msg, &type, 4);
    memcpy(msg + 4, &a, 4);
    memcpy(msg + 8, &b, 4);
    memcpy(msg + 12, &c, 4);
}

int report_send(int fd, uint32_t type, int32_t a, int32_t b, int32_t c, const char *detail, size_t detail_len)
{
    unsigned char buf[SBX_MSG_HEADER_SIZE + SBX_MSG_MAX_DETAIL];
    if (detail_len > SBX_MSG_MAX_DETAIL)
        detail_len = SBX_MSG_MAX_DETAIL;
    put_header(buf, type, a, b, c);
    if (detail_len > 0)
        memcpy(buf + SBX_MSG_HEADER_SIZE, detail, detail_len);
    /* MSG_NOSIGNAL: a vanished reader must give EPIPE, not kill us with SIGPIPE. */
    ssize_t n = RETRY_EINTR(send(fd, buf, SBX_MSG_HEADER_SIZE + detail_len, MSG_NOSIGNAL));
    return n < 0 ? -1 : 0;
}

int report_send_ancillary(int fd, uint32_t type, int32_t a, int32_t b, int32_t c, int cmsg_type, const void *data, size_t len)
{
    unsigned char msg[SBX_MSG_HEADER_SIZE];
    put_header(msg, type, a, b, c);
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof msg};
    union {
        char buf[CMSG_SPACE(64)];
        struct cmsghdr align;
    } control;
    if (len > 64) {
        errno = EINVAL;
        return -1;
    }
    memset(&control, 0, sizeof control);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = CMSG_SPACE(len)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = cmsg_type;
    cm->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(cm), data, len);
    return RETRY_EINTR(sendmsg(fd, &mh, MSG_NOSIGNAL)) < 0 ? -1 : 0;
}

static void vreport_error(int step, int err, const char *fmt, va_list ap)
{
    char detail[SBX_MSG_MAX_DETAIL];
    int n = vsnprintf(detail, sizeof detail, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof detail)
        n = sizeof detail - 1;
    if (report_fd >= 0)
        report_send(report_fd, SBX_MSG_ERROR, step, err, 0, detail, (size_t)n);
    else
        dprintf(2, "sandbox-helper: step %d failed: %s: %s\n", step, detail, strerror(err));
}

void report_error(int step, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport_error(step, err, fmt, ap);
    va_end(ap);
}

void die(int step, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport_error(step, err, fmt, ap);
    va_end(ap);
    if (die_kill_pid > 0) {
        kill(die_kill_pid, SIGKILL);
        waitpid(die_kill_pid, NULL, __WALL);
    }
    if (die_control_fd >= 0)
        finish(die_control_fd, 125);
    _exit(125);
}
