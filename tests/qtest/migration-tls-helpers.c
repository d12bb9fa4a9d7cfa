/*
 * migration-tls-helpers.c: see migration-tls-helpers.h.
 *
 * The sniffer runs one accepting thread and, per connection, one thread
 * per direction doing blocking read/write: the simplest forwarding that
 * cannot deadlock (each direction only waits on its own peer) and that
 * pushes back on a writer through the kernel, as a real link does.  A cut
 * shuts both sockets down, which wakes both threads; the last of the two
 * to leave closes the descriptors, so nothing is closed under a thread
 * still using it.
 */
#include "migration-tls-helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a sniffed direction keeps, at most (plenty for these tests). */
#define SNIFF_KEEP  (192u << 20)
#define SNIFF_MAX   16

static TLSCerts *certs;
static char *certs_error;

static void certs_cleanup(void)
{
    if (certs) {
        tls_certs_free(certs);
        certs = NULL;
    }
}

TLSCerts *tls_test_certs(void)
{
    GError *err = NULL;

    if (!certs && !certs_error) {
        certs = tls_certs_make(&err);
        if (certs) {
            atexit(certs_cleanup);
        } else {
            certs_error = g_strdup_printf("no test certificates: %s",
                                          err ? err->message : "?");
            g_clear_error(&err);
        }
    }
    if (!certs) {
        g_test_skip(certs_error);
    }
    return certs;
}

char *tls_test_dir(const char *name)
{
    g_assert_nonnull(certs);
    return tls_certs_dir(certs, name);
}

static char *creds_arg(const char *type, const char *id, const char *dir,
                       const char *endpoint, const char *extra)
{
    g_autofree char *path = tls_test_dir(dir);

    return g_strdup_printf("-object %s,id=%s,dir=%s,endpoint=%s%s", type, id,
                           path, endpoint, extra ? extra : "");
}

char *tls_x509_arg(const char *id, const char *dir, const char *endpoint,
                   const char *extra)
{
    return creds_arg("tls-creds-x509", id, dir, endpoint, extra);
}

char *tls_psk_arg(const char *id, const char *dir, const char *endpoint,
                  const char *extra)
{
    return creds_arg("tls-creds-psk", id, dir, endpoint, extra);
}

JsonNode *tls_creds_add(QTestState *qts, const char *type, const char *id,
                        const char *dir, const char *endpoint,
                        const char *extra_json)
{
    g_autofree char *path = tls_test_dir(dir);

    return qtest_qmp(qts, "{'execute': 'object-add', 'arguments': "
                     "{'qom-type': '%s', 'id': '%s', 'dir': '%s', "
                     "'endpoint': '%s'%s}}", type, id, path, endpoint,
                     extra_json ? extra_json : "");
}

void tls_creds_add_ok(QTestState *qts, const char *type, const char *id,
                      const char *dir, const char *endpoint,
                      const char *extra_json)
{
    g_autoptr(JsonNode) rsp = tls_creds_add(qts, type, id, dir, endpoint,
                                            extra_json);

    qmp_rsp_return(rsp);
}

void tls_object_del(QTestState *qts, const char *id)
{
    qtest_qmp_assert_success(qts, "{'execute': 'object-del', 'arguments': "
                             "{'id': '%s'}}", id);
}

static void append_param(GString *args, const char *name, const char *v)
{
    if (!v) {
        return;
    }
    if (args->len) {
        g_string_append(args, ", ");
    }
    if (g_str_equal(v, "null")) {
        g_string_append_printf(args, "'%s': null", name);
    } else {
        g_string_append_printf(args, "'%s': '%s'", name, v);
    }
}

void migrate_set_tls(QTestState *qts, const char *creds,
                     const char *hostname, const char *authz)
{
    g_autoptr(GString) args = g_string_new(NULL);

    append_param(args, "tls-creds", creds);
    append_param(args, "tls-hostname", hostname);
    append_param(args, "tls-authz", authz);
    qtest_qmp_assert_success(qts, "{'execute': 'migrate-set-parameters', "
                             "'arguments': {%s}}", args->str);
}

typedef struct EndWait {
    QTestState *qts;
    char *status;
} EndWait;

