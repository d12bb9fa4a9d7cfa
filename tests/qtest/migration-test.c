/*
 * migration-test: precopy migration between real ferry processes, over
 * every transport, with memory verified byte for byte; a guest that keeps
 * writing during the migration; cancel, an unreachable destination,
 * pause-before-switchover; and the destination facing truncated, corrupt
 * and foreign streams (the QEMU 7.2 captures), which must fail cleanly.
 */
#include "migration-helpers.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM_SIZE     (64 << 20)
#define DATA_START   0x100000
#define DATA_LEN     (4 << 20)

typedef struct Pair {
    QTestState *src, *dst;
    char *uri;
    char *incoming;
} Pair;

static char *tmp_path(const char *name)
{
    return g_strdup_printf("%s/%s-%d", qtest_tmpdir(), name, getpid());
}

/* Writes the test pattern (and a few scattered values) into @qts. */
static void fill_guest(QTestState *qts, uint32_t seed)
{
    g_autofree uint8_t *buf = g_malloc(DATA_LEN);

    fill_pattern(buf, DATA_LEN, seed);
    for (size_t off = 0; off < DATA_LEN; off += 256 * 1024) {
        qtest_bufwrite(qts, DATA_START + off, buf + off, 256 * 1024);
    }
    qtest_writeq(qts, 0, 0x1122334455667788ULL);
    qtest_writeq(qts, RAM_SIZE - 8, 0x8877665544332211ULL);
    qtest_writeb(qts, 0x2345678, 0x5a);
}

/* Both VMs' whole RAM, compared with pmemsave. */
static void check_same_memory(QTestState *a, QTestState *b)
{
    g_autofree uint8_t *ma = pmemsave_read(a, 0, RAM_SIZE);
    g_autofree uint8_t *mb = pmemsave_read(b, 0, RAM_SIZE);

    for (size_t i = 0; i < RAM_SIZE; i += 4096) {
        if (memcmp(ma + i, mb + i, 4096)) {
            g_test_message("page 0x%zx differs", i);
            g_assert_not_reached();
        }
    }
}

static void check_guest(QTestState *qts, uint32_t seed)
{
    g_autofree uint8_t *want = g_malloc(DATA_LEN);
    g_autofree uint8_t *got = pmemsave_read(qts, DATA_START, DATA_LEN);

    fill_pattern(want, DATA_LEN, seed);
    g_assert_cmpmem(want, DATA_LEN, got, DATA_LEN);
    g_assert_cmphex(qtest_readq(qts, 0), ==, 0x1122334455667788ULL);
    g_assert_cmphex(qtest_readq(qts, RAM_SIZE - 8), ==,
                    0x8877665544332211ULL);
    g_assert_cmphex(qtest_readb(qts, 0x2345678), ==, 0x5a);
}

static void pair_start(Pair *p, const char *incoming, const char *extra_src,
                       const char *extra_dst)
{
    p->src = qtest_init_opts(NULL, "-M none -m 64M -name source %s",
                             extra_src ? extra_src : "");
    p->dst = qtest_init_opts(NULL, "-M none -m 64M -name target "
                             "-incoming %s %s", incoming,
                             extra_dst ? extra_dst : "");
    migrate_set_capability(p->src, "events", true);
    migrate_set_capability(p->dst, "events", true);
}

static void pair_finish(Pair *p)
{
    qtest_quit(p->src);
    qtest_quit(p->dst);
    g_free(p->uri);
    g_free(p->incoming);
}

/* Events the source must have sent, in this order. */
static void check_source_events(QTestState *src)
{
    g_autoptr(JsonNode) setup = qtest_qmp_eventwait_ref(src, "MIGRATION");
    g_autoptr(JsonNode) pass = qtest_qmp_eventwait_ref(src, "MIGRATION_PASS");
    JsonObject *d = json_object_get_object_member(
        json_node_get_object(setup), "data");

    g_assert_cmpstr(json_object_get_string_member(d, "status"), ==, "setup");
    d = json_object_get_object_member(json_node_get_object(pass), "data");
    g_assert_cmpint(json_object_get_int_member(d, "pass"), ==, 1);
    qtest_qmp_eventwait(src, "STOP");
}

