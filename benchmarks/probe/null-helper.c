/* null-helper.c - a stand-in for sandbox-helper that does no sandboxing at all: it forks and
 * execs the spec's command... no: it runs nothing. It reports STARTED, then EXITED with
 * status 0, then waits for the library to close the control channel, as the real helper's
 * finish() does. Started through SANDBOX_HELPER_PATH, it measures what a run costs the .NET
 * side and one posix_spawn + execve of a small static program: the floor under every sandbox.
 * Message layout: docs/helper-protocol.md (type, a, b, c as little-endian int32). */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { FD_CONTROL = 4, MSG_STARTED = 2, MSG_EXITED = 3, EXIT_CODE = 1 };

static void send_msg(int32_t type, int32_t a, int32_t b, int32_t c)
{
    int32_t msg[4] = {type, a, b, c};
    send(FD_CONTROL, msg, sizeof msg, MSG_NOSIGNAL);
}

int main(void)
{
    send_msg(MSG_STARTED, (int32_t)getpid(), 0, 0);
    send_msg(MSG_EXITED, EXIT_CODE, 0, 0);
    shutdown(FD_CONTROL, SHUT_WR);
    char buf[1040];
    while (recv(FD_CONTROL, buf, sizeof buf, 0) > 0) {
    }
    return 0;
}
