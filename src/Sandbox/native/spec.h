/* spec.h - the parsed form of the spec the library sends (format: protocol.h). */
#ifndef SBX_SPEC_H
#define SBX_SPEC_H

#include <stddef.h>
#include <stdint.h>

struct sbx_id_map {
    uint32_t inside, outside, count;
};

struct sbx_mount {
    uint32_t type, flags, mode;
    uint64_t size;
    const char *source; /* "" when the type has none */
    const char *target;
};

struct sbx_spec {
    uint32_t namespaces;
    const char *hostname; /* NULL: leave it */
    struct sbx_id_map *uid_maps, *gid_maps;
    size_t n_uid_maps, n_gid_maps;
    int has_user;
    uint32_t uid, gid;
    uint32_t root_flags;
    const char *root_path; /* "" for an overlay root */
    char **overlay_lowers;  /* NULL-terminated, top layer first */
    size_t n_overlay_lowers;
    int has_overlay_upper;
    uint64_t overlay_upper_size; /* tmpfs upper only; 0: kernel default */
    const char *overlay_upper, *overlay_work; /* "" and "": a tmpfs upper */
    struct sbx_mount *mounts;
    size_t n_mounts;
    char **argv; /* NULL-terminated */
    size_t argc;
    char **envp; /* NULL-terminated */
    size_t envc;
    const char *cwd; /* NULL: "/" */
    int has_time_offsets;
    int64_t monotonic_offset_ns, boottime_offset_ns;
    uint64_t timeout_ms; /* 0: none */
    char **cgroup_join, **cgroup_return; /* NULL-terminated cgroup.procs paths */
    size_t n_cgroup_join, n_cgroup_return;
    const char *cgroup_unified; /* NULL: none */
    char **mask_paths, **readonly_paths; /* NULL-terminated */
    size_t n_mask_paths, n_readonly_paths;

    struct sbx_rlimit {
        uint32_t resource;
        uint64_t soft, hard;
    } *rlimits;
    size_t n_rlimits;
    int has_capabilities;
    uint64_t capabilities; /* kept by the command when has_capabilities */
    uint32_t *groups;
    size_t n_groups;
    int has_umask;
    uint32_t umask;
    const uint8_t *seccomp; /* NULL: none; else n_seccomp 8-byte sock_filter instructions */
    size_t n_seccomp;
    uint32_t security_flags;
    int has_security;
    int has_landlock;
    uint32_t landlock_flags;
    struct sbx_landlock_rule {
        uint32_t access;
        const char *path;
    } *landlock_rules;
    size_t n_landlock_rules;
    int terminal; /* stdin becomes the controlling terminal */
    int wait_for_start; /* SBX_REC_WAIT_FOR_START */

    void *arena_; /* owns every string and array above */
};

/* Parse buf[0..len). On success returns 0 and fills *spec (release with spec_free).
 * On failure returns -1, leaves nothing allocated, and writes a message into err. */
int spec_parse(const uint8_t *buf, size_t len, struct sbx_spec *spec, char *err, size_t err_len);

void spec_free(struct sbx_spec *spec);

#endif
