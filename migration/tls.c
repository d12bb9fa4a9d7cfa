/*
 * tls.c: TLS sessions for migration channels.
 *
 * This file only decides *what* session a channel gets — which
 * credentials, which host name, which authz object — from the migration
 * parameters of the moment; crypto/ does TLS and channel.c carries the
 * bytes.  The host name a source checks is tls-hostname, or else the
 * host of a tcp: URI exactly as written (an IP address is matched
 * against the certificate's IP addresses, a name against its DNS
 * names); unix:, fd: and exec: give none, so an x509 source needs
 * tls-hostname there ("No hostname for certificate validation" after the
 * handshake, as in QEMU 7.2).  file: has no peer to talk TLS with and is
 * refused.
 *
 * The TLS layer of a channel (MigChannelLayer) puts the session on top of
 * the channel's raw I/O: the session's push and pull are the raw
 * functions, deadlines and shutdown included, so a TLS channel fails,
 * times out and wakes up exactly as a plain one; whatever fails under it
 * reaches the stream as a channel error, so postcopy pauses on it.  The
 * messages are QEMU 7.2's ("Cannot write to TLS channel: Input/output
 * error" for a reset link, which users' tooling may match), except where
 * ferry knows more than QEMU: a deadline that passed (x-link-timeout)
 * or a channel shut down (cancel, pause) keep their own message.  The
 * return path shares the main channel and so its session: one thread
 * reads while another writes, which GnuTLS allows once the handshake is
 * done, and each direction keeps its own raw error.
 *
 * A session that ends before a single byte of data came is a peer that
 * refused us after the handshake (it disliked our certificate or name):
 * that is an error ("Cannot read from TLS channel"), where QEMU 7.2 also
 * has one; after data, an end without close_notify is just the end, as
 * QEMU 7.2 never sends one.
 */
#include "qemu/osdep.h"
#include "tls.h"
#include "options.h"
#include "crypto/tlssession.h"
#include "qemu/sockets.h"
#include "qemu/atomic.h"
#include "trace.h"

typedef struct TLSLayer {
    MigChannel *c;              /* not a reference: the channel owns us */
    QCryptoTLSSession *sess;
    Error *pull_err;            /* the reading thread's */
    Error *push_err;            /* the writing thread's */
    bool got_data;              /* the reading thread's */
    /*
     * Read-ahead (the reading thread's): GnuTLS pulls a record's 5-byte
     * header and then its body, two system calls (and two polls with a
     * deadline) per record; the layer owns the channel's reading side, so
     * it reads what the socket has, up to TLS_READ_AHEAD, and serves the
     * pulls from it.
     */
    uint8_t *rbuf;
    size_t rpos, rlen;
} TLSLayer;

#define TLS_READ_AHEAD  (64 * 1024)

/*
 * After a raw I/O failure under the session: keep its error only where
 * it says more than QEMU's TLS message would (see above).
 */
static void tls_raw_failed(TLSLayer *t, Error **raw)
{
    if (!mig_channel_timed_out(t->c) && !mig_channel_is_shut_down(t->c)) {
        error_free(*raw);
        *raw = NULL;
    }
    errno = EIO;
}

static ssize_t tls_pull(void *buf, size_t len, void *opaque)
{
    TLSLayer *t = opaque;
    struct iovec iov = { .iov_base = t->rbuf, .iov_len = TLS_READ_AHEAD };
    ssize_t r;

    if (t->rpos == t->rlen) {
        error_free(t->pull_err);
        t->pull_err = NULL;
        r = mig_channel_raw_readv(t->c, &iov, 1, &t->pull_err);
        if (r <= 0) {
            if (r < 0) {
                tls_raw_failed(t, &t->pull_err);
            }
            return r;
        }
        t->rpos = 0;
        t->rlen = r;
    }
    len = MIN(len, t->rlen - t->rpos);
    memcpy(buf, t->rbuf + t->rpos, len);
    t->rpos += len;
    return len;
}

static ssize_t tls_push(const struct iovec *iov, int n, void *opaque)
{
    TLSLayer *t = opaque;
    ssize_t r;

    error_free(t->push_err);
    t->push_err = NULL;
    r = mig_channel_raw_writev(t->c, iov, n, &t->push_err);
    if (r < 0) {
        tls_raw_failed(t, &t->push_err);
    }
    return r;
}

/*
 * A failure of the session: the raw I/O's own error when that is what
 * failed (kept by the callback), else the session's message @err.
 */
static void tls_error(Error **raw, Error *err, Error **errp)
{
    if (*raw) {
        error_free(err);
        error_propagate(errp, *raw);
        *raw = NULL;
    } else {
        error_propagate(errp, err);
    }
}

static ssize_t tls_readv(void *opaque, const struct iovec *iov, int n,
                         Error **errp)
{
    TLSLayer *t = opaque;
    Error *err = NULL;
    ssize_t done = 0;

    /* The first buffer waits for data; the others take what is decrypted. */
    for (int i = 0; i < n; i++) {
        ssize_t r;

        if (i > 0 && !qcrypto_tls_session_pending(t->sess)) {
            break;
        }
        r = qcrypto_tls_session_read(t->sess, iov[i].iov_base,
                                     iov[i].iov_len, &err);
        if (r < 0) {
            if (done) {
                error_free(err);    /* (The next read fails again.) */
                break;
            }
            tls_error(&t->pull_err, err, errp);
            return -1;
        }
        if (r == 0 && !t->got_data && done == 0) {
            error_setg(errp, "Cannot read from TLS channel: %s",
                       strerror(EIO));
            return -1;
        }
        t->got_data |= r > 0;
        done += r;
        if (r == 0 || (size_t)r < iov[i].iov_len) {
            break;
        }
    }
    if (done == 0 && mig_channel_is_shut_down(t->c)) {
        error_setg(errp, "%s: channel shut down", mig_channel_name(t->c));
        return -1;
    }
    return done;
}

