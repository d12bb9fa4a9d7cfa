/*
 * migration-kvm-test: live migration of a running KVM guest.
 *
 * The guest is tests/migration/i386/a-b-bootblock.S on -M pc-lite: it
 * increments one byte in every page from 1 MiB to 100 MiB, pass after
 * pass, printing 'B' on the serial port after each pass.  Each test
 * migrates it and then checks that
 *   - the destination guest keeps running (new 'B's on its serial file),
 *   - after "stop" the memory invariant holds: every page's byte equals
 *     the next page's byte, except at the one page where the interrupted
 *     pass had got to, where it is exactly one higher,
 *   - the pass counter the guest keeps at 0x7e08 moved on.
 * Cases: precopy that converges; precopy that cannot converge (3 MB/s,
 * 1 ms downtime) switched to postcopy; postcopy from the start with
 * per-vCPU blocktime; and a destination of another machine type, after
 * which the source guest must still be running.
 *
 * Needs /dev/kvm (and userfaultfd for the postcopy cases); skipped with
 * the reason otherwise.
 */
#include "migration-helpers.h"

#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUEST_START     (1u << 20)
#define GUEST_END       (100u << 20)
#define GUEST_PAGES     ((GUEST_END - GUEST_START) / 4096)
#define GUEST_COUNTER   0x7e00      /* u64 page touches, then u32 passes */

static bool have_kvm(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        g_autofree char *msg = g_strdup_printf("no KVM here: /dev/kvm: %s",
                                               strerror(errno));

        g_test_skip(msg);
        return false;
    }
    close(fd);
    return true;
}

static char *bootblock(const char *name)
{
    const char *dir = g_getenv("FERRY_BOOTBLOCKS");

    return g_build_filename(dir ? dir : "tests/migration", name, NULL);
}

typedef struct Guest {
    QTestState *qts;
    char *serial;
} Guest;

static void guest_start(Guest *g, const char *name, const char *extra)
{
    g_autofree char *img = bootblock("a-b-bootblock.img");

    g->serial = g_strdup_printf("%s/%s-serial-%d.txt", qtest_tmpdir(), name,
                                getpid());
    g->qts = qtest_init_opts(NULL, "-name %s -M pc-lite -accel kvm -m 128M "
                             "-drive file=%s,format=raw -serial file:%s %s",
                             name, img, g->serial, extra ? extra : "");
}

static void guest_stop(Guest *g)
{
    qtest_quit(g->qts);
    unlink(g->serial);
    g_free(g->serial);
}

typedef struct SerialWait {
    const char *path;
    size_t min_b;
} SerialWait;

static size_t serial_count_b(const char *path, bool *has_a)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    size_t n = 0;

    if (has_a) {
        *has_a = false;
    }
    if (!g_file_get_contents(path, &text, &len, NULL)) {
        return 0;
    }
    for (gsize i = 0; i < len; i++) {
        if (text[i] == 'B') {
            n++;
        } else if (text[i] == 'A' && has_a) {
            *has_a = true;
        } else if (text[i] != 'A') {
            g_test_message("unexpected serial byte 0x%02x", text[i]);
            g_assert_not_reached();
        }
    }
    return n;
}

static bool serial_has_enough(void *opaque)
{
    SerialWait *w = opaque;

    return serial_count_b(w->path, NULL) >= w->min_b;
}

/* Waits until @g's serial shows @more 'B's beyond what it has now. */
static void wait_for_passes(Guest *g, size_t more)
{
    SerialWait w = { g->serial, serial_count_b(g->serial, NULL) + more };

    if (!qtest_poll_until(serial_has_enough, &w, qtest_timeout() * 1000)) {
        g_test_message("%s: fewer than %zu 'B's after %d s", g->serial,
                       w.min_b, qtest_timeout());
        g_assert_not_reached();
    }
}

static uint32_t guest_passes(QTestState *qts)
{
    return qtest_readl(qts, GUEST_COUNTER + 8);
}

typedef struct CounterWait {
    QTestState *qts;
    uint32_t min;
} CounterWait;

