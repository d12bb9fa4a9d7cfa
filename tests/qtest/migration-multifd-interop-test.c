/*
 * migration-multifd-interop-test: precopy with capability multifd between
 * ferry and the real QEMU — 7.2, and 10.x (Debian 13's, in the chroot
 * made by scripts/setup-qemu10.sh) — in both directions.
 *
 * Guest memory is the layout of the spec's wire runs (multifd-and-tls.md
 * §0): 32 MiB in which every even page is zero and every odd page starts
 * with its little-endian page number followed by pseudo-random bytes;
 * loaded with "-device loader" on the source (QEMU's Debian build has no
 * qtest accelerator, so ferry is driven the same way), and read back with
 * QMP "pmemsave" on both sides after completion: the whole of RAM must
 * match, byte for byte.
 *
 * Every connection goes through a relay (migration-relay.h), which counts
 * them: a multifd migration has 1 + multifd-channels.  The source's
 * "multifd-bytes" must cover every non-zero page, so the pages really
 * went over multifd.
 *
 * - QEMU 7.2, both directions: 2 and 4 channels, compression none, zlib
 *   and zstd.  QEMU 10.x, both directions: 2 and 4 channels (ferry's
 *   source with multifd-flush-after-each-section=off, QEMU 10 with its
 *   defaults); zlib and zstd.
 * - Zero pages: the ferry destination's RAM is a private mapping of a
 *   file full of 0x5a, so a zero page it fails to write stays 0x5a.  A
 *   10.x source lists zero pages inside its packets
 *   (zero-page-detection=multifd), a 7.2 one sends ZERO records on the
 *   main channel.
 * - Mismatches with a real QEMU 7.2 source: ferry's destination without
 *   multifd, or with fewer channels (4 -> 2).  The source fails (its VM
 *   running), ferry's destination says why and exits with status 1.
 *
 * Skipped, with the reason, without the QEMU binary in question.
 */
#include "migration-helpers.h"
#include "migration-relay.h"

#include <inttypes.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM_MB      32
#define RAM_SIZE    ((size_t)RAM_MB << 20)
#define PAGE        4096
#define NPAGES      (RAM_SIZE / PAGE)

typedef struct Case {
    const char *name;
    InteropPeer peer;
    bool src_qemu;          /* QEMU sends to ferry, else the other way */
    unsigned channels;
    const char *compression;
    bool prefill;           /* the destination's RAM starts as 0x5a */
} Case;

static const Case cases[] = {
    { "qemu72/none/2/ferry-to-qemu", PEER_QEMU72, false, 2, "none" },
    { "qemu72/none/2/qemu-to-ferry", PEER_QEMU72, true, 2, "none" },
    { "qemu72/none/4/ferry-to-qemu", PEER_QEMU72, false, 4, "none" },
    { "qemu72/none/4/qemu-to-ferry", PEER_QEMU72, true, 4, "none" },
    { "qemu72/zlib/2/ferry-to-qemu", PEER_QEMU72, false, 2, "zlib" },
    { "qemu72/zlib/2/qemu-to-ferry", PEER_QEMU72, true, 2, "zlib" },
    { "qemu72/zstd/4/ferry-to-qemu", PEER_QEMU72, false, 4, "zstd" },
    { "qemu72/zstd/4/qemu-to-ferry", PEER_QEMU72, true, 4, "zstd" },
    { "qemu72/zero-pages/qemu-to-ferry", PEER_QEMU72, true, 2, "none",
      true },
    { "qemu10/none/2/ferry-to-qemu", PEER_QEMU10, false, 2, "none" },
    { "qemu10/none/2/qemu-to-ferry", PEER_QEMU10, true, 2, "none" },
    { "qemu10/none/4/ferry-to-qemu", PEER_QEMU10, false, 4, "none" },
    { "qemu10/none/4/qemu-to-ferry", PEER_QEMU10, true, 4, "none" },
    { "qemu10/zlib/2/qemu-to-ferry", PEER_QEMU10, true, 2, "zlib" },
    { "qemu10/zstd/2/ferry-to-qemu", PEER_QEMU10, false, 2, "zstd" },
    { "qemu10/zero-pages/qemu-to-ferry", PEER_QEMU10, true, 2, "none",
      true },
};

