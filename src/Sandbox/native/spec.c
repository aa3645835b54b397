/* spec.c - parser for the binary spec. It trusts nothing: every length is checked against
 * the bytes that remain, every record against its expected size, every string for NULs,
 * and every count against the limits in protocol.h. It allocates one arena up front sized
 * from the records it holds (counted in a first pass) and bounded by the input length, so a
 * malformed spec can never make it allocate more. */
#include "spec.h"

#include "protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const uint8_t *p;
    size_t left;
};

struct arena {
    char *base;
    size_t used, size;
};

static void *arena_alloc(struct arena *a, size_t size, size_t align)
{
    size_t start = (a->used + align - 1) & ~(align - 1);
    if (start > a->size || size > a->size - start)
        return NULL;
    a->used = start + size;
    return a->base + start;
}

static int take(struct reader *r, void *out, size_t n)
{
    if (r->left < n)
        return -1;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 0;
}

static int take_u32(struct reader *r, uint32_t *v) { return take(r, v, 4); }
static int take_u64(struct reader *r, uint64_t *v) { return take(r, v, 8); }

/* Copy n bytes into the arena as a NUL-terminated string; NULs inside are malformed. */
static const char *take_string(struct reader *r, size_t n, struct arena *a)
{
    if (r->left < n || n > SBX_MAX_STRING || memchr(r->p, '\0', n) != NULL)
        return NULL;
    char *s = arena_alloc(a, n + 1, 1);
    if (s == NULL)
        return NULL;
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    r->left -= n;
    return s;
}

