/*
 * vl.c: the command line and the start-up sequence.
 *
 * Options are QEMU's, same spelling and meaning (docs/system/ferry.rst has
 * the list).  Parsing happens in two passes: the first records every
 * option (and handles the ones that act immediately, like -trace), the
 * second builds the VM in QEMU's order: chardevs and monitors, memory
 * backends, the machine and its RAM, the accelerator, qtest, run state.
 * Any bad option prints one "ferry: [-opt arg: ]reason" line and exits 1
 * (errors found after parsing, such as a missing memory backend, cannot
 * name one option and, as in QEMU, do not).
 *
 * Both passes are functions that return an Error instead of exiting, so
 * that the same code can also run as a check (qemu_cmdline_check(), the
 * "cmdline" fuzz target): every step of the second pass is written as
 * "validate, then act", and with vl.check_only it validates and stops
 * short of acting on anything outside the process.  qemu_init() reports
 * the Error and exits as before; the location ("-opt arg: ") is part of
 * the Error's message, so the line printed is the one QEMU prints.
 */
#include "qemu/osdep.h"
#include "sysemu/vl.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "sysemu/qtest.h"
#include "sysemu/hostmem.h"
#include "qom/object_interfaces.h"
#include "crypto/tlscreds.h"
#include "authz/base.h"
#include "sysemu/cpus.h"
#include "sysemu/kvm.h"
#include "sysemu/tcg.h"
#include "sysemu/blockdev.h"
#include "hw/boards.h"
#include "ui/console.h"
#include "chardev/char.h"
#include "monitor/monitor.h"
#include "qapi/qmp/dispatch.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/option.h"
#include "trace/control.h"
#include "sysemu/cpu-timers.h"
#include "hw/loader.h"
#include "migration/misc.h"
#include "config-host.h"
#include <glib-unix.h>

typedef enum OptIndex {
    OPT_HELP,
    OPT_VERSION,
    OPT_MACHINE,
    OPT_MEMORY,
    OPT_OBJECT,
    OPT_MEM_PATH,
    OPT_MEM_PREALLOC,
    OPT_NODEFAULTS,
    OPT_DISPLAY,
    OPT_NOGRAPHIC,
    OPT_ACCEL,
    OPT_QTEST,
    OPT_QTEST_LOG,
    OPT_QMP,
    OPT_QMP_PRETTY,
    OPT_CHARDEV,
    OPT_MON,
    OPT_S,
    OPT_NAME,
    OPT_TRACE,
    OPT_LOGFILE,
    OPT_LOGITEMS,
    OPT_MSG,
    OPT_SERIAL,
    OPT_UUID,
    OPT_PIDFILE,
    OPT_INCOMING,
    OPT_GLOBAL,
    OPT_DEVICE,
    OPT_SMP,
    OPT_DRIVE,
    OPT_VGA,
} OptIndex;

typedef struct QEMUOption {
    const char *name;
    bool has_arg;
    OptIndex index;
} QEMUOption;

static const QEMUOption qemu_options[] = {
    { "h", false, OPT_HELP },
    { "help", false, OPT_HELP },
    { "version", false, OPT_VERSION },
    { "M", true, OPT_MACHINE },
    { "machine", true, OPT_MACHINE },
    { "m", true, OPT_MEMORY },
    { "object", true, OPT_OBJECT },
    { "mem-path", true, OPT_MEM_PATH },
    { "mem-prealloc", false, OPT_MEM_PREALLOC },
    { "nodefaults", false, OPT_NODEFAULTS },
    { "display", true, OPT_DISPLAY },
    { "nographic", false, OPT_NOGRAPHIC },
    { "accel", true, OPT_ACCEL },
    { "qtest", true, OPT_QTEST },
    { "qtest-log", true, OPT_QTEST_LOG },
    { "qmp", true, OPT_QMP },
    { "qmp-pretty", true, OPT_QMP_PRETTY },
    { "chardev", true, OPT_CHARDEV },
    { "mon", true, OPT_MON },
    { "S", false, OPT_S },
    { "name", true, OPT_NAME },
    { "trace", true, OPT_TRACE },
    { "D", true, OPT_LOGFILE },
    { "d", true, OPT_LOGITEMS },
    { "msg", true, OPT_MSG },
    { "serial", true, OPT_SERIAL },
    { "uuid", true, OPT_UUID },
    { "pidfile", true, OPT_PIDFILE },
    { "incoming", true, OPT_INCOMING },
    { "global", true, OPT_GLOBAL },
    { "device", true, OPT_DEVICE },
    { "smp", true, OPT_SMP },
    { "drive", true, OPT_DRIVE },
    { "vga", true, OPT_VGA },
};

/* What the first pass collected; main thread only. */
typedef struct CmdlineOpt {
    const QEMUOption *opt;
    char *arg;
} CmdlineOpt;

typedef struct VLState {
    GArray *opts;               /* CmdlineOpt, in command-line order */
    bool check_only;            /* qemu_cmdline_check(): touch nothing */
    bool exit_now;              /* an informational option: exit 0 */
    MachineState *machine;
    QTestState *qtest;
    FILE *qtest_log;
    char *pidfile;
} VLState;

static VLState vl;

