/*
 * migration-kill-test: one side killed with SIGKILL at each phase of a
 * migration; the survivor must end up where QEMU 7.2 would be, and quit
 * promptly when told to (nothing hangs).
 *
 *   phase              destination killed            source killed
 *   setup              (connect refused) failed,     destination waits
 *                      VM running                    (nothing arrived)
 *   active (precopy)   failed, VM running            destination exits 1
 *   pre-switchover     failed, VM running            destination exits 1
 *   device             failed, VM running            destination exits 1
 *   postcopy-active    postcopy-paused, VM stopped;  postcopy-paused, the
 *                      cancel: cancelled, stopped     guest runs; quits
 *   completion         failed, VM running (precopy,  completed, the VM runs
 *                      killed waiting for SHUT)      (it had everything)
 *
 * ferry notices a dead peer in pre-switchover at once (its PINGs fail),
 * where QEMU would wait for migrate-continue first: the result is the
 * same.  To catch "device" and "completion", which last milliseconds, the
 * destination is frozen (SIGSTOP) while the source writes its switchover
 * (more than the sockets hold: stuck in "device") or waits for SHUT (all
 * of it in the sockets already: its trace says so), and thawed after the
 * kill.
 */
#include "migration-helpers.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM_MB      256
#define DATA_START  0x100000
#define DATA_LEN    (32u << 20)

typedef enum Phase {
    PHASE_SETUP,
    PHASE_ACTIVE,
    PHASE_PRE_SWITCHOVER,
    PHASE_DEVICE,
    PHASE_POSTCOPY,
    PHASE_COMPLETION,
} Phase;

typedef struct KillCase {
    const char *name;
    Phase phase;
    bool kill_dst;
} KillCase;

static const KillCase cases[] = {
    { "destination/setup", PHASE_SETUP, true },
    { "destination/active", PHASE_ACTIVE, true },
    { "destination/pre-switchover", PHASE_PRE_SWITCHOVER, true },
    { "destination/device", PHASE_DEVICE, true },
    { "destination/postcopy-active", PHASE_POSTCOPY, true },
    { "destination/completion", PHASE_COMPLETION, true },
    { "source/setup", PHASE_SETUP, false },
    { "source/active", PHASE_ACTIVE, false },
    { "source/pre-switchover", PHASE_PRE_SWITCHOVER, false },
    { "source/device", PHASE_DEVICE, false },
    { "source/postcopy-active", PHASE_POSTCOPY, false },
    { "source/completion", PHASE_COMPLETION, false },
};

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static void expect_runstate(QTestState *who, const char *want)
{
    g_autofree char *st = qtest_runstate(who);

    g_assert_cmpstr(st, ==, want);
}

/* The survivor goes when told to, within seconds. */
static void quit_promptly(QTestState *who)
{
    int64_t t0 = now_ms();

    qtest_quit(who);
    g_assert_cmpint(now_ms() - t0, <, 10000);
}

/* The source wrote all of its stream and waits for SHUT. */
static bool stream_out(void *opaque)
{
    return strstr(qtest_stderr(opaque), "migration_await_shut") != NULL;
}

