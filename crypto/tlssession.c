/*
 * tlssession.c: one GnuTLS session over a push/pull byte transport.
 *
 * Design: the session never touches a file descriptor.  GnuTLS calls
 * our push/pull shims, which call the transport's blocking callbacks, so
 * the same code serves sockets, exec: pipes and passed fds, and the
 * transport keeps its own deadlines and its own Error (the channel layer
 * prefers it over ours when it failed).  Everything is blocking: the
 * handshake loops until done, reads return at least one byte or EOF.
 *
 * What QEMU 7.2 does and we therefore do too (spec B.3-B.7):
 *   - priority: the creds' string or "NORMAL"; psk appends
 *     ":+ECDHE-PSK:+DHE-PSK:+PSK";
 *   - no SNI is sent; an x509 server asks for (does not demand) a client
 *     certificate and enforces it in the checks after the handshake;
 *   - those checks, in QEMU's order: chain status, then per certificate
 *     expiry and activation, the leaf's DN for authz (server) and the
 *     host name (client); verify-peer=off skips them all;
 *   - 7.2 never sends close_notify, so a transport EOF after the
 *     handshake is a plain end of stream, not an error;
 *   - read and write failures read "Cannot read from TLS channel:
 *     Input/output error" exactly as 7.2's channel words them (it maps
 *     every GnuTLS error to EIO); the GnuTLS reason goes to the trace.
 * The server also says GNUTLS_NO_TICKETS: without a ticket key GnuTLS
 * sends no session tickets anyway (7.2 was seen sending none), the flag
 * keeps it so.  Where we differ: writev gathers small buffers into full
 * records (7.2 sends one record per buffer; record boundaries mean
 * nothing to the receiver).
 *
 * Threads: after the handshake one thread may read while another writes,
 * which GnuTLS supports on an established session as long as neither
 * renegotiates or updates keys (ferry never asks for either).  That is
 * why the shims leave failures in the thread-local errno (GnuTLS's errno
 * hook reads it) instead of gnutls_transport_set_errno(), which writes a
 * field shared by both directions.
 */
#include "qemu/osdep.h"
#include "crypto/tlssession.h"
#include "authz/base.h"
#include "tlscredspriv.h"
#include "trace.h"
#include <gnutls/x509.h>

#define TLS_PRIORITY_ADDITIONAL_PSK "+ECDHE-PSK:+DHE-PSK:+PSK"

/*
 * writev: buffers at least this big go out directly (no copy); smaller
 * ones are corked together, and flushed at least every FLUSH bytes so
 * the copy stays bounded.  16 KiB is TLS's largest record payload.
 */
#define TLS_WRITEV_DIRECT 16384
#define TLS_WRITEV_FLUSH (4 * TLS_WRITEV_DIRECT)

struct QCryptoTLSSession {
    QCryptoTLSCreds *creds;         /* a reference */
    QCryptoTLSCredsEndpoint endpoint;
    gnutls_session_t handle;
    char *hostname;
    char *authzid;
    QCryptoTLSSessionPush *push;
    QCryptoTLSSessionPull *pull;
    void *opaque;
    bool handshake_done;            /* written by the handshake thread */
    char *peername;                 /* idem, before any other thread */
};

/*
 * GnuTLS hands over every record it has ready at once (all of a corked
 * batch): one vectored push, one system call for them all.  A giovec_t is
 * laid out as a struct iovec.
 */
G_STATIC_ASSERT(sizeof(giovec_t) == sizeof(struct iovec));
G_STATIC_ASSERT(offsetof(giovec_t, iov_len) ==
                offsetof(struct iovec, iov_len));

static ssize_t tls_session_push(gnutls_transport_ptr_t ptr,
                                const giovec_t *iov, int n)
{
    QCryptoTLSSession *sess = ptr;

    if (!sess->push) {
        errno = EIO;
        return -1;
    }
    return sess->push((const struct iovec *)iov, n, sess->opaque);
}

static ssize_t tls_session_pull(gnutls_transport_ptr_t ptr, void *buf,
                                size_t len)
{
    QCryptoTLSSession *sess = ptr;

    if (!sess->pull) {
        errno = EIO;
        return -1;
    }
    return sess->pull(buf, len, sess->opaque);
}

