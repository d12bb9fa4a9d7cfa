/*
 * monitor-internal.h: state shared by the files of monitor/.
 */
#ifndef MONITOR_INTERNAL_H
#define MONITOR_INTERNAL_H

#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "monitor/monitor.h"
#include "qapi/qmp/json-streamer.h"
#include "qapi/qmp/dispatch.h"

/* Requests waiting for the main thread, per monitor; QEMU's limit. */
#define QMP_REQ_QUEUE_LEN_MAX 8

typedef struct QMPRequest {
    MonitorQMP *mon;
    uint64_t session;       /* the client session that sent it */
    JsonNode *req;          /* parsed request, or NULL ... */
    char *error;            /* ... with the parse error instead */
} QMPRequest;

struct MonitorQMP {
    Chardev *chr;
    bool pretty;
    JSONStreamer streamer;  /* I/O thread only */

    QemuMutex lock;         /* protects everything below */
    uint64_t session;       /* changes whenever a client comes or goes */
    bool connected;
    bool negotiated;        /* qmp_capabilities succeeded */
    bool oob_enabled;
    bool suspended;         /* input paused: queue full */
    GQueue requests;        /* QMPRequest *, in-band, oldest first */
};

/* The I/O thread's context (monitor.c). */
GMainContext *monitor_get_io_context(void);
/* All monitors, created at start-up (read-only once threads run). */
extern GPtrArray *monitor_list;

/* qmp.c */
void monitor_qmp_send(MonitorQMP *mon, uint64_t session, const char *json);
void monitor_qmp_setup(MonitorQMP *mon);
void monitor_qmp_emit_event(MonitorQMP *mon, const char *message);
void monitor_qmp_free(MonitorQMP *mon);

/* qmp-cmds.c: the commands that need the calling monitor. */
char *qmp_capabilities_for(MonitorQMP *mon, JsonObject *args, Error **errp);

#endif