static void check_stats(QTestState *src)
{
    g_autoptr(JsonNode) rsp = migrate_query(src);
    JsonObject *ret = qmp_rsp_return(rsp);
    JsonObject *ram = json_object_get_object_member(ret, "ram");

    g_assert_cmpstr(json_object_get_string_member(ret, "status"), ==,
                    "completed");
    g_assert_cmpint(json_object_get_int_member(ram, "total"), ==, RAM_SIZE);
    g_assert_cmpint(json_object_get_int_member(ram, "remaining"), ==, 0);
    g_assert_cmpint(json_object_get_int_member(ram, "normal"), >=,
                    DATA_LEN / 4096);
    g_assert_cmpint(json_object_get_int_member(ram, "duplicate"), >, 0);
    g_assert_cmpint(json_object_get_int_member(ram, "transferred"), >,
                    DATA_LEN);
    g_assert_cmpint(json_object_get_int_member(ram, "dirty-sync-count"),
                    >=, 2);
    g_assert_true(json_object_has_member(ret, "downtime"));
    g_assert_true(json_object_has_member(ret, "total-time"));
}

/* The whole dance after the pair exists and p->uri is set. */
static void do_precopy(Pair *p, bool check_events)
{
    g_autofree char *st = NULL;

    fill_guest(p->src, 7);
    migrate_qmp(p->src, p->uri);
    wait_for_migration_complete(p->src);
    wait_for_migration_complete(p->dst);
    if (check_events) {
        check_source_events(p->src);
        qtest_qmp_eventwait(p->dst, "RESUME");
    }
    st = qtest_runstate(p->src);
    g_assert_cmpstr(st, ==, "postmigrate");
    g_free(st);
    st = qtest_runstate(p->dst);
    g_assert_cmpstr(st, ==, "running");
    check_guest(p->dst, 7);
    check_stats(p->src);
}

static void test_precopy_unix(void)
{
    g_autofree char *sock = tmp_path("mig.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Pair p = { 0 };

    pair_start(&p, uri, NULL, NULL);
    p.uri = g_strdup(uri);
    do_precopy(&p, true);
    check_same_memory(p.src, p.dst);
    pair_finish(&p);
}

static void test_precopy_tcp(void)
{
    Pair p = { 0 };
    g_autoptr(JsonNode) rsp = NULL;
    JsonArray *addrs;
    JsonObject *a;

    pair_start(&p, "tcp:127.0.0.1:0", NULL, NULL);
    rsp = migrate_query(p.dst);
    addrs = json_object_get_array_member(qmp_rsp_return(rsp),
                                         "socket-address");
    a = json_array_get_object_element(addrs, 0);
    g_assert_cmpstr(json_object_get_string_member(a, "type"), ==, "inet");
    p.uri = g_strdup_printf("tcp:127.0.0.1:%s",
                            json_object_get_string_member(a, "port"));
    do_precopy(&p, false);
    pair_finish(&p);
}

static void test_precopy_fd(void)
{
    Pair p = { 0 };
    g_autoptr(JsonNode) r1 = NULL, r2 = NULL;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    pair_start(&p, "defer", NULL, NULL);
    r1 = qtest_qmp_fds(p.src, &sv[0], 1, "{'execute': 'getfd', "
                       "'arguments': {'fdname': 'mig'}}");
    qmp_rsp_return(r1);
    r2 = qtest_qmp_fds(p.dst, &sv[1], 1, "{'execute': 'getfd', "
                       "'arguments': {'fdname': 'mig'}}");
    qmp_rsp_return(r2);
    close(sv[0]);
    close(sv[1]);
    qtest_qmp_assert_success(p.dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'fd:mig'}}");
    p.uri = g_strdup("fd:mig");
    do_precopy(&p, false);
    pair_finish(&p);
}