static ssize_t tls_writev(void *opaque, const struct iovec *iov, int n,
                          Error **errp)
{
    TLSLayer *t = opaque;
    Error *err = NULL;
    ssize_t r = qcrypto_tls_session_writev(t->sess, iov, n, &err);

    if (r < 0) {
        tls_error(&t->push_err, err, errp);
    }
    return r;
}

static void tls_layer_free(void *opaque)
{
    TLSLayer *t = opaque;

    qcrypto_tls_session_free(t->sess);
    g_free(t->rbuf);
    error_free(t->pull_err);
    error_free(t->push_err);
    g_free(t);
}

static const MigChannelLayer tls_layer = {
    .readv = tls_readv,
    .writev = tls_writev,
    .free = tls_layer_free,
};

/*
 * Runs @sess's handshake over @c, waiting at most @timeout_ms (0: for
 * ever) for each of the peer's flights; then @c carries everything in the
 * session.  @sess is consumed.
 */
static bool channel_start_tls(MigChannel *c, QCryptoTLSSession *sess,
                              int64_t timeout_ms, Error **errp)
{
    TLSLayer *t = g_new0(TLSLayer, 1);
    int64_t saved = mig_channel_read_timeout(c);
    Error *err = NULL;
    bool ok;

    t->c = c;
    t->sess = sess;
    t->rbuf = g_malloc(TLS_READ_AHEAD);
    qcrypto_tls_session_set_callbacks(sess, tls_push, tls_pull, t);
    /* A peer that connects and says nothing is given up at the deadline. */
    if (timeout_ms) {
        mig_channel_set_timeouts(c, timeout_ms, -1);
    }
    ok = qcrypto_tls_session_handshake(sess, &err);
    mig_channel_set_timeouts(c, saved, -1);
    if (!ok) {
        /* A dead link is said as such; a refusal in the session's words. */
        Error **raw = t->pull_err ? &t->pull_err : &t->push_err;

        if (*raw) {
            error_prepend(raw, "TLS handshake failed: ");
        }
        tls_error(raw, err, errp);
        tls_layer_free(t);
        return false;
    }
    trace_mig_channel_tls(mig_channel_name(c),
                          qcrypto_tls_session_peer_name(sess) ?: "");
    mig_channel_set_layer(c, &tls_layer, t);
    return true;
}

bool migration_tls_enabled(void)
{
    g_autofree char *creds = migrate_tls_creds();

    return creds != NULL;
}

/* The host of a tcp: URI, or NULL. */
static char *uri_host(const char *uri)
{
    g_autoptr(SocketAddress) addr = NULL;

    if (!g_str_has_prefix(uri, "tcp:")) {
        return NULL;
    }
    addr = socket_parse(uri, NULL);
    return addr && addr->host ? g_strdup(addr->host) : NULL;
}

static MigChannel *tls_fail(MigChannel *c, Error **errp)
{
    mig_channel_unref(c);
    return NULL;
}

MigChannel *migration_tls_client(MigChannel *c, const char *uri,
                                 Error **errp)
{
    g_autofree char *id = migrate_tls_creds();
    g_autofree char *hostname = migrate_tls_hostname();
    g_autoptr(QCryptoTLSCreds) creds = NULL;
    QCryptoTLSSession *sess;

    if (!id) {
        return c;
    }
    if (g_str_has_prefix(uri, "file:")) {
        error_setg(errp, "TLS cannot be used with a file: migration "
                   "(tls-creds is set)");
        return tls_fail(c, errp);
    }
    creds = qcrypto_tls_creds_lookup(id, errp);
    if (!creds ||
        !qcrypto_tls_creds_check_endpoint(creds,
                                          QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                          errp)) {
        return tls_fail(c, errp);
    }
    if (!hostname) {
        hostname = uri_host(uri);
    }
    sess = qcrypto_tls_session_new(creds, hostname, NULL,
                                   QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, errp);
    if (!sess) {
        return tls_fail(c, errp);
    }
    trace_migration_tls_handshake(mig_channel_name(c), "client", id,
                                  hostname ? hostname : "");
    if (!channel_start_tls(c, sess, migrate_link_timeout(), errp)) {
        return tls_fail(c, errp);
    }
    return c;
}

MigChannel *migration_tls_server(MigChannel *c, Error **errp)
{
    g_autofree char *id = migrate_tls_creds();
    g_autofree char *authz = migrate_tls_authz();
    g_autoptr(QCryptoTLSCreds) creds = NULL;
    QCryptoTLSSession *sess;

    if (!id) {
        return c;
    }
    creds = qcrypto_tls_creds_lookup(id, errp);
    if (!creds ||
        !qcrypto_tls_creds_check_endpoint(creds,
                                          QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                          errp)) {
        return tls_fail(c, errp);
    }
    sess = qcrypto_tls_session_new(creds, NULL, authz,
                                   QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, errp);
    if (!sess) {
        return tls_fail(c, errp);
    }
    trace_migration_tls_handshake(mig_channel_name(c), "server", id,
                                  authz ? authz : "");
    if (!channel_start_tls(c, sess, migrate_link_timeout(), errp)) {
        return tls_fail(c, errp);
    }
    return c;
}
