/*
 * fuzz-cmdline.c: fuzz target "cmdline" — arbitrary bytes as ferry's
 * command line, into the parser and the option checks of system/vl.c.
 *
 * Design note
 *
 * Input format: the bytes are split at '\n' into argument words (a final
 * empty word, after a trailing newline, is dropped; other empty words are
 * empty arguments), and "ferry" is put in front as argv[0].  A NUL byte
 * ends its word early, as a C string.  So the corpus files read as one
 * argument per line:
 *
 *   -M
 *   none,memory-backend=m0
 *   -object
 *   memory-backend-ram,id=m0,size=64M
 *
 * fuzz_cmdline_init() does, once, what qemu_init() does between the two
 * passes and that the checks need: the main loop and BQL, the machine
 * types, the timer section and migration (for -global migration.PROP).
 *
 * Each input runs qemu_cmdline_check() (sysemu/vl.h): both passes of
 * qemu_init(), same code, order and messages, with the actions left out.
 * Where it stops: every option is recognised and given its argument;
 * -d, -msg, -global, -name, -display, -uuid, -chardev (syntax), -mon,
 * -object (syntax, "help"), -accel, -machine, -m, -smp and -device (syntax,
 * driver) are validated; -trace and -D (enable trace events, read and
 * create files), -serial, -pidfile, -drive, -qtest, -qtest-log and
 * -incoming are only recorded, as are the actions of the others —
 * opening chardevs and monitors, creating memory backends, /dev/kvm,
 * building the machine, running loaders — which touch the world and whose
 * own checks live in their modules.
 *
 * Reset per input: qemu_cmdline_reset() (the recorded options, the check
 * flags, the error location); the migration properties -global sets,
 * put back to their defaults (migration/options.c's, by name; they do not
 * steer the checks, but an input must not leave them changed).  Nothing
 * else changes in check mode (no chardev, machine, trace event, log
 * file, message timestamps, name, UUID, autostart).
 *
 * Rules checked (a broken one is a finding): the check never exits (an
 * exit is libFuzzer's finding), returns false exactly when it sets an
 * Error, whose message is not empty; and running the same input twice
 * gives the same result (nothing leaks from one run into the next).  Leaks, memory
 * errors and aborts are the sanitizers'.
 *
 * Accepted (run() returns 0): the check passed, or stopped at an
 * informational option (-help, -version, -machine help...).
 *
 * FERRY_FUZZ_TRACE=PATTERN enables trace events (as -trace PATTERN).
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "migration/misc.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/vl.h"

/* migration/options.c's defaults of what -global migration.PROP sets. */
static const char *const fuzz_migration_defaults[][2] = {
    { "store-global-state", "on" },
    { "send-configuration", "on" },
    { "send-section-footer", "on" },
    { "send-switchover-start", "off" },
    { "x-preempt-pre-7-2", "on" },
    { "x-postcopy-cpu-latency", "-1" },
    { "x-link-timeout", "30000" },
};

static void fuzz_reset_migration_props(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fuzz_migration_defaults); i++) {
        Error *err = NULL;

        if (!migrate_set_global_property(fuzz_migration_defaults[i][0],
                                         fuzz_migration_defaults[i][1],
                                         &err)) {
            fuzz_setup_failed("resetting the migration properties",
                              error_get_pretty(err));
        }
    }
}

/* The input's words, after "ferry": a NULL-terminated vector. */
static char **fuzz_split_args(const uint8_t *data, size_t size, int *argc)
{
    GPtrArray *args = g_ptr_array_new();
    size_t start = 0;

    g_ptr_array_add(args, g_strdup("ferry"));
    for (size_t i = 0; i <= size; i++) {
        if (i == size ? i > start : data[i] == '\n') {
            g_ptr_array_add(args, g_strndup((const char *)data + start,
                                            i - start));
            start = i + 1;
        }
    }
    *argc = args->len;
    g_ptr_array_add(args, NULL);
    return (char **)g_ptr_array_free(args, false);
}

typedef struct FuzzResult {
    bool ok;
    bool exit_now;
    char *msg;              /* the error's message, if !ok */
} FuzzResult;

