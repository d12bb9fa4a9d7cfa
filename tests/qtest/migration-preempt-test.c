/*
 * migration-preempt-test: postcopy with the postcopy-preempt capability
 * (QEMU 7.2's protocol): requested pages travel on a second connection.
 *
 * - ferry -> ferry: reads on the destination of pages not yet sent are
 *   served over the preempt channel (the source traces each one), memory
 *   is checked byte for byte.
 * - The QEMU 7.2 preempt capture (main + preempt channel) loads: the test
 *   connects twice to a ferry destination and plays both channels.
 * - A bad record on the preempt channel fails the destination with a
 *   message naming the channel.
 * - The capability's conditions: postcopy-ram, and a socket transport.
 */
#include "migration-helpers.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA_START  0x100000

static char *tmp_path(const char *name)
{
    return g_strdup_printf("%s/%s-%d", qtest_tmpdir(), name, getpid());
}

static void set_caps(QTestState *q)
{
    migrate_set_capability(q, "events", true);
    migrate_set_capability(q, "postcopy-ram", true);
    migrate_set_capability(q, "postcopy-preempt", true);
}

static void test_preempt_on_demand(void)
{
    g_autofree char *sock = tmp_path("preempt.sock");
    g_autofree char *trace = tmp_path("preempt-trace.log");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *log = NULL;
    g_autofree uint8_t *pattern = NULL, *got = NULL;
    g_autoptr(JsonNode) d = NULL;
    size_t ram = 256 << 20, len = ram - DATA_START - (1 << 20);
    QTestState *src, *dst;
    unsigned urgent = 0;

    if (!have_userfaultfd()) {
        return;
    }
    src = qtest_init_opts(NULL, "-name source -M none -m 256M "
                          "-trace enable=ram_urgent_preempt -D %s", trace);
    dst = qtest_init_opts(NULL, "-name target -M none -m 256M -incoming %s",
                          uri);
    pattern = g_malloc(len);
    fill_pattern(pattern, len, 5);
    for (size_t off = 0; off < len; off += 1 << 20) {
        qtest_bufwrite(src, DATA_START + off, pattern + off,
                       MIN(1 << 20, len - off));
    }
    set_caps(src);
    set_caps(dst);
    migrate_set_parameter_int(src, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 4 << 20);
    migrate_qmp(src, uri);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    qtest_qmp_eventwait(src, "STOP");
    qtest_qmp_eventwait(dst, "RESUME");
    for (int i = 0; i < 64; i++) {
        size_t off = ((size_t)i * 2917 * 4096) % len & ~(size_t)4095;
        uint8_t buf[64];

        qtest_memread(dst, DATA_START + off + 64, buf, sizeof(buf));
        g_assert_cmpmem(buf, sizeof(buf), pattern + off + 64, sizeof(buf));
    }
    d = migrate_query(dst);
    g_assert_cmpint(json_object_get_int_member(qmp_rsp_return(d),
                                               "x-postcopy-requests"), >, 0);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 0);
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    got = pmemsave_read(dst, DATA_START, len);
    g_assert_true(memcmp(got, pattern, len) == 0);
    qtest_quit(src);
    qtest_quit(dst);

    /* The requested pages went over the preempt channel. */
    g_assert_true(g_file_get_contents(trace, &log, NULL, NULL));
    for (const char *p = log; (p = strstr(p, "ram_urgent_preempt")); p++) {
        urgent++;
    }
    g_test_message("%u pages sent on the preempt channel", urgent);
    g_assert_cmpuint(urgent, >, 0);
    unlink(trace);
}

/* ---- playing QEMU 7.2's two channels into a ferry destination ---- */

static int connect_unix(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    gint64 deadline = g_get_monotonic_time() +
                      qtest_timeout() * G_USEC_PER_SEC;
    int fd;

    g_assert_cmpuint(strlen(path), <, sizeof(un.sun_path));
    strcpy(un.sun_path, path);
    for (;;) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_assert_cmpint(fd, >=, 0);
        if (connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0) {
            return fd;
        }
        close(fd);
        g_assert_true(g_get_monotonic_time() < deadline);
        poll(NULL, 0, 5);
    }
}

