/*
 * tlssession.h: one TLS session (GnuTLS) over a byte transport.
 *
 * The session does no I/O of its own: it calls @push to send and @pull
 * to receive, which block (with whatever deadlines the transport has)
 * and return the bytes moved, 0 from pull at the end of the stream, or
 * -1 with errno set.  So a session works over any channel: a socket, the
 * pipes of exec:, a passed fd.  A transport that fails keeps its own
 * Error; the session's messages are QEMU 7.2's ("TLS handshake failed:
 * ...", "Cannot read from TLS channel: ...").
 *
 * Threads: the handshake runs in one thread.  Once it is done, one thread
 * may read while another writes (the return path shares the main
 * channel's session, as in QEMU), which GnuTLS allows on an established
 * session.
 */
#ifndef CRYPTO_TLSSESSION_H
#define CRYPTO_TLSSESSION_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "crypto/tlscreds.h"
#include <sys/uio.h>

typedef struct QCryptoTLSSession QCryptoTLSSession;

/* Sends what it can of @n buffers (several records at once). */
typedef ssize_t QCryptoTLSSessionPush(const struct iovec *iov, int n,
                                      void *opaque);
typedef ssize_t QCryptoTLSSessionPull(void *buf, size_t len, void *opaque);

/*
 * A session with @creds (a reference is taken) for @endpoint.
 * Client: @hostname is the name the server's certificate must carry
 * (x509; NULL fails the check after the handshake with "No hostname for
 * certificate validation", as QEMU).  Server: @authzid names an
 * authz-simple object checked against the client certificate's DN
 * (NULL: none; "" looks up the empty id, and fails, as QEMU 7.2 does).
 * Fails for credentials made for the other endpoint and for a bad
 * priority string.
 */
QCryptoTLSSession *qcrypto_tls_session_new(QCryptoTLSCreds *creds,
                                           const char *hostname,
                                           const char *authzid,
                                           QCryptoTLSCredsEndpoint endpoint,
                                           Error **errp);
void qcrypto_tls_session_free(QCryptoTLSSession *sess);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoTLSSession, qcrypto_tls_session_free)

void qcrypto_tls_session_set_callbacks(QCryptoTLSSession *sess,
                                       QCryptoTLSSessionPush *push,
                                       QCryptoTLSSessionPull *pull,
                                       void *opaque);

/*
 * Runs the whole handshake (blocking in push/pull), then checks the
 * peer's credentials: certificate chain, validity, host name (client),
 * authz (server).  false with QEMU's message on failure.
 */
bool qcrypto_tls_session_handshake(QCryptoTLSSession *sess, Error **errp);

/*
 * Sends @n buffers as application data, all of them or fail (-1 and
 * "Cannot write to TLS channel: ...").  Small buffers are gathered into
 * full records.
 */
ssize_t qcrypto_tls_session_writev(QCryptoTLSSession *sess,
                                   const struct iovec *iov, int n,
                                   Error **errp);
/*
 * Reads up to @len bytes of application data: at least 1, 0 at the end
 * of the stream (a close_notify, or an EOF where the peer sent none —
 * QEMU 7.2 never sends one), -1 on error ("Cannot read from TLS channel:
 * ...").
 */
ssize_t qcrypto_tls_session_read(QCryptoTLSSession *sess, void *buf,
                                 size_t len, Error **errp);
/* Decrypted bytes already buffered in the session. */
size_t qcrypto_tls_session_pending(QCryptoTLSSession *sess);
/*
 * The peer's identity once the handshake is done: the client
 * certificate's DN or the PSK username (server), for traces and
 * messages; NULL if there is none.
 */
const char *qcrypto_tls_session_peer_name(QCryptoTLSSession *sess);

#endif