/*
 * exec: both ways, through gzip: a command that holds output back until
 * its input ends must get the time to write it (its pipe's EOF is not
 * its end).
 */
static void test_precopy_exec(void)
{
    g_autofree char *file = tmp_path("exec-stream.gz");
    g_autofree char *out = g_strdup_printf("exec:gzip -c > %s", file);
    g_autofree char *in = g_strdup_printf("\"exec:gzip -dc %s\"", file);
    QTestState *src = qtest_init("-M none -m 64M");
    QTestState *dst;
    g_autofree char *st = NULL;

    fill_guest(src, 11);
    migrate_qmp(src, out);
    wait_for_migration_complete(src);
    dst = qtest_init_opts(NULL, "-M none -m 64M -incoming %s", in);
    wait_for_migration_complete(dst);
    st = qtest_runstate(dst);
    g_assert_cmpstr(st, ==, "running");
    check_guest(dst, 11);
    qtest_quit(src);
    qtest_quit(dst);
    unlink(file);
}

static void test_precopy_file(void)
{
    g_autofree char *file = tmp_path("file-stream");
    g_autofree char *uri = g_strdup_printf("file:%s", file);
    QTestState *src = qtest_init("-M none -m 64M -S");
    QTestState *dst;
    g_autofree char *st = NULL;

    fill_guest(src, 13);
    migrate_qmp(src, uri);
    wait_for_migration_complete(src);
    /* A paused source gives a paused destination (globalstate). */
    dst = qtest_init_opts(NULL, "-M none -m 64M -incoming %s", uri);
    wait_for_migration_complete(dst);
    st = qtest_runstate(dst);
    g_assert_cmpstr(st, ==, "prelaunch");
    check_guest(dst, 13);
    qtest_quit(src);
    qtest_quit(dst);
    unlink(file);
}

