/*
 * tlscreds.c: what tls-creds-x509 and tls-creds-psk have in common.
 *
 * Design: QEMU's credential classes share an abstract parent holding
 * endpoint, dir, verify-peer and priority.  ferry keeps that split as
 * one struct with a kind tag (tlscredspriv.h): this file parses the
 * common properties with QEMU 7.2's messages, resolves DIR/FILE names
 * the way QEMU does (stat(); ENOENT is fine for optional files, every
 * other failure is an error), loads dh-params.pem, and owns the
 * reference count and the registry glue.
 *
 * Lifetime: the registry holds one reference from creation; a lookup
 * (any thread) takes another under the registry lock, and a session
 * holds one for its life, so object-del during a migration frees the
 * GnuTLS credentials only when the last session is gone.  The count is
 * atomic; everything else is immutable once create() has returned.
 */
#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "tlscredspriv.h"
#include "trace.h"

QCryptoTLSCreds *qcrypto_tls_creds_new(QCryptoTLSCredsKind kind,
                                       const char *id, QemuOpts *opts,
                                       Error **errp)
{
    g_autofree QCryptoTLSCreds *creds = g_new0(QCryptoTLSCreds, 1);
    const char *type = kind == QCRYPTO_TLS_CREDS_KIND_X509 ?
        TYPE_QCRYPTO_TLS_CREDS_X509 : TYPE_QCRYPTO_TLS_CREDS_PSK;
    const char *endpoint = qemu_opt_get(opts, "endpoint");
    const char *dir = qemu_opt_get(opts, "dir");
    const char *priority = qemu_opt_get(opts, "priority");
    bool loaded;

    creds->kind = kind;
    creds->refcnt = 1;
    creds->endpoint = QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT;
    if (endpoint && g_str_equal(endpoint, "server")) {
        creds->endpoint = QCRYPTO_TLS_CREDS_ENDPOINT_SERVER;
    } else if (endpoint && !g_str_equal(endpoint, "client")) {
        error_setg(errp, "Parameter 'endpoint' does not accept value '%s'",
                   endpoint);
        return NULL;
    }
    if (!qemu_opt_get_bool(opts, "verify-peer", true, &creds->verify_peer,
                           errp) ||
        !qemu_opt_get_bool(opts, "loaded", false, &loaded, errp)) {
        return NULL;
    }
    /*
     * "loaded" is in QEMU 7.2's schema (deprecated) but has no setter:
     * giving it at all is refused when the property is set.
     */
    if (qemu_opt_has(opts, "loaded")) {
        error_setg(errp, "Property '%s.loaded' is not writable", type);
        return NULL;
    }
    creds->id = g_strdup(id);
    creds->dir = g_strdup(dir);
    creds->priority = g_strdup(priority);
    return g_steal_pointer(&creds);
}

int qcrypto_tls_creds_get_path(QCryptoTLSCreds *creds, const char *filename,
                               bool required, char **path, Error **errp)
{
    struct stat sb;

    *path = NULL;
    if (!creds->dir) {
        if (required) {
            error_setg(errp, "Missing 'dir' property value");
            return -1;
        }
        return 0;
    }
    *path = g_strdup_printf("%s/%s", creds->dir, filename);
    if (stat(*path, &sb) < 0) {
        int err = errno;

        if (err != ENOENT || required) {
            error_setg_errno(errp, err, "Unable to access credentials %s",
                             *path);
            g_free(*path);
            *path = NULL;
            return -1;
        }
        g_free(*path);
        *path = NULL;
    }
    trace_qcrypto_tls_creds_get_path(creds, filename,
                                     *path ? *path : "<none>");
    return 0;
}