static bool migration_ended(void *opaque)
{
    EndWait *w = opaque;

    g_free(w->status);
    w->status = migrate_query_status(w->qts);
    return g_str_equal(w->status, "completed") ||
           g_str_equal(w->status, "failed") ||
           g_str_equal(w->status, "cancelled");
}

char *wait_for_migration_end(QTestState *qts)
{
    EndWait w = { qts, NULL };

    if (!qtest_poll_until(migration_ended, &w, qtest_timeout())) {
        g_test_message("the migration did not end: still '%s'", w.status);
        qtest_dump_stderr_all();
        g_assert_not_reached();
    }
    return w.status;
}

char *migrate_error_desc(QTestState *qts)
{
    g_autoptr(JsonNode) rsp = migrate_query(qts);
    JsonObject *ret = qmp_rsp_return(rsp);

    if (!json_object_has_member(ret, "error-desc")) {
        return NULL;
    }
    return g_strdup(json_object_get_string_member(ret, "error-desc"));
}

char *migrate_listen_uri(QTestState *dst)
{
    g_autoptr(JsonNode) rsp = migrate_query(dst);
    JsonObject *ret = qmp_rsp_return(rsp);
    JsonObject *a;
    const char *type;

    g_assert_true(json_object_has_member(ret, "socket-address"));
    a = json_array_get_object_element(
        json_object_get_array_member(ret, "socket-address"), 0);
    type = json_object_get_string_member(a, "type");
    if (g_str_equal(type, "inet")) {
        return g_strdup_printf("tcp:%s:%s",
                               json_object_get_string_member(a, "host"),
                               json_object_get_string_member(a, "port"));
    }
    g_assert_cmpstr(type, ==, "unix");
    return g_strdup_printf("unix:%s",
                           json_object_get_string_member(a, "path"));
}

typedef struct StderrWait {
    QTestState *qts;
    size_t from;
    const char *text;
} StderrWait;

static bool stderr_has(void *opaque)
{
    StderrWait *w = opaque;
    const char *err = qtest_stderr(w->qts);

    return strlen(err) >= w->from && strstr(err + w->from, w->text);
}

void wait_for_stderr_from(QTestState *qts, size_t from, const char *text)
{
    StderrWait w = { qts, from, text };

    if (!qtest_poll_until(stderr_has, &w, qtest_timeout())) {
        g_test_message("stderr never said '%s'; it holds:\n%s", text,
                       qtest_stderr(qts) + from);
        g_assert_not_reached();
    }
}

void wait_for_stderr(QTestState *qts, const char *text)
{
    wait_for_stderr_from(qts, 0, text);
}

size_t stderr_mark(QTestState *qts)
{
    return strlen(qtest_stderr(qts));
}

void wait_for_exit_code(QTestState *qts, int code)
{
    int status = qtest_wait_exit(qts);

    if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
        g_test_message("its stderr: %s", qtest_stderr(qts));
    }
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, code);
}

void assert_runstate(QTestState *qts, const char *want)
{
    g_autofree char *st = qtest_runstate(qts);

    g_assert_cmpstr(st, ==, want);
}

void check_same_memory(QTestState *src, QTestState *dst, size_t ram,
                       uint64_t addr, const uint8_t *pattern, size_t len)
{
    g_autofree uint8_t *got = pmemsave_read(dst, 0, ram);
    g_autofree uint8_t *ref = pmemsave_read(src, 0, ram);

    for (size_t off = 0; off < ram; off += 4096) {
        const uint8_t *want = off >= addr && off < addr + len
                              ? pattern + off - addr : ref + off;

        if (memcmp(got + off, want, 4096) || memcmp(ref + off, want, 4096)) {
            g_test_message("page 0x%zx differs (%s)", off,
                           memcmp(ref + off, want, 4096) ? "on the source"
                                                         : "on the destination");
            g_assert_not_reached();
        }
    }
}

void tls_expect_src_failed(QTestState *src, const char *const *desc)
{
    g_autofree char *got = NULL, *st = wait_for_migration_end(src);
    bool ok = false;

    if (!g_str_equal(st, "failed")) {
        g_test_message("the source's migration %s instead of failing", st);
        qtest_dump_stderr_all();
    }
    g_assert_cmpstr(st, ==, "failed");
    got = migrate_error_desc(src);
    g_test_message("source: %s", got);
    for (; got && *desc && !ok; desc++) {
        ok = g_str_equal(got, *desc);
    }
    if (!ok) {
        g_test_message("source error-desc '%s' is not QEMU 7.2's", got);
        qtest_dump_stderr_all();
    }
    g_assert_true(ok);
    assert_runstate(src, "running");
}