static void test_precopy_return_path(void)
{
    g_autofree char *sock = tmp_path("rp.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    Pair p = { 0 };

    pair_start(&p, uri, NULL, NULL);
    migrate_set_capability(p.src, "return-path", true);
    migrate_set_capability(p.dst, "return-path", true);
    p.uri = g_strdup(uri);
    do_precopy(&p, false);
    pair_finish(&p);
}

/* The guest (the test, through qtest) keeps writing during migration. */
/*
 * Most of the 64 MiB is never touched before the migration, and the source
 * sends such pages as zero without reading them (/proc/self/pagemap).  The
 * writes land in pages of both kinds, some after the source looked them
 * up: they must still arrive, in a later pass.  They stay in the lower
 * half: guest RAM is advised MADV_HUGEPAGE, so with THP a write populates
 * its whole 2 MiB, and only 2 MiB regions never written are sure to be
 * unpopulated whatever the host's THP mode.
 */
static void test_precopy_dirty(void)
{
    g_autofree char *sock = tmp_path("dirty.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *trace = tmp_path("dirty-trace.log");
    g_autofree char *src_opts = g_strdup_printf("-trace pagemap_fill -D %s",
                                                trace);
    g_autofree char *log = NULL;
    Pair p = { 0 };
    g_autoptr(JsonNode) rsp = NULL;
    JsonObject *ram;
    uint64_t round = 0, unpopulated = 0;

    pair_start(&p, uri, src_opts, NULL);
    fill_guest(p.src, 17);
    /* 4 MiB of data at 1 MB/s: several passes while we write. */
    migrate_set_parameter_int(p.src, "max-bandwidth", 1 << 20);
    migrate_set_parameter_int(p.src, "downtime-limit", 1);
    migrate_qmp(p.src, uri);
    wait_for_migration_status(p.src, "active");
    for (;;) {
        g_autoptr(JsonNode) pass = NULL;

        /* Re-dirty pages already sent and pages not yet sent. */
        for (uint64_t a = 0; a < RAM_SIZE / 2; a += RAM_SIZE / 128) {
            qtest_writeq(p.src, a + 8 * (round % 512), round * 0x0101 + a);
        }
        round++;
        pass = qtest_qmp_event_ref(p.src, "MIGRATION_PASS");
        if (pass) {
            JsonObject *d = json_object_get_object_member(
                json_node_get_object(pass), "data");

            if (json_object_get_int_member(d, "pass") >= 3) {
                break;
            }
        }
        /* Drive the QMP reader so events get queued. */
        g_free(migrate_query_status(p.src));
    }
    /* Let it converge. */
    migrate_set_parameter_int(p.src, "max-bandwidth", 0);
    migrate_set_parameter_int(p.src, "downtime-limit", 30000);
    wait_for_migration_complete(p.src);
    wait_for_migration_complete(p.dst);
    rsp = migrate_query(p.src);
    ram = json_object_get_object_member(qmp_rsp_return(rsp), "ram");
    g_assert_cmpint(json_object_get_int_member(ram, "dirty-sync-count"),
                    >=, 3);
    g_test_message("%" G_GUINT64_FORMAT " rounds of writes", round);
    check_same_memory(p.src, p.dst);
    pair_finish(&p);

    /* The source did find never-populated pages to skip. */
    g_assert_true(g_file_get_contents(trace, &log, NULL, NULL));
    for (const char *l = log; (l = strstr(l, "pagemap_fill ")); l++) {
        const char *n = strstr(l, " pages, ");

        g_assert_nonnull(n);
        unpopulated += g_ascii_strtoull(n + 8, NULL, 10);
    }
    g_test_message("%" G_GUINT64_FORMAT " never-populated pages seen",
                   unpopulated);
    g_assert_cmpuint(unpopulated, >, 0);
    unlink(trace);
}

static void test_pause_before_switchover(void)
{
    g_autofree char *sock = tmp_path("pause.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autoptr(JsonNode) bad = NULL;
    Pair p = { 0 };
    g_autofree char *st = NULL;

    pair_start(&p, uri, NULL, NULL);
    migrate_set_capability(p.src, "pause-before-switchover", true);
    fill_guest(p.src, 19);
    migrate_qmp(p.src, uri);
    wait_for_migration_status(p.src, "pre-switchover");
    st = qtest_runstate(p.src);
    g_assert_cmpstr(st, ==, "finish-migrate");
    bad = qtest_qmp(p.src, "{'execute': 'migrate-continue', 'arguments': "
                    "{'state': 'active'}}");
    g_assert_cmpstr(qmp_rsp_error_desc(bad), ==,
                    "Migration not in expected state: pre-switchover");
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-continue', "
                             "'arguments': {'state': 'pre-switchover'}}");
    wait_for_migration_complete(p.src);
    wait_for_migration_complete(p.dst);
    check_guest(p.dst, 19);
    pair_finish(&p);
}

/*
 * The source looks pages up in /proc/self/pagemap a 2 MiB window at a
 * time.  Here the whole guest is one window: read while the first pass
 * sends the never-touched page at 1 MiB as zero.  That page is written
 * during pre-switchover, after the window was read; the final sync marks
 * it dirty and the window is stale, so it must be read again, not trusted.
 */
static void test_written_after_lookup(void)
{
    g_autofree char *sock = tmp_path("late.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    uint8_t want[4096], got[4096];
    QTestState *src, *dst;

    src = qtest_init("-M none -m 2M -name source");
    dst = qtest_init_opts(NULL, "-M none -m 2M -name target -incoming %s",
                          uri);
    fill_pattern(want, sizeof(want), 23);
    qtest_writeq(src, 0x1000, 0x0123456789abcdefULL);
    migrate_set_capability(src, "pause-before-switchover", true);
    migrate_qmp(src, uri);
    wait_for_migration_status(src, "pre-switchover");
    qtest_bufwrite(src, 0x100000, want, sizeof(want));
    qtest_qmp_assert_success(src, "{'execute': 'migrate-continue', "
                             "'arguments': {'state': 'pre-switchover'}}");
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    qtest_memread(dst, 0x100000, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), want, sizeof(want));
    g_assert_cmphex(qtest_readq(dst, 0x1000), ==, 0x0123456789abcdefULL);
    qtest_quit(src);
    qtest_quit(dst);
}

/*
 * A precopy of guest pattern @seed over a unix socket named @name, held
 * to @bandwidth bytes/s so that it is still running when the test acts;
 * the destination's stderr is captured.
 */
static void start_slow_migration(const char *name, uint32_t seed,
                                 uint64_t bandwidth, QTestState **src,
                                 QTestState **dst)
{
    g_autofree char *sock = tmp_path(name);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    QTestOptions o = { .capture_stderr = true };

    *src = qtest_init("-M none -m 64M");
    *dst = qtest_init_opts(&o, "-M none -m 64M -incoming %s", uri);
    fill_guest(*src, seed);
    migrate_set_parameter_int(*src, "max-bandwidth", bandwidth);
    migrate_qmp(*src, uri);
}

static void test_cancel(void)
{
    QTestState *src, *dst;
    g_autofree char *st = NULL;
    int status;

    start_slow_migration("cancel.sock", 23, 100 << 10, &src, &dst);
    wait_for_migration_status(src, "active");
    qtest_qmp_assert_success(src, "{'execute': 'migrate_cancel'}");
    wait_for_migration_status(src, "cancelled");
    /* The source carries on as if nothing happened. */
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "running");
    check_guest(src, 23);
    /* The destination saw a broken stream: it reports it and exits 1. */
    status = qtest_wait_exit(dst);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(qtest_stderr(dst), "load of migration failed"));
    qtest_kill(dst);
    qtest_quit(src);
}

