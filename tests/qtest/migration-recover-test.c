/*
 * migration-recover-test: postcopy that survives a broken link (spec §9,
 * §10), ferry -> ferry.
 *
 * Each test starts a postcopy migration of a guest holding 64 MiB of
 * data, with a slow background push so that the link breaks while most
 * of it is still on the source, then:
 *
 * - breaks the link: migrate-pause on either side, or a relay inside the
 *   test that closes both sockets; both sides go postcopy-paused, and the
 *   destination's guest keeps running;
 * - recovers: migrate-recover on the destination, migrate resume=true on
 *   the source, postcopy-active again on both sides, plain and with
 *   postcopy-preempt;
 * - lets the push finish and compares the destination's memory with the
 *   pattern, byte for byte.
 *
 * And the failure paths: a recovery whose link breaks during the
 * handshake falls back to paused and a second one succeeds; a resume to
 * an address nobody listens on falls back to paused; the recovery works
 * while the destination's main loop is stuck on a missing page (the
 * commands go out of band, and the page request in flight is asked
 * again); the commands refuse outside their states; a paused source can
 * be cancelled and never resumes the VM.
 */
#include "migration-helpers.h"
#include "migration-relay.h"

#include <string.h>
#include <unistd.h>

#define RAM_MB      256
#define DATA_START  0x100000
#define DATA_LEN    (64u << 20)

typedef struct Pair {
    QTestState *src, *dst;
    char *pattern_file;
    uint8_t *pattern;
    char *sock;         /* where the destination listens first */
    char *uri;
    bool preempt;
    const char *dst_extra;  /* more destination options, or NULL */
} Pair;

static char *tmp_path(const char *name)
{
    return g_strdup_printf("%s/%s-%d", qtest_tmpdir(), name, getpid());
}

static char *unix_uri(const char *path)
{
    return g_strdup_printf("unix:%s", path);
}

static void set_caps(QTestState *q, bool preempt)
{
    migrate_set_capability(q, "events", true);
    migrate_set_capability(q, "postcopy-ram", true);
    if (preempt) {
        migrate_set_capability(q, "postcopy-preempt", true);
    }
}

/*
 * Source and destination; the migration goes to @via (a relay's socket)
 * or straight to the destination when NULL.
 */
