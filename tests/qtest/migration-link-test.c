/*
 * migration-link-test: a link that goes silent (x-link-timeout).
 *
 * Both sides run with -global migration.x-link-timeout=2000.  The link
 * goes silent in two ways: a relay inside the test stops forwarding
 * without closing anything (as a pulled cable or dropped packets would),
 * or one of the processes is frozen with SIGSTOP.  Then:
 *
 * - after RUN, each live side reaches postcopy-paused within the timeout
 *   plus a second, answers QMP within a second meanwhile (migrate-pause
 *   included, which does not wait for the timeout), and the
 *   migration recovers and completes with the memory intact — also once
 *   the frozen process is thawed;
 * - before RUN, the source fails within the timeout plus a second with
 *   its VM running, and a ferry destination (which learnt from the
 *   source's PINGs that silence means a dead link) exits with status 1;
 * - a source waiting in pre-switchover notices the silence too, and one
 *   stuck writing its switchover answers query-migrate and
 *   migrate_cancel at once (those writes are no longer made under the
 *   BQL).
 */
#include "migration-helpers.h"
#include "migration-relay.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM_MB      256
#define DATA_START  0x100000
#define DATA_LEN    (64u << 20)
#define TIMEOUT_MS  2000
/* Detected within the timeout plus this, or the test fails. */
#define SLACK_MS    1000

typedef struct Pair {
    QTestState *src, *dst;
    char *pattern_file;
    uint8_t *pattern;
    char *sock, *via;
    Relay *relay;
} Pair;

static char *tmp_path(const char *name)
{
    return g_strdup_printf("%s/%s-%d", qtest_tmpdir(), name, getpid());
}

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* Source and destination, the migration through a relay. */
static void pair_start(Pair *p)
{
    QTestOptions o = { .capture_stderr = true, .qmp_oob = true };

    p->sock = tmp_path("link.sock");
    p->via = tmp_path("relay.sock");
    p->relay = relay_new(p->via, p->sock);
    p->pattern_file = make_pattern_file(DATA_LEN, 31);
    g_assert_true(g_file_get_contents(p->pattern_file, (char **)&p->pattern,
                                      NULL, NULL));
    p->src = qtest_init_opts(&o, "-name source -M none -m %dM "
                             "-global migration.x-link-timeout=%d "
                             "-device loader,file=%s,addr=0x%x", RAM_MB,
                             TIMEOUT_MS, p->pattern_file, DATA_START);
    p->dst = qtest_init_opts(&o, "-name target -M none -m %dM "
                             "-global migration.x-link-timeout=%d "
                             "-incoming unix:%s", RAM_MB, TIMEOUT_MS,
                             p->sock);
    for (int i = 0; i < 2; i++) {
        migrate_set_capability(i ? p->dst : p->src, "events", true);
    }
}