/*
 * exec: to a command that stops reading: the migration thread is stuck on
 * a full pipe (with no deadline, x-link-timeout=0).  migrate_cancel gets
 * it out at once, the command is terminated, the VM runs on, and the
 * process can exit.
 */
static void test_cancel_exec(void)
{
    g_autofree char *file = tmp_path("exec-head");
    g_autofree char *uri = g_strdup_printf("exec:head -c 100000 > %s; "
                                           "exec sleep 600", file);
    QTestState *src = qtest_init("-M none -m 64M "
                                 "-global migration.x-link-timeout=0");
    gint64 deadline = g_get_monotonic_time() +
                      qtest_timeout() * G_USEC_PER_SEC;
    g_autofree char *st = NULL;
    struct stat sb;

    fill_guest(src, 29);
    migrate_qmp(src, uri);
    /*
     * Once head has its 100000 bytes, nothing reads the pipe any more:
     * the thread, which writes at full speed, fills it (64 KiB) at once
     * and then waits on it.
     */
    while (stat(file, &sb) < 0 || sb.st_size < 100000) {
        g_assert_true(g_get_monotonic_time() < deadline);
        poll(NULL, 0, 5);
    }
    qtest_qmp_assert_success(src, "{'execute': 'migrate_cancel'}");
    wait_for_migration_status(src, "cancelled");
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "running");
    check_guest(src, 29);
    qtest_quit(src);
    unlink(file);
}

/*
 * The destination is told to exit (SIGTERM) while it loads: it stops the
 * load and exits cleanly (status 0, as on any SIGTERM) — its loader must
 * not write RAM that the exit frees.  The source fails with its VM
 * running.
 */
static void test_quit_during_load(void)
{
    QTestState *src, *dst;
    g_autofree char *st = NULL;
    int status;

    start_slow_migration("quit.sock", 31, 1 << 20, &src, &dst);
    wait_for_migration_status(dst, "active");
    kill(qtest_pid(dst), SIGTERM);
    status = qtest_wait_exit(dst);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    qtest_kill(dst);
    wait_for_migration_fail(src, false);
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "running");
    check_guest(src, 31);
    qtest_quit(src);
}

