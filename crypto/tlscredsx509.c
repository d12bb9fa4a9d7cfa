/*
 * tlscredsx509.c: tls-creds-x509, certificate credentials.
 *
 * Design: everything is read when the object is made, as QEMU does, so
 * a bad directory is refused by -object / object-add rather than at the
 * first migration.  The steps and their order follow QEMU 7.2 because
 * the first failing step decides the message users see:
 *
 *   1. resolve the file names (server: ca-cert, ca-crl?, server-cert,
 *      server-key, dh-params?; client: ca-cert, client-cert?,
 *      client-key?), a missing required file being "Unable to access
 *      credentials PATH: No such file or directory";
 *   2. sanity-check (default on): our own certificate (validity, not a
 *      CA, key usage, key purpose), every CA in ca-cert.pem (validity,
 *      a CA, may sign certificates), then our certificate against the
 *      CAs;
 *   3. build the GnuTLS credentials: trust file, key pair, CRL, DH.
 *
 * One difference from QEMU: without dh-params.pem the server does not
 * generate DH parameters (seconds of CPU) but uses GnuTLS's known
 * 2048-bit group (see qcrypto_tls_creds_load_dh()).
 *
 * Like Debian's 7.2.22, the sanity check does not demand the
 * keyEncipherment key usage (ECDSA keys cannot have it).
 */
#include "qemu/osdep.h"
#include "tlscredspriv.h"
#include "trace.h"
#include <gnutls/x509.h>

/* QEMU reads at most this many CA certificates from ca-cert.pem. */
#define X509_MAX_CA_CERTS 16

typedef enum X509Role {
    X509_ROLE_CLIENT,
    X509_ROLE_SERVER,
    X509_ROLE_CA,
} X509Role;

static const char *x509_role_name(X509Role role)
{
    return role == X509_ROLE_CA ? "CA" :
           role == X509_ROLE_SERVER ? "server" : "client";
}

static bool x509_check_times(gnutls_x509_crt_t cert, const char *file,
                             X509Role role, Error **errp)
{
    time_t now = time(NULL);

    if (now == (time_t)-1) {
        error_setg_errno(errp, errno, "cannot get current time");
        return false;
    }
    if (gnutls_x509_crt_get_expiration_time(cert) < now) {
        error_setg(errp, "The %s certificate %s has expired",
                   x509_role_name(role), file);
        return false;
    }
    if (gnutls_x509_crt_get_activation_time(cert) > now) {
        error_setg(errp, "The %s certificate %s is not yet active",
                   x509_role_name(role), file);
        return false;
    }
    return true;
}

static bool x509_check_basic_constraints(QCryptoTLSCreds *creds,
                                         gnutls_x509_crt_t cert,
                                         const char *file, X509Role role,
                                         Error **errp)
{
    int st = gnutls_x509_crt_get_basic_constraints(cert, NULL, NULL, NULL);

    trace_qcrypto_tls_creds_x509_check(creds, file, "basic-constraints",
                                       st);
    if (st == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        if (role == X509_ROLE_CA) {
            error_setg(errp, "The certificate %s is missing basic "
                       "constraints for a CA", file);
            return false;
        }
        return true;
    }
    if (st < 0) {
        error_setg(errp, "Unable to query certificate %s basic "
                   "constraints: %s", file, gnutls_strerror(st));
        return false;
    }
    if (st > 0 && role != X509_ROLE_CA) {
        error_setg(errp, "The certificate %s basic constraints show a CA, "
                   "but we need one for a %s", file, x509_role_name(role));
        return false;
    }
    if (st == 0 && role == X509_ROLE_CA) {
        error_setg(errp, "The certificate %s basic constraints do not "
                   "show a CA", file);
        return false;
    }
    return true;
}

static bool x509_check_key_usage(QCryptoTLSCreds *creds,
                                 gnutls_x509_crt_t cert, const char *file,
                                 X509Role role, Error **errp)
{
    unsigned int usage = 0, critical = 0;
    int st = gnutls_x509_crt_get_key_usage(cert, &usage, &critical);

    trace_qcrypto_tls_creds_x509_check(creds, file, "key-usage", st);
    if (st == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        return true;            /* no extension: anything goes */
    }
    if (st < 0) {
        error_setg(errp, "Unable to query certificate %s key usage: %s",
                   file, gnutls_strerror(st));
        return false;
    }
    /* As QEMU: a missing usage only matters when the extension is critical */
    if (!critical) {
        return true;
    }
    if (role == X509_ROLE_CA && !(usage & GNUTLS_KEY_KEY_CERT_SIGN)) {
        error_setg(errp, "Certificate %s usage does not permit "
                   "certificate signing", file);
        return false;
    }
    if (role != X509_ROLE_CA && !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE)) {
        error_setg(errp, "Certificate %s usage does not permit digital "
                   "signature", file);
        return false;
    }
    return true;
}

