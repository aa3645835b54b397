/* test_spec.c - unit tests for the spec parser (src/Sandbox/native/spec.c).
 *
 * Specs are built in memory, record by record, with the helpers below; every integer is
 * written byte by byte in little-endian order, so the tests state the wire format
 * independently of spec.c. Every rejection must leave the spec struct zeroed (nothing
 * allocated: ASan's leak checker confirms it) and a message that says what was wrong.
 *
 * Run by tests/native/run.sh under ASan and UBSan. With "--write-corpus DIR" the program
 * writes a few valid specs into DIR as seeds for fuzz_spec and exits. */
#include "protocol.h"
#include "spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- checks ------------------------------------------------------------------------ */

static unsigned n_passed, n_failed;

static int check(int ok, const char *file, int line, const char *what)
{
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
    }
    return ok;
}

#define CHECK_AT(line, cond) check((cond) != 0, __FILE__, (line), #cond)
#define CHECK(cond) CHECK_AT(__LINE__, cond)

/* ---- building specs ---------------------------------------------------------------- */

struct buf {
    uint8_t *data;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL) {
            perror("realloc");
            exit(2);
        }
        b->data = d;
        b->cap = cap;
    }
    if (n != 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, sizeof x);
}

static void put_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, sizeof x);
}

static void put_u64(struct buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void set_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void buf_free(struct buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* A header whose length field seal() fills in. */
static struct buf spec_new(void)
{
    struct buf b = {0};
    put_u32(&b, SBX_SPEC_MAGIC);
    put_u32(&b, SBX_SPEC_VERSION);
    put_u32(&b, 0);
    return b;
}

static void seal(struct buf *b) { set_u32(b->data + 8, (uint32_t)b->len); }

static void rec_header(struct buf *b, uint16_t tag, uint16_t reserved, uint32_t size)
{
    put_u16(b, tag);
    put_u16(b, reserved);
    put_u32(b, size);
}

static void rec_bytes(struct buf *b, uint16_t tag, const void *p, size_t n)
{
    rec_header(b, tag, 0, (uint32_t)n);
    put(b, p, n);
}

static void rec_str(struct buf *b, uint16_t tag, const char *s) { rec_bytes(b, tag, s, strlen(s)); }

static void rec_u32(struct buf *b, uint16_t tag, uint32_t v)
{
    rec_header(b, tag, 0, 4);
    put_u32(b, v);
}

static void rec_u64(struct buf *b, uint16_t tag, uint64_t v)
{
    rec_header(b, tag, 0, 8);
    put_u64(b, v);
}

static void rec_idmap(struct buf *b, uint16_t tag, uint32_t inside, uint32_t outside, uint32_t count)
{
    rec_header(b, tag, 0, 12);
    put_u32(b, inside);
    put_u32(b, outside);
    put_u32(b, count);
}

static void rec_user(struct buf *b, uint32_t uid, uint32_t gid)
{
    rec_header(b, SBX_REC_USER, 0, 8);
    put_u32(b, uid);
    put_u32(b, gid);
}

static void rec_root_bytes(struct buf *b, uint32_t flags, const char *path, size_t n)
{
    rec_header(b, SBX_REC_ROOT, 0, (uint32_t)(4 + n));
    put_u32(b, flags);
    put(b, path, n);
}

static void rec_root(struct buf *b, uint32_t flags, const char *path) { rec_root_bytes(b, flags, path, strlen(path)); }

static void rec_mount_bytes(struct buf *b, uint32_t type, uint32_t flags, uint32_t mode, uint64_t size, const char *src, size_t slen,
                            const char *tgt, size_t tlen)
{
    rec_header(b, SBX_REC_MOUNT, 0, (uint32_t)(4 + 4 + 4 + 8 + 4 + slen + 4 + tlen));
    put_u32(b, type);
    put_u32(b, flags);
    put_u32(b, mode);
    put_u64(b, size);
    put_u32(b, (uint32_t)slen);
    put(b, src, slen);
    put_u32(b, (uint32_t)tlen);
    put(b, tgt, tlen);
}

static void rec_mount(struct buf *b, uint32_t type, uint32_t flags, uint32_t mode, uint64_t size, const char *src, const char *tgt)
{
    rec_mount_bytes(b, type, flags, mode, size, src, strlen(src), tgt, strlen(tgt));
}

static void rec_time(struct buf *b, int64_t mono, int64_t boot)
{
    rec_header(b, SBX_REC_TIME_OFFSETS, 0, 16);
    put_u64(b, (uint64_t)mono);
    put_u64(b, (uint64_t)boot);
}

/* The smallest valid spec: namespaces, root, one argument. */
static struct buf minimal_ns(uint32_t ns)
{
    struct buf b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, ns);
    rec_root(&b, 0, "/");
    rec_str(&b, SBX_REC_ARG, "/bin/true");
    return b;
}

static struct buf minimal(void) { return minimal_ns(SBX_NS_USER | SBX_NS_PID | SBX_NS_MOUNT); }

/* A spec with every record type, required records first (the truncation test relies on
 * that: every record boundary after the first argument is a valid spec). */
static struct buf full(void)
{
    struct buf b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, SBX_NS_ALL);
    rec_root(&b, SBX_ROOT_READONLY, "/srv/rootfs");
    rec_str(&b, SBX_REC_ARG, "/bin/sh");
    rec_str(&b, SBX_REC_ARG, "-c");
    rec_str(&b, SBX_REC_ARG, "");
    rec_str(&b, SBX_REC_ARG, "echo \"$HOME\"");
    rec_str(&b, SBX_REC_HOSTNAME, "sandbox");
    rec_idmap(&b, SBX_REC_UID_MAP, 0, 1000, 1);
    rec_idmap(&b, SBX_REC_UID_MAP, 1, 100000, 65536);
    rec_idmap(&b, SBX_REC_GID_MAP, 0, 1001, 1);
    rec_user(&b, 1, 2);
    rec_mount(&b, SBX_MOUNT_BIND, SBX_MOUNTF_READONLY | SBX_MOUNTF_RECURSIVE | SBX_MOUNTF_OPTIONAL, 0, 0, "/usr", "/usr");
    rec_mount(&b, SBX_MOUNT_TMPFS, SBX_MOUNTF_NOSUID | SBX_MOUNTF_NODEV | SBX_MOUNTF_NOEXEC, 01777, UINT64_C(1) << 40, "", "/tmp");
    rec_mount(&b, SBX_MOUNT_PROC, SBX_MOUNTF_NOSUID, 0, 0, "", "/proc");
    rec_mount(&b, SBX_MOUNT_DEV, 0, 0755, 65536, "", "/dev");
    rec_str(&b, SBX_REC_ENV, "HOME=/root");
    rec_str(&b, SBX_REC_ENV, "EMPTY=");
    rec_str(&b, SBX_REC_ENV, "A=b=c");
    rec_str(&b, SBX_REC_CWD, "/work");
    rec_time(&b, INT64_C(-5000000000), INT64_MIN);
    rec_u64(&b, SBX_REC_TIMEOUT, UINT64_MAX);
    return b;
}

/* ---- parsing ----------------------------------------------------------------------- */

static struct sbx_spec spec;
static char err[512];

static int is_zeroed(const struct sbx_spec *s)
{
    static const struct sbx_spec zero;
    return memcmp(s, &zero, sizeof *s) == 0;
}

/* Parse a copy of data in a heap block of exactly len bytes, so ASan catches any read
 * past the end. The spec struct is filled with garbage first: the parser must reset it. */
static int parse_exact(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len != 0 ? len : 1);
    if (copy == NULL) {
        perror("malloc");
        exit(2);
    }
    if (len != 0)
        memcpy(copy, data, len);
    memset(&spec, 0xa5, sizeof spec);
    memset(err, 0, sizeof err);
    int rc = spec_parse(copy, len, &spec, err, sizeof err);
    free(copy);
    return rc;
}