static bool counter_has_enough(void *opaque)
{
    CounterWait *w = opaque;

    return guest_passes(w->qts) >= w->min;
}

/*
 * Waits until @g's pass counter in memory reaches @min (the serial output
 * may be ahead of it or behind: the chardev writes it asynchronously).
 */
static void wait_for_counter(Guest *g, uint32_t min)
{
    CounterWait w = { g->qts, min };

    if (!qtest_poll_until(counter_has_enough, &w, qtest_timeout() * 1000)) {
        g_test_message("the pass counter stayed at %u, below %u after %d s",
                       guest_passes(g->qts), min, qtest_timeout());
        g_assert_not_reached();
    }
}

/*
 * With the guest stopped: bytes of consecutive pages may differ only where
 * the pass was interrupted, and there by exactly one.
 */
static void check_guest_memory(QTestState *qts)
{
    g_autofree uint8_t *mem = pmemsave_read(qts, GUEST_START,
                                            GUEST_END - GUEST_START);
    unsigned edges = 0;

    for (size_t p = 0; p + 1 < GUEST_PAGES; p++) {
        uint8_t a = mem[p * 4096], b = mem[(p + 1) * 4096];

        if (a == b) {
            continue;
        }
        if ((uint8_t)(a - 1) != b || ++edges > 1) {
            g_test_message("page 0x%zx has %u, the next page %u (edge %u)",
                           GUEST_START + p * 4096, a, b, edges);
            g_assert_not_reached();
        }
    }
    /* The pages are touched, so no pass can have left them all zero. */
    g_assert_cmpuint(mem[0] | mem[(GUEST_PAGES - 1) * 4096], !=, 0);
}

/* After migration: the destination runs the guest on, correctly. */
static void check_destination_runs(Guest *dst)
{
    g_autofree char *st = qtest_runstate(dst->qts);
    uint32_t passes;

    g_assert_cmpstr(st, ==, "running");
    passes = guest_passes(dst->qts);
    /* It prints, and it counts. */
    wait_for_passes(dst, 2);
    wait_for_counter(dst, passes + 2);
    qtest_qmp_assert_success(dst->qts, "{'execute': 'stop'}");
    g_assert_cmpuint(guest_passes(dst->qts), >=, passes + 2);
    check_guest_memory(dst->qts);
}

static void pair_start(Guest *src, Guest *dst, char **uri)
{
    g_autofree char *sock = g_strdup_printf("%s/kvm-mig-%d.sock",
                                            qtest_tmpdir(), getpid());
    g_autofree char *incoming = g_strdup_printf("-incoming unix:%s", sock);

    *uri = g_strdup_printf("unix:%s", sock);
    guest_start(src, "source", NULL);
    guest_start(dst, "target", incoming);
    migrate_set_capability(src->qts, "events", true);
    migrate_set_capability(dst->qts, "events", true);
    /* The guest must be running, and past its first pass, to be "live". */
    wait_for_passes(src, 1);
}

static void test_kvm_boot(void)
{
    Guest g = { 0 };
    bool has_a;

    if (!have_kvm()) {
        return;
    }
    guest_start(&g, "boot", NULL);
    wait_for_passes(&g, 3);
    g_assert_cmpuint(serial_count_b(g.serial, &has_a), >=, 3);
    g_assert_true(has_a);
    qtest_qmp_assert_success(g.qts, "{'execute': 'stop'}");
    g_assert_cmpuint(guest_passes(g.qts), >=, 3);
    /* Every pass touches every page once. */
    g_assert_cmpuint(qtest_readq(g.qts, GUEST_COUNTER), >=,
                     3ull * GUEST_PAGES);
    check_guest_memory(g.qts);
    guest_stop(&g);
}