static bool x509_check_key_purpose(QCryptoTLSCreds *creds,
                                   gnutls_x509_crt_t cert, const char *file,
                                   X509Role role, Error **errp)
{
    bool any_critical = false, server_ok = false, client_ok = false;

    for (unsigned int i = 0;; i++) {
        g_autofree char *oid = NULL;
        size_t size = 0;
        unsigned int critical = 0;
        int st = gnutls_x509_crt_get_key_purpose_oid(cert, i, NULL, &size,
                                                     NULL);

        if (st == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            if (i == 0) {       /* no extendedKeyUsage: both allowed */
                server_ok = client_ok = true;
            }
            break;
        }
        if (st == GNUTLS_E_SHORT_MEMORY_BUFFER) {
            oid = g_malloc0(size + 1);
            st = gnutls_x509_crt_get_key_purpose_oid(cert, i, oid, &size,
                                                     &critical);
        }
        trace_qcrypto_tls_creds_x509_check(creds, file, "key-purpose", st);
        if (st < 0 || !oid) {
            error_setg(errp, "Unable to query certificate %s key purpose: "
                       "%s", file, gnutls_strerror(st));
            return false;
        }
        any_critical |= critical != 0;
        if (g_str_equal(oid, GNUTLS_KP_TLS_WWW_SERVER)) {
            server_ok = true;
        } else if (g_str_equal(oid, GNUTLS_KP_TLS_WWW_CLIENT)) {
            client_ok = true;
        } else if (g_str_equal(oid, GNUTLS_KP_ANY)) {
            server_ok = client_ok = true;
        }
    }
    if (!any_critical) {
        return true;
    }
    if (role == X509_ROLE_SERVER && !server_ok) {
        error_setg(errp, "Certificate %s purpose does not allow use with "
                   "a TLS server", file);
        return false;
    }
    if (role == X509_ROLE_CLIENT && !client_ok) {
        error_setg(errp, "Certificate %s purpose does not allow use with "
                   "a TLS client", file);
        return false;
    }
    return true;
}

static bool x509_check_cert(QCryptoTLSCreds *creds, gnutls_x509_crt_t cert,
                            const char *file, X509Role role, Error **errp)
{
    return x509_check_times(cert, file, role, errp) &&
           x509_check_basic_constraints(creds, cert, file, role, errp) &&
           x509_check_key_usage(creds, cert, file, role, errp) &&
           (role == X509_ROLE_CA ||
            x509_check_key_purpose(creds, cert, file, role, errp));
}

/* The verification status bits as QEMU words them (the last match wins). */
const char *qcrypto_tls_x509_status_reason(unsigned int status)
{
    const char *reason = "Invalid certificate";

    if (status & GNUTLS_CERT_INVALID) {
        reason = "The certificate is not trusted";
    }
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        reason = "The certificate hasn't got a known issuer";
    }
    if (status & GNUTLS_CERT_REVOKED) {
        reason = "The certificate has been revoked";
    }
    if (status & GNUTLS_CERT_INSECURE_ALGORITHM) {
        reason = "The certificate uses an insecure algorithm";
    }
    return reason;
}

static bool x509_check_pair(gnutls_x509_crt_t cert, const char *file,
                            gnutls_x509_crt_t *cas, unsigned int ncas,
                            const char *cafile, X509Role role, Error **errp)
{
    unsigned int status = 0;

    if (gnutls_x509_crt_list_verify(&cert, 1, cas, ncas, NULL, 0, 0,
                                    &status) < 0) {
        error_setg(errp, "Unable to verify %s certificate %s against CA "
                   "certificate %s", x509_role_name(role), file, cafile);
        return false;
    }
    if (status) {
        error_setg(errp, "Our own certificate %s failed validation against "
                   "%s: %s", file, cafile,
                   qcrypto_tls_x509_status_reason(status));
        return false;
    }
    return true;
}

