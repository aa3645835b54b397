/* landlock.h - a Landlock ruleset for the command (Linux 5.13+), an extra layer under the
 * mounts: only the paths the spec names are reachable, with the access it grants them. */
#ifndef SBX_LANDLOCK_H
#define SBX_LANDLOCK_H

#include "spec.h"

/* In the command's process, after chdir and before exec; needs no_new_privs or CAP_SYS_ADMIN.
 * Does nothing without SBX_REC_LANDLOCK; dies with SBX_STEP_LANDLOCK on failure, or when the
 * kernel has no Landlock and best effort was not asked for. */
void landlock_apply(const struct sbx_spec *spec);

#endif
