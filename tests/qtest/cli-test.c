/*
 * cli-test: ferry's command line, as a user's scripts see it.
 *
 * A bad command line must fail fast and tidily: exit status 1, nothing on
 * stdout and exactly one "ferry: [-opt arg: ]reason" line on stderr (the
 * QEMU error_report() convention that management tools parse).  A good
 * one must start, answer query-status over QMP in the expected run state
 * and exit 0 on SIGTERM.  The informational options (-version, -machine
 * help, -trace help) print to stdout and exit 0 without starting a VM.
 *
 * The bad and informational cases run the binary with g_spawn_sync(); the
 * child arms alarm() before exec, so a ferry that hangs instead of exiting
 * is killed by SIGALRM and the test fails instead of blocking forever.
 */
#include "libqtest.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 8
#define MiB (1024 * 1024)

typedef struct BadCase {
    const char *name;           /* the test is /cli/bad/<name> */
    const char *args[MAX_ARGS]; /* after argv[0]; NULL-terminated */
    const char *expect;         /* substring of the one stderr line */
    bool timestamp;             /* the line starts with an ISO-8601 time */
} BadCase;

/* Designated initializers: the table need not spell out every field. */
#define BAD(n, e, ...) { .name = (n), .expect = (e), .args = { __VA_ARGS__ } }

