/*
 * migration-helpers.c: shared by the migration tests.
 */
#include "migration-helpers.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

JsonNode *migrate_query(QTestState *who)
{
    return qtest_qmp(who, "{'execute': 'query-migrate'}");
}

char *migrate_query_status(QTestState *who)
{
    g_autoptr(JsonNode) rsp = migrate_query(who);
    JsonObject *ret = qmp_rsp_return(rsp);

    if (!json_object_has_member(ret, "status")) {
        return g_strdup("none");
    }
    return g_strdup(json_object_get_string_member(ret, "status"));
}

typedef struct StatusWait {
    QTestState *who;
    const char *goal;
    bool allow_cancelled;
    bool fail_ok;
    char *last;
} StatusWait;

static bool status_reached(void *opaque)
{
    StatusWait *w = opaque;

    g_free(w->last);
    w->last = migrate_query_status(w->who);
    if (!w->fail_ok && g_str_equal(w->last, "failed")) {
        g_autoptr(JsonNode) rsp = migrate_query(w->who);
        JsonObject *ret = qmp_rsp_return(rsp);

        g_test_message("migration failed: %s",
                       json_object_has_member(ret, "error-desc")
                       ? json_object_get_string_member(ret, "error-desc")
                       : "(no error-desc)");
        qtest_dump_stderr_all();
        g_assert_not_reached();
    }
    if (w->allow_cancelled && g_str_equal(w->last, "cancelled")) {
        return true;
    }
    return g_str_equal(w->last, w->goal);
}

void wait_for_migration_status(QTestState *who, const char *goal)
{
    StatusWait w = { .who = who, .goal = goal };

    if (!qtest_poll_until(status_reached, &w, qtest_timeout())) {
        g_test_message("still '%s' instead of '%s'", w.last, goal);
        qtest_dump_stderr_all();
        g_assert_not_reached();
    }
    g_free(w.last);
}

void wait_for_migration_complete(QTestState *who)
{
    wait_for_migration_status(who, "completed");
}

void wait_for_migration_fail(QTestState *who, bool allow_cancelled)
{
    StatusWait w = { .who = who, .goal = "failed", .fail_ok = true,
                     .allow_cancelled = allow_cancelled };

    if (!qtest_poll_until(status_reached, &w, qtest_timeout())) {
        g_test_message("still '%s' instead of failed", w.last);
        g_assert_not_reached();
    }
    g_free(w.last);
}

QTestState *migrate_start_vm(const char *binary, bool no_qtest,
                             unsigned ram_mb, const char *fmt, ...)
{
    QTestOptions o = { .binary = binary, .no_qtest = no_qtest,
                       .capture_stderr = true };
    g_autofree char *args = NULL;
    QTestState *q;
    va_list ap;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    q = qtest_init_opts(&o, "-M none -m %uM -nodefaults -display none %s",
                        ram_mb, args);
    migrate_set_capability(q, "events", true);
    return q;
}

bool interop_have_peer(InteropPeer peer)
{
    return peer == PEER_QEMU10 ? qtest_have_qemu10() : qtest_have_qemu();
}

const char *interop_binary(InteropPeer peer, bool qemu)
{
    if (!qemu) {
        return NULL;
    }
    return peer == PEER_QEMU10 ? qtest_qemu10_binary() : qtest_qemu_binary();
}

void migrate_qmp(QTestState *who, const char *uri)
{
    qtest_qmp_assert_success(who, "{'execute': 'migrate', 'arguments': "
                             "{'uri': '%s'}}", uri);
}

void migrate_set_capability(QTestState *who, const char *cap, bool state)
{
    qtest_qmp_assert_success(who, "{'execute': 'migrate-set-capabilities', "
                             "'arguments': {'capabilities': [{'capability':"
                             " '%s', 'state': %s}]}}", cap,
                             state ? "true" : "false");
}

void migrate_set_parameter_int(QTestState *who, const char *name,
                               uint64_t value)
{
    qtest_qmp_assert_success(who, "{'execute': 'migrate-set-parameters', "
                             "'arguments': {'%s': %" G_GUINT64_FORMAT "}}",
                             name, (guint64)value);
}

void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL ^ seed;
    size_t i = 0;

    /* xorshift64*: fast, and every byte depends on the seed. */
    while (i < len) {
        uint64_t v;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v = x * 0x2545f4914f6cdd1dULL;
        for (int k = 0; k < 8 && i < len; k++, i++) {
            buf[i] = v >> (8 * k);
        }
    }
}

char *make_pattern_file(size_t len, uint32_t seed)
{
    char *path = g_strdup_printf("%s/pattern-%u-%zu.bin", qtest_tmpdir(),
                                 seed, len);
    g_autofree uint8_t *buf = g_malloc(len);

    fill_pattern(buf, len, seed);
    g_assert_true(g_file_set_contents(path, (char *)buf, len, NULL));
    return path;
}

uint8_t *pmemsave_read(QTestState *who, uint64_t addr, size_t len)
{
    g_autofree char *file = g_strdup_printf("%s/pmemsave-%d-%d.bin",
                                            qtest_tmpdir(), getpid(),
                                            (int)qtest_pid(who));
    char *contents = NULL;
    gsize got = 0;

    qtest_qmp_assert_success(who, "{'execute': 'pmemsave', 'arguments': "
                             "{'val': %" G_GUINT64_FORMAT ", 'size': %zu, "
                             "'filename': '%s'}}", (guint64)addr, len, file);
    g_assert_true(g_file_get_contents(file, &contents, &got, NULL));
    g_assert_cmpuint(got, ==, len);
    unlink(file);
    return (uint8_t *)contents;
}

