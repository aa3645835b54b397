/* report.h - messages to the library (or from the sandbox to the helper) over SEQPACKET. */
#ifndef SBX_REPORT_H
#define SBX_REPORT_H

#include "util.h"

#include <sys/types.h>

/* The fd setup failures are reported on: the control channel in the helper, the report
 * channel to the helper inside the sandbox, the exec channel in the command's process. */
extern int report_fd;

/* In the helper process only: die() first kills this child and then, instead of exiting at
 * once, waits for the library to close this control channel (see finish()). */
extern pid_t die_kill_pid;
extern int die_control_fd;

/* Send one message; returns 0 or -1 with errno (EPIPE when the reader is gone). */
int report_send(int fd, uint32_t type, int32_t a, int32_t b, int32_t c, const char *detail, size_t detail_len);

/* Send a header-only message (type, a, b, c) carrying one SOL_SOCKET control message of
 * cmsg_type (SCM_RIGHTS, SCM_CREDENTIALS) with len bytes of data; returns 0 or -1 with errno. */
int report_send_ancillary(int fd, uint32_t type, int32_t a, int32_t b, int32_t c, int cmsg_type, const void *data, size_t len);

/* Send SBX_MSG_ERROR(step, err, formatted detail) on report_fd. */
void report_error(int step, int err, const char *fmt, ...) SBX_PRINTF(3, 4);

/* Report a failed step, then end this process with status 125. */
SBX_NORETURN void die(int step, int err, const char *fmt, ...) SBX_PRINTF(3, 4);

#endif