/* What any successfully parsed spec must satisfy; reads every string so ASan checks it. */
static int invariants_hold(const struct sbx_spec *s)
{
    size_t total = 0;
    if (s->namespaces & ~(uint32_t)SBX_NS_ALL)
        return 0;
    if (s->root_path == NULL || strlen(s->root_path) >= SBX_MAX_PATH)
        return 0;
    if ((s->root_flags & SBX_ROOT_OVERLAY) ? s->root_path[0] != '\0' || s->n_overlay_lowers == 0 || !s->has_overlay_upper
                                           : s->root_path[0] != '/' || s->n_overlay_lowers != 0 || s->has_overlay_upper)
        return 0;
    if (s->n_overlay_lowers > SBX_MAX_LAYERS || (s->n_overlay_lowers > 0 && s->overlay_lowers[s->n_overlay_lowers] != NULL))
        return 0;
    for (size_t i = 0; i < s->n_overlay_lowers; i++)
        if (s->overlay_lowers[i] == NULL || s->overlay_lowers[i][0] != '/')
            return 0;
    if (s->has_overlay_upper && (s->overlay_upper == NULL || s->overlay_work == NULL || (s->overlay_upper[0] == '\0') != (s->overlay_work[0] == '\0')))
        return 0;
    if ((s->root_flags & SBX_ROOT_IDMAP_LAYERS) && !((s->root_flags & SBX_ROOT_OVERLAY) && (s->namespaces & SBX_NS_USER)))
        return 0;
    if (s->argc == 0 || s->argc > SBX_MAX_ARGS || s->argv == NULL || s->argv[s->argc] != NULL)
        return 0;
    for (size_t i = 0; i < s->argc; i++) {
        if (s->argv[i] == NULL)
            return 0;
        total += strlen(s->argv[i]);
    }
    if (s->envc > SBX_MAX_ENV || s->envp == NULL || s->envp[s->envc] != NULL)
        return 0;
    for (size_t i = 0; i < s->envc; i++)
        if (s->envp[i] == NULL || strchr(s->envp[i], '=') == NULL)
            return 0;
    if (s->hostname != NULL && (s->hostname[0] == '\0' || strlen(s->hostname) > SBX_MAX_HOSTNAME))
        return 0;
    if (s->cwd != NULL && (s->cwd[0] != '/' || strlen(s->cwd) >= SBX_MAX_PATH))
        return 0;
    if (s->n_uid_maps > SBX_MAX_ID_MAPS || s->n_gid_maps > SBX_MAX_ID_MAPS)
        return 0;
    for (size_t i = 0; i < s->n_uid_maps; i++)
        if (s->uid_maps[i].count == 0)
            return 0;
    for (size_t i = 0; i < s->n_gid_maps; i++)
        if (s->gid_maps[i].count == 0)
            return 0;
    if (s->n_mounts > SBX_MAX_MOUNTS)
        return 0;
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct sbx_mount *m = &s->mounts[i];
        if (m->type < SBX_MOUNT_BIND || m->type > SBX_MOUNT_FILE || m->mode > 07777)
            return 0;
        if (m->type == SBX_MOUNT_SYMLINK && m->source[0] == '\0')
            return 0;
        if (m->source == NULL || m->target == NULL || m->target[0] != '/')
            return 0;
        if (m->type == SBX_MOUNT_BIND && m->source[0] != '/')
            return 0;
        total += strlen(m->source) + strlen(m->target);
    }
    if (s->has_time_offsets && !(s->namespaces & SBX_NS_TIME))
        return 0;
    return total != (size_t)-1;
}

/* Seal b, parse it, expect success; the caller inspects `spec` and calls spec_free. */
static int expect_ok(int line, struct buf *b)
{
    seal(b);
    int rc = parse_exact(b->data, b->len);
    if (!CHECK_AT(line, rc == 0))
        fprintf(stderr, "    parse failed: %s\n", err);
    else
        CHECK_AT(line, invariants_hold(&spec));
    buf_free(b);
    return rc == 0;
}

/* Parse data as is (not sealed), expect a rejection whose message contains `msg`. */
static void expect_reject_raw(int line, const uint8_t *data, size_t len, const char *msg)
{
    int rc = parse_exact(data, len);
    CHECK_AT(line, rc == -1);
    if (!CHECK_AT(line, strstr(err, msg) != NULL))
        fprintf(stderr, "    expected a message containing \"%s\", got \"%s\"\n", msg, err);
    CHECK_AT(line, is_zeroed(&spec));
    if (rc == 0)
        spec_free(&spec);
}

static void expect_reject(int line, struct buf *b, const char *msg)
{
    seal(b);
    expect_reject_raw(line, b->data, b->len, msg);
    buf_free(b);
}

#define EXPECT_OK(b) expect_ok(__LINE__, (b))
#define EXPECT_REJECT(b, msg) expect_reject(__LINE__, (b), (msg))
#define EXPECT_REJECT_RAW(d, n, msg) expect_reject_raw(__LINE__, (d), (n), (msg))

/* The message every malformed or repeated record gets. */
#define MALFORMED "malformed or repeated spec record"

/* ---- tests: valid specs ------------------------------------------------------------ */

static void test_minimal(void)
{
    struct buf b = minimal();
    if (EXPECT_OK(&b)) {
        CHECK(spec.namespaces == (SBX_NS_USER | SBX_NS_PID | SBX_NS_MOUNT));
        CHECK(spec.root_flags == 0);
        CHECK(strcmp(spec.root_path, "/") == 0);
        CHECK(spec.argc == 1);
        CHECK(strcmp(spec.argv[0], "/bin/true") == 0);
        CHECK(spec.argv[1] == NULL);
        CHECK(spec.envc == 0);
        CHECK(spec.envp[0] == NULL);
        CHECK(spec.hostname == NULL);
        CHECK(spec.cwd == NULL);
        CHECK(spec.has_user == 0);
        CHECK(spec.n_uid_maps == 0 && spec.n_gid_maps == 0 && spec.n_mounts == 0);
        CHECK(spec.has_time_offsets == 0);
        CHECK(spec.timeout_ms == 0);
        spec_free(&spec);
        CHECK(is_zeroed(&spec));
    }
}

static void test_full_round_trip(void)
{
    struct buf b = full();
    if (!EXPECT_OK(&b))
        return;
    CHECK(spec.namespaces == SBX_NS_ALL);
    CHECK(spec.root_flags == SBX_ROOT_READONLY);
    CHECK(strcmp(spec.root_path, "/srv/rootfs") == 0);

    CHECK(spec.argc == 4);
    CHECK(strcmp(spec.argv[0], "/bin/sh") == 0);
    CHECK(strcmp(spec.argv[1], "-c") == 0);
    CHECK(strcmp(spec.argv[2], "") == 0);
    CHECK(strcmp(spec.argv[3], "echo \"$HOME\"") == 0);
    CHECK(spec.argv[4] == NULL);

    CHECK(strcmp(spec.hostname, "sandbox") == 0);

    CHECK(spec.n_uid_maps == 2);
    CHECK(spec.uid_maps[0].inside == 0 && spec.uid_maps[0].outside == 1000 && spec.uid_maps[0].count == 1);
    CHECK(spec.uid_maps[1].inside == 1 && spec.uid_maps[1].outside == 100000 && spec.uid_maps[1].count == 65536);
    CHECK(spec.n_gid_maps == 1);
    CHECK(spec.gid_maps[0].inside == 0 && spec.gid_maps[0].outside == 1001 && spec.gid_maps[0].count == 1);

    CHECK(spec.has_user);
    CHECK(spec.uid == 1 && spec.gid == 2);

    CHECK(spec.n_mounts == 4);
    const struct sbx_mount *m = spec.mounts;
    CHECK(m[0].type == SBX_MOUNT_BIND);
    CHECK(m[0].flags == (SBX_MOUNTF_READONLY | SBX_MOUNTF_RECURSIVE | SBX_MOUNTF_OPTIONAL));
    CHECK(m[0].mode == 0 && m[0].size == 0);
    CHECK(strcmp(m[0].source, "/usr") == 0 && strcmp(m[0].target, "/usr") == 0);
    CHECK(m[1].type == SBX_MOUNT_TMPFS);
    CHECK(m[1].flags == (SBX_MOUNTF_NOSUID | SBX_MOUNTF_NODEV | SBX_MOUNTF_NOEXEC));
    CHECK(m[1].mode == 01777 && m[1].size == UINT64_C(1) << 40);
    CHECK(strcmp(m[1].source, "") == 0 && strcmp(m[1].target, "/tmp") == 0);
    CHECK(m[2].type == SBX_MOUNT_PROC && m[2].flags == SBX_MOUNTF_NOSUID);
    CHECK(strcmp(m[2].source, "") == 0 && strcmp(m[2].target, "/proc") == 0);
    CHECK(m[3].type == SBX_MOUNT_DEV && m[3].mode == 0755 && m[3].size == 65536);
    CHECK(strcmp(m[3].source, "") == 0 && strcmp(m[3].target, "/dev") == 0);

    CHECK(spec.envc == 3);
    CHECK(strcmp(spec.envp[0], "HOME=/root") == 0);
    CHECK(strcmp(spec.envp[1], "EMPTY=") == 0);
    CHECK(strcmp(spec.envp[2], "A=b=c") == 0);
    CHECK(spec.envp[3] == NULL);

    CHECK(strcmp(spec.cwd, "/work") == 0);
    CHECK(spec.has_time_offsets);
    CHECK(spec.monotonic_offset_ns == INT64_C(-5000000000));
    CHECK(spec.boottime_offset_ns == INT64_MIN);
    CHECK(spec.timeout_ms == UINT64_MAX);

    spec_free(&spec);
    CHECK(is_zeroed(&spec));
}