void read_pages_ahead(QTestState *dst, uint64_t addr, const uint8_t *pattern,
                      size_t len, unsigned n, unsigned seed)
{
    for (unsigned i = 0; i < n; i++) {
        size_t off = ((size_t)(i + seed) * 1999 * 4096 + len / 2) % len &
                     ~(size_t)4095;
        g_autofree uint8_t *got = pmemsave_read(dst, addr + off, 4096);

        g_assert_cmpmem(got, 4096, pattern + off, 4096);
    }
}

bool send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

uint8_t *screendump_read(QTestState *who, int *width, int *height)
{
    g_autofree char *file = g_strdup_printf("%s/screendump-%d-%d.ppm",
                                            qtest_tmpdir(), getpid(),
                                            (int)qtest_pid(who));
    g_autofree char *data = NULL;
    gsize len = 0;
    int maxval = 0, n = 0;

    qtest_qmp_assert_success(who, "{'execute': 'screendump', 'arguments': "
                             "{'filename': '%s'}}", file);
    g_assert_true(g_file_get_contents(file, &data, &len, NULL));
    unlink(file);
    g_assert_cmpint(sscanf(data, "P6\n%d %d\n%d\n%n", width, height,
                           &maxval, &n), ==, 3);
    g_assert_cmpint(n, >, 0);
    g_assert_cmpint(maxval, ==, 255);
    g_assert_cmpuint(len, ==, (gsize)n + (gsize)*width * *height * 3);
    return g_memdup2(data + n, (gsize)*width * *height * 3);
}

char *capture_path(const char *name)
{
    const char *dir = getenv("FERRY_CAPTURES");
    char *path;

    if (!dir) {
        g_test_skip("FERRY_CAPTURES is not set");
        return NULL;
    }
    path = g_build_filename(dir, name, NULL);
    if (access(path, R_OK) != 0) {
        g_autofree char *msg = g_strdup_printf("capture %s not found", path);

        g_test_skip(msg);
        g_free(path);
        return NULL;
    }
    return path;
}

bool have_userfaultfd(void)
{
    /* The destination probes userfaultfd when postcopy-ram is enabled. */
    QTestState *qts = qtest_init("-M none -m 16M -incoming defer");
    g_autoptr(JsonNode) rsp = qtest_qmp(qts, "{'execute': "
                                        "'migrate-set-capabilities', "
                                        "'arguments': {'capabilities': "
                                        "[{'capability': 'postcopy-ram', "
                                        "'state': true}]}}");
    const char *err = qmp_rsp_error_desc(rsp);

    qtest_quit(qts);
    if (err) {
        g_autofree char *msg = g_strdup_printf("no postcopy here: %s", err);

        g_test_skip(msg);
        return false;
    }
    return true;
}

char *ram_vmflags(pid_t pid, uint64_t size, uint64_t *rss)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/smaps", (int)pid);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    char *found = NULL;
    unsigned matches = 0;
    bool in = false;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        unsigned long long start, end, kb;

        /* (No field name is hex digits and a dash.) */
        if (sscanf(*l, "%llx-%llx ", &start, &end) == 2) {
            in = end - start == size;
            matches += in;
        } else if (in && rss && sscanf(*l, "Rss: %llu kB", &kb) == 1) {
            *rss = kb * 1024;
        } else if (in && g_str_has_prefix(*l, "VmFlags:")) {
            g_free(found);
            found = g_strdup(g_strstrip(*l + strlen("VmFlags:")));
        }
    }
    if (matches != 1) {
        g_test_message("%u mappings of 0x%" PRIx64 " bytes in %s", matches,
                       size, path);
        g_assert_cmpuint(matches, ==, 1);
    }
    g_assert_nonnull(found);
    return found;
}

bool vmflags_has(const char *flags, const char *flag)
{
    g_auto(GStrv) v = g_strsplit(flags, " ", -1);

    return g_strv_contains((const char *const *)v, flag);
}

bool free_huge_pages(unsigned need)
{
    g_autofree char *s = NULL;

    if (!g_file_get_contents("/sys/kernel/mm/hugepages/hugepages-2048kB/"
                             "free_hugepages", &s, NULL, NULL)) {
        return false;
    }
    return strtoul(s, NULL, 10) >= need;
}

int load_postcopy_stream(const char *file, const char *mem,
                                char **err_out)
{
    QTestOptions o = { .capture_stderr = true, .no_qtest = true };
    QTestState *dst = qtest_init_opts(&o, "%s -incoming defer", mem);
    gint64 deadline = g_get_monotonic_time() +
                      qtest_timeout() * G_USEC_PER_SEC;
    int status;

    migrate_set_capability(dst, "postcopy-ram", true);
    qtest_qmp_assert_success(dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'file:%s'}}", file);
    for (;;) {
        g_autoptr(JsonNode) rsp = qtest_qmp_try(dst, "{'execute': "
                                                "'query-migrate'}");

        if (!rsp) {
            break;
        }
        if (g_str_equal(json_object_get_string_member(qmp_rsp_return(rsp),
                                                      "status"),
                        "completed")) {
            if (err_out) {
                *err_out = g_strdup(qtest_stderr(dst));
            }
            qtest_quit(dst);
            return 0;
        }
        g_assert_true(g_get_monotonic_time() < deadline);
        poll(NULL, 0, 2);
    }
    status = qtest_wait_exit(dst);
    g_assert_true(WIFEXITED(status));
    if (err_out) {
        *err_out = g_strdup(qtest_stderr(dst));
    }
    qtest_kill(dst);
    return WEXITSTATUS(status);
}
