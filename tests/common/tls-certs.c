/*
 * tls-certs.c: the TLS test tree of tls-certs.h, made with certtool.
 *
 * Design: certificates are made at test time, never checked in, so none
 * expires under the tests' feet and "expired yesterday" really is.
 * certtool is driven in batch mode with template files; keys are ECDSA
 * P-256, which certtool makes in milliseconds (the whole tree takes a
 * few tens of ms), and which QEMU 7.2.22's sanity check accepts (it no
 * longer asks for keyEncipherment, which an ECDSA key cannot carry).
 * Every step that fails says which certtool command and shows its
 * output, so a broken gnutls-bin is diagnosed from the test log.
 */
#include "tls-certs.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

const char *tls_certs_certtool(void)
{
    static char *path;
    static gsize done;

    if (g_once_init_enter(&done)) {
        path = g_find_program_in_path("certtool");
        g_once_init_leave(&done, 1);
    }
    return path;
}

static char *tc_path(TLSCerts *c, const char *dir, const char *file)
{
    return g_build_filename(c->base, dir, file, NULL);
}

/* Runs certtool with @args (NULL-terminated, without argv[0]). */
static bool tc_certtool(const char *const *args, GError **err)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *out = NULL;
    g_autofree char *errout = NULL;
    int status;

    g_ptr_array_add(argv, (gpointer)tls_certs_certtool());
    for (size_t i = 0; args[i]; i++) {
        g_ptr_array_add(argv, (gpointer)args[i]);
    }
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                      G_SPAWN_DEFAULT, NULL, NULL, &out, &errout, &status,
                      err)) {
        return false;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_autofree char *cmd = g_strjoinv(" ", (char **)argv->pdata);

        g_set_error(err, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                    "%s failed: %s", cmd, errout ? errout : "");
        return false;
    }
    return true;
}

static bool tc_write(const char *path, const char *text, GError **err)
{
    return g_file_set_contents(path, text, -1, err);
}

static bool tc_copy(TLSCerts *c, const char *from_dir, const char *from,
                    const char *to_dir, const char *to, GError **err)
{
    g_autofree char *src = tc_path(c, from_dir, from);
    g_autofree char *dst = tc_path(c, to_dir, to);
    g_autofree char *data = NULL;
    gsize len;

    return g_file_get_contents(src, &data, &len, err) &&
           g_file_set_contents(dst, data, len, err);
}

static bool tc_mkdir(TLSCerts *c, const char *dir, GError **err)
{
    g_autofree char *path = g_build_filename(c->base, dir, NULL);

    if (g_mkdir(path, 0700) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "mkdir %s: %s", path, g_strerror(errno));
        return false;
    }
    return true;
}

static bool tc_key(TLSCerts *c, const char *dir, const char *file,
                   GError **err)
{
    g_autofree char *key = tc_path(c, dir, file);
    const char *args[] = {
        "--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
        "--outfile", key, NULL
    };

    return tc_certtool(args, err);
}

/* A self-signed CA in @dir (ca-cert.pem, ca-key.pem). */
static bool tc_make_ca(TLSCerts *c, const char *dir, const char *cn,
                       GError **err)
{
    g_autofree char *key = tc_path(c, dir, "ca-key.pem");
    g_autofree char *cert = tc_path(c, dir, "ca-cert.pem");
    g_autofree char *tmpl = tc_path(c, dir, "ca.tmpl");
    g_autofree char *text = g_strdup_printf(
        "cn = \"%s\"\n"
        "ca\n"
        "cert_signing_key\n"
        "crl_signing_key\n"
        "expiration_days = 3650\n", cn);
    const char *args[] = {
        "--generate-self-signed", "--load-privkey", key,
        "--template", tmpl, "--outfile", cert, NULL
    };

    bool ok = tc_mkdir(c, dir, err) && tc_key(c, dir, "ca-key.pem", err) &&
              tc_write(tmpl, text, err) && tc_certtool(args, err);

    g_unlink(tmpl);
    return ok;
}

/*
 * A certificate for @dir/@name-cert.pem (key @name-key.pem) signed by
 * the CA in @cadir; @tmpl_body is the template (subject, SANs, usage).
 */
static bool tc_make_leaf(TLSCerts *c, const char *dir, const char *name,
                         const char *cadir, const char *tmpl_body,
                         GError **err)
{
    g_autofree char *keyname = g_strdup_printf("%s-key.pem", name);
    g_autofree char *certname = g_strdup_printf("%s-cert.pem", name);
    g_autofree char *key = tc_path(c, dir, keyname);
    g_autofree char *cert = tc_path(c, dir, certname);
    g_autofree char *tmpl = tc_path(c, dir, "leaf.tmpl");
    g_autofree char *cacert = tc_path(c, cadir, "ca-cert.pem");
    g_autofree char *cakey = tc_path(c, cadir, "ca-key.pem");
    const char *args[] = {
        "--generate-certificate", "--load-privkey", key,
        "--load-ca-certificate", cacert, "--load-ca-privkey", cakey,
        "--template", tmpl, "--outfile", cert, NULL
    };
    bool ok;

    ok = tc_key(c, dir, keyname, err) && tc_write(tmpl, tmpl_body, err) &&
         tc_certtool(args, err);
    g_unlink(tmpl);
    return ok;
}

#define TC_SERVER_TMPL(cn, sans, validity) \
    "cn = \"" cn "\"\n" sans "tls_www_server\nsigning_key\n" validity

