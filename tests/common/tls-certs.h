/*
 * tls-certs.h: certificates and PSK files for TLS tests, made at test
 * time with GnuTLS's certtool (gnutls-bin) — never checked in.
 *
 * tls_certs_make() builds one tree under @base (a fresh temporary
 * directory the caller removes with tls_certs_free()):
 *
 *   BASE/ca/            ca-cert.pem, ca-key.pem         the test CA
 *   BASE/otherca/       ca-cert.pem, ca-key.pem         an unrelated CA
 *   BASE/server/        ca-cert.pem server-cert.pem server-key.pem
 *                       (CN=localhost; SANs DNS localhost, IP 127.0.0.1)
 *   BASE/client/        ca-cert.pem client-cert.pem client-key.pem
 *                       (subject "O=ferry tests,CN=client.example";
 *                        TLS_CERTS_CLIENT_DN is how GnuTLS renders it)
 *   BASE/client-nocert/ ca-cert.pem only (no client certificate)
 *   BASE/client-wrongca/  client whose ca-cert.pem is the other CA
 *   BASE/client-othercert/ client cert and key signed by the other CA,
 *                       ca-cert.pem of the test CA
 *   BASE/server-otherhost/ server certificate for otherhost.example only
 *   BASE/server-expired/   server certificate that expired yesterday
 *   BASE/psk-server/    keys.psk: "qemu:KEY" and "alice:KEY2"
 *   BASE/psk-client/    keys.psk: the same lines
 *   BASE/psk-wrong/     keys.psk: "qemu:OTHERKEY"
 *
 * Each directory is a complete "dir=" for tls-creds-x509 / tls-creds-psk
 * with QEMU's file names.
 */
#ifndef TESTS_TLS_CERTS_H
#define TESTS_TLS_CERTS_H

#include <glib.h>
#include <stdbool.h>

#define TLS_CERTS_CLIENT_DN "O=ferry tests,CN=client.example"

typedef struct TLSCerts {
    char *base;
} TLSCerts;

/* Path to certtool, or NULL (then tests skip: "certtool not found"). */
const char *tls_certs_certtool(void);
/* Makes the tree; NULL with *err set (certtool missing or failing). */
TLSCerts *tls_certs_make(GError **err);
/* BASE/@name (g_free it). */
char *tls_certs_dir(TLSCerts *c, const char *name);
/* Removes the tree and frees @c. */
void tls_certs_free(TLSCerts *c);

#endif
