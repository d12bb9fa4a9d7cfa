/*
 * migration-recover-interop-test: postcopy recovery between ferry and the
 * real QEMU 7.2, in both directions, plain and with postcopy-preempt.
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
 * Skipped, with the reason, without the QEMU binary or userfaultfd.
 */
#include "migration-helpers.h"

#include <string.h>
#include <unistd.h>

#define RAM_MB      256
#define PAT_ADDR    0x100000
#define PAT_LEN     (64u << 20)

typedef struct Case {
    const char *name;
    bool src_qemu;          /* QEMU sends to ferry, else the other way */
    bool preempt;
    bool pause_dst;         /* migrate-pause on the destination */
} Case;

static const Case cases[] = {
    { "plain/ferry-to-qemu", false, false, false },
    { "plain/qemu-to-ferry", true, false, false },
    { "plain/ferry-to-qemu/dst-pause", false, false, true },
    { "plain/qemu-to-ferry/dst-pause", true, false, true },
    { "preempt/ferry-to-qemu", false, true, false },
    { "preempt/qemu-to-ferry", true, true, false },
};

static QTestState *start_vm(bool qemu, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
static QTestState *start_vm(bool qemu, const char *fmt, ...)
{
    QTestOptions o = { .no_qtest = qemu, .capture_stderr = true };
    g_autofree char *args = NULL;
    va_list ap;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    o.binary = qemu ? qtest_qemu_binary() : NULL;
    return qtest_init_opts(&o, "-M none -m %dM -nodefaults -display none %s",
                           RAM_MB, args);
}

/* A few pages far ahead of the push: requested, and must be right. */
static void read_ahead(QTestState *dst, const uint8_t *want, unsigned seed)
{
    for (unsigned i = 0; i < 8; i++) {
        size_t off = ((size_t)(i + seed) * 1999 * 4096 + (40 << 20)) %
                     PAT_LEN & ~(size_t)4095;
        g_autofree uint8_t *got = pmemsave_read(dst, PAT_ADDR + off, 4096);

        g_assert_cmpmem(got, 4096, want + off, 4096);
    }
}

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

    if (!qtest_have_qemu() || !have_userfaultfd()) {
        return;
    }
    g_assert_true(g_file_get_contents(pattern, &want, &len, NULL));
    src = start_vm(c->src_qemu, "-device loader,file=%s,addr=0x%x", pattern,
                   PAT_ADDR);
    dst = start_vm(!c->src_qemu, "-incoming unix:%s", sock);
    for (int i = 0; i < 2; i++) {
        migrate_set_capability(i ? dst : src, "events", true);
        migrate_set_capability(i ? dst : src, "postcopy-ram", true);
        if (c->preempt) {
            migrate_set_capability(i ? dst : src, "postcopy-preempt", true);
        }
    }
    migrate_set_parameter_int(src, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 4 << 20);
    qtest_qmp_assert_success(src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': 'unix:%s'}}", sock);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    qtest_qmp_eventwait(dst, "RESUME");
    wait_for_migration_status(src, "postcopy-active");
    wait_for_migration_status(dst, "postcopy-active");
    read_ahead(dst, (const uint8_t *)want, 0);

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
    read_ahead(dst, (const uint8_t *)want, 100);

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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/interop/recover/%s",
                                                cases[i].name);
        g_test_add_data_func(path, &cases[i], test_recover);
    }
    return g_test_run();
}