static void fuzz_check_once(int argc, char **argv, FuzzResult *res)
{
    Error *err = NULL;

    res->exit_now = false;
    res->ok = qemu_cmdline_check(argc, argv, &res->exit_now, &err);
    qemu_cmdline_reset();
    fuzz_reset_migration_props();
    if (res->ok != !err) {
        fuzz_finding("the check returned %s %s an Error",
                     res->ok ? "true" : "false", err ? "with" : "without");
    }
    if (!res->ok && res->exit_now) {
        fuzz_finding("a failed check asks for exit 0");
    }
    res->msg = err ? g_strdup(error_get_pretty(err)) : NULL;
    error_free(err);
    if (res->msg && !*res->msg) {
        fuzz_finding("an empty error message");
    }
}

static int fuzz_cmdline_run(const uint8_t *data, size_t size, char **why)
{
    int argc;
    g_auto(GStrv) argv = fuzz_split_args(data, size, &argc);
    FuzzResult a, b;
    int ret;

    fuzz_check_once(argc, argv, &a);
    fuzz_check_once(argc, argv, &b);
    if (a.ok != b.ok || a.exit_now != b.exit_now ||
        g_strcmp0(a.msg, b.msg)) {
        fuzz_finding("two runs of the same input differ: '%s' then '%s'",
                     a.msg ? a.msg : "ok", b.msg ? b.msg : "ok");
    }
    ret = a.ok ? 0 : 1;
    if (why && a.msg) {
        *why = g_steal_pointer(&a.msg);
    }
    g_free(a.msg);
    g_free(b.msg);
    return ret;
}

/* What qemu_init() sets up between its two passes, bar signals and QMP. */
static void fuzz_cmdline_init(void)
{
    error_set_progname("ferry");
    qemu_init_host_page();
    fuzz_setup_trace();
    qemu_main_loop_init();
    machine_register_builtin();
    cpu_timers_init();
    migration_init();
}

static const char *const fuzz_cmdline_seeds[][2] = {
    { "basic", "-M\nnone\n-m\n64M\n-accel\nqtest\n-S\n" },
    { "backend",
      "-machine\nnone,memory-backend=m0,dump-guest-core=off\n-object\n"
      "memory-backend-ram,id=m0,size=64M,share=on\n-name\n"
      "guest=vm1,debug-threads=on,process=p\n-uuid\n"
      "12345678-9abc-def0-1234-56789abcdef0\n-display\nnone\n" },
    { "monitors",
      "-chardev\nsocket,id=c0,path=/tmp/x.sock,server=on,wait=off\n-mon\n"
      "chardev=c0,mode=control,pretty=on\n-qmp\n"
      "unix:/tmp/q.sock,server=on,wait=off\n-qmp-pretty\nnone\n-qtest\n"
      "unix:/tmp/t.sock\n-qtest-log\nnone\n--incoming\ndefer\n" },
    { "misc",
      "-global\nmigration.send-configuration=off\n-global\n"
      "migration.x-postcopy-cpu-latency=0\n-smp\n"
      "1,maxcpus=1,sockets=1,dies=1,clusters=1,cores=1,threads=1\n"
      "-nodefaults\n-nographic\n-device\n"
      "loader,addr=0x1000,data=0x12,data-len=1\n-msg\ntimestamp=on\n"
      "-d\ntrace:qtest_command\n-trace\nqtest_command\n-D\n/tmp/ferry.log\n"
      "-serial\nnone\n-pidfile\n/tmp/ferry.pid\n-drive\n"
      "file=/dev/zero,format=raw,if=none\n-mem-path\n/tmp\n"
      "-mem-prealloc\n" },
    { "machine-help", "-M\nnone\n-machine\nhelp\n" },
    { "version", "-version\n" },
};

static void fuzz_cmdline_seeds_fn(FuzzSeedFn add, void *opaque)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fuzz_cmdline_seeds); i++) {
        add(fuzz_cmdline_seeds[i][0],
            (const uint8_t *)fuzz_cmdline_seeds[i][1],
            strlen(fuzz_cmdline_seeds[i][1]), opaque);
    }
}

const FuzzTarget fuzz_target = {
    .name = "cmdline",
    .init = fuzz_cmdline_init,
    .run = fuzz_cmdline_run,
    .make_seeds = fuzz_cmdline_seeds_fn,
};
