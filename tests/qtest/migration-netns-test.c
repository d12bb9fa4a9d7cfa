/*
 * migration-netns-test: two hosts joined by a cable, and the cable fails.
 *
 * Source and destination run in two network namespaces joined by a veth
 * pair (10.77.0.1 and 10.77.0.2), with -global migration.x-link-timeout=
 * 2000, and migrate over TCP.  While postcopy runs, the link fails in one
 * of three ways — every packet dropped (an nftables rule, both ways), the
 * link down, or "tc qdisc ... netem loss 100%" — without any RST reaching
 * either side.  Both must reach postcopy-paused within the timeout plus a
 * second; once the link is back, migrate-recover and migrate resume=true
 * over TCP bring the migration to its end, memory compared byte for byte.
 * In precopy the same silence fails the migration with the source VM
 * running.
 *
 * Needs root, iproute2 and network namespaces; the nftables case needs
 * nft, the netem case the sch_netem qdisc.  Each case skips with the
 * reason when what it needs is not there.
 */
#include "migration-helpers.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM_MB      256
#define DATA_START  0x100000
#define DATA_LEN    (32u << 20)
#define TIMEOUT_MS  2000
#define SLACK_MS    1000

typedef enum Failure {
    FAIL_DROP,          /* nftables: drop everything, both ways */
    FAIL_LINK_DOWN,     /* ip link set ... down */
    FAIL_NETEM,         /* tc qdisc ... netem loss 100% */
} Failure;