static int tls_session_errno(gnutls_transport_ptr_t ptr)
{
    return errno;
}

void qcrypto_tls_session_free(QCryptoTLSSession *sess)
{
    if (!sess) {
        return;
    }
    if (sess->handle) {
        gnutls_deinit(sess->handle);
    }
    qcrypto_tls_creds_unref(sess->creds);
    g_free(sess->hostname);
    g_free(sess->authzid);
    g_free(sess->peername);
    g_free(sess);
}

static bool tls_session_set_priority(QCryptoTLSSession *sess, Error **errp)
{
    QCryptoTLSCreds *creds = sess->creds;
    const char *base = creds->priority ? creds->priority :
                       QCRYPTO_TLS_DEFAULT_PRIORITY;
    g_autofree char *prio = NULL;
    int ret;

    if (creds->kind == QCRYPTO_TLS_CREDS_KIND_X509) {
        ret = gnutls_priority_set_direct(sess->handle, base, NULL);
        if (ret < 0) {
            error_setg(errp, "Cannot set default TLS session priority %s: %s",
                       base, gnutls_strerror(ret));
            return false;
        }
        return true;
    }
    prio = g_strdup_printf("%s:%s", base, TLS_PRIORITY_ADDITIONAL_PSK);
    ret = gnutls_priority_set_direct(sess->handle, prio, NULL);
    if (ret < 0) {
        error_setg(errp, "Unable to set TLS session priority %s: %s",
                   prio, gnutls_strerror(ret));
        return false;
    }
    return true;
}

static bool tls_session_set_credentials(QCryptoTLSSession *sess,
                                        Error **errp)
{
    QCryptoTLSCreds *creds = sess->creds;
    bool server = sess->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER;
    int ret;

    if (creds->kind == QCRYPTO_TLS_CREDS_KIND_X509) {
        ret = gnutls_credentials_set(sess->handle, GNUTLS_CRD_CERTIFICATE,
                                     creds->x509);
        if (ret >= 0 && server) {
            /* Asked for, not demanded: the checks below enforce it. */
            gnutls_certificate_server_set_request(sess->handle,
                                                  GNUTLS_CERT_REQUEST);
        }
    } else if (server) {
        ret = gnutls_credentials_set(sess->handle, GNUTLS_CRD_PSK,
                                     creds->psk_server);
    } else {
        ret = gnutls_credentials_set(sess->handle, GNUTLS_CRD_PSK,
                                     creds->psk_client);
    }
    if (ret < 0) {
        error_setg(errp, "Cannot set session credentials: %s",
                   gnutls_strerror(ret));
        return false;
    }
    return true;
}

QCryptoTLSSession *qcrypto_tls_session_new(QCryptoTLSCreds *creds,
                                           const char *hostname,
                                           const char *authzid,
                                           QCryptoTLSCredsEndpoint endpoint,
                                           Error **errp)
{
    QCryptoTLSSession *sess = g_new0(QCryptoTLSSession, 1);
    int ret;

    trace_qcrypto_tls_session_new(sess, creds, hostname ? hostname : "<none>",
                                  authzid ? authzid : "<none>", endpoint);
    sess->creds = qcrypto_tls_creds_ref(creds);
    sess->endpoint = endpoint;
    sess->hostname = g_strdup(hostname);
    sess->authzid = g_strdup(authzid);

    if (!qcrypto_tls_creds_check_endpoint(creds, endpoint, errp)) {
        goto fail;
    }
    ret = gnutls_init(&sess->handle,
                      endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER ?
                      GNUTLS_SERVER | GNUTLS_NO_TICKETS : GNUTLS_CLIENT);
    if (ret < 0) {
        sess->handle = NULL;
        error_setg(errp, "Cannot initialize TLS session: %s",
                   gnutls_strerror(ret));
        goto fail;
    }
    if (!tls_session_set_priority(sess, errp) ||
        !tls_session_set_credentials(sess, errp)) {
        goto fail;
    }
    gnutls_transport_set_ptr(sess->handle, sess);
    gnutls_transport_set_vec_push_function(sess->handle, tls_session_push);
    gnutls_transport_set_pull_function(sess->handle, tls_session_pull);
    gnutls_transport_set_errno_function(sess->handle, tls_session_errno);
    return sess;

fail:
    qcrypto_tls_session_free(sess);
    return NULL;
}

