/*
 * migration-recover-interop-test: postcopy recovery between ferry and the
 * real QEMU — 7.2, and 10.x (Debian 13's, in a chroot made by
 * scripts/setup-qemu10.sh) — in both directions, plain and with
 * postcopy-preempt.  QEMU 10.x runs with no option for ferry: it speaks
 * its own preempt protocol (the channel at the switch, no EOS), which a
 * ferry destination follows, and takes ferry's 7.2 one.
 *
 * A postcopy migration of 64 MiB of pseudo-random data (loaded with
 * "-device loader", read back with "pmemsave", as QEMU's Debian build
 * has no qtest accelerator) with a slow push; the link is broken with
 * migrate-pause on one side, both sides must reach postcopy-paused; then
 * migrate-recover on the destination and migrate resume=true on the
 * source bring both back to postcopy-active, the push finishes and the
 * destination's memory is compared byte for byte.  Pages are also read
 * on the destination before the break and after the recovery, so that
 * page requests cross the return path on both links.
 * And x-link-timeout against QEMU 7.2, which answers the PINGs ferry uses
 * but watches nothing itself: a relay in the test stops forwarding during
 * postcopy, and the ferry side — source or destination — reaches
 * postcopy-paused within the timeout plus a second.
 * Skipped, with the reason, without the QEMU binary or userfaultfd.
 * The destination is always started with "-incoming defer" (QEMU 10.x
 * wants postcopy-preempt set before its incoming migration starts).
 */
#include "migration-helpers.h"
#include "migration-relay.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define RAM_MB      256
#define PAT_ADDR    0x100000
#define PAT_LEN     (64u << 20)

typedef struct Case {
    const char *name;
    InteropPeer peer;
    bool src_qemu;          /* QEMU sends to ferry, else the other way */
    bool preempt;
    bool pause_dst;         /* migrate-pause on the destination */
} Case;

static const Case cases[] = {
    { "plain/ferry-to-qemu", PEER_QEMU72, false, false, false },
    { "plain/qemu-to-ferry", PEER_QEMU72, true, false, false },
    { "plain/ferry-to-qemu/dst-pause", PEER_QEMU72, false, false, true },
    { "plain/qemu-to-ferry/dst-pause", PEER_QEMU72, true, false, true },
    { "preempt/ferry-to-qemu", PEER_QEMU72, false, true, false },
    { "preempt/qemu-to-ferry", PEER_QEMU72, true, true, false },
    { "qemu10/plain/ferry-to-qemu", PEER_QEMU10, false, false, false },
    { "qemu10/plain/qemu-to-ferry", PEER_QEMU10, true, false, false },
    { "qemu10/plain/qemu-to-ferry/dst-pause", PEER_QEMU10, true, false,
      true },
    { "qemu10/preempt/ferry-to-qemu", PEER_QEMU10, false, true, false },
    { "qemu10/preempt/qemu-to-ferry", PEER_QEMU10, true, true, false },
};

static void test_recover(const void *opaque)
{
    const Case *c = opaque;
    g_autofree char *pattern = make_pattern_file(PAT_LEN, 23);
    g_autofree char *sock = g_strdup_printf("%s/rint-%d.sock",
                                            qtest_tmpdir(), getpid());
    g_autofree char *sock2 = g_strdup_printf("%s/rint2-%d.sock",
                                             qtest_tmpdir(), getpid());
    g_autofree char *want = NULL;
    g_autofree uint8_t *got = NULL;
    g_autofree char *st = NULL;
    QTestState *src, *dst;
    gsize len;

    if (!interop_have_peer(c->peer) || !have_userfaultfd()) {
        return;
    }
    g_assert_true(g_file_get_contents(pattern, &want, &len, NULL));
    /* No qtest accelerator in QEMU's Debian build. */
    src = migrate_start_vm(interop_binary(c->peer, c->src_qemu), c->src_qemu,
                           RAM_MB, "-device loader,file=%s,addr=0x%x",
                           pattern, PAT_ADDR);
    dst = migrate_start_vm(interop_binary(c->peer, !c->src_qemu),
                           !c->src_qemu, RAM_MB, "-incoming defer");
    for (int i = 0; i < 2; i++) {
        migrate_set_capability(i ? dst : src, "postcopy-ram", true);
        if (c->preempt) {
            migrate_set_capability(i ? dst : src, "postcopy-preempt", true);
        }
    }
    qtest_qmp_assert_success(dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'unix:%s'}}", sock);
    migrate_set_parameter_int(src, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 4 << 20);
    qtest_qmp_assert_success(src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': 'unix:%s'}}", sock);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    qtest_qmp_eventwait(dst, "RESUME");
    wait_for_migration_status(src, "postcopy-active");
    wait_for_migration_status(dst, "postcopy-active");
    read_pages_ahead(dst, PAT_ADDR, (const uint8_t *)want, PAT_LEN, 8, 0);

    /* The break. */
    qtest_qmp_assert_success(c->pause_dst ? dst : src,
                             "{'execute': 'migrate-pause'}");
    wait_for_migration_status(src, "postcopy-paused");
    wait_for_migration_status(dst, "postcopy-paused");
    st = qtest_runstate(dst);
    g_assert_cmpstr(st, ==, "running");

    /* The recovery. */
    qtest_qmp_assert_success(dst, "{'execute': 'migrate-recover', "
                             "'arguments': {'uri': 'unix:%s'}}", sock2);
    qtest_qmp_assert_success(src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': 'unix:%s', 'resume': true}}", sock2);
    wait_for_migration_status(src, "postcopy-active");
    wait_for_migration_status(dst, "postcopy-active");
    read_pages_ahead(dst, PAT_ADDR, (const uint8_t *)want, PAT_LEN, 8, 100);

    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 0);
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    got = pmemsave_read(dst, PAT_ADDR, PAT_LEN);
    g_assert_true(memcmp(got, want, PAT_LEN) == 0);
    g_free(st);
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "postmigrate");
    qtest_quit(src);
    qtest_quit(dst);
    unlink(pattern);
}