/* The spec's guest: even pages zero, odd ones LE page number + noise. */
static uint8_t *make_guest(void)
{
    uint8_t *buf = g_malloc0(RAM_SIZE);

    for (uint64_t i = 1; i < NPAGES; i += 2) {
        uint8_t *p = buf + i * PAGE;

        fill_pattern(p + 8, PAGE - 8, 0x6d66u + (uint32_t)i);
        for (int k = 0; k < 8; k++) {
            p[k] = i >> (8 * k);
        }
    }
    return buf;
}

static char *write_tmp(const char *name, const void *buf, size_t len)
{
    char *path = g_strdup_printf("%s/%s-%d.bin", qtest_tmpdir(), name,
                                 getpid());

    g_assert_true(g_file_set_contents(path, buf, len, NULL));
    return path;
}

static void set_multifd(QTestState *who, unsigned channels,
                        const char *compression)
{
    migrate_set_capability(who, "multifd", true);
    migrate_set_parameter_int(who, "multifd-channels", channels);
    qtest_qmp_assert_success(who, "{'execute': 'migrate-set-parameters', "
                             "'arguments': {'multifd-compression': '%s'}}",
                             compression);
}

/* query-migrate's error-desc, or NULL. */
static char *error_desc(QTestState *who)
{
    g_autoptr(JsonNode) rsp = migrate_query(who);
    JsonObject *ret = qmp_rsp_return(rsp);

    if (!json_object_has_member(ret, "error-desc")) {
        return NULL;
    }
    return g_strdup(json_object_get_string_member(ret, "error-desc"));
}

/* query-migrate's ram.multifd-bytes. */
static uint64_t multifd_bytes(QTestState *who)
{
    g_autoptr(JsonNode) rsp = migrate_query(who);
    JsonObject *ret = qmp_rsp_return(rsp);
    JsonObject *ram;

    g_assert_true(json_object_has_member(ret, "ram"));
    ram = json_object_get_object_member(ret, "ram");
    g_assert_true(json_object_has_member(ram, "multifd-bytes"));
    return json_object_get_int_member(ram, "multifd-bytes");
}

static void assert_runstate_is(QTestState *who, const char *want)
{
    g_autofree char *s = qtest_runstate(who);

    g_assert_cmpstr(s, ==, want);
}

/* Whole RAM of @who against @want, page by page (a clear first diff). */
static void check_ram(QTestState *who, const char *side, const uint8_t *want)
{
    g_autofree uint8_t *got = pmemsave_read(who, 0, RAM_SIZE);
    unsigned bad = 0;

    for (size_t i = 0; i < NPAGES; i++) {
        if (memcmp(got + i * PAGE, want + i * PAGE, PAGE)) {
            if (!bad) {
                g_test_message("%s: page %zu (0x%zx) differs: first bytes "
                               "%02x %02x %02x %02x, want %02x %02x %02x "
                               "%02x", side, i, i * PAGE, got[i * PAGE],
                               got[i * PAGE + 1], got[i * PAGE + 2],
                               got[i * PAGE + 3], want[i * PAGE],
                               want[i * PAGE + 1], want[i * PAGE + 2],
                               want[i * PAGE + 3]);
            }
            bad++;
        }
    }
    if (bad) {
        g_test_message("%s: %u of %zu pages differ", side, bad,
                       (size_t)NPAGES);
    }
    g_assert_cmpuint(bad, ==, 0);
}

typedef struct Run {
    QTestState *src, *dst;
    Relay *relay;
    uint8_t *guest;
    char *guest_file, *fill_file, *dst_sock, *relay_sock;
} Run;

