/* mount.h - the sandbox's filesystem: root, mounts, pivot_root. */
#ifndef SBX_MOUNT_H
#define SBX_MOUNT_H

#include "spec.h"

/* Detached copies of the root tree and of every bind source, made while init still has the
 * caller's host identity (so sources only the caller may reach are reachable), before it
 * becomes its user namespace's root. */
struct mount_sources {
    int tree_fd;
    int *bind_fds; /* one per spec mount; -1 where not a bind, or an optional missing one */
};

void mount_open_sources(const struct sbx_spec *spec, struct mount_sources *sources);

/* In the helper, with the caller's own identity on the host: create missing mount targets
 * inside a directory root, resolved inside it. The sandbox's user may not be allowed to
 * (a root caller's sandbox runs as the host's nobody). Failures are left for the sandbox
 * to report with the step that needs the target. */
void mount_precreate_targets(const struct sbx_spec *spec);

/* Build the new root and every mount, pivot into it and detach the old root. Runs inside
 * the new mount (and user) namespace; dies with a step on any failure. */
void mount_setup_filesystem(const struct sbx_spec *spec, struct mount_sources *sources);

#endif