static bool pair_start(Pair *p, bool preempt, const char *via)
{
    QTestOptions dst_opts = { .capture_stderr = true, .qmp_oob = true };
    QTestOptions src_opts = { .capture_stderr = true, .qmp_oob = true };

    if (!have_userfaultfd()) {
        return false;
    }
    p->preempt = preempt;
    p->sock = tmp_path("recover.sock");
    p->uri = unix_uri(via ? via : p->sock);
    p->pattern_file = make_pattern_file(DATA_LEN, 17);
    g_assert_true(g_file_get_contents(p->pattern_file, (char **)&p->pattern,
                                      NULL, NULL));
    p->src = qtest_init_opts(&src_opts, "-name source -M none -m %dM "
                             "-device loader,file=%s,addr=0x%x", RAM_MB,
                             p->pattern_file, DATA_START);
    p->dst = qtest_init_opts(&dst_opts, "-name target -M none -m %dM "
                             "-incoming unix:%s %s", RAM_MB, p->sock,
                             p->dst_extra ? p->dst_extra : "");
    set_caps(p->src, preempt);
    set_caps(p->dst, preempt);
    /* Slow enough that the link breaks with most pages still to come. */
    migrate_set_parameter_int(p->src, "max-postcopy-bandwidth", 8 << 20);
    migrate_qmp(p->src, p->uri);
    qtest_qmp_assert_success(p->src, "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_status(p->src, "postcopy-active");
    wait_for_migration_status(p->dst, "postcopy-active");
    qtest_qmp_eventwait(p->dst, "RESUME");
    return true;
}

/* Waits for a MIGRATION event with @status on @who. */
static void wait_status_event(QTestState *who, const char *status)
{
    for (;;) {
        g_autoptr(JsonNode) ev = qtest_qmp_eventwait_ref(who, "MIGRATION");
        JsonObject *data = json_object_get_object_member(
            json_node_get_object(ev), "data");

        if (g_str_equal(json_object_get_string_member(data, "status"),
                        status)) {
            return;
        }
    }
}

static void expect_paused(Pair *p)
{
    g_autofree char *st = NULL;

    wait_for_migration_status(p->src, "postcopy-paused");
    wait_for_migration_status(p->dst, "postcopy-paused");
    /* The guest keeps running on the destination; never on the source. */
    st = qtest_runstate(p->dst);
    g_assert_cmpstr(st, ==, "running");
    g_free(st);
    st = qtest_runstate(p->src);
    g_assert_cmpstr(st, ==, "finish-migrate");
}

/* migrate-recover on the destination, migrate resume=true on the source. */
static void recover(Pair *p, const char *name)
{
    g_autofree char *path = tmp_path(name);
    g_autofree char *uri = unix_uri(path);

    qtest_qmp_assert_success(p->dst, "{'exec-oob': 'migrate-recover', "
                             "'arguments': {'uri': '%s'}}", uri);
    qtest_qmp_assert_success(p->src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': '%s', 'resume': true}}", uri);
    wait_for_migration_status(p->src, "postcopy-active");
    wait_for_migration_status(p->dst, "postcopy-active");
}

static int64_t query_int(QTestState *who, const char *member)
{
    g_autoptr(JsonNode) rsp = migrate_query(who);
    JsonObject *ret = qmp_rsp_return(rsp);

    return json_object_has_member(ret, member)
           ? json_object_get_int_member(ret, member) : -1;
}

/* The push at full speed, both complete, memory byte for byte. */
static void finish_and_check(Pair *p, int recoveries)
{
    g_autofree uint8_t *got = NULL;

    migrate_set_parameter_int(p->src, "max-postcopy-bandwidth", 0);
    wait_for_migration_complete(p->src);
    wait_for_migration_complete(p->dst);
    got = pmemsave_read(p->dst, DATA_START, DATA_LEN);
    g_assert_true(memcmp(got, p->pattern, DATA_LEN) == 0);
    g_assert_cmpint(query_int(p->src, "x-postcopy-recoveries"), ==,
                    recoveries);
    g_assert_cmpint(query_int(p->dst, "x-postcopy-recoveries"), ==,
                    recoveries);
    if (recoveries) {
        /* What was still missing went again, after the recovery. */
        g_assert_cmpint(query_int(p->src, "x-postcopy-pages-missing"), >, 0);
        g_assert_cmpint(query_int(p->dst, "x-postcopy-pages-after-recovery"),
                        >, 0);
    }
}

static void pair_finish(Pair *p)
{
    qtest_quit(p->src);
    qtest_quit(p->dst);
    unlink(p->pattern_file);
    g_free(p->pattern_file);
    g_free(p->pattern);
    g_free(p->sock);
    g_free(p->uri);
}

/* ---- the link broken on purpose ---- */

typedef struct PauseCase {
    const char *name;
    bool preempt;
    bool on_destination;
} PauseCase;

static const PauseCase pause_cases[] = {
    { "plain/src-pause", false, false },
    { "plain/dst-pause", false, true },
    { "preempt/src-pause", true, false },
    { "preempt/dst-pause", true, true },
};

static void test_pause_recover(const void *opaque)
{
    const PauseCase *c = opaque;
    Pair p = { 0 };

    if (!pair_start(&p, c->preempt, NULL)) {
        return;
    }
    qtest_qmp_assert_success(c->on_destination ? p.dst : p.src,
                             "{'exec-oob': 'migrate-pause'}");
    wait_status_event(p.src, "postcopy-paused");
    wait_status_event(p.dst, "postcopy-paused");
    expect_paused(&p);
    g_assert_nonnull(strstr(qtest_stderr(c->on_destination ? p.dst : p.src),
                            "migrate-pause"));
    recover(&p, "recover2.sock");
    /* QEMU's events: setup, then recover(-setup), then active again. */
    wait_status_event(p.src, "postcopy-recover-setup");
    wait_status_event(p.src, "postcopy-recover");
    wait_status_event(p.src, "postcopy-active");
    wait_status_event(p.dst, "setup");
    wait_status_event(p.dst, "postcopy-recover");
    wait_status_event(p.dst, "postcopy-active");
    finish_and_check(&p, 1);
    pair_finish(&p);
}

/* ---- the link cut under them (both sockets closed) ---- */

static void test_relay_cut(const void *opaque)
{
    bool preempt = GPOINTER_TO_INT(opaque);
    g_autofree char *via = tmp_path("relay.sock");
    g_autofree char *target = tmp_path("recover.sock");
    Relay *relay = relay_new(via, target);
    Pair p = { 0 };

    if (!pair_start(&p, preempt, via)) {
        relay_free(relay);
        return;
    }
    g_assert_cmpuint(relay_connections(relay), ==, preempt ? 2 : 1);
    relay_cut(relay);
    expect_paused(&p);
    recover(&p, "recover2.sock");
    /* And a second time, once more through a relay. */
    relay_free(relay);
    {
        g_autofree char *t3 = tmp_path("recover3.sock");
        g_autofree char *u3 = unix_uri(t3);
        g_autofree char *uv = unix_uri(via);

        relay = relay_new(via, t3);

        qtest_qmp_assert_success(p.src, "{'exec-oob': 'migrate-pause'}");
        expect_paused(&p);
        qtest_qmp_assert_success(p.dst, "{'exec-oob': 'migrate-recover', "
                                 "'arguments': {'uri': '%s'}}", u3);
        qtest_qmp_assert_success(p.src, "{'execute': 'migrate', "
                                 "'arguments': {'uri': '%s', "
                                 "'resume': true}}", uv);
        wait_for_migration_status(p.src, "postcopy-active");
        wait_for_migration_status(p.dst, "postcopy-active");
    }
    finish_and_check(&p, 2);
    pair_finish(&p);
    relay_free(relay);
}

/* ---- a second break during the handshake, then a good retry ---- */

static void test_break_in_handshake(const void *opaque)
{
    bool preempt = GPOINTER_TO_INT(opaque);
    g_autofree char *via = tmp_path("relay.sock");
    g_autofree char *target = tmp_path("recover2.sock");
    g_autofree char *uv = unix_uri(via);
    g_autofree char *ut = unix_uri(target);
    Relay *relay = relay_new(via, target);
    Pair p = { 0 };

    if (!pair_start(&p, preempt, NULL)) {
        relay_free(relay);
        return;
    }
    qtest_qmp_assert_success(p.src, "{'exec-oob': 'migrate-pause'}");
    expect_paused(&p);
    /*
     * The recovery's link breaks as soon as the handshake starts (the
     * first RECV_BITMAP is 9 bytes): both sides have reached
     * postcopy-recover, and go back to postcopy-paused.
     */
    relay_cut_after(relay, 6);
    qtest_qmp_assert_success(p.dst, "{'exec-oob': 'migrate-recover', "
                             "'arguments': {'uri': '%s'}}", ut);
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': '%s', 'resume': true}}", uv);
    wait_status_event(p.src, "postcopy-recover");
    wait_status_event(p.src, "postcopy-paused");
    wait_status_event(p.dst, "postcopy-recover");
    wait_status_event(p.dst, "postcopy-paused");
    expect_paused(&p);
    g_assert_nonnull(strstr(qtest_stderr(p.src), "recovery failed"));
    /* A second try, straight this time. */
    recover(&p, "recover3.sock");
    finish_and_check(&p, 1);
    pair_finish(&p);
    relay_free(relay);
}

/* ---- a resume to nowhere ---- */

static void test_resume_nowhere(void)
{
    g_autofree char *nowhere = tmp_path("nobody.sock");
    Pair p = { 0 };

    if (!pair_start(&p, false, NULL)) {
        return;
    }
    qtest_qmp_assert_success(p.src, "{'exec-oob': 'migrate-pause'}");
    expect_paused(&p);
    /* 10.x's sequence: recover-setup, then paused again. */
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': 'unix:%s', 'resume': true}}", nowhere);
    wait_status_event(p.src, "postcopy-recover-setup");
    wait_status_event(p.src, "postcopy-paused");
    expect_paused(&p);
    recover(&p, "recover2.sock");
    finish_and_check(&p, 1);
    pair_finish(&p);
}

/* ---- the destination's main loop stuck on a missing page ---- */

typedef struct Reader {
    QTestState *who;
    uint64_t addr;
    uint8_t value;
} Reader;

static gpointer read_byte(gpointer opaque)
{
    Reader *r = opaque;

    r->value = qtest_readb(r->who, r->addr);
    return NULL;
}

/* The destination's fault thread could not send the request. */
static bool request_unsent(void *opaque)
{
    g_autofree char *log = NULL;

    return g_file_get_contents(opaque, &log, NULL, NULL) &&
           strstr(log, "postcopy_request_unsent");
}

static void test_stuck_main_loop(void)
{
    g_autofree char *path = tmp_path("recover2.sock");
    g_autofree char *trace = tmp_path("stuck-trace.log");
    g_autofree char *extra = g_strdup_printf(
        "-trace enable=postcopy_request_unsent -D %s", trace);
    Reader r = { 0 };
    GThread *t;
    Pair p = { .dst_extra = extra };

    if (!pair_start(&p, false, NULL)) {
        return;
    }
    qtest_qmp_assert_success(p.src, "{'exec-oob': 'migrate-pause'}");
    expect_paused(&p);
    /*
     * The last page of the data has not come yet (a slow push): reading
     * it blocks the destination's main thread until it arrives.  Its
     * request cannot go out now, and must after the recovery.
     */
    r.who = p.dst;
    r.addr = DATA_START + DATA_LEN - 100;
    t = g_thread_new("reader", read_byte, &r);
    /* The fault happened, and its request had no link to go on. */
    g_assert_true(qtest_poll_until(request_unsent, trace, qtest_timeout()));
    /* Out of band, while in-band commands wait for the main loop. */
    qtest_qmp_assert_success(p.dst, "{'exec-oob': 'migrate-recover', "
                             "'arguments': {'uri': 'unix:%s'}}", path);
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': 'unix:%s', 'resume': true}}", path);
    wait_for_migration_status(p.src, "postcopy-active");
    g_thread_join(t);
    g_assert_cmphex(r.value, ==, p.pattern[DATA_LEN - 100]);
    wait_for_migration_status(p.dst, "postcopy-active");
    g_assert_cmpint(query_int(p.dst, "x-postcopy-requests-resent"), >=, 1);
    finish_and_check(&p, 1);
    pair_finish(&p);
    unlink(trace);
}

/* ---- refusals ---- */

static void expect_error(QTestState *who, const char *cmd, const char *msg)
{
    g_autoptr(JsonNode) rsp = qtest_qmp(who, "%s", cmd);

    g_assert_cmpstr(qmp_rsp_error_desc(rsp), ==, msg);
}

static void test_refusals(void)
{
    Pair p = { 0 };

    /* Before anything is paused (QEMU's messages). */
    if (!pair_start(&p, false, NULL)) {
        return;
    }
    expect_error(p.dst, "{'execute': 'migrate-recover', 'arguments': "
                 "{'uri': 'unix:/nonexistent/x'}}",
                 "Migrate recover can only be run when postcopy is paused.");
    expect_error(p.src, "{'execute': 'migrate', 'arguments': "
                 "{'uri': 'unix:/nonexistent/x', 'resume': true}}",
                 "Cannot resume if there is no paused migration");
    qtest_qmp_assert_success(p.src, "{'exec-oob': 'migrate-pause'}");
    expect_paused(&p);
    /* Paused: a second pause is refused on both sides. */
    expect_error(p.src, "{'execute': 'migrate-pause'}",
                 "migrate-pause is currently only supported during "
                 "postcopy-active state");
    expect_error(p.dst, "{'execute': 'migrate-pause'}",
                 "migrate-pause is currently only supported during "
                 "postcopy-active state");
    expect_error(p.src, "{'execute': 'migrate', 'arguments': "
                 "{'uri': 'bogus:x', 'resume': true}}",
                 "Parameter 'uri' expects a valid migration protocol");
    /* Giving up: cancelled, and the VM never comes back here. */
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate_cancel'}");
    wait_for_migration_status(p.src, "cancelled");
    {
        g_autofree char *st = qtest_runstate(p.src);

        g_assert_cmpstr(st, ==, "postmigrate");
    }
    pair_finish(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(pause_cases); i++) {
        g_autofree char *path = g_strdup_printf("/migration/recover/%s",
                                                pause_cases[i].name);
        g_test_add_data_func(path, &pause_cases[i], test_pause_recover);
    }
    g_test_add_data_func("/migration/recover/plain/relay-cut",
                         GINT_TO_POINTER(false), test_relay_cut);
    g_test_add_data_func("/migration/recover/preempt/relay-cut",
                         GINT_TO_POINTER(true), test_relay_cut);
    g_test_add_data_func("/migration/recover/plain/break-in-handshake",
                         GINT_TO_POINTER(false), test_break_in_handshake);
    g_test_add_data_func("/migration/recover/preempt/break-in-handshake",
                         GINT_TO_POINTER(true), test_break_in_handshake);
    g_test_add_func("/migration/recover/resume-nowhere", test_resume_nowhere);
    g_test_add_func("/migration/recover/stuck-main-loop",
                    test_stuck_main_loop);
    g_test_add_func("/migration/recover/refusals", test_refusals);
    return g_test_run();
}