/* Reads the return path until EOF (the destination's SHUT and close). */
static gpointer drain_thread(gpointer opaque)
{
    int fd = GPOINTER_TO_INT(opaque);
    char buf[4096];

    while (read(fd, buf, sizeof(buf)) > 0) {
        /* discard */
    }
    return NULL;
}

/*
 * Plays @main and @preempt into a ferry destination; returns its exit
 * status (0: completed) and its stderr in @err_out.  With @hold_eof the
 * main channel's last byte (its EOF) is kept back: the destination can
 * only end by failing, which a bad preempt record must make it do (with
 * the EOF it may finish first: no page was asked for, so none is awaited
 * on the preempt channel).
 */
static int play_preempt(const char *main_data, size_t main_len,
                        const char *pre_data, size_t pre_len, bool hold_eof,
                        char **err_out)
{
    QTestOptions o = { .capture_stderr = true, .no_qtest = true };
    g_autofree char *sock = tmp_path("preempt-play.sock");
    QTestState *dst = qtest_init_opts(&o, "-M none -m 64M -incoming defer");
    gint64 deadline = g_get_monotonic_time() +
                      qtest_timeout() * G_USEC_PER_SEC;
    GThread *drain;
    int mfd, pfd, status = -1;

    set_caps(dst);
    qtest_qmp_assert_success(dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'unix:%s'}}", sock);
    mfd = connect_unix(sock);
    pfd = connect_unix(sock);
    drain = g_thread_new("rp-drain", drain_thread, GINT_TO_POINTER(mfd));
    send_all(pfd, pre_data, pre_len);
    send_all(mfd, main_data, main_len - hold_eof);
    for (;;) {
        g_autoptr(JsonNode) rsp = qtest_qmp_try(dst, "{'execute': "
                                                "'query-migrate'}");

        if (!rsp) {
            status = qtest_wait_exit(dst);
            g_assert_true(WIFEXITED(status));
            status = WEXITSTATUS(status);
            break;
        }
        if (g_str_equal(json_object_get_string_member(qmp_rsp_return(rsp),
                                                      "status"),
                        "completed")) {
            status = 0;
            break;
        }
        g_assert_true(g_get_monotonic_time() < deadline);
        poll(NULL, 0, 2);
    }
    *err_out = g_strdup(qtest_stderr(dst));
    if (status == 0) {
        qtest_quit(dst);
    } else {
        qtest_kill(dst);
    }
    shutdown(mfd, SHUT_RDWR);
    g_thread_join(drain);
    close(mfd);
    close(pfd);
    return status;
}

static bool load_capture(char **main_data, gsize *main_len, char **pre_data,
                         gsize *pre_len)
{
    g_autofree char *m = capture_path("postcopy-preempt/main.src-to-dst.bin");
    g_autofree char *p = NULL;

    if (!m) {
        return false;
    }
    p = capture_path("postcopy-preempt/preempt.src-to-dst.bin");
    if (!p) {
        return false;
    }
    g_assert_true(g_file_get_contents(m, main_data, main_len, NULL));
    g_assert_true(g_file_get_contents(p, pre_data, pre_len, NULL));
    return true;
}

static void test_preempt_capture(void)
{
    g_autofree char *m = NULL, *p = NULL, *err = NULL;
    gsize ml, pl;

    if (!load_capture(&m, &ml, &p, &pl) || !have_userfaultfd()) {
        return;
    }
    g_assert_cmpint(play_preempt(m, ml, p, pl, false, &err), ==, 0);
}

static void test_preempt_bad_record(void)
{
    g_autofree char *m = NULL, *p = NULL, *err = NULL;
    gsize ml, pl;

    if (!load_capture(&m, &ml, &p, &pl) || !have_userfaultfd()) {
        return;
    }
    /* The first record: PAGE "ram" 0x4f0000; add a compression flag. */
    g_assert_cmphex((uint8_t)p[7], ==, 0x08);
    p[6] |= 0x01;
    g_assert_cmphex((uint8_t)m[ml - 1], ==, 0x00);      /* EOF */
    g_assert_cmpint(play_preempt(m, ml, p, pl, true, &err), ==, 1);
    g_test_message("%s", err);
    g_assert_nonnull(strstr(err, "load of migration failed"));
    g_assert_nonnull(strstr(err, "preempt channel: Unknown combination of "
                            "migration flags: 0x108 (postcopy mode)"));
}

/* ---- conditions ---- */

