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
 */
#include "qemu/osdep.h"
#include "sysemu/vl.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "sysemu/qtest.h"
#include "sysemu/hostmem.h"
#include "sysemu/cpus.h"
#include "sysemu/kvm.h"
#include "sysemu/blockdev.h"
#include "hw/boards.h"
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
};

/* What the first pass collected; main thread only. */
typedef struct CmdlineOpt {
    const QEMUOption *opt;
    char *arg;
} CmdlineOpt;

typedef struct VLState {
    GArray *opts;               /* CmdlineOpt, in command-line order */
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
           "-machine [type=]name[,memory-backend=id]\n"
           "                 selects emulated machine ('-machine help' "
           "for a list)\n"
           "-m [size=]megs   guest RAM size (suffixes k, M, G, T)\n"
           "-object memory-backend-{ram,memfd,file},id=ID,size=SIZE"
           "[,share=on|off][,mem-path=PATH][,prealloc=on|off]\n"
           "-mem-path FILE   back the default RAM with FILE (hugetlbfs "
           "allowed)\n"
           "-mem-prealloc    preallocate the default RAM\n"
           "-accel qtest|kvm accelerator (qtest: no vCPUs, the default; "
           "kvm: run the\n"
           "                 guest's vCPUs under /dev/kvm)\n"
           "-smp [cpus=]N    number of vCPUs (pc-lite: 1)\n"
           "-drive file=IMG,format=raw[,if=ide|none][,index=N]  a raw disk "
           "image\n"
           "                 (pc-lite boots the first sector of index 0)\n"
           "-S               freeze the VM at start-up (use 'cont' in QMP)\n"
           "-name [guest=]NAME  the VM name shown by query-name\n"
           "-uuid UUID       the VM UUID\n"
           "-nodefaults, -display none, -nographic  accepted (ferry has "
           "no display)\n"
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

/* Options that take effect as soon as they are read. */
static void handle_early_option(const QEMUOption *opt, const char *arg)
{
    Error *err = NULL;

    switch (opt->index) {
    case OPT_HELP:
        help();
        exit(0);
    case OPT_VERSION:
        printf("ferry version %s (QMP and migration compatible with "
               "QEMU %d.%d)\n", FERRY_VERSION, QMP_VERSION_MAJOR,
               QMP_VERSION_MINOR);
        exit(0);
    case OPT_TRACE:
        if (!trace_opt_parse(arg, &err)) {
            error_report_err(err);
            exit(1);
        }
        break;
    case OPT_LOGFILE:
        if (!qemu_set_log_filename(arg, &err)) {
            error_report_err(err);
            exit(1);
        }
        break;
    case OPT_LOGITEMS: {
        g_auto(GStrv) items = g_strsplit(arg, ",", -1);

        for (char **it = items; *it; it++) {
            if (g_str_has_prefix(*it, "trace:")) {
                trace_enable_events(*it + 6);
            } else if (g_str_equal(*it, "help")) {
                printf("Log items (comma separated):\n"
                       "trace:PATTERN   enable trace events\n");
                exit(0);
            } else {
                error_report("Invalid -d option \"%s\"", *it);
                exit(1);
            }
        }
        break;
    }
    case OPT_MSG: {
        g_autoptr(QemuOpts) o = qemu_opts_parse(arg, NULL, &err);
        bool ts = false;

        if (!o || !qemu_opt_get_bool(o, "timestamp", false, &ts, &err) ||
            !qemu_opts_check_unused(o, "Invalid parameter '%s'", &err)) {
            error_report_err(err);
            exit(1);
        }
        qemu_opt_get(o, "guest-name");
        message_with_timestamp = ts;
        break;
    }
    default:
        break;
    }
}

/* First pass: every option is known and has its argument. */
static void parse_cmdline(int argc, char **argv)
{
    vl.opts = g_array_new(false, true, sizeof(CmdlineOpt));
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        const QEMUOption *opt;
        CmdlineOpt co = { 0 };

        if (name[0] != '-') {
            error_report("%s: invalid option (ferry takes no disk image "
                         "arguments)", name);
            exit(1);
        }
        name++;
        if (name[0] == '-') {
            name++;     /* --option is the same as -option */
        }
        opt = lookup_opt(name);
        if (!opt) {
            error_report("%s: invalid option", argv[i]);
            exit(1);
        }
        co.opt = opt;
        if (opt->has_arg) {
            if (i + 1 >= argc) {
                error_report("%s: requires an argument", argv[i]);
                exit(1);
            }
            co.arg = argv[++i];
        }
        loc_set_cmdline(argv[i - (opt->has_arg ? 1 : 0)], co.arg);
        handle_early_option(opt, co.arg);
        loc_clear();
        g_array_append_val(vl.opts, co);
    }
}

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