/*
 * Both ends: the source with the guest loaded, the destination listening
 * on a unix socket behind the relay, both with multifd as given
 * (@dst_multifd false: none on the destination).
 */
static void run_start(Run *r, const Case *c, bool dst_multifd,
                      unsigned dst_channels)
{
    const char *sbin = interop_binary(c->peer, c->src_qemu);
    const char *dbin = interop_binary(c->peer, !c->src_qemu);
    g_autofree char *sargs = NULL, *dargs = NULL, *mem = NULL;
    const char *flush = "";

    r->guest = make_guest();
    r->guest_file = write_tmp("guest", r->guest, RAM_SIZE);
    if (c->prefill) {
        g_autofree uint8_t *fill = g_malloc(RAM_SIZE);

        memset(fill, 0x5a, RAM_SIZE);
        r->fill_file = write_tmp("fill5a", fill, RAM_SIZE);
        mem = g_strdup_printf("-object memory-backend-file,id=ram,size=%uM,"
                              "mem-path=%s,share=off "
                              "-machine memory-backend=ram", RAM_MB,
                              r->fill_file);
    }
    r->dst_sock = g_strdup_printf("%s/mfd-dst-%d.sock", qtest_tmpdir(),
                                  getpid());
    r->relay_sock = g_strdup_printf("%s/mfd-relay-%d.sock", qtest_tmpdir(),
                                    getpid());
    /* QEMU 10 waits at its barrier for MULTIFD_FLUSH records (A.10). */
    if (c->peer == PEER_QEMU10 && !c->src_qemu) {
        flush = "-global migration.multifd-flush-after-each-section=off";
    }
    sargs = g_strdup_printf("-name source -device loader,file=%s,addr=0 %s",
                            r->guest_file, flush);
    dargs = g_strdup_printf("-name target -incoming defer %s",
                            mem ? mem : "");
    r->src = migrate_start_vm(sbin, true, RAM_MB, "%s", sargs);
    r->dst = migrate_start_vm(dbin, true, RAM_MB, "%s", dargs);
    if (c->prefill) {
        /* The fill is really there before the migration. */
        g_autofree uint8_t *got = pmemsave_read(r->dst, 0, PAGE);

        g_assert_cmphex(got[0], ==, 0x5a);
        g_assert_cmphex(got[PAGE - 1], ==, 0x5a);
    }
    set_multifd(r->src, c->channels, c->compression);
    if (dst_multifd) {
        set_multifd(r->dst, dst_channels, c->compression);
    }
    migrate_set_parameter_int(r->src, "max-bandwidth", 0);
    qtest_qmp_assert_success(r->dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'unix:%s'}}",
                             r->dst_sock);
    r->relay = relay_new(r->relay_sock, r->dst_sock);
}

static void run_migrate(Run *r)
{
    g_autofree char *uri = g_strdup_printf("unix:%s", r->relay_sock);

    migrate_qmp(r->src, uri);
}

static void run_free(Run *r)
{
    relay_free(r->relay);
    unlink(r->guest_file);
    if (r->fill_file) {
        unlink(r->fill_file);
    }
    g_free(r->guest_file);
    g_free(r->fill_file);
    g_free(r->dst_sock);
    g_free(r->relay_sock);
    g_free(r->guest);
}

static void test_migrate(const void *opaque)
{
    const Case *c = opaque;
    Run r = { 0 };
    uint64_t mfd;

    if (!interop_have_peer(c->peer)) {
        return;
    }
    run_start(&r, c, true, c->channels);
    run_migrate(&r);
    wait_for_migration_complete(r.src);
    wait_for_migration_complete(r.dst);

    /* main + one connection per channel, nothing else */
    g_assert_cmpuint(relay_connections(r.relay), ==, 1 + c->channels);
    /* every non-zero page went over multifd (random: no shrinking) */
    mfd = multifd_bytes(r.src);
    g_test_message("multifd-bytes %" PRIu64, mfd);
    g_assert_cmpuint(mfd, >=, RAM_SIZE / 2);
    assert_runstate_is(r.src, "postmigrate");
    assert_runstate_is(r.dst, "running");
    check_ram(r.src, "source", r.guest);
    check_ram(r.dst, "destination", r.guest);
    qtest_quit(r.src);
    qtest_quit(r.dst);
    run_free(&r);
}

