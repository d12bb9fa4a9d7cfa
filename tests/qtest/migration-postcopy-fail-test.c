/*
 * migration-postcopy-fail-test: what happens when postcopy goes wrong.
 *
 * - Before RUN nothing is lost: a migration cancelled while the source
 *   waits in pre-switchover (VM already stopped for the switch) resumes
 *   the source VM, the destination exits with status 1, and a second
 *   postcopy migration of the same VM then completes byte for byte.
 * - After RUN the source never resumes: bad page requests from the
 *   destination (unknown block, out of range, misaligned, no block named
 *   yet) fail the source with a message that says which check failed,
 *   and leave it in postmigrate, still answering QMP; a destination that
 *   closes the link pauses it instead (postcopy-paused), until cancelled.
 *   The destination is played by the test itself over a real socket, so
 *   that it can send what a correct destination never would.
 * - A request during precopy is refused, and the VM keeps running.
 * - A SHUT(0) before the stream ended fails the source (in precopy its
 *   VM keeps running).
 */
#include "migration-helpers.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM_MB 64

/* Return-path message types (spec §6). */
enum {
    RP_SHUT = 1,
    RP_REQ_PAGES_ID = 3,
    RP_REQ_PAGES = 4,
};

static char *tmp_path(const char *name)
{
    return g_strdup_printf("%s/%s-%d", qtest_tmpdir(), name, getpid());
}

static QTestState *start_source(void)
{
    /* (Its trace says when the package is out: package_out().) */
    QTestOptions o = { .capture_stderr = true };
    QTestState *src = qtest_init_opts(&o, "-name source -M none -m %dM "
                                      "-trace enable=postcopy_start_sent",
                                      RAM_MB);
    uint8_t buf[4096];

    /* Some data, so the memory check below means something. */
    for (uint64_t a = 0; a < (RAM_MB << 20); a += 1 << 20) {
        fill_pattern(buf, sizeof(buf), a >> 20);
        qtest_bufwrite(src, a + 0x800, buf, sizeof(buf));
    }
    migrate_set_capability(src, "events", true);
    migrate_set_capability(src, "postcopy-ram", true);
    return src;
}

static bool package_sent(void *opaque)
{
    return strstr(qtest_stderr(opaque), "postcopy_start_sent") != NULL;
}

/*
 * postcopy-active comes before the package is out (as in QEMU 7.2): a
 * request that arrives first fails the switch itself, and the VM runs
 * on here.  Waits until the package is out, after RUN on the wire.
 */
static void wait_package_sent(QTestState *src)
{
    wait_for_migration_status(src, "postcopy-active");
    g_assert_true(qtest_poll_until(package_sent, src, qtest_timeout()));
}

/* ---- cancel before RUN ---- */

static void test_cancel_before_run(void)
{
    g_autofree char *sock = tmp_path("pcf.sock");
    g_autofree char *sock2 = tmp_path("pcf2.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *uri2 = g_strdup_printf("unix:%s", sock2);
    QTestOptions o = { .capture_stderr = true };
    QTestState *src, *dst, *dst2;
    g_autofree char *st = NULL;
    g_autofree uint8_t *want = NULL, *got = NULL;
    int status;

    if (!have_userfaultfd()) {
        return;
    }
    src = start_source();
    dst = qtest_init_opts(&o, "-name target -M none -m %dM -incoming %s",
                          RAM_MB, uri);
    migrate_set_capability(dst, "postcopy-ram", true);
    migrate_set_capability(src, "pause-before-switchover", true);
    migrate_set_parameter_int(src, "max-bandwidth", 4 << 20);
    migrate_qmp(src, uri);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    /* The VM stops for the switch, then waits for migrate-continue. */
    qtest_qmp_eventwait(src, "STOP");
    wait_for_migration_status(src, "pre-switchover");
    qtest_qmp_assert_success(src, "{'execute': 'migrate_cancel'}");
    wait_for_migration_fail(src, true);
    st = migrate_query_status(src);
    g_assert_cmpstr(st, ==, "cancelled");
    qtest_qmp_eventwait(src, "RESUME");
    g_free(st);
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "running");

    /* The destination had not run anything: it fails and exits 1. */
    status = qtest_wait_exit(dst);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(qtest_stderr(dst), "load of migration failed"));
    qtest_kill(dst);

    /* The source is whole: migrate again, this time to the end. */
    want = pmemsave_read(src, 0, RAM_MB << 20);
    dst2 = qtest_init_opts(NULL, "-name target2 -M none -m %dM -incoming %s",
                           RAM_MB, uri2);
    migrate_set_capability(dst2, "postcopy-ram", true);
    migrate_set_capability(src, "pause-before-switchover", false);
    migrate_set_parameter_int(src, "max-bandwidth", 0);
    migrate_qmp(src, uri2);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst2);
    got = pmemsave_read(dst2, 0, RAM_MB << 20);
    g_assert_true(memcmp(got, want, RAM_MB << 20) == 0);
    qtest_quit(src);
    qtest_quit(dst2);
}