static void die_with(Error *err) QEMU_NORETURN;
static void die_with(Error *err)
{
    error_report_err(err);
    exit(1);
}

static QemuOpts *parse_opts_or_die(const char *arg, const char *implied)
{
    Error *err = NULL;
    QemuOpts *o = qemu_opts_parse(arg, implied, &err);

    if (!o) {
        die_with(err);
    }
    return o;
}

static void create_chardevs(void)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_CHARDEV) {
        g_autoptr(QemuOpts) o = NULL;
        Chardev *chr;

        loc_push(co);
        o = parse_opts_or_die(co->arg, "backend");
        chr = qemu_chr_new_from_opts(o, &err);
        if (!chr || !qemu_chr_wait_connected(chr, &err)) {
            die_with(err);
        }
        loc_clear();
    }
}

static void create_monitors(void)
{
    CmdlineOpt *co;
    Error *err = NULL;
    unsigned n = 0;

    monitor_init_globals();
    for (guint i = 0; i < vl.opts->len; i++) {
        Chardev *chr = NULL;
        bool pretty = false;
        g_autofree char *label = NULL;

        co = &g_array_index(vl.opts, CmdlineOpt, i);
        if (co->opt->index != OPT_QMP && co->opt->index != OPT_QMP_PRETTY &&
            co->opt->index != OPT_MON) {
            continue;
        }
        loc_push(co);
        if (co->opt->index == OPT_MON) {
            g_autoptr(QemuOpts) o = parse_opts_or_die(co->arg, "chardev");
            const char *id = qemu_opt_get(o, "chardev");
            const char *mode = qemu_opt_get(o, "mode");

            if (!qemu_opt_get_bool(o, "pretty", false, &pretty, &err)) {
                die_with(err);
            }
            if (!id) {
                error_report("chardev is required");
                exit(1);
            }
            if (mode && !g_str_equal(mode, "control")) {
                error_report("ferry has no human monitor: mode=%s is not "
                             "supported, use mode=control", mode);
                exit(1);
            }
            qemu_opt_get(o, "id");
            if (!qemu_opts_check_unused(o, "Invalid parameter '%s'", &err)) {
                die_with(err);
            }
            chr = qemu_chr_find(id);
            if (!chr) {
                error_report("chardev \"%s\" not found", id);
                exit(1);
            }
        } else {
            pretty = co->opt->index == OPT_QMP_PRETTY;
            label = g_strdup_printf("compat_monitor%u", n++);
            chr = qemu_chr_new(label, co->arg, &err);
            if (!chr) {
                if (!err) {
                    loc_clear();
                    continue;       /* -qmp none */
                }
                die_with(err);
            }
            if (!qemu_chr_wait_connected(chr, &err)) {
                die_with(err);
            }
        }
        if (!monitor_init_qmp(chr, pretty, &err)) {
            die_with(err);
        }
        loc_clear();
    }
}

static void create_objects(void)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_OBJECT) {
        g_autoptr(QemuOpts) o = NULL;
        const char *type;

        loc_push(co);
        o = parse_opts_or_die(co->arg, "qom-type");
        type = qemu_opt_get(o, "qom-type");
        if (type && g_str_equal(type, "help")) {
            printf("List of user creatable objects:\n"
                   "  memory-backend-file\n  memory-backend-memfd\n"
                   "  memory-backend-ram\n");
            exit(0);
        }
        if (!host_memory_backend_create(o, &err)) {
            die_with(err);
        }
        loc_clear();
    }
}

