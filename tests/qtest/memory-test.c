/*
 * memory-test: how ferry sets up guest RAM on the host, seen from
 * /proc/PID/smaps of a running ferry: MADV_HUGEPAGE on every RAM block
 * ("hg"), MADV_MERGEABLE ("mg") and MADV_DONTDUMP ("dd") from -machine
 * mem-merge / dump-guest-core and the backends' merge / dump,
 * MADV_DONTFORK ("dc") with an accelerator that has vCPUs, and
 * prealloc=on with prealloc-threads.  VmFlags show the advice whatever
 * the host's THP mode (always, madvise, never), so nothing here depends
 * on it; a kernel built without THP or KSM skips those checks.  (The
 * postcopy destination's NOHUGEPAGE is checked in migration-postcopy-
 * test.)
 */
#include "migration-helpers.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define RAM_SIZE (160u << 20)   /* no other mapping of ferry's is this size */

static bool have_thp(void)
{
    return g_file_test("/sys/kernel/mm/transparent_hugepage", G_FILE_TEST_IS_DIR);
}

static bool have_ksm(void)
{
    return g_file_test("/sys/kernel/mm/ksm", G_FILE_TEST_IS_DIR);
}

/*
 * Starts ferry with @args, checks the RAM mapping's advice: huge pages
 * always, mergeable iff @merge, not dumped iff @dontdump.
 */
static void check_advice(const char *args, bool merge, bool dontdump)
{
    QTestState *s = qtest_init(args);
    g_autofree char *flags = ram_vmflags(qtest_pid(s), RAM_SIZE, NULL);

    g_test_message("%s: VmFlags %s", args, flags);
    if (have_thp()) {
        g_assert_true(vmflags_has(flags, "hg"));
        g_assert_false(vmflags_has(flags, "nh"));
    }
    if (have_ksm()) {
        g_assert_cmpint(vmflags_has(flags, "mg"), ==, merge);
    }
    g_assert_cmpint(vmflags_has(flags, "dd"), ==, dontdump);
    qtest_quit(s);
}

static void test_default_ram(void)
{
    check_advice("-M none -m 160M", true, false);
}

static void test_machine_opts(void)
{
    check_advice("-M none,mem-merge=off,dump-guest-core=off -m 160M",
                 false, true);
    check_advice("-M none,mem-merge=on,dump-guest-core=on -m 160M",
                 true, false);
}

/* A backend's merge / dump default to the machine's, and win over it. */
static void test_backend(void)
{
    check_advice("-M none,memory-backend=m0 -object "
                 "memory-backend-ram,id=m0,size=160M", true, false);
    check_advice("-M none,memory-backend=m0 -object "
                 "memory-backend-ram,id=m0,size=160M,merge=off,dump=off",
                 false, true);
    check_advice("-M none,memory-backend=m0,mem-merge=off,"
                 "dump-guest-core=off -object "
                 "memory-backend-ram,id=m0,size=160M", false, true);
    check_advice("-M none,memory-backend=m0,mem-merge=off,"
                 "dump-guest-core=off -object "
                 "memory-backend-ram,id=m0,size=160M,merge=on,dump=on",
                 true, false);
}

/*
 * The threads ferry should start: QEMU's rule (at most the CPUs, 16 and
 * one per 64 MiB).
 */
static unsigned expected_threads(unsigned asked)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    return MAX(1, MIN(MIN(MIN((unsigned)cpus, 16), asked), RAM_SIZE >> 26));
}

