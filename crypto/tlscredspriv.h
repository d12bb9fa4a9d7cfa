/*
 * tlscredspriv.h: what the TLS credential and session files share.
 *
 * ferry has no QOM inheritance, so the two credential types are one
 * struct with a kind tag: the common properties (endpoint, dir,
 * verify-peer, priority) and the lifetime rules live in tlscreds.c; the
 * GnuTLS objects each kind loads live in tlscredsx509.c / tlscredspsk.c;
 * tlssession.c reads them to set a session up.  Everything here is
 * written once, while the object is made (main thread), and only read
 * afterwards, so sessions in other threads need no lock; the reference
 * count alone is shared and atomic.
 */
#ifndef CRYPTO_TLSCREDSPRIV_H
#define CRYPTO_TLSCREDSPRIV_H

#include "crypto/tlscreds.h"
#include "qemu/option.h"
#include "qom/object_interfaces.h"
#include <gnutls/gnutls.h>

#define TYPE_QCRYPTO_TLS_CREDS_X509 "tls-creds-x509"
#define TYPE_QCRYPTO_TLS_CREDS_PSK "tls-creds-psk"

/* QEMU's fixed file names inside dir= */
#define QCRYPTO_TLS_CREDS_X509_CA_CERT "ca-cert.pem"
#define QCRYPTO_TLS_CREDS_X509_CA_CRL "ca-crl.pem"
#define QCRYPTO_TLS_CREDS_X509_SERVER_CERT "server-cert.pem"
#define QCRYPTO_TLS_CREDS_X509_SERVER_KEY "server-key.pem"
#define QCRYPTO_TLS_CREDS_X509_CLIENT_CERT "client-cert.pem"
#define QCRYPTO_TLS_CREDS_X509_CLIENT_KEY "client-key.pem"
#define QCRYPTO_TLS_CREDS_DH_PARAMS "dh-params.pem"
#define QCRYPTO_TLS_CREDS_PSKFILE "keys.psk"

/* The client's PSK identity when username= is not given (QEMU's). */
#define QCRYPTO_TLS_CREDS_PSK_DEFAULT_USERNAME "qemu"

typedef enum QCryptoTLSCredsKind {
    QCRYPTO_TLS_CREDS_KIND_X509,
    QCRYPTO_TLS_CREDS_KIND_PSK,
} QCryptoTLSCredsKind;

struct QCryptoTLSCreds {
    QCryptoTLSCredsKind kind;
    int refcnt;                 /* atomic; the registry holds one */
    char *id;
    char *dir;                  /* NULL when dir= was not given */
    QCryptoTLSCredsEndpoint endpoint;
    bool verify_peer;           /* x509 only; accepted and ignored by psk */
    char *priority;             /* NULL: the build default, "NORMAL" */
    gnutls_dh_params_t dh_params;   /* from dh-params.pem, else NULL */

    /* x509 */
    bool sanity_check;
    gnutls_certificate_credentials_t x509;

    /* psk */
    char *username;             /* client only */
    gnutls_psk_server_credentials_t psk_server;
    gnutls_psk_client_credentials_t psk_client;
};

/* Build default priority string (QEMU's meson option tls_priority). */
#define QCRYPTO_TLS_DEFAULT_PRIORITY "NORMAL"

/*
 * A new object of @kind with one reference, its common properties taken
 * from @opts (endpoint, dir, verify-peer, priority, and the read-only
 * "loaded", refused as QEMU refuses it).  NULL with QEMU's message.
 */
QCryptoTLSCreds *qcrypto_tls_creds_new(QCryptoTLSCredsKind kind,
                                       const char *id, QemuOpts *opts,
                                       Error **errp);

/*
 * DIR/@filename in *@path.  Absent and optional: 0 with *@path NULL.
 * No dir= and required: "Missing 'dir' property value"; any other
 * failure of stat(): "Unable to access credentials PATH: <strerror>".
 */
int qcrypto_tls_creds_get_path(QCryptoTLSCreds *creds, const char *filename,
                               bool required, char **path, Error **errp);

/*
 * Loads dh-params.pem (@path) into creds->dh_params; @path NULL leaves
 * it NULL (the caller then uses GnuTLS's known parameters).
 */
int qcrypto_tls_creds_load_dh(QCryptoTLSCreds *creds, const char *path,
                              Error **errp);

/* Per-kind loaders and unloaders (tlscredsx509.c, tlscredspsk.c). */
void qcrypto_tls_creds_x509_unload(QCryptoTLSCreds *creds);
void qcrypto_tls_creds_psk_unload(QCryptoTLSCreds *creds);

/* A chain verification status (GNUTLS_CERT_*) in QEMU's words. */
const char *qcrypto_tls_x509_status_reason(unsigned int status);

/* UserCreatableType glue shared by both kinds. */
void qcrypto_tls_creds_ref_obj(void *obj);
void qcrypto_tls_creds_unref_obj(void *obj);

extern const UserCreatableType qcrypto_tls_creds_x509_type;
extern const UserCreatableType qcrypto_tls_creds_psk_type;

#endif