void qcrypto_tls_session_set_callbacks(QCryptoTLSSession *sess,
                                       QCryptoTLSSessionPush *push,
                                       QCryptoTLSSessionPull *pull,
                                       void *opaque)
{
    sess->push = push;
    sess->pull = pull;
    sess->opaque = opaque;
}

/* The RFC 4514 DN of @cert (as QEMU renders it for authz), or NULL. */
static char *tls_session_cert_dn(gnutls_x509_crt_t cert, Error **errp)
{
    size_t size = 0;
    char *dn;
    int ret = gnutls_x509_crt_get_dn(cert, NULL, &size);

    if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER) {
        dn = g_malloc0(size + 1);
        ret = gnutls_x509_crt_get_dn(cert, dn, &size);
        if (ret >= 0) {
            return dn;
        }
        g_free(dn);
    }
    error_setg(errp, "Cannot get client distinguished name: %s",
               gnutls_strerror(ret < 0 ? ret : GNUTLS_E_INTERNAL_ERROR));
    return NULL;
}

/* The leaf's checks: its DN against authz (server), its host name. */
static bool tls_session_check_leaf(QCryptoTLSSession *sess,
                                   gnutls_x509_crt_t cert, Error **errp)
{
    sess->peername = tls_session_cert_dn(cert, errp);
    if (!sess->peername) {
        return false;
    }
    if (sess->authzid) {
        Error *err = NULL;
        bool allowed = qauthz_is_allowed_by_id(sess->authzid, sess->peername,
                                               &err);

        if (err) {
            error_propagate(errp, err);
            return false;
        }
        if (!allowed) {
            error_setg(errp, "TLS x509 authz check for %s is denied",
                       sess->peername);
            return false;
        }
    }
    if (sess->hostname) {
        if (!gnutls_x509_crt_check_hostname(cert, sess->hostname)) {
            error_setg(errp, "Certificate does not match the hostname %s",
                       sess->hostname);
            return false;
        }
    } else if (sess->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT) {
        error_setg(errp, "No hostname for certificate validation");
        return false;
    }
    return true;
}

