/* security.h - the command's last steps before exec: groups, umask, rlimits, capabilities,
 * no_new_privs and the seccomp filter. */
#ifndef SBX_SECURITY_H
#define SBX_SECURITY_H

#include "spec.h"

/* Between fork and exec, in the command's process, after chdir; dies with a step on failure.
 * Order matters: the bounding set shrinks while we are still root of the namespace; the ids
 * change; the kept capabilities are raised into every set (ambient ones survive exec as a
 * non-root uid); then no_new_privs and, last, the seccomp filter, so that nothing of the setup
 * itself has to pass the filter (unless new privileges are allowed, see security.c). A Landlock
 * ruleset, if any, comes right before the filter. */
void security_apply(const struct sbx_spec *spec);

#endif