static const BadCase bad_cases[] = {
    BAD("unknown-option", "-foo: invalid option",
        "-M", "none", "-foo"),
    BAD("memory-not-a-number",
        "-m abc: Parameter 'size' expects a non-negative number below 2^64",
        "-M", "none", "-m", "abc"),
    BAD("memory-bad-suffix",
        "-m 1Q: Parameter 'size' expects a non-negative number below 2^64",
        "-M", "none", "-m", "1Q"),
    BAD("memory-negative",
        "-m -1: Parameter 'size' expects a non-negative number below 2^64",
        "-M", "none", "-m", "-1"),
    BAD("machine-unknown", "-M bogus: unsupported machine type 'bogus'",
        "-M", "bogus"),
    BAD("machine-bad-property",
        "-M none,bogus=1: Property 'none-machine.bogus' not found",
        "-M", "none,bogus=1"),
    BAD("object-no-size",
        "-object memory-backend-ram,id=m0: Parameter 'size' is missing",
        "-M", "none", "-object", "memory-backend-ram,id=m0"),
    BAD("object-bad-property",
        "-object memory-backend-ram,id=m0,size=64M,bogus=1: "
        "Invalid parameter 'bogus'",
        "-M", "none", "-object", "memory-backend-ram,id=m0,size=64M,bogus=1"),
    BAD("object-no-id",
        "-object memory-backend-ram: Parameter 'id' is missing",
        "-M", "none", "-object", "memory-backend-ram"),
    BAD("object-size-not-a-size", "Parameter 'size' expects a size value",
        "-M", "none", "-object", "memory-backend-ram,id=m0,size=abc"),
    BAD("object-size-zero",
        "property 'size' of memory-backend-ram doesn't take value '0'",
        "-M", "none", "-object", "memory-backend-ram,id=m0,size=0"),
    BAD("object-prealloc-threads-zero",
        "-object memory-backend-ram,id=m0,size=8M,prealloc-threads=0: "
        "property 'prealloc-threads' of memory-backend-ram doesn't take "
        "value '0'",
        "-M", "none", "-object",
        "memory-backend-ram,id=m0,size=8M,prealloc-threads=0"),
    BAD("object-prealloc-no-reserve",
        "-object memory-backend-ram,id=m0,size=8M,prealloc=on,reserve=off: "
        "'prealloc=on' and 'reserve=off' are incompatible",
        "-M", "none", "-object",
        "memory-backend-ram,id=m0,size=8M,prealloc=on,reserve=off"),
    BAD("object-mem-prealloc-no-reserve",
        "-object memory-backend-ram,id=m0,size=8M,reserve=off: "
        "'prealloc=on' and 'reserve=off' are incompatible",
        "-M", "none", "-mem-prealloc", "-object",
        "memory-backend-ram,id=m0,size=8M,reserve=off"),
    BAD("machine-mem-merge-not-bool",
        "-M none,mem-merge=maybe: Parameter 'mem-merge' expects 'on' or "
        "'off'", "-M", "none,mem-merge=maybe"),
    BAD("object-unknown-type",
        "-object bogus-type,id=x: "
        "Parameter 'qom-type' does not accept value 'bogus-type'",
        "-M", "none", "-object", "bogus-type,id=x"),
    /* The second -object is the culprit, and the message must say so. */
    BAD("object-duplicate-id",
        "-object memory-backend-ram,id=m0,size=8M: Duplicate ID 'm0'",
        "-M", "none", "-object", "memory-backend-ram,id=m0,size=4M",
        "-object", "memory-backend-ram,id=m0,size=8M"),
    BAD("machine-backend-missing", "Memory backend 'm0' not found",
        "-M", "none,memory-backend=m0"),
    BAD("machine-backend-size-mismatch",
        "Machine memory size does not match the size of the memory backend",
        "-M", "none,memory-backend=m0", "-m", "32M",
        "-object", "memory-backend-ram,id=m0,size=64M"),
    BAD("qmp-unknown-backend",
        "-qmp bogus:x: 'bogus:x' is not a valid char driver name",
        "-M", "none", "-qmp", "bogus:x"),
    BAD("qmp-cannot-bind",
        "Failed to bind socket to /nonexistent/dir/s.sock",
        "-M", "none", "-qmp",
        "unix:/nonexistent/dir/s.sock,server=on,wait=off"),
    BAD("accel-unknown", "-accel bogus: invalid accelerator bogus",
        "-M", "none", "-accel", "bogus"),
    BAD("trace-events-missing",
        "-trace events=/nonexistent: could not open trace events file "
        "'/nonexistent': No such file or directory",
        "-M", "none", "-trace", "events=/nonexistent"),
    BAD("logfile-bad-dir",
        "-D /nonexistent/dir/log: Error opening logfile /nonexistent/dir/log",
        "-M", "none", "-D", "/nonexistent/dir/log"),
    BAD("memory-no-argument", "-m: requires an argument",
        "-M", "none", "-m"),
    BAD("name-no-argument", "-name: requires an argument",
        "-M", "none", "-name"),
    BAD("qmp-no-argument", "-qmp: requires an argument",
        "-M", "none", "-qmp"),
    BAD("name-bad-property", "-name foo,bogus=1: Invalid parameter 'bogus'",
        "-M", "none", "-name", "foo,bogus=1"),
    BAD("display-gtk", "-display gtk: Display 'gtk' is not available",
        "-M", "none", "-display", "gtk"),
    BAD("positional-argument", "disk.img: invalid option",
        "-M", "none", "disk.img"),
    BAD("pc-lite-no-drive", "pc-lite needs a boot disk: -drive file=IMG,"
        "format=raw", "-M", "pc-lite"),
    BAD("pc-lite-not-bootable", "'/dev/zero' is not a bootable disk",
        "-M", "pc-lite", "-drive", "file=/dev/zero,format=raw"),
    BAD("pc-lite-short-image", "'/dev/null' is shorter than 512 bytes",
        "-M", "pc-lite", "-drive", "file=/dev/null,format=raw"),
    BAD("pc-lite-smp", "The max CPUs supported by machine 'pc-lite' is 1",
        "-M", "pc-lite", "-smp", "2", "-drive", "file=/dev/zero,format=raw"),
    BAD("pc-lite-too-much-ram", "pc-lite supports at most 3072 MiB",
        "-M", "pc-lite", "-m", "4G", "-drive", "file=/dev/zero,format=raw"),
    BAD("pc-lite-too-little-ram", "pc-lite needs at least 128 KiB of RAM",
        "-M", "pc-lite", "-m", "64K", "-drive", "file=/dev/zero,format=raw"),
    BAD("vga-unknown", "-vga cirrus: unknown vga type: cirrus",
        "-M", "none", "-vga", "cirrus"),
    BAD("vga-no-argument", "-vga: requires an argument",
        "-M", "none", "-vga"),
    BAD("drive-qcow2", "'qcow2' invalid format",
        "-M", "none", "-drive", "file=/dev/zero,format=qcow2"),
    BAD("drive-virtio", "unsupported bus type 'virtio'",
        "-M", "none", "-drive", "file=/dev/zero,format=raw,if=virtio"),
    BAD("drive-bad-param", "Invalid parameter 'bogus'",
        "-M", "none", "-drive", "file=/dev/zero,bogus=1"),
    BAD("smp-zero", "Invalid SMP CPUs 0", "-M", "none", "-smp", "0"),
    BAD("global-unknown", "Property 'migration.bogus' not found",
        "-M", "none", "-global", "migration.bogus=1"),
    BAD("cpu-latency-not-a-number",
        "-global migration.x-postcopy-cpu-latency=abc: Parameter "
        "'x-postcopy-cpu-latency' expects microseconds from 0 to "
        "2000000000, or -1 for none",
        "-M", "none", "-global", "migration.x-postcopy-cpu-latency=abc"),
    BAD("cpu-latency-below-minus-one",
        "Parameter 'x-postcopy-cpu-latency' expects microseconds",
        "-M", "none", "-global", "migration.x-postcopy-cpu-latency=-2"),
    BAD("cpu-latency-too-big",
        "Parameter 'x-postcopy-cpu-latency' expects microseconds",
        "-M", "none", "-global",
        "migration.x-postcopy-cpu-latency=2000000001"),
    { .name = "msg-timestamp", .timestamp = true,
      .expect = "-M bogus: unsupported machine type 'bogus'",
      .args = { "-msg", "timestamp=on", "-M", "bogus" } },
};

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void child_setup(gpointer opaque)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(GPOINTER_TO_UINT(opaque));    /* pending alarms survive exec */
}

