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
 *   - the guest's screen (it paints one column per pass into pc-lite's
 *     framebuffer) follows its pass counter on both sides, and the
 *     destination's columns from before the switch are the stopped
 *     source's, pixel by pixel (screendump).
 * Cases: precopy that converges; precopy that cannot converge (3 MB/s,
 * 1 ms downtime) switched to postcopy; postcopy from the start with
 * per-vCPU blocktime; and a destination of another machine type, after
 * which the source guest must still be running.  Besides: the guest
 * takes the end of its range from pc-lite's device tree (-m 64M).
 *
 * The same source builds two programs.  migration-kvm-test (suite kvm)
 * runs the cases under -accel kvm, plus migrations between a KVM ferry
 * and an interpreter ferry (-accel tcg) in both directions; it needs
 * /dev/kvm (and userfaultfd for the postcopy cases), skipped with the
 * reason otherwise.  migration-tcg-test (suite tcg, built with
 * FERRY_TEST_ACCEL_TCG) runs every case under -accel tcg, which needs
 * nothing from the host, plus the interpreter's stop on an unknown
 * instruction.
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
#define GUEST_RAM_END   0x7e0c      /* u32: END, from the device tree */
#define GUEST_RAM_PAGES 0x7e10      /* u32: pages a pass touches */
#define SCREEN_W        640
#define SCREEN_H        480
#define PAINT_MUL       0x9e3779b1u

#ifdef FERRY_TEST_ACCEL_TCG
#define ACCEL "tcg"
#else
#define ACCEL "kvm"
#endif

static bool have_dev_kvm(void)
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