static void test_kvm_precopy(void)
{
    Guest src = { 0 }, dst = { 0 };
    g_autofree char *uri = NULL;
    g_autofree char *st = NULL;

    if (!have_kvm()) {
        return;
    }
    pair_start(&src, &dst, &uri);
    /* Enough bandwidth and downtime that a 99 MiB working set converges. */
    migrate_set_parameter_int(src.qts, "max-bandwidth", 4ull << 30);
    migrate_set_parameter_int(src.qts, "downtime-limit", 5000);
    migrate_qmp(src.qts, uri);
    wait_for_migration_complete(src.qts);
    wait_for_migration_complete(dst.qts);
    st = qtest_runstate(src.qts);
    g_assert_cmpstr(st, ==, "postmigrate");
    check_destination_runs(&dst);
    guest_stop(&src);
    guest_stop(&dst);
}

static uint64_t query_ram_int(QTestState *qts, const char *member)
{
    g_autoptr(JsonNode) rsp = migrate_query(qts);
    JsonObject *ret = qmp_rsp_return(rsp);
    JsonObject *ram = json_object_get_object_member(ret, "ram");

    return json_object_get_int_member(ram, member);
}

static bool precopy_sent_enough(void *opaque)
{
    return query_ram_int(opaque, "transferred") >= 8 << 20;
}

