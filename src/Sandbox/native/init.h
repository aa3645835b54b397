/* init.h - the sandbox side: setup after clone, then pid 1 of the sandbox. */
#ifndef SBX_INIT_H
#define SBX_INIT_H

#include "spec.h"
#include "util.h"

/* Runs in the cloned child: waits for the helper to write the id maps (sync_fd), sets up
 * hostname, loopback, mounts and clocks, then starts the command and stays as its init:
 * reaps zombies, forwards signals, and reports the command's status on report_fd. */
SBX_NORETURN void sandbox_child_main(const struct sbx_spec *spec, int sync_fd);

#endif