void tls_expect_dst_stays(QTestState *dst, size_t mark, const char *msg)
{
    g_autofree char *st = NULL;

    wait_for_stderr_from(dst, mark, msg);
    st = migrate_query_status(dst);
    g_assert_cmpstr(st, ==, "none");
    assert_runstate(dst, "inmigrate");
}

void tls_postcopy_switch(QTestState *src, QTestState *dst,
                         const uint8_t *pattern)
{
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    qtest_qmp_eventwait(src, "STOP");
    qtest_qmp_eventwait(dst, "RESUME");
    wait_for_migration_status(src, "postcopy-active");
    wait_for_migration_status(dst, "postcopy-active");
    read_pages_ahead(dst, TLS_PAT_ADDR, pattern, TLS_PAT_LEN, 8, 0);
}

void tls_assert_postcopy_requests(QTestState *src)
{
    g_autoptr(JsonNode) info = migrate_query(src);
    JsonObject *ram = json_object_get_object_member(qmp_rsp_return(info),
                                                    "ram");

    g_assert_cmpint(json_object_get_int_member(ram, "postcopy-requests"),
                    >, 0);
}

void tls_check_completed(QTestState *src, QTestState *dst, Sniff *sniff,
                         unsigned first, unsigned conns,
                         const uint8_t *pattern)
{
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    assert_runstate(src, "postmigrate");
    assert_runstate(dst, "running");
    check_same_memory(src, dst, TLS_RAM_SIZE, TLS_PAT_ADDR, pattern,
                      TLS_PAT_LEN);
    sniff_check_attempt(sniff, first, conns, pattern, TLS_PAT_LEN);
}

/* ---- the sniffer ---- */

typedef struct SniffConn SniffConn;

typedef struct SniffDir {
    SniffConn *conn;
    int from, to;
    GByteArray *seen;           /* under Sniff.lock */
    GThread *thread;
} SniffDir;

struct SniffConn {
    struct Sniff *sniff;
    int src_fd, dst_fd;
    SniffDir up, down;          /* up: source -> destination */
    unsigned running;           /* threads left; under Sniff.lock */
};

struct Sniff {
    /* Not a GMutex: TSan cannot see its futex. */
    pthread_mutex_t lock;
    int lfd;
    struct sockaddr_storage target;
    socklen_t target_len;
    int family;
    char *uri;
    char *path;                 /* unix: our socket, removed at the end */
    GThread *acceptor;
    bool quit;                  /* under lock */
    SniffConn *conns[SNIFF_MAX];
    unsigned nconns;            /* under lock */
};

static gpointer sniff_pump(gpointer opaque)
{
    SniffDir *d = opaque;
    SniffConn *c = d->conn;
    Sniff *s = c->sniff;
    char buf[65536];
    bool last;

    for (;;) {
        ssize_t n = read(d->from, buf, sizeof(buf));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            /* Pass the end on; the other way may still carry data. */
            shutdown(d->to, SHUT_WR);
            break;
        }
        pthread_mutex_lock(&s->lock);
        if (d->seen->len + n <= SNIFF_KEEP) {
            g_byte_array_append(d->seen, (guint8 *)buf, n);
        }
        pthread_mutex_unlock(&s->lock);
        if (!send_all(d->to, buf, n)) {
            /* The receiver is gone: the sender must learn it. */
            shutdown(d->from, SHUT_RDWR);
            shutdown(d->to, SHUT_RDWR);
            break;
        }
    }
    pthread_mutex_lock(&s->lock);
    last = --c->running == 0;
    pthread_mutex_unlock(&s->lock);
    if (last) {
        close(c->src_fd);
        close(c->dst_fd);
    }
    return NULL;
}

