/*
 * qmp-event.h: emitting QMP events.
 *
 * qapi_event_send() stamps the event with the wall-clock time and hands the
 * finished message to the emitter that the monitor installs (to every QMP
 * session that finished capability negotiation).  Callable from any thread.
 * Without a monitor (unit tests) events are only traced.
 */
#ifndef QAPI_QMP_EVENT_H
#define QAPI_QMP_EVENT_H

#include "qemu/osdep.h"

/* @message is the complete event object as JSON text. */
typedef void QAPIEventEmitter(const char *event, const char *message);

void qapi_event_set_emitter(QAPIEventEmitter *emit);

/* @data_json: the "data" member as JSON object text, or NULL for none. */
void qapi_event_send(const char *event, const char *data_json);

void qapi_event_send_stop(void);
void qapi_event_send_resume(void);
void qapi_event_send_shutdown(bool guest, const char *reason);

#endif