static void help(void)
{
    printf("ferry %s, a QEMU-compatible emulator for live migration\n"
           "usage: ferry [options]\n\n"
           "Standard options:\n"
           "-h or -help      display this help and exit\n"
           "-version         display version information and exit\n"
           "-machine [type=]name[,memory-backend=id][,dumpdtb=file]\n"
           "                 selects emulated machine ('-machine help' "
           "for a list);\n"
           "                 dumpdtb writes the board's device tree and "
           "exits\n"
           "-m [size=]megs   guest RAM size (suffixes k, M, G, T)\n"
           "-object memory-backend-{ram,memfd,file},id=ID,size=SIZE"
           "[,share=on|off][,mem-path=PATH][,prealloc=on|off]\n"
           "-mem-path FILE   back the default RAM with FILE (hugetlbfs "
           "allowed)\n"
           "-mem-prealloc    preallocate guest RAM (the default RAM and "
           "every memory\n"
           "                 backend without prealloc=off)\n"
           "-accel qtest|kvm|tcg accelerator (qtest: no vCPUs, the default; "
           "kvm: run the\n"
           "                 guest's vCPUs under /dev/kvm; tcg: ferry's x86 "
           "interpreter);\n"
           "                 repeat it for a fallback chain: -accel kvm "
           "-accel tcg\n"
           "-smp [cpus=]N    number of vCPUs (pc-lite: 1)\n"
           "-drive file=IMG,format=raw[,if=ide|none][,index=N]  a raw disk "
           "image\n"
           "                 (pc-lite boots the first sector of index 0)\n"
           "-S               freeze the VM at start-up (use 'cont' in QMP)\n"
           "-name [guest=]NAME  the VM name shown by query-name\n"
           "-uuid UUID       the VM UUID\n"
           "-vga std|none    pc-lite's linear framebuffer (std, the "
           "default) or none\n"
           "-nodefaults      no default devices (pc-lite: no framebuffer "
           "unless -vga std)\n"
           "-display none, -nographic  accepted (ferry has no display "
           "window)\n"
           "-serial CHARDEV  serial port backend (none, null, stdio, "
           "file:PATH, unix:..., tcp:...)\n"
           "-device loader,file=FILE,addr=ADDR  load a raw image into RAM\n"
           "-device loader,addr=ADDR,data=V,data-len=N  store a value\n\n"
           "Migration:\n"
           "-incoming URI    wait for a migration stream: tcp:HOST:PORT, "
           "unix:PATH,\n"
           "                 fd:N, exec:CMD, file:PATH[,offset=N], or defer "
           "(then QMP\n"
           "                 migrate-incoming)\n"
           "-global migration.PROP=VALUE  stream properties "
           "(send-configuration,\n"
           "                 send-section-footer, store-global-state, "
           "send-switchover-start)\n\n"
           "Monitor and testing:\n"
           "-qmp CHARDEV     QMP monitor, e.g. unix:PATH,server=on,wait=off "
           "or tcp:HOST:PORT,server=on,wait=off\n"
           "-qmp-pretty CHARDEV  QMP monitor with pretty-printed JSON\n"
           "-chardev socket|file|stdio|null,id=ID,...\n"
           "-mon [chardev=]ID,mode=control[,pretty=on]\n"
           "-qtest CHARDEV   qtest protocol server\n"
           "-qtest-log FILE  log qtest traffic ('none' to disable)\n"
           "-pidfile FILE    write the process id to FILE\n\n"
           "Debugging:\n"
           "-trace [[enable=]PATTERN][,events=FILE][,file=FILE]\n"
           "                 enable trace events ('-trace help' lists "
           "them)\n"
           "-D FILE          write the log (trace output) to FILE\n"
           "-d trace:PATTERN same as -trace PATTERN\n"
           "-msg timestamp=on|off  prefix trace lines with thread id and "
           "time\n", FERRY_VERSION);
}

static const QEMUOption *lookup_opt(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(qemu_options); i++) {
        if (g_str_equal(qemu_options[i].name, name)) {
            return &qemu_options[i];
        }
    }
    return NULL;
}

/* ---- error locations ---------------------------------------------- */

/*
 * Errors name the option the way QEMU's error_report() does when a
 * location is set ("-opt arg: reason"), but the location is part of the
 * Error's message: the functions below return their errors to
 * qemu_init() (or to the fuzz target), which reports them with no
 * location set, so the printed line is the same.
 */
static char *opt_loc(const char *spelling, const char *arg)
{
    return arg ? g_strdup_printf("%s %s", spelling, arg) : g_strdup(spelling);
}

/* Fails with @err, prefixed by the location of option @co (if any). */
static bool opt_fail_err(const CmdlineOpt *co, Error *err, Error **errp)
{
    loc_clear();
    if (co) {
        g_autofree char *name = g_strdup_printf("-%s", co->opt->name);
        g_autofree char *loc = opt_loc(name, co->arg);

        error_prepend(&err, "%s: ", loc);
    }
    error_propagate(errp, err);
    return false;
}

