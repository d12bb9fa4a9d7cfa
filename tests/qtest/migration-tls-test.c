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


static bool reference;      /* QTEST_TLS_REFERENCE: every VM is QEMU 7.2 */

static char *tmp_path(const char *name)
{
    static unsigned n;

    return g_strdup_printf("%s/%s-%d-%u", qtest_tmpdir(), name, getpid(),
                           n++);
}

/* ferry, or QEMU 7.2 in a reference run, with @args after the basics. */
static QTestState *vm_start(const char *args)
{
    return migrate_start_vm(reference ? qtest_qemu_binary() : NULL,
                            reference, TLS_RAM_MB, "%s", args);
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
    g_autofree char *args = NULL;

    s->pattern_file = make_pattern_file(TLS_PAT_LEN, 41);
    g_assert_true(g_file_get_contents(s->pattern_file, (char **)&s->pattern,
                                      NULL, NULL));
    args = g_strdup_printf("-name source -device loader,file=%s,addr=0x%x %s",
                           s->pattern_file, TLS_PAT_ADDR, extra ? extra : "");
    s->qts = vm_start(args);
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
    g_autofree char *args = g_strdup_printf("-name target -incoming defer %s",
                                            extra ? extra : "");

    d->qts = vm_start(args);
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
    tls_check_completed(s->qts, d->qts, d->sniff, d->first, conns,
                        s->pattern);
}