/* The PEM file @path; QEMU words a read failure the same for all files. */
static char *x509_read_file(const char *path, gnutls_datum_t *data,
                            Error **errp)
{
    g_autoptr(GError) gerr = NULL;
    char *buf = NULL;
    gsize len;

    if (!g_file_get_contents(path, &buf, &len, &gerr)) {
        error_setg(errp, "Cannot load CA cert list %s: %s", path,
                   gerr->message);
        return NULL;
    }
    data->data = (unsigned char *)buf;
    data->size = len;
    return buf;
}

static gnutls_x509_crt_t x509_load_cert(const char *path, X509Role role,
                                        Error **errp)
{
    gnutls_x509_crt_t cert = NULL;
    g_autofree char *buf = NULL;
    gnutls_datum_t data;
    int ret;

    ret = gnutls_x509_crt_init(&cert);
    if (ret < 0) {
        error_setg(errp, "Unable to initialize certificate: %s",
                   gnutls_strerror(ret));
        return NULL;
    }
    buf = x509_read_file(path, &data, errp);
    if (!buf) {
        gnutls_x509_crt_deinit(cert);
        return NULL;
    }
    ret = gnutls_x509_crt_import(cert, &data, GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        error_setg(errp, "Unable to import %s certificate %s: %s",
                   x509_role_name(role), path, gnutls_strerror(ret));
        gnutls_x509_crt_deinit(cert);
        return NULL;
    }
    return cert;
}

static bool x509_load_ca_list(const char *path, gnutls_x509_crt_t *cas,
                              unsigned int *ncas, Error **errp)
{
    g_autofree char *buf = NULL;
    gnutls_datum_t data;
    unsigned int max = X509_MAX_CA_CERTS;

    *ncas = 0;
    buf = x509_read_file(path, &data, errp);
    if (!buf) {
        return false;
    }
    if (gnutls_x509_crt_list_import(cas, &max, &data, GNUTLS_X509_FMT_PEM,
                                    0) < 0) {
        error_setg(errp, "Unable to import CA certificate list %s", path);
        return false;
    }
    *ncas = max;
    return true;
}

static bool x509_sanity_check(QCryptoTLSCreds *creds, const char *cafile,
                              const char *certfile, Error **errp)
{
    X509Role role = creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER ?
                    X509_ROLE_SERVER : X509_ROLE_CLIENT;
    gnutls_x509_crt_t cert = NULL;
    gnutls_x509_crt_t cas[X509_MAX_CA_CERTS];
    unsigned int ncas = 0;
    bool ok = false;

    /* As QEMU: files we may not read are left to step 3 to report. */
    if (certfile && access(certfile, R_OK) == 0) {
        cert = x509_load_cert(certfile, role, errp);
        if (!cert) {
            return false;
        }
    }
    if (access(cafile, R_OK) == 0 &&
        !x509_load_ca_list(cafile, cas, &ncas, errp)) {
        goto out;
    }
    if (cert && !x509_check_cert(creds, cert, certfile, role, errp)) {
        goto out;
    }
    for (unsigned int i = 0; i < ncas; i++) {
        if (!x509_check_cert(creds, cas[i], cafile, X509_ROLE_CA, errp)) {
            goto out;
        }
    }
    if (cert && ncas &&
        !x509_check_pair(cert, certfile, cas, ncas, cafile, role, errp)) {
        goto out;
    }
    ok = true;
out:
    for (unsigned int i = 0; i < ncas; i++) {
        gnutls_x509_crt_deinit(cas[i]);
    }
    if (cert) {
        gnutls_x509_crt_deinit(cert);
    }
    return ok;
}

