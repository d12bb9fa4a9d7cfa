/*
 * migration-interop-test: precopy and postcopy (with and without
 * postcopy-preempt) between ferry and the real QEMU 7.2, in both
 * directions, with 256 MiB of pseudo-random guest memory compared byte for
 * byte.
 *
 * QEMU is driven the way a user would drive it (its Debian build has no
 * qtest accelerator, and a CPU would add sections to its stream): RAM is
 * filled at start-up with "-device loader" and read back with QMP
 * "pmemsave"; ferry does the same, so both sides are treated alike.
 * Skipped, with the reason, without the QEMU binary.
 */
#include "migration-helpers.h"

#include <string.h>
#include <unistd.h>

#define RAM_MB      256
#define RAM_SIZE    ((size_t)RAM_MB << 20)
/* Pattern in most of RAM, leaving zero pages at both ends. */
#define PAT_ADDR    0x100000
#define PAT_LEN     (RAM_SIZE - (2 << 20))

static QTestState *start_vm(bool qemu, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
static QTestState *start_vm(bool qemu, const char *fmt, ...)
{
    /* ferry keeps qtest for on-demand reads; it adds nothing to the stream. */
    QTestOptions o = { .no_qtest = qemu };
    g_autofree char *args = NULL;
    va_list ap;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    o.binary = qemu ? qtest_qemu_binary() : NULL;
    return qtest_init_opts(&o, "-M none -m %dM -nodefaults -display none %s",
                           RAM_MB, args);
}

static void check_memory(QTestState *dst, const char *pattern_file)
{
    g_autofree char *want = NULL;
    g_autofree uint8_t *got = pmemsave_read(dst, 0, RAM_SIZE);
    gsize len;

    g_assert_true(g_file_get_contents(pattern_file, &want, &len, NULL));
    g_assert_cmpuint(len, ==, PAT_LEN);
    for (size_t i = 0; i < PAT_ADDR; i++) {
        g_assert_cmphex(got[i], ==, 0);
    }
    for (size_t off = 0; off < PAT_LEN; off += 4096) {
        if (memcmp(got + PAT_ADDR + off, want + off, 4096)) {
            g_test_message("page at 0x%zx differs", PAT_ADDR + off);
            g_assert_not_reached();
        }
    }
    for (size_t i = PAT_ADDR + PAT_LEN; i < RAM_SIZE; i++) {
        g_assert_cmphex(got[i], ==, 0);
    }
}

/* After completion: run states as 7.2 leaves them, memory, clean-up. */
static void check_result_and_quit(QTestState *src, QTestState *dst,
                                  const char *pattern)
{
    g_autofree char *d = qtest_runstate(dst);
    g_autofree char *s = qtest_runstate(src);

    g_assert_cmpstr(d, ==, "running");
    g_assert_cmpstr(s, ==, "postmigrate");
    check_memory(dst, pattern);
    qtest_quit(src);
    qtest_quit(dst);
    unlink(pattern);
}

/* @src_qemu: QEMU sends to ferry, else ferry sends to QEMU. */
static void run_precopy(bool src_qemu, bool return_path)
{
    g_autofree char *pattern = make_pattern_file(PAT_LEN, 99);
    g_autofree char *sock = g_strdup_printf("%s/interop-%d.sock",
                                            qtest_tmpdir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    QTestState *src, *dst;

    if (!qtest_have_qemu()) {
        return;
    }
    src = start_vm(src_qemu, "-device loader,file=%s,addr=0x%x", pattern,
                   PAT_ADDR);
    dst = start_vm(!src_qemu, "-incoming unix:%s", sock);
    migrate_set_capability(src, "events", true);
    migrate_set_capability(dst, "events", true);
    if (return_path) {
        migrate_set_capability(src, "return-path", true);
        migrate_set_capability(dst, "return-path", true);
    }
    /* As fast as the machine goes (7.2 defaults to 128 MiB/s). */
    migrate_set_parameter_int(src, "max-bandwidth", 0);
    migrate_qmp(src, uri);
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    qtest_qmp_eventwait(src, "STOP");
    qtest_qmp_eventwait(dst, "RESUME");
    check_result_and_quit(src, dst, pattern);
}

/*
 * Postcopy with an early switch (accepted before the migration is active,
 * as 7.2 accepts it) and a slow background push, so that the reads on the
 * destination hit pages not yet received: they fault, are requested over
 * the return path and must return the right bytes.
 */
static void run_postcopy(bool src_qemu, bool preempt)
{
    g_autofree char *pattern = make_pattern_file(PAT_LEN, 7);
    g_autofree char *sock = g_strdup_printf("%s/interop-pc-%d.sock",
                                            qtest_tmpdir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *want = NULL;
    g_autoptr(JsonNode) s = NULL, d = NULL;
    QTestState *src, *dst;
    g_autofree char *st = NULL;
    gsize len;

    if (!qtest_have_qemu() || !have_userfaultfd()) {
        return;
    }
    g_assert_true(g_file_get_contents(pattern, &want, &len, NULL));
    src = start_vm(src_qemu, "-device loader,file=%s,addr=0x%x", pattern,
                   PAT_ADDR);
    dst = start_vm(!src_qemu, "-incoming unix:%s", sock);
    for (int i = 0; i < 2; i++) {
        migrate_set_capability(i ? dst : src, "events", true);
        migrate_set_capability(i ? dst : src, "postcopy-ram", true);
        if (preempt) {
            /* 7.2's protocol: a second connection for requested pages. */
            migrate_set_capability(i ? dst : src, "postcopy-preempt", true);
        }
    }
    migrate_set_parameter_int(src, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 4 << 20);
    migrate_qmp(src, uri);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    qtest_qmp_eventwait(src, "STOP");
    qtest_qmp_eventwait(dst, "RESUME");
    st = migrate_query_status(dst);
    g_assert_cmpstr(st, ==, "postcopy-active");

    /* Pages spread over RAM, far ahead of a 4 MB/s background push. */
    for (int i = 0; i < 32; i++) {
        size_t off = ((size_t)i * 1999 * 4096 + (200 << 20)) % PAT_LEN;
        g_autofree uint8_t *got = NULL;

        off &= ~(size_t)4095;
        if (src_qemu) {
            got = g_malloc(4096);
            qtest_memread(dst, PAT_ADDR + off, got, 4096);
        } else {
            got = pmemsave_read(dst, PAT_ADDR + off, 4096);
        }
        g_assert_cmpmem(got, 4096, want + off, 4096);
    }
    /* Then let the push finish at full speed. */
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 0);
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    s = migrate_query(src);
    g_assert_cmpint(json_object_get_int_member(
                        json_object_get_object_member(qmp_rsp_return(s),
                                                      "ram"),
                        "postcopy-requests"), >, 0);
    if (src_qemu) {
        d = migrate_query(dst);
        g_assert_cmpint(json_object_get_int_member(qmp_rsp_return(d),
                                                   "x-postcopy-requests"), >, 0);
    }
    check_result_and_quit(src, dst, pattern);
}

static void test_postcopy_ferry_to_qemu(void)
{
    run_postcopy(false, false);
}

static void test_postcopy_qemu_to_ferry(void)
{
    run_postcopy(true, false);
}

static void test_preempt_ferry_to_qemu(void)
{
    run_postcopy(false, true);
}

static void test_preempt_qemu_to_ferry(void)
{
    run_postcopy(true, true);
}

static void test_ferry_to_qemu(void)
{
    run_precopy(false, false);
}

static void test_qemu_to_ferry(void)
{
    run_precopy(true, false);
}

static void test_ferry_to_qemu_rp(void)
{
    run_precopy(false, true);
}

static void test_qemu_to_ferry_rp(void)
{
    run_precopy(true, true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/interop/precopy/ferry-to-qemu", test_ferry_to_qemu);
    g_test_add_func("/interop/precopy/qemu-to-ferry", test_qemu_to_ferry);
    g_test_add_func("/interop/precopy/ferry-to-qemu/return-path",
                    test_ferry_to_qemu_rp);
    g_test_add_func("/interop/precopy/qemu-to-ferry/return-path",
                    test_qemu_to_ferry_rp);
    g_test_add_func("/interop/postcopy/ferry-to-qemu",
                    test_postcopy_ferry_to_qemu);
    g_test_add_func("/interop/postcopy/qemu-to-ferry",
                    test_postcopy_qemu_to_ferry);
    g_test_add_func("/interop/postcopy/preempt/ferry-to-qemu",
                    test_preempt_ferry_to_qemu);
    g_test_add_func("/interop/postcopy/preempt/qemu-to-ferry",
                    test_preempt_qemu_to_ferry);
    return g_test_run();
}