static bool opt_fail(const CmdlineOpt *co, Error **errp, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static bool opt_fail(const CmdlineOpt *co, Error **errp, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    Error *err = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(&err, "%s", msg);
    return opt_fail_err(co, err, errp);
}

/*
 * An informational option (-help, -machine help...): prints its text,
 * unless only checking, and ends the start-up with status 0.
 */
static bool info_exit(void (*print)(void))
{
    if (!vl.check_only) {
        print();
        fflush(stdout);
    }
    vl.exit_now = true;
    return true;
}

static void print_version(void)
{
    printf("ferry version %s (QMP and migration compatible with "
           "QEMU %d.%d)\n", FERRY_VERSION, QMP_VERSION_MAJOR,
           QMP_VERSION_MINOR);
}

static void print_log_items(void)
{
    printf("Log items (comma separated):\n"
           "trace:PATTERN   enable trace events\n");
}

static void print_machines(void)
{
    machine_print_list(stdout);
}

static void print_accels(void)
{
    printf("Accelerators supported in ferry:\nqtest\nkvm\ntcg\n");
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_object_type(const UserCreatableType *t, void *opaque)
{
    g_ptr_array_add(opaque, (gpointer)t->name);
}

static void print_objects(void)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();

    user_creatable_foreach_type(print_object_type, names);
    g_ptr_array_sort(names, (GCompareFunc)cmp_str_ptr);
    printf("List of user creatable objects:\n");
    for (guint i = 0; i < names->len; i++) {
        printf("  %s\n", (const char *)names->pdata[i]);
    }
}

static void print_vga_types(void)
{
    printf("std                  standard VGA (default)\n"
           "none                 no graphic card\n");
}

static void print_devices(void)
{
    printf("Devices supported by ferry:\nname \"loader\"\n");
}

/* ---- the first pass ----------------------------------------------- */

/*
 * Options that take effect as soon as they are read.  @spelling is the
 * option as typed (messages quote it so).  When only checking, -trace and
 * -D are not looked at (they enable trace events, read and create files)
 * and -d, -msg are validated without being applied.
 */
static bool handle_early_option(const char *spelling, const QEMUOption *opt,
                                const char *arg, Error **errp)
{
    g_autofree char *loc = opt_loc(spelling, arg);
    Error *err = NULL;

    switch (opt->index) {
    case OPT_HELP:
        return info_exit(help);
    case OPT_VERSION:
        return info_exit(print_version);
    case OPT_TRACE:
        if (!vl.check_only && !trace_opt_parse(arg, &err)) {
            error_propagate_prepend(errp, err, "%s: ", loc);
            return false;
        }
        return true;
    case OPT_LOGFILE:
        if (!vl.check_only && !qemu_set_log_filename(arg, &err)) {
            error_propagate_prepend(errp, err, "%s: ", loc);
            return false;
        }
        return true;
    case OPT_LOGITEMS: {
        g_auto(GStrv) items = g_strsplit(arg, ",", -1);

        for (char **it = items; *it; it++) {
            if (g_str_has_prefix(*it, "trace:")) {
                if (!vl.check_only) {
                    trace_enable_events(*it + 6);
                }
            } else if (g_str_equal(*it, "help")) {
                return info_exit(print_log_items);
            } else {
                error_setg(errp, "%s: Invalid -d option \"%s\"", loc, *it);
                return false;
            }
        }
        return true;
    }
    case OPT_MSG: {
        g_autoptr(QemuOpts) o = qemu_opts_parse(arg, NULL, &err);
        bool ts = false;

        if (!o || !qemu_opt_get_bool(o, "timestamp", false, &ts, &err)) {
            error_propagate_prepend(errp, err, "%s: ", loc);
            return false;
        }
        qemu_opt_get(o, "guest-name");
        if (!qemu_opts_check_unused(o, "Invalid parameter '%s'", &err)) {
            error_propagate_prepend(errp, err, "%s: ", loc);
            return false;
        }
        if (!vl.check_only) {
            message_with_timestamp = ts;
        }
        return true;
    }
    default:
        return true;
    }
}

/*
 * First pass: every option is known and has its argument.  Stops early,
 * with vl.exit_now, after an informational option.
 */
static bool parse_cmdline(int argc, char **argv, Error **errp)
{
    vl.opts = g_array_new(false, true, sizeof(CmdlineOpt));
    for (int i = 1; i < argc; i++) {
        const char *spelling = argv[i];
        const char *name = argv[i];
        const QEMUOption *opt;
        CmdlineOpt co = { 0 };
        bool ok;

        if (name[0] != '-') {
            error_setg(errp, "%s: invalid option (ferry takes no disk image "
                       "arguments)", name);
            return false;
        }
        name++;
        if (name[0] == '-') {
            name++;     /* --option is the same as -option */
        }
        opt = lookup_opt(name);
        if (!opt) {
            error_setg(errp, "%s: invalid option", spelling);
            return false;
        }
        co.opt = opt;
        if (opt->has_arg) {
            if (i + 1 >= argc) {
                error_setg(errp, "%s: requires an argument", spelling);
                return false;
            }
            co.arg = argv[++i];
        }
        /* (Trace events warn about unknown names with the location.) */
        loc_set_cmdline(spelling, co.arg);
        ok = handle_early_option(spelling, opt, co.arg, errp);
        loc_clear();
        if (!ok) {
            return false;
        }
        g_array_append_val(vl.opts, co);
        if (vl.exit_now) {
            return true;
        }
    }
    return true;
}

/* ---- the second pass, step by step -------------------------------- */

/*
 * Each step handles some options, in QEMU's order, and returns false with
 * an Error on the first bad one; one that prints information sets
 * vl.exit_now and returns true.  When vl.check_only is set, a step
 * validates what it can without touching anything outside this process
 * (no chardev, socket, file, guest RAM, /dev/kvm...) and changes no
 * global but the migration properties that -global sets.
 */

/* Sets the error location to @co while the second pass handles it. */
static void loc_push(const CmdlineOpt *co)
{
    g_autofree char *name = g_strdup_printf("-%s", co->opt->name);

    loc_set_cmdline(name, co->arg);
}

#define FOREACH_OPT(co, idx)                                              \
    for (guint _i = 0; _i < vl.opts->len; _i++)                           \
        if (((co) = &g_array_index(vl.opts, CmdlineOpt, _i))->opt->index  \
            == (idx))

static QemuOpts *parse_opts(const CmdlineOpt *co, const char *implied,
                            Error **errp)
{
    Error *err = NULL;
    QemuOpts *o = qemu_opts_parse(co->arg, implied, &err);

    if (!o) {
        opt_fail_err(co, err, errp);
    }
    return o;
}

static bool check_unused(const CmdlineOpt *co, QemuOpts *o, Error **errp)
{
    Error *err = NULL;

    if (!qemu_opts_check_unused(o, "Invalid parameter '%s'", &err)) {
        return opt_fail_err(co, err, errp);
    }
    return true;
}

static bool configure_globals(Error **errp)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_GLOBAL) {
        const char *dot = strchr(co->arg, '.');
        const char *eq = strchr(co->arg, '=');
        g_autofree char *driver = NULL, *prop = NULL;

        if (!dot || !eq || eq < dot) {
            return opt_fail(co, errp, "Invalid -global option; expected "
                            "DRIVER.PROP=VALUE");
        }
        driver = g_strndup(co->arg, dot - co->arg);
        prop = g_strndup(dot + 1, eq - dot - 1);
        if (!g_str_equal(driver, "migration")) {
            return opt_fail(co, errp, "ferry has no device type '%s' to set "
                            "'%s' on", driver, prop);
        }
        if (!migrate_set_global_property(prop, eq + 1, &err)) {
            return opt_fail_err(co, err, errp);
        }
    }
    return true;
}

