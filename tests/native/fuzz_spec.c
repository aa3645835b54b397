/* fuzz_spec.c - libFuzzer target for the spec parser (src/Sandbox/native/spec.c).
 *
 * Built and run by tests/native/run.sh with -fsanitize=fuzzer,address,undefined, seeded
 * with the valid specs that `test_spec --write-corpus` writes. A rejected spec must come
 * back zeroed with a message; a parsed one must keep the invariants the helper relies on,
 * and every string and array entry is read so ASan checks it lies inside the arena.
 * Each input is parsed as is and, when its length field is wrong, again with that field
 * fixed (see LLVMFuzzerTestOneInput). */
#include "protocol.h"
#include "spec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok)
{
    if (!ok)
        abort();
}

static size_t checked_path(const char *s)
{
    require(s != NULL && s[0] == '/');
    size_t n = strlen(s);
    require(n < SBX_MAX_PATH);
    return n;
}

static void check_rejected(const struct sbx_spec *spec, const char *err)
{
    static const struct sbx_spec zero;
    require(memcmp(spec, &zero, sizeof *spec) == 0);
    require(err[0] != '\0');
}

static size_t check_parsed(const struct sbx_spec *spec)
{
    size_t sum = 0;
    require((spec->namespaces & ~(uint32_t)SBX_NS_ALL) == 0);
    if (spec->root_flags & SBX_ROOT_OVERLAY) {
        require(spec->root_path != NULL && spec->root_path[0] == '\0');
        require(spec->n_overlay_lowers >= 1 && spec->n_overlay_lowers <= SBX_MAX_LAYERS && spec->overlay_lowers[spec->n_overlay_lowers] == NULL);
        for (size_t i = 0; i < spec->n_overlay_lowers; i++)
            sum += checked_path(spec->overlay_lowers[i]);
        require(spec->has_overlay_upper && spec->overlay_upper != NULL && spec->overlay_work != NULL);
        if (spec->overlay_upper[0] != '\0')
            sum += checked_path(spec->overlay_upper) + checked_path(spec->overlay_work);
        else
            require(spec->overlay_work[0] == '\0');
        require(spec->namespaces & SBX_NS_MOUNT);
    } else {
        sum += checked_path(spec->root_path);
        require(spec->n_overlay_lowers == 0 && !spec->has_overlay_upper);
    }
    require(!(spec->root_flags & SBX_ROOT_IDMAP_LAYERS) || ((spec->root_flags & SBX_ROOT_OVERLAY) && (spec->namespaces & SBX_NS_USER)));

    require(spec->argc >= 1 && spec->argc <= SBX_MAX_ARGS && spec->argv[spec->argc] == NULL);
    for (size_t i = 0; i < spec->argc; i++)
        sum += strlen(spec->argv[i]);
    require(spec->envc <= SBX_MAX_ENV && spec->envp[spec->envc] == NULL);
    for (size_t i = 0; i < spec->envc; i++) {
        require(strchr(spec->envp[i], '=') != NULL);
        sum += strlen(spec->envp[i]);
    }

    if (spec->hostname != NULL) {
        size_t n = strlen(spec->hostname);
        require(n >= 1 && n <= SBX_MAX_HOSTNAME);
        sum += n;
    }
    if (spec->cwd != NULL)
        sum += checked_path(spec->cwd);

    require(spec->n_uid_maps <= SBX_MAX_ID_MAPS && spec->n_gid_maps <= SBX_MAX_ID_MAPS);
    for (size_t i = 0; i < spec->n_uid_maps; i++)
        require(spec->uid_maps[i].count != 0);
    for (size_t i = 0; i < spec->n_gid_maps; i++)
        require(spec->gid_maps[i].count != 0);

    require(spec->n_mounts <= SBX_MAX_MOUNTS);
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct sbx_mount *m = &spec->mounts[i];
        require(m->type >= SBX_MOUNT_BIND && m->type <= SBX_MOUNT_FILE && m->mode <= 07777);
        sum += checked_path(m->target);
        require(m->source != NULL);
        sum += m->type == SBX_MOUNT_BIND ? checked_path(m->source) : strlen(m->source);
        require(m->type != SBX_MOUNT_SYMLINK || (m->source[0] != '\0' && strlen(m->source) < SBX_MAX_PATH));
        require(m->type == SBX_MOUNT_BIND || m->type == SBX_MOUNT_SYMLINK || m->type == SBX_MOUNT_FILE || m->source[0] == '\0');
    }

    require(!spec->has_time_offsets || (spec->namespaces & SBX_NS_TIME));
    require(spec->n_landlock_rules == 0 || spec->has_landlock);
    for (size_t i = 0; i < spec->n_landlock_rules; i++) {
        require((spec->landlock_rules[i].access & (SBX_LANDLOCK_READ | SBX_LANDLOCK_WRITE | SBX_LANDLOCK_EXECUTE)) != 0);
        sum += checked_path(spec->landlock_rules[i].path);
    }
    require(spec->n_seccomp <= SBX_MAX_BPF_INSNS && (spec->seccomp == NULL) == (spec->n_seccomp == 0));
    for (size_t i = 0; i < 8 * spec->n_seccomp; i++)
        sum += spec->seccomp[i] == 0xff; /* ASan: the program lies inside the arena */
    return sum;
}

static void parse_one(const uint8_t *data, size_t size)
{
    struct sbx_spec spec;
    char err[256];
    err[0] = '\0';
    if (spec_parse(data, size, &spec, err, sizeof err) != 0) {
        check_rejected(&spec, err);
        return;
    }
    /* every string lies in the input, so their lengths add up to less than it */
    require(check_parsed(&spec) < size);
    spec_free(&spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_one(data, size);

    /* Most of libFuzzer's mutations insert or erase bytes, and the header's length field
     * then no longer matches: without this second parse, only the mutations that keep
     * the size would ever reach the records. The copy is exactly size bytes, so ASan
     * still catches a read past the end. */
    if (size >= SBX_SPEC_HEADER_SIZE && size <= SBX_SPEC_MAX_SIZE) {
        uint8_t *copy = malloc(size);
        require(copy != NULL);
        memcpy(copy, data, size);
        copy[8] = (uint8_t)size;
        copy[9] = (uint8_t)(size >> 8);
        copy[10] = (uint8_t)(size >> 16);
        copy[11] = (uint8_t)(size >> 24);
        if (memcmp(copy + 8, data + 8, 4) != 0)
            parse_one(copy, size);
        free(copy);
    }
    return 0;
}