/* Starts ferry with @args, checks every page is present, and the trace. */
static void check_prealloc(const char *args, const char *id,
                           unsigned threads)
{
    g_autofree char *log = g_strdup_printf("%s/memory-test-%d.log",
                                           qtest_tmpdir(), getpid());
    g_autofree char *full = g_strdup_printf("%s -trace ram_block_prealloc "
                                            "-D %s", args, log);
    g_autofree char *text = NULL, *want = NULL;
    QTestState *s = qtest_init(full);
    uint64_t rss = 0;
    g_autofree char *flags = ram_vmflags(qtest_pid(s), RAM_SIZE, &rss);

    g_test_message("%s: Rss %" PRIu64 " VmFlags %s", args, rss, flags);
    g_assert_cmpuint(rss, >=, RAM_SIZE);
    qtest_quit(s);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    unlink(log);
    g_test_message("trace: %s", text);
    want = g_strdup_printf("ram_block_prealloc %s size 0x%x threads %u ",
                           id, RAM_SIZE, expected_threads(threads));
    g_assert_nonnull(strstr(text, want));
}

static void test_prealloc_threads(void)
{
    check_prealloc("-M none,memory-backend=m0 -object memory-backend-ram,"
                   "id=m0,size=160M,prealloc=on,prealloc-threads=4", "m0", 4);
}

/* Without prealloc-threads: -smp's CPUs, as in QEMU. */
static void test_prealloc_default_threads(void)
{
    check_prealloc("-M none,memory-backend=m0 -smp 2 -object "
                   "memory-backend-ram,id=m0,size=160M,prealloc=on", "m0", 2);
    check_prealloc("-M none -m 160M -mem-prealloc", "ram", 1);
}

/*
 * -mem-prealloc makes prealloc=on every backend's default, as QEMU's
 * does; a backend's own prealloc=off wins.
 */
static void test_mem_prealloc_backend(void)
{
    g_autofree char *log = g_strdup_printf("%s/memory-test-%d.log",
                                           qtest_tmpdir(), getpid());
    g_autofree char *args = NULL, *text = NULL, *flags = NULL;
    QTestState *s;
    uint64_t rss = 0;

    check_prealloc("-M none,memory-backend=m0 -mem-prealloc -object "
                   "memory-backend-ram,id=m0,size=160M", "m0", 1);

    args = g_strdup_printf("-M none,memory-backend=m0 -mem-prealloc "
                           "-object memory-backend-ram,id=m0,size=160M,"
                           "prealloc=off -trace ram_block_prealloc -D %s",
                           log);
    s = qtest_init(args);
    flags = ram_vmflags(qtest_pid(s), RAM_SIZE, &rss);
    g_test_message("prealloc=off: Rss %" PRIu64 " VmFlags %s", rss, flags);
    g_assert_cmpuint(rss, <, RAM_SIZE);
    qtest_quit(s);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    unlink(log);
    g_assert_null(strstr(text, "ram_block_prealloc"));
}

/*
 * MADV_DONTFORK ("dc") once an accelerator with vCPUs runs the guest, as
 * QEMU's blocks unless it is a qtest server (ferry's default accelerator
 * without vCPUs): the interpreter here, so that no /dev/kvm is needed.
 * A backend made before the accelerator gets it too.
 */
static void test_dontfork(void)
{
    static const char *const cases[][2] = {
        { "-M none -m 160M", "" },
        { "-M none -m 160M -accel tcg", "dc" },
        { "-M none,memory-backend=m0 -accel tcg -object "
          "memory-backend-ram,id=m0,size=160M", "dc" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        QTestState *s = qtest_init(cases[i][0]);
        g_autofree char *flags = ram_vmflags(qtest_pid(s), RAM_SIZE, NULL);

        g_test_message("%s: VmFlags %s", cases[i][0], flags);
        g_assert_cmpint(vmflags_has(flags, "dc"), ==, *cases[i][1] != 0);
        qtest_quit(s);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/advice/default-ram", test_default_ram);
    g_test_add_func("/memory/advice/machine-opts", test_machine_opts);
    g_test_add_func("/memory/advice/backend", test_backend);
    g_test_add_func("/memory/advice/dontfork", test_dontfork);
    g_test_add_func("/memory/prealloc/threads", test_prealloc_threads);
    g_test_add_func("/memory/prealloc/default-threads",
                    test_prealloc_default_threads);
    g_test_add_func("/memory/prealloc/mem-prealloc-backend",
                    test_mem_prealloc_backend);
    return g_test_run();
}