/*
 * Runs ferry with @args (NULL-terminated, argv[0] excluded) to completion;
 * returns its wait status and hands back what it wrote.
 */
static int run_ferry(const char *const *args, char **out, char **err)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) gerr = NULL;
    g_autofree char *cmd = NULL;
    int status = -1;

    g_ptr_array_add(argv, (char *)qtest_ferry_binary());
    for (; *args; args++) {
        g_ptr_array_add(argv, (char *)*args);
    }
    g_ptr_array_add(argv, NULL);
    cmd = g_strjoinv(" ", (char **)argv->pdata);
    g_test_message("running: %s", cmd);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT,
                      child_setup, GUINT_TO_POINTER(qtest_timeout()),
                      out, err, &status, &gerr)) {
        g_error("cannot run %s: %s", qtest_ferry_binary(), gerr->message);
    }
    if (WIFSIGNALED(status)) {
        g_test_message("ferry was killed by signal %d%s; stderr:\n%s",
                       WTERMSIG(status), WTERMSIG(status) == SIGALRM ?
                       " (it did not exit within QTEST_TIMEOUT)" : "", *err);
    }
    return status;
}

static void assert_exit_status(int status, int expected)
{
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, expected);
}

/* The one line, minus an ISO-8601 UTC time stamp if @timestamp. */
static const char *error_line_body(const char *line, bool timestamp)
{
    static const char ts_re[] =
        "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z ";
    g_autoptr(GRegex) re = NULL;
    g_autoptr(GMatchInfo) m = NULL;
    int end = 0;

    if (!timestamp) {
        return line;
    }
    re = g_regex_new(ts_re, 0, 0, NULL);
    g_assert_nonnull(re);
    if (!g_regex_match(re, line, 0, &m)) {
        g_error("no time stamp at the start of '%s'", line);
    }
    g_assert_true(g_match_info_fetch_pos(m, 0, NULL, &end));
    return line + end;
}

static void test_bad(gconstpointer opaque)
{
    const BadCase *c = opaque;
    g_autofree char *out = NULL, *err = NULL;
    g_autofree char *prefix = NULL, *progname = NULL;
    const char *body;
    int status = run_ferry(c->args, &out, &err);

    g_test_message("stderr: %s", err);
    assert_exit_status(status, 1);
    g_assert_cmpstr(out, ==, "");

    /* Exactly one line: one '\n', and it is the last byte. */
    g_assert_nonnull(strchr(err, '\n'));
    g_assert_true(strchr(err, '\n') == err + strlen(err) - 1);

    progname = g_path_get_basename(qtest_ferry_binary());
    prefix = g_strconcat(progname, ": ", NULL);
    body = error_line_body(err, c->timestamp);
    g_assert_true(g_str_has_prefix(body, prefix));
    g_assert_nonnull(strstr(body, c->expect));
}