/* Records in another order than full() uses, and edge values that must be accepted. */
static void test_order_and_limits_accepted(void)
{
    struct buf b = spec_new();
    rec_str(&b, SBX_REC_ARG, "a");
    rec_time(&b, INT64_MAX, 1);
    rec_str(&b, SBX_REC_ENV, "X=1");
    rec_root(&b, 0, "/");
    rec_str(&b, SBX_REC_ARG, "b");
    rec_u32(&b, SBX_REC_NAMESPACES, SBX_NS_TIME);
    rec_u64(&b, SBX_REC_TIMEOUT, 1);
    rec_str(&b, SBX_REC_ARG, "c");
    if (EXPECT_OK(&b)) {
        CHECK(spec.argc == 3);
        CHECK(strcmp(spec.argv[0], "a") == 0 && strcmp(spec.argv[1], "b") == 0 && strcmp(spec.argv[2], "c") == 0);
        CHECK(spec.monotonic_offset_ns == INT64_MAX && spec.boottime_offset_ns == 1);
        CHECK(spec.timeout_ms == 1);
        spec_free(&spec);
    }

    /* namespaces may be 0 (nothing unshared), mode 07777 is the largest */
    b = minimal_ns(0);
    rec_mount(&b, SBX_MOUNT_TMPFS, 0, 07777, 0, "", "/");
    if (EXPECT_OK(&b)) {
        CHECK(spec.namespaces == 0);
        CHECK(spec.mounts[0].mode == 07777);
        spec_free(&spec);
    }

    /* hostname of exactly 64 bytes */
    char host[SBX_MAX_HOSTNAME + 1];
    memset(host, 'h', SBX_MAX_HOSTNAME);
    host[SBX_MAX_HOSTNAME] = '\0';
    b = minimal();
    rec_str(&b, SBX_REC_HOSTNAME, host);
    if (EXPECT_OK(&b)) {
        CHECK(strlen(spec.hostname) == SBX_MAX_HOSTNAME);
        spec_free(&spec);
    }

    /* exactly 340 uid and 340 gid map lines */
    b = minimal();
    for (uint32_t i = 0; i < SBX_MAX_ID_MAPS; i++) {
        rec_idmap(&b, SBX_REC_UID_MAP, i, 1000 + i, 1);
        rec_idmap(&b, SBX_REC_GID_MAP, i, 2000 + i, 1);
    }
    if (EXPECT_OK(&b)) {
        CHECK(spec.n_uid_maps == SBX_MAX_ID_MAPS && spec.n_gid_maps == SBX_MAX_ID_MAPS);
        CHECK(spec.uid_maps[SBX_MAX_ID_MAPS - 1].outside == 1000 + SBX_MAX_ID_MAPS - 1);
        CHECK(spec.gid_maps[SBX_MAX_ID_MAPS - 1].outside == 2000 + SBX_MAX_ID_MAPS - 1);
        spec_free(&spec);
    }

    /* exactly 1024 mounts */
    b = minimal();
    for (int i = 0; i < SBX_MAX_MOUNTS; i++)
        rec_mount(&b, SBX_MOUNT_BIND, 0, 0, 0, "/a", "/b");
    if (EXPECT_OK(&b)) {
        CHECK(spec.n_mounts == SBX_MAX_MOUNTS);
        spec_free(&spec);
    }

    /* a path of 4095 bytes, a string of SBX_MAX_STRING bytes */
    char *big = malloc(SBX_MAX_STRING + 2);
    if (big == NULL) {
        perror("malloc");
        exit(2);
    }
    memset(big, 'p', SBX_MAX_STRING + 1);
    big[0] = '/';
    big[SBX_MAX_PATH - 1] = '\0';
    b = minimal();
    rec_str(&b, SBX_REC_CWD, big);
    if (EXPECT_OK(&b)) {
        CHECK(strlen(spec.cwd) == SBX_MAX_PATH - 1);
        spec_free(&spec);
    }
    big[SBX_MAX_PATH - 1] = 'p';
    big[SBX_MAX_STRING] = '\0';
    b = minimal();
    rec_str(&b, SBX_REC_ARG, big);
    if (EXPECT_OK(&b)) {
        CHECK(spec.argc == 2 && strlen(spec.argv[1]) == SBX_MAX_STRING);
        spec_free(&spec);
    }

    /* ...and one byte more of each is rejected */
    big[SBX_MAX_STRING] = 'p';
    big[SBX_MAX_STRING + 1] = '\0';
    b = minimal();
    rec_str(&b, SBX_REC_ARG, big);
    EXPECT_REJECT(&b, MALFORMED);
    big[SBX_MAX_PATH] = '\0';
    b = minimal();
    rec_str(&b, SBX_REC_CWD, big);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_mount(&b, SBX_MOUNT_TMPFS, 0, 0, 0, "", big);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_mount(&b, SBX_MOUNT_BIND, 0, 0, 0, big, "/x");
    EXPECT_REJECT(&b, MALFORMED);
    b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, 0);
    rec_root(&b, 0, big);
    rec_str(&b, SBX_REC_ARG, "x");
    EXPECT_REJECT(&b, MALFORMED);
    free(big);
}

/* ---- tests: rejections ------------------------------------------------------------- */

static void test_header(void)
{
    struct buf b = minimal();
    seal(&b);

    EXPECT_REJECT_RAW(b.data, 0, "shorter than its header");
    EXPECT_REJECT_RAW(b.data, SBX_SPEC_HEADER_SIZE - 1, "shorter than its header");

    uint8_t hdr[SBX_SPEC_HEADER_SIZE];
    memcpy(hdr, b.data, sizeof hdr);
    hdr[0] ^= 0x20; /* "sBXS" */
    EXPECT_REJECT_RAW(hdr, sizeof hdr, "bad spec magic");

    struct buf v = minimal();
    set_u32(v.data + 4, SBX_SPEC_VERSION + 1);
    EXPECT_REJECT(&v, "different builds");
    v = minimal();
    set_u32(v.data + 4, 0);
    EXPECT_REJECT(&v, "different builds");

    /* the length field says more, or less, than arrived */
    set_u32(b.data + 8, (uint32_t)b.len + 1);
    EXPECT_REJECT_RAW(b.data, b.len, "length field");
    set_u32(b.data + 8, (uint32_t)b.len - 1);
    EXPECT_REJECT_RAW(b.data, b.len, "length field");
    set_u32(b.data + 8, 0);
    EXPECT_REJECT_RAW(b.data, b.len, "length field");
    set_u32(b.data + 8, (uint32_t)b.len);
    EXPECT_REJECT_RAW(b.data, b.len - 1, "length field");

    /* a header alone is a spec without records */
    struct buf h = spec_new();
    EXPECT_REJECT(&h, "lacks a required record");
    buf_free(&b);

    /* larger than SBX_SPEC_MAX_SIZE, length field consistent: rejected before allocating */
    size_t huge = (size_t)SBX_SPEC_MAX_SIZE + 1;
    uint8_t *p = calloc(1, huge);
    if (p == NULL) {
        perror("calloc");
        exit(2);
    }
    struct buf hb = spec_new();
    seal(&hb);
    memcpy(p, hb.data, SBX_SPEC_HEADER_SIZE);
    set_u32(p + 8, (uint32_t)huge);
    memset(&spec, 0xa5, sizeof spec);
    int rc = spec_parse(p, huge, &spec, err, sizeof err);
    CHECK(rc == -1);
    CHECK(strstr(err, "length field") != NULL);
    CHECK(is_zeroed(&spec));
    free(p);
    buf_free(&hb);
}

