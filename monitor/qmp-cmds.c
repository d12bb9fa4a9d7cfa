/*
 * qmp-cmds.c: the built-in QMP commands — session, run state, version,
 * name, command list, chardevs, tracing, memory size and pmemsave.
 *
 * Replies are spelled exactly as QEMU 7.2 spells them.
 */
#include "qemu/osdep.h"
#include "monitor-internal.h"
#include "qapi/qmp/json-writer.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "exec/memory.h"
#include "hw/boards.h"
#include "trace/control.h"
#include "qemu/main-loop.h"
#include "config-host.h"

char *qemu_name;
uint8_t qemu_uuid[16];
bool qemu_uuid_set;

static char *qmp_capabilities_stub(JsonObject *args, Error **errp)
{
    /* Dispatched specially (it needs the monitor); never called. */
    error_setg(errp, "qmp_capabilities must be dispatched by the monitor");
    return NULL;
}

static char *qmp_query_status(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    /* Members in QAPI schema order; the writer orders them as QEMU does. */
    json_writer_start_object(w, NULL);
    json_writer_bool(w, "running", runstate_is_running());
    json_writer_bool(w, "singlestep", false);
    json_writer_str(w, "status", RunState_str(runstate_get()));
    json_writer_end_object(w);
    return json_writer_finish(w);
}

static char *qmp_query_version(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_object(w, NULL);
    json_writer_start_object(w, "qemu");
    json_writer_int64(w, "major", QMP_VERSION_MAJOR);
    json_writer_int64(w, "minor", QMP_VERSION_MINOR);
    json_writer_int64(w, "micro", QMP_VERSION_MICRO);
    json_writer_end_object(w);
    json_writer_str(w, "package", "ferry-" FERRY_VERSION);
    json_writer_end_object(w);
    return json_writer_finish(w);
}

static char *qmp_query_name(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_object(w, NULL);
    if (qemu_name) {
        json_writer_str(w, "name", qemu_name);
    }
    json_writer_end_object(w);
    return json_writer_finish(w);
}

static void add_command_name(const QmpCommand *cmd, void *opaque)
{
    JSONWriter *w = opaque;

    json_writer_start_object(w, NULL);
    json_writer_str(w, "name", cmd->name);
    json_writer_end_object(w);
}

static char *qmp_query_commands(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_list(w, NULL);
    qmp_for_each_command(add_command_name, w);
    json_writer_end_list(w);
    return json_writer_finish(w);
}

static char *qmp_stop(JsonObject *args, Error **errp)
{
    /* While waiting for a migration, "stop" only cancels the autostart. */
    if (runstate_check(RUN_STATE_INMIGRATE)) {
        autostart = false;
    } else {
        vm_stop(RUN_STATE_PAUSED);
    }
    return g_strdup("{}");
}

static char *qmp_cont(JsonObject *args, Error **errp)
{
    if (runstate_needs_reset()) {
        error_setg(errp, "Resetting the Virtual Machine is required");
        return NULL;
    }
    if (runstate_check(RUN_STATE_SUSPENDED)) {
        return g_strdup("{}");
    }
    if (runstate_check(RUN_STATE_FINISH_MIGRATE)) {
        error_setg(errp, "Migration is not finalized yet");
        return NULL;
    }
    if (runstate_check(RUN_STATE_INMIGRATE)) {
        autostart = true;
    } else {
        vm_start();
    }
    return g_strdup("{}");
}

static char *qmp_quit(JsonObject *args, Error **errp)
{
    qemu_system_shutdown_request(SHUTDOWN_CAUSE_HOST_QMP_QUIT);
    return g_strdup("{}");
}

static char *qmp_query_chardev(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_list(w, NULL);
    /* Monitors' chardevs are the ones a QMP client cares about. */
    for (guint i = 0; monitor_list && i < monitor_list->len; i++) {
        MonitorQMP *mon = monitor_list->pdata[i];
        g_autofree char *fname = qemu_chr_get_filename(mon->chr);

        json_writer_start_object(w, NULL);
        json_writer_str(w, "frontend-open", "true");
        json_writer_str(w, "filename", fname);
        json_writer_str(w, "label", qemu_chr_get_label(mon->chr));
        json_writer_end_object(w);
    }
    json_writer_end_list(w);
    return json_writer_finish(w);
}

static char *qmp_trace_event_get_state(JsonObject *args, Error **errp)
{
    const char *name = qmp_arg_str(args, "name");
    JSONWriter *w = json_writer_new_qdict(false);
    TraceEventIter iter;
    TraceEvent *ev;
    bool found = false;

    json_writer_start_list(w, NULL);
    trace_event_iter_init(&iter, name);
    while ((ev = trace_event_iter_next(&iter))) {
        found = true;
        json_writer_start_object(w, NULL);
        json_writer_str(w, "name", ev->name);
        json_writer_str(w, "state", trace_event_get_state(ev) ? "enabled"
                                                                : "disabled");
        json_writer_bool(w, "vcpu", false);
        json_writer_end_object(w);
    }
    json_writer_end_list(w);
    if (!found && !trace_event_is_pattern(name)) {
        json_writer_free(w);
        error_setg(errp, "unknown event \"%s\"", name);
        return NULL;
    }
    return json_writer_finish(w);
}

static char *qmp_trace_event_set_state(JsonObject *args, Error **errp)
{
    const char *name = qmp_arg_str(args, "name");
    bool enable = qmp_arg_bool(args, "enable", false);
    TraceEventIter iter;
    TraceEvent *ev;
    bool found = false;

    trace_event_iter_init(&iter, name);
    while ((ev = trace_event_iter_next(&iter))) {
        found = true;
        trace_event_set_state(ev, enable);
    }
    if (!found && !trace_event_is_pattern(name)) {
        error_setg(errp, "unknown event \"%s\"", name);
        return NULL;
    }
    return g_strdup("{}");
}

