/*
 * migration-tls-test: migration over TLS between ferry processes, with
 * QEMU 7.2's behaviour (spec multifd-and-tls.md, section B) as the
 * reference.
 *
 * Every migration goes through a sniffer inside the test (see
 * migration-tls-helpers.h), so a success proves more than equal memory:
 * every connection — main stream with its return path, preempt channel,
 * each recovery reconnection — was TLS records from its first byte to its
 * last, and samples of the guest's memory never crossed in clear.  The
 * guest holds 32 MiB of pseudo-random data ("-device loader") and the
 * destination's RAM is compared with the source's and with the pattern,
 * byte for byte (QMP pmemsave).
 *
 * - x509: precopy over tcp (the server certificate matched against the
 *   URI's 127.0.0.1) and over unix (tls-hostname=localhost); postcopy,
 *   postcopy-preempt, and postcopy recovery after a cut link and after
 *   migrate-pause — the recovery listener refusing a plain connection.
 * - PSK: precopy (default identity "qemu", and "alice") and postcopy.
 * - Credential objects on the command line and with object-add, their
 *   creation errors, object-del; query-migrate-parameters.
 * - Refusals (spec B.8), each with both sides' errors, the source's VM
 *   still running, and where 7.2's destination stays listening, a correct
 *   migration to it afterwards.
 *
 * With QTEST_TLS_REFERENCE=1 every VM is QEMU 7.2 ($QTEST_QEMU_BINARY)
 * instead of ferry: the expectations here are then checked against the
 * reference itself.
 */
#include "migration-tls-helpers.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM_MB      64
#define RAM_SIZE    ((size_t)RAM_MB << 20)
#define PAT_ADDR    0x100000
#define PAT_LEN     (32u << 20)

static bool reference;      /* QTEST_TLS_REFERENCE: every VM is QEMU 7.2 */

static char *tmp_path(const char *name)
{
    static unsigned n;

    return g_strdup_printf("%s/%s-%d-%u", qtest_tmpdir(), name, getpid(),
                           n++);
}