static bool tc_make_servers(TLSCerts *c, GError **err)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autoptr(GDateTime) act = g_date_time_add_days(now, -2);
    g_autoptr(GDateTime) exp = g_date_time_add_days(now, -1);
    g_autofree char *act_s = g_date_time_format(act, "%Y-%m-%d %H:%M:%S");
    g_autofree char *exp_s = g_date_time_format(exp, "%Y-%m-%d %H:%M:%S");
    g_autofree char *expired = g_strdup_printf(
        TC_SERVER_TMPL("localhost",
                       "dns_name = \"localhost\"\n"
                       "ip_address = \"127.0.0.1\"\n", "")
        "activation_date = \"%s\"\nexpiration_date = \"%s\"\n",
        act_s, exp_s);

    return tc_mkdir(c, "server", err) &&
           tc_copy(c, "ca", "ca-cert.pem", "server", "ca-cert.pem", err) &&
           tc_make_leaf(c, "server", "server", "ca",
                        TC_SERVER_TMPL("localhost",
                                       "dns_name = \"localhost\"\n"
                                       "ip_address = \"127.0.0.1\"\n",
                                       "expiration_days = 30\n"), err) &&
           tc_mkdir(c, "server-otherhost", err) &&
           tc_copy(c, "ca", "ca-cert.pem", "server-otherhost",
                   "ca-cert.pem", err) &&
           tc_make_leaf(c, "server-otherhost", "server", "ca",
                        TC_SERVER_TMPL("otherhost.example",
                                       "dns_name = \"otherhost.example\"\n",
                                       "expiration_days = 30\n"), err) &&
           tc_mkdir(c, "server-expired", err) &&
           tc_copy(c, "ca", "ca-cert.pem", "server-expired", "ca-cert.pem",
                   err) &&
           tc_make_leaf(c, "server-expired", "server", "ca", expired, err);
}

#define TC_CLIENT_TMPL \
    "cn = \"client.example\"\norganization = \"ferry tests\"\n" \
    "tls_www_client\nsigning_key\nexpiration_days = 30\n"

static bool tc_make_clients(TLSCerts *c, GError **err)
{
    return tc_mkdir(c, "client", err) &&
           tc_copy(c, "ca", "ca-cert.pem", "client", "ca-cert.pem", err) &&
           tc_make_leaf(c, "client", "client", "ca", TC_CLIENT_TMPL, err) &&
           tc_mkdir(c, "client-nocert", err) &&
           tc_copy(c, "ca", "ca-cert.pem", "client-nocert", "ca-cert.pem",
                   err) &&
           tc_mkdir(c, "client-wrongca", err) &&
           tc_copy(c, "otherca", "ca-cert.pem", "client-wrongca",
                   "ca-cert.pem", err) &&
           tc_mkdir(c, "client-othercert", err) &&
           tc_copy(c, "ca", "ca-cert.pem", "client-othercert",
                   "ca-cert.pem", err) &&
           tc_make_leaf(c, "client-othercert", "client", "otherca",
                        TC_CLIENT_TMPL, err);
}

static char *tc_hexkey(void)
{
    GString *s = g_string_new(NULL);

    for (int i = 0; i < 32; i++) {
        g_string_append_printf(s, "%02x", g_random_int_range(0, 256));
    }
    return g_string_free(s, false);
}

static bool tc_make_psk(TLSCerts *c, GError **err)
{
    g_autofree char *k1 = tc_hexkey();
    g_autofree char *k2 = tc_hexkey();
    g_autofree char *k3 = tc_hexkey();
    g_autofree char *good = g_strdup_printf("qemu:%s\nalice:%s\n", k1, k2);
    g_autofree char *wrong = g_strdup_printf("qemu:%s\n", k3);
    g_autofree char *p1 = tc_path(c, "psk-server", "keys.psk");
    g_autofree char *p2 = tc_path(c, "psk-client", "keys.psk");
    g_autofree char *p3 = tc_path(c, "psk-wrong", "keys.psk");

    return tc_mkdir(c, "psk-server", err) && tc_write(p1, good, err) &&
           tc_mkdir(c, "psk-client", err) && tc_write(p2, good, err) &&
           tc_mkdir(c, "psk-wrong", err) && tc_write(p3, wrong, err);
}

TLSCerts *tls_certs_make(GError **err)
{
    TLSCerts *c;

    if (!tls_certs_certtool()) {
        g_set_error(err, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT,
                    "certtool not found");
        return NULL;
    }
    c = g_new0(TLSCerts, 1);
    c->base = g_dir_make_tmp("ferry-tls-XXXXXX", err);
    if (!c->base) {
        g_free(c);
        return NULL;
    }
    if (!tc_make_ca(c, "ca", "ferry test CA", err) ||
        !tc_make_ca(c, "otherca", "ferry other CA", err) ||
        !tc_make_servers(c, err) ||
        !tc_make_clients(c, err) ||
        !tc_make_psk(c, err)) {
        tls_certs_free(c);
        return NULL;
    }
    return c;
}

char *tls_certs_dir(TLSCerts *c, const char *name)
{
    return g_build_filename(c->base, name, NULL);
}

static void tc_rm_rf(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;

    if (dir) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *sub = g_build_filename(path, name, NULL);

            if (g_file_test(sub, G_FILE_TEST_IS_DIR) &&
                !g_file_test(sub, G_FILE_TEST_IS_SYMLINK)) {
                tc_rm_rf(sub);
            } else {
                g_unlink(sub);
            }
        }
        g_dir_close(dir);
        g_rmdir(path);
    }
}

void tls_certs_free(TLSCerts *c)
{
    if (!c) {
        return;
    }
    if (c->base) {
        tc_rm_rf(c->base);
    }
    g_free(c->base);
    g_free(c);
}