static bool tls_session_check_certificate(QCryptoTLSSession *sess,
                                          Error **errp)
{
    const gnutls_datum_t *certs;
    unsigned int status = 0, ncerts = 0;
    time_t now = time(NULL);
    int ret;

    if (now == (time_t)-1) {
        error_setg_errno(errp, errno, "Cannot get current time");
        return false;
    }
    ret = gnutls_certificate_verify_peers2(sess->handle, &status);
    if (ret < 0) {
        /* No certificate at all: "... No certificate was found." */
        error_setg(errp, "Verify failed: %s", gnutls_strerror(ret));
        return false;
    }
    if (status) {
        error_setg(errp, "%s", qcrypto_tls_x509_status_reason(status));
        return false;
    }
    certs = gnutls_certificate_get_peers(sess->handle, &ncerts);
    if (!certs || !ncerts) {
        error_setg(errp, "No certificate peers");
        return false;
    }
    for (unsigned int i = 0; i < ncerts; i++) {
        gnutls_x509_crt_t cert;
        bool ok = false;

        ret = gnutls_x509_crt_init(&cert);
        if (ret < 0) {
            error_setg(errp, "Cannot initialize certificate: %s",
                       gnutls_strerror(ret));
            return false;
        }
        ret = gnutls_x509_crt_import(cert, &certs[i], GNUTLS_X509_FMT_DER);
        if (ret < 0) {
            error_setg(errp, "Cannot import certificate: %s",
                       gnutls_strerror(ret));
        } else if (gnutls_x509_crt_get_expiration_time(cert) < now) {
            error_setg(errp, "The certificate has expired");
        } else if (gnutls_x509_crt_get_activation_time(cert) > now) {
            error_setg(errp, "The certificate is not yet activated");
        } else {
            ok = i > 0 || tls_session_check_leaf(sess, cert, errp);
        }
        gnutls_x509_crt_deinit(cert);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool tls_session_check_credentials(QCryptoTLSSession *sess,
                                          Error **errp)
{
    const char *status = "pass";
    bool ok = true;

    if (sess->creds->kind == QCRYPTO_TLS_CREDS_KIND_PSK) {
        /* The key proved the peer; its name is for traces and messages. */
        if (sess->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
            const char *user = gnutls_psk_server_get_username(sess->handle);

            sess->peername = g_strdup(user);
        }
        status = "nop";
    } else if (!sess->creds->verify_peer) {
        status = "skip";
    } else {
        ok = tls_session_check_certificate(sess, errp);
        status = ok ? "pass" : "fail";
    }
    trace_qcrypto_tls_session_check_creds(sess, status,
        sess->peername ? sess->peername : "<none>");
    return ok;
}

bool qcrypto_tls_session_handshake(QCryptoTLSSession *sess, Error **errp)
{
    int ret;

    trace_qcrypto_tls_session_handshake_start(sess);
    do {
        ret = gnutls_handshake(sess->handle);
    } while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
    if (ret < 0) {
        trace_qcrypto_tls_session_handshake_fail(sess, ret,
                                                 gnutls_strerror(ret));
        error_setg(errp, "TLS handshake failed: %s", gnutls_strerror(ret));
        return false;
    }
    sess->handshake_done = true;
    trace_qcrypto_tls_session_handshake_done(sess,
        gnutls_protocol_get_name(gnutls_protocol_get_version(sess->handle)),
        gnutls_cipher_get_name(gnutls_cipher_get(sess->handle)));
    return tls_session_check_credentials(sess, errp);
}

/* Sends @len bytes, one record per call when not corked. */
static int tls_session_send_all(QCryptoTLSSession *sess, const char *p,
                                size_t len)
{
    while (len) {
        ssize_t ret = gnutls_record_send(sess->handle, p, len);

        if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        if (ret < 0) {
            return ret;
        }
        p += ret;
        len -= ret;
    }
    return 0;
}

ssize_t qcrypto_tls_session_writev(QCryptoTLSSession *sess,
                                   const struct iovec *iov, int n,
                                   Error **errp)
{
    size_t total = 0, corked = 0;
    int ret = 0;

    gnutls_record_cork(sess->handle);
    for (int i = 0; i < n && ret >= 0; i++) {
        const char *p = iov[i].iov_base;
        size_t len = iov[i].iov_len;

        if (len >= TLS_WRITEV_DIRECT || corked >= TLS_WRITEV_FLUSH) {
            /* Flush the small ones first: the byte order must hold. */
            ret = gnutls_record_uncork(sess->handle, GNUTLS_RECORD_WAIT);
            corked = 0;
            if (ret >= 0 && len >= TLS_WRITEV_DIRECT) {
                ret = tls_session_send_all(sess, p, len);
                len = 0;
            }
            gnutls_record_cork(sess->handle);
        }
        if (ret >= 0 && len) {
            ret = tls_session_send_all(sess, p, len);
            corked += len;
        }
        total += iov[i].iov_len;
    }
    if (ret >= 0) {
        ret = gnutls_record_uncork(sess->handle, GNUTLS_RECORD_WAIT);
    }
    if (ret < 0) {
        trace_qcrypto_tls_session_io_fail(sess, "write", ret,
                                          gnutls_strerror(ret));
        error_setg_errno(errp, EIO, "Cannot write to TLS channel");
        return -1;
    }
    return total;
}

ssize_t qcrypto_tls_session_read(QCryptoTLSSession *sess, void *buf,
                                 size_t len, Error **errp)
{
    ssize_t ret;

    if (!len) {
        return 0;
    }
    do {
        ret = gnutls_record_recv(sess->handle, buf, len);
    } while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
    if (ret >= 0) {
        return ret;
    }
    if (ret == GNUTLS_E_PREMATURE_TERMINATION && sess->handshake_done) {
        /* The peer closed without close_notify, as QEMU 7.2 always does */
        trace_qcrypto_tls_session_eof(sess);
        return 0;
    }
    trace_qcrypto_tls_session_io_fail(sess, "read", ret,
                                      gnutls_strerror(ret));
    error_setg_errno(errp, EIO, "Cannot read from TLS channel");
    return -1;
}

size_t qcrypto_tls_session_pending(QCryptoTLSSession *sess)
{
    return gnutls_record_check_pending(sess->handle);
}

const char *qcrypto_tls_session_peer_name(QCryptoTLSSession *sess)
{
    return sess->peername;
}