/* ---- a destination played by the test ---- */

typedef struct FakeDst {
    char *path;
    int lfd;
    int fd;
    GThread *drain;
    guint64 drained;    /* atomic */
} FakeDst;

/* Reads and discards the stream, so the source never blocks. */
static gpointer drain_thread(gpointer opaque)
{
    FakeDst *fd = opaque;
    char buf[65536];

    for (;;) {
        ssize_t n = read(fd->fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return NULL;
        }
        g_atomic_pointer_add(&fd->drained, n);
    }
}

static void fake_listen(FakeDst *d)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };

    d->path = tmp_path("fake-dst.sock");
    unlink(d->path);
    g_assert_cmpuint(strlen(d->path), <, sizeof(un.sun_path));
    strcpy(un.sun_path, d->path);
    d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(d->lfd, >=, 0);
    g_assert_cmpint(bind(d->lfd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    g_assert_cmpint(listen(d->lfd, 1), ==, 0);
    d->fd = -1;
}

static void fake_accept(FakeDst *d)
{
    struct pollfd pfd = { .fd = d->lfd, .events = POLLIN };

    g_assert_cmpint(poll(&pfd, 1, qtest_timeout() * 1000), ==, 1);
    d->fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(d->fd, >=, 0);
    d->drain = g_thread_new("drain", drain_thread, d);
}

static void fake_send(FakeDst *d, const uint8_t *buf, size_t len)
{
    g_assert_cmpint(write(d->fd, buf, len), ==, (ssize_t)len);
}

static void fake_close(FakeDst *d)
{
    if (d->fd >= 0) {
        shutdown(d->fd, SHUT_RDWR);
        g_thread_join(d->drain);
        close(d->fd);
    }
    close(d->lfd);
    unlink(d->path);
    g_free(d->path);
}

static size_t put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
    return 2;
}

static size_t put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, v >> 16);
    put_be16(p + 2, v);
    return 4;
}

static size_t put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, v >> 32);
    put_be32(p + 4, v);
    return 8;
}

/* One REQ_PAGES_ID (@block non-NULL) or REQ_PAGES message. */
static size_t rp_request(uint8_t *buf, const char *block, uint64_t start,
                         uint32_t len)
{
    size_t n = 4;

    n += put_be64(buf + n, start);
    n += put_be32(buf + n, len);
    if (block) {
        buf[n++] = strlen(block);
        memcpy(buf + n, block, strlen(block));
        n += strlen(block);
    }
    put_be16(buf, block ? RP_REQ_PAGES_ID : RP_REQ_PAGES);
    put_be16(buf + 2, n - 4);
    return n;
}

typedef struct BadRequest {
    const char *name;
    const char *block;      /* NULL: REQ_PAGES */
    uint64_t start;
    uint32_t len;
    bool in_postcopy;
    const char *expect;
} BadRequest;

static const BadRequest bad_requests[] = {
    { "unknown-block", "nosuch", 0, 4096, true,
      "page request for unknown block 'nosuch'" },
    { "out-of-range", "ram", (uint64_t)RAM_MB << 20, 4096, true,
      "overruns ram" },
    { "overrun", "ram", ((uint64_t)RAM_MB << 20) - 4096, 8192, true,
      "overruns ram" },
    { "huge-length", "ram", 4096, 0xfffff000u, true, "overruns ram" },
    { "misaligned", "ram", 0x123, 4096, true, "misaligned page request" },
    { "zero-length", "ram", 0, 0, true, "misaligned page request" },
    { "no-block-named", NULL, 0, 4096, true,
      "REQ_PAGES without a previous REQ_PAGES_ID" },
    { "during-precopy", "ram", 0, 4096, false,
      "page request outside postcopy" },
};

/*
 * A source migrating to the fake destination @d, in postcopy (after
 * RUN) if @in_postcopy, else in precopy.
 */
static QTestState *start_against_fake(FakeDst *d, bool in_postcopy)
{
    QTestState *src = start_source();
    g_autofree char *uri = NULL;

    fake_listen(d);
    uri = g_strdup_printf("unix:%s", d->path);
    /* Slow both ways: the stream must not end before the test acts. */
    migrate_set_parameter_int(src, "max-bandwidth", 1 << 20);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 1 << 20);
    migrate_qmp(src, uri);
    fake_accept(d);
    wait_for_migration_status(src, "active");
    if (in_postcopy) {
        qtest_qmp_assert_success(src,
                                 "{'execute': 'migrate-start-postcopy'}");
        wait_package_sent(src);
    }
    return src;
}