static void test_record_framing(void)
{
    /* a record header cut short: 1..7 bytes of it */
    for (size_t n = 1; n < SBX_RECORD_HEADER_SIZE; n++) {
        struct buf b = minimal();
        put(&b, "\x08\x00\x00\x00\x01\x00\x00", n);
        EXPECT_REJECT(&b, "truncated or corrupt");
    }

    /* payload length past the end */
    struct buf b = minimal();
    rec_header(&b, SBX_REC_ARG, 0, 5);
    put(&b, "abcd", 4);
    EXPECT_REJECT(&b, "truncated or corrupt");
    b = minimal();
    rec_header(&b, SBX_REC_ARG, 0, UINT32_MAX);
    put(&b, "abcd", 4);
    EXPECT_REJECT(&b, "truncated or corrupt");

    /* nonzero reserved field */
    b = minimal();
    rec_header(&b, SBX_REC_ARG, 1, 1);
    put(&b, "x", 1);
    EXPECT_REJECT(&b, "nonzero reserved field");
    b = minimal();
    rec_header(&b, SBX_REC_ARG, 0x8000, 1);
    put(&b, "x", 1);
    EXPECT_REJECT(&b, "nonzero reserved field");

    /* unknown tags, with and without payload */
    static const uint16_t unknown[] = {0, SBX_REC_WAIT_FOR_START + 1, 0x100, 0xffff};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        b = minimal();
        rec_u32(&b, unknown[i], 0);
        EXPECT_REJECT(&b, "unknown spec record tag");
        b = minimal();
        rec_header(&b, unknown[i], 0, 0);
        EXPECT_REJECT(&b, "different builds");
    }

    /* the message names the tag */
    b = minimal();
    rec_u32(&b, 0x1234, 0);
    EXPECT_REJECT(&b, "tag 4660");
    b = minimal();
    rec_user(&b, 0, 0);
    rec_user(&b, 0, 0);
    EXPECT_REJECT(&b, "tag 5, 8 bytes");
}

static void test_fixed_sizes(void)
{
    static const struct {
        uint16_t tag;
        uint32_t right;
    } fixed[] = {
        {SBX_REC_NAMESPACES, 4}, {SBX_REC_UID_MAP, 12},      {SBX_REC_GID_MAP, 12},
        {SBX_REC_USER, 8},       {SBX_REC_TIME_OFFSETS, 16}, {SBX_REC_TIMEOUT, 8},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        uint32_t sizes[] = {0, fixed[i].right - 1, fixed[i].right + 1};
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            uint8_t payload[32];
            memset(payload, 1, sizeof payload);
            struct buf b = minimal_ns(SBX_NS_ALL);
            if (fixed[i].tag == SBX_REC_NAMESPACES) { /* minimal() has one already */
                buf_free(&b);
                b = spec_new();
                rec_root(&b, 0, "/");
                rec_str(&b, SBX_REC_ARG, "x");
            }
            rec_bytes(&b, fixed[i].tag, payload, sizes[j]);
            EXPECT_REJECT(&b, MALFORMED);
        }
    }
    /* root needs its flags and at least one byte of path */
    for (size_t n = 0; n < 5; n++) {
        struct buf b = spec_new();
        rec_u32(&b, SBX_REC_NAMESPACES, 0);
        rec_bytes(&b, SBX_REC_ROOT, "\0\0\0\0", n);
        rec_str(&b, SBX_REC_ARG, "x");
        EXPECT_REJECT(&b, MALFORMED);
    }
    /* a mount record with trailing bytes, or shorter than its fixed part */
    struct buf b = minimal();
    rec_header(&b, SBX_REC_MOUNT, 0, 4 + 4 + 4 + 8 + 4 + 0 + 4 + 2 + 1);
    put_u32(&b, SBX_MOUNT_TMPFS);
    put_u32(&b, 0);
    put_u32(&b, 0);
    put_u64(&b, 0);
    put_u32(&b, 0);
    put_u32(&b, 2);
    put(&b, "/tX", 3);
    EXPECT_REJECT(&b, MALFORMED);
    /* every proper prefix of a valid tmpfs mount payload */
    struct buf payload = {0};
    put_u32(&payload, SBX_MOUNT_TMPFS);
    put_u32(&payload, 0);
    put_u32(&payload, 0);
    put_u64(&payload, 0);
    put_u32(&payload, 0);
    put_u32(&payload, 1);
    put(&payload, "/", 1);
    for (size_t n = 0; n < payload.len; n++) {
        b = minimal();
        rec_bytes(&b, SBX_REC_MOUNT, payload.data, n);
        EXPECT_REJECT(&b, MALFORMED);
    }
    b = minimal();
    rec_bytes(&b, SBX_REC_MOUNT, payload.data, payload.len);
    if (EXPECT_OK(&b)) {
        CHECK(spec.n_mounts == 1 && strcmp(spec.mounts[0].target, "/") == 0);
        spec_free(&spec);
    }
    buf_free(&payload);
    /* mount string lengths pointing past the record (but not past the spec) */
    b = minimal();
    rec_header(&b, SBX_REC_MOUNT, 0, 4 + 4 + 4 + 8 + 4 + 2);
    put_u32(&b, SBX_MOUNT_BIND);
    put_u32(&b, 0);
    put_u32(&b, 0);
    put_u64(&b, 0);
    put_u32(&b, 7);
    put(&b, "/a", 2);
    rec_str(&b, SBX_REC_ARG, "/b"); /* the bytes a bad parser would read on into */
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_header(&b, SBX_REC_MOUNT, 0, 4 + 4 + 4 + 8 + 4 + 2 + 4 + 2);
    put_u32(&b, SBX_MOUNT_BIND);
    put_u32(&b, 0);
    put_u32(&b, 0);
    put_u64(&b, 0);
    put_u32(&b, 2);
    put(&b, "/a", 2);
    put_u32(&b, UINT32_MAX);
    put(&b, "/b", 2);
    rec_str(&b, SBX_REC_ARG, "/c");
    EXPECT_REJECT(&b, MALFORMED);
}

static void test_repeated_once_only(void)
{
    struct buf b = minimal();
    rec_u32(&b, SBX_REC_NAMESPACES, SBX_NS_USER);
    EXPECT_REJECT(&b, MALFORMED);

    b = minimal();
    rec_root(&b, 0, "/");
    EXPECT_REJECT(&b, MALFORMED);

    b = minimal();
    rec_str(&b, SBX_REC_HOSTNAME, "a");
    rec_str(&b, SBX_REC_HOSTNAME, "a");
    EXPECT_REJECT(&b, MALFORMED);

    b = minimal();
    rec_user(&b, 0, 0);
    rec_user(&b, 1, 1);
    EXPECT_REJECT(&b, MALFORMED);

    b = minimal();
    rec_str(&b, SBX_REC_CWD, "/");
    rec_str(&b, SBX_REC_CWD, "/");
    EXPECT_REJECT(&b, MALFORMED);

    b = minimal_ns(SBX_NS_TIME);
    rec_time(&b, 0, 0);
    rec_time(&b, 0, 0);
    EXPECT_REJECT(&b, MALFORMED);

    b = minimal();
    rec_u64(&b, SBX_REC_TIMEOUT, 1000);
    rec_u64(&b, SBX_REC_TIMEOUT, 1000);
    EXPECT_REJECT(&b, MALFORMED);
}

