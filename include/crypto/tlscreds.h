/*
 * tlscreds.h: TLS credential objects, as QEMU 7.2 spells them.
 *
 *   -object tls-creds-x509,id=ID,dir=DIR,endpoint=server|client
 *           [,verify-peer=on|off][,sanity-check=on|off][,priority=STR]
 *   -object tls-creds-psk,id=ID,dir=DIR,endpoint=server|client
 *           [,username=NAME][,priority=STR]
 *
 * Files in DIR carry QEMU's names: ca-cert.pem, ca-crl.pem (server,
 * optional), server-cert.pem and server-key.pem, client-cert.pem and
 * client-key.pem (optional), dh-params.pem (optional), keys.psk.  The
 * files are read, and the certificates sanity-checked, when the object is
 * made, so a bad directory is refused by -object / object-add, as QEMU
 * does.  The objects are registered with the user-creatable registry
 * (include/qom/object_interfaces.h) and reference counted: a session
 * holds its credentials.
 */
#ifndef CRYPTO_TLSCREDS_H
#define CRYPTO_TLSCREDS_H

#include "qemu/osdep.h"
#include "qapi/error.h"

typedef enum QCryptoTLSCredsEndpoint {
    QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
    QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
} QCryptoTLSCredsEndpoint;

typedef struct QCryptoTLSCreds QCryptoTLSCreds;

/* Registers tls-creds-x509, tls-creds-psk (start-up, main thread). */
void qcrypto_tls_creds_register_types(void);

/*
 * The credentials named @id, with a reference: QEMU's messages when
 * there are none ("No TLS credentials with id 'ID'") or the object is of
 * another type ("Object with id 'ID' is not TLS credentials").  Any
 * thread.
 */
QCryptoTLSCreds *qcrypto_tls_creds_lookup(const char *id, Error **errp);
QCryptoTLSCreds *qcrypto_tls_creds_ref(QCryptoTLSCreds *creds);
void qcrypto_tls_creds_unref(QCryptoTLSCreds *creds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoTLSCreds, qcrypto_tls_creds_unref)

/*
 * Whether @creds were made for @endpoint; if not, QEMU's "Expected TLS
 * credentials for a client endpoint" (or server).
 */
bool qcrypto_tls_creds_check_endpoint(QCryptoTLSCreds *creds,
                                      QCryptoTLSCredsEndpoint endpoint,
                                      Error **errp);
const char *qcrypto_tls_creds_id(QCryptoTLSCreds *creds);
/* x509 credentials (a certificate must match a host name)? */
bool qcrypto_tls_creds_is_x509(QCryptoTLSCreds *creds);

#endif