static void test_kvm_precopy_then_postcopy(void)
{
    Guest src = { 0 }, dst = { 0 };
    g_autofree char *uri = NULL;
    g_autofree char *st = NULL;

    if (!have_kvm() || !have_userfaultfd()) {
        return;
    }
    pair_start(&src, &dst, &uri);
    migrate_set_capability(src.qts, "postcopy-ram", true);
    migrate_set_capability(dst.qts, "postcopy-ram", true);
    /* 3 MB/s and 1 ms: this guest can never converge in precopy. */
    migrate_set_parameter_int(src.qts, "max-bandwidth", 3000000);
    migrate_set_parameter_int(src.qts, "downtime-limit", 1);
    migrate_qmp(src.qts, uri);
    wait_for_migration_status(src.qts, "active");
    /*
     * Let precopy run for a while (8 MiB at 3 MB/s, about 3 s): it is
     * still active, with most of the guest's memory left to send.
     */
    if (!qtest_poll_until(precopy_sent_enough, src.qts,
                          qtest_timeout() * 1000)) {
        g_test_message("precopy did not send 8 MiB in %d s",
                       qtest_timeout());
        g_assert_not_reached();
    }
    st = migrate_query_status(src.qts);
    g_assert_cmpstr(st, ==, "active");
    g_assert_cmpuint(query_ram_int(src.qts, "remaining"), >, 64 << 20);
    qtest_qmp_assert_success(src.qts,
                             "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_complete(src.qts);
    wait_for_migration_complete(dst.qts);
    g_assert_cmpuint(query_ram_int(src.qts, "postcopy-requests"), >, 0);
    check_destination_runs(&dst);
    guest_stop(&src);
    guest_stop(&dst);
}

static void test_kvm_postcopy(void)
{
    Guest src = { 0 }, dst = { 0 };
    g_autofree char *uri = NULL;
    g_autoptr(JsonNode) rsp = NULL;
    JsonObject *ret;
    JsonArray *vcpu;

    if (!have_kvm() || !have_userfaultfd()) {
        return;
    }
    pair_start(&src, &dst, &uri);
    migrate_set_capability(src.qts, "postcopy-ram", true);
    migrate_set_capability(dst.qts, "postcopy-ram", true);
    migrate_set_capability(dst.qts, "postcopy-blocktime", true);
    /* A slow push, so that the running guest has to fault pages in. */
    migrate_set_parameter_int(src.qts, "max-postcopy-bandwidth", 32 << 20);
    migrate_qmp(src.qts, uri);
    qtest_qmp_assert_success(src.qts,
                             "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_complete(src.qts);
    wait_for_migration_complete(dst.qts);
    g_assert_cmpuint(query_ram_int(src.qts, "postcopy-requests"), >, 0);

    rsp = migrate_query(dst.qts);
    ret = qmp_rsp_return(rsp);
    g_assert_true(json_object_has_member(ret, "postcopy-blocktime"));
    vcpu = json_object_get_array_member(ret, "postcopy-vcpu-blocktime");
    g_assert_cmpuint(json_array_get_length(vcpu), ==, 1);
    /* The one vCPU really waited for pages, and that was counted. */
    g_assert_cmpuint(json_array_get_int_element(vcpu, 0), >, 0);
    g_assert_cmpuint(json_object_get_int_member(ret, "postcopy-blocktime"),
                     >=, json_array_get_int_element(vcpu, 0));
    check_destination_runs(&dst);
    guest_stop(&src);
    guest_stop(&dst);
}

/*
 * The source dies after the switch: the destination pauses with its vCPU
 * asleep on a missing page, and must still quit promptly when told to.
 */
static void test_kvm_postcopy_source_killed(void)
{
    Guest src = { 0 }, dst = { 0 };
    g_autofree char *uri = NULL;
    g_autofree char *st = NULL;
    int status;

    if (!have_kvm() || !have_userfaultfd()) {
        return;
    }
    pair_start(&src, &dst, &uri);
    migrate_set_capability(src.qts, "postcopy-ram", true);
    migrate_set_capability(dst.qts, "postcopy-ram", true);
    /* 1 MB/s: the guest is left waiting for most of its pages. */
    migrate_set_parameter_int(src.qts, "max-postcopy-bandwidth", 1 << 20);
    migrate_qmp(src.qts, uri);
    qtest_qmp_assert_success(src.qts,
                             "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_status(dst.qts, "postcopy-active");
    qtest_qmp_eventwait(dst.qts, "RESUME");
    qtest_kill(src.qts);
    wait_for_migration_status(dst.qts, "postcopy-paused");
    st = qtest_runstate(dst.qts);
    g_assert_cmpstr(st, ==, "running");
    qtest_qmp_assert_success(dst.qts, "{'execute': 'quit'}");
    status = qtest_wait_exit(dst.qts);
    g_assert_true(WIFEXITED(status));
    unlink(src.serial);
    g_free(src.serial);
    guest_stop(&dst);
}

/* A destination of another machine refuses the stream; the guest runs on. */
static void test_kvm_bad_destination(void)
{
    Guest src = { 0 };
    QTestState *dst;
    g_autofree char *sock = g_strdup_printf("%s/kvm-bad-%d.sock",
                                            qtest_tmpdir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *st = NULL;
    QTestOptions opts = { .capture_stderr = true };

    if (!have_kvm()) {
        return;
    }
    guest_start(&src, "source", NULL);
    wait_for_passes(&src, 1);
    dst = qtest_init_opts(&opts, "-M none -m 128M -incoming %s", uri);
    migrate_set_parameter_int(src.qts, "max-bandwidth", 4ull << 30);
    migrate_set_parameter_int(src.qts, "downtime-limit", 5000);
    migrate_qmp(src.qts, uri);
    g_assert_cmpint(qtest_wait_exit(dst), !=, 0);
    /* (QEMU 7.2's "load of migration failed" status.) */
    qtest_set_expected_exit(dst, 1);
    g_test_message("destination said: %s", qtest_stderr(dst));
    g_assert_nonnull(strstr(qtest_stderr(dst),
                            "Machine type received is 'pc-lite'"));
    wait_for_migration_fail(src.qts, false);
    st = qtest_runstate(src.qts);
    g_assert_cmpstr(st, ==, "running");
    wait_for_passes(&src, 2);
    qtest_quit(dst);
    guest_stop(&src);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/kvm/boot", test_kvm_boot);
    g_test_add_func("/migration/kvm/precopy", test_kvm_precopy);
    g_test_add_func("/migration/kvm/precopy-then-postcopy",
                   test_kvm_precopy_then_postcopy);
    g_test_add_func("/migration/kvm/postcopy", test_kvm_postcopy);
    g_test_add_func("/migration/kvm/postcopy-source-killed",
                    test_kvm_postcopy_source_killed);
    g_test_add_func("/migration/kvm/bad-destination",
                   test_kvm_bad_destination);
    return g_test_run();
}