static void test_strings(void)
{
    /* a NUL inside any string */
    struct buf b = minimal();
    rec_bytes(&b, SBX_REC_ARG, "a\0b", 3);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_bytes(&b, SBX_REC_ARG, "\0", 1);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_bytes(&b, SBX_REC_ENV, "A=\0", 3);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_bytes(&b, SBX_REC_HOSTNAME, "ho\0st", 5);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_bytes(&b, SBX_REC_CWD, "/a\0", 3);
    EXPECT_REJECT(&b, MALFORMED);
    b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, 0);
    rec_root_bytes(&b, 0, "/\0", 2);
    rec_str(&b, SBX_REC_ARG, "x");
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_mount_bytes(&b, SBX_MOUNT_BIND, 0, 0, 0, "/s\0", 3, "/t", 2);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_mount_bytes(&b, SBX_MOUNT_TMPFS, 0, 0, 0, "", 0, "/t\0x", 4);
    EXPECT_REJECT(&b, MALFORMED);

    /* env without '=' */
    b = minimal();
    rec_str(&b, SBX_REC_ENV, "HOME");
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_str(&b, SBX_REC_ENV, "");
    EXPECT_REJECT(&b, MALFORMED);

    /* hostname: empty or longer than 64 */
    char host[SBX_MAX_HOSTNAME + 2];
    memset(host, 'h', SBX_MAX_HOSTNAME + 1);
    host[SBX_MAX_HOSTNAME + 1] = '\0';
    b = minimal();
    rec_str(&b, SBX_REC_HOSTNAME, host);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_str(&b, SBX_REC_HOSTNAME, "");
    EXPECT_REJECT(&b, MALFORMED);
}

static void test_paths(void)
{
    static const char *const relative[] = {"", "tmp", "./tmp", " /tmp"};
    for (size_t i = 0; i < sizeof relative / sizeof relative[0]; i++) {
        struct buf b = minimal();
        rec_mount(&b, SBX_MOUNT_TMPFS, 0, 0, 0, "", relative[i]);
        EXPECT_REJECT(&b, MALFORMED);

        b = minimal();
        rec_str(&b, SBX_REC_CWD, relative[i]);
        EXPECT_REJECT(&b, MALFORMED);

        b = spec_new();
        rec_u32(&b, SBX_REC_NAMESPACES, 0);
        rec_root(&b, 0, relative[i]);
        rec_str(&b, SBX_REC_ARG, "x");
        EXPECT_REJECT(&b, MALFORMED);

        b = minimal();
        rec_mount(&b, SBX_MOUNT_BIND, 0, 0, 0, relative[i], "/mnt");
        EXPECT_REJECT(&b, MALFORMED);
    }
}

static void test_mount_fields(void)
{
    static const uint32_t bad_types[] = {0, SBX_MOUNT_FILE + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        struct buf b = minimal();
        rec_mount(&b, bad_types[i], 0, 0, 0, "/a", "/b");
        EXPECT_REJECT(&b, MALFORMED);
    }
    static const uint32_t bad_modes[] = {010000, 0177777, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        struct buf b = minimal();
        rec_mount(&b, SBX_MOUNT_TMPFS, 0, bad_modes[i], 0, "", "/b");
        EXPECT_REJECT(&b, MALFORMED);
    }
    /* one mount more than SBX_MAX_MOUNTS */
    struct buf b = minimal();
    for (int i = 0; i <= SBX_MAX_MOUNTS; i++)
        rec_mount(&b, SBX_MOUNT_PROC, 0, 0, 0, "", "/proc");
    EXPECT_REJECT(&b, "more than 1024 mounts");
}

static void test_namespaces_and_maps(void)
{
    static const uint32_t bad_ns[] = {0x100, SBX_NS_ALL + 1, 0x80000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_ns / sizeof bad_ns[0]; i++) {
        struct buf b = minimal_ns(bad_ns[i]);
        EXPECT_REJECT(&b, "unknown namespace flags");
    }

    struct buf b = minimal();
    rec_idmap(&b, SBX_REC_UID_MAP, 0, 1000, 0);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_idmap(&b, SBX_REC_GID_MAP, 0, 1000, 0);
    EXPECT_REJECT(&b, MALFORMED);

    b = minimal();
    for (uint32_t i = 0; i <= SBX_MAX_ID_MAPS; i++)
        rec_idmap(&b, SBX_REC_UID_MAP, i, i, 1);
    EXPECT_REJECT(&b, "more than 340 id map lines");
    b = minimal();
    for (uint32_t i = 0; i <= SBX_MAX_ID_MAPS; i++)
        rec_idmap(&b, SBX_REC_GID_MAP, i, i, 1);
    EXPECT_REJECT(&b, "more than 340 id map lines");

    /* time offsets need the time namespace, whatever the record order */
    b = minimal_ns(SBX_NS_ALL & ~(uint32_t)SBX_NS_TIME);
    rec_time(&b, -1, -1);
    EXPECT_REJECT(&b, "without the time namespace");
    b = spec_new();
    rec_time(&b, 0, 0);
    rec_u32(&b, SBX_REC_NAMESPACES, SBX_NS_USER);
    rec_root(&b, 0, "/");
    rec_str(&b, SBX_REC_ARG, "x");
    EXPECT_REJECT(&b, "without the time namespace");
}

static void test_required_and_timeout(void)
{
    struct buf b = spec_new();
    rec_root(&b, 0, "/");
    rec_str(&b, SBX_REC_ARG, "x");
    EXPECT_REJECT(&b, "lacks a required record");

    b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, 0);
    rec_str(&b, SBX_REC_ARG, "x");
    EXPECT_REJECT(&b, "lacks a required record");

    b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, 0);
    rec_root(&b, 0, "/");
    rec_str(&b, SBX_REC_ENV, "A=b");
    EXPECT_REJECT(&b, "lacks a required record");

    b = minimal();
    rec_u64(&b, SBX_REC_TIMEOUT, 0);
    EXPECT_REJECT(&b, MALFORMED);
}

/* One argument more than SBX_MAX_ARGS. */
static void test_too_many_args(void)
{
    struct buf b = minimal();
    for (int i = 0; i < SBX_MAX_ARGS; i++)
        rec_str(&b, SBX_REC_ARG, "a");
    EXPECT_REJECT(&b, MALFORMED);
}

/* The error buffer: a short one gets a truncated, terminated message; none at all is fine. */
static void test_err_buffer(void)
{
    struct buf b = minimal();
    rec_str(&b, SBX_REC_ENV, "NOEQUALS");
    seal(&b);
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK(spec_parse(b.data, b.len, &spec, small, sizeof small) == -1);
    CHECK(memchr(small, '\0', sizeof small) != NULL);
    CHECK(strncmp(small, "malform", 7) == 0);
    CHECK(is_zeroed(&spec));
    CHECK(spec_parse(b.data, b.len, &spec, NULL, 0) == -1);
    CHECK(is_zeroed(&spec));
    buf_free(&b);
}

/* ---- robustness loops -------------------------------------------------------------- */

/* Every prefix of full(), first as is (the length field then disagrees), then with the
 * length field set to the prefix length, so the record reader sees the cut. A prefix that
 * ends on a record boundary after the first argument is a valid spec (full() puts the
 * required records first); every other prefix must be rejected. */
