/* command.h - the last steps of a process that becomes a sandboxed command: the sandbox's
 * main command (forked by init) and every command exec'd into a running sandbox. */
#ifndef SBX_COMMAND_H
#define SBX_COMMAND_H

#include "spec.h"
#include "util.h"

#include <sys/types.h>

/* Between fork and exec: reset signals, start a new session, change to the working
 * directory, apply the security settings (security.c), then exec argv[0] (looked up in the
 * sandbox's PATH). Failures go to report_to as SBX_MSG_ERROR; report_to is close-on-exec, so
 * end of file there means the exec succeeded. Without a PID namespace the process dies with
 * its parent, which must be `parent`. */
SBX_NORETURN void command_run(const struct sbx_spec *spec, int report_to, pid_t parent);

#endif