/*
 * The source failed saying @expect; after RUN the VM must not come back
 * there, before it must.  Ends the source and @d.
 */
static void expect_source_failed(QTestState *src, FakeDst *d,
                                 bool in_postcopy, const char *expect)
{
    g_autoptr(JsonNode) info = NULL;
    g_autofree char *st = NULL;
    const char *desc;

    wait_for_migration_fail(src, false);
    info = migrate_query(src);
    desc = json_object_get_string_member(qmp_rsp_return(info),
                                         "error-desc");
    g_test_message("error-desc: %s", desc);
    g_assert_nonnull(strstr(desc, expect));
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, in_postcopy ? "postmigrate" : "running");
    fake_close(d);
    qtest_quit(src);
}

static void test_bad_request(const void *opaque)
{
    const BadRequest *b = opaque;
    FakeDst d = { 0 };
    QTestState *src = start_against_fake(&d, b->in_postcopy);
    uint8_t msg[300];

    fake_send(&d, msg, rp_request(msg, b->block, b->start, b->len));
    expect_source_failed(src, &d, b->in_postcopy, b->expect);
}

/*
 * SHUT(0) says "I loaded it all": before the stream ended it is a lie
 * (or a bug), not a success.  The source fails; in precopy its VM runs
 * on, after RUN it stays stopped (the destination may run it).
 */
static void test_early_shut(const void *opaque)
{
    bool in_postcopy = GPOINTER_TO_INT(opaque);
    FakeDst d = { 0 };
    QTestState *src = start_against_fake(&d, in_postcopy);
    uint8_t msg[8];

    put_be16(msg, RP_SHUT);
    put_be16(msg + 2, 4);
    put_be32(msg + 4, 0);
    fake_send(&d, msg, sizeof(msg));
    expect_source_failed(src, &d, in_postcopy,
                         "said SHUT(0) before the stream ended");
}

/* A good request in postcopy is served: the page comes first. */
static void test_good_request(void)
{
    g_autofree char *uri = NULL;
    g_autoptr(JsonNode) info = NULL;
    g_autofree char *st = NULL;
    FakeDst d = { 0 };
    QTestState *src;
    uint8_t msg[300];
    JsonObject *ram;

    src = start_source();
    fake_listen(&d);
    uri = g_strdup_printf("unix:%s", d.path);
    migrate_set_parameter_int(src, "max-bandwidth", 1 << 20);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 1 << 20);
    migrate_qmp(src, uri);
    fake_accept(&d);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    wait_package_sent(src);
    fake_send(&d, msg, rp_request(msg, "ram", 32 << 20, 4096));
    fake_send(&d, msg, rp_request(msg, NULL, 48 << 20, 8192));
    for (;;) {
        g_autoptr(JsonNode) q = migrate_query(src);
        JsonObject *r = qmp_rsp_return(q);

        g_assert_cmpstr(json_object_get_string_member(r, "status"), ==,
                        "postcopy-active");
        if (json_object_get_int_member(json_object_get_object_member(
                    r, "ram"), "postcopy-requests") == 2) {
            break;
        }
        poll(NULL, 0, 1);
    }
    info = migrate_query(src);
    ram = json_object_get_object_member(qmp_rsp_return(info), "ram");
    g_assert_cmpint(json_object_get_int_member(ram, "postcopy-bytes"), >,
                    0);
    fake_close(&d);
    /*
     * The link broke after RUN: paused, waiting for a recovery, and the
     * VM stays stopped here (the destination may be running it).
     */
    wait_for_migration_status(src, "postcopy-paused");
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "finish-migrate");
    /* Giving up is the operator's call: cancelled, never resumed here. */
    qtest_qmp_assert_success(src, "{'execute': 'migrate_cancel'}");
    wait_for_migration_status(src, "cancelled");
    g_free(st);
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "postmigrate");
    qtest_quit(src);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/postcopy/fail/cancel-before-run",
                    test_cancel_before_run);
    g_test_add_func("/migration/postcopy/fail/request/good",
                    test_good_request);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_requests); i++) {
        g_autofree char *path = g_strdup_printf("/migration/postcopy/fail/"
                                                "request/%s",
                                                bad_requests[i].name);
        g_test_add_data_func(path, &bad_requests[i], test_bad_request);
    }
    g_test_add_data_func("/migration/postcopy/fail/early-shut/precopy",
                         GINT_TO_POINTER(false), test_early_shut);
    g_test_add_data_func("/migration/postcopy/fail/early-shut/postcopy",
                         GINT_TO_POINTER(true), test_early_shut);
    return g_test_run();
}
