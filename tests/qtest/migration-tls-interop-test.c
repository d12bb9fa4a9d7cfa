/*
 * migration-tls-interop-test: migration over TLS between ferry and the
 * real QEMU — 7.2, and 10.x (Debian 13's, in the chroot made by
 * scripts/setup-qemu10.sh) — in both directions.
 *
 * - QEMU 7.2: x509 and PSK, precopy, postcopy, and x509 with
 *   postcopy-preempt (the preempt channel has its own handshake).
 * - QEMU 10.x: x509 precopy and postcopy.
 * - Refusals against 7.2, both directions: a server certificate from a CA
 *   the client does not know (the client also has no certificate, so the
 *   server refuses it as well and stays listening), and a wrong PSK; each
 *   followed by a good migration to the same destination.
 *
 * QEMU is driven as a user would (its Debian build has no qtest
 * accelerator): RAM filled with "-device loader", read back with QMP
 * "pmemsave"; ferry the same way.  32 MiB of pseudo-random data in 64 MiB
 * of RAM, compared byte for byte; every connection goes through the
 * sniffer of migration-tls-helpers.h and must be TLS throughout, with the
 * data never in clear.  The credentials of the QEMU end come from its
 * command line, ferry's from object-add.  Skipped, with the reason,
 * without the QEMU binary, certtool or (postcopy) userfaultfd.
 */
#include "migration-tls-helpers.h"

#include <string.h>
#include <unistd.h>

typedef enum Mode {
    MODE_PRECOPY,
    MODE_POSTCOPY,
    MODE_PREEMPT,
} Mode;

typedef struct Case {
    const char *name;
    InteropPeer peer;
    bool src_qemu;          /* QEMU sends to ferry, else the other way */
    bool psk;               /* else x509 */
    Mode mode;
} Case;

static const Case cases[] = {
    { "x509/precopy/ferry-to-qemu", PEER_QEMU72, false, false,
      MODE_PRECOPY },
    { "x509/precopy/qemu-to-ferry", PEER_QEMU72, true, false, MODE_PRECOPY },
    { "x509/postcopy/ferry-to-qemu", PEER_QEMU72, false, false,
      MODE_POSTCOPY },
    { "x509/postcopy/qemu-to-ferry", PEER_QEMU72, true, false,
      MODE_POSTCOPY },
    { "x509/preempt/ferry-to-qemu", PEER_QEMU72, false, false,
      MODE_PREEMPT },
    { "x509/preempt/qemu-to-ferry", PEER_QEMU72, true, false, MODE_PREEMPT },
    { "psk/precopy/ferry-to-qemu", PEER_QEMU72, false, true, MODE_PRECOPY },
    { "psk/precopy/qemu-to-ferry", PEER_QEMU72, true, true, MODE_PRECOPY },
    { "psk/postcopy/ferry-to-qemu", PEER_QEMU72, false, true,
      MODE_POSTCOPY },
    { "psk/postcopy/qemu-to-ferry", PEER_QEMU72, true, true, MODE_POSTCOPY },
    { "qemu10/x509/precopy/ferry-to-qemu", PEER_QEMU10, false, false,
      MODE_PRECOPY },
    { "qemu10/x509/precopy/qemu-to-ferry", PEER_QEMU10, true, false,
      MODE_PRECOPY },
    { "qemu10/x509/postcopy/ferry-to-qemu", PEER_QEMU10, false, false,
      MODE_POSTCOPY },
    { "qemu10/x509/postcopy/qemu-to-ferry", PEER_QEMU10, true, false,
      MODE_POSTCOPY },
};

/* ferry (@qemu false), or the QEMU @peer; no qtest for ferry either. */
static QTestState *start_vm(bool qemu, InteropPeer peer, const char *args)
{
    return migrate_start_vm(interop_binary(peer, qemu), true, TLS_RAM_MB,
                            "%s", args);
}

/* A source, a destination listening on tcp behind a sniffer. */
typedef struct Run {
    QTestState *src, *dst;
    char *pattern_file;
    uint8_t *pattern;
    Sniff *sniff;
    unsigned first;         /* first connection of the current attempt */
} Run;

/*
 * Starts both ends of @c with credentials "tls0" (x509: the client and
 * server trees; PSK: the default identity) — on the command line of the
 * QEMU end, with object-add on ferry's; @src_dir overrides the source's
 * tree.  TLS is on at both ends; postcopy capabilities as @c says.
 */