static void test_truncations(void)
{
    struct buf b = full();
    seal(&b);
    uint8_t *boundary = calloc(b.len + 1, 1);
    uint8_t *copy = malloc(b.len);
    if (boundary == NULL || copy == NULL) {
        perror("calloc");
        exit(2);
    }
    size_t first_arg_end = 0;
    for (size_t off = SBX_SPEC_HEADER_SIZE; off + SBX_RECORD_HEADER_SIZE <= b.len;) {
        uint16_t tag = (uint16_t)(b.data[off] | b.data[off + 1] << 8);
        off += SBX_RECORD_HEADER_SIZE + get_u32(b.data + off + 4);
        if (tag == SBX_REC_ARG && first_arg_end == 0)
            first_arg_end = off;
        boundary[off] = 1;
    }

    size_t bad_raw = 0, bad_sealed = 0, parsed = 0, first_bad = 0;
    for (size_t n = 0; n < b.len; n++) {
        if (parse_exact(b.data, n) != -1 || !is_zeroed(&spec) || err[0] == '\0') {
            if (bad_raw++ == 0)
                first_bad = n;
        }
    }
    if (!CHECK(bad_raw == 0))
        fprintf(stderr, "    %zu prefixes misparsed, the first of %zu bytes\n", bad_raw, first_bad);

    for (size_t n = SBX_SPEC_HEADER_SIZE; n <= b.len; n++) {
        memcpy(copy, b.data, n);
        set_u32(copy + 8, (uint32_t)n);
        int rc = parse_exact(copy, n);
        int should_parse = boundary[n] && n >= first_arg_end;
        int ok = rc == 0 ? should_parse && invariants_hold(&spec) : !should_parse && is_zeroed(&spec) && err[0] != '\0';
        if (rc == 0) {
            parsed++;
            spec_free(&spec);
        }
        if (!ok && bad_sealed++ == 0)
            first_bad = n;
    }
    if (!CHECK(bad_sealed == 0))
        fprintf(stderr, "    %zu sealed prefixes misparsed, the first of %zu bytes\n", bad_sealed, first_bad);
    CHECK(parsed > 10);

    free(copy);
    free(boundary);
    buf_free(&b);
}

/* Every byte of full() replaced by each of the 255 other values: parsed or rejected,
 * never a crash or a sanitizer report, and a parsed spec keeps every invariant. */
static void test_cgroup_records(void)
{
    struct buf b = minimal();
    rec_str(&b, SBX_REC_CGROUP_JOIN, "/sys/fs/cgroup/memory/sandbox-1/cgroup.procs");
    rec_str(&b, SBX_REC_CGROUP_JOIN, "/sys/fs/cgroup/pids/sandbox-1/cgroup.procs");
    rec_str(&b, SBX_REC_CGROUP_RETURN, "/sys/fs/cgroup/memory/cgroup.procs");
    rec_str(&b, SBX_REC_CGROUP_UNIFIED, "/sys/fs/cgroup/unified/sandbox-1");
    if (EXPECT_OK(&b)) {
        CHECK(spec.n_cgroup_join == 2 && spec.n_cgroup_return == 1);
        CHECK(strcmp(spec.cgroup_join[1], "/sys/fs/cgroup/pids/sandbox-1/cgroup.procs") == 0);
        CHECK(spec.cgroup_join[2] == NULL && spec.cgroup_return[1] == NULL);
        CHECK(strcmp(spec.cgroup_unified, "/sys/fs/cgroup/unified/sandbox-1") == 0);
        spec_free(&spec);
    }
    b = minimal();
    rec_str(&b, SBX_REC_CGROUP_JOIN, "relative/cgroup.procs");
    EXPECT_REJECT(&b, "malformed or repeated");
    b = minimal();
    rec_str(&b, SBX_REC_CGROUP_UNIFIED, "/a");
    rec_str(&b, SBX_REC_CGROUP_UNIFIED, "/b");
    EXPECT_REJECT(&b, "malformed or repeated");
    b = minimal();
    for (int i = 0; i <= SBX_MAX_CGROUP_PATHS; i++)
        rec_str(&b, SBX_REC_CGROUP_RETURN, "/x/cgroup.procs");
    EXPECT_REJECT(&b, "malformed or repeated");
}

static void rec_upper(struct buf *b, uint64_t size, const char *upper, const char *work)
{
    rec_header(b, SBX_REC_OVERLAY_UPPER, 0, (uint32_t)(8 + 4 + strlen(upper) + 4 + strlen(work)));
    put_u64(b, size);
    put_u32(b, (uint32_t)strlen(upper));
    put(b, upper, strlen(upper));
    put_u32(b, (uint32_t)strlen(work));
    put(b, work, strlen(work));
}

/* An overlay root: "" as its path, layers top first, one upper record. */
static struct buf overlay_spec(uint32_t ns, uint32_t flags)
{
    struct buf b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, ns);
    rec_root(&b, SBX_ROOT_OVERLAY | flags, "");
    rec_str(&b, SBX_REC_ARG, "/bin/true");
    return b;
}

static void test_overlay_records(void)
{
    uint32_t ns = SBX_NS_USER | SBX_NS_MOUNT;
    struct buf b = overlay_spec(ns, SBX_ROOT_IDMAP_LAYERS);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/store/top");
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/store/bottom");
    rec_upper(&b, 1 << 20, "", "");
    if (EXPECT_OK(&b)) {
        CHECK(spec.n_overlay_lowers == 2 && strcmp(spec.overlay_lowers[0], "/store/top") == 0 && spec.overlay_lowers[2] == NULL);
        CHECK(spec.has_overlay_upper && spec.overlay_upper_size == 1 << 20 && spec.overlay_upper[0] == '\0');
        CHECK(spec.root_path[0] == '\0');
        spec_free(&spec);
    }
    b = overlay_spec(ns, 0);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    rec_upper(&b, 0, "/c/upper", "/c/work");
    if (EXPECT_OK(&b)) {
        CHECK(strcmp(spec.overlay_upper, "/c/upper") == 0 && strcmp(spec.overlay_work, "/c/work") == 0);
        spec_free(&spec);
    }
    /* an overlay root needs layers and an upper record; neither comes without one */
    b = overlay_spec(ns, 0);
    rec_upper(&b, 0, "", "");
    EXPECT_REJECT(&b, "without its layers");
    b = overlay_spec(ns, 0);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    EXPECT_REJECT(&b, "without its layers");
    b = minimal();
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    EXPECT_REJECT(&b, "without an overlay root");
    /* a path with an overlay root, none without */
    b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, ns);
    rec_root(&b, SBX_ROOT_OVERLAY, "/x");
    rec_str(&b, SBX_REC_ARG, "/bin/true");
    EXPECT_REJECT(&b, MALFORMED);
    b = spec_new();
    rec_u32(&b, SBX_REC_NAMESPACES, ns);
    rec_root(&b, 0, "");
    rec_str(&b, SBX_REC_ARG, "/bin/true");
    EXPECT_REJECT(&b, MALFORMED);
    /* idmapped layers need a user namespace; overlays need the mount namespace */
    b = overlay_spec(SBX_NS_MOUNT, SBX_ROOT_IDMAP_LAYERS);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    rec_upper(&b, 0, "", "");
    EXPECT_REJECT(&b, "idmapped layers need");
    b = overlay_spec(SBX_NS_USER, 0);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    rec_upper(&b, 0, "", "");
    EXPECT_REJECT(&b, "needs the mount namespace");
    /* relative layers, half a persistent upper, a size with a directory, two uppers */
    b = overlay_spec(ns, 0);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "relative");
    rec_upper(&b, 0, "", "");
    EXPECT_REJECT(&b, MALFORMED);
    b = overlay_spec(ns, 0);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    rec_upper(&b, 0, "/c/upper", "");
    EXPECT_REJECT(&b, MALFORMED);
    b = overlay_spec(ns, 0);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    rec_upper(&b, 4096, "/c/upper", "/c/work");
    EXPECT_REJECT(&b, MALFORMED);
    b = overlay_spec(ns, 0);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    rec_upper(&b, 0, "", "");
    rec_upper(&b, 0, "", "");
    EXPECT_REJECT(&b, MALFORMED);
    /* one layer more than SBX_MAX_LAYERS */
    b = overlay_spec(ns, 0);
    for (int i = 0; i <= SBX_MAX_LAYERS; i++)
        rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    rec_upper(&b, 0, "", "");
    EXPECT_REJECT(&b, "more than 128 overlay layers");
}

