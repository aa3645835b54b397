/* mount.h - the sandbox's filesystem: root, mounts, pivot_root. */
#ifndef SBX_MOUNT_H
#define SBX_MOUNT_H

#include "spec.h"

#include <sys/types.h>

/* Detached copies of the root tree and of every bind source, made while init still has the
 * caller's host identity (so sources only the caller may reach are reachable), before it
 * becomes its user namespace's root. */
struct mount_sources {
    int tree_fd;   /* -1 for an overlay root until it is made */
    int *bind_fds; /* one per spec mount; -1 where not a bind, or an optional missing one */
    int *lower_fds; /* overlay root: one per layer, top first (NULL otherwise) */
    int upper_fd, work_fd; /* overlay root with a directory as its writable layer, else -1 */
};

void mount_open_sources(const struct sbx_spec *spec, struct mount_sources *sources);

/* In the helper, before the clone, for an overlay root: a shared flock on every layer and an
 * exclusive one on a persistent upper directory, held through the fds stored in fds (at most
 * max_fds) while the helper lives. Returns how many fds it stored; dies when a layer is being
 * removed or the upper directory is in use (EBUSY). */
int mount_lock_layers(const struct sbx_spec *spec, int *fds, size_t max_fds);

/* In the helper, root on the host, after init's id maps are written (SBX_ROOT_IDMAP_LAYERS):
 * an idmapped, read-only mount of every overlay layer through init's user namespace, sent to
 * init in one SCM_RIGHTS message on socket_fd. */
void mount_send_idmapped_layers(const struct sbx_spec *spec, pid_t init_pid, int socket_fd);

/* In init: take those layers as the overlay's lower layers (before mount_open_sources). */
void mount_receive_idmapped_layers(const struct sbx_spec *spec, int socket_fd, struct mount_sources *sources);

/* In the helper, with the caller's own identity on the host: create missing mount targets
 * inside a directory root, resolved inside it. The sandbox's user may not be allowed to
 * (a root caller's sandbox runs as the host's nobody). Failures are left for the sandbox
 * to report with the step that needs the target. */
void mount_precreate_targets(const struct sbx_spec *spec);

/* Build the new root and every mount, pivot into it and detach the old root. Runs inside
 * the new mount (and user) namespace; dies with a step on any failure. */
void mount_setup_filesystem(const struct sbx_spec *spec, struct mount_sources *sources);

#endif