static uint64_t parse_ram_size(const char *arg, bool *set)
{
    g_autoptr(QemuOpts) o = parse_opts_or_die(arg, "size");
    const char *s = qemu_opt_get(o, "size");
    Error *err = NULL;
    uint64_t sz = 0;

    if (qemu_opt_has(o, "slots") || qemu_opt_has(o, "maxmem")) {
        error_report("memory hotplug (slots, maxmem) is not supported");
        exit(1);
    }
    if (!qemu_opts_check_unused(o, "Invalid parameter '%s'", &err)) {
        die_with(err);
    }
    if (!s) {
        error_report("missing 'size' option value");
        exit(1);
    }
    if (qemu_strtosz_MiB(s, NULL, &sz) < 0) {
        error_report("Parameter 'size' expects a non-negative number "
                     "below 2^64");
        exit(1);
    }
    /* QEMU rounds RAM to 8 KiB. */
    sz = QEMU_ALIGN_UP(sz, 8192);
    *set = true;
    return sz;
}

/* -smp [cpus=]N[,maxcpus=M][,sockets=,dies=,cores=,threads=]: N vCPUs. */
static unsigned parse_smp(void)
{
    static const char *const topo[] = {
        "maxcpus", "sockets", "dies", "clusters", "cores", "threads",
    };
    uint64_t cpus = 1;
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_SMP) {
        g_autoptr(QemuOpts) o = NULL;
        uint64_t v;

        loc_push(co);
        o = parse_opts_or_die(co->arg, "cpus");
        if (!qemu_opt_get_number(o, "cpus", 1, &cpus, &err)) {
            die_with(err);
        }
        for (size_t k = 0; k < G_N_ELEMENTS(topo); k++) {
            if (!qemu_opt_get_number(o, topo[k], 1, &v, &err)) {
                die_with(err);
            }
        }
        if (!qemu_opts_check_unused(o, "Invalid parameter '%s'", &err)) {
            die_with(err);
        }
        if (cpus == 0 || cpus > 255) {
            error_report("Invalid SMP CPUs %" PRIu64, cpus);
            exit(1);
        }
        loc_clear();
    }
    return cpus;
}

static void configure_drives(void)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_DRIVE) {
        loc_push(co);
        if (!drive_add(co->arg, &err)) {
            die_with(err);
        }
        loc_clear();
    }
}

static void create_machine(void)
{
    g_autofree char *type = g_strdup("none");
    g_autofree char *memdev = NULL;
    bool ram_set = false, prealloc = false;
    uint64_t ram_size = 0;
    const char *mem_path = NULL;
    const MachineClass *mc;
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_MACHINE) {
        g_autoptr(QemuOpts) o = NULL;
        const char *t, *m, *accel;

        loc_push(co);
        o = parse_opts_or_die(co->arg, "type");
        t = qemu_opt_get(o, "type");
        if (t && g_str_equal(t, "help")) {
            machine_print_list(stdout);
            exit(0);
        }
        if (t) {
            g_free(type);
            type = g_strdup(t);
        }
        m = qemu_opt_get(o, "memory-backend");
        if (m) {
            g_free(memdev);
            memdev = g_strdup(m);
        }
        accel = qemu_opt_get(o, "accel");
        if (accel && !g_str_equal(accel, "qtest") &&
            !g_str_equal(accel, "kvm")) {
            error_report("invalid accelerator %s", accel);
            exit(1);
        }
        qemu_opt_get(o, "dump-guest-core");
        for (guint k = 0; k < o->opts->len; k++) {
            QemuOpt *q = o->opts->pdata[k];

            if (!q->used) {
                error_report("Property '%s-machine.%s' not found",
                             type, q->name);
                exit(1);
            }
        }
        if (!machine_find_class(type)) {
            error_report("unsupported machine type '%s' (-machine help "
                         "lists the supported ones)", type);
            exit(1);
        }
        loc_clear();
    }
    FOREACH_OPT(co, OPT_MEMORY) {
        loc_push(co);
        ram_size = parse_ram_size(co->arg, &ram_set);
        loc_clear();
    }
    FOREACH_OPT(co, OPT_MEM_PATH) {
        mem_path = co->arg;
    }
    FOREACH_OPT(co, OPT_MEM_PREALLOC) {
        prealloc = true;
    }

    mc = machine_find_class(type);
    vl.machine = machine_new(mc);
    vl.machine->smp_cpus = parse_smp();
    if (ram_set) {
        vl.machine->ram_size = ram_size;
        vl.machine->ram_size_set = true;
    }
    vl.machine->ram_memdev_id = g_steal_pointer(&memdev);
    vl.machine->mem_path = g_strdup(mem_path);
    vl.machine->mem_prealloc = prealloc;
    if (!machine_run_board_init(vl.machine, &err)) {
        die_with(err);
    }
}