static void test_unreachable(void)
{
    g_autofree char *sock = tmp_path("later.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    QTestState *src = qtest_init("-M none -m 64M -S");
    g_autoptr(JsonNode) rsp = NULL;
    g_autofree char *st = NULL;
    QTestState *dst;

    fill_guest(src, 29);
    migrate_qmp(src, "unix:/nonexistent/ferry.sock");
    wait_for_migration_fail(src, false);
    rsp = migrate_query(src);
    g_assert_nonnull(strstr(json_object_get_string_member(
                                qmp_rsp_return(rsp), "error-desc"),
                            "Failed to connect"));
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "prelaunch");
    /* Fully working: a second migration to a real destination works. */
    dst = qtest_init_opts(NULL, "-M none -m 64M -incoming %s", uri);
    migrate_qmp(src, uri);
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    check_guest(dst, 29);
    qtest_quit(src);
    qtest_quit(dst);
}

static void test_qmp_errors(void)
{
    QTestState *src = qtest_init("-M none -m 16M");
    QTestState *dst = qtest_init("-M none -m 16M -incoming defer");
    g_autoptr(JsonNode) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;
    g_autoptr(JsonNode) r5 = NULL, r6 = NULL;

    r1 = qtest_qmp(src, "{'execute': 'migrate', 'arguments': "
                   "{'uri': 'bogus:x'}}");
    g_assert_cmpstr(qmp_rsp_error_desc(r1), ==,
                    "Parameter 'uri' expects a valid migration protocol");
    r2 = qtest_qmp(dst, "{'execute': 'migrate', 'arguments': "
                   "{'uri': 'unix:/x'}}");
    g_assert_cmpstr(qmp_rsp_error_desc(r2), ==,
                    "Guest is waiting for an incoming migration");
    r3 = qtest_qmp(src, "{'execute': 'migrate-incoming', 'arguments': "
                   "{'uri': 'unix:/x'}}");
    g_assert_cmpstr(qmp_rsp_error_desc(r3), ==,
                    "'-incoming' was not specified on the command line");
    r4 = qtest_qmp(src, "{'execute': 'migrate-set-parameters', "
                   "'arguments': {'downtime-limit': 2000001}}");
    g_assert_cmpstr(qmp_rsp_error_desc(r4), ==,
                    "Parameter 'downtime_limit' expects an integer in the "
                    "range of 0 to (2000 * 1000) ms");
    r5 = qtest_qmp(src, "{'execute': 'migrate-set-capabilities', "
                   "'arguments': {'capabilities': [{'capability': "
                   "'postcopy-preempt', 'state': true}]}}");
    g_assert_cmpstr(qmp_rsp_error_desc(r5), ==,
                    "Postcopy preempt requires postcopy-ram");
    /* A size of 2^64 - 1, not -1 (found by the QMP fuzz target). */
    r6 = qtest_qmp(src, "{'execute': 'migrate-set-parameters', "
                   "'arguments': {'announce-initial': "
                   "18446744073709551615}}");
    g_assert_cmpstr(qmp_rsp_error_desc(r6), ==,
                    "Parameter 'announce_initial' expects a value between "
                    "0 and 100000");
    qtest_quit(src);
    qtest_quit(dst);
}

/* ---- the destination against bad and foreign streams ---- */

/*
 * Loads @file into a fresh destination; returns its exit status and, via
 * @err_out, what it printed.  Never a signal: a crash fails the test.
 */
