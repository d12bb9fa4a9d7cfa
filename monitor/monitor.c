/*
 * monitor.c: the monitor I/O thread, the list of monitors and event
 * broadcasting.
 *
 * Thread model: one I/O thread runs a private GMainContext serving every
 * monitor's chardev (reading, framing, out-of-band commands, flushing
 * output).  In-band commands run in the main thread (qmp.c).  The list of
 * monitors is built before the I/O thread starts and only read afterwards.
 */
#include "qemu/osdep.h"
#include "monitor-internal.h"
#include "qapi/qmp-event.h"
#include "qemu/error-report.h"
#include "trace.h"

GPtrArray *monitor_list;

static GMainContext *mon_ctx;
static GMainLoop *mon_loop;
static QemuThread mon_thread;
static bool mon_thread_running;

GMainContext *monitor_get_io_context(void)
{
    return mon_ctx;
}

static void *monitor_io_thread(void *opaque)
{
    g_main_context_push_thread_default(mon_ctx);
    g_main_loop_run(mon_loop);
    g_main_context_pop_thread_default(mon_ctx);
    return NULL;
}

static void monitor_emit_event(const char *event, const char *message)
{
    if (!monitor_list) {
        return;
    }
    for (guint i = 0; i < monitor_list->len; i++) {
        monitor_qmp_emit_event(monitor_list->pdata[i], message);
    }
}

void monitor_init_globals(void)
{
    mon_ctx = g_main_context_new();
    mon_loop = g_main_loop_new(mon_ctx, false);
    monitor_list = g_ptr_array_new();
    qapi_event_set_emitter(monitor_emit_event);
}

MonitorQMP *monitor_init_qmp(Chardev *chr, bool pretty, Error **errp)
{
    MonitorQMP *mon = g_new0(MonitorQMP, 1);

    assert(mon_ctx);
    mon->chr = chr;
    mon->pretty = pretty;
    qemu_mutex_init(&mon->lock);
    g_queue_init(&mon->requests);
    json_streamer_init(&mon->streamer, NULL, mon);
    g_ptr_array_add(monitor_list, mon);
    trace_monitor_init(qemu_chr_get_label(chr), pretty);
    monitor_qmp_setup(mon);
    if (!mon_thread_running) {
        qemu_thread_create(&mon_thread, "mon_iothread", monitor_io_thread,
                           NULL, QEMU_THREAD_JOINABLE);
        mon_thread_running = true;
    }
    return mon;
}

static gboolean monitor_quit_io(gpointer data)
{
    g_main_loop_quit(mon_loop);
    return G_SOURCE_REMOVE;
}

void monitor_cleanup(void)
{
    qapi_event_set_emitter(NULL);
    if (mon_thread_running) {
        GSource *src = g_idle_source_new();

        g_source_set_callback(src, monitor_quit_io, NULL, NULL);
        g_source_attach(src, mon_ctx);
        g_source_unref(src);
        qemu_thread_join(&mon_thread);
        mon_thread_running = false;
    }
    if (monitor_list) {
        for (guint i = 0; i < monitor_list->len; i++) {
            monitor_qmp_free(monitor_list->pdata[i]);
        }
        g_ptr_array_free(monitor_list, true);
        monitor_list = NULL;
    }
}