static void test_kill(const void *opaque)
{
    const KillCase *c = opaque;
    g_autofree char *pattern = make_pattern_file(DATA_LEN, 41);
    g_autofree char *sock = g_strdup_printf("%s/kill-%d.sock",
                                            qtest_tmpdir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    QTestOptions o = { .capture_stderr = true };
    QTestState *src, *dst, *victim, *survivor;
    bool postcopy = c->phase == PHASE_POSTCOPY;
    int status;

    if (postcopy && !have_userfaultfd()) {
        return;
    }
    /* (The trace says when the whole stream is out: "completion".) */
    src = qtest_init_opts(&o, "-name source -M none -m %dM "
                          "-device loader,file=%s,addr=0x%x "
                          "-trace enable=migration_await_shut", RAM_MB,
                          pattern, DATA_START);
    dst = qtest_init_opts(&o, "-name target -M none -m %dM -incoming %s",
                          RAM_MB, uri);
    for (int i = 0; i < 2; i++) {
        QTestState *q = i ? dst : src;

        migrate_set_capability(q, "events", true);
        migrate_set_capability(q, "return-path", true);
        if (postcopy) {
            migrate_set_capability(q, "postcopy-ram", true);
        }
    }
    victim = c->kill_dst ? dst : src;
    survivor = c->kill_dst ? src : dst;

    switch (c->phase) {
    case PHASE_SETUP:
        if (c->kill_dst) {
            /* Gone before the source connects. */
            qtest_kill(dst);
            migrate_qmp(src, uri);
            wait_for_migration_fail(src, false);
            expect_runstate(src, "running");
            quit_promptly(src);
        } else {
            /* Gone before sending anything: the destination waits. */
            qtest_kill(src);
            g_assert_null(strstr(qtest_stderr(dst), "failed"));
            expect_runstate(dst, "inmigrate");
            quit_promptly(dst);
        }
        unlink(pattern);
        return;
    case PHASE_ACTIVE:
        migrate_set_parameter_int(src, "max-bandwidth", 4 << 20);
        migrate_qmp(src, uri);
        wait_for_migration_status(src, "active");
        wait_for_migration_status(dst, "active");
        break;
    case PHASE_PRE_SWITCHOVER:
    case PHASE_DEVICE:
    case PHASE_COMPLETION:
        migrate_set_capability(src, "pause-before-switchover", true);
        if (c->phase == PHASE_DEVICE) {
            /*
             * Switch after the first window: most of the data is left for
             * the switchover, more than the sockets hold.
             */
            migrate_set_parameter_int(src, "max-bandwidth", 16 << 20);
            migrate_set_parameter_int(src, "downtime-limit", 100000);
        } else {
            migrate_set_parameter_int(src, "max-bandwidth", 0);
        }
        migrate_qmp(src, uri);
        wait_for_migration_status(src, "pre-switchover");
        if (c->phase == PHASE_DEVICE) {
            /* Frozen, it takes nothing: the switchover waits on it. */
            kill(qtest_pid(dst), SIGSTOP);
            qtest_qmp_assert_success(src, "{'execute': 'migrate-continue', "
                                     "'arguments': {'state': "
                                     "'pre-switchover'}}");
            wait_for_migration_status(src, "device");
        } else if (c->phase == PHASE_COMPLETION) {
            /* Everything sent; it dies before its SHUT. */
            kill(qtest_pid(dst), SIGSTOP);
            qtest_qmp_assert_success(src, "{'execute': 'migrate-continue', "
                                     "'arguments': {'state': "
                                     "'pre-switchover'}}");
            g_assert_true(qtest_poll_until(stream_out, src,
                                           qtest_timeout()));
        }
        break;
    case PHASE_POSTCOPY:
        migrate_set_parameter_int(src, "max-postcopy-bandwidth", 4 << 20);
        migrate_qmp(src, uri);
        qtest_qmp_assert_success(src,
                                 "{'execute': 'migrate-start-postcopy'}");
        wait_for_migration_status(src, "postcopy-active");
        wait_for_migration_status(dst, "postcopy-active");
        qtest_qmp_eventwait(dst, "RESUME");
        break;
    }

    kill(qtest_pid(victim), SIGKILL);
    qtest_kill(victim);
    if (!c->kill_dst && (c->phase == PHASE_DEVICE ||
                         c->phase == PHASE_COMPLETION)) {
        kill(qtest_pid(dst), SIGCONT);
    }
    if (!c->kill_dst && c->phase == PHASE_COMPLETION) {
        /* Everything was in the socket: the destination has the VM. */
        wait_for_migration_complete(dst);
        expect_runstate(dst, "running");
        quit_promptly(dst);
        unlink(pattern);
        return;
    }

    if (c->kill_dst && !postcopy) {
        /* A failed precopy costs the source nothing. */
        wait_for_migration_fail(src, false);
        expect_runstate(src, "running");
    } else if (c->kill_dst) {
        /* After RUN the guest may be running there: never here again. */
        wait_for_migration_status(src, "postcopy-paused");
        expect_runstate(src, "finish-migrate");
        qtest_qmp_assert_success(src, "{'execute': 'migrate_cancel'}");
        wait_for_migration_status(src, "cancelled");
        expect_runstate(src, "postmigrate");
    } else if (!postcopy) {
        /* QEMU 7.2: "load of migration failed", exit status 1. */
        status = qtest_wait_exit(dst);
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        g_assert_nonnull(strstr(qtest_stderr(dst),
                                "load of migration failed"));
        qtest_kill(dst);
        unlink(pattern);
        return;
    } else {
        /* The guest keeps running, waiting for its missing pages. */
        wait_for_migration_status(dst, "postcopy-paused");
        expect_runstate(dst, "running");
    }
    quit_promptly(survivor);
    unlink(pattern);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/migration/kill/%s",
                                                cases[i].name);
        g_test_add_data_func(path, &cases[i], test_kill);
    }
    return g_test_run();
}
