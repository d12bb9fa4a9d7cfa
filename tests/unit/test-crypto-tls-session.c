/*
 * test-crypto-tls-session: real GnuTLS handshakes and data between a
 * client and a server session, with QEMU 7.2's messages.
 *
 * Sessions talk over a socketpair: the server side runs its handshake in
 * a thread, the client in the test's thread; a side whose handshake or
 * checks fail shuts its end down (as QEMU closes the connection, with no
 * alert), so the other side sees what a QEMU peer would.  Sockets carry
 * a receive/send deadline: a test that would hang fails with ETIMEDOUT
 * instead.
 */
#include "qemu/osdep.h"
#include "crypto/tlssession.h"
#include "test-crypto-tls.h"
#include <sys/socket.h>

#define IO_DEADLINE_S 20

/* ---- sessions over a socketpair ------------------------------------ */

typedef struct Peer {
    QCryptoTLSSession *sess;
    int fd;
    unsigned pushes;            /* push calls; atomic */
    bool ok;
    Error *err;
} Peer;

static ssize_t peer_push(const struct iovec *iov, int n, void *opaque)
{
    Peer *p = opaque;
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
    ssize_t r;

    do {
        r = sendmsg(p->fd, &msg, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        errno = ETIMEDOUT;      /* the deadline: fatal, never retried */
    }
    __atomic_add_fetch(&p->pushes, 1, __ATOMIC_RELAXED);
    return r;
}

static ssize_t peer_pull(void *buf, size_t len, void *opaque)
{
    Peer *p = opaque;
    ssize_t r;

    do {
        r = recv(p->fd, buf, len, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        errno = ETIMEDOUT;
    }
    return r;
}

typedef struct Pair {
    Peer srv, cli;
    QCryptoTLSCreds *srv_creds, *cli_creds;
} Pair;

static void pair_setup(Pair *pr, QCryptoTLSCreds *srv_creds,
                       QCryptoTLSCreds *cli_creds, const char *hostname,
                       const char *authzid)
{
    struct timeval tv = { .tv_sec = IO_DEADLINE_S };
    int fds[2];

    memset(pr, 0, sizeof(*pr));
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
    for (int i = 0; i < 2; i++) {
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    pr->srv.fd = fds[0];
    pr->cli.fd = fds[1];
    pr->srv_creds = srv_creds;
    pr->cli_creds = cli_creds;
    pr->srv.sess = qcrypto_tls_session_new(srv_creds, NULL, authzid,
                                           QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                           &error_abort);
    pr->cli.sess = qcrypto_tls_session_new(cli_creds, hostname, NULL,
                                           QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                           &error_abort);
    qcrypto_tls_session_set_callbacks(pr->srv.sess, peer_push, peer_pull,
                                      &pr->srv);
    qcrypto_tls_session_set_callbacks(pr->cli.sess, peer_push, peer_pull,
                                      &pr->cli);
}

static void pair_teardown(Pair *pr)
{
    qcrypto_tls_session_free(pr->srv.sess);
    qcrypto_tls_session_free(pr->cli.sess);
    close(pr->srv.fd);
    close(pr->cli.fd);
    error_free(pr->srv.err);
    error_free(pr->cli.err);
    qcrypto_tls_creds_unref(pr->srv_creds);
    qcrypto_tls_creds_unref(pr->cli_creds);
}

static void peer_handshake(Peer *p)
{
    p->ok = qcrypto_tls_session_handshake(p->sess, &p->err);
    if (!p->ok) {
        shutdown(p->fd, SHUT_RDWR);     /* QEMU closes, sending nothing */
    }
}

static gpointer server_handshake_thread(gpointer opaque)
{
    peer_handshake(opaque);
    return NULL;
}

static void pair_handshake(Pair *pr)
{
    GThread *t = g_thread_new("tls-server", server_handshake_thread,
                              &pr->srv);

    peer_handshake(&pr->cli);
    g_thread_join(t);
}

static const char *peer_error(Peer *p)
{
    return p->err ? error_get_pretty(p->err) : "(none)";
}

#define assert_peer_ok(p) do {                                       \
        if (!(p)->ok) {                                              \
            g_error("%s: unexpected failure: %s", #p, peer_error(p)); \
        }                                                            \
    } while (0)

#define assert_peer_fails(p, msg) do {                               \
        g_assert_false((p)->ok);                                     \
        g_assert_cmpstr(peer_error(p), ==, (msg));                   \
    } while (0)

static void peer_write_all(Peer *p, const void *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

    g_assert_cmpint(qcrypto_tls_session_writev(p->sess, &iov, 1,
                                               &error_abort), ==, len);
}

static void peer_read_all(Peer *p, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t r = qcrypto_tls_session_read(p->sess, (char *)buf + got,
                                             len - got, &error_abort);

        g_assert_cmpint(r, >, 0);
        got += r;
    }
}

/* A short exchange each way, then the client leaves with no close_notify */
static void pair_exchange(Pair *pr)
{
    char buf[16];

    peer_write_all(&pr->cli, "ping from client", 16);
    peer_read_all(&pr->srv, buf, 16);
    g_assert_cmpmem(buf, 16, "ping from client", 16);
    peer_write_all(&pr->srv, "pong from server", 16);
    peer_read_all(&pr->cli, buf, 16);
    g_assert_cmpmem(buf, 16, "pong from server", 16);
    shutdown(pr->cli.fd, SHUT_RDWR);
    g_assert_cmpint(qcrypto_tls_session_read(pr->srv.sess, buf, sizeof(buf),
                                             &error_abort), ==, 0);
}

/* A side that rejected its peer left; the peer then sees a closed link. */
static void assert_peer_gone(Peer *p)
{
    Error *err = NULL;
    char buf[8];
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

    g_assert_cmpint(qcrypto_tls_session_read(p->sess, buf, sizeof(buf),
                                             &error_abort), ==, 0);
    g_assert_cmpint(qcrypto_tls_session_writev(p->sess, &iov, 1, &err),
                    ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Cannot write to TLS channel: Input/output error");
    error_free(err);
}

static void x509_case(const char *srv_dir, const char *srv_extra,
                      const char *cli_dir, const char *cli_extra,
                      const char *hostname, const char *authzid,
                      const char *srv_msg, const char *cli_msg)
{
    Pair pr;

    NEED_CERTS();
    pair_setup(&pr, creds_new("tls-creds-x509", srv_dir, "server",
                              srv_extra),
               creds_new("tls-creds-x509", cli_dir, "client", cli_extra),
               hostname, authzid);
    pair_handshake(&pr);
    if (srv_msg) {
        assert_peer_fails(&pr.srv, srv_msg);
    } else {
        assert_peer_ok(&pr.srv);
    }
    if (cli_msg) {
        assert_peer_fails(&pr.cli, cli_msg);
    } else {
        assert_peer_ok(&pr.cli);
    }
    if (!srv_msg && !cli_msg) {
        pair_exchange(&pr);
    } else if (!srv_msg) {
        assert_peer_gone(&pr.srv);
    } else if (!cli_msg) {
        assert_peer_gone(&pr.cli);
    }
    pair_teardown(&pr);
}

static void test_x509_good(void)
{
    Pair pr;

    NEED_CERTS();
    pair_setup(&pr, creds_new("tls-creds-x509", "server", "server", ""),
               creds_new("tls-creds-x509", "client", "client", ""),
               "localhost", NULL);
    pair_handshake(&pr);
    assert_peer_ok(&pr.srv);
    assert_peer_ok(&pr.cli);
    g_assert_cmpstr(qcrypto_tls_session_peer_name(pr.srv.sess), ==,
                    TLS_CERTS_CLIENT_DN);
    g_assert_cmpstr(qcrypto_tls_session_peer_name(pr.cli.sess), ==,
                    "CN=localhost");
    pair_exchange(&pr);
    pair_teardown(&pr);
}

static void test_x509_ip_san(void)
{
    x509_case("server", "", "client", "", "127.0.0.1", NULL, NULL, NULL);
}

static void test_x509_tls12(void)
{
    x509_case("server", "", "client", ",priority=NORMAL:-VERS-TLS1.3",
              "localhost", NULL, NULL, NULL);
}

static void test_x509_hostname_mismatch(void)
{
    x509_case("server-otherhost", "", "client", "", "localhost", NULL, NULL,
              "Certificate does not match the hostname localhost");
}

static void test_x509_no_hostname(void)
{
    x509_case("server", "", "client", "", NULL, NULL, NULL,
              "No hostname for certificate validation");
}

static void test_x509_wrong_ca(void)
{
    x509_case("server", "", "client-wrongca", "", "localhost", NULL,
              "Verify failed: No certificate was found.",
              "The certificate hasn't got a known issuer");
}

static void test_x509_expired(void)
{
    /* GnuTLS's chain check sees it first: INVALID|EXPIRED, QEMU's words */
    x509_case("server-expired", ",sanity-check=off", "client", "",
              "localhost", NULL, NULL, "The certificate is not trusted");
}

static void test_x509_client_verify_off(void)
{
    x509_case("server-otherhost", "", "client", ",verify-peer=off", NULL,
              NULL, NULL, NULL);
}

static void test_x509_no_client_cert(void)
{
    x509_case("server", "", "client-nocert", "", "localhost", NULL,
              "Verify failed: No certificate was found.", NULL);
}

static void test_x509_no_client_cert_verify_off(void)
{
    Pair pr;

    NEED_CERTS();
    pair_setup(&pr, creds_new("tls-creds-x509", "server", "server",
                              ",verify-peer=off"),
               creds_new("tls-creds-x509", "client-nocert", "client", ""),
               "localhost", NULL);
    pair_handshake(&pr);
    assert_peer_ok(&pr.srv);
    assert_peer_ok(&pr.cli);
    g_assert_null(qcrypto_tls_session_peer_name(pr.srv.sess));
    pair_exchange(&pr);
    pair_teardown(&pr);
}

static void test_x509_client_other_ca(void)
{
    /* not presented at all: GnuTLS's client sends no unacceptable cert */
    x509_case("server", "", "client-othercert", ",sanity-check=off",
              "localhost", NULL, "Verify failed: No certificate was found.",
              NULL);
    x509_case("server", ",verify-peer=off", "client-othercert",
              ",sanity-check=off", "localhost", NULL, NULL, NULL);
}

static void test_x509_authz_allowed(void)
{
    g_autofree char *az = obj_add(
        "authz-simple", "identity=O=ferry tests,,CN=client.example",
        &error_abort);

    x509_case("server", "", "client", "", "localhost", az, NULL, NULL);
}

static void test_x509_authz_denied(void)
{
    g_autofree char *az = obj_add("authz-simple",
                                  "identity=CN=client.example,,O=ferry tests",
                                  &error_abort);

    x509_case("server", "", "client", "", "localhost", az,
              "TLS x509 authz check for " TLS_CERTS_CLIENT_DN " is denied",
              NULL);
}

static void test_x509_authz_missing(void)
{
    x509_case("server", "", "client", "", "localhost", "nosuch",
              "Cannot find QAuthZ object ID nosuch", NULL);
    /* QEMU 7.2's pitfall: an explicitly empty tls-authz rejects everyone */
    x509_case("server", "", "client", "", "localhost", "",
              "Cannot find QAuthZ object ID ", NULL);
}

static void test_handshake_peer_silent(void)
{
    Pair pr;

    NEED_CERTS();
    pair_setup(&pr, creds_new("tls-creds-x509", "server", "server", ""),
               creds_new("tls-creds-x509", "client", "client", ""),
               "localhost", NULL);
    /* a client that connects and leaves */
    shutdown(pr.cli.fd, SHUT_RDWR);
    peer_handshake(&pr.srv);
    assert_peer_fails(&pr.srv, "TLS handshake failed: The TLS connection "
                      "was non-properly terminated.");
    pair_teardown(&pr);
}

static void psk_case(const char *cli_dir, const char *cli_extra,
                     const char *peer, const char *srv_msg,
                     const char *cli_msg)
{
    Pair pr;

    NEED_CERTS();
    pair_setup(&pr, creds_new("tls-creds-psk", "psk-server", "server", ""),
               creds_new("tls-creds-psk", cli_dir, "client", cli_extra),
               "ignored.example", "ignored-authz");
    pair_handshake(&pr);
    if (!srv_msg && !cli_msg) {
        assert_peer_ok(&pr.srv);
        assert_peer_ok(&pr.cli);
        /* PSK: no host name check, and tls-authz is ignored */
        g_assert_cmpstr(qcrypto_tls_session_peer_name(pr.srv.sess), ==,
                        peer);
        g_assert_null(qcrypto_tls_session_peer_name(pr.cli.sess));
        pair_exchange(&pr);
    } else {
        assert_peer_fails(&pr.srv, srv_msg);
        assert_peer_fails(&pr.cli, cli_msg);
    }
    pair_teardown(&pr);
}

static void test_psk_good(void)
{
    psk_case("psk-client", "", "qemu", NULL, NULL);
    psk_case("psk-client", ",username=alice", "alice", NULL, NULL);
}

static void test_psk_wrong_key(void)
{
    psk_case("psk-wrong", "", NULL,
             "TLS handshake failed: An illegal parameter has been received.",
             "TLS handshake failed: The TLS connection was non-properly "
             "terminated.");
}

static void test_psk_unknown_user(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *file = NULL;

    NEED_CERTS();
    dir = dir_of("psk-bob");
    file = g_build_filename(dir, "keys.psk", NULL);
    mkdir(dir, 0700);
    g_assert_true(g_file_set_contents(
        file, "bob:00112233445566778899aabbccddeeff\n", -1, NULL));
    psk_case("psk-bob", ",username=bob", NULL,
             "TLS handshake failed: An illegal parameter has been received.",
             "TLS handshake failed: The TLS connection was non-properly "
             "terminated.");
}

/* ---- data ---------------------------------------------------------- */

#define STREAM_LEN (4u << 20)

static uint8_t stream_byte(unsigned seed, size_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13) ^ (uint8_t)seed;
}

typedef struct Streamer {
    Peer *peer;
    unsigned seed;
    bool write;
} Streamer;

/* Writes or reads-and-checks STREAM_LEN bytes, in uneven pieces. */
static gpointer streamer_run(gpointer opaque)
{
    Streamer *s = opaque;
    g_autofree uint8_t *buf = g_malloc(65536);
    size_t done = 0;
    unsigned piece = 0;

    while (done < STREAM_LEN) {
        size_t len = MIN(STREAM_LEN - done, 1 + (piece++ * 7919) % 65536);

        if (s->write) {
            for (size_t i = 0; i < len; i++) {
                buf[i] = stream_byte(s->seed, done + i);
            }
            peer_write_all(s->peer, buf, len);
        } else {
            ssize_t r = qcrypto_tls_session_read(s->peer->sess, buf, len,
                                                 &error_abort);

            g_assert_cmpint(r, >, 0);
            for (ssize_t i = 0; i < r; i++) {
                if (buf[i] != stream_byte(s->seed, done + i)) {
                    g_error("byte %zu differs", done + i);
                }
            }
            len = r;
        }
        done += len;
    }
    return NULL;
}

static void test_concurrent_read_write(void)
{
    Pair pr;
    Streamer s[4];
    GThread *t[4];

    NEED_CERTS();
    pair_setup(&pr, creds_new("tls-creds-x509", "server", "server", ""),
               creds_new("tls-creds-x509", "client", "client", ""),
               "localhost", NULL);
    pair_handshake(&pr);
    assert_peer_ok(&pr.srv);
    assert_peer_ok(&pr.cli);
    /*
     * Both directions at once on both sessions: a socketpair holds far
     * less than 4 MiB, so a session that serialised reads and writes
     * would deadlock (and fail at the socket deadline).
     */
    s[0] = (Streamer){ &pr.cli, 1, true };
    s[1] = (Streamer){ &pr.srv, 1, false };
    s[2] = (Streamer){ &pr.srv, 2, true };
    s[3] = (Streamer){ &pr.cli, 2, false };
    for (int i = 0; i < 4; i++) {
        t[i] = g_thread_new("stream", streamer_run, &s[i]);
    }
    for (int i = 0; i < 4; i++) {
        g_thread_join(t[i]);
    }
    pair_teardown(&pr);
}

typedef struct Reader {
    Peer *peer;
    uint8_t *buf;
    size_t len;
} Reader;

static gpointer reader_run(gpointer opaque)
{
    Reader *r = opaque;

    peer_read_all(r->peer, r->buf, r->len);
    return NULL;
}

static void test_writev_small_buffers(void)
{
    enum { N = 2000 };
    g_autofree struct iovec *iov = g_new0(struct iovec, N + 2);
    g_autofree uint8_t *data = NULL;
    g_autofree uint8_t *got = NULL;
    size_t total = 0, off = 0;
    unsigned pushes;
    Reader reader;
    GThread *t;
    Pair pr;

    NEED_CERTS();
    for (int i = 0; i < N; i++) {
        total += 1 + i % 61;
    }
    total += 100000;                        /* one big element too */
    data = g_malloc(total);
    got = g_malloc(total);
    for (size_t i = 0; i < total; i++) {
        data[i] = stream_byte(7, i);
    }
    for (int i = 0; i < N + 1; i++) {
        size_t len = i == N / 2 ? 100000 : 1 + (i - (i > N / 2)) % 61;

        iov[i].iov_base = data + off;
        iov[i].iov_len = len;
        off += len;
    }
    iov[N + 1].iov_base = data;             /* an empty element */
    iov[N + 1].iov_len = 0;
    g_assert_cmpuint(off, ==, total);

    pair_setup(&pr, creds_new("tls-creds-psk", "psk-server", "server", ""),
               creds_new("tls-creds-psk", "psk-client", "client", ""),
               NULL, NULL);
    pair_handshake(&pr);
    assert_peer_ok(&pr.srv);
    assert_peer_ok(&pr.cli);
    pushes = __atomic_load_n(&pr.cli.pushes, __ATOMIC_RELAXED);
    reader = (Reader){ &pr.srv, got, total };
    t = g_thread_new("reader", reader_run, &reader);
    g_assert_cmpint(qcrypto_tls_session_writev(pr.cli.sess, iov, N + 2,
                                               &error_abort), ==, total);
    g_thread_join(t);
    g_assert_cmpmem(got, total, data, total);
    /*
     * ~160 KiB in 2002 pieces: gathered, that is ~10 full records, not
     * 2001 tiny ones (each push carries one record or more).
     */
    pushes = __atomic_load_n(&pr.cli.pushes, __ATOMIC_RELAXED) - pushes;
    g_test_message("%u pushes for %zu bytes in %d buffers", pushes, total,
                   N + 2);
    g_assert_cmpuint(pushes, <, 40);
    pair_teardown(&pr);
}

void test_crypto_tls_add_session_tests(void)
{
    g_test_add_func("/crypto/tls/x509/good", test_x509_good);
    g_test_add_func("/crypto/tls/x509/ip-san", test_x509_ip_san);
    g_test_add_func("/crypto/tls/x509/tls12", test_x509_tls12);
    g_test_add_func("/crypto/tls/x509/hostname-mismatch",
                    test_x509_hostname_mismatch);
    g_test_add_func("/crypto/tls/x509/no-hostname", test_x509_no_hostname);
    g_test_add_func("/crypto/tls/x509/wrong-ca", test_x509_wrong_ca);
    g_test_add_func("/crypto/tls/x509/expired", test_x509_expired);
    g_test_add_func("/crypto/tls/x509/client-verify-off",
                    test_x509_client_verify_off);
    g_test_add_func("/crypto/tls/x509/no-client-cert",
                    test_x509_no_client_cert);
    g_test_add_func("/crypto/tls/x509/no-client-cert-verify-off",
                    test_x509_no_client_cert_verify_off);
    g_test_add_func("/crypto/tls/x509/client-other-ca",
                    test_x509_client_other_ca);
    g_test_add_func("/crypto/tls/x509/authz-allowed",
                    test_x509_authz_allowed);
    g_test_add_func("/crypto/tls/x509/authz-denied", test_x509_authz_denied);
    g_test_add_func("/crypto/tls/x509/authz-missing",
                    test_x509_authz_missing);
    g_test_add_func("/crypto/tls/x509/peer-silent",
                    test_handshake_peer_silent);
    g_test_add_func("/crypto/tls/psk/good", test_psk_good);
    g_test_add_func("/crypto/tls/psk/wrong-key", test_psk_wrong_key);
    g_test_add_func("/crypto/tls/psk/unknown-user", test_psk_unknown_user);
    g_test_add_func("/crypto/tls/data/concurrent",
                    test_concurrent_read_write);
    g_test_add_func("/crypto/tls/data/writev-small",
                    test_writev_small_buffers);
}