static QTestState *vm_start(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static QTestState *vm_start(const char *fmt, ...)
{
    QTestOptions o = { .capture_stderr = true, .no_qtest = reference };
    g_autofree char *args = NULL;
    QTestState *q;
    va_list ap;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    o.binary = reference ? qtest_qemu_binary() : NULL;
    q = qtest_init_opts(&o, "-M none -m %dM -nodefaults -display none %s",
                        RAM_MB, args);
    migrate_set_capability(q, "events", true);
    return q;
}

/* ---- the two ends ---- */

typedef struct Source {
    QTestState *qts;
    char *pattern_file;
    uint8_t *pattern;
} Source;

typedef struct Dest {
    QTestState *qts;
    Sniff *sniff;
    const char *uri;        /* the sniffer's: where the source migrates */
    unsigned first;         /* the first connection of this attempt */
    bool gone;              /* exited */
} Dest;

static void source_start(Source *s, const char *extra)
{
    s->pattern_file = make_pattern_file(PAT_LEN, 41);
    g_assert_true(g_file_get_contents(s->pattern_file, (char **)&s->pattern,
                                      NULL, NULL));
    s->qts = vm_start("-name source -device loader,file=%s,addr=0x%x %s",
                      s->pattern_file, PAT_ADDR, extra ? extra : "");
}

static void source_free(Source *s)
{
    qtest_quit(s->qts);
    unlink(s->pattern_file);
    g_free(s->pattern_file);
    g_free(s->pattern);
}

static void dest_start(Dest *d, const char *extra)
{
    d->qts = vm_start("-name target -incoming defer %s", extra ? extra : "");
}

/*
 * migrate-incoming on @how ("tcp": 127.0.0.1, a free port; "unix"), a
 * sniffer in front.
 */
static void dest_listen(Dest *d, const char *how)
{
    g_autofree char *path = tmp_path("tls.sock");
    g_autofree char *uri = g_str_equal(how, "tcp")
                           ? g_strdup("tcp:127.0.0.1:0")
                           : g_strdup_printf("unix:%s", path);
    g_autofree char *real = NULL;

    qtest_qmp_assert_success(d->qts, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': '%s'}}", uri);
    real = migrate_listen_uri(d->qts);
    d->sniff = sniff_new(real);
    d->uri = sniff_uri(d->sniff);
}

static void dest_free(Dest *d)
{
    if (d->gone) {
        qtest_kill(d->qts);
    } else {
        qtest_quit(d->qts);
    }
    if (d->sniff) {
        sniff_free(d->sniff);
    }
}

static void migrate_to(Source *s, Dest *d)
{
    d->first = sniff_connections(d->sniff);
    migrate_qmp(s->qts, d->uri);
}

/* ---- checks ---- */

/* Both ends completed, over @conns TLS connections; memory compared. */
static void check_completed(Source *s, Dest *d, unsigned conns)
{
    wait_for_migration_complete(s->qts);
    wait_for_migration_complete(d->qts);
    assert_runstate(s->qts, "postmigrate");
    assert_runstate(d->qts, "running");
    check_same_memory(s->qts, d->qts, RAM_SIZE, PAT_ADDR, s->pattern,
                      PAT_LEN);
    sniff_check_attempt(d->sniff, d->first, conns, s->pattern, PAT_LEN);
}

/*
 * The source's migration failed with @desc (one of the NULL-terminated
 * alternatives), and its VM runs on.
 */
static void expect_src_failed(Source *s, const char *const *desc)
{
    g_autofree char *got = NULL, *st = wait_for_migration_end(s->qts);
    bool ok = false;

    if (!g_str_equal(st, "failed")) {
        g_test_message("the source's migration %s instead of failing", st);
        qtest_dump_stderr_all();
    }
    g_assert_cmpstr(st, ==, "failed");
    got = migrate_error_desc(s->qts);
    g_test_message("source: %s", got);
    for (; got && *desc && !ok; desc++) {
        ok = g_str_equal(got, *desc);
    }
    if (!ok) {
        g_test_message("source error-desc '%s' is not QEMU 7.2's", got);
        qtest_dump_stderr_all();
    }
    g_assert_true(ok);
    assert_runstate(s->qts, "running");
}

#define SRC_FAILED(s, ...) \
    expect_src_failed((s), (const char *const[]){ __VA_ARGS__, NULL })

/*
 * The destination said @msg (after stderr byte @mark) and, like 7.2's,
 * keeps listening with no migration status.
 */
static void expect_dst_stays(Dest *d, size_t mark, const char *msg)
{
    g_autofree char *st = NULL;

    wait_for_stderr_from(d->qts, mark, msg);
    st = migrate_query_status(d->qts);
    g_assert_cmpstr(st, ==, "none");
    assert_runstate(d->qts, "inmigrate");
}

/* The destination said each of @msgs and exited with status 1. */
static void expect_dst_exits(Dest *d, const char *const *msgs)
{
    wait_for_exit_code(d->qts, 1);
    d->gone = true;
    for (; *msgs; msgs++) {
        bool has = strstr(qtest_stderr(d->qts), *msgs) != NULL;

        if (!has) {
            g_test_message("destination stderr lacks '%s':\n%s", *msgs,
                           qtest_stderr(d->qts));
        }
        g_assert_true(has);
    }
}

#define DST_EXITS(d, ...) \
    expect_dst_exits((d), (const char *const[]){ __VA_ARGS__, NULL })

/* What a 7.2 destination says when its client gave up after the handshake */
#define DST_DEAD_CLIENT "Cannot read from TLS channel", \
                        "load of migration failed"
/* What a 7.2 source says when the server refused it after the handshake */
#define SRC_REFUSED_LATE "Cannot write to TLS channel: Input/output error"

/* Both ends with x509 credentials "tls0" made with object-add. */
static void x509_pair(Source *s, Dest *d, const char *src_dir,
                      const char *dst_dir, const char *hostname)
{
    source_start(s, NULL);
    dest_start(d, NULL);
    tls_creds_add_ok(s->qts, "tls-creds-x509", "tls0", src_dir, "client",
                     NULL);
    tls_creds_add_ok(d->qts, "tls-creds-x509", "tls0", dst_dir, "server",
                     NULL);
    migrate_set_tls(s->qts, "tls0", hostname, NULL);
    migrate_set_tls(d->qts, "tls0", NULL, NULL);
}

/* ---- x509 precopy ---- */

/* Objects on the command line, the host of the URI, a return path. */
static void test_x509_precopy_tcp(void)
{
    g_autofree char *so = NULL, *dob = NULL;
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    so = tls_x509_arg("tls0", "client", "client", NULL);
    dob = tls_x509_arg("tls0", "server", "server", NULL);
    source_start(&s, so);
    dest_start(&d, dob);
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_set_tls(d.qts, "tls0", NULL, NULL);
    migrate_set_capability(s.qts, "return-path", true);
    migrate_set_capability(d.qts, "return-path", true);
    dest_listen(&d, "tcp");
    migrate_set_parameter_int(s.qts, "max-bandwidth", 0);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

/* object-add; unix: the name comes from tls-hostname. */
static void test_x509_precopy_unix(void)
{
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", "localhost");
    dest_listen(&d, "unix");
    migrate_set_parameter_int(s.qts, "max-bandwidth", 0);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

/* ---- postcopy ---- */

static void set_postcopy(Source *s, Dest *d, bool preempt)
{
    for (int i = 0; i < 2; i++) {
        QTestState *q = i ? d->qts : s->qts;

        migrate_set_capability(q, "postcopy-ram", true);
        if (preempt) {
            migrate_set_capability(q, "postcopy-preempt", true);
        }
    }
}

/* Reads pages far ahead of the push: they are asked for, and must match. */
static void read_ahead(Source *s, Dest *d, unsigned seed)
{
    read_pages_ahead(d->qts, PAT_ADDR, s->pattern, PAT_LEN, 8, seed);
}

/* Migrates, switches to postcopy at once, pushes slowly, reads ahead. */
static void postcopy_start(Source *s, Dest *d)
{
    migrate_set_parameter_int(s->qts, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(s->qts, "max-postcopy-bandwidth", 4 << 20);
    migrate_to(s, d);
    qtest_qmp_assert_success(s->qts, "{'execute': 'migrate-start-postcopy'}");
    qtest_qmp_eventwait(s->qts, "STOP");
    qtest_qmp_eventwait(d->qts, "RESUME");
    wait_for_migration_status(s->qts, "postcopy-active");
    wait_for_migration_status(d->qts, "postcopy-active");
    read_ahead(s, d, 0);
}

static void postcopy_finish(Source *s, Dest *d, unsigned conns)
{
    g_autoptr(JsonNode) info = NULL;

    migrate_set_parameter_int(s->qts, "max-postcopy-bandwidth", 0);
    check_completed(s, d, conns);
    info = migrate_query(s->qts);
    g_assert_cmpint(json_object_get_int_member(
                        json_object_get_object_member(qmp_rsp_return(info),
                                                      "ram"),
                        "postcopy-requests"), >, 0);
}

static void test_x509_postcopy(const void *opaque)
{
    bool preempt = GPOINTER_TO_INT(opaque);
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs() || !have_userfaultfd()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    set_postcopy(&s, &d, preempt);
    dest_listen(&d, "tcp");
    postcopy_start(&s, &d);
    /* 7.2: the preempt channel has its own handshake. */
    postcopy_finish(&s, &d, preempt ? 2 : 1);
    source_free(&s);
    dest_free(&d);
}

/* ---- postcopy recovery ---- */

/* Connects to the unix socket @path, sends @data in clear, closes. */
static void plain_poke(const char *path, const void *data, size_t len)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpuint(strlen(path), <, sizeof(un.sun_path));
    strcpy(un.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    g_assert_cmpint(send(fd, data, len, MSG_NOSIGNAL), ==, (ssize_t)len);
    close(fd);
}

typedef struct RecoverCase {
    bool preempt;
    bool cut;               /* cut the link, else migrate-pause */
} RecoverCase;

static void test_x509_recover(const void *opaque)
{
    const RecoverCase *c = opaque;
    g_autofree char *path = tmp_path("tls-recover.sock");
    g_autofree char *st = NULL, *uri = NULL;
    static const char qevm[] = "QEVM\0\0\0\3\1\0\0\0\0\0\0\0";
    unsigned conns = c->preempt ? 2 : 1;
    Sniff *again;
    size_t mark;
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs() || !have_userfaultfd()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", "localhost");
    set_postcopy(&s, &d, c->preempt);
    dest_listen(&d, "unix");
    postcopy_start(&s, &d);
    g_assert_cmpuint(sniff_connections(d.sniff), ==, conns);
    if (c->cut) {
        sniff_cut(d.sniff);
    } else {
        qtest_qmp_assert_success(s.qts, "{'execute': 'migrate-pause'}");
    }
    wait_for_migration_status(s.qts, "postcopy-paused");
    wait_for_migration_status(d.qts, "postcopy-paused");
    assert_runstate(d.qts, "running");

    /* The recovery listener is TLS too: a plain stream is refused. */
    qtest_qmp_assert_success(d.qts, "{'execute': 'migrate-recover', "
                             "'arguments': {'uri': 'unix:%s'}}", path);
    mark = stderr_mark(d.qts);
    plain_poke(path, qevm, sizeof(qevm) - 1);
    wait_for_stderr_from(d.qts, mark, "TLS handshake failed: An unexpected "
                         "TLS packet was received.");
    st = migrate_query_status(d.qts);
    g_assert_cmpstr(st, ==, "postcopy-paused");

    uri = g_strdup_printf("unix:%s", path);
    again = sniff_new(uri);
    qtest_qmp_assert_success(s.qts, "{'execute': 'migrate', 'arguments': "
                             "{'uri': '%s', 'resume': true}}",
                             sniff_uri(again));
    wait_for_migration_status(s.qts, "postcopy-active");
    wait_for_migration_status(d.qts, "postcopy-active");
    read_ahead(&s, &d, 100);
    /* Every connection of the first link was TLS, up to the break. */
    for (unsigned i = 0; i < conns; i++) {
        sniff_assert_tls(d.sniff, i);
    }
    sniff_assert_hidden(d.sniff, 0, s.pattern, PAT_LEN);
    sniff_free(d.sniff);
    d.sniff = again;
    d.first = 0;
    postcopy_finish(&s, &d, conns);
    source_free(&s);
    dest_free(&d);
}

/* ---- PSK ---- */

/* The identity travels in clear in the ClientHello (B.1). */
static void check_identity(Sniff *sniff, unsigned conn, const char *name)
{
    g_autoptr(GBytes) hello = sniff_upstream(sniff, conn, 2048);
    gsize len;
    const void *p = g_bytes_get_data(hello, &len);

    g_assert_nonnull(memmem(p, len, name, strlen(name)));
}

/* Objects on the command line, the default identity "qemu", tcp. */
static void test_psk_precopy_tcp(void)
{
    g_autofree char *so = NULL, *dob = NULL;
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    so = tls_psk_arg("tls0", "psk-client", "client", NULL);
    dob = tls_psk_arg("tls0", "psk-server", "server", NULL);
    source_start(&s, so);
    dest_start(&d, dob);
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_set_tls(d.qts, "tls0", NULL, NULL);
    dest_listen(&d, "tcp");
    migrate_set_parameter_int(s.qts, "max-bandwidth", 0);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    check_identity(d.sniff, 0, "qemu");
    source_free(&s);
    dest_free(&d);
}

/*
 * object-add with username=alice, over unix without tls-hostname (PSK
 * does not use it), and tls-authz ignored by PSK (B.2).
 */
static void test_psk_precopy_unix(void)
{
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    source_start(&s, NULL);
    dest_start(&d, NULL);
    tls_creds_add_ok(s.qts, "tls-creds-psk", "tls0", "psk-client", "client",
                     ", 'username': 'alice'");
    tls_creds_add_ok(d.qts, "tls-creds-psk", "tls0", "psk-server", "server",
                     NULL);
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_set_tls(d.qts, "tls0", NULL, "nosuch");
    dest_listen(&d, "unix");
    migrate_set_parameter_int(s.qts, "max-bandwidth", 0);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    check_identity(d.sniff, 0, "alice");
    source_free(&s);
    dest_free(&d);
}

static void test_psk_postcopy(void)
{
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs() || !have_userfaultfd()) {
        return;
    }
    source_start(&s, NULL);
    dest_start(&d, NULL);
    tls_creds_add_ok(s.qts, "tls-creds-psk", "tls0", "psk-client", "client",
                     NULL);
    tls_creds_add_ok(d.qts, "tls-creds-psk", "tls0", "psk-server", "server",
                     NULL);
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_set_tls(d.qts, "tls0", NULL, NULL);
    set_postcopy(&s, &d, false);
    dest_listen(&d, "unix");
    postcopy_start(&s, &d);
    postcopy_finish(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

/* ---- objects and parameters ---- */

static void expect_add_error(QTestState *q, const char *type,
                             const char *dir, const char *endpoint,
                             const char *extra, const char *msg)
{
    g_autoptr(JsonNode) rsp = tls_creds_add(q, type, "bad", dir, endpoint,
                                            extra);

    g_assert_cmpstr(qmp_rsp_error_desc(rsp), ==, msg);
}

static void expect_qmp_error(QTestState *q, const char *cmd, const char *msg)
{
    g_autoptr(JsonNode) rsp = qtest_qmp(q, "%s", cmd);

    g_assert_cmpstr(qmp_rsp_error_desc(rsp), ==, msg);
}

/*
 * Runs the binary with @obj on its command line; it must exit with
 * status 1 within the deadline, saying @msg.
 */
static void expect_cmdline_error(const char *obj, const char *msg)
{
    const char *argv[] = { reference ? qtest_qemu_binary()
                                     : qtest_ferry_binary(),
                           "-M", "none", "-nodefaults", "-display", "none",
                           "-object", obj, NULL };
    g_autoptr(GString) err = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() +
                      qtest_timeout() * G_USEC_PER_SEC;
    GError *gerr = NULL;
    GPid pid;
    int efd, status;

    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD |
                                           G_SPAWN_STDOUT_TO_DEV_NULL,
                                           NULL, NULL, &pid, NULL, NULL,
                                           &efd, &gerr));
    for (;;) {
        struct pollfd p = { .fd = efd, .events = POLLIN };
        char buf[1024];
        ssize_t n;

        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            g_test_message("%s -object %s did not exit", argv[0], obj);
            g_assert_not_reached();
        }
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        n = read(efd, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        g_string_append_len(err, buf, n);
    }
    close(efd);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_test_message("-object %s: %s", obj, err->str);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err->str, msg));
}

static void test_object_errors(void)
{
    g_autofree char *client = NULL, *psk = NULL, *other = NULL;
    g_autofree char *msg = NULL, *arg = NULL;
    QTestState *q;

    if (!tls_test_certs()) {
        return;
    }
    client = tls_test_dir("client");
    psk = tls_test_dir("psk-client");
    other = tls_test_dir("client-othercert");
    q = vm_start("%s", "");
    expect_add_error(q, "tls-creds-x509", "server", "sideways", NULL,
                     "Parameter 'endpoint' does not accept value "
                     "'sideways'");
    expect_qmp_error(q, "{'execute': 'object-add', 'arguments': "
                     "{'qom-type': 'tls-creds-x509', 'id': 'bad', "
                     "'endpoint': 'client'}}",
                     "Missing 'dir' property value");
    msg = g_strdup_printf("Unable to access credentials %s/server-cert.pem: "
                          "No such file or directory", client);
    expect_add_error(q, "tls-creds-x509", "client", "server", NULL, msg);
    g_free(msg);
    msg = g_strdup_printf("Our own certificate %s/client-cert.pem failed "
                          "validation against %s/ca-cert.pem: The "
                          "certificate hasn't got a known issuer", other,
                          other);
    expect_add_error(q, "tls-creds-x509", "client-othercert", "client", NULL,
                     msg);
    g_free(msg);
    expect_add_error(q, "tls-creds-psk", "psk-server", "server",
                     ", 'username': 'alice'",
                     "username should not be set when endpoint=server");
    msg = g_strdup_printf("Username bob not found in PSK file %s/keys.psk",
                          psk);
    expect_add_error(q, "tls-creds-psk", "psk-client", "client",
                     ", 'username': 'bob'", msg);
    expect_qmp_error(q, "{'execute': 'object-add', 'arguments': "
                     "{'qom-type': 'authz-simple', 'id': 'bad'}}",
                     "Parameter 'identity' is missing");
    /* None of them was left behind: the id is free. */
    tls_creds_add_ok(q, "tls-creds-x509", "bad", "client", "client", NULL);
    expect_add_error(q, "tls-creds-x509", "client", "client", NULL,
                     "attempt to add duplicate property 'bad' to object "
                     "(type 'container')");
    tls_object_del(q, "bad");
    expect_qmp_error(q, "{'execute': 'object-del', 'arguments': "
                     "{'id': 'bad'}}", "object 'bad' not found");
    qtest_quit(q);

    /* The same on the command line: the process exits 1. */
    arg = g_strdup_printf("tls-creds-x509,id=t,dir=%s,endpoint=sideways",
                          client);
    expect_cmdline_error(arg, "Parameter 'endpoint' does not accept value "
                         "'sideways'");
    g_free(arg);
    arg = g_strdup_printf("tls-creds-x509,id=t,dir=%s,endpoint=server",
                          client);
    expect_cmdline_error(arg, "server-cert.pem: No such file or directory");
    expect_cmdline_error("authz-simple,id=a",
                         "Parameter 'identity' is missing");
}

/*
 * object-del of the credentials: the next migration does not find them
 * (the destination stays), object-add again and it works.
 */
static void test_object_del(void)
{
    Source s = { 0 };
    Dest d = { 0 };
    size_t mark;

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    dest_listen(&d, "tcp");
    tls_object_del(s.qts, "tls0");
    mark = stderr_mark(d.qts);
    migrate_to(&s, &d);
    SRC_FAILED(&s, "No TLS credentials with id 'tls0'");
    expect_dst_stays(&d, mark, "TLS handshake failed: The TLS connection "
                     "was non-properly terminated.");
    tls_creds_add_ok(s.qts, "tls-creds-x509", "tls0", "client", "client",
                     NULL);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

static void expect_tls_params(QTestState *q, const char *creds,
                              const char *hostname, const char *authz)
{
    g_autoptr(JsonNode) rsp = qtest_qmp(q, "{'execute': "
                                        "'query-migrate-parameters'}");
    JsonObject *p = qmp_rsp_return(rsp);

    g_assert_cmpstr(json_object_get_string_member(p, "tls-creds"), ==,
                    creds);
    g_assert_cmpstr(json_object_get_string_member(p, "tls-hostname"), ==,
                    hostname);
    g_assert_cmpstr(json_object_get_string_member(p, "tls-authz"), ==,
                    authz);
}

/* As 7.2 shows them: "" when unset, null turns back into "". */
static void test_parameters(void)
{
    QTestState *q = vm_start("%s", "");

    expect_tls_params(q, "", "", "");
    /* Not checked when set (7.2 accepts any id here). */
    migrate_set_tls(q, "nosuch", "otherhost.example", "authz0");
    expect_tls_params(q, "nosuch", "otherhost.example", "authz0");
    migrate_set_tls(q, "null", "null", "null");
    expect_tls_params(q, "", "", "");
    migrate_set_tls(q, "tls0", "h", "a");
    migrate_set_tls(q, "", "", "");
    expect_tls_params(q, "", "", "");
    qtest_quit(q);
}

/* ---- refusals: the destination exits (B.8) ---- */

/*
 * The client does not trust the server's CA (client-wrongca: that CA
 * only, and no client certificate).  A destination checking its peer also
 * refuses the missing certificate and stays; one with verify-peer=off
 * only sees its client give up, and exits.  Then the first one takes a
 * good migration.
 */
static void test_refuse_unknown_ca(void)
{
    Source s = { 0 };
    Dest d = { 0 }, d2 = { 0 };
    size_t mark;

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    tls_creds_add_ok(s.qts, "tls-creds-x509", "wrongca", "client-wrongca",
                     "client", NULL);
    migrate_set_tls(s.qts, "wrongca", NULL, NULL);
    dest_listen(&d, "tcp");
    mark = stderr_mark(d.qts);
    migrate_to(&s, &d);
    SRC_FAILED(&s, "The certificate hasn't got a known issuer");
    expect_dst_stays(&d, mark, "Verify failed: No certificate was found.");

    dest_start(&d2, NULL);
    tls_creds_add_ok(d2.qts, "tls-creds-x509", "tls0", "server", "server",
                     ", 'verify-peer': false");
    migrate_set_tls(d2.qts, "tls0", NULL, NULL);
    dest_listen(&d2, "tcp");
    migrate_to(&s, &d2);
    SRC_FAILED(&s, "The certificate hasn't got a known issuer");
    DST_EXITS(&d2, DST_DEAD_CLIENT);

    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
    dest_free(&d2);
}

/*
 * A certificate for otherhost.example against the URI's 127.0.0.1, then
 * a new destination with tls-hostname=otherhost.example: it works.
 */
static void test_refuse_otherhost(void)
{
    Source s = { 0 };
    Dest d = { 0 }, d2 = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server-otherhost", NULL);
    dest_listen(&d, "tcp");
    migrate_to(&s, &d);
    SRC_FAILED(&s, "Certificate does not match the hostname 127.0.0.1");
    DST_EXITS(&d, DST_DEAD_CLIENT);

    dest_start(&d2, NULL);
    tls_creds_add_ok(d2.qts, "tls-creds-x509", "tls0", "server-otherhost",
                     "server", NULL);
    migrate_set_tls(d2.qts, "tls0", NULL, NULL);
    migrate_set_tls(s.qts, NULL, "otherhost.example", NULL);
    dest_listen(&d2, "tcp");
    migrate_to(&s, &d2);
    check_completed(&s, &d2, 1);
    source_free(&s);
    dest_free(&d);
    dest_free(&d2);
}

/*
 * An expired server certificate: refused when the object is made (7.2's
 * sanity check); with sanity-check=off, the client refuses it, and the
 * destination sees its client go away.
 */
static void test_refuse_expired(void)
{
    g_autofree char *dir = NULL, *msg = NULL;
    g_autoptr(JsonNode) rsp = NULL;
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    dir = tls_test_dir("server-expired");
    source_start(&s, NULL);
    dest_start(&d, NULL);
    rsp = tls_creds_add(d.qts, "tls-creds-x509", "tls0", "server-expired",
                        "server", NULL);
    msg = g_strdup_printf("The server certificate %s/server-cert.pem has "
                          "expired",
                          dir);
    g_assert_cmpstr(qmp_rsp_error_desc(rsp), ==, msg);
    tls_creds_add_ok(d.qts, "tls-creds-x509", "tls0", "server-expired",
                     "server", ", 'sanity-check': false");
    tls_creds_add_ok(s.qts, "tls-creds-x509", "tls0", "client", "client",
                     NULL);
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_set_tls(d.qts, "tls0", NULL, NULL);
    dest_listen(&d, "tcp");
    migrate_to(&s, &d);
    /* GnuTLS's chain check flags it (invalid + expired) before 7.2's own. */
    SRC_FAILED(&s, "The certificate is not trusted");
    DST_EXITS(&d, DST_DEAD_CLIENT);
    source_free(&s);
    dest_free(&d);
}

/* unix: without tls-hostname there is no name to check; with it, fine. */
static void test_refuse_unix_no_hostname(void)
{
    Source s = { 0 };
    Dest d = { 0 }, d2 = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    dest_listen(&d, "unix");
    migrate_to(&s, &d);
    SRC_FAILED(&s, "No hostname for certificate validation");
    DST_EXITS(&d, DST_DEAD_CLIENT);

    dest_start(&d2, NULL);
    tls_creds_add_ok(d2.qts, "tls-creds-x509", "tls0", "server", "server",
                     NULL);
    migrate_set_tls(d2.qts, "tls0", NULL, NULL);
    migrate_set_tls(s.qts, NULL, "localhost", NULL);
    dest_listen(&d2, "unix");
    migrate_to(&s, &d2);
    check_completed(&s, &d2, 1);
    source_free(&s);
    dest_free(&d);
    dest_free(&d2);
}

/* TLS on the source only: the destination reads the ClientHello. */
static void test_refuse_tls_source_only(void)
{
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    migrate_set_tls(d.qts, "", NULL, NULL);
    dest_listen(&d, "tcp");
    migrate_to(&s, &d);
    SRC_FAILED(&s, "TLS handshake failed: The TLS connection was "
               "non-properly terminated.");
    DST_EXITS(&d, "Not a migration stream", "load of migration failed");
    source_free(&s);
    dest_free(&d);
}

/* ---- refusals: the destination stays, and then takes a good one ---- */

/*
 * Client certificates the server does not accept: none, and one from
 * another CA (made with sanity-check=off, as its own check refuses it).
 */
static void test_refuse_client_cert(void)
{
    static const char *const dirs[] = { "client-nocert",
                                        "client-othercert" };
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    dest_listen(&d, "tcp");
    for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *id = g_strdup_printf("bad%zu", i);
        size_t mark = stderr_mark(d.qts);

        tls_creds_add_ok(s.qts, "tls-creds-x509", id, dirs[i], "client",
                         ", 'sanity-check': false");
        migrate_set_tls(s.qts, id, NULL, NULL);
        migrate_to(&s, &d);
        SRC_FAILED(&s, SRC_REFUSED_LATE);
        expect_dst_stays(&d, mark, "Verify failed: No certificate was "
                         "found.");
    }
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

/*
 * tls-authz on the destination: an unknown id, an explicit "" (7.2's
 * pitfall), a DN that is not the client's; then the client's, from the
 * command line (commas doubled).
 */
static void test_authz(void)
{
    g_auto(GStrv) rdns = g_strsplit(TLS_CERTS_CLIENT_DN, ",", -1);
    g_autofree char *dn = g_strjoinv(",,", rdns);
    g_autofree char *allow = NULL, *denied = NULL;
    Source s = { 0 };
    Dest d = { 0 };
    struct {
        const char *authz;
        const char *msg;
    } refused[] = {
        { "nosuch", "Cannot find QAuthZ object ID nosuch" },
        { "", "Cannot find QAuthZ object ID \n" },
        { "deny", NULL },
    };

    if (!tls_test_certs()) {
        return;
    }
    denied = g_strdup_printf("TLS x509 authz check for %s is denied",
                             TLS_CERTS_CLIENT_DN);
    refused[2].msg = denied;
    allow = g_strdup_printf("-object \"authz-simple,id=allow,identity=%s\"",
                            dn);
    source_start(&s, NULL);
    dest_start(&d, allow);
    tls_creds_add_ok(s.qts, "tls-creds-x509", "tls0", "client", "client",
                     NULL);
    tls_creds_add_ok(d.qts, "tls-creds-x509", "tls0", "server", "server",
                     NULL);
    qtest_qmp_assert_success(d.qts, "{'execute': 'object-add', "
                             "'arguments': {'qom-type': 'authz-simple', "
                             "'id': 'deny', 'identity': "
                             "'O=ferry tests,CN=someone.else'}}");
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_set_tls(d.qts, "tls0", NULL, NULL);
    dest_listen(&d, "tcp");
    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        size_t mark = stderr_mark(d.qts);

        migrate_set_tls(d.qts, NULL, NULL, refused[i].authz);
        migrate_to(&s, &d);
        SRC_FAILED(&s, SRC_REFUSED_LATE);
        expect_dst_stays(&d, mark, refused[i].msg);
    }
    migrate_set_tls(d.qts, NULL, NULL, "allow");
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

static void test_refuse_wrong_psk(void)
{
    Source s = { 0 };
    Dest d = { 0 };
    size_t mark;

    if (!tls_test_certs()) {
        return;
    }
    source_start(&s, NULL);
    dest_start(&d, NULL);
    tls_creds_add_ok(s.qts, "tls-creds-psk", "bad", "psk-wrong", "client",
                     NULL);
    tls_creds_add_ok(s.qts, "tls-creds-psk", "tls0", "psk-client", "client",
                     NULL);
    tls_creds_add_ok(d.qts, "tls-creds-psk", "tls0", "psk-server", "server",
                     NULL);
    migrate_set_tls(s.qts, "bad", NULL, NULL);
    migrate_set_tls(d.qts, "tls0", NULL, NULL);
    dest_listen(&d, "tcp");
    mark = stderr_mark(d.qts);
    migrate_to(&s, &d);
    SRC_FAILED(&s, "TLS handshake failed: The TLS connection was "
               "non-properly terminated.");
    expect_dst_stays(&d, mark, "TLS handshake failed: An illegal parameter "
                     "has been received.");
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

/* TLS on the destination only: it reads the plain stream as TLS. */
static void test_refuse_tls_destination_only(void)
{
    Source s = { 0 };
    Dest d = { 0 };
    size_t mark;

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    migrate_set_tls(s.qts, "", NULL, NULL);
    dest_listen(&d, "tcp");
    mark = stderr_mark(d.qts);
    migrate_to(&s, &d);
    SRC_FAILED(&s, "Unable to write to socket: Broken pipe",
               "Unable to write to socket: Connection reset by peer");
    expect_dst_stays(&d, mark, "TLS handshake failed: An unexpected TLS "
                     "packet was received.");
    /* The plain stream did cross in clear: this test can see it. */
    g_assert_true(sniff_saw(d.sniff, 0, "QEVM", 4));
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

/*
 * Credentials the source cannot use, found out at connect: no such
 * object, an object that is not TLS credentials, server-endpoint
 * credentials.  The destination sees a connection close.
 */
static void test_refuse_source_creds(void)
{
    Source s = { 0 };
    Dest d = { 0 };
    const struct {
        const char *creds;
        const char *msg;
    } refused[] = {
        { "nosuch", "No TLS credentials with id 'nosuch'" },
        { "authz0", "Object with id 'authz0' is not TLS credentials" },
        { "srv", "Expected TLS credentials for a client endpoint" },
    };

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    tls_creds_add_ok(s.qts, "tls-creds-x509", "srv", "server", "server",
                     NULL);
    qtest_qmp_assert_success(s.qts, "{'execute': 'object-add', "
                             "'arguments': {'qom-type': 'authz-simple', "
                             "'id': 'authz0', 'identity': 'CN=x'}}");
    dest_listen(&d, "tcp");
    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        size_t mark = stderr_mark(d.qts);

        migrate_set_tls(s.qts, refused[i].creds, NULL, NULL);
        migrate_to(&s, &d);
        SRC_FAILED(&s, refused[i].msg);
        expect_dst_stays(&d, mark, "TLS handshake failed: The TLS "
                         "connection was non-properly terminated.");
    }
    migrate_set_tls(s.qts, "tls0", NULL, NULL);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

/*
 * Client-endpoint credentials on the destination: it refuses the
 * connection (B.2), stays, and takes the next one once fixed.
 */
static void test_refuse_destination_creds(void)
{
    Source s = { 0 };
    Dest d = { 0 };
    size_t mark;

    if (!tls_test_certs()) {
        return;
    }
    x509_pair(&s, &d, "client", "server", NULL);
    tls_creds_add_ok(d.qts, "tls-creds-x509", "cli", "client", "client",
                     NULL);
    migrate_set_tls(d.qts, "cli", NULL, NULL);
    dest_listen(&d, "tcp");
    mark = stderr_mark(d.qts);
    migrate_to(&s, &d);
    SRC_FAILED(&s, "TLS handshake failed: The TLS connection was "
               "non-properly terminated.");
    expect_dst_stays(&d, mark, "Expected TLS credentials for a server "
                     "endpoint");
    migrate_set_tls(d.qts, "tls0", NULL, NULL);
    migrate_to(&s, &d);
    check_completed(&s, &d, 1);
    source_free(&s);
    dest_free(&d);
}

static const RecoverCase recover_cut = { .preempt = false, .cut = true };
static const RecoverCase recover_pause_preempt = { .preempt = true };

int main(int argc, char **argv)
{
    const char *ref = getenv("QTEST_TLS_REFERENCE");

    g_test_init(&argc, &argv, NULL);
    reference = ref && *ref && strcmp(ref, "0");
    if (reference) {
        g_test_message("reference run: every VM is %s",
                       qtest_qemu_binary());
    }
    g_test_add_func("/migration/tls/parameters", test_parameters);
    g_test_add_func("/migration/tls/objects/errors", test_object_errors);
    g_test_add_func("/migration/tls/objects/del", test_object_del);
    g_test_add_func("/migration/tls/x509/precopy/tcp",
                    test_x509_precopy_tcp);
    g_test_add_func("/migration/tls/x509/precopy/unix",
                    test_x509_precopy_unix);
    g_test_add_data_func("/migration/tls/x509/postcopy/plain",
                         GINT_TO_POINTER(false), test_x509_postcopy);
    g_test_add_data_func("/migration/tls/x509/postcopy/preempt",
                         GINT_TO_POINTER(true), test_x509_postcopy);
    g_test_add_data_func("/migration/tls/x509/recover/cut", &recover_cut,
                         test_x509_recover);
    g_test_add_data_func("/migration/tls/x509/recover/pause-preempt",
                         &recover_pause_preempt, test_x509_recover);
    g_test_add_func("/migration/tls/psk/precopy/tcp", test_psk_precopy_tcp);
    g_test_add_func("/migration/tls/psk/precopy/unix-alice",
                    test_psk_precopy_unix);
    g_test_add_func("/migration/tls/psk/postcopy", test_psk_postcopy);
    g_test_add_func("/migration/tls/refuse/unknown-ca",
                    test_refuse_unknown_ca);
    g_test_add_func("/migration/tls/refuse/otherhost",
                    test_refuse_otherhost);
    g_test_add_func("/migration/tls/refuse/expired", test_refuse_expired);
    g_test_add_func("/migration/tls/refuse/unix-no-hostname",
                    test_refuse_unix_no_hostname);
    g_test_add_func("/migration/tls/refuse/tls-source-only",
                    test_refuse_tls_source_only);
    g_test_add_func("/migration/tls/refuse/client-cert",
                    test_refuse_client_cert);
    g_test_add_func("/migration/tls/authz", test_authz);
    g_test_add_func("/migration/tls/refuse/wrong-psk",
                    test_refuse_wrong_psk);
    g_test_add_func("/migration/tls/refuse/tls-destination-only",
                    test_refuse_tls_destination_only);
    g_test_add_func("/migration/tls/refuse/source-creds",
                    test_refuse_source_creds);
    g_test_add_func("/migration/tls/refuse/destination-creds",
                    test_refuse_destination_creds);
    return g_test_run();
}