static bool configure_name(Error **errp)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_NAME) {
        g_autoptr(QemuOpts) o = parse_opts(co, "guest", errp);
        const char *name;
        bool dbg;

        if (!o) {
            return false;
        }
        name = qemu_opt_get(o, "guest");
        if (!qemu_opt_get_bool(o, "debug-threads", false, &dbg, &err)) {
            return opt_fail_err(co, err, errp);
        }
        qemu_opt_get(o, "process");
        if (!check_unused(co, o, errp)) {
            return false;
        }
        if (!vl.check_only) {
            g_free(qemu_name);
            qemu_name = g_strdup(name);
        }
    }
    return true;
}

static bool configure_uuid(Error **errp)
{
    CmdlineOpt *co;

    FOREACH_OPT(co, OPT_UUID) {
        uint8_t uuid[16];
        size_t j = 0;

        if (!g_uuid_string_is_valid(co->arg)) {
            return opt_fail(co, errp, "Fail to parse UUID string. Wrong "
                            "format.");
        }
        /* 8-4-4-4-12 hex digits: 16 pairs. */
        for (const char *p = co->arg; *p && j < sizeof(uuid); p++) {
            if (*p != '-') {
                int hi = g_ascii_xdigit_value(p[0]);
                int lo = g_ascii_xdigit_value(p[1]);

                uuid[j++] = (hi << 4) | lo;
                p++;
            }
        }
        if (!vl.check_only) {
            memcpy(qemu_uuid, uuid, sizeof(uuid));
            qemu_uuid_set = true;
        }
    }
    return true;
}

static bool configure_misc(Error **errp)
{
    CmdlineOpt *co;
    Error *err = NULL;
    unsigned nserial = 0;

    if (!configure_name(errp)) {
        return false;
    }
    FOREACH_OPT(co, OPT_DISPLAY) {
        g_autoptr(QemuOpts) o = parse_opts(co, "type", errp);
        const char *type;

        if (!o) {
            return false;
        }
        type = qemu_opt_get(o, "type");
        if (!type || !g_str_equal(type, "none")) {
            return opt_fail(co, errp, "Display '%s' is not available in "
                            "ferry (only 'none')", type ? type : "");
        }
    }
    if (!configure_uuid(errp)) {
        return false;
    }
    if (vl.check_only) {
        return true;        /* -serial opens a chardev, -pidfile a file */
    }
    FOREACH_OPT(co, OPT_SERIAL) {
        g_autofree char *label = g_strdup_printf("serial%u", nserial++);

        loc_push(co);
        if (!qemu_chr_new(label, co->arg, &err) && err) {
            return opt_fail_err(co, err, errp);
        }
        loc_clear();
    }
    FOREACH_OPT(co, OPT_PIDFILE) {
        vl.pidfile = co->arg;
    }
    if (vl.pidfile) {
        g_autofree char *pid = g_strdup_printf("%d\n", getpid());
        g_autoptr(GError) gerr = NULL;

        if (!g_file_set_contents(vl.pidfile, pid, -1, &gerr)) {
            return opt_fail(NULL, errp, "cannot create PID file: %s",
                            gerr->message);
        }
    }
    return true;
}

static bool create_chardevs(Error **errp)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_CHARDEV) {
        g_autoptr(QemuOpts) o = parse_opts(co, "backend", errp);
        Chardev *chr;

        if (!o) {
            return false;
        }
        if (vl.check_only) {
            continue;
        }
        loc_push(co);
        chr = qemu_chr_new_from_opts(o, &err);
        if (!chr || !qemu_chr_wait_connected(chr, &err)) {
            return opt_fail_err(co, err, errp);
        }
        loc_clear();
    }
    return true;
}

/* -mon [chardev=]ID,mode=control[,pretty=on]: its chardev (NULL: checking) */
static bool mon_opts(const CmdlineOpt *co, Chardev **chr, bool *pretty,
                     Error **errp)
{
    g_autoptr(QemuOpts) o = parse_opts(co, "chardev", errp);
    Error *err = NULL;
    const char *id, *mode;

    if (!o) {
        return false;
    }
    id = qemu_opt_get(o, "chardev");
    mode = qemu_opt_get(o, "mode");
    if (!qemu_opt_get_bool(o, "pretty", false, pretty, &err)) {
        return opt_fail_err(co, err, errp);
    }
    if (!id) {
        return opt_fail(co, errp, "chardev is required");
    }
    if (mode && !g_str_equal(mode, "control")) {
        return opt_fail(co, errp, "ferry has no human monitor: mode=%s is "
                        "not supported, use mode=control", mode);
    }
    qemu_opt_get(o, "id");
    if (!check_unused(co, o, errp)) {
        return false;
    }
    *chr = NULL;
    if (!vl.check_only) {
        *chr = qemu_chr_find(id);
        if (!*chr) {
            return opt_fail(co, errp, "chardev \"%s\" not found", id);
        }
    }
    return true;
}