static void configure_accelerator(void)
{
    CmdlineOpt *co;
    bool any = false, ok = false, kvm = false;

    FOREACH_OPT(co, OPT_ACCEL) {
        g_autoptr(QemuOpts) o = NULL;
        const char *name;

        any = true;
        if (ok) {
            continue;       /* the first accelerator that works wins */
        }
        loc_push(co);
        o = parse_opts_or_die(co->arg, "accel");
        name = qemu_opt_get(o, "accel");
        if (name && g_str_equal(name, "help")) {
            printf("Accelerators supported in ferry:\nqtest\nkvm\n");
            exit(0);
        }
        if (name && g_str_equal(name, "qtest")) {
            ok = true;
        } else if (name && g_str_equal(name, "kvm")) {
            Error *err = NULL;

            if (kvm_accel_ops_init(&err)) {
                kvm = true;
                ok = true;
            } else {
                /* As QEMU: say why, then try the next -accel. */
                error_report_err(err);
                error_report("failed to initialize kvm");
            }
        } else {
            /* Like QEMU: report, and try the next -accel. */
            error_report("invalid accelerator %s", name ? name : "");
        }
        loc_clear();
    }
    if (!any) {
        /* -machine accel=NAME is the older spelling of -accel NAME. */
        FOREACH_OPT(co, OPT_MACHINE) {
            g_autoptr(QemuOpts) o = parse_opts_or_die(co->arg, "type");
            const char *a = qemu_opt_get(o, "accel");

            if (a && g_str_equal(a, "kvm")) {
                Error *err = NULL;

                any = true;
                loc_push(co);
                if (!kvm_accel_ops_init(&err)) {
                    error_report_err(err);
                    error_report("failed to initialize kvm");
                    exit(1);
                }
                loc_clear();
                kvm = ok = true;
            }
        }
    }
    if (any && !ok) {
        exit(1);
    }
    if (!kvm) {
        qtest_accel_init();
    }
}

static void configure_qtest(void)
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
    if (!spec) {
        return;
    }
    loc_push(spec_opt);
    if (log && !g_str_equal(log, "none")) {
        vl.qtest_log = g_str_equal(log, "/dev/fd/2") ? stderr
                                                      : fopen(log, "w");
        if (!vl.qtest_log) {
            error_report("cannot open qtest log %s: %s", log,
                         strerror(errno));
            exit(1);
        }
    }
    chr = qemu_chr_new("qtest", spec, &err);
    if (!chr) {
        if (err) {
            error_report_err(err);
            error_report("Failed to initialize device for qtest: \"%s\"",
                         spec);
            exit(1);
        }
        loc_clear();
        return;
    }
    if (!qemu_chr_wait_connected(chr, &err)) {
        die_with(err);
    }
    vl.qtest = qtest_server_init(chr, vl.qtest_log, &err);
    if (!vl.qtest) {
        die_with(err);
    }
    loc_clear();
}

