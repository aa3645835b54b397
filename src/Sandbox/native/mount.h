/* mount.h - the sandbox's filesystem: root, mounts, pivot_root. */
#ifndef SBX_MOUNT_H
#define SBX_MOUNT_H

#include "spec.h"

/* Build the new root and every mount, pivot into it and detach the old root. Runs inside
 * the new mount (and user) namespace; dies with a step on any failure. */
void mount_setup_filesystem(const struct sbx_spec *spec);

#endif