static bool create_monitors(Error **errp)
{
    Error *err = NULL;
    unsigned n = 0;

    if (!vl.check_only) {
        monitor_init_globals();
    }
    for (guint i = 0; i < vl.opts->len; i++) {
        const CmdlineOpt *co = &g_array_index(vl.opts, CmdlineOpt, i);
        Chardev *chr = NULL;
        bool pretty = false;
        g_autofree char *label = NULL;

        if (co->opt->index == OPT_MON) {
            if (!mon_opts(co, &chr, &pretty, errp)) {
                return false;
            }
        } else if (co->opt->index == OPT_QMP ||
                   co->opt->index == OPT_QMP_PRETTY) {
            pretty = co->opt->index == OPT_QMP_PRETTY;
            label = g_strdup_printf("compat_monitor%u", n++);
            if (vl.check_only) {
                continue;
            }
            loc_push(co);
            chr = qemu_chr_new(label, co->arg, &err);
            if (!chr) {
                if (!err) {
                    loc_clear();
                    continue;       /* -qmp none */
                }
                return opt_fail_err(co, err, errp);
            }
            if (!qemu_chr_wait_connected(chr, &err)) {
                return opt_fail_err(co, err, errp);
            }
        } else {
            continue;
        }
        if (vl.check_only) {
            continue;
        }
        loc_push(co);
        if (!monitor_init_qmp(chr, pretty, &err)) {
            return opt_fail_err(co, err, errp);
        }
        loc_clear();
    }
    return true;
}

/*
 * -machine mem-merge=on|off, dump-guest-core=on|off, -smp and
 * -mem-prealloc: QEMU knows the machine before it creates memory
 * backends, whose merge, dump, prealloc-threads and prealloc default to
 * them; so they are read before the objects (the rest of -machine waits
 * for create_machine()).
 */
static bool parse_smp(unsigned *ncpus, Error **errp);

static bool configure_machine_memory(Error **errp)
{
    bool merge = true, dump = true, prealloc = false;
    unsigned cpus = 1;
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_MEM_PREALLOC) {
        prealloc = true;
    }
    FOREACH_OPT(co, OPT_MACHINE) {
        g_autoptr(QemuOpts) o = parse_opts(co, "type", errp);

        if (!o) {
            return false;
        }
        if (!qemu_opt_get_bool(o, "mem-merge", merge, &merge, &err) ||
            !qemu_opt_get_bool(o, "dump-guest-core", dump, &dump, &err)) {
            return opt_fail_err(co, err, errp);
        }
    }
    if (!parse_smp(&cpus, errp)) {
        return false;
    }
    if (!vl.check_only) {
        host_memory_backend_set_machine_opts(merge, dump, cpus, prealloc);
    }
    return true;
}

static bool create_objects(Error **errp)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_OBJECT) {
        g_autoptr(QemuOpts) o = parse_opts(co, "qom-type", errp);
        const char *type;

        if (!o) {
            return false;
        }
        type = qemu_opt_get(o, "qom-type");
        if (type && g_str_equal(type, "help")) {
            return info_exit(print_objects);
        }
        if (vl.check_only) {
            continue;       /* a backend allocates guest RAM, opens files */
        }
        loc_push(co);
        if (!user_creatable_add_opts(o, &err)) {
            return opt_fail_err(co, err, errp);
        }
        loc_clear();
    }
    return true;
}

static bool configure_drives(Error **errp)
{
    CmdlineOpt *co;
    Error *err = NULL;

    if (vl.check_only) {
        return true;        /* drive_add() opens the image */
    }
    FOREACH_OPT(co, OPT_DRIVE) {
        loc_push(co);
        if (!drive_add(co->arg, &err)) {
            return opt_fail_err(co, err, errp);
        }
        loc_clear();
    }
    return true;
}

/* Reports @err, prefixed by the location of option @co (if any). */
static void opt_report(const CmdlineOpt *co, Error *err)
{
    Error *local = NULL;

    opt_fail_err(co, err, &local);
    error_report_err(local);
}

/*
 * A failed accelerator: as QEMU, ferry says why and tries the next one.
 * The last failure is kept in *@last, to become the Error if none works;
 * the one it replaces is reported now.
 */
/* A failure that start-up goes on after: said, unless only checking. */
static void report_nonfatal(Error *err)
{
    if (vl.check_only) {
        error_free(err);
    } else {
        error_report_err(err);
    }
}

static void accel_failed(const CmdlineOpt *co, Error **last, Error *err)
{
    if (*last) {
        report_nonfatal(*last);
        *last = NULL;
    }
    opt_fail_err(co, err, last);
}

/*
 * -accel NAME: true if NAME works (in check mode: if kvm might).  *@vcpus
 * says an accelerator that runs vCPUs (kvm, tcg) was set up.
 */