static void start_postcopy(Pair *p)
{
    g_autofree char *uri = g_strdup_printf("unix:%s", p->via);

    for (int i = 0; i < 2; i++) {
        migrate_set_capability(i ? p->dst : p->src, "postcopy-ram", true);
    }
    migrate_set_parameter_int(p->src, "max-postcopy-bandwidth", 8 << 20);
    migrate_qmp(p->src, uri);
    qtest_qmp_assert_success(p->src, "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_status(p->src, "postcopy-active");
    wait_for_migration_status(p->dst, "postcopy-active");
    qtest_qmp_eventwait(p->dst, "RESUME");
}

/* query-migrate answers within a second, whatever the link does. */
static void check_responsive(QTestState *who)
{
    int64_t t0 = now_ms();
    JsonNode *rsp = migrate_query(who);

    g_assert_cmpint(now_ms() - t0, <, 1000);
    json_node_unref(rsp);
}

/* Polls until @who's status is @goal; returns how long it took (ms). */
static int64_t time_to_status(QTestState *who, const char *goal, int64_t t0)
{
    wait_for_migration_status(who, goal);
    return now_ms() - t0;
}

static void recover_and_check(Pair *p)
{
    g_autofree char *path = tmp_path("link2.sock");
    g_autofree uint8_t *got = NULL;

    qtest_qmp_assert_success(p->dst, "{'exec-oob': 'migrate-recover', "
                             "'arguments': {'uri': 'unix:%s'}}", path);
    qtest_qmp_assert_success(p->src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': 'unix:%s', 'resume': true}}", path);
    wait_for_migration_status(p->src, "postcopy-active");
    wait_for_migration_status(p->dst, "postcopy-active");
    migrate_set_parameter_int(p->src, "max-postcopy-bandwidth", 0);
    wait_for_migration_complete(p->src);
    wait_for_migration_complete(p->dst);
    got = pmemsave_read(p->dst, DATA_START, DATA_LEN);
    g_assert_true(memcmp(got, p->pattern, DATA_LEN) == 0);
}

static void pair_finish(Pair *p)
{
    if (p->src) {
        qtest_quit(p->src);
    }
    if (p->dst) {
        qtest_quit(p->dst);
    }
    relay_free(p->relay);
    unlink(p->pattern_file);
    g_free(p->pattern_file);
    g_free(p->pattern);
    g_free(p->sock);
    g_free(p->via);
}

/* ---- postcopy: a silent link ---- */

static void test_stall_postcopy(void)
{
    Pair p = { 0 };
    int64_t t0, ts, td;

    if (!have_userfaultfd()) {
        return;
    }
    pair_start(&p);
    start_postcopy(&p);
    t0 = now_ms();
    relay_stall(p.relay, true);
    check_responsive(p.src);
    check_responsive(p.dst);
    ts = time_to_status(p.src, "postcopy-paused", t0);
    td = time_to_status(p.dst, "postcopy-paused", t0);
    g_test_message("stall noticed after %" PRId64 " ms (source), %" PRId64
                   " ms (destination)", ts, td);
    g_assert_cmpint(ts, <=, TIMEOUT_MS + SLACK_MS);
    g_assert_cmpint(td, <=, TIMEOUT_MS + SLACK_MS);
    g_assert_nonnull(strstr(qtest_stderr(p.src), "x-link-timeout"));
    g_assert_nonnull(strstr(qtest_stderr(p.dst), "x-link-timeout"));
    recover_and_check(&p);
    pair_finish(&p);
}

/*
 * The operator does not wait for the timeout: migrate-pause, in band,
 * answers at once during the stall and pauses the source; the
 * destination still notices the silence by itself.
 */
static void test_stall_pause(void)
{
    Pair p = { 0 };
    int64_t t0;

    if (!have_userfaultfd()) {
        return;
    }
    pair_start(&p);
    start_postcopy(&p);
    relay_stall(p.relay, true);
    t0 = now_ms();
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-pause'}");
    g_assert_cmpint(now_ms() - t0, <, 1000);
    wait_for_migration_status(p.src, "postcopy-paused");
    g_assert_cmpint(now_ms() - t0, <, 1000);
    g_assert_cmpint(time_to_status(p.dst, "postcopy-paused", t0), <=,
                    TIMEOUT_MS + SLACK_MS);
    recover_and_check(&p);
    pair_finish(&p);
}

/* ---- postcopy: one side frozen ---- */

static void test_sigstop(const void *opaque)
{
    bool stop_dst = GPOINTER_TO_INT(opaque);
    Pair p = { 0 };
    QTestState *frozen, *live;
    int64_t t0, t;

    if (!have_userfaultfd()) {
        return;
    }
    pair_start(&p);
    start_postcopy(&p);
    frozen = stop_dst ? p.dst : p.src;
    live = stop_dst ? p.src : p.dst;
    t0 = now_ms();
    g_assert_cmpint(kill(qtest_pid(frozen), SIGSTOP), ==, 0);
    check_responsive(live);
    t = time_to_status(live, "postcopy-paused", t0);
    g_test_message("frozen %s noticed after %" PRId64 " ms",
                   stop_dst ? "destination" : "source", t);
    g_assert_cmpint(t, <=, TIMEOUT_MS + SLACK_MS);
    /* Thawed, it finds the link gone, and pauses too. */
    g_assert_cmpint(kill(qtest_pid(frozen), SIGCONT), ==, 0);
    wait_for_migration_status(frozen, "postcopy-paused");
    recover_and_check(&p);
    pair_finish(&p);
}

/* ---- precopy: a silent link fails it, the source VM keeps running ---- */

static bool relay_past_3m(void *opaque)
{
    return relay_bytes_from_source(opaque) >= (3 << 20);
}

static void test_stall_precopy(void)
{
    Pair p = { 0 };
    g_autofree char *st = NULL;
    g_autofree char *uri = NULL;
    g_autoptr(JsonNode) rsp = NULL;
    int64_t t0, t;
    int status;

    pair_start(&p);
    migrate_set_capability(p.src, "return-path", true);
    migrate_set_capability(p.dst, "return-path", true);
    /* Slow, so that it is still running when the link goes silent. */
    migrate_set_parameter_int(p.src, "max-bandwidth", 8 << 20);
    uri = g_strdup_printf("unix:%s", p.via);
    migrate_qmp(p.src, uri);
    wait_for_migration_status(p.src, "active");
    /*
     * The source PINGs from its first rate-limit window on; a few more
     * windows, and the destination has read one (it learns from it that
     * silence means a dead link).
     */
    g_assert_true(qtest_poll_until(relay_past_3m, p.relay,
                                   qtest_timeout()));
    t0 = now_ms();
    relay_stall(p.relay, true);
    check_responsive(p.src);
    wait_for_migration_fail(p.src, false);
    t = now_ms() - t0;
    g_test_message("stall noticed after %" PRId64 " ms", t);
    g_assert_cmpint(t, <=, TIMEOUT_MS + SLACK_MS);
    st = qtest_runstate(p.src);
    g_assert_cmpstr(st, ==, "running");
    rsp = migrate_query(p.src);
    g_assert_nonnull(strstr(json_object_get_string_member(
                                qmp_rsp_return(rsp), "error-desc"),
                            "x-link-timeout"));
    /* The destination gives up as well (and exits, as QEMU does). */
    status = qtest_wait_exit(p.dst);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    g_assert_cmpint(now_ms() - t0, <=, TIMEOUT_MS + SLACK_MS + 1000);
    g_assert_nonnull(strstr(qtest_stderr(p.dst), "x-link-timeout"));
    qtest_kill(p.dst);
    p.dst = NULL;
    pair_finish(&p);
}

/* ---- pre-switchover: nothing flows, the PINGs watch the link ---- */

static void test_stall_pre_switchover(void)
{
    Pair p = { 0 };
    g_autofree char *st = NULL;
    g_autofree char *uri = NULL;
    int64_t t0, t;

    pair_start(&p);
    migrate_set_capability(p.src, "return-path", true);
    migrate_set_capability(p.dst, "return-path", true);
    migrate_set_capability(p.src, "pause-before-switchover", true);
    migrate_set_parameter_int(p.src, "max-bandwidth", 0);
    uri = g_strdup_printf("unix:%s", p.via);
    migrate_qmp(p.src, uri);
    wait_for_migration_status(p.src, "pre-switchover");
    t0 = now_ms();
    relay_stall(p.relay, true);
    wait_for_migration_fail(p.src, false);
    t = now_ms() - t0;
    g_test_message("stall noticed after %" PRId64 " ms", t);
    g_assert_cmpint(t, <=, TIMEOUT_MS + SLACK_MS);
    st = qtest_runstate(p.src);
    g_assert_cmpstr(st, ==, "running");
    qtest_kill(p.dst);
    p.dst = NULL;
    pair_finish(&p);
}

/*
 * The switchover's writes meet a silent link: the source answers QMP
 * meanwhile, and migrate_cancel brings its VM back at once.
 */
static void test_stall_switchover_cancel(void)
{
    Pair p = { 0 };
    g_autofree char *st = NULL;
    g_autofree char *uri = NULL;
    int64_t t0;

    pair_start(&p);
    migrate_set_capability(p.src, "return-path", true);
    migrate_set_capability(p.dst, "return-path", true);
    migrate_set_capability(p.src, "pause-before-switchover", true);
    migrate_set_parameter_int(p.src, "max-bandwidth", 0);
    /* Plenty left for the switchover: more than any socket holds. */
    migrate_set_parameter_int(p.src, "downtime-limit", 100000);
    uri = g_strdup_printf("unix:%s", p.via);
    migrate_qmp(p.src, uri);
    wait_for_migration_status(p.src, "pre-switchover");
    relay_stall(p.relay, true);
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-continue', "
                             "'arguments': {'state': 'pre-switchover'}}");
    wait_for_migration_status(p.src, "device");
    t0 = now_ms();
    check_responsive(p.src);
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate_cancel'}");
    wait_for_migration_status(p.src, "cancelled");
    g_assert_cmpint(now_ms() - t0, <, 1000);
    st = qtest_runstate(p.src);
    g_assert_cmpstr(st, ==, "running");
    qtest_kill(p.dst);
    p.dst = NULL;
    pair_finish(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/link/stall/postcopy", test_stall_postcopy);
    g_test_add_func("/migration/link/stall/migrate-pause", test_stall_pause);
    g_test_add_data_func("/migration/link/sigstop/destination",
                         GINT_TO_POINTER(true), test_sigstop);
    g_test_add_data_func("/migration/link/sigstop/source",
                         GINT_TO_POINTER(false), test_sigstop);
    g_test_add_func("/migration/link/stall/precopy", test_stall_precopy);
    g_test_add_func("/migration/link/stall/pre-switchover",
                    test_stall_pre_switchover);
    g_test_add_func("/migration/link/stall/switchover-cancel",
                    test_stall_switchover_cancel);
    return g_test_run();
}