static void configure_misc(void)
{
    CmdlineOpt *co;
    Error *err = NULL;
    unsigned nserial = 0;

    FOREACH_OPT(co, OPT_NAME) {
        g_autoptr(QemuOpts) o = NULL;
        const char *name;
        bool dbg;

        loc_push(co);
        o = parse_opts_or_die(co->arg, "guest");
        name = qemu_opt_get(o, "guest");
        if (!qemu_opt_get_bool(o, "debug-threads", false, &dbg, &err)) {
            die_with(err);
        }
        qemu_opt_get(o, "process");
        if (!qemu_opts_check_unused(o, "Invalid parameter '%s'", &err)) {
            die_with(err);
        }
        g_free(qemu_name);
        qemu_name = g_strdup(name);
        loc_clear();
    }
    FOREACH_OPT(co, OPT_DISPLAY) {
        g_autoptr(QemuOpts) o = NULL;
        const char *type;

        loc_push(co);
        o = parse_opts_or_die(co->arg, "type");
        type = qemu_opt_get(o, "type");
        if (!type || !g_str_equal(type, "none")) {
            error_report("Display '%s' is not available in ferry (only "
                         "'none')", type ? type : "");
            exit(1);
        }
        loc_clear();
    }
    FOREACH_OPT(co, OPT_UUID) {
        size_t j = 0;

        loc_push(co);
        if (!g_uuid_string_is_valid(co->arg)) {
            error_report("Fail to parse UUID string. Wrong format.");
            exit(1);
        }
        for (const char *p = co->arg; *p; p++) {
            if (*p != '-') {
                int hi = g_ascii_xdigit_value(p[0]);
                int lo = g_ascii_xdigit_value(p[1]);

                qemu_uuid[j++] = (hi << 4) | lo;
                p++;
            }
        }
        qemu_uuid_set = true;
        loc_clear();
    }
    FOREACH_OPT(co, OPT_SERIAL) {
        g_autofree char *label = g_strdup_printf("serial%u", nserial++);

        loc_push(co);
        if (!qemu_chr_new(label, co->arg, &err) && err) {
            die_with(err);
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
            error_report("cannot create PID file: %s", gerr->message);
            exit(1);
        }
    }
}

static void configure_globals(void)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_GLOBAL) {
        const char *dot = strchr(co->arg, '.');
        const char *eq = strchr(co->arg, '=');
        g_autofree char *driver = NULL, *prop = NULL;

        loc_push(co);
        if (!dot || !eq || eq < dot) {
            error_report("Invalid -global option; expected DRIVER.PROP=VALUE");
            exit(1);
        }
        driver = g_strndup(co->arg, dot - co->arg);
        prop = g_strndup(dot + 1, eq - dot - 1);
        if (!g_str_equal(driver, "migration")) {
            error_report("ferry has no device type '%s' to set '%s' on",
                         driver, prop);
            exit(1);
        }
        if (!migrate_set_global_property(prop, eq + 1, &err)) {
            die_with(err);
        }
        loc_clear();
    }
}

static void configure_devices(void)
{
    CmdlineOpt *co;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_DEVICE) {
        g_autoptr(QemuOpts) o = NULL;
        const char *driver;

        loc_push(co);
        o = parse_opts_or_die(co->arg, "driver");
        driver = qemu_opt_get(o, "driver");
        if (driver && g_str_equal(driver, "help")) {
            printf("Devices supported by ferry:\nname \"loader\"\n");
            exit(0);
        }
        if (!driver || !g_str_equal(driver, "loader")) {
            error_report("'%s' is not a valid device model name",
                         driver ? driver : "");
            exit(1);
        }
        if (!generic_loader_create(o, &err)) {
            die_with(err);
        }
        loc_clear();
    }
}

static void configure_incoming(void)
{
    CmdlineOpt *co;
    const CmdlineOpt *last = NULL;
    Error *err = NULL;

    FOREACH_OPT(co, OPT_INCOMING) {
        last = co;
    }
    if (!last) {
        return;
    }
    loc_push(last);
    if (!migration_incoming_setup(last->arg, &err)) {
        die_with(err);
    }
    loc_clear();
}

void qemu_init(int argc, char **argv)
{
    CmdlineOpt *co;

    error_set_progname(argv[0]);
    qemu_init_host_page();
    signal(SIGPIPE, SIG_IGN);
    parse_cmdline(argc, argv);

    qemu_main_loop_init();
    qemu_system_shutdown_setup();
    machine_register_builtin();
    qmp_register_builtin_commands();
    /* Section order on the wire: timer, ram, globalstate (as QEMU). */
    cpu_timers_init();
    migration_init();
    configure_globals();

    configure_misc();
    create_chardevs();
    create_monitors();
    create_objects();
    configure_drives();
    configure_accelerator();
    create_machine();
    configure_devices();
    {
        Error *err = NULL;

        if (!generic_loader_reset(&err)) {
            die_with(err);
        }
    }
    configure_qtest();

    autostart = true;
    FOREACH_OPT(co, OPT_S) {
        autostart = false;
    }
    configure_incoming();
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
    host_memory_backend_free_all();
    drive_cleanup_all();
    if (vl.pidfile) {
        unlink(vl.pidfile);
    }
    g_array_free(vl.opts, true);
    qemu_log_close();
    return status;
}