static void test_preempt_needs_postcopy(void)
{
    QTestState *q = qtest_init("-M none -m 16M");
    g_autoptr(JsonNode) rsp = qtest_qmp(q, "{'execute': "
                                        "'migrate-set-capabilities', "
                                        "'arguments': {'capabilities': "
                                        "[{'capability': 'postcopy-preempt', "
                                        "'state': true}]}}");

    g_assert_cmpstr(qmp_rsp_error_desc(rsp), ==,
                    "Postcopy preempt requires postcopy-ram");
    qtest_quit(q);
}

static void test_preempt_needs_sockets(void)
{
    g_autofree char *file = tmp_path("preempt-file.bin");
    g_autofree char *uri = g_strdup_printf("file:%s", file);
    g_autofree char *st = NULL;
    g_autoptr(JsonNode) info = NULL;
    QTestState *src = qtest_init("-M none -m 16M");

    set_caps(src);
    migrate_qmp(src, uri);
    wait_for_migration_fail(src, false);
    info = migrate_query(src);
    g_assert_cmpstr(json_object_get_string_member(qmp_rsp_return(info),
                                                  "error-desc"), ==,
                    "Postcopy preempt is not supported as current migration "
                    "stream does not support multi-channels.");
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "running");
    qtest_quit(src);
    unlink(file);
}

/* ---- scheduling and CPU wake-up latency during postcopy ---- */

/* The nice value of @pid's thread named @comm, or INT_MIN if none. */
static int thread_nice(pid_t pid, const char *comm)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *tid;
    int nice = INT_MIN;

    while (d && (tid = g_dir_read_name(d))) {
        g_autofree char *cpath = g_strdup_printf("%s/%s/comm", dir, tid);
        g_autofree char *spath = g_strdup_printf("%s/%s/stat", dir, tid);
        g_autofree char *name = NULL, *stat = NULL;
        g_auto(GStrv) f = NULL;
        const char *rest;

        if (!g_file_get_contents(cpath, &name, NULL, NULL) ||
            !g_file_get_contents(spath, &stat, NULL, NULL)) {
            continue;
        }
        g_strchomp(name);
        rest = strrchr(stat, ')');
        if (!g_str_equal(name, comm) || !rest) {
            continue;
        }
        /* After "pid (comm) ": state is field 3, nice field 19. */
        f = g_strsplit(rest + 2, " ", 0);
        g_assert_cmpuint(g_strv_length(f), >, 16);
        nice = atoi(f[16]);
    }
    if (d) {
        g_dir_close(d);
    }
    return nice;
}

/* Polls until @pid's thread @comm has nice @want (deadline: the timeout). */
static void wait_thread_nice(pid_t pid, const char *comm, int want)
{
    gint64 deadline = g_get_monotonic_time() +
                      qtest_timeout() * G_USEC_PER_SEC;
    int nice;

    while ((nice = thread_nice(pid, comm)) != want) {
        if (g_get_monotonic_time() > deadline) {
            g_error("thread %s of %d has nice %d, not %d", comm, (int)pid,
                    nice, want);
        }
        poll(NULL, 0, 2);
    }
}

/* The kernel's current CPU wake-up latency target, in us. */
static int32_t cpu_latency_now(void)
{
    int32_t v = -1;
    int fd = open("/dev/cpu_dma_latency", O_RDONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(read(fd, &v, sizeof(v)), ==, sizeof(v));
    close(fd);
    return v;
}

static void wait_cpu_latency(int32_t want)
{
    gint64 deadline = g_get_monotonic_time() +
                      qtest_timeout() * G_USEC_PER_SEC;

    while (cpu_latency_now() != want) {
        if (g_get_monotonic_time() > deadline) {
            g_error("CPU latency target is %d us, not %d", cpu_latency_now(),
                    want);
        }
        poll(NULL, 0, 2);
    }
}

/*
 * A slow postcopy (256 KiB/s push) from @src to @dst: @during runs while
 * both are in postcopy-active, then the push is uncapped and memory
 * compared, unless @during returns false (it has killed the source).
 */
static void slow_postcopy(const char *src_extra, const char *dst_extra,
                          bool (*during)(QTestState *src, QTestState *dst))
{
    g_autofree char *sock = tmp_path("preempt-sched.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree uint8_t *pattern = NULL, *got = NULL;
    size_t len = 2 << 20;
    QTestState *src, *dst;

    src = qtest_init_opts(NULL, "-name source -M none -m 64M %s", src_extra);
    dst = qtest_init_opts(NULL, "-name target -M none -m 64M -incoming %s %s",
                          uri, dst_extra);
    pattern = g_malloc(len);
    fill_pattern(pattern, len, 9);
    qtest_bufwrite(src, DATA_START, pattern, len);
    set_caps(src);
    set_caps(dst);
    migrate_set_parameter_int(src, "max-bandwidth", 256 << 10);
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 256 << 10);
    migrate_qmp(src, uri);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_status(src, "postcopy-active");
    wait_for_migration_status(dst, "postcopy-active");
    qtest_qmp_eventwait(dst, "RESUME");
    if (!during(src, dst)) {
        /* @during took the source away: nothing more to check here. */
        qtest_quit(dst);
        return;
    }
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 0);
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    got = pmemsave_read(dst, DATA_START, len);
    g_assert_true(memcmp(got, pattern, len) == 0);
    qtest_quit(src);
    qtest_quit(dst);
}