static void test_created_entries(void)
{
    struct buf b = minimal();
    rec_mount(&b, SBX_MOUNT_SYMLINK, 0, 0, 0, "../relative/target", "/link");
    rec_mount(&b, SBX_MOUNT_DIR, 0, 0700, 0, "", "/d");
    rec_mount(&b, SBX_MOUNT_FILE, 0, 0755, 0, "#!/bin/sh\necho hi\n", "/run.sh");
    rec_mount(&b, SBX_MOUNT_FILE, 0, 0644, 0, "", "/empty");
    rec_mount(&b, SBX_MOUNT_MQUEUE, 0, 0, 0, "", "/dev/mqueue");
    if (EXPECT_OK(&b)) {
        CHECK(spec.n_mounts == 5 && strcmp(spec.mounts[0].source, "../relative/target") == 0 && spec.mounts[2].mode == 0755);
        spec_free(&spec);
    }
    b = minimal();
    rec_mount(&b, SBX_MOUNT_SYMLINK, 0, 0, 0, "", "/link"); /* a symlink needs text */
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_mount(&b, SBX_MOUNT_DIR, 0, 0755, 0, "/x", "/d"); /* a directory has no source */
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_mount(&b, SBX_MOUNT_MQUEUE, 0, 0, 0, "/x", "/dev/mqueue");
    EXPECT_REJECT(&b, MALFORMED);
}

static void rec_rlimit(struct buf *b, uint32_t resource, uint64_t soft, uint64_t hard)
{
    rec_header(b, SBX_REC_RLIMIT, 0, 20);
    put_u32(b, resource);
    put_u64(b, soft);
    put_u64(b, hard);
}

static void test_security_records(void)
{
    struct buf b = minimal();
    rec_rlimit(&b, 4 /* RLIMIT_CORE */, 0, 0);
    rec_rlimit(&b, 7 /* RLIMIT_NOFILE */, 64, UINT64_MAX);
    rec_u64(&b, SBX_REC_CAPABILITIES, (1ULL << 0) | (1ULL << 40));
    rec_u32(&b, SBX_REC_GROUP, 10);
    rec_u32(&b, SBX_REC_GROUP, 20);
    rec_u32(&b, SBX_REC_UMASK, 077);
    rec_u32(&b, SBX_REC_SECURITY, SBX_SECURITY_ALLOW_NEW_PRIVS | SBX_SECURITY_SECCOMP_LOG);
    static const uint8_t program[16] = {0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f, 0x06, 0, 0, 0, 0, 0, 0, 0x80};
    rec_bytes(&b, SBX_REC_SECCOMP, program, sizeof program);
    if (EXPECT_OK(&b)) {
        CHECK(spec.n_rlimits == 2 && spec.rlimits[1].resource == 7 && spec.rlimits[1].soft == 64 && spec.rlimits[1].hard == UINT64_MAX);
        CHECK(spec.has_capabilities && spec.capabilities == ((1ULL << 0) | (1ULL << 40)));
        CHECK(spec.n_groups == 2 && spec.groups[1] == 20);
        CHECK(spec.has_umask && spec.umask == 077);
        CHECK(spec.n_seccomp == 2 && memcmp(spec.seccomp, program, sizeof program) == 0 && ((uintptr_t)spec.seccomp % 8) == 0);
        CHECK(spec.security_flags == (SBX_SECURITY_ALLOW_NEW_PRIVS | SBX_SECURITY_SECCOMP_LOG));
        spec_free(&spec);
    }
    /* a resource twice, an unknown one, soft above hard */
    b = minimal();
    rec_rlimit(&b, 7, 1, 1);
    rec_rlimit(&b, 7, 2, 2);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_rlimit(&b, SBX_RLIMIT_COUNT, 1, 1);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_rlimit(&b, 7, 2, 1);
    EXPECT_REJECT(&b, MALFORMED);
    /* a program that is not whole instructions, empty, or too long; two programs */
    b = minimal();
    rec_bytes(&b, SBX_REC_SECCOMP, program, 12);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_bytes(&b, SBX_REC_SECCOMP, program, 0);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    {
        size_t n = 8 * (SBX_MAX_BPF_INSNS + 1);
        uint8_t *big = calloc(1, n);
        if (big == NULL)
            exit(2);
        rec_bytes(&b, SBX_REC_SECCOMP, big, n);
        free(big);
    }
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_bytes(&b, SBX_REC_SECCOMP, program, 8);
    rec_bytes(&b, SBX_REC_SECCOMP, program, 8);
    EXPECT_REJECT(&b, MALFORMED);
    /* an umask beyond 0777, unknown security flags, too many groups */
    b = minimal();
    rec_u32(&b, SBX_REC_UMASK, 01000);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_u32(&b, SBX_REC_SECURITY, 0x80);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    for (int i = 0; i <= SBX_MAX_GROUPS; i++)
        rec_u32(&b, SBX_REC_GROUP, (uint32_t)i);
    EXPECT_REJECT(&b, MALFORMED);
}

static void rec_landlock_rule(struct buf *b, uint32_t access, const char *path)
{
    rec_header(b, SBX_REC_LANDLOCK_RULE, 0, (uint32_t)(4 + strlen(path)));
    put_u32(b, access);
    put(b, path, strlen(path));
}

static void test_landlock_records(void)
{
    struct buf b = minimal();
    rec_u32(&b, SBX_REC_LANDLOCK, SBX_LANDLOCK_BEST_EFFORT);
    rec_landlock_rule(&b, SBX_LANDLOCK_READ | SBX_LANDLOCK_EXECUTE, "/usr");
    rec_landlock_rule(&b, SBX_LANDLOCK_WRITE | SBX_LANDLOCK_OPTIONAL, "/tmp");
    if (EXPECT_OK(&b)) {
        CHECK(spec.has_landlock && spec.landlock_flags == SBX_LANDLOCK_BEST_EFFORT && spec.n_landlock_rules == 2);
        CHECK(strcmp(spec.landlock_rules[1].path, "/tmp") == 0 && spec.landlock_rules[1].access == (SBX_LANDLOCK_WRITE | SBX_LANDLOCK_OPTIONAL));
        spec_free(&spec);
    }
    b = minimal();
    rec_landlock_rule(&b, SBX_LANDLOCK_READ, "/usr");
    EXPECT_REJECT(&b, "without Landlock");
    b = minimal();
    rec_u32(&b, SBX_REC_LANDLOCK, 0);
    rec_landlock_rule(&b, SBX_LANDLOCK_OPTIONAL, "/usr"); /* grants nothing */
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_u32(&b, SBX_REC_LANDLOCK, 0);
    rec_landlock_rule(&b, 0x10, "/usr");
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_u32(&b, SBX_REC_LANDLOCK, 0);
    rec_landlock_rule(&b, SBX_LANDLOCK_READ, "usr");
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_u32(&b, SBX_REC_LANDLOCK, 2);
    EXPECT_REJECT(&b, MALFORMED);
}

/* Every list at once and each at its limit, with the shortest records each kind allows (the
 * most entries and NULs per byte): the arena, sized from the records counted, holds them all. */
