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
    GString *capture;       /* a copy of the client's output, or NULL */
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

/*
 * In-process clients (tests/fuzz/fuzz-qmp.c).  They drive a monitor
 * through the very functions its chardev and the main loop use, only
 * synchronously: the caller plays the I/O thread (client events, input;
 * out-of-band commands run in its call, as they would in the I/O thread,
 * so it must not hold the BQL) and then the main thread (queued in-band
 * requests, with the BQL).
 */
/* A client connects (@opened: a new session and its greeting) or leaves. */
void monitor_qmp_client_event(MonitorQMP *mon, bool opened);
/* Bytes from the client, as the chardev's read handler gets them. */
void monitor_qmp_feed(MonitorQMP *mon, const uint8_t *buf, size_t len);
/*
 * Main thread, BQL: runs the main loop without blocking until this
 * monitor's in-band queue is empty.  Returns false if requests are left
 * that the main loop does not answer (a shutdown is pending).
 */
bool monitor_qmp_run_pending(MonitorQMP *mon);
/* Also appends every message the client is sent to @out (NULL: stop). */
void monitor_qmp_set_capture(MonitorQMP *mon, GString *out);

/* qmp-dispatch.c: commands refused on this instance (see there). */
void qmp_disable_command(const char *name, const char *reason);
const char *qmp_command_disabled(const char *name);

/* qmp-cmds.c: the commands that need the calling monitor. */
char *qmp_capabilities_for(MonitorQMP *mon, JsonObject *args, Error **errp);

#endif