static int load_stream_file(const char *file, const char *machine,
                            char **err_out)
{
    QTestOptions o = { .capture_stderr = true, .no_qtest = true,
                       .no_qmp_handshake = true };
    QTestState *dst = qtest_init_opts(&o, "%s -incoming file:%s", machine,
                                      file);
    g_autoptr(JsonNode) greeting = qtest_qmp_try_greeting(dst);
    g_autoptr(JsonNode) caps = NULL;
    gint64 deadline = g_get_monotonic_time() + qtest_timeout() * G_USEC_PER_SEC;
    int status;

    if (greeting) {
        caps = qtest_qmp_try(dst, "{'execute': 'qmp_capabilities'}");
    }
    /* It either completes (and keeps running) or exits with status 1. */
    while (caps) {
        g_autoptr(JsonNode) rsp = qtest_qmp_try(dst, "{'execute': "
                                                "'query-migrate'}");
        JsonObject *ret;

        if (!rsp) {
            break;                          /* it exited */
        }
        if (g_get_monotonic_time() > deadline) {
            g_test_message("the destination neither completed nor failed");
            g_assert_not_reached();
        }
        ret = qmp_rsp_return(rsp);
        if (json_object_has_member(ret, "status") &&
            g_str_equal(json_object_get_string_member(ret, "status"),
                        "completed")) {
            qtest_quit(dst);
            if (err_out) {
                *err_out = g_strdup("");
            }
            return 0;
        }
        /* Not done yet: look again shortly (bounded by the deadline). */
        poll(NULL, 0, 2);
    }
    status = qtest_wait_exit(dst);
    g_assert_false(WIFSIGNALED(status));
    g_assert_true(WIFEXITED(status));
    if (err_out) {
        *err_out = g_strdup(qtest_stderr(dst));
    }
    qtest_kill(dst);
    return WEXITSTATUS(status);
}

static void test_capture_precopy_none(void)
{
    g_autofree char *cap = capture_path("precopy-none-64M.bin");
    QTestState *dst;
    g_autofree char *st = NULL;

    if (!cap) {
        return;
    }
    dst = qtest_init_opts(NULL, "-M none -m 64M -incoming file:%s", cap);
    wait_for_migration_complete(dst);
    st = qtest_runstate(dst);
    g_assert_cmpstr(st, ==, "running");
    g_assert_cmphex(qtest_readq(dst, 0x100000), ==, 0);
    qtest_quit(dst);
}

typedef struct ForeignCase {
    const char *capture;
    const char *machine;
    const char *expect;
} ForeignCase;

static const ForeignCase foreign_cases[] = {
    { "precopy-none-64M-uuid-ignore-shared.bin", "-M none -m 64M",
      "x-ignore-shared" },
    { "precopy-pc-64M-stopped.bin", "-M none -m 64M",
      "Machine type received is 'pc-i440fx-7.2' and local is 'none'" },
    { "postcopy/main.src-to-dst.bin", "-M none -m 64M",
      "RAM postcopy is disabled but have 16 byte advise" },
    { "precopy-none-64M.bin", "-M none -m 32M", "Size mismatch" },
    { "precopy-none-64M.bin", "-M none,memory-backend=m0 -object "
      "memory-backend-ram,id=m0,size=64M", "Unknown ramblock \"ram\"" },
};

static void test_capture_foreign(const void *opaque)
{
    const ForeignCase *c = opaque;
    g_autofree char *cap = capture_path(c->capture);
    g_autofree char *err = NULL;

    if (!cap) {
        return;
    }
    g_assert_cmpint(load_stream_file(cap, c->machine, &err), ==, 1);
    g_test_message("%s", err);
    g_assert_nonnull(strstr(err, "load of migration failed"));
    g_assert_nonnull(strstr(err, c->expect));
}