static bool try_accel(const CmdlineOpt *co, const char *name, bool *vcpus,
                      Error **last)
{
    Error *err = NULL;

    if (name && g_str_equal(name, "qtest")) {
        return true;
    }
    if (name && g_str_equal(name, "tcg")) {
        if (vl.check_only) {
            return true;
        }
        if (!tcg_accel_ops_init(&err)) {
            accel_failed(co, last, err);
            return false;
        }
        *vcpus = true;
        return true;
    }
    if (!name || !g_str_equal(name, "kvm")) {
        error_setg(&err, "invalid accelerator %s", name ? name : "");
        accel_failed(co, last, err);
        return false;
    }
    if (vl.check_only) {
        return true;        /* (opens /dev/kvm) */
    }
    if (!kvm_accel_ops_init(&err)) {
        /* As QEMU: why, then "failed to initialize kvm". */
        accel_failed(co, last, err);
        err = NULL;
        error_setg(&err, "failed to initialize kvm");
        accel_failed(co, last, err);
        return false;
    }
    *vcpus = true;
    return true;
}

/*
 * -machine accel=kvm is the older spelling of -accel kvm; as in QEMU,
 * accel=kvm:tcg is a fallback chain.
 */
static bool machine_accel(bool *any, bool *vcpus, Error **errp)
{
    CmdlineOpt *co;
    Error *last = NULL;

    FOREACH_OPT(co, OPT_MACHINE) {
        g_autoptr(QemuOpts) o = qemu_opts_parse(co->arg, "type", errp);
        const char *a;

        if (!o) {
            /* (Unlike everywhere else, not located: as it always was.) */
            return false;
        }
        a = qemu_opt_get(o, "accel");
        if (a && (strstr(a, "kvm") || strstr(a, "tcg"))) {
            g_auto(GStrv) names = g_strsplit(a, ":", -1);
            bool ok = false;

            *any = true;
            for (int i = 0; names[i] && !ok; i++) {
                ok = try_accel(co, names[i], vcpus, &last);
            }
            if (!ok) {
                error_propagate(errp, last);
                return false;
            }
            if (last) {
                report_nonfatal(last);
                last = NULL;
            }
        }
    }
    return true;
}

static bool configure_accelerator(Error **errp)
{
    CmdlineOpt *co;
    Error *last = NULL;
    bool any = false, ok = false, vcpus = false;

    FOREACH_OPT(co, OPT_ACCEL) {
        g_autoptr(QemuOpts) o = NULL;
        const char *name;

        any = true;
        if (ok) {
            continue;       /* the first accelerator that works wins */
        }
        o = parse_opts(co, "accel", errp);
        if (!o) {
            error_free(last);
            return false;
        }
        name = qemu_opt_get(o, "accel");
        if (name && g_str_equal(name, "help")) {
            error_free(last);
            return info_exit(print_accels);
        }
        ok = try_accel(co, name, &vcpus, &last);
    }
    if (ok && last) {
        report_nonfatal(last);      /* tried before the one that works */
        last = NULL;
    }
    if (any && !ok) {
        error_propagate(errp, last);
        return false;
    }
    if (!any && !machine_accel(&any, &vcpus, errp)) {
        return false;
    }
    if (!vcpus && !vl.check_only) {
        qtest_accel_init();
    }
    if (vcpus && !vl.check_only) {
        qemu_ram_set_dontfork();
    }
    return true;
}

static bool parse_ram_size(const CmdlineOpt *co, uint64_t *size,
                           Error **errp)
{
    g_autoptr(QemuOpts) o = parse_opts(co, "size", errp);
    const char *s;
    uint64_t sz = 0;

    if (!o) {
        return false;
    }
    s = qemu_opt_get(o, "size");
    if (qemu_opt_has(o, "slots") || qemu_opt_has(o, "maxmem")) {
        return opt_fail(co, errp, "memory hotplug (slots, maxmem) is not "
                        "supported");
    }
    if (!check_unused(co, o, errp)) {
        return false;
    }
    if (!s) {
        return opt_fail(co, errp, "missing 'size' option value");
    }
    if (qemu_strtosz_MiB(s, NULL, &sz) < 0) {
        return opt_fail(co, errp, "Parameter 'size' expects a non-negative "
                        "number below 2^64");
    }
    /* QEMU rounds RAM to 8 KiB (and refuses what then wraps). */
    if (sz > UINT64_MAX - 8191) {
        return opt_fail(co, errp, "ram size too large");
    }
    *size = QEMU_ALIGN_UP(sz, 8192);
    return true;
}

/* -smp [cpus=]N[,maxcpus=M][,sockets=,dies=,cores=,threads=]: N vCPUs. */
static bool parse_smp(unsigned *ncpus, Error **errp)
{
    static const char *const topo[] = {
        "maxcpus", "sockets", "dies", "clusters", "cores", "threads",
    };
    uint64_t cpus = 1;
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_SMP) {
        g_autoptr(QemuOpts) o = parse_opts(co, "cpus", errp);
        uint64_t v;

        if (!o) {
            return false;
        }
        if (!qemu_opt_get_number(o, "cpus", 1, &cpus, &err)) {
            return opt_fail_err(co, err, errp);
        }
        for (size_t k = 0; k < G_N_ELEMENTS(topo); k++) {
            if (!qemu_opt_get_number(o, topo[k], 1, &v, &err)) {
                return opt_fail_err(co, err, errp);
            }
        }
        if (!check_unused(co, o, errp)) {
            return false;
        }
        if (cpus == 0 || cpus > 255) {
            return opt_fail(co, errp, "Invalid SMP CPUs %" PRIu64, cpus);
        }
    }
    *ncpus = cpus;
    return true;
}

