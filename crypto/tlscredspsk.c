/*
 * tlscredspsk.c: tls-creds-psk, pre-shared key credentials.
 *
 * Design: DIR/keys.psk holds one "username:hexkey" per line (GnuTLS's
 * password-file format).  As in QEMU 7.2:
 *
 *   - the client picks its own line (username=, default "qemu") when the
 *     object is made, so a missing user is refused at -object time
 *     ("Username alice not found in PSK file DIR/keys.psk");
 *   - the server hands the whole file to GnuTLS, which reads it at each
 *     handshake and chooses the line by the identity the client sends,
 *     so keys can be added without recreating the object;
 *   - a server with username= is refused.
 *
 * Without dh-params.pem the server uses GnuTLS's known 2048-bit group
 * instead of generating parameters (see qcrypto_tls_creds_load_dh()).
 */
#include "qemu/osdep.h"
#include "tlscredspriv.h"
#include "trace.h"

/* The hex key of @username in @pskfile (g_free it), or NULL. */
static char *psk_lookup_key(const char *pskfile, const char *username,
                            Error **errp)
{
    g_autofree char *content = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GError) gerr = NULL;
    size_t ulen = strlen(username);

    if (!g_file_get_contents(pskfile, &content, NULL, &gerr)) {
        error_setg(errp, "Cannot read PSK file %s: %s", pskfile,
                   gerr->message);
        return NULL;
    }
    lines = g_strsplit(content, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        if (strncmp(lines[i], username, ulen) == 0 &&
            lines[i][ulen] == ':') {
            /* A file edited elsewhere may end its lines with CR LF. */
            return g_strchomp(g_strdup(lines[i] + ulen + 1));
        }
    }
    error_setg(errp, "Username %s not found in PSK file %s", username,
               pskfile);
    return NULL;
}

static bool psk_load_server(QCryptoTLSCreds *creds, Error **errp)
{
    g_autofree char *pskfile = NULL, *dhparams = NULL;
    int ret;

    if (creds->username) {
        error_setg(errp, "username should not be set when endpoint=server");
        return false;
    }
    if (qcrypto_tls_creds_get_path(creds, QCRYPTO_TLS_CREDS_DH_PARAMS,
                                   false, &dhparams, errp) < 0 ||
        qcrypto_tls_creds_get_path(creds, QCRYPTO_TLS_CREDS_PSKFILE,
                                   true, &pskfile, errp) < 0) {
        return false;
    }
    ret = gnutls_psk_allocate_server_credentials(&creds->psk_server);
    if (ret < 0) {
        creds->psk_server = NULL;
        error_setg(errp, "Cannot allocate credentials: %s",
                   gnutls_strerror(ret));
        return false;
    }
    if (qcrypto_tls_creds_load_dh(creds, dhparams, errp) < 0) {
        return false;
    }
    ret = gnutls_psk_set_server_credentials_file(creds->psk_server,
                                                 pskfile);
    if (ret < 0) {
        error_setg(errp, "Cannot set PSK server credentials: %s",
                   gnutls_strerror(ret));
        return false;
    }
    if (creds->dh_params) {
        gnutls_psk_set_server_dh_params(creds->psk_server, creds->dh_params);
    } else {
        ret = gnutls_psk_set_server_known_dh_params(creds->psk_server,
                                                    GNUTLS_SEC_PARAM_MEDIUM);
        if (ret < 0) {
            error_setg(errp, "Unable to set DH parameters: %s",
                       gnutls_strerror(ret));
            return false;
        }
    }
    return true;
}

static bool psk_load_client(QCryptoTLSCreds *creds, Error **errp)
{
    g_autofree char *pskfile = NULL, *hexkey = NULL;
    const char *username = creds->username ? creds->username :
                           QCRYPTO_TLS_CREDS_PSK_DEFAULT_USERNAME;
    gnutls_datum_t key;
    int ret;

    if (qcrypto_tls_creds_get_path(creds, QCRYPTO_TLS_CREDS_PSKFILE,
                                   true, &pskfile, errp) < 0) {
        return false;
    }
    hexkey = psk_lookup_key(pskfile, username, errp);
    if (!hexkey) {
        return false;
    }
    ret = gnutls_psk_allocate_client_credentials(&creds->psk_client);
    if (ret < 0) {
        creds->psk_client = NULL;
        error_setg(errp, "Cannot allocate credentials: %s",
                   gnutls_strerror(ret));
        return false;
    }
    key.data = (unsigned char *)hexkey;
    key.size = strlen(hexkey);
    ret = gnutls_psk_set_client_credentials(creds->psk_client, username,
                                            &key, GNUTLS_PSK_KEY_HEX);
    /* The key is copied; do not leave it lying around in the heap. */
    memset(hexkey, 0, key.size);
    if (ret < 0) {
        error_setg(errp, "Cannot set PSK client credentials: %s",
                   gnutls_strerror(ret));
        return false;
    }
    return true;
}

void qcrypto_tls_creds_psk_unload(QCryptoTLSCreds *creds)
{
    if (creds->psk_server) {
        gnutls_psk_free_server_credentials(creds->psk_server);
        creds->psk_server = NULL;
    }
    if (creds->psk_client) {
        gnutls_psk_free_client_credentials(creds->psk_client);
        creds->psk_client = NULL;
    }
}

static void *qcrypto_tls_creds_psk_create(const char *id, QemuOpts *opts,
                                          Error **errp)
{
    QCryptoTLSCreds *creds;
    bool ok;

    creds = qcrypto_tls_creds_new(QCRYPTO_TLS_CREDS_KIND_PSK, id, opts,
                                  errp);
    if (!creds) {
        return NULL;
    }
    creds->username = g_strdup(qemu_opt_get(opts, "username"));
    trace_qcrypto_tls_creds_psk_load(creds, creds->id,
                                     creds->dir ? creds->dir : "<nodir>",
                                     creds->endpoint);
    ok = creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER ?
         psk_load_server(creds, errp) : psk_load_client(creds, errp);
    if (!ok) {
        qcrypto_tls_creds_unref(creds);
        return NULL;
    }
    trace_qcrypto_tls_creds_loaded(creds, creds->id, "psk");
    return creds;
}

static const QmpArgSpec qcrypto_tls_creds_psk_props[] = {
    { "endpoint", QMP_ARG_STR, true },
    { "dir", QMP_ARG_STR, true },
    { "verify-peer", QMP_ARG_BOOL, true },
    { "priority", QMP_ARG_STR, true },
    { "loaded", QMP_ARG_BOOL, true },
    { "username", QMP_ARG_STR, true },
    { NULL }
};

const UserCreatableType qcrypto_tls_creds_psk_type = {
    .name = TYPE_QCRYPTO_TLS_CREDS_PSK,
    .props = qcrypto_tls_creds_psk_props,
    .create = qcrypto_tls_creds_psk_create,
    .ref = qcrypto_tls_creds_ref_obj,
    .unref = qcrypto_tls_creds_unref_obj,
};