/* ---- a silent link, the ferry side watching it ---- */

#define LINK_TIMEOUT_MS 2000

typedef struct StallCase {
    InteropPeer peer;
    bool src_qemu;
} StallCase;

static const StallCase stall_cases[] = {
    { PEER_QEMU72, false }, { PEER_QEMU72, true },
    { PEER_QEMU10, false }, { PEER_QEMU10, true },
};

static void test_stall(const void *opaque)
{
    const StallCase *c = opaque;
    bool src_qemu = c->src_qemu;
    g_autofree char *pattern = make_pattern_file(PAT_LEN, 29);
    g_autofree char *sock = g_strdup_printf("%s/rst-%d.sock",
                                            qtest_tmpdir(), getpid());
    g_autofree char *via = g_strdup_printf("%s/rsv-%d.sock",
                                           qtest_tmpdir(), getpid());
    g_autofree char *timeout = g_strdup_printf(
        "-global migration.x-link-timeout=%d", LINK_TIMEOUT_MS);
    QTestState *src, *dst, *ferry;
    Relay *relay;
    int64_t t0, t;

    if (!interop_have_peer(c->peer) || !have_userfaultfd()) {
        return;
    }
    relay = relay_new(via, sock);
    src = migrate_start_vm(interop_binary(c->peer, src_qemu), src_qemu,
                           RAM_MB, "-device loader,file=%s,addr=0x%x %s",
                           pattern, PAT_ADDR, src_qemu ? "" : timeout);
    dst = migrate_start_vm(interop_binary(c->peer, !src_qemu), !src_qemu,
                           RAM_MB, "-incoming unix:%s %s", sock,
                           src_qemu ? timeout : "");
    ferry = src_qemu ? dst : src;
    for (int i = 0; i < 2; i++) {
        migrate_set_capability(i ? dst : src, "postcopy-ram", true);
    }
    migrate_set_parameter_int(src, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 4 << 20);
    qtest_qmp_assert_success(src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': 'unix:%s'}}", via);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    qtest_qmp_eventwait(dst, "RESUME");
    wait_for_migration_status(src, "postcopy-active");
    wait_for_migration_status(dst, "postcopy-active");
    t0 = g_get_monotonic_time() / 1000;
    relay_stall(relay, true);
    wait_for_migration_status(ferry, "postcopy-paused");
    t = g_get_monotonic_time() / 1000 - t0;
    g_test_message("ferry %s noticed the stall after %" PRId64 " ms",
                   src_qemu ? "destination" : "source", t);
    g_assert_cmpint(t, <=, LINK_TIMEOUT_MS + 1000);
    qtest_kill(src);
    qtest_kill(dst);
    relay_free(relay);
    unlink(pattern);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/interop/recover/%s",
                                                cases[i].name);
        g_test_add_data_func(path, &cases[i], test_recover);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(stall_cases); i++) {
        const StallCase *c = &stall_cases[i];
        g_autofree char *path = g_strdup_printf(
            "/interop/link/stall/%s%s", c->peer == PEER_QEMU10 ? "qemu10/"
                                                                : "",
            c->src_qemu ? "qemu-to-ferry" : "ferry-to-qemu");

        g_test_add_data_func(path, c, test_stall);
    }
    return g_test_run();
}