/* One -machine: its type (if given) and memory backend (if given). */
static bool machine_opts(const CmdlineOpt *co, char **type, char **memdev,
                         char **dumpdtb, Error **errp)
{
    g_autoptr(QemuOpts) o = parse_opts(co, "type", errp);
    const char *t, *m, *accel, *dtb;

    if (!o) {
        return false;
    }
    t = qemu_opt_get(o, "type");
    if (t && g_str_equal(t, "help")) {
        return info_exit(print_machines);
    }
    if (t) {
        g_free(*type);
        *type = g_strdup(t);
    }
    m = qemu_opt_get(o, "memory-backend");
    if (m) {
        g_free(*memdev);
        *memdev = g_strdup(m);
    }
    accel = qemu_opt_get(o, "accel");
    if (accel) {
        /* A fallback chain (kvm:tcg) needs one name ferry knows. */
        g_auto(GStrv) names = g_strsplit(accel, ":", -1);
        const char *bad = NULL;
        bool known = false;

        for (int i = 0; names[i]; i++) {
            if (g_str_equal(names[i], "qtest") ||
                g_str_equal(names[i], "kvm") ||
                g_str_equal(names[i], "tcg")) {
                known = true;
            } else if (!bad) {
                bad = names[i];
            }
        }
        if (!known) {
            return opt_fail(co, errp, "invalid accelerator %s",
                            bad ? bad : accel);
        }
    }
    /* (Read by configure_machine_memory().) */
    qemu_opt_get(o, "dump-guest-core");
    qemu_opt_get(o, "mem-merge");
    dtb = qemu_opt_get(o, "dumpdtb");
    if (dtb) {
        g_free(*dumpdtb);
        *dumpdtb = g_strdup(dtb);
    }
    for (guint k = 0; k < o->opts->len; k++) {
        QemuOpt *q = o->opts->pdata[k];

        if (!q->used) {
            return opt_fail(co, errp, "Property '%s-machine.%s' not found",
                            *type, q->name);
        }
    }
    if (!machine_find_class(*type)) {
        return opt_fail(co, errp, "unsupported machine type '%s' (-machine "
                        "help lists the supported ones)", *type);
    }
    return true;
}

/*
 * The default VGA, as QEMU decides it: on unless -nodefaults; -vga std or
 * none (the last one wins) says so explicitly.
 */
static bool parse_vga(bool *vga_std, Error **errp)
{
    CmdlineOpt *co;

    *vga_std = true;
    FOREACH_OPT(co, OPT_NODEFAULTS) {
        *vga_std = false;
    }
    FOREACH_OPT(co, OPT_VGA) {
        if (g_str_equal(co->arg, "help")) {
            return info_exit(print_vga_types);
        }
        if (g_str_equal(co->arg, "std")) {
            *vga_std = true;
        } else if (g_str_equal(co->arg, "none")) {
            *vga_std = false;
        } else {
            return opt_fail(co, errp, "unknown vga type: %s", co->arg);
        }
    }
    return true;
}

static bool create_machine(Error **errp)
{
    g_autofree char *type = g_strdup("none");
    g_autofree char *memdev = NULL;
    g_autofree char *dumpdtb = NULL;
    bool ram_set = false, prealloc = false, vga_std;
    uint64_t ram_size = 0;
    unsigned cpus = 1;
    const char *mem_path = NULL;
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_MACHINE) {
        if (!machine_opts(co, &type, &memdev, &dumpdtb, errp)) {
            return false;
        }
        if (vl.exit_now) {
            return true;
        }
    }
    FOREACH_OPT(co, OPT_MEMORY) {
        if (!parse_ram_size(co, &ram_size, errp)) {
            return false;
        }
        ram_set = true;
    }
    FOREACH_OPT(co, OPT_MEM_PATH) {
        mem_path = co->arg;
    }
    FOREACH_OPT(co, OPT_MEM_PREALLOC) {
        prealloc = true;
    }
    if (!parse_smp(&cpus, errp)) {
        return false;
    }
    if (!parse_vga(&vga_std, errp)) {
        return false;
    }
    if (vl.exit_now) {
        return true;        /* -vga help */
    }
    if (vl.check_only) {
        return true;        /* the board allocates guest RAM */
    }
    vl.machine = machine_new(machine_find_class(type));
    vl.machine->smp_cpus = cpus;
    if (ram_set) {
        vl.machine->ram_size = ram_size;
        vl.machine->ram_size_set = true;
    }
    vl.machine->ram_memdev_id = g_steal_pointer(&memdev);
    vl.machine->mem_path = g_strdup(mem_path);
    vl.machine->mem_prealloc = prealloc;
    vl.machine->vga_std = vga_std;
    vl.machine->dumpdtb = g_steal_pointer(&dumpdtb);
    if (!machine_run_board_init(vl.machine, &err)) {
        return opt_fail_err(NULL, err, errp);
    }
    /* -machine dumpdtb=FILE: write the tree and exit 0, as QEMU does. */
    if (machine_dumpdtb(vl.machine, &err)) {
        vl.exit_now = true;
    } else if (err) {
        return opt_fail_err(NULL, err, errp);
    }
    return true;
}

static bool configure_devices(Error **errp)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_DEVICE) {
        g_autoptr(QemuOpts) o = parse_opts(co, "driver", errp);
        const char *driver;

        if (!o) {
            return false;
        }
        driver = qemu_opt_get(o, "driver");
        if (driver && g_str_equal(driver, "help")) {
            return info_exit(print_devices);
        }
        if (!driver || !g_str_equal(driver, "loader")) {
            return opt_fail(co, errp, "'%s' is not a valid device model name",
                            driver ? driver : "");
        }
        if (vl.check_only) {
            continue;       /* a loader reads a file into guest RAM */
        }
        loc_push(co);
        if (!generic_loader_create(o, &err)) {
            return opt_fail_err(co, err, errp);
        }
        loc_clear();
    }
    if (!vl.check_only && !generic_loader_reset(&err)) {
        return opt_fail_err(NULL, err, errp);
    }
    return true;
}