static void run_start(Run *r, const Case *c, const char *src_dir)
{
    const char *type = c->psk ? "tls-creds-psk" : "tls-creds-x509";
    const char *sdir = src_dir ? src_dir
                               : c->psk ? "psk-client" : "client";
    const char *ddir = c->psk ? "psk-server" : "server";
    g_autofree char *sobj = c->psk ? tls_psk_arg("tls0", sdir, "client", "")
                                   : tls_x509_arg("tls0", sdir, "client", "");
    g_autofree char *dobj = c->psk ? tls_psk_arg("tls0", ddir, "server", "")
                                   : tls_x509_arg("tls0", ddir, "server", "");
    g_autofree char *listen = NULL, *sargs = NULL, *dargs = NULL;

    r->pattern_file = make_pattern_file(TLS_PAT_LEN, 53);
    g_assert_true(g_file_get_contents(r->pattern_file, (char **)&r->pattern,
                                      NULL, NULL));
    sargs = g_strdup_printf("-name source -device loader,file=%s,addr=0x%x "
                            "%s", r->pattern_file, TLS_PAT_ADDR,
                            c->src_qemu ? sobj : "");
    dargs = g_strdup_printf("-name target -incoming defer %s",
                            c->src_qemu ? "" : dobj);
    r->src = start_vm(c->src_qemu, c->peer, sargs);
    r->dst = start_vm(!c->src_qemu, c->peer, dargs);
    if (c->src_qemu) {
        tls_creds_add_ok(r->dst, type, "tls0", ddir, "server", NULL);
    } else {
        tls_creds_add_ok(r->src, type, "tls0", sdir, "client", NULL);
    }
    migrate_set_tls(r->src, "tls0", NULL, NULL);
    migrate_set_tls(r->dst, "tls0", NULL, NULL);
    for (int i = 0; i < 2 && c->mode != MODE_PRECOPY; i++) {
        migrate_set_capability(i ? r->dst : r->src, "postcopy-ram", true);
        if (c->mode == MODE_PREEMPT) {
            migrate_set_capability(i ? r->dst : r->src, "postcopy-preempt",
                                   true);
        }
    }
    qtest_qmp_assert_success(r->dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'tcp:127.0.0.1:0'}}");
    listen = migrate_listen_uri(r->dst);
    r->sniff = sniff_new(listen);
}

static void run_migrate(Run *r)
{
    r->first = sniff_connections(r->sniff);
    migrate_qmp(r->src, sniff_uri(r->sniff));
}

/* Both completed over @conns TLS connections; states; memory. */
static void run_check_completed(Run *r, unsigned conns)
{
    tls_check_completed(r->src, r->dst, r->sniff, r->first, conns,
                        r->pattern);
}

static void run_finish(Run *r)
{
    qtest_quit(r->src);
    qtest_quit(r->dst);
    sniff_free(r->sniff);
    unlink(r->pattern_file);
    g_free(r->pattern_file);
    g_free(r->pattern);
}

static void test_migrate(const void *opaque)
{
    const Case *c = opaque;
    Run r = { 0 };

    if (!interop_have_peer(c->peer) || !tls_test_certs() ||
        (c->mode != MODE_PRECOPY && !have_userfaultfd())) {
        return;
    }
    run_start(&r, c, NULL);
    if (c->mode == MODE_PRECOPY) {
        migrate_set_parameter_int(r.src, "max-bandwidth", 0);
        run_migrate(&r);
        run_check_completed(&r, 1);
        run_finish(&r);
        return;
    }
    /* Postcopy at once, a slow push, pages read far ahead of it. */
    migrate_set_parameter_int(r.src, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(r.src, "max-postcopy-bandwidth", 4 << 20);
    run_migrate(&r);
    tls_postcopy_switch(r.src, r.dst, r.pattern);
    migrate_set_parameter_int(r.src, "max-postcopy-bandwidth", 0);
    run_check_completed(&r, c->mode == MODE_PREEMPT ? 2 : 1);
    tls_assert_postcopy_requests(r.src);
    run_finish(&r);
}

/* ---- refusals against QEMU 7.2 ---- */

typedef struct Refusal {
    const char *name;
    bool src_qemu;
    bool psk;
    const char *src_dir;    /* the source's bad credentials */
    const char *src_error;  /* the source's error-desc */
    const char *dst_error;  /* the destination's stderr; it stays */
} Refusal;

static const Refusal refusals[] = {
    { "unknown-ca/ferry-to-qemu", false, false, "client-wrongca",
      "The certificate hasn't got a known issuer",
      "Verify failed: No certificate was found." },
    { "unknown-ca/qemu-to-ferry", true, false, "client-wrongca",
      "The certificate hasn't got a known issuer",
      "Verify failed: No certificate was found." },
    { "wrong-psk/ferry-to-qemu", false, true, "psk-wrong",
      "TLS handshake failed: The TLS connection was non-properly "
      "terminated.",
      "TLS handshake failed: An illegal parameter has been received." },
    { "wrong-psk/qemu-to-ferry", true, true, "psk-wrong",
      "TLS handshake failed: The TLS connection was non-properly "
      "terminated.",
      "TLS handshake failed: An illegal parameter has been received." },
};

/*
 * The bad credentials are refused by both ends (B.8): the source fails,
 * its VM running; the destination says why and stays listening, with no
 * migration status.  Then the source, with good credentials (added with
 * object-add on ferry, on QEMU too), migrates to it.
 */
static void test_refusal(const void *opaque)
{
    const Refusal *f = opaque;
    const Case c = { .peer = PEER_QEMU72, .src_qemu = f->src_qemu,
                     .psk = f->psk, .mode = MODE_PRECOPY };
    const char *const src_error[] = { f->src_error, NULL };
    Run r = { 0 };

    if (!qtest_have_qemu() || !tls_test_certs()) {
        return;
    }
    run_start(&r, &c, f->src_dir);
    run_migrate(&r);
    tls_expect_src_failed(r.src, src_error);
    tls_expect_dst_stays(r.dst, 0, f->dst_error);

    tls_creds_add_ok(r.src, f->psk ? "tls-creds-psk" : "tls-creds-x509",
                     "good", f->psk ? "psk-client" : "client", "client",
                     NULL);
    migrate_set_tls(r.src, "good", NULL, NULL);
    run_migrate(&r);
    run_check_completed(&r, 1);
    run_finish(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/interop/tls/%s",
                                                cases[i].name);

        g_test_add_data_func(path, &cases[i], test_migrate);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autofree char *path = g_strdup_printf("/interop/tls/refuse/%s",
                                                refusals[i].name);

        g_test_add_data_func(path, &refusals[i], test_refusal);
    }
    return g_test_run();
}