static char *qmp_query_memory_size_summary(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_object(w, NULL);
    json_writer_uint64(w, "base-memory",
                       current_machine ? current_machine->ram_size : 0);
    json_writer_uint64(w, "plugged-memory", 0);
    json_writer_end_object(w);
    return json_writer_finish(w);
}

/*
 * pmemsave val size filename: dumps guest physical memory to a file, as
 * QEMU's does (reading unassigned memory yields zeroes).
 */
static char *qmp_pmemsave(JsonObject *args, Error **errp)
{
    uint64_t addr = qmp_arg_uint(args, "val", 0);
    uint64_t size = qmp_arg_uint(args, "size", 0);
    const char *filename = qmp_arg_str(args, "filename");
    g_autofree uint8_t *buf = g_malloc(64 * 1024);
    FILE *f = fopen(filename, "wb");

    if (!f) {
        error_setg_errno(errp, errno, "Could not open '%s'", filename);
        return NULL;
    }
    while (size) {
        uint64_t l = MIN(size, 64 * 1024);

        address_space_read(&address_space_memory, addr, buf, l);
        if (fwrite(buf, 1, l, f) != l) {
            error_setg_errno(errp, errno, "writing file failed");
            fclose(f);
            return NULL;
        }
        addr += l;
        size -= l;
    }
    if (fclose(f) != 0) {
        error_setg_errno(errp, errno, "writing file failed");
        return NULL;
    }
    return g_strdup("{}");
}

/* Named fds from getfd; BQL. */
static GHashTable *named_fds;

static void close_fd(gpointer p)
{
    close(GPOINTER_TO_INT(p));
}

int monitor_get_fd(const char *name, Error **errp)
{
    gpointer key, value;

    /* (Stealing takes the name out too: it is ours to free.) */
    if (!named_fds ||
        !g_hash_table_steal_extended(named_fds, name, &key, &value)) {
        error_setg(errp, "File descriptor named '%s' has not been found",
                   name);
        return -1;
    }
    g_free(key);
    return GPOINTER_TO_INT(value);
}

static char *qmp_getfd(JsonObject *args, Error **errp)
{
    const char *name = qmp_arg_str(args, "fdname");
    MonitorQMP *mon = monitor_cur();
    int fd = mon ? qemu_chr_fe_get_msgfd(monitor_get_chardev(mon)) : -1;

    if (fd < 0) {
        error_setg(errp, "No file descriptor supplied via SCM_RIGHTS");
        return NULL;
    }
    if (g_ascii_isdigit(name[0])) {
        close(fd);
        error_setg(errp, "Parameter 'fdname' expects a name not starting "
                   "with a digit");
        return NULL;
    }
    if (!named_fds) {
        named_fds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          close_fd);
    }
    g_hash_table_replace(named_fds, g_strdup(name), GINT_TO_POINTER(fd));
    return g_strdup("{}");
}

static char *qmp_closefd(JsonObject *args, Error **errp)
{
    const char *name = qmp_arg_str(args, "fdname");

    if (!named_fds || !g_hash_table_remove(named_fds, name)) {
        error_setg(errp, "File descriptor named '%s' not found", name);
        return NULL;
    }
    return g_strdup("{}");
}

static const QmpArgSpec fdname_args[] = {
    { "fdname", QMP_ARG_STR, false },
    { NULL }
};

static const QmpArgSpec qmp_capabilities_args[] = {
    { "enable", QMP_ARG_ARRAY, true },
    { NULL }
};
static const QmpArgSpec trace_get_args[] = {
    { "name", QMP_ARG_STR, false },
    { "vcpu", QMP_ARG_INT, true },
    { NULL }
};
static const QmpArgSpec trace_set_args[] = {
    { "name", QMP_ARG_STR, false },
    { "enable", QMP_ARG_BOOL, false },
    { "ignore-unavailable", QMP_ARG_BOOL, true },
    { "vcpu", QMP_ARG_INT, true },
    { NULL }
};
static const QmpArgSpec pmemsave_args[] = {
    { "val", QMP_ARG_INT, false },
    { "size", QMP_ARG_INT, false },
    { "filename", QMP_ARG_STR, false },
    { NULL }
};

static const QmpCommand builtin_commands[] = {
    { "qmp_capabilities", qmp_capabilities_stub, qmp_capabilities_args,
      QCO_ALLOW_PRECONFIG },
    { "query-status", qmp_query_status, NULL, QCO_ALLOW_PRECONFIG },
    { "query-version", qmp_query_version, NULL, QCO_ALLOW_PRECONFIG },
    { "query-name", qmp_query_name, NULL, QCO_ALLOW_PRECONFIG },
    { "query-commands", qmp_query_commands, NULL, QCO_ALLOW_PRECONFIG },
    { "query-chardev", qmp_query_chardev, NULL, QCO_ALLOW_PRECONFIG },
    { "query-memory-size-summary", qmp_query_memory_size_summary, NULL, 0 },
    { "stop", qmp_stop, NULL, 0 },
    { "cont", qmp_cont, NULL, 0 },
    { "quit", qmp_quit, NULL, QCO_ALLOW_PRECONFIG },
    { "pmemsave", qmp_pmemsave, pmemsave_args, 0 },
    { "getfd", qmp_getfd, fdname_args, 0 },
    { "closefd", qmp_closefd, fdname_args, 0 },
    { "trace-event-get-state", qmp_trace_event_get_state, trace_get_args,
      0 },
    { "trace-event-set-state", qmp_trace_event_set_state, trace_set_args,
      0 },
    { NULL }
};

void qmp_register_builtin_commands(void)
{
    qmp_register_commands(builtin_commands);
}