static bool configure_qtest(Error **errp)
{
    CmdlineOpt *co;
    const char *spec = NULL, *log = NULL;
    const CmdlineOpt *spec_opt = NULL;
    Error *err = NULL;
    Chardev *chr;

    FOREACH_OPT(co, OPT_QTEST) {
        spec = co->arg;
        spec_opt = co;
    }
    FOREACH_OPT(co, OPT_QTEST_LOG) {
        log = co->arg;
    }
    if (!spec || vl.check_only) {
        return true;        /* (a log file, a chardev) */
    }
    if (log && !g_str_equal(log, "none")) {
        vl.qtest_log = g_str_equal(log, "/dev/fd/2") ? stderr
                                                      : fopen(log, "w");
        if (!vl.qtest_log) {
            return opt_fail(spec_opt, errp, "cannot open qtest log %s: %s",
                            log, strerror(errno));
        }
    }
    loc_push(spec_opt);
    chr = qemu_chr_new("qtest", spec, &err);
    if (!chr) {
        if (err) {
            /* As QEMU: why, then which device. */
            opt_report(spec_opt, err);
            return opt_fail(spec_opt, errp, "Failed to initialize device for "
                            "qtest: \"%s\"", spec);
        }
        loc_clear();
        return true;
    }
    if (!qemu_chr_wait_connected(chr, &err)) {
        return opt_fail_err(spec_opt, err, errp);
    }
    vl.qtest = qtest_server_init(chr, vl.qtest_log, &err);
    if (!vl.qtest) {
        return opt_fail_err(spec_opt, err, errp);
    }
    loc_clear();
    return true;
}

static bool configure_autostart(Error **errp)
{
    CmdlineOpt *co;

    if (!vl.check_only) {
        autostart = true;
        FOREACH_OPT(co, OPT_S) {
            autostart = false;
        }
    }
    return true;
}

static bool configure_incoming(Error **errp)
{
    CmdlineOpt *co;
    const CmdlineOpt *last = NULL;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_INCOMING) {
        last = co;
    }
    if (!last || vl.check_only) {
        return true;        /* (listens on a socket, opens a file) */
    }
    loc_push(last);
    if (!migration_incoming_setup(last->arg, &err)) {
        return opt_fail_err(last, err, errp);
    }
    loc_clear();
    return true;
}

/* The second pass, in QEMU's order (see the design note). */
static bool (*const configure_steps[])(Error **errp) = {
    configure_globals,
    configure_misc,
    create_chardevs,
    create_monitors,
    configure_machine_memory,
    create_objects,
    configure_drives,
    configure_accelerator,
    create_machine,
    configure_devices,
    configure_qtest,
    configure_autostart,
    configure_incoming,
};

static bool configure(Error **errp)
{
    for (size_t i = 0; i < G_N_ELEMENTS(configure_steps); i++) {
        if (!configure_steps[i](errp)) {
            return false;
        }
        if (vl.exit_now) {
            return true;
        }
    }
    return true;
}

/* ---- entry points ------------------------------------------------- */

void qemu_cmdline_reset(void)
{
    if (vl.opts) {
        g_array_free(vl.opts, true);
        vl.opts = NULL;
    }
    vl.check_only = false;
    vl.exit_now = false;
    loc_clear();
}

bool qemu_cmdline_check(int argc, char **argv, bool *exit_now, Error **errp)
{
    bool ok;

    qemu_cmdline_reset();
    vl.check_only = true;
    ok = parse_cmdline(argc, argv, errp) && (vl.exit_now || configure(errp));
    *exit_now = ok && vl.exit_now;
    return ok;
}

/* The end of a start-up phase: exit 1 on @err, 0 after -help and such. */
static void phase_done(bool ok, Error *err)
{
    if (!ok) {
        loc_clear();
        error_report_err(err);
        exit(1);
    }
    if (vl.exit_now) {
        exit(0);
    }
}

void qemu_init(int argc, char **argv)
{
    Error *err = NULL;
    bool ok;

    error_set_progname(argv[0]);
    qemu_init_host_page();
    signal(SIGPIPE, SIG_IGN);
    ok = parse_cmdline(argc, argv, &err);
    phase_done(ok, err);

    qemu_main_loop_init();
    qemu_system_shutdown_setup();
    machine_register_builtin();
    qmp_register_builtin_commands();
    qmp_register_ui_commands();
    host_memory_backend_register_types();
    qcrypto_tls_creds_register_types();
    qauthz_register_types();
    qmp_register_object_commands();
    /* Section order on the wire: timer, ram, globalstate (as QEMU). */
    cpu_timers_init();
    migration_init();

    ok = configure(&err);
    phase_done(ok, err);
    if (autostart && !runstate_check(RUN_STATE_INMIGRATE)) {
        vm_start();
    }
}

int qemu_cleanup(void)
{
    int status = qemu_system_exit_status();

    migration_shutdown();
    vm_shutdown();
    cpus_destroy_vcpus();
    monitor_cleanup();
    qtest_server_fini(vl.qtest);
    qemu_chr_cleanup_all();
    machine_free(vl.machine);
    user_creatable_cleanup();
    host_memory_backend_free_all();
    drive_cleanup_all();
    if (vl.pidfile) {
        unlink(vl.pidfile);
    }
    qemu_cmdline_reset();
    qemu_log_close();
    return status;
}