static void test_truncated(void)
{
    g_autofree char *cap = capture_path("precopy-none-64M.bin");
    g_autofree char *data = NULL;
    g_autofree char *file = tmp_path("truncated");
    gsize len;

    if (!cap) {
        return;
    }
    g_assert_true(g_file_get_contents(cap, &data, &len, NULL));
    /* The header, inside the RAM section, the devices, the EOF. */
    for (int i = 0; i < 24; i++) {
        gsize cut = i < 12 ? (gsize)i * 7 : (len - 600) / 12 * (i - 11);
        g_autofree char *err = NULL;
        int st;

        if (cut >= len - 500) {
            cut = len - 500 + (i * 13) % 400;   /* into devices/EOF */
        }
        g_assert_true(g_file_set_contents(file, data, cut, NULL));
        st = load_stream_file(file, "-M none -m 64M", &err);
        g_test_message("cut at %zu: %d %s", (size_t)cut, st, err);
        g_assert_cmpint(st, ==, 1);
        g_assert_nonnull(strstr(err, "load of migration failed"));
        g_assert_true(strstr(err, "truncated") || strstr(err, "offset"));
    }
    unlink(file);
}

static void test_corrupt(void)
{
    g_autofree char *cap = capture_path("precopy-none-64M.bin");
    g_autofree char *data = NULL;
    g_autofree char *file = tmp_path("corrupt");
    GRand *r = g_rand_new_with_seed(1234);
    gsize len;
    int failed = 0;

    if (!cap) {
        g_rand_free(r);
        return;
    }
    g_assert_true(g_file_get_contents(cap, &data, &len, NULL));
    for (int i = 0; i < 24; i++) {
        g_autofree char *copy = g_memdup2(data, len);
        /* Bias towards the structural bytes at both ends. */
        gsize at = i % 2 ? g_rand_int_range(r, 0, 0x60)
                         : g_rand_int_range(r, len - 600, len);
        g_autofree char *err = NULL;
        int st;

        copy[at] ^= 1 << g_rand_int_range(r, 0, 8);
        g_assert_true(g_file_set_contents(file, copy, len, NULL));
        st = load_stream_file(file, "-M none -m 64M", &err);
        g_test_message("flip at %zu: %d", (size_t)at, st);
        /* Harmless flips (JSON text, unused bytes) may load fine. */
        g_assert_true(st == 0 || st == 1);
        if (st == 1) {
            failed++;
            g_assert_nonnull(strstr(err, "load of migration failed"));
        }
    }
    g_assert_cmpint(failed, >, 0);
    g_rand_free(r);
    unlink(file);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/precopy/unix/plain", test_precopy_unix);
    g_test_add_func("/migration/precopy/tcp/plain", test_precopy_tcp);
    g_test_add_func("/migration/precopy/fd/plain", test_precopy_fd);
    g_test_add_func("/migration/precopy/exec/plain", test_precopy_exec);
    g_test_add_func("/migration/precopy/file/plain", test_precopy_file);
    g_test_add_func("/migration/precopy/unix/return-path",
                    test_precopy_return_path);
    g_test_add_func("/migration/precopy/unix/dirty", test_precopy_dirty);
    g_test_add_func("/migration/precopy/unix/pause-before-switchover",
                    test_pause_before_switchover);
    g_test_add_func("/migration/precopy/unix/written-after-lookup",
                    test_written_after_lookup);
    g_test_add_func("/migration/cancel", test_cancel);
    g_test_add_func("/migration/cancel-exec", test_cancel_exec);
    g_test_add_func("/migration/quit-during-load", test_quit_during_load);
    g_test_add_func("/migration/unreachable", test_unreachable);
    g_test_add_func("/migration/qmp-errors", test_qmp_errors);
    g_test_add_func("/migration/stream/capture-precopy-none",
                    test_capture_precopy_none);
    for (size_t i = 0; i < G_N_ELEMENTS(foreign_cases); i++) {
        g_autofree char *path = g_strdup_printf("/migration/stream/"
                                                "foreign/%zu", i);
        g_test_add_data_func(path, &foreign_cases[i], test_capture_foreign);
    }
    g_test_add_func("/migration/stream/truncated", test_truncated);
    g_test_add_func("/migration/stream/corrupt", test_corrupt);
    return g_test_run();
}