static bool bulk_threads_yield(QTestState *src, QTestState *dst)
{
    /* The push on both sides runs at nice 10; what serves requests not. */
    wait_thread_nice(qtest_pid(src), "live_migration", 10);
    wait_thread_nice(qtest_pid(dst), "mig/dst/listen", 10);
    /* (The others may start a moment after the listen thread.) */
    wait_thread_nice(qtest_pid(dst), "mig/dst/place", 10);
    wait_thread_nice(qtest_pid(src), "mig/src/rp", 0);
    wait_thread_nice(qtest_pid(dst), "mig/dst/fault", 0);
    wait_thread_nice(qtest_pid(dst), "mig/dst/preempt", 0);
    return true;
}

static void test_preempt_bulk_nice(void)
{
    if (!have_userfaultfd()) {
        return;
    }
    slow_postcopy("", "", bulk_threads_yield);
}

static int32_t cpu_latency_base;

static bool latency_held_by_dst(QTestState *src, QTestState *dst)
{
    wait_cpu_latency(9);
    return true;
}

static bool latency_held_by_src(QTestState *src, QTestState *dst)
{
    wait_cpu_latency(11);
    return true;
}

static bool source_lost(QTestState *src, QTestState *dst)
{
    wait_cpu_latency(9);
    qtest_kill(src);
    wait_for_migration_status(dst, "postcopy-paused");
    wait_cpu_latency(cpu_latency_base);
    return false;
}

static void test_postcopy_cpu_latency(void)
{
    if (!have_userfaultfd()) {
        return;
    }
    if (access("/dev/cpu_dma_latency", W_OK) < 0) {
        g_test_skip("/dev/cpu_dma_latency is not writable here");
        return;
    }
    cpu_latency_base = cpu_latency_now();
    if (cpu_latency_base <= 11) {
        g_test_skip("something else already holds a CPU latency of "
                    "11 us or less");
        return;
    }
    /* Held on each side for the postcopy phase only, then given back. */
    slow_postcopy("", "-global migration.x-postcopy-cpu-latency=9",
                  latency_held_by_dst);
    wait_cpu_latency(cpu_latency_base);
    slow_postcopy("-global migration.x-postcopy-cpu-latency=11", "",
                  latency_held_by_src);
    wait_cpu_latency(cpu_latency_base);
    /* A destination left postcopy-paused gives it back at once. */
    slow_postcopy("", "-global migration.x-postcopy-cpu-latency=9",
                  source_lost);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/postcopy/preempt/on-demand",
                    test_preempt_on_demand);
    g_test_add_func("/migration/postcopy/preempt/capture",
                    test_preempt_capture);
    g_test_add_func("/migration/postcopy/preempt/bad-record",
                    test_preempt_bad_record);
    g_test_add_func("/migration/postcopy/preempt/needs-postcopy-ram",
                    test_preempt_needs_postcopy);
    g_test_add_func("/migration/postcopy/preempt/needs-sockets",
                    test_preempt_needs_sockets);
    g_test_add_func("/migration/postcopy/preempt/bulk-nice",
                    test_preempt_bulk_nice);
    g_test_add_func("/migration/postcopy/preempt/cpu-latency",
                    test_postcopy_cpu_latency);
    return g_test_run();
}