int qcrypto_tls_creds_load_dh(QCryptoTLSCreds *creds, const char *path,
                              Error **errp)
{
    g_autofree char *contents = NULL;
    g_autoptr(GError) gerr = NULL;
    gnutls_datum_t data;
    gsize len;
    int ret;

    /*
     * Without dh-params.pem QEMU generates 2048-bit DH parameters here,
     * which takes seconds.  ferry uses the RFC 7919 group GnuTLS knows
     * for GNUTLS_SEC_PARAM_MEDIUM (2048 bits) instead, set by the
     * callers: same strength, no start-up delay, and TLS 1.3 (what two
     * 7.2 peers negotiate) does not use these parameters at all.
     */
    trace_qcrypto_tls_creds_load_dh(creds, path ? path : "<known>");
    if (!path) {
        return 0;
    }
    if (!g_file_get_contents(path, &contents, &len, &gerr)) {
        error_setg(errp, "%s", gerr->message);
        return -1;
    }
    ret = gnutls_dh_params_init(&creds->dh_params);
    if (ret < 0) {
        creds->dh_params = NULL;
        error_setg(errp, "Unable to initialize DH parameters: %s",
                   gnutls_strerror(ret));
        return -1;
    }
    data.data = (unsigned char *)contents;
    data.size = len;
    ret = gnutls_dh_params_import_pkcs3(creds->dh_params, &data,
                                        GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        gnutls_dh_params_deinit(creds->dh_params);
        creds->dh_params = NULL;
        error_setg(errp, "Unable to load DH parameters from %s: %s",
                   path, gnutls_strerror(ret));
        return -1;
    }
    return 0;
}

QCryptoTLSCreds *qcrypto_tls_creds_ref(QCryptoTLSCreds *creds)
{
    qatomic_inc(&creds->refcnt);
    return creds;
}

void qcrypto_tls_creds_unref(QCryptoTLSCreds *creds)
{
    if (!creds || qatomic_fetch_sub(&creds->refcnt, 1) != 1) {
        return;
    }
    trace_qcrypto_tls_creds_free(creds, creds->id ? creds->id : "<none>");
    if (creds->kind == QCRYPTO_TLS_CREDS_KIND_X509) {
        qcrypto_tls_creds_x509_unload(creds);
    } else {
        qcrypto_tls_creds_psk_unload(creds);
    }
    if (creds->dh_params) {
        gnutls_dh_params_deinit(creds->dh_params);
    }
    g_free(creds->id);
    g_free(creds->dir);
    g_free(creds->priority);
    g_free(creds->username);
    g_free(creds);
}

void qcrypto_tls_creds_ref_obj(void *obj)
{
    qcrypto_tls_creds_ref(obj);
}

void qcrypto_tls_creds_unref_obj(void *obj)
{
    qcrypto_tls_creds_unref(obj);
}

static bool qcrypto_tls_creds_is_type(const UserCreatableType *type)
{
    return g_str_equal(type->name, TYPE_QCRYPTO_TLS_CREDS_X509) ||
           g_str_equal(type->name, TYPE_QCRYPTO_TLS_CREDS_PSK);
}

QCryptoTLSCreds *qcrypto_tls_creds_lookup(const char *id, Error **errp)
{
    const UserCreatableType *type = NULL;
    void *obj = user_creatable_find_ref(id, &type);

    if (!obj) {
        error_setg(errp, "No TLS credentials with id '%s'", id);
        return NULL;
    }
    if (!qcrypto_tls_creds_is_type(type)) {
        if (type->unref) {
            type->unref(obj);
        }
        error_setg(errp, "Object with id '%s' is not TLS credentials", id);
        return NULL;
    }
    return obj;
}

bool qcrypto_tls_creds_check_endpoint(QCryptoTLSCreds *creds,
                                      QCryptoTLSCredsEndpoint endpoint,
                                      Error **errp)
{
    if (creds->endpoint != endpoint) {
        error_setg(errp, "Expected TLS credentials for a %s endpoint",
                   endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER ?
                   "server" : "client");
        return false;
    }
    return true;
}

const char *qcrypto_tls_creds_id(QCryptoTLSCreds *creds)
{
    return creds->id;
}

bool qcrypto_tls_creds_is_x509(QCryptoTLSCreds *creds)
{
    return creds->kind == QCRYPTO_TLS_CREDS_KIND_X509;
}

void qcrypto_tls_creds_register_types(void)
{
    user_creatable_register_type(&qcrypto_tls_creds_x509_type);
    user_creatable_register_type(&qcrypto_tls_creds_psk_type);
}