static gpointer sniff_accept(gpointer opaque)
{
    Sniff *s = opaque;

    for (;;) {
        int sfd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        int dfd;
        SniffConn *c;
        bool quit;

        pthread_mutex_lock(&s->lock);
        quit = s->quit;
        pthread_mutex_unlock(&s->lock);
        if (quit) {
            if (sfd >= 0) {
                close(sfd);
            }
            return NULL;
        }
        if (sfd < 0) {
            continue;
        }
        dfd = socket(s->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (dfd < 0 || connect(dfd, (struct sockaddr *)&s->target,
                               s->target_len) < 0 ||
            s->nconns == SNIFF_MAX) {
            /* Nobody there: the source sees its connection closed. */
            if (dfd >= 0) {
                close(dfd);
            }
            close(sfd);
            continue;
        }
        c = g_new0(SniffConn, 1);
        c->sniff = s;
        c->src_fd = sfd;
        c->dst_fd = dfd;
        c->running = 2;
        c->up = (SniffDir){ c, sfd, dfd, g_byte_array_new(), NULL };
        c->down = (SniffDir){ c, dfd, sfd, g_byte_array_new(), NULL };
        pthread_mutex_lock(&s->lock);
        s->conns[s->nconns++] = c;
        pthread_mutex_unlock(&s->lock);
        c->up.thread = g_thread_new("sniff-up", sniff_pump, &c->up);
        c->down.thread = g_thread_new("sniff-down", sniff_pump, &c->down);
    }
}

Sniff *sniff_new(const char *target)
{
    Sniff *s = g_new0(Sniff, 1);
    static unsigned counter;

    pthread_mutex_init(&s->lock, NULL);
    if (g_str_has_prefix(target, "unix:")) {
        struct sockaddr_un *t = (struct sockaddr_un *)&s->target;
        struct sockaddr_un me = { .sun_family = AF_UNIX };

        s->family = AF_UNIX;
        t->sun_family = AF_UNIX;
        g_assert_cmpuint(strlen(target + 5), <, sizeof(t->sun_path));
        strcpy(t->sun_path, target + 5);
        s->target_len = sizeof(*t);
        s->path = g_strdup_printf("%s/sniff-%d-%u.sock", qtest_tmpdir(),
                                  getpid(), counter++);
        g_assert_cmpuint(strlen(s->path), <, sizeof(me.sun_path));
        strcpy(me.sun_path, s->path);
        s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(bind(s->lfd, (struct sockaddr *)&me, sizeof(me)),
                        ==, 0);
        s->uri = g_strdup_printf("unix:%s", s->path);
    } else {
        struct sockaddr_in *t = (struct sockaddr_in *)&s->target;
        struct sockaddr_in me = { .sin_family = AF_INET };
        socklen_t len = sizeof(me);
        g_auto(GStrv) parts = g_strsplit(target, ":", 3);

        g_assert_cmpstr(parts[0], ==, "tcp");
        g_assert_cmpuint(g_strv_length(parts), ==, 3);
        s->family = AF_INET;
        t->sin_family = AF_INET;
        g_assert_cmpint(inet_pton(AF_INET, parts[1], &t->sin_addr), ==, 1);
        t->sin_port = htons(atoi(parts[2]));
        s->target_len = sizeof(*t);
        me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(bind(s->lfd, (struct sockaddr *)&me, sizeof(me)),
                        ==, 0);
        g_assert_cmpint(getsockname(s->lfd, (struct sockaddr *)&me, &len),
                        ==, 0);
        s->uri = g_strdup_printf("tcp:127.0.0.1:%d", ntohs(me.sin_port));
    }
    g_assert_cmpint(listen(s->lfd, 8), ==, 0);
    s->acceptor = g_thread_new("sniff-accept", sniff_accept, s);
    return s;
}

const char *sniff_uri(Sniff *s)
{
    return s->uri;
}

unsigned sniff_connections(Sniff *s)
{
    unsigned n;

    pthread_mutex_lock(&s->lock);
    n = s->nconns;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void sniff_cut(Sniff *s)
{
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < s->nconns; i++) {
        SniffConn *c = s->conns[i];

        if (c->running) {
            shutdown(c->src_fd, SHUT_RDWR);
            shutdown(c->dst_fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/*
 * Walks @len bytes as TLS records; returns how many there were, or -1
 * (with a message) at the first thing that is not a record.
 */
static int tls_records(const uint8_t *p, size_t len, const char *what)
{
    size_t off = 0;
    int n = 0;

    while (off + 5 <= len) {
        unsigned type = p[off], major = p[off + 1], minor = p[off + 2];
        size_t rlen = (size_t)p[off + 3] << 8 | p[off + 4];

        if (type < 0x14 || type > 0x17 || major != 3 || minor > 4 ||
            rlen > 16384 + 2048) {
            g_test_message("%s: not a TLS record at offset %zu: "
                           "%02x %02x %02x %02x %02x", what, off, p[off],
                           p[off + 1], p[off + 2], p[off + 3], p[off + 4]);
            return -1;
        }
        if (n == 0 && type != 0x16) {
            g_test_message("%s: the first record is of type 0x%02x, not "
                           "a handshake", what, type);
            return -1;
        }
        off += 5 + rlen;
        n++;
    }
    return n;
}

unsigned sniff_assert_tls(Sniff *s, unsigned i)
{
    int up, down;

    pthread_mutex_lock(&s->lock);
    g_assert_cmpuint(i, <, s->nconns);
    up = tls_records(s->conns[i]->up.seen->data, s->conns[i]->up.seen->len,
                     "source -> destination");
    down = tls_records(s->conns[i]->down.seen->data,
                       s->conns[i]->down.seen->len,
                       "destination -> source");
    pthread_mutex_unlock(&s->lock);
    g_test_message("connection %u: %d TLS records from the source, %d "
                   "back", i, up, down);
    g_assert_cmpint(up, >, 0);
    g_assert_cmpint(down, >, 0);
    return up;
}

bool sniff_saw(Sniff *s, unsigned first, const void *needle, size_t len)
{
    bool found = false;

    pthread_mutex_lock(&s->lock);
    for (unsigned i = first; i < s->nconns && !found; i++) {
        GByteArray *dirs[2] = { s->conns[i]->up.seen, s->conns[i]->down.seen };

        for (int k = 0; k < 2 && !found; k++) {
            found = memmem(dirs[k]->data, dirs[k]->len, needle, len) != NULL;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

GBytes *sniff_upstream(Sniff *s, unsigned i, size_t max)
{
    GBytes *b;

    pthread_mutex_lock(&s->lock);
    g_assert_cmpuint(i, <, s->nconns);
    b = g_bytes_new(s->conns[i]->up.seen->data,
                    MIN(max, s->conns[i]->up.seen->len));
    pthread_mutex_unlock(&s->lock);
    return b;
}

void sniff_assert_hidden(Sniff *s, unsigned first, const uint8_t *pattern,
                         size_t len)
{
    g_assert_cmpuint(len, >=, 64 * 32);
    for (size_t k = 0; k < 64; k++) {
        size_t off = (len - 32) / 63 * k;

        if (sniff_saw(s, first, pattern + off, 32)) {
            g_test_message("guest bytes at +0x%zx crossed the link in clear",
                           off);
            g_assert_not_reached();
        }
    }
}

void sniff_check_attempt(Sniff *s, unsigned first, unsigned conns,
                         const uint8_t *pattern, size_t len)
{
    g_assert_cmpuint(sniff_connections(s), ==, first + conns);
    for (unsigned i = first; i < first + conns; i++) {
        sniff_assert_tls(s, i);
    }
    sniff_assert_hidden(s, first, pattern, len);
}

void sniff_free(Sniff *s)
{
    pthread_mutex_lock(&s->lock);
    s->quit = true;
    pthread_mutex_unlock(&s->lock);
    /* Wakes accept() (Linux: a listening socket shut down). */
    shutdown(s->lfd, SHUT_RDWR);
    g_thread_join(s->acceptor);
    close(s->lfd);
    sniff_cut(s);
    for (unsigned i = 0; i < s->nconns; i++) {
        SniffConn *c = s->conns[i];

        g_thread_join(c->up.thread);
        g_thread_join(c->down.thread);
        g_byte_array_unref(c->up.seen);
        g_byte_array_unref(c->down.seen);
        g_free(c);
    }
    if (s->path) {
        unlink(s->path);
    }
    pthread_mutex_destroy(&s->lock);
    g_free(s->path);
    g_free(s->uri);
    g_free(s);
}
