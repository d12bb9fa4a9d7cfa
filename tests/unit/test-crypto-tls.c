/*
 * test-crypto-tls: TLS credential objects, authz-simple and real GnuTLS
 * sessions, with QEMU 7.2's messages.
 *
 * This half: the objects, made through the user-creatable registry
 * exactly as -object makes them, their messages, lookups and authz;
 * test-crypto-tls-session.c runs handshakes and moves data.
 */
#include "qemu/osdep.h"
#include "qemu/option.h"
#include "qom/object_interfaces.h"
#include "crypto/tlscreds.h"
#include "crypto/tlssession.h"
#include "authz/base.h"
#include "test-crypto-tls.h"
#include <gnutls/gnutls.h>

TLSCerts *certs;
static unsigned obj_count;

/* ---- objects ------------------------------------------------------ */

char *obj_add(const char *type, const char *props, Error **errp)
{
    g_autofree char *id = g_strdup_printf("obj%u", obj_count++);
    g_autofree char *text = g_strdup_printf("%s,id=%s%s%s", type, id,
                                            *props ? "," : "", props);
    g_autoptr(QemuOpts) opts = qemu_opts_parse(text, "qom-type", errp);

    if (!opts || !user_creatable_add_opts(opts, errp)) {
        return NULL;
    }
    return g_steal_pointer(&id);
}

/* The temporary tree has no commas to double for -object. */
char *dir_of(const char *name)
{
    return tls_certs_dir(certs, name);
}

char *creds_add(const char *type, const char *dir, const char *endpoint,
                const char *extra, Error **errp)
{
    g_autofree char *path = dir_of(dir);
    g_autofree char *props = g_strdup_printf("dir=%s,endpoint=%s%s", path,
                                             endpoint, extra);

    return obj_add(type, props, errp);
}

QCryptoTLSCreds *creds_new(const char *type, const char *dir,
                           const char *endpoint, const char *extra)
{
    g_autofree char *id = creds_add(type, dir, endpoint, extra,
                                    &error_abort);

    return qcrypto_tls_creds_lookup(id, &error_abort);
}

