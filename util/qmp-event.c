/*
 * qmp-event.c: building and dispatching QMP event messages.
 */
#include "qemu/osdep.h"
#include "qapi/qmp-event.h"
#include "qapi/qmp/json-writer.h"
#include "qemu/atomic.h"
#include "trace.h"

static QAPIEventEmitter *emitter;

void qapi_event_set_emitter(QAPIEventEmitter *emit)
{
    qatomic_set(&emitter, emit);
}

void qapi_event_send(const char *event, const char *data_json)
{
    int64_t now = get_clock_realtime() / 1000;  /* microseconds */
    JSONWriter *w = json_writer_new_qdict(false);
    QAPIEventEmitter *emit;
    g_autofree char *msg = NULL;

    json_writer_start_object(w, NULL);
    json_writer_start_object(w, "timestamp");
    json_writer_int64(w, "seconds", now / 1000000);
    json_writer_int64(w, "microseconds", now % 1000000);
    json_writer_end_object(w);
    json_writer_str(w, "event", event);
    if (data_json) {
        json_writer_raw(w, "data", data_json);
    }
    json_writer_end_object(w);
    msg = json_writer_finish(w);

    trace_qapi_event_send(event, data_json ? data_json : "");
    emit = qatomic_read(&emitter);
    if (emit) {
        emit(event, msg);
    }
}

void qapi_event_send_stop(void)
{
    qapi_event_send("STOP", NULL);
}

void qapi_event_send_resume(void)
{
    qapi_event_send("RESUME", NULL);
}

void qapi_event_send_shutdown(bool guest, const char *reason)
{
    JSONWriter *w = json_writer_new_qdict(false);
    g_autofree char *data = NULL;

    json_writer_start_object(w, NULL);
    json_writer_bool(w, "guest", guest);
    json_writer_str(w, "reason", reason);
    json_writer_end_object(w);
    data = json_writer_finish(w);
    qapi_event_send("SHUTDOWN", data);
}