typedef struct Hosts {
    char ns[2][32];
    char dev[2][16];
    char *wrapper[2];
} Hosts;

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* Runs a shell command quietly; true when it succeeded. */
static bool sh(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static bool sh(const char *fmt, ...)
{
    g_autofree char *cmd = NULL;
    g_autofree char *quiet = NULL;
    va_list ap;
    int status;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    quiet = g_strdup_printf("%s >/dev/null 2>&1", cmd);
    status = system(quiet);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void hosts_destroy(Hosts *h)
{
    for (int i = 0; i < 2; i++) {
        sh("ip netns del %s", h->ns[i]);
        if (h->wrapper[i]) {
            unlink(h->wrapper[i]);
            g_free(h->wrapper[i]);
            h->wrapper[i] = NULL;
        }
    }
}

/* Two namespaces and the cable; false (test skipped) if they cannot be. */
static bool hosts_create(Hosts *h)
{
    int pid = getpid();

    if (geteuid() != 0) {
        g_test_skip("network namespaces need root");
        return false;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(h->ns[i], sizeof(h->ns[i]), "ferry-%c-%d", 'a' + i, pid);
        snprintf(h->dev[i], sizeof(h->dev[i]), "f%c%d", 'a' + i,
                 pid % 1000000);
    }
    hosts_destroy(h);
    if (!sh("ip netns add %s", h->ns[0]) ||
        !sh("ip netns add %s", h->ns[1]) ||
        !sh("ip link add %s netns %s type veth peer name %s netns %s",
            h->dev[0], h->ns[0], h->dev[1], h->ns[1])) {
        hosts_destroy(h);
        g_test_skip("cannot create network namespaces joined by veth "
                    "(ip netns, veth)");
        return false;
    }
    for (int i = 0; i < 2; i++) {
        g_autofree char *path = g_strdup_printf("%s/in-%s.sh",
                                                qtest_tmpdir(), h->ns[i]);
        g_autofree char *script = g_strdup_printf(
            "#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", h->ns[i],
            qtest_ferry_binary());

        g_assert_true(sh("ip -n %s addr add 10.77.0.%d/24 dev %s",
                         h->ns[i], i + 1, h->dev[i]));
        g_assert_true(sh("ip -n %s link set %s up", h->ns[i], h->dev[i]));
        g_assert_true(sh("ip -n %s link set lo up", h->ns[i]));
        g_assert_true(g_file_set_contents(path, script, -1, NULL));
        g_assert_cmpint(chmod(path, 0755), ==, 0);
        h->wrapper[i] = g_steal_pointer(&path);
    }
    return true;
}

/* Breaks (or mends) the cable on the source's side. */
static bool cable(Hosts *h, Failure how, bool broken)
{
    switch (how) {
    case FAIL_DROP:
        return broken
               ? sh("ip netns exec %s nft 'add table inet cut; add chain "
                    "inet cut in { type filter hook input priority 0; "
                    "policy drop; }; add chain inet cut out { type filter "
                    "hook output priority 0; policy drop; }'", h->ns[0])
               : sh("ip netns exec %s nft delete table inet cut", h->ns[0]);
    case FAIL_LINK_DOWN:
        return sh("ip -n %s link set %s %s", h->ns[0], h->dev[0],
                  broken ? "down" : "up");
    case FAIL_NETEM:
        return broken
               ? sh("ip netns exec %s tc qdisc add dev %s root netem "
                    "loss 100%%", h->ns[0], h->dev[0])
               : sh("ip netns exec %s tc qdisc del dev %s root", h->ns[0],
                    h->dev[0]);
    }
    return false;
}

/* Whether this host can fail the cable @how (checked on the real one). */
static bool can_fail(Hosts *h, Failure how)
{
    if (how == FAIL_LINK_DOWN) {
        return true;
    }
    if (!cable(h, how, true)) {
        g_test_skip(how == FAIL_NETEM
                    ? "tc netem is not available here (no sch_netem qdisc)"
                    : "nftables is not available here (nft)");
        return false;
    }
    g_assert_true(cable(h, how, false));
    return true;
}

static QTestState *start_host(Hosts *h, int i, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static QTestState *start_host(Hosts *h, int i, const char *fmt, ...)
{
    QTestOptions o = { .binary = h->wrapper[i], .capture_stderr = true };
    g_autofree char *args = NULL;
    va_list ap;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return qtest_init_opts(&o, "-name %s -M none -m %dM "
                           "-global migration.x-link-timeout=%d %s",
                           i ? "target" : "source", RAM_MB, TIMEOUT_MS, args);
}

static void test_postcopy(const void *opaque)
{
    Failure how = GPOINTER_TO_INT(opaque);
    g_autofree char *pattern = make_pattern_file(DATA_LEN, 53);
    g_autofree char *want = NULL;
    g_autofree uint8_t *got = NULL;
    QTestState *src, *dst;
    Hosts h = { 0 };
    int64_t t0, ts, td;

    if (!have_userfaultfd() || !hosts_create(&h)) {
        return;
    }
    if (!can_fail(&h, how)) {
        hosts_destroy(&h);
        return;
    }
    g_assert_true(g_file_get_contents(pattern, &want, NULL, NULL));
    src = start_host(&h, 0, "-device loader,file=%s,addr=0x%x", pattern,
                     DATA_START);
    dst = start_host(&h, 1, "-incoming tcp:10.77.0.2:4444");
    for (int i = 0; i < 2; i++) {
        migrate_set_capability(i ? dst : src, "events", true);
        migrate_set_capability(i ? dst : src, "postcopy-ram", true);
    }
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 4 << 20);
    migrate_qmp(src, "tcp:10.77.0.2:4444");
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_status(src, "postcopy-active");
    wait_for_migration_status(dst, "postcopy-active");
    qtest_qmp_eventwait(dst, "RESUME");

    t0 = now_ms();
    g_assert_true(cable(&h, how, true));
    wait_for_migration_status(src, "postcopy-paused");
    ts = now_ms() - t0;
    wait_for_migration_status(dst, "postcopy-paused");
    td = now_ms() - t0;
    g_test_message("noticed after %" PRId64 " ms (source), %" PRId64
                   " ms (destination)", ts, td);
    g_assert_cmpint(ts, <=, TIMEOUT_MS + SLACK_MS);
    g_assert_cmpint(td, <=, TIMEOUT_MS + SLACK_MS);

    /* The cable mended, the migration recovers over TCP. */
    g_assert_true(cable(&h, how, false));
    qtest_qmp_assert_success(dst, "{'execute': 'migrate-recover', "
                             "'arguments': {'uri': 'tcp:10.77.0.2:4445'}}");
    qtest_qmp_assert_success(src, "{'execute': 'migrate', 'arguments': "
                             "{'uri': 'tcp:10.77.0.2:4445', 'resume': true}}");
    wait_for_migration_status(src, "postcopy-active");
    wait_for_migration_status(dst, "postcopy-active");
    migrate_set_parameter_int(src, "max-postcopy-bandwidth", 0);
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    got = pmemsave_read(dst, DATA_START, DATA_LEN);
    g_assert_true(memcmp(got, want, DATA_LEN) == 0);
    qtest_quit(src);
    qtest_quit(dst);
    hosts_destroy(&h);
    unlink(pattern);
}

static void test_precopy(void)
{
    g_autofree char *pattern = make_pattern_file(DATA_LEN, 59);
    g_autofree char *st = NULL;
    QTestState *src, *dst;
    Hosts h = { 0 };
    int64_t t0, t;
    int status;

    if (!hosts_create(&h)) {
        return;
    }
    src = start_host(&h, 0, "-device loader,file=%s,addr=0x%x", pattern,
                     DATA_START);
    dst = start_host(&h, 1, "-incoming tcp:10.77.0.2:4444");
    for (int i = 0; i < 2; i++) {
        migrate_set_capability(i ? dst : src, "events", true);
        migrate_set_capability(i ? dst : src, "return-path", true);
    }
    migrate_set_parameter_int(src, "max-bandwidth", 4 << 20);
    migrate_qmp(src, "tcp:10.77.0.2:4444");
    wait_for_migration_status(src, "active");
    wait_for_migration_status(dst, "active");
    t0 = now_ms();
    g_assert_true(cable(&h, FAIL_LINK_DOWN, true));
    wait_for_migration_fail(src, false);
    t = now_ms() - t0;
    g_test_message("noticed after %" PRId64 " ms", t);
    g_assert_cmpint(t, <=, TIMEOUT_MS + SLACK_MS);
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "running");
    /* The destination gives up too (TCP keepalive or the source's PINGs). */
    status = qtest_wait_exit(dst);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    qtest_kill(dst);
    qtest_quit(src);
    hosts_destroy(&h);
    unlink(pattern);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/migration/netns/postcopy/drop",
                         GINT_TO_POINTER(FAIL_DROP), test_postcopy);
    g_test_add_data_func("/migration/netns/postcopy/link-down",
                         GINT_TO_POINTER(FAIL_LINK_DOWN), test_postcopy);
    g_test_add_data_func("/migration/netns/postcopy/netem-loss",
                         GINT_TO_POINTER(FAIL_NETEM), test_postcopy);
    g_test_add_func("/migration/netns/precopy/link-down", test_precopy);
    return g_test_run();
}