/* The accelerator of this build: tcg needs nothing from the host. */
static bool have_kvm(void)
{
    return g_str_equal(ACCEL, "tcg") || have_dev_kvm();
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

static void guest_start_accel(Guest *g, const char *name, const char *accel,
                              const char *extra)
{
    g_autofree char *img = bootblock("a-b-bootblock.img");

    g->serial = g_strdup_printf("%s/%s-serial-%d.txt", qtest_tmpdir(), name,
                                getpid());
    g->qts = qtest_init_opts(NULL, "-name %s -M pc-lite -accel %s -m 128M "
                             "-drive file=%s,format=raw -serial file:%s %s",
                             name, accel, img, g->serial,
                             extra ? extra : "");
}

static void guest_start(Guest *g, const char *name, const char *extra)
{
    guest_start_accel(g, name, ACCEL, extra);
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
static void check_guest_memory_to(QTestState *qts, uint32_t end)
{
    size_t pages = (end - GUEST_START) / 4096;
    g_autofree uint8_t *mem = pmemsave_read(qts, GUEST_START,
                                            end - GUEST_START);
    unsigned edges = 0;

    for (size_t p = 0; p + 1 < pages; p++) {
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
    g_assert_cmpuint(mem[0] | mem[(pages - 1) * 4096], !=, 0);
}

static void check_guest_memory(QTestState *qts)
{
    check_guest_memory_to(qts, GUEST_END);
}

static uint32_t paint_colour(uint32_t pass)
{
    return (pass * PAINT_MUL) & 0xffffff;
}

static uint32_t pixel(const uint8_t *rgb, int x, int y)
{
    const uint8_t *p = rgb + 3 * (y * SCREEN_W + x);

    return p[0] << 16 | p[1] << 8 | p[2];
}

/* The last pass up to @passes that painted column @x (0: none yet). */
static uint32_t column_pass(uint32_t passes, int x)
{
    if (passes < (uint32_t)x + 1) {
        return 0;
    }
    return passes - (passes - 1 - x) % SCREEN_W;
}

/*
 * The screen of a stopped guest whose pass counter is @passes: column x
 * has the colour of the last pass that painted it, or is black if none
 * did, except that the column of pass @passes itself may be stopped
 * half-painted (a top part in its colour, the rest as it was).  Returns
 * the screen's RGB bytes.
 */
static uint8_t *check_guest_screen(QTestState *qts, uint32_t passes)
{
    int w, h;
    uint8_t *rgb = screendump_read(qts, &w, &h);

    g_assert_cmpint(w, ==, SCREEN_W);
    g_assert_cmpint(h, ==, SCREEN_H);
    g_assert_cmpuint(passes, >, 0);
    for (int x = 0; x < SCREEN_W; x++) {
        uint32_t k = column_pass(passes, x);
        uint32_t want = k ? paint_colour(k) : 0;
        uint32_t before = k > SCREEN_W ? paint_colour(k - SCREEN_W) : 0;
        bool painting = k == passes;

        for (int y = 0; y < SCREEN_H; y++) {
            uint32_t got = pixel(rgb, x, y);

            if (painting && got == before && got != want) {
                want = before;  /* below the half-painted part */
            }
            if (got != want) {
                g_test_message("pass %u: pixel (%d, %d) is %06x, expected "
                               "%06x (column of pass %u)", passes, x, y,
                               got, want, k);
                g_assert_not_reached();
            }
        }
    }
    return rgb;
}

/*
 * The destination's screen (stopped at @dst_passes) against the stopped
 * source's: every column the destination has not repainted since the
 * switch is the source's, pixel by pixel.
 */
static void compare_screens(const uint8_t *src, uint32_t src_passes,
                            const uint8_t *dst, uint32_t dst_passes)
{
    unsigned same = 0;

    g_assert_cmpuint(dst_passes, >=, src_passes);
    for (int x = 0; x < SCREEN_W; x++) {
        uint32_t k = column_pass(dst_passes, x);

        /* (The source may have stopped in the middle of its last one.) */
        if (k == 0 || k >= src_passes) {
            continue;
        }
        for (int y = 0; y < SCREEN_H; y++) {
            if (pixel(src, x, y) != pixel(dst, x, y)) {
                g_test_message("pixel (%d, %d): source %06x, destination "
                               "%06x", x, y, pixel(src, x, y),
                               pixel(dst, x, y));
                g_assert_not_reached();
            }
        }
        same++;
    }
    g_test_message("screens: source at pass %u, destination at pass %u, "
                   "%u columns compared", src_passes, dst_passes, same);
    /* Unless the destination has repainted them all (640 passes on). */
    if (dst_passes - src_passes < SCREEN_W - 1 && src_passes >= 3) {
        g_assert_cmpuint(same, >, 0);
    }
}

/*
 * After migration: the destination runs the guest on, correctly, and
 * shows what the stopped source showed.
 */
static void check_destination_runs(Guest *src, Guest *dst)
{
    g_autofree char *st = qtest_runstate(dst->qts);
    uint32_t src_passes = guest_passes(src->qts);
    g_autofree uint8_t *src_screen = check_guest_screen(src->qts,
                                                        src_passes);
    g_autofree uint8_t *dst_screen = NULL;
    uint32_t passes;

    g_assert_cmpstr(st, ==, "running");
    passes = guest_passes(dst->qts);
    /* It prints, and it counts. */
    wait_for_passes(dst, 2);
    wait_for_counter(dst, passes + 2);
    qtest_qmp_assert_success(dst->qts, "{'execute': 'stop'}");
    passes = guest_passes(dst->qts);
    g_assert_cmpuint(passes, >=, src_passes + 2);
    check_guest_memory(dst->qts);
    dst_screen = check_guest_screen(dst->qts, passes);
    compare_screens(src_screen, src_passes, dst_screen, passes);
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
    /*
     * The guest must be running, and past its first passes, to be "live"
     * (and to have painted columns that the screens can be compared on).
     */
    wait_for_passes(src, 3);
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
    g_free(check_guest_screen(g.qts, guest_passes(g.qts)));
    guest_stop(&g);
}

/*
 * The guest takes the end of its range from the device tree pc-lite puts
 * at 0x10000: with -m 64M it touches 1 MiB..64 MiB, not 100 MiB.
 */
static void test_kvm_dtb_ram_range(void)
{
    Guest g = { 0 };
    uint32_t passes, pages = (64u << 20) - GUEST_START;
    uint64_t touches;

    if (!have_kvm()) {
        return;
    }
    pages /= 4096;
    guest_start(&g, "dtb", "-m 64M");
    wait_for_passes(&g, 2);
    qtest_qmp_assert_success(g.qts, "{'execute': 'stop'}");
    g_assert_cmphex(qtest_readl(g.qts, GUEST_RAM_END), ==, 64u << 20);
    g_assert_cmpuint(qtest_readl(g.qts, GUEST_RAM_PAGES), ==, pages);
    passes = guest_passes(g.qts);
    touches = qtest_readq(g.qts, GUEST_COUNTER);
    /* Each pass touched exactly that many pages. */
    g_assert_cmpuint(touches, >=, (uint64_t)passes * pages);
    g_assert_cmpuint(touches, <, (uint64_t)(passes + 1) * pages);
    check_guest_memory_to(g.qts, 64u << 20);
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
    check_destination_runs(&src, &dst);
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
    check_destination_runs(&src, &dst);
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
    check_destination_runs(&src, &dst);
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

#ifdef FERRY_TEST_ACCEL_TCG
static bool runstate_is_internal_error(void *opaque)
{
    g_autofree char *st = qtest_runstate(opaque);

    return g_str_equal(st, "internal-error");
}

/*
 * A boot sector whose third instruction is UD2: the interpreter stops the
 * vCPU with a register dump and the bytes at CS:IP, and the VM goes to
 * internal-error; the process keeps answering QMP.
 */
static void test_tcg_unknown_instruction(void)
{
    static const uint8_t code[] = {
        0xfa,                   /* cli */
        0xb8, 0x34, 0x12,       /* mov $0x1234, %ax */
        0x0f, 0x0b,             /* ud2 */
        0xf4,                   /* hlt */
    };
    g_autofree char *img = g_strdup_printf("%s/ud2-%d.img", qtest_tmpdir(),
                                           getpid());
    uint8_t sector[512] = { 0 };
    QTestOptions opts = { .capture_stderr = true };
    QTestState *qts;
    g_autofree char *st = NULL;
    const char *err;

    memcpy(sector, code, sizeof(code));
    sector[510] = 0x55;
    sector[511] = 0xaa;
    g_assert_true(g_file_set_contents(img, (const char *)sector,
                                      sizeof(sector), NULL));
    qts = qtest_init_opts(&opts, "-M pc-lite -accel tcg -m 8M -vga none "
                          "-drive file=%s,format=raw", img);
    /* (It may stop before QMP is connected: poll, not the STOP event.) */
    if (!qtest_poll_until(runstate_is_internal_error, qts,
                          qtest_timeout() * 1000)) {
        g_test_message("the VM did not reach internal-error in %d s",
                       qtest_timeout());
        g_assert_not_reached();
    }
    st = qtest_runstate(qts);
    g_assert_cmpstr(st, ==, "internal-error");
    err = qtest_stderr(qts);
    g_test_message("ferry said: %s", err);
    g_assert_nonnull(strstr(err, "unknown instruction at 0000:00007c04"));
    g_assert_nonnull(strstr(err, "EAX=00001234"));
    g_assert_nonnull(strstr(err, "EIP=00007c04"));
    g_assert_nonnull(strstr(err, "CS =0000 00000000 0000ffff"));
    g_assert_nonnull(strstr(err, "<0f> 0b f4"));
    qtest_quit(qts);
    unlink(img);
}
#else
/*
 * The running guest moves from a KVM ferry to an interpreter ferry with
 * precopy, and from there back to KVM with postcopy: the "cpu" section is
 * the same under both accelerators.
 */
static void test_kvm_tcg_round_trip(void)
{
    Guest a = { 0 }, b = { 0 }, c = { 0 };
    g_autofree char *sock1 = g_strdup_printf("%s/kvm-tcg-%d.sock",
                                             qtest_tmpdir(), getpid());
    g_autofree char *sock2 = g_strdup_printf("%s/tcg-kvm-%d.sock",
                                             qtest_tmpdir(), getpid());
    g_autofree char *in1 = g_strdup_printf("-incoming unix:%s", sock1);
    g_autofree char *in2 = g_strdup_printf("-incoming unix:%s", sock2);
    g_autofree char *uri1 = g_strdup_printf("unix:%s", sock1);
    g_autofree char *uri2 = g_strdup_printf("unix:%s", sock2);

    if (!have_dev_kvm() || !have_userfaultfd()) {
        return;
    }
    guest_start_accel(&a, "kvm-src", "kvm", NULL);
    guest_start_accel(&b, "tcg-mid", "tcg", in1);
    wait_for_passes(&a, 3);
    /* KVM -> interpreter, precopy. */
    migrate_set_parameter_int(a.qts, "max-bandwidth", 4ull << 30);
    migrate_set_parameter_int(a.qts, "downtime-limit", 5000);
    migrate_qmp(a.qts, uri1);
    wait_for_migration_complete(a.qts);
    wait_for_migration_complete(b.qts);
    check_destination_runs(&a, &b);
    guest_stop(&a);

    /* Interpreter -> KVM, postcopy from the start. */
    qtest_qmp_assert_success(b.qts, "{'execute': 'cont'}");
    wait_for_passes(&b, 2);
    guest_start_accel(&c, "kvm-dst", "kvm", in2);
    migrate_set_capability(b.qts, "postcopy-ram", true);
    migrate_set_capability(c.qts, "postcopy-ram", true);
    migrate_set_parameter_int(b.qts, "max-postcopy-bandwidth", 32 << 20);
    migrate_qmp(b.qts, uri2);
    qtest_qmp_assert_success(b.qts,
                             "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_complete(b.qts);
    wait_for_migration_complete(c.qts);
    check_destination_runs(&b, &c);
    guest_stop(&b);
    guest_stop(&c);
}
#endif

static void add_test(const char *name, GTestFunc fn)
{
    g_autofree char *path = g_strdup_printf("/migration/%s/%s", ACCEL, name);

    g_test_add_func(path, fn);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add_test("boot", test_kvm_boot);
    add_test("dtb-ram-range", test_kvm_dtb_ram_range);
    add_test("precopy", test_kvm_precopy);
    add_test("precopy-then-postcopy", test_kvm_precopy_then_postcopy);
    add_test("postcopy", test_kvm_postcopy);
    add_test("postcopy-source-killed", test_kvm_postcopy_source_killed);
    add_test("bad-destination", test_kvm_bad_destination);
#ifdef FERRY_TEST_ACCEL_TCG
    add_test("unknown-instruction", test_tcg_unknown_instruction);
#else
    add_test("tcg-round-trip", test_kvm_tcg_round_trip);
#endif
    return g_test_run();
}