/* ---- informational options: stdout, exit 0 ---- */

/* True if @text has a line equal to @line, or starting with "@line ". */
static bool has_line(const char *text, const char *line)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    size_t n = strlen(line);

    for (char **l = lines; *l; l++) {
        if (!strncmp(*l, line, n) && ((*l)[n] == '\0' || (*l)[n] == ' ')) {
            return true;
        }
    }
    return false;
}

static char *run_info(const char *opt, const char *arg)
{
    const char *args[] = { "-M", "none", opt, arg, NULL };
    char *out = NULL;
    g_autofree char *err = NULL;
    int status = run_ferry(args, &out, &err);

    assert_exit_status(status, 0);
    g_assert_cmpstr(err, ==, "");
    return out;
}

static void test_version(void)
{
    g_autofree char *out = run_info("-version", NULL);

    g_assert_nonnull(strstr(out, "ferry version "));
    g_assert_true(g_str_has_suffix(out, "\n"));
}

static void test_machine_help(void)
{
    g_autofree char *out = run_info("-machine", "help");

    g_assert_true(has_line(out, "none"));
    g_assert_true(has_line(out, "pc-lite"));
}

static void test_trace_help(void)
{
    g_autofree char *out = run_info("-trace", "help");

    g_assert_true(has_line(out, "runstate_set"));
    g_assert_true(has_line(out, "vm_start"));
    g_assert_false(has_line(out, "no_such_event"));
}

static void test_accel_help(void)
{
    g_autofree char *out = run_info("-accel", "help");

    g_assert_true(has_line(out, "qtest"));
    g_assert_true(has_line(out, "kvm"));
    g_assert_true(has_line(out, "tcg"));
}

/* ---- good command lines: the VM starts and dies cleanly ---- */

static uint64_t query_base_memory(QTestState *s)
{
    JsonNode *rsp = qtest_qmp(s, "{'execute': 'query-memory-size-summary'}");
    uint64_t v = json_object_get_int_member(qmp_rsp_return(rsp),
                                            "base-memory");

    json_node_unref(rsp);
    return v;
}

/* Starts ferry with @args and checks it is up in @runstate with @ram_size. */
static QTestState *start_checked(const char *args, const char *runstate,
                                 uint64_t ram_size)
{
    const QTestOptions opts = { .capture_stderr = true };
    QTestState *s = qtest_init_opts(&opts, "%s", args);
    g_autofree char *state = qtest_runstate(s);

    g_assert_cmpstr(state, ==, runstate);
    g_assert_cmpuint(query_base_memory(s), ==, ram_size);
    return s;
}

/*
 * SIGTERM is a clean shutdown: like QEMU, ferry says so in one line and
 * exits 0.
 */
static void stop_cleanly(QTestState *s)
{
    g_autofree char *progname = g_path_get_basename(qtest_ferry_binary());
    g_autofree char *msg = g_strconcat(progname,
                                       ": terminating on signal 15", NULL);
    const char *err;

    g_assert_cmpint(kill(qtest_pid(s), SIGTERM), ==, 0);
    assert_exit_status(qtest_wait_exit(s), 0);
    err = qtest_stderr(s);
    g_test_message("stderr: %s", err);
    g_assert_true(g_str_has_prefix(err, msg));
    g_assert_true(strchr(err, '\n') == err + strlen(err) - 1);
    qtest_quit(s);
}

static void check_starts(const char *args, const char *runstate,
                         uint64_t ram_size)
{
    stop_cleanly(start_checked(args, runstate, ram_size));
}

static void test_good_memory_zero(void)
{
    check_starts("-m 0", "running", 0);
}