static bool x509_load(QCryptoTLSCreds *creds, Error **errp)
{
    g_autofree char *cacert = NULL, *cacrl = NULL, *cert = NULL;
    g_autofree char *key = NULL, *dhparams = NULL;
    bool server = creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER;
    int ret;

    trace_qcrypto_tls_creds_x509_load(creds, creds->id,
                                      creds->dir ? creds->dir : "<nodir>",
                                      creds->endpoint);
    if (qcrypto_tls_creds_get_path(creds, QCRYPTO_TLS_CREDS_X509_CA_CERT,
                                   true, &cacert, errp) < 0) {
        return false;
    }
    if (server) {
        if (qcrypto_tls_creds_get_path(creds, QCRYPTO_TLS_CREDS_X509_CA_CRL,
                                       false, &cacrl, errp) < 0 ||
            qcrypto_tls_creds_get_path(creds,
                                       QCRYPTO_TLS_CREDS_X509_SERVER_CERT,
                                       true, &cert, errp) < 0 ||
            qcrypto_tls_creds_get_path(creds,
                                       QCRYPTO_TLS_CREDS_X509_SERVER_KEY,
                                       true, &key, errp) < 0 ||
            qcrypto_tls_creds_get_path(creds, QCRYPTO_TLS_CREDS_DH_PARAMS,
                                       false, &dhparams, errp) < 0) {
            return false;
        }
    } else if (qcrypto_tls_creds_get_path(creds,
                                          QCRYPTO_TLS_CREDS_X509_CLIENT_CERT,
                                          false, &cert, errp) < 0 ||
               qcrypto_tls_creds_get_path(creds,
                                          QCRYPTO_TLS_CREDS_X509_CLIENT_KEY,
                                          false, &key, errp) < 0) {
        return false;
    }

    if (creds->sanity_check &&
        !x509_sanity_check(creds, cacert, cert, errp)) {
        return false;
    }

    ret = gnutls_certificate_allocate_credentials(&creds->x509);
    if (ret < 0) {
        creds->x509 = NULL;
        error_setg(errp, "Cannot allocate credentials: '%s'",
                   gnutls_strerror(ret));
        return false;
    }
    ret = gnutls_certificate_set_x509_trust_file(creds->x509, cacert,
                                                 GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        error_setg(errp, "Cannot load CA certificate '%s': %s", cacert,
                   gnutls_strerror(ret));
        return false;
    }
    if (cert && key) {
        ret = gnutls_certificate_set_x509_key_file2(creds->x509, cert, key,
                                                    GNUTLS_X509_FMT_PEM,
                                                    NULL, 0);
        if (ret < 0) {
            error_setg(errp, "Cannot load certificate '%s' & key '%s': %s",
                       cert, key, gnutls_strerror(ret));
            return false;
        }
    }
    if (cacrl) {
        ret = gnutls_certificate_set_x509_crl_file(creds->x509, cacrl,
                                                   GNUTLS_X509_FMT_PEM);
        if (ret < 0) {
            error_setg(errp, "Cannot load CRL '%s': %s", cacrl,
                       gnutls_strerror(ret));
            return false;
        }
    }
    if (server) {
        if (qcrypto_tls_creds_load_dh(creds, dhparams, errp) < 0) {
            return false;
        }
        if (creds->dh_params) {
            gnutls_certificate_set_dh_params(creds->x509, creds->dh_params);
        } else {
            ret = gnutls_certificate_set_known_dh_params(
                creds->x509, GNUTLS_SEC_PARAM_MEDIUM);
            if (ret < 0) {
                error_setg(errp, "Unable to set DH parameters: %s",
                           gnutls_strerror(ret));
                return false;
            }
        }
    }
    return true;
}

void qcrypto_tls_creds_x509_unload(QCryptoTLSCreds *creds)
{
    if (creds->x509) {
        gnutls_certificate_free_credentials(creds->x509);
        creds->x509 = NULL;
    }
}

static void *qcrypto_tls_creds_x509_create(const char *id, QemuOpts *opts,
                                           Error **errp)
{
    QCryptoTLSCreds *creds;

    creds = qcrypto_tls_creds_new(QCRYPTO_TLS_CREDS_KIND_X509, id, opts,
                                  errp);
    if (!creds) {
        return NULL;
    }
    if (!qemu_opt_get_bool(opts, "sanity-check", true, &creds->sanity_check,
                           errp) ||
        !x509_load(creds, errp)) {
        qcrypto_tls_creds_unref(creds);
        return NULL;
    }
    trace_qcrypto_tls_creds_loaded(creds, creds->id, "x509");
    return creds;
}

static const QmpArgSpec qcrypto_tls_creds_x509_props[] = {
    { "endpoint", QMP_ARG_STR, true },
    { "dir", QMP_ARG_STR, true },
    { "verify-peer", QMP_ARG_BOOL, true },
    { "priority", QMP_ARG_STR, true },
    { "loaded", QMP_ARG_BOOL, true },
    { "sanity-check", QMP_ARG_BOOL, true },
    { NULL }
};

const UserCreatableType qcrypto_tls_creds_x509_type = {
    .name = TYPE_QCRYPTO_TLS_CREDS_X509,
    .props = qcrypto_tls_creds_x509_props,
    .create = qcrypto_tls_creds_x509_create,
    .ref = qcrypto_tls_creds_ref_obj,
    .unref = qcrypto_tls_creds_unref_obj,
};