/* ---- mismatches with a QEMU 7.2 source ---- */

typedef struct Mismatch {
    const char *name;
    bool dst_multifd;
    unsigned dst_channels;
    /*
     * ferry's reason, one of these (which one depends on the order in
     * which QEMU's connections come and how far it got before it saw
     * its own failure).
     */
    const char *dst_error[3];
} Mismatch;

static const Mismatch mismatches[] = {
    /*
     * The main channel is loaded as a plain precopy stream; the listener
     * takes no other connection, so QEMU's channels fail, and so does
     * the migration: the stream ends early (where depends on the race).
     */
    { "no-multifd-on-destination", false, 0,
      { "load of migration failed: ", "stream truncated at offset " } },
    /*
     * ferry takes 1 + 2 connections: either the extra ones are refused
     * (the stream ends early), or a hello with id 2 or 3 was among the
     * three, which ferry refuses by name.
     */
    { "channels-4-to-2", true, 2,
      { "load of migration failed: ", "stream truncated at offset " } },
};

/* The alternative reason of channels-4-to-2. */
static bool refused_hello(const char *err)
{
    return strstr(err, "failed to receive packet via multifd channel ") &&
           (strstr(err, "multifd: received channel id 2 is greater than "
                   "number of channels 2") ||
            strstr(err, "multifd: received channel id 3 is greater than "
                   "number of channels 2"));
}

/*
 * The source fails and its VM runs on; ferry's destination reports the
 * reason and exits with status 1, as a failed incoming migration does.
 */
static void test_mismatch(const void *opaque)
{
    const Mismatch *m = opaque;
    const Case c = { .peer = PEER_QEMU72, .src_qemu = true, .channels = 4,
                     .compression = "none" };
    g_autofree char *desc = NULL;
    const char *err;
    bool all = true;
    Run r = { 0 };
    int status;

    if (!interop_have_peer(PEER_QEMU72)) {
        return;
    }
    run_start(&r, &c, m->dst_multifd, m->dst_channels);
    run_migrate(&r);
    wait_for_migration_fail(r.src, false);
    desc = error_desc(r.src);
    g_test_message("source: %s", desc ? desc : "(no error-desc)");
    /* QEMU's own words for a peer that went away (A.9). */
    g_assert_nonnull(desc);
    g_assert_nonnull(strstr(desc, "Unable to write to socket: "));
    assert_runstate_is(r.src, "running");
    /* The source keeps its memory (nothing was lost on the way). */
    check_ram(r.src, "source", r.guest);
    /*
     * QEMU 7.2 keeps its main connection open after such a failure, and
     * the destination waits for more of the stream (as 7.2's does): the
     * user's tooling ends the failed source, and only then does ferry
     * see the end of the stream.
     */
    qtest_quit(r.src);

    status = qtest_wait_exit(r.dst);
    err = qtest_stderr(r.dst);
    g_test_message("destination: %s", err);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    for (int i = 0; i < 3 && m->dst_error[i]; i++) {
        all = all && strstr(err, m->dst_error[i]);
    }
    g_assert_true(all || (m->dst_multifd && refused_hello(err)));
    qtest_kill(r.dst);
    run_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/interop/multifd/%s",
                                                cases[i].name);

        g_test_add_data_func(path, &cases[i], test_migrate);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(mismatches); i++) {
        g_autofree char *path = g_strdup_printf("/interop/multifd/mismatch/"
                                                "qemu72-to-ferry/%s",
                                                mismatches[i].name);

        g_test_add_data_func(path, &mismatches[i], test_mismatch);
    }
    return g_test_run();
}