static void test_every_list_full(void)
{
    struct buf b = overlay_spec(SBX_NS_USER | SBX_NS_MOUNT, 0);
    for (int i = 0; i < SBX_MAX_LAYERS; i++)
        rec_str(&b, SBX_REC_OVERLAY_LOWER, "/l");
    rec_upper(&b, 0, "", "");
    for (int i = 0; i < 1000; i++) {
        rec_str(&b, SBX_REC_ARG, "");
        rec_str(&b, SBX_REC_ENV, "X=");
    }
    for (int i = 0; i < SBX_MAX_MOUNTS; i++) {
        rec_mount(&b, SBX_MOUNT_TMPFS, 0, 0, 0, "", "/");
        rec_str(&b, SBX_REC_MASK_PATH, "/m");
        rec_str(&b, SBX_REC_READONLY_PATH, "/r");
    }
    for (int i = 0; i < SBX_MAX_CGROUP_PATHS; i++) {
        rec_str(&b, SBX_REC_CGROUP_JOIN, "/j");
        rec_str(&b, SBX_REC_CGROUP_RETURN, "/c");
    }
    for (uint32_t i = 0; i < SBX_MAX_ID_MAPS; i++) {
        rec_idmap(&b, SBX_REC_UID_MAP, i, i, 1);
        rec_idmap(&b, SBX_REC_GID_MAP, i, i, 1);
    }
    for (uint32_t i = 0; i < SBX_RLIMIT_COUNT; i++)
        rec_rlimit(&b, i, 1, 2);
    for (uint32_t i = 0; i < SBX_MAX_GROUPS; i++)
        rec_u32(&b, SBX_REC_GROUP, i);
    rec_u32(&b, SBX_REC_LANDLOCK, 0);
    for (int i = 0; i < SBX_MAX_MOUNTS; i++)
        rec_landlock_rule(&b, SBX_LANDLOCK_READ, "/");
    if (EXPECT_OK(&b)) {
        CHECK(spec.n_overlay_lowers == SBX_MAX_LAYERS && strcmp(spec.overlay_lowers[SBX_MAX_LAYERS - 1], "/l") == 0 && spec.overlay_lowers[SBX_MAX_LAYERS] == NULL);
        CHECK(spec.argc == 1001 && spec.argv[1000][0] == '\0' && spec.argv[1001] == NULL);
        CHECK(spec.envc == 1000 && strcmp(spec.envp[999], "X=") == 0 && spec.envp[1000] == NULL);
        CHECK(spec.n_mounts == SBX_MAX_MOUNTS && strcmp(spec.mounts[SBX_MAX_MOUNTS - 1].target, "/") == 0);
        CHECK(spec.n_mask_paths == SBX_MAX_MOUNTS && spec.mask_paths[SBX_MAX_MOUNTS] == NULL);
        CHECK(spec.n_readonly_paths == SBX_MAX_MOUNTS && strcmp(spec.readonly_paths[SBX_MAX_MOUNTS - 1], "/r") == 0);
        CHECK(spec.n_cgroup_join == SBX_MAX_CGROUP_PATHS && spec.cgroup_join[SBX_MAX_CGROUP_PATHS] == NULL);
        CHECK(spec.n_cgroup_return == SBX_MAX_CGROUP_PATHS && strcmp(spec.cgroup_return[SBX_MAX_CGROUP_PATHS - 1], "/c") == 0);
        CHECK(spec.n_uid_maps == SBX_MAX_ID_MAPS && spec.gid_maps[SBX_MAX_ID_MAPS - 1].outside == SBX_MAX_ID_MAPS - 1);
        CHECK(spec.n_rlimits == SBX_RLIMIT_COUNT && spec.rlimits[SBX_RLIMIT_COUNT - 1].hard == 2);
        CHECK(spec.n_groups == SBX_MAX_GROUPS && spec.groups[SBX_MAX_GROUPS - 1] == SBX_MAX_GROUPS - 1);
        CHECK(spec.n_landlock_rules == SBX_MAX_MOUNTS && strcmp(spec.landlock_rules[SBX_MAX_MOUNTS - 1].path, "/") == 0);
        spec_free(&spec);
    }
}

/* A record without payload that sets a flag: off without it, on with it, refused twice or
 * with a payload. */
static void check_flag_record(uint16_t tag, const int *flag)
{
    struct buf b = minimal();
    if (EXPECT_OK(&b)) {
        CHECK(*flag == 0);
        spec_free(&spec);
    }
    b = minimal();
    rec_header(&b, tag, 0, 0);
    if (EXPECT_OK(&b)) {
        CHECK(*flag == 1);
        spec_free(&spec);
    }
    b = minimal();
    rec_header(&b, tag, 0, 0);
    rec_header(&b, tag, 0, 0);
    EXPECT_REJECT(&b, MALFORMED);
    b = minimal();
    rec_u32(&b, tag, 1);
    EXPECT_REJECT(&b, MALFORMED);
}

static void test_terminal_record(void)
{
    check_flag_record(SBX_REC_TERMINAL, &spec.terminal);
}

static void test_wait_for_start_record(void)
{
    check_flag_record(SBX_REC_WAIT_FOR_START, &spec.wait_for_start);
}

static void test_byte_flips(void)
{
    struct buf b = full();
    seal(&b);
    uint8_t *copy = malloc(b.len);
    if (copy == NULL) {
        perror("malloc");
        exit(2);
    }
    size_t bad = 0, parsed = 0, rejected = 0;
    for (size_t i = 0; i < b.len; i++) {
        for (unsigned x = 1; x < 256; x++) {
            memcpy(copy, b.data, b.len);
            copy[i] ^= (uint8_t)x;
            int rc = parse_exact(copy, b.len);
            if (rc == 0) {
                parsed++;
                if (!invariants_hold(&spec))
                    bad++;
                spec_free(&spec);
            } else {
                rejected++;
                if (!is_zeroed(&spec) || err[0] == '\0')
                    bad++;
            }
        }
    }
    CHECK(bad == 0);
    CHECK(parsed > 0 && rejected > 0);
    free(copy);
    buf_free(&b);
}

/* ---- seed corpus for fuzz_spec ----------------------------------------------------- */

static int write_file(const char *dir, const char *name, struct buf *b)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "path too long: %s/%s\n", dir, name);
        return -1;
    }
    seal(b);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t written = fwrite(b->data, 1, b->len, f);
    int close_failed = fclose(f) != 0;
    if (written != b->len || close_failed) {
        fprintf(stderr, "write %s: %s\n", path, strerror(errno));
        return -1;
    }
    buf_free(b);
    return 0;
}

static int write_corpus(const char *dir)
{
    struct buf b = minimal();
    if (write_file(dir, "minimal", &b))
        return -1;

    b = full();
    if (write_file(dir, "full", &b))
        return -1;

    b = minimal_ns(SBX_NS_USER | SBX_NS_MOUNT | SBX_NS_TIME);
    rec_mount(&b, SBX_MOUNT_BIND, SBX_MOUNTF_RECURSIVE, 0, 0, "/", "/");
    rec_mount(&b, SBX_MOUNT_TMPFS, 0, 0700, 4096, "", "/tmp");
    rec_mount(&b, SBX_MOUNT_PROC, 0, 0, 0, "", "/proc");
    rec_mount(&b, SBX_MOUNT_DEV, 0, 0, 0, "", "/dev");
    rec_time(&b, 1, -1);
    if (write_file(dir, "mounts", &b))
        return -1;

    b = minimal();
    for (uint32_t i = 0; i < 8; i++) {
        rec_idmap(&b, SBX_REC_UID_MAP, i, 1000 + i, 1);
        rec_idmap(&b, SBX_REC_GID_MAP, i, 1000 + i, 1);
    }
    rec_user(&b, 3, 3);
    rec_str(&b, SBX_REC_HOSTNAME, "h");
    rec_str(&b, SBX_REC_CWD, "/");
    rec_str(&b, SBX_REC_ENV, "A=1");
    rec_u64(&b, SBX_REC_TIMEOUT, 5000);
    if (write_file(dir, "maps", &b))
        return -1;

    b = overlay_spec(SBX_NS_USER | SBX_NS_MOUNT, SBX_ROOT_IDMAP_LAYERS);
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/top");
    rec_str(&b, SBX_REC_OVERLAY_LOWER, "/bottom");
    rec_upper(&b, 4096, "", "");
    rec_mount(&b, SBX_MOUNT_SYMLINK, 0, 0, 0, "t", "/l");
    rec_mount(&b, SBX_MOUNT_FILE, 0, 0600, 0, "content", "/f");
    if (write_file(dir, "overlay", &b))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]) == 0 ? 0 : 1;
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write-corpus DIR]\n", argv[0]);
        return 2;
    }

    test_minimal();
    test_full_round_trip();
    test_order_and_limits_accepted();
    test_header();
    test_record_framing();
    test_fixed_sizes();
    test_repeated_once_only();
    test_strings();
    test_paths();
    test_mount_fields();
    test_namespaces_and_maps();
    test_required_and_timeout();
    test_too_many_args();
    test_every_list_full();
    test_err_buffer();
    test_truncations();
    test_cgroup_records();
    test_overlay_records();
    test_created_entries();
    test_security_records();
    test_landlock_records();
    test_terminal_record();
    test_wait_for_start_record();
    test_byte_flips();

    printf("%u passed, %u failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