/* Asserts that making the object fails with exactly @msg. */
static void obj_fails(const char *type, const char *props, const char *msg)
{
    Error *err = NULL;
    g_autofree char *id = obj_add(type, props, &err);

    g_assert_null(id);
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void creds_fails(const char *type, const char *dir,
                        const char *endpoint, const char *extra,
                        const char *msg_tmpl)
{
    g_autofree char *path = dir_of(dir);
    g_autofree char *props = g_strdup_printf("dir=%s,endpoint=%s%s", path,
                                             endpoint, extra);
    g_auto(GStrv) parts = g_strsplit(msg_tmpl, "DIR", -1);
    g_autofree char *msg = g_strjoinv(path, parts);

    /* @msg_tmpl: the message with "DIR" for the directory */
    obj_fails(type, props, msg);
}

static void test_creds_x509_props(void)
{
    g_autofree char *client = dir_of("client");
    g_autofree char *props = NULL;

    NEED_CERTS();
    g_autofree char *ok = creds_add("tls-creds-x509", "server", "server", "",
                                    &error_abort);
    g_assert_nonnull(ok);
    obj_fails("tls-creds-x509", "endpoint=server",
              "Missing 'dir' property value");
    obj_fails("tls-creds-x509", "dir=/tmp,endpoint=sideways",
              "Parameter 'endpoint' does not accept value 'sideways'");
    obj_fails("tls-creds-x509", "dir=/tmp,verify-peer=maybe",
              "Parameter 'verify-peer' expects 'on' or 'off'");
    obj_fails("tls-creds-x509", "dir=/tmp,loaded=on",
              "Property 'tls-creds-x509.loaded' is not writable");
    obj_fails("tls-creds-x509", "dir=/nonexistent,endpoint=client",
              "Unable to access credentials /nonexistent/ca-cert.pem: "
              "No such file or directory");
    props = g_strdup_printf("dir=%s,bogus=1", client);
    obj_fails("tls-creds-x509", props, "Invalid parameter 'bogus'");
    /* a client directory has no server-cert.pem */
    creds_fails("tls-creds-x509", "client", "server", "",
                "Unable to access credentials DIR/server-cert.pem: "
                "No such file or directory");
    /* a client without a certificate is fine */
    g_autofree char *nocert = creds_add("tls-creds-x509", "client-nocert",
                                        "client", "", &error_abort);
    g_assert_nonnull(nocert);
}

static void test_creds_x509_sanity(void)
{
    NEED_CERTS();
    creds_fails("tls-creds-x509", "client-othercert", "client", "",
                "Our own certificate DIR/client-cert.pem failed validation "
                "against DIR/ca-cert.pem: The certificate hasn't got a "
                "known issuer");
    creds_fails("tls-creds-x509", "server-expired", "server", "",
                "The server certificate DIR/server-cert.pem has expired");
    /* a client certificate is no server certificate */
    g_autofree char *a = creds_add("tls-creds-x509", "client-othercert",
                                   "client", ",sanity-check=off",
                                   &error_abort);
    g_autofree char *b = creds_add("tls-creds-x509", "server-expired",
                                   "server", ",sanity-check=off",
                                   &error_abort);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
}

static void test_creds_psk_props(void)
{
    NEED_CERTS();
    g_autofree char *a = creds_add("tls-creds-psk", "psk-client", "client",
                                   "", &error_abort);
    g_autofree char *b = creds_add("tls-creds-psk", "psk-client", "client",
                                   ",username=alice", &error_abort);
    g_autofree char *c = creds_add("tls-creds-psk", "psk-server", "server",
                                   "", &error_abort);

    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_nonnull(c);
    creds_fails("tls-creds-psk", "psk-client", "client", ",username=bob",
                "Username bob not found in PSK file DIR/keys.psk");
    creds_fails("tls-creds-psk", "psk-server", "server", ",username=qemu",
                "username should not be set when endpoint=server");
    creds_fails("tls-creds-psk", "client", "server", "",
                "Unable to access credentials DIR/keys.psk: "
                "No such file or directory");
    obj_fails("tls-creds-psk", "endpoint=client",
              "Missing 'dir' property value");
    obj_fails("tls-creds-psk", "endpoint=server",
              "Missing 'dir' property value");
    obj_fails("tls-creds-psk", "dir=/tmp,loaded=off",
              "Property 'tls-creds-psk.loaded' is not writable");
}

/* BASE/@dir, a copy of BASE/@from (its PEM files), for a test to spoil. */
static void tree_copy(const char *dir, const char *from)
{
    static const char *const files[] = {
        "ca-cert.pem", "server-cert.pem", "server-key.pem", "keys.psk",
    };
    g_autofree char *dst = dir_of(dir);
    g_autofree char *src = dir_of(from);

    g_assert_cmpint(mkdir(dst, 0700), ==, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *a = g_build_filename(src, files[i], NULL);
        g_autofree char *b = g_build_filename(dst, files[i], NULL);
        g_autofree char *data = NULL;
        gsize len;

        if (g_file_get_contents(a, &data, &len, NULL)) {
            g_assert_true(g_file_set_contents(b, data, len, NULL));
        }
    }
}

static void tree_write(const char *dir, const char *file, const char *text)
{
    g_autofree char *d = dir_of(dir);
    g_autofree char *path = g_build_filename(d, file, NULL);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* PKCS#3 PEM of GnuTLS's RFC 7919 2048-bit group: no slow generation. */
static char *ffdhe2048_pem(void)
{
    gnutls_dh_params_t dh;
    gnutls_datum_t out = { 0 };
    char *pem;

    g_assert_cmpint(gnutls_dh_params_init(&dh), ==, 0);
    g_assert_cmpint(gnutls_dh_params_import_raw2(
        dh, &gnutls_ffdhe_2048_group_prime,
        &gnutls_ffdhe_2048_group_generator,
        gnutls_ffdhe_2048_key_bits), ==, 0);
    g_assert_cmpint(gnutls_dh_params_export2_pkcs3(
        dh, GNUTLS_X509_FMT_PEM, &out), ==, 0);
    pem = g_strndup((const char *)out.data, out.size);
    gnutls_free(out.data);
    gnutls_dh_params_deinit(dh);
    return pem;
}

/* Damaged files are refused with a message, never a crash. */
static void test_creds_bad_files(void)
{
    NEED_CERTS();
    g_autofree char *dh = ffdhe2048_pem();

    tree_copy("bad-ca", "server");
    tree_write("bad-ca", "ca-cert.pem", "not a certificate\n");
    creds_fails("tls-creds-x509", "bad-ca", "server", "",
                "Unable to import CA certificate list DIR/ca-cert.pem");
    tree_copy("bad-cert", "server");
    tree_write("bad-cert", "server-cert.pem", "-----BEGIN CERTIFICATE-----\n"
               "AAAA\n-----END CERTIFICATE-----\n");
    creds_fails("tls-creds-x509", "bad-cert", "server", "",
                "Unable to import server certificate DIR/server-cert.pem: "
                "ASN1 parser: Error in TAG.");
    tree_copy("bad-key", "server");
    tree_write("bad-key", "server-key.pem", "garbage\n");
    creds_fails("tls-creds-x509", "bad-key", "server", "",
                "Cannot load certificate 'DIR/server-cert.pem' & key "
                "'DIR/server-key.pem': The requested data were not "
                "available.");
    tree_copy("bad-dh", "server");
    tree_write("bad-dh", "dh-params.pem", "garbage\n");
    creds_fails("tls-creds-x509", "bad-dh", "server", "",
                "Unable to load DH parameters from DIR/dh-params.pem: "
                "Base64 unexpected header error.");
    tree_copy("good-dh", "server");
    tree_write("good-dh", "dh-params.pem", dh);
    g_autofree char *ok = creds_add("tls-creds-x509", "good-dh", "server",
                                    "", &error_abort);
    g_assert_nonnull(ok);
    tree_copy("bad-psk", "psk-client");
    tree_write("bad-psk", "keys.psk", "qemu:not-hex\n");
    creds_fails("tls-creds-psk", "bad-psk", "client", "",
                "Cannot set PSK client credentials: "
                "Error in parsing.");
}

static void test_creds_lookup(void)
{
    Error *err = NULL;

    NEED_CERTS();
    g_autofree char *az = obj_add("authz-simple", "identity=x", &error_abort);
    g_autoptr(QCryptoTLSCreds) c = creds_new("tls-creds-x509", "server",
                                             "server", "");

    g_assert_true(qcrypto_tls_creds_is_x509(c));
    g_assert_true(qcrypto_tls_creds_check_endpoint(
        c, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &error_abort));
    g_assert_false(qcrypto_tls_creds_check_endpoint(
        c, QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Expected TLS credentials for a client endpoint");
    error_free_or_abort(&err);

    g_assert_null(qcrypto_tls_creds_lookup("nosuch", &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "No TLS credentials with id 'nosuch'");
    error_free_or_abort(&err);
    g_assert_null(qcrypto_tls_creds_lookup(az, &err));
    g_autofree char *msg = g_strdup_printf(
        "Object with id '%s' is not TLS credentials", az);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free_or_abort(&err);

    /* object-del while we hold a reference: still usable */
    g_assert_true(user_creatable_del(qcrypto_tls_creds_id(c), &error_abort));
    g_assert_null(qcrypto_tls_creds_lookup(qcrypto_tls_creds_id(c), &err));
    error_free_or_abort(&err);
    g_assert_true(qcrypto_tls_creds_is_x509(c));
}

static void test_authz(void)
{
    Error *err = NULL;
    g_autofree char *id = obj_add("authz-simple",
                                  "identity=O=ferry tests,,CN=client.example",
                                  &error_abort);
    g_autofree char *empty = obj_add("authz-simple", "identity=",
                                     &error_abort);

    obj_fails("authz-simple", "", "Parameter 'identity' is missing");
    g_assert_true(qauthz_is_allowed_by_id(id, TLS_CERTS_CLIENT_DN,
                                          &error_abort));
    g_assert_false(qauthz_is_allowed_by_id(id, "CN=client.example", &err));
    g_assert_null(err);
    g_assert_true(qauthz_is_allowed_by_id(empty, "", &error_abort));
    g_assert_false(qauthz_is_allowed_by_id("nosuch", "x", &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Cannot find QAuthZ object ID nosuch");
    error_free_or_abort(&err);
    g_assert_false(qauthz_is_allowed_by_id("", "x", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Cannot find QAuthZ object ID ");
    error_free_or_abort(&err);
    if (certs) {
        g_autofree char *c = creds_add("tls-creds-psk", "psk-server",
                                       "server", "", &error_abort);
        g_autofree char *msg = g_strdup_printf(
            "Object '%s' is not a QAuthZ subclass", c);

        g_assert_false(qauthz_is_allowed_by_id(c, "x", &err));
        g_assert_cmpstr(error_get_pretty(err), ==, msg);
        error_free_or_abort(&err);
    }
}

static void test_session_new_errors(void)
{
    Error *err = NULL;

    NEED_CERTS();
    g_autoptr(QCryptoTLSCreds) srv = creds_new("tls-creds-x509", "server",
                                               "server", "");
    g_autoptr(QCryptoTLSCreds) cli = creds_new("tls-creds-x509", "client",
                                               "client", ",priority=BOGUS");
    g_autoptr(QCryptoTLSCreds) psk = creds_new("tls-creds-psk", "psk-client",
                                               "client", ",priority=BOGUS");

    g_assert_null(qcrypto_tls_session_new(srv, "localhost", NULL,
                                          QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                          &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Expected TLS credentials for a client endpoint");
    error_free_or_abort(&err);
    g_assert_null(qcrypto_tls_session_new(cli, NULL, NULL,
                                          QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                          &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Expected TLS credentials for a server endpoint");
    error_free_or_abort(&err);
    g_assert_null(qcrypto_tls_session_new(cli, "localhost", NULL,
                                          QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                          &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Cannot set default TLS session priority BOGUS: "
                    "The request is invalid.");
    error_free_or_abort(&err);
    g_assert_null(qcrypto_tls_session_new(psk, NULL, NULL,
                                          QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                          &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Unable to set TLS session priority "
                    "BOGUS:+ECDHE-PSK:+DHE-PSK:+PSK: The request is invalid.");
    error_free_or_abort(&err);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) gerr = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    qcrypto_tls_creds_register_types();
    qauthz_register_types();
    certs = tls_certs_make(&gerr);
    if (!certs) {
        g_printerr("# TLS tests skipped: %s\n", gerr->message);
    }

    g_test_add_func("/crypto/tls/creds/x509-props", test_creds_x509_props);
    g_test_add_func("/crypto/tls/creds/x509-sanity", test_creds_x509_sanity);
    g_test_add_func("/crypto/tls/creds/psk-props", test_creds_psk_props);
    g_test_add_func("/crypto/tls/creds/bad-files", test_creds_bad_files);
    g_test_add_func("/crypto/tls/creds/lookup", test_creds_lookup);
    g_test_add_func("/crypto/tls/authz/simple", test_authz);
    g_test_add_func("/crypto/tls/session/new-errors",
                    test_session_new_errors);
    test_crypto_tls_add_session_tests();

    ret = g_test_run();
    user_creatable_cleanup();
    tls_certs_free(certs);
    return ret;
}