static int fail(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_absolute_path(const char *s) { return s[0] == '/' && strlen(s) < SBX_MAX_PATH; }

int spec_parse(const uint8_t *buf, size_t len, struct sbx_spec *spec, char *err, size_t err_len)
{
    memset(spec, 0, sizeof *spec);
    if (len < SBX_SPEC_HEADER_SIZE)
        return fail(err, err_len, "spec is %zu bytes, shorter than its header", len);
    uint32_t magic, version, total;
    memcpy(&magic, buf, 4);
    memcpy(&version, buf + 4, 4);
    memcpy(&total, buf + 8, 4);
    if (magic != SBX_SPEC_MAGIC)
        return fail(err, err_len, "bad spec magic 0x%08x (not a sandbox spec)", magic);
    if (version != SBX_SPEC_VERSION)
        return fail(err, err_len, "spec version %u, this helper reads version %u: the library and sandbox-helper come from different builds", version, SBX_SPEC_VERSION);
    if (total != len || len > SBX_SPEC_MAX_SIZE)
        return fail(err, err_len, "spec length field says %u bytes, %zu arrived", total, len);

    /* A first pass counts the records of each tag, so that every array gets exactly the room
     * its records need. An arena sized for the worst case (len/8 entries in each of a dozen
     * arrays) had to be zeroed page by page; where a page fault is dear that was most of the
     * helper's start. A record this pass cannot see whole is reported by the second. */
    size_t count[256] = {0}, n_records = 0; /* by tag; every tag protocol.h defines is below 256 */
    for (struct reader scan = {buf + SBX_SPEC_HEADER_SIZE, len - SBX_SPEC_HEADER_SIZE}; scan.left >= SBX_RECORD_HEADER_SIZE;) {
        uint16_t tag;
        uint32_t size;
        memcpy(&tag, scan.p, 2);
        memcpy(&size, scan.p + 4, 4);
        scan.p += SBX_RECORD_HEADER_SIZE;
        scan.left -= SBX_RECORD_HEADER_SIZE;
        if (size > scan.left)
            break;
        scan.p += size;
        scan.left -= size;
        count[tag < 256 ? tag : 0]++;
        n_records++;
    }
    /* The second pass refuses a list past its limit before it writes past it, so no list needs
     * room for more entries than its limit and one: a spec of many small records cannot make
     * the arena larger than the limits allow. */
    static const struct {
        uint16_t tag;
        size_t max;
    } limits[] = {
        {SBX_REC_ARG, SBX_MAX_ARGS}, {SBX_REC_ENV, SBX_MAX_ENV}, {SBX_REC_MOUNT, SBX_MAX_MOUNTS},
        {SBX_REC_UID_MAP, SBX_MAX_ID_MAPS}, {SBX_REC_GID_MAP, SBX_MAX_ID_MAPS},
        {SBX_REC_CGROUP_JOIN, SBX_MAX_CGROUP_PATHS}, {SBX_REC_CGROUP_RETURN, SBX_MAX_CGROUP_PATHS},
        {SBX_REC_MASK_PATH, SBX_MAX_MOUNTS}, {SBX_REC_READONLY_PATH, SBX_MAX_MOUNTS},
        {SBX_REC_OVERLAY_LOWER, SBX_MAX_LAYERS}, {SBX_REC_RLIMIT, SBX_RLIMIT_COUNT},
        {SBX_REC_GROUP, SBX_MAX_GROUPS}, {SBX_REC_LANDLOCK_RULE, SBX_MAX_MOUNTS},
    };
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++)
        if (count[limits[i].tag] > limits[i].max + 1)
            count[limits[i].tag] = limits[i].max + 1;
    /* Strings and the seccomp program copy at most len bytes, plus a NUL per string (a record
     * holds two at most); each array below is aligned once; the NULL-terminated lists have
     * one more entry. */
    size_t lists = count[SBX_REC_ARG] + count[SBX_REC_ENV] + count[SBX_REC_CGROUP_JOIN] + count[SBX_REC_CGROUP_RETURN]
                   + count[SBX_REC_MASK_PATH] + count[SBX_REC_READONLY_PATH] + count[SBX_REC_OVERLAY_LOWER] + 7;
    size_t arena_size = len + 2 * n_records + 16 * 8 + lists * sizeof(char *)
                        + count[SBX_REC_MOUNT] * sizeof(struct sbx_mount)
                        + (count[SBX_REC_UID_MAP] + count[SBX_REC_GID_MAP]) * sizeof(struct sbx_id_map)
                        + count[SBX_REC_RLIMIT] * sizeof(struct sbx_rlimit) + count[SBX_REC_GROUP] * sizeof(uint32_t)
                        + count[SBX_REC_LANDLOCK_RULE] * sizeof(struct sbx_landlock_rule);
    struct arena a = {.base = calloc(1, arena_size), .used = 0, .size = arena_size};
    if (a.base == NULL)
        return fail(err, err_len, "out of memory for a %zu-byte spec", len);
    spec->arena_ = a.base;
    spec->argv = arena_alloc(&a, (count[SBX_REC_ARG] + 1) * sizeof(char *), sizeof(char *));
    spec->envp = arena_alloc(&a, (count[SBX_REC_ENV] + 1) * sizeof(char *), sizeof(char *));
    spec->mounts = arena_alloc(&a, count[SBX_REC_MOUNT] * sizeof(struct sbx_mount), 8);
    spec->uid_maps = arena_alloc(&a, count[SBX_REC_UID_MAP] * sizeof(struct sbx_id_map), 4);
    spec->gid_maps = arena_alloc(&a, count[SBX_REC_GID_MAP] * sizeof(struct sbx_id_map), 4);
    spec->cgroup_join = arena_alloc(&a, (count[SBX_REC_CGROUP_JOIN] + 1) * sizeof(char *), sizeof(char *));
    spec->cgroup_return = arena_alloc(&a, (count[SBX_REC_CGROUP_RETURN] + 1) * sizeof(char *), sizeof(char *));
    spec->mask_paths = arena_alloc(&a, (count[SBX_REC_MASK_PATH] + 1) * sizeof(char *), sizeof(char *));
    spec->readonly_paths = arena_alloc(&a, (count[SBX_REC_READONLY_PATH] + 1) * sizeof(char *), sizeof(char *));
    spec->overlay_lowers = arena_alloc(&a, (count[SBX_REC_OVERLAY_LOWER] + 1) * sizeof(char *), sizeof(char *));
    spec->rlimits = arena_alloc(&a, count[SBX_REC_RLIMIT] * sizeof(struct sbx_rlimit), 8);
    spec->groups = arena_alloc(&a, count[SBX_REC_GROUP] * sizeof(uint32_t), 4);
    spec->landlock_rules = arena_alloc(&a, count[SBX_REC_LANDLOCK_RULE] * sizeof(struct sbx_landlock_rule), 8);

    int seen_namespaces = 0, seen_root = 0;
    struct reader r = {buf + SBX_SPEC_HEADER_SIZE, len - SBX_SPEC_HEADER_SIZE};
    while (r.left > 0) {
        uint16_t tag, reserved;
        uint32_t size;
        if (take(&r, &tag, 2) || take(&r, &reserved, 2) || take_u32(&r, &size))
            goto truncated;
        if (reserved != 0)
            return spec_free(spec), fail(err, err_len, "spec record at offset %zu has a nonzero reserved field", len - r.left - SBX_RECORD_HEADER_SIZE);
        if (size > r.left)
            goto truncated;
        struct reader p = {r.p, size};
        r.p += size;
        r.left -= size;
        switch (tag) {
        case SBX_REC_NAMESPACES:
            if (seen_namespaces++ || size != 4 || take_u32(&p, &spec->namespaces))
                goto bad_record;
            if (spec->namespaces & ~(uint32_t)SBX_NS_ALL)
                return spec_free(spec), fail(err, err_len, "unknown namespace flags 0x%x", spec->namespaces);
            break;
        case SBX_REC_HOSTNAME:
            if (spec->hostname != NULL || size == 0 || size > SBX_MAX_HOSTNAME)
                goto bad_record;
            if ((spec->hostname = take_string(&p, size, &a)) == NULL)
                goto bad_record;
            break;
        case SBX_REC_UID_MAP:
        case SBX_REC_GID_MAP: {
            struct sbx_id_map m;
            if (size != 12 || take_u32(&p, &m.inside) || take_u32(&p, &m.outside) || take_u32(&p, &m.count) || m.count == 0)
                goto bad_record;
            if ((uint64_t)m.inside + m.count > UINT32_MAX || (uint64_t)m.outside + m.count > UINT32_MAX)
                goto bad_record;
            size_t *n = tag == SBX_REC_UID_MAP ? &spec->n_uid_maps : &spec->n_gid_maps;
            if (*n >= SBX_MAX_ID_MAPS)
                return spec_free(spec), fail(err, err_len, "more than %d id map lines", SBX_MAX_ID_MAPS);
            (tag == SBX_REC_UID_MAP ? spec->uid_maps : spec->gid_maps)[(*n)++] = m;
            break;
        }
        case SBX_REC_USER:
            if (spec->has_user++ || size != 8 || take_u32(&p, &spec->uid) || take_u32(&p, &spec->gid))
                goto bad_record;
            break;
        case SBX_REC_ROOT:
            if (seen_root++ || size < 4 || take_u32(&p, &spec->root_flags))
                goto bad_record;
            if ((spec->root_flags & ~(uint32_t)(SBX_ROOT_READONLY | SBX_ROOT_OVERLAY | SBX_ROOT_IDMAP_LAYERS)) != 0)
                goto bad_record;
            if ((spec->root_path = take_string(&p, p.left, &a)) == NULL)
                goto bad_record;
            if ((spec->root_flags & SBX_ROOT_OVERLAY) ? spec->root_path[0] != '\0' : !is_absolute_path(spec->root_path))
                goto bad_record;
            break;
        case SBX_REC_OVERLAY_LOWER:
            if (spec->n_overlay_lowers >= SBX_MAX_LAYERS)
                return spec_free(spec), fail(err, err_len, "more than %d overlay layers", SBX_MAX_LAYERS);
            if ((spec->overlay_lowers[spec->n_overlay_lowers] = (char *)take_string(&p, size, &a)) == NULL
                || !is_absolute_path(spec->overlay_lowers[spec->n_overlay_lowers]))
                goto bad_record;
            spec->n_overlay_lowers++;
            break;
        case SBX_REC_OVERLAY_UPPER: {
            uint32_t ulen, wlen;
            if (spec->has_overlay_upper++ || take_u64(&p, &spec->overlay_upper_size))
                goto bad_record;
            if (take_u32(&p, &ulen) || (spec->overlay_upper = take_string(&p, ulen, &a)) == NULL)
                goto bad_record;
            if (take_u32(&p, &wlen) || (spec->overlay_work = take_string(&p, wlen, &a)) == NULL || p.left != 0)
                goto bad_record;
            int tmpfs = spec->overlay_upper[0] == '\0' && spec->overlay_work[0] == '\0';
            if (!tmpfs && (!is_absolute_path(spec->overlay_upper) || !is_absolute_path(spec->overlay_work) || spec->overlay_upper_size != 0))
                goto bad_record;
            break;
        }
        case SBX_REC_MOUNT: {
            struct sbx_mount *m = &spec->mounts[spec->n_mounts];
            uint32_t slen, tlen;
            if (spec->n_mounts >= SBX_MAX_MOUNTS)
                return spec_free(spec), fail(err, err_len, "more than %d mounts", SBX_MAX_MOUNTS);
            if (take_u32(&p, &m->type) || take_u32(&p, &m->flags) || take_u32(&p, &m->mode) || take_u64(&p, &m->size))
                goto bad_record;
            if (take_u32(&p, &slen) || (m->source = take_string(&p, slen, &a)) == NULL)
                goto bad_record;
            if (take_u32(&p, &tlen) || (m->target = take_string(&p, tlen, &a)) == NULL || p.left != 0)
                goto bad_record;
            if (m->type < SBX_MOUNT_BIND || m->type > SBX_MOUNT_FILE || m->mode > 07777 || !is_absolute_path(m->target))
                goto bad_record;
            if (m->type == SBX_MOUNT_BIND ? !is_absolute_path(m->source)
                : m->type == SBX_MOUNT_SYMLINK ? m->source[0] == '\0' || strlen(m->source) >= SBX_MAX_PATH
                : m->type == SBX_MOUNT_FILE ? 0
                : m->source[0] != '\0')
                goto bad_record;
            if (m->flags & ~(uint32_t)(SBX_MOUNTF_READONLY | SBX_MOUNTF_RECURSIVE | SBX_MOUNTF_OPTIONAL | SBX_MOUNTF_NOSUID | SBX_MOUNTF_NODEV | SBX_MOUNTF_NOEXEC))
                goto bad_record;
            spec->n_mounts++;
            break;
        }
        case SBX_REC_ARG:
            if (spec->argc >= SBX_MAX_ARGS || (spec->argv[spec->argc] = (char *)take_string(&p, size, &a)) == NULL)
                goto bad_record;
            spec->argc++;
            break;
        case SBX_REC_ENV:
            if (spec->envc >= SBX_MAX_ENV || (spec->envp[spec->envc] = (char *)take_string(&p, size, &a)) == NULL)
                goto bad_record;
            if (strchr(spec->envp[spec->envc], '=') == NULL || spec->envp[spec->envc][0] == '=')
                goto bad_record;
            spec->envc++;
            break;
        case SBX_REC_CWD:
            if (spec->cwd != NULL || (spec->cwd = take_string(&p, size, &a)) == NULL || !is_absolute_path(spec->cwd))
                goto bad_record;
            break;
        case SBX_REC_TIME_OFFSETS: {
            uint64_t mono, boot;
            if (spec->has_time_offsets++ || size != 16 || take_u64(&p, &mono) || take_u64(&p, &boot))
                goto bad_record;
            spec->monotonic_offset_ns = (int64_t)mono;
            spec->boottime_offset_ns = (int64_t)boot;
            break;
        }
        case SBX_REC_TIMEOUT:
            if (spec->timeout_ms != 0 || size != 8 || take_u64(&p, &spec->timeout_ms) || spec->timeout_ms == 0)
                goto bad_record;
            break;
        case SBX_REC_CGROUP_JOIN:
        case SBX_REC_CGROUP_RETURN: {
            char **list = tag == SBX_REC_CGROUP_JOIN ? spec->cgroup_join : spec->cgroup_return;
            size_t *n = tag == SBX_REC_CGROUP_JOIN ? &spec->n_cgroup_join : &spec->n_cgroup_return;
            if (*n >= SBX_MAX_CGROUP_PATHS || (list[*n] = (char *)take_string(&p, size, &a)) == NULL || !is_absolute_path(list[*n]))
                goto bad_record;
            (*n)++;
            break;
        }
        case SBX_REC_MASK_PATH:
        case SBX_REC_READONLY_PATH: {
            char **list = tag == SBX_REC_MASK_PATH ? spec->mask_paths : spec->readonly_paths;
            size_t *n = tag == SBX_REC_MASK_PATH ? &spec->n_mask_paths : &spec->n_readonly_paths;
            if (*n >= SBX_MAX_MOUNTS || (list[*n] = (char *)take_string(&p, size, &a)) == NULL || !is_absolute_path(list[*n]))
                goto bad_record;
            (*n)++;
            break;
        }
        case SBX_REC_RLIMIT: {
            struct sbx_rlimit *l = &spec->rlimits[spec->n_rlimits];
            if (size != 20 || take_u32(&p, &l->resource) || take_u64(&p, &l->soft) || take_u64(&p, &l->hard))
                goto bad_record;
            if (l->resource >= SBX_RLIMIT_COUNT || l->soft > l->hard)
                goto bad_record;
            for (size_t i = 0; i < spec->n_rlimits; i++)
                if (spec->rlimits[i].resource == l->resource)
                    goto bad_record;
            spec->n_rlimits++;
            break;
        }
        case SBX_REC_CAPABILITIES:
            if (spec->has_capabilities++ || size != 8 || take_u64(&p, &spec->capabilities))
                goto bad_record;
            break;
        case SBX_REC_GROUP:
            if (size != 4 || spec->n_groups >= SBX_MAX_GROUPS || take_u32(&p, &spec->groups[spec->n_groups]))
                goto bad_record;
            spec->n_groups++;
            break;
        case SBX_REC_UMASK:
            if (spec->has_umask++ || size != 4 || take_u32(&p, &spec->umask) || spec->umask > 0777)
                goto bad_record;
            break;
        case SBX_REC_SECCOMP:
            if (spec->seccomp != NULL || size == 0 || size % 8 != 0 || size / 8 > SBX_MAX_BPF_INSNS)
                goto bad_record;
            {
                uint8_t *program = arena_alloc(&a, size, 8);
                if (program == NULL || take(&p, program, size))
                    goto bad_record;
                spec->seccomp = program;
            }
            spec->n_seccomp = size / 8;
            break;
        case SBX_REC_SECURITY:
            if (spec->has_security++ || size != 4 || take_u32(&p, &spec->security_flags))
                goto bad_record;
            if (spec->security_flags & ~(uint32_t)(SBX_SECURITY_ALLOW_NEW_PRIVS | SBX_SECURITY_SECCOMP_LOG))
                goto bad_record;
            break;
        case SBX_REC_LANDLOCK:
            if (spec->has_landlock++ || size != 4 || take_u32(&p, &spec->landlock_flags) || (spec->landlock_flags & ~(uint32_t)SBX_LANDLOCK_BEST_EFFORT))
                goto bad_record;
            break;
        case SBX_REC_LANDLOCK_RULE: {
            struct sbx_landlock_rule *l = &spec->landlock_rules[spec->n_landlock_rules];
            if (spec->n_landlock_rules >= SBX_MAX_MOUNTS || size < 5 || take_u32(&p, &l->access))
                goto bad_record;
            if ((l->access & ~(uint32_t)SBX_LANDLOCK_OPTIONAL) == 0
                || (l->access & ~(uint32_t)(SBX_LANDLOCK_READ | SBX_LANDLOCK_WRITE | SBX_LANDLOCK_EXECUTE | SBX_LANDLOCK_OPTIONAL)))
                goto bad_record;
            if ((l->path = take_string(&p, p.left, &a)) == NULL || !is_absolute_path(l->path))
                goto bad_record;
            spec->n_landlock_rules++;
            break;
        }
        case SBX_REC_TERMINAL:
            if (spec->terminal++ || size != 0)
                goto bad_record;
            break;
        case SBX_REC_WAIT_FOR_START:
            if (spec->wait_for_start++ || size != 0)
                goto bad_record;
            break;
        case SBX_REC_CGROUP_UNIFIED:
            if (spec->cgroup_unified != NULL || (spec->cgroup_unified = take_string(&p, size, &a)) == NULL || !is_absolute_path(spec->cgroup_unified))
                goto bad_record;
            break;
        default:
            spec_free(spec);
            return fail(err, err_len, "unknown spec record tag %u: the library and sandbox-helper come from different builds", tag);
        bad_record:
            spec_free(spec);
            return fail(err, err_len, "malformed or repeated spec record (tag %u, %u bytes)", tag, size);
        }
    }
    if (!seen_namespaces || !seen_root || spec->argc == 0)
        return spec_free(spec), fail(err, err_len, "spec lacks a required record (namespaces, root or command)");
    if (spec->has_time_offsets && !(spec->namespaces & SBX_NS_TIME))
        return spec_free(spec), fail(err, err_len, "clock offsets given without the time namespace");
    if ((spec->root_flags & SBX_ROOT_OVERLAY) ? spec->n_overlay_lowers == 0 || !spec->has_overlay_upper : (spec->n_overlay_lowers != 0 || spec->has_overlay_upper))
        return spec_free(spec), fail(err, err_len, "overlay layers given without an overlay root, or an overlay root without its layers");
    if ((spec->root_flags & SBX_ROOT_IDMAP_LAYERS) && (!(spec->root_flags & SBX_ROOT_OVERLAY) || !(spec->namespaces & SBX_NS_USER)))
        return spec_free(spec), fail(err, err_len, "idmapped layers need an overlay root and a user namespace");
    if (spec->n_landlock_rules > 0 && !spec->has_landlock)
        return spec_free(spec), fail(err, err_len, "Landlock rules given without Landlock");
    if ((spec->root_flags & SBX_ROOT_OVERLAY) && !(spec->namespaces & SBX_NS_MOUNT))
        return spec_free(spec), fail(err, err_len, "an overlay root needs the mount namespace");
    spec->argv[spec->argc] = NULL;
    spec->envp[spec->envc] = NULL;
    spec->cgroup_join[spec->n_cgroup_join] = NULL;
    spec->cgroup_return[spec->n_cgroup_return] = NULL;
    spec->mask_paths[spec->n_mask_paths] = NULL;
    spec->readonly_paths[spec->n_readonly_paths] = NULL;
    spec->overlay_lowers[spec->n_overlay_lowers] = NULL;
    return 0;

truncated:
    spec_free(spec);
    return fail(err, err_len, "spec record header truncated or corrupt at offset %zu", len - r.left);
}

void spec_free(struct sbx_spec *spec)
{
    free(spec->arena_);
    memset(spec, 0, sizeof *spec);
}