/* pc-lite under the qtest accelerator: the board, without running it. */
static void test_good_pc_lite(void)
{
    const char *dir = g_getenv("FERRY_BOOTBLOCKS");
    g_autofree char *args = g_strdup_printf(
        "-M pc-lite -m 64M -serial none -drive file=%s/a-b-bootblock.img,"
        "format=raw,if=ide", dir ? dir : "tests/migration");
    QTestState *s = start_checked(args, "running", 64 * MiB);

    /* The boot sector is at 0x7c00, signature and all. */
    g_assert_cmphex(qtest_readw(s, 0x7dfe), ==, 0xaa55);
    stop_cleanly(s);
}

/* The boot block has finished two passes (it counts them at 0x7e08). */
static bool two_passes(void *opaque)
{
    return qtest_readl(opaque, 0x7e08) >= 2;
}

/*
 * A fallback chain, as in QEMU: the accelerator that cannot start is
 * reported and the next one runs the guest (ferry's interpreter here, a
 * real vCPU: the boot block's pass counter moves).
 */
static void accel_chain(const char *accel_args)
{
    const char *dir = g_getenv("FERRY_BOOTBLOCKS");
    const QTestOptions opts = { .capture_stderr = true };
    g_autofree char *args = g_strdup_printf(
        "-M pc-lite -m 128M -serial none %s -drive file=%s/a-b-bootblock.img,"
        "format=raw,if=ide", accel_args, dir ? dir : "tests/migration");
    QTestState *s = qtest_init_opts(&opts, "%s", args);

    g_assert_true(qtest_poll_until(two_passes, s, 30));
    g_assert_nonnull(strstr(qtest_stderr(s), "invalid accelerator bogus"));
    qtest_quit(s);
}

static void test_good_accel_chain(void)
{
    accel_chain("-accel bogus -accel tcg");
}

static void test_good_machine_accel_chain(void)
{
    accel_chain("-machine accel=bogus:tcg");
}

static void test_good_stopped(void)
{
    check_starts("-M none -m 16M -S", "prelaunch", 16 * MiB);
}

static void test_good_memfd_backend(void)
{
    check_starts("-M none,memory-backend=m0 "
                 "-object memory-backend-memfd,id=m0,size=64M",
                 "running", 64 * MiB);
}

static bool dir_is_empty(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);

    g_assert_nonnull(d);
    return g_dir_read_name(d) == NULL;
}

/*
 * mem-path naming a directory: ferry creates its RAM file there and
 * unlinks it at once, as QEMU does, so nothing is left behind.
 */
static void test_good_file_backend(void)
{
    g_autofree char *dir = g_build_filename(qtest_tmpdir(), "mem-XXXXXX",
                                            NULL);
    g_autofree char *qdir = NULL, *args = NULL;
    QTestState *s;

    g_assert_nonnull(g_mkdtemp(dir));
    qdir = g_shell_quote(dir);
    args = g_strdup_printf("-object memory-backend-file,id=m0,size=4M,"
                           "mem-path=%s -machine memory-backend=m0", qdir);
    s = start_checked(args, "running", 4 * MiB);
    g_assert_true(dir_is_empty(dir));
    stop_cleanly(s);
    g_assert_true(dir_is_empty(dir));
    g_assert_cmpint(rmdir(dir), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/cli/bad/%s",
                                                bad_cases[i].name);

        g_test_add_data_func(path, &bad_cases[i], test_bad);
    }
    g_test_add_func("/cli/info/version", test_version);
    g_test_add_func("/cli/info/machine-help", test_machine_help);
    g_test_add_func("/cli/info/trace-help", test_trace_help);
    g_test_add_func("/cli/info/accel-help", test_accel_help);
    g_test_add_func("/cli/good/accel-chain", test_good_accel_chain);
    g_test_add_func("/cli/good/machine-accel-chain",
                    test_good_machine_accel_chain);
    g_test_add_func("/cli/good/memory-zero", test_good_memory_zero);
    g_test_add_func("/cli/good/stopped", test_good_stopped);
    g_test_add_func("/cli/good/pc-lite", test_good_pc_lite);
    g_test_add_func("/cli/good/memfd-backend", test_good_memfd_backend);
    g_test_add_func("/cli/good/file-backend", test_good_file_backend);
    return g_test_run();
}