/* A migration to @d that works, over one connection. */
static void migrate_ok(Source *s, Dest *d)
{
    migrate_to(s, d);
    check_completed(s, d, 1);
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

/* What a 7.2 destination says when its client gave up after the handshake */
#define DST_DEAD_CLIENT "Cannot read from TLS channel", \
                        "load of migration failed"
/* What a 7.2 source says when the server refused it after the handshake */
#define SRC_REFUSED_LATE "Cannot write to TLS channel: Input/output error"
/* ... and when it gave up on a handshake the server broke off */
#define SRC_CUT_OFF "TLS handshake failed: The TLS connection was " \
                    "non-properly terminated."

/*
 * One refused migration: the tls-creds (and tls-authz) it sets first at
 * either end (NULL: left alone), the source's error-desc (one of the
 * alternatives) and what the destination says.
 */
typedef struct Refused {
    const char *src_creds;
    const char *dst_creds;
    const char *dst_authz;
    const char *src_error[3];
    const char *dst_error[3];   /* stays: the first only; exits: each */
} Refused;

static void refused_set(Source *s, Dest *d, const Refused *r)
{
    if (r->src_creds) {
        migrate_set_tls(s->qts, r->src_creds, NULL, NULL);
    }
    if (r->dst_creds || r->dst_authz) {
        migrate_set_tls(d->qts, r->dst_creds, NULL, r->dst_authz);
    }
}

/* @r is refused at both ends; the destination, like 7.2's, stays. */
static void refused_stays(Source *s, Dest *d, const Refused *r)
{
    size_t mark = stderr_mark(d->qts);

    refused_set(s, d, r);
    migrate_to(s, d);
    tls_expect_src_failed(s->qts, r->src_error);
    tls_expect_dst_stays(d->qts, mark, r->dst_error[0]);
}

/* @r is refused; the destination exits (B.8). */
static void refused_exits(Source *s, Dest *d, const Refused *r)
{
    refused_set(s, d, r);
    migrate_to(s, d);
    tls_expect_src_failed(s->qts, r->src_error);
    expect_dst_exits(d, r->dst_error);
}

/*
 * Both ends with credentials "tls0" of @type made with object-add, from
 * the trees @src_dir and @dst_dir (object-add extras @src_extra,
 * @dst_extra), set as tls-creds; the source's tls-hostname @hostname.
 */
static void creds_pair(Source *s, Dest *d, const char *type,
                       const char *src_dir, const char *src_extra,
                       const char *dst_dir, const char *dst_extra,
                       const char *hostname)
{
    source_start(s, NULL);
    dest_start(d, NULL);
    tls_creds_add_ok(s->qts, type, "tls0", src_dir, "client", src_extra);
    tls_creds_add_ok(d->qts, type, "tls0", dst_dir, "server", dst_extra);
    migrate_set_tls(s->qts, "tls0", hostname, NULL);
    migrate_set_tls(d->qts, "tls0", NULL, NULL);
}

static void x509_pair(Source *s, Dest *d, const char *dst_dir,
                      const char *hostname)
{
    creds_pair(s, d, "tls-creds-x509", "client", NULL, dst_dir, NULL,
               hostname);
}

/* Both ends with PSK (the default identity) or with x509. */
static void default_pair(Source *s, Dest *d, bool psk)
{
    if (psk) {
        creds_pair(s, d, "tls-creds-psk", "psk-client", NULL, "psk-server",
                   NULL, NULL);
    } else {
        x509_pair(s, d, "server", NULL);
    }
}

/* A (second) destination like x509_pair()'s, listening on @how. */
static void dest_x509(Dest *d, const char *dir, const char *extra,
                      const char *how)
{
    dest_start(d, NULL);
    tls_creds_add_ok(d->qts, "tls-creds-x509", "tls0", dir, "server", extra);
    migrate_set_tls(d->qts, "tls0", NULL, NULL);
    dest_listen(d, how);
}

/* ---- precopy ---- */

/* The PSK identity travels in clear in the ClientHello (B.1). */
static void check_identity(Sniff *sniff, unsigned conn, const char *name)
{
    g_autoptr(GBytes) hello = sniff_upstream(sniff, conn, 2048);
    gsize len;
    const void *p = g_bytes_get_data(hello, &len);

    g_assert_nonnull(memmem(p, len, name, strlen(name)));
}

typedef struct PrecopyCase {
    bool psk;               /* else x509 */
    bool cmdline;           /* objects on the command line, else object-add */
    const char *how;        /* "tcp" or "unix" */
    const char *hostname;   /* the source's tls-hostname */
    const char *username;   /* PSK: object-add username (else "qemu") */
    const char *dst_authz;  /* ignored by PSK (B.2) */
    bool return_path;
} PrecopyCase;

static void precopy_pair(Source *s, Dest *d, const PrecopyCase *c)
{
    g_autofree char *so = NULL, *dob = NULL, *user = NULL;

    if (!c->cmdline) {
        user = c->username ? g_strdup_printf(", 'username': '%s'",
                                             c->username) : NULL;
        creds_pair(s, d, c->psk ? "tls-creds-psk" : "tls-creds-x509",
                   c->psk ? "psk-client" : "client", user,
                   c->psk ? "psk-server" : "server", NULL, c->hostname);
        return;
    }
    so = c->psk ? tls_psk_arg("tls0", "psk-client", "client", NULL)
                : tls_x509_arg("tls0", "client", "client", NULL);
    dob = c->psk ? tls_psk_arg("tls0", "psk-server", "server", NULL)
                 : tls_x509_arg("tls0", "server", "server", NULL);
    source_start(s, so);
    dest_start(d, dob);
    migrate_set_tls(s->qts, "tls0", c->hostname, NULL);
    migrate_set_tls(d->qts, "tls0", NULL, NULL);
}

static void test_precopy(Source *s, Dest *d, const void *opaque)
{
    const PrecopyCase *c = opaque;

    precopy_pair(s, d, c);
    if (c->dst_authz) {
        migrate_set_tls(d->qts, NULL, NULL, c->dst_authz);
    }
    for (int i = 0; i < 2 && c->return_path; i++) {
        migrate_set_capability(i ? d->qts : s->qts, "return-path", true);
    }
    dest_listen(d, c->how);
    migrate_set_parameter_int(s->qts, "max-bandwidth", 0);
    migrate_ok(s, d);
    if (c->psk) {
        check_identity(d->sniff, 0, c->username ? c->username : "qemu");
    }
}

static const PrecopyCase precopy_cases[] = {
    /* The host of the URI, a return path. */
    { .cmdline = true, .how = "tcp", .return_path = true },
    /* unix: the name comes from tls-hostname. */
    { .how = "unix", .hostname = "localhost" },
    { .psk = true, .cmdline = true, .how = "tcp" },
    /* No tls-hostname (PSK does not use it), and tls-authz ignored. */
    { .psk = true, .how = "unix", .username = "alice",
      .dst_authz = "nosuch" },
};

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

/* Migrates, switches to postcopy at once, pushes slowly, reads ahead. */
static void postcopy_start(Source *s, Dest *d)
{
    migrate_set_parameter_int(s->qts, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(s->qts, "max-postcopy-bandwidth", 4 << 20);
    migrate_to(s, d);
    tls_postcopy_switch(s->qts, d->qts, s->pattern);
}

static void postcopy_finish(Source *s, Dest *d, unsigned conns)
{
    migrate_set_parameter_int(s->qts, "max-postcopy-bandwidth", 0);
    check_completed(s, d, conns);
    tls_assert_postcopy_requests(s->qts);
}

typedef struct PostcopyCase {
    bool psk;
    bool preempt;
    const char *how;
} PostcopyCase;

static void test_postcopy(Source *s, Dest *d, const void *opaque)
{
    const PostcopyCase *c = opaque;

    default_pair(s, d, c->psk);
    set_postcopy(s, d, c->preempt);
    dest_listen(d, c->how);
    postcopy_start(s, d);
    /* 7.2: the preempt channel has its own handshake. */
    postcopy_finish(s, d, c->preempt ? 2 : 1);
}

static const PostcopyCase x509_postcopy = { .how = "tcp" };
static const PostcopyCase x509_postcopy_preempt = { .preempt = true,
                                                    .how = "tcp" };
static const PostcopyCase psk_postcopy = { .psk = true, .how = "unix" };

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

static void test_x509_recover(Source *s, Dest *d, const void *opaque)
{
    const RecoverCase *c = opaque;
    g_autofree char *path = tmp_path("tls-recover.sock");
    g_autofree char *st = NULL, *uri = NULL;
    static const char qevm[] = "QEVM\0\0\0\3\1\0\0\0\0\0\0\0";
    unsigned conns = c->preempt ? 2 : 1;
    Sniff *again;
    size_t mark;

    x509_pair(s, d, "server", "localhost");
    set_postcopy(s, d, c->preempt);
    dest_listen(d, "unix");
    postcopy_start(s, d);
    g_assert_cmpuint(sniff_connections(d->sniff), ==, conns);
    if (c->cut) {
        sniff_cut(d->sniff);
    } else {
        qtest_qmp_assert_success(s->qts, "{'execute': 'migrate-pause'}");
    }
    wait_for_migration_status(s->qts, "postcopy-paused");
    wait_for_migration_status(d->qts, "postcopy-paused");
    assert_runstate(d->qts, "running");

    /* The recovery listener is TLS too: a plain stream is refused. */
    qtest_qmp_assert_success(d->qts, "{'execute': 'migrate-recover', "
                             "'arguments': {'uri': 'unix:%s'}}", path);
    mark = stderr_mark(d->qts);
    plain_poke(path, qevm, sizeof(qevm) - 1);
    wait_for_stderr_from(d->qts, mark, "TLS handshake failed: An unexpected "
                         "TLS packet was received.");
    st = migrate_query_status(d->qts);
    g_assert_cmpstr(st, ==, "postcopy-paused");

    uri = g_strdup_printf("unix:%s", path);
    again = sniff_new(uri);
    qtest_qmp_assert_success(s->qts, "{'execute': 'migrate', 'arguments': "
                             "{'uri': '%s', 'resume': true}}",
                             sniff_uri(again));
    wait_for_migration_status(s->qts, "postcopy-active");
    wait_for_migration_status(d->qts, "postcopy-active");
    read_pages_ahead(d->qts, TLS_PAT_ADDR, s->pattern, TLS_PAT_LEN, 8, 100);
    /* Every connection of the first link was TLS, up to the break. */
    for (unsigned i = 0; i < conns; i++) {
        sniff_assert_tls(d->sniff, i);
    }
    sniff_assert_hidden(d->sniff, 0, s->pattern, TLS_PAT_LEN);
    sniff_free(d->sniff);
    d->sniff = again;
    d->first = 0;
    postcopy_finish(s, d, conns);
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
    q = vm_start("");
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
    QTestState *q = vm_start("");

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

typedef void (*PairHook)(Source *s, Dest *d);

typedef struct ExitCase {
    const char *dst_dir;        /* the destination's x509 tree */
    const char *dst_extra;      /* its object-add extras */
    const char *dst_creds;      /* its tls-creds; NULL: "tls0" */
    const char *how;            /* where it listens */
    PairHook prepare;           /* first, before the credentials */
    Refused refused;
    /*
     * Then a second destination like the first, and this tls-hostname
     * at the source: that migration works.
     */
    const char *retry_hostname;
} ExitCase;

static void test_refuse_exits(Source *s, Dest *d, const void *opaque)
{
    const ExitCase *c = opaque;
    Dest d2 = { 0 };

    source_start(s, NULL);
    dest_start(d, NULL);
    if (c->prepare) {
        c->prepare(s, d);
    }
    tls_creds_add_ok(s->qts, "tls-creds-x509", "tls0", "client", "client",
                     NULL);
    tls_creds_add_ok(d->qts, "tls-creds-x509", "tls0", c->dst_dir, "server",
                     c->dst_extra);
    migrate_set_tls(s->qts, "tls0", NULL, NULL);
    migrate_set_tls(d->qts, c->dst_creds ? c->dst_creds : "tls0", NULL, NULL);
    dest_listen(d, c->how);
    refused_exits(s, d, &c->refused);
    if (c->retry_hostname) {
        dest_x509(&d2, c->dst_dir, c->dst_extra, c->how);
        migrate_set_tls(s->qts, NULL, c->retry_hostname, NULL);
        migrate_ok(s, &d2);
        dest_free(&d2);
    }
}

/* 7.2's sanity check refuses the expired certificate at object-add. */
static void expired_refused_at_add(Source *s, Dest *d)
{
    g_autoptr(JsonNode) rsp = tls_creds_add(d->qts, "tls-creds-x509", "tls0",
                                            "server-expired", "server",
                                            NULL);
    g_autofree char *dir = tls_test_dir("server-expired");
    g_autofree char *msg = g_strdup_printf("The server certificate "
                                           "%s/server-cert.pem has expired",
                                           dir);

    g_assert_cmpstr(qmp_rsp_error_desc(rsp), ==, msg);
}

static const ExitCase refuse_otherhost = {
    /* A certificate for otherhost.example against the URI's 127.0.0.1 */
    .dst_dir = "server-otherhost", .how = "tcp",
    .refused = {
        .src_error = { "Certificate does not match the hostname "
                       "127.0.0.1" },
        .dst_error = { DST_DEAD_CLIENT },
    },
    .retry_hostname = "otherhost.example",
};

static const ExitCase refuse_expired = {
    /*
     * With sanity-check=off the client refuses it, and the destination
     * sees its client go away.  GnuTLS's chain check flags it (invalid +
     * expired) before 7.2's own.
     */
    .dst_dir = "server-expired", .dst_extra = ", 'sanity-check': false",
    .how = "tcp", .prepare = expired_refused_at_add,
    .refused = {
        .src_error = { "The certificate is not trusted" },
        .dst_error = { DST_DEAD_CLIENT },
    },
};

static const ExitCase refuse_unix_no_hostname = {
    /* unix: without tls-hostname there is no name to check; with it, fine */
    .dst_dir = "server", .how = "unix",
    .refused = {
        .src_error = { "No hostname for certificate validation" },
        .dst_error = { DST_DEAD_CLIENT },
    },
    .retry_hostname = "localhost",
};

static const ExitCase refuse_tls_source_only = {
    /* TLS on the source only: the destination reads the ClientHello. */
    .dst_dir = "server", .dst_creds = "", .how = "tcp",
    .refused = {
        .src_error = { SRC_CUT_OFF },
        .dst_error = { "Not a migration stream", "load of migration failed" },
    },
};

/* ---- refusals: the destination stays, and then takes a good one ---- */

typedef struct StayCase {
    bool psk;                   /* "tls0" at both ends; else x509 */
    PairHook prepare;           /* before listening: bad objects */
    Refused refused[4];         /* up to the first without src_error */
    /* Then, before the good migration; NULL: tls-creds "tls0" both ends */
    PairHook repair;
} StayCase;

static void test_refuse_stays(Source *s, Dest *d, const void *opaque)
{
    const StayCase *c = opaque;

    default_pair(s, d, c->psk);
    if (c->prepare) {
        c->prepare(s, d);
    }
    dest_listen(d, "tcp");
    for (const Refused *r = c->refused; r->src_error[0]; r++) {
        refused_stays(s, d, r);
    }
    if (c->repair) {
        c->repair(s, d);
    } else {
        migrate_set_tls(s->qts, "tls0", NULL, NULL);
        migrate_set_tls(d->qts, "tls0", NULL, NULL);
    }
    migrate_ok(s, d);
}

static void del_source_creds(Source *s, Dest *d)
{
    tls_object_del(s->qts, "tls0");
}

static void add_source_creds(Source *s, Dest *d)
{
    tls_creds_add_ok(s->qts, "tls-creds-x509", "tls0", "client", "client",
                     NULL);
}

/*
 * object-del of the credentials: the next migration does not find them
 * (the destination stays), object-add again and it works.
 */
static const StayCase object_del = {
    .prepare = del_source_creds,
    .refused = { {
        .src_error = { "No TLS credentials with id 'tls0'" },
        .dst_error = { "TLS handshake failed: The TLS connection was "
                       "non-properly terminated." },
    } },
    .repair = add_source_creds,
};

/* The client does not trust the server's CA (that CA only, no cert). */
static void add_wrongca(Source *s, Dest *d)
{
    tls_creds_add_ok(s->qts, "tls-creds-x509", "wrongca", "client-wrongca",
                     "client", NULL);
}

/*
 * A destination with verify-peer=off does not refuse the missing client
 * certificate: it only sees its client give up, and exits.
 */
static void wrongca_to_unverifying(Source *s, Dest *d)
{
    static const Refused r = {
        .src_error = { "The certificate hasn't got a known issuer" },
        .dst_error = { DST_DEAD_CLIENT },
    };
    Dest d2 = { 0 };

    dest_x509(&d2, "server", ", 'verify-peer': false", "tcp");
    refused_exits(s, &d2, &r);
    dest_free(&d2);
    migrate_set_tls(s->qts, "tls0", NULL, NULL);
}

/*
 * client-wrongca: a destination checking its peer also refuses the
 * missing certificate and stays; then the one with verify-peer=off; then
 * the first one takes a good migration.
 */
static const StayCase refuse_unknown_ca = {
    .prepare = add_wrongca,
    .refused = { {
        .src_creds = "wrongca",
        .src_error = { "The certificate hasn't got a known issuer" },
        .dst_error = { "Verify failed: No certificate was found." },
    } },
    .repair = wrongca_to_unverifying,
};

/* Made with sanity-check=off, as their own check refuses them. */
static void add_bad_client_certs(Source *s, Dest *d)
{
    tls_creds_add_ok(s->qts, "tls-creds-x509", "bad0", "client-nocert",
                     "client", ", 'sanity-check': false");
    tls_creds_add_ok(s->qts, "tls-creds-x509", "bad1", "client-othercert",
                     "client", ", 'sanity-check': false");
}

/*
 * Client certificates the server does not accept: none, and one from
 * another CA.
 */
static const StayCase refuse_client_cert = {
    .prepare = add_bad_client_certs,
    .refused = {
        { .src_creds = "bad0", .src_error = { SRC_REFUSED_LATE },
          .dst_error = { "Verify failed: No certificate was found." } },
        { .src_creds = "bad1", .src_error = { SRC_REFUSED_LATE },
          .dst_error = { "Verify failed: No certificate was found." } },
    },
};

static void add_wrong_psk(Source *s, Dest *d)
{
    tls_creds_add_ok(s->qts, "tls-creds-psk", "bad", "psk-wrong", "client",
                     NULL);
}

static const StayCase refuse_wrong_psk = {
    .psk = true,
    .prepare = add_wrong_psk,
    .refused = { {
        .src_creds = "bad",
        .src_error = { SRC_CUT_OFF },
        .dst_error = { "TLS handshake failed: An illegal parameter has been "
                       "received." },
    } },
};

/* The plain stream did cross in clear: this test can see it. */
static void saw_plain_stream(Source *s, Dest *d)
{
    g_assert_true(sniff_saw(d->sniff, 0, "QEVM", 4));
    migrate_set_tls(s->qts, "tls0", NULL, NULL);
}

/* TLS on the destination only: it reads the plain stream as TLS. */
static const StayCase refuse_tls_destination_only = {
    .refused = { {
        .src_creds = "",
        .src_error = { "Unable to write to socket: Broken pipe",
                       "Unable to write to socket: Connection reset by "
                       "peer" },
        .dst_error = { "TLS handshake failed: An unexpected TLS packet was "
                       "received." },
    } },
    .repair = saw_plain_stream,
};

static void add_unusable_source_creds(Source *s, Dest *d)
{
    tls_creds_add_ok(s->qts, "tls-creds-x509", "srv", "server", "server",
                     NULL);
    qtest_qmp_assert_success(s->qts, "{'execute': 'object-add', "
                             "'arguments': {'qom-type': 'authz-simple', "
                             "'id': 'authz0', 'identity': 'CN=x'}}");
}

/*
 * Credentials the source cannot use, found out at connect: no such
 * object, an object that is not TLS credentials, server-endpoint
 * credentials.  The destination sees a connection close.
 */
static const StayCase refuse_source_creds = {
    .prepare = add_unusable_source_creds,
    .refused = {
        { .src_creds = "nosuch",
          .src_error = { "No TLS credentials with id 'nosuch'" },
          .dst_error = { SRC_CUT_OFF } },
        { .src_creds = "authz0",
          .src_error = { "Object with id 'authz0' is not TLS credentials" },
          .dst_error = { SRC_CUT_OFF } },
        { .src_creds = "srv",
          .src_error = { "Expected TLS credentials for a client endpoint" },
          .dst_error = { SRC_CUT_OFF } },
    },
};

static void use_client_creds_on_dest(Source *s, Dest *d)
{
    tls_creds_add_ok(d->qts, "tls-creds-x509", "cli", "client", "client",
                     NULL);
    migrate_set_tls(d->qts, "cli", NULL, NULL);
}

/*
 * Client-endpoint credentials on the destination: it refuses the
 * connection (B.2), stays, and takes the next one once fixed.
 */
static const StayCase refuse_destination_creds = {
    .prepare = use_client_creds_on_dest,
    .refused = { {
        .src_error = { SRC_CUT_OFF },
        .dst_error = { "Expected TLS credentials for a server endpoint" },
    } },
};

/*
 * tls-authz on the destination: an unknown id, an explicit "" (7.2's
 * pitfall), a DN that is not the client's; then the client's, from the
 * command line (commas doubled).
 */
static void test_authz(Source *s, Dest *d, const void *opaque)
{
    static const Refused refused[] = {
        { .dst_authz = "nosuch", .src_error = { SRC_REFUSED_LATE },
          .dst_error = { "Cannot find QAuthZ object ID nosuch" } },
        { .dst_authz = "", .src_error = { SRC_REFUSED_LATE },
          .dst_error = { "Cannot find QAuthZ object ID \n" } },
        { .dst_authz = "deny", .src_error = { SRC_REFUSED_LATE },
          .dst_error = { "TLS x509 authz check for " TLS_CERTS_CLIENT_DN
                         " is denied" } },
    };
    g_auto(GStrv) rdns = g_strsplit(TLS_CERTS_CLIENT_DN, ",", -1);
    g_autofree char *dn = g_strjoinv(",,", rdns);
    g_autofree char *allow = NULL;

    allow = g_strdup_printf("-object \"authz-simple,id=allow,identity=%s\"",
                            dn);
    source_start(s, NULL);
    dest_start(d, allow);
    tls_creds_add_ok(s->qts, "tls-creds-x509", "tls0", "client", "client",
                     NULL);
    tls_creds_add_ok(d->qts, "tls-creds-x509", "tls0", "server", "server",
                     NULL);
    qtest_qmp_assert_success(d->qts, "{'execute': 'object-add', "
                             "'arguments': {'qom-type': 'authz-simple', "
                             "'id': 'deny', 'identity': "
                             "'O=ferry tests,CN=someone.else'}}");
    migrate_set_tls(s->qts, "tls0", NULL, NULL);
    migrate_set_tls(d->qts, "tls0", NULL, NULL);
    dest_listen(d, "tcp");
    for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
        refused_stays(s, d, &refused[i]);
    }
    migrate_set_tls(d->qts, NULL, NULL, "allow");
    migrate_ok(s, d);
}

static const RecoverCase recover_cut = { .preempt = false, .cut = true };
static const RecoverCase recover_pause_preempt = { .preempt = true };

/*
 * A test of a source and a destination: @fn starts both (and any other
 * destination, which it frees); they are freed after it.
 */
typedef struct PairTest {
    const char *path;
    void (*fn)(Source *s, Dest *d, const void *data);
    const void *data;
    bool postcopy;              /* needs userfaultfd */
} PairTest;

static void run_pair_test(const void *opaque)
{
    const PairTest *t = opaque;
    Source s = { 0 };
    Dest d = { 0 };

    if (!tls_test_certs() || (t->postcopy && !have_userfaultfd())) {
        return;
    }
    t->fn(&s, &d, t->data);
    source_free(&s);
    dest_free(&d);
}

static const PairTest pair_tests[] = {
    { "objects/del", test_refuse_stays, &object_del },
    { "x509/precopy/tcp", test_precopy, &precopy_cases[0] },
    { "x509/precopy/unix", test_precopy, &precopy_cases[1] },
    { "x509/postcopy/plain", test_postcopy, &x509_postcopy, true },
    { "x509/postcopy/preempt", test_postcopy, &x509_postcopy_preempt, true },
    { "x509/recover/cut", test_x509_recover, &recover_cut, true },
    { "x509/recover/pause-preempt", test_x509_recover,
      &recover_pause_preempt, true },
    { "psk/precopy/tcp", test_precopy, &precopy_cases[2] },
    { "psk/precopy/unix-alice", test_precopy, &precopy_cases[3] },
    { "psk/postcopy", test_postcopy, &psk_postcopy, true },
    { "refuse/unknown-ca", test_refuse_stays, &refuse_unknown_ca },
    { "refuse/otherhost", test_refuse_exits, &refuse_otherhost },
    { "refuse/expired", test_refuse_exits, &refuse_expired },
    { "refuse/unix-no-hostname", test_refuse_exits,
      &refuse_unix_no_hostname },
    { "refuse/tls-source-only", test_refuse_exits, &refuse_tls_source_only },
    { "refuse/client-cert", test_refuse_stays, &refuse_client_cert },
    { "authz", test_authz, NULL },
    { "refuse/wrong-psk", test_refuse_stays, &refuse_wrong_psk },
    { "refuse/tls-destination-only", test_refuse_stays,
      &refuse_tls_destination_only },
    { "refuse/source-creds", test_refuse_stays, &refuse_source_creds },
    { "refuse/destination-creds", test_refuse_stays,
      &refuse_destination_creds },
};

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
    for (size_t i = 0; i < G_N_ELEMENTS(pair_tests); i++) {
        g_autofree char *path = g_strdup_printf("/migration/tls/%s",
                                                pair_tests[i].path);

        g_test_add_data_func(path, &pair_tests[i], run_pair_test);
    }
    return g_test_run();
}
