/* idmap.c - the child's uid_map and gid_map, written by the helper from outside.
 * The helper writes them (rather than the child) because only a writer in the parent
 * namespace with CAP_SETUID there may map more than its own id. */
#include "ns.h"

#include "protocol.h"
#include "report.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void write_map(pid_t child, const char *name, const struct sbx_id_map *maps, size_t n, int step)
{
    char path[64];
    char content[SBX_MAX_ID_MAPS * 36 + 1];
    size_t used = 0;
    snprintf(path, sizeof path, "/proc/%d/%s", (int)child, name);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(content + used, sizeof content - used, "%u %u %u\n", maps[i].inside, maps[i].outside, maps[i].count);
    if (write_file(path, content) != 0)
        die(step, errno, "%s: %.*s", path, (int)(used > 0 ? used - 1 : 0), content);
}

void idmap_write(pid_t child, const struct sbx_spec *spec)
{
    if (spec->n_uid_maps == 0 || spec->n_gid_maps == 0)
        die(SBX_STEP_UID_MAP, EINVAL, "the spec has a user namespace but no uid or gid map");
    /* Without CAP_SETGID outside, the kernel accepts a gid_map only after setgroups is
     * denied (CVE-2014-8989: dropping groups could grant access). */
    if (geteuid() != 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/setgroups", (int)child);
        if (write_file(path, "deny") != 0)
            die(SBX_STEP_SETGROUPS, errno, "%s", path);
    }
    write_map(child, "uid_map", spec->uid_maps, spec->n_uid_maps, SBX_STEP_UID_MAP);
    write_map(child, "gid_map", spec->gid_maps, spec->n_gid_maps, SBX_STEP_GID_MAP);
}
