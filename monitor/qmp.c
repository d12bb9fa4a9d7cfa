/*
 * qmp.c: QMP sessions — greeting, framing, request validation, in-band
 * queueing, out-of-band execution and responses.
 *
 * Life of a request:
 *   I/O thread: bytes -> JSONStreamer -> json-glib -> handle_qmp_text()
 *     (a number JSON cannot write back — json-glib makes 1e999 an
 *     infinity — is a parse error: echoed in an "id" it would make the
 *     reply invalid);
 *     an "exec-oob" request for an OOB-capable command (with oob enabled)
 *     runs right there; everything else (errors included, to keep replies
 *     in order) is queued on the monitor and the main loop is poked;
 *   main thread (BQL): monitor_qmp_dispatcher() takes the oldest request,
 *     runs qmp_dispatch() and sends the response, unless the client that
 *     sent it has gone (session changed).
 * A monitor stops reading while QMP_REQ_QUEUE_LEN_MAX requests wait.
 */
#include "qemu/osdep.h"
#include "monitor-internal.h"
#include "qapi/qmp/qjson.h"
#include "qapi/qmp/json-writer.h"
#include "qemu/main-loop.h"
#include "sysemu/runstate.h"
#include "config-host.h"
#include "trace.h"
#include <math.h>

static __thread MonitorQMP *cur_mon;

MonitorQMP *monitor_cur(void)
{
    return cur_mon;
}

Chardev *monitor_get_chardev(MonitorQMP *mon)
{
    return mon->chr;
}

static void qmp_request_free(QMPRequest *r)
{
    if (r->req) {
        json_node_unref(r->req);
    }
    g_free(r->error);
    g_free(r);
}

/*
 * Re-indents compact JSON text for "pretty" monitors without re-ordering
 * anything: a newline and indentation after every '{', '[' and ',' outside
 * strings, and before the matching close.
 */
static char *json_reindent(const char *json)
{
    GString *out = g_string_new(NULL);
    int depth = 0;
    char quote = 0;
    bool esc = false;

    for (const char *p = json; *p; p++) {
        char c = *p;

        if (quote) {
            g_string_append_c(out, c);
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '"') {
            quote = c;
            g_string_append_c(out, c);
        } else if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';

            if (p[1] == close) {            /* empty: {} or [] */
                g_string_append_c(out, c);
                g_string_append_c(out, close);
                p++;
                continue;
            }
            g_string_append_c(out, c);
            depth++;
            g_string_append_c(out, '\n');
            for (int i = 0; i < depth; i++) {
                g_string_append(out, "    ");
            }
        } else if (c == '}' || c == ']') {
            depth--;
            g_string_append_c(out, '\n');
            for (int i = 0; i < depth; i++) {
                g_string_append(out, "    ");
            }
            g_string_append_c(out, c);
        } else if (c == ',') {
            g_string_append_c(out, ',');
            g_string_append_c(out, '\n');
            for (int i = 0; i < depth; i++) {
                g_string_append(out, "    ");
            }
            if (p[1] == ' ') {
                p++;
            }
        } else {
            g_string_append_c(out, c);
        }
    }
    return g_string_free(out, false);
}

/* Writes one message (JSON text) with QEMU's "\r\n" line ends. */
void monitor_qmp_send(MonitorQMP *mon, uint64_t session, const char *json)
{
    g_autofree char *pretty = mon->pretty ? json_reindent(json) : NULL;
    GString *out;

    json = pretty ? pretty : json;
    out = g_string_sized_new(strlen(json) + 2);
    for (const char *p = json; *p; p++) {
        if (*p == '\n') {
            g_string_append_c(out, '\r');
        }
        g_string_append_c(out, *p);
    }
    g_string_append(out, "\r\n");
    qemu_mutex_lock(&mon->lock);
    if (mon->connected && mon->session == session) {
        if (mon->capture) {
            g_string_append_len(mon->capture, out->str, out->len);
        }
        qemu_chr_write(mon->chr, out->str, out->len);
    }
    qemu_mutex_unlock(&mon->lock);
    g_string_free(out, true);
}

void monitor_qmp_emit_event(MonitorQMP *mon, const char *message)
{
    uint64_t session;
    bool ready;

    qemu_mutex_lock(&mon->lock);
    ready = mon->connected && mon->negotiated;
    session = mon->session;
    qemu_mutex_unlock(&mon->lock);
    if (!ready) {
        return;
    }
    monitor_qmp_send(mon, session, message);
}

/* Builds {"return": ...} / {"error": {...}} with the request's id. */
static char *qmp_build_response(const char *ret_json, Error *err,
                                JsonNode *id)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_object(w, NULL);
    if (err) {
        json_writer_start_object(w, "error");
        json_writer_str(w, "class", error_class_name(error_get_class(err)));
        json_writer_str(w, "desc", error_get_pretty(err));
        json_writer_end_object(w);
    } else {
        json_writer_raw(w, "return", ret_json);
    }
    if (id) {
        json_writer_node(w, "id", id);
    }
    json_writer_end_object(w);
    return json_writer_finish(w);
}

/* The request's "id" member, whatever its type, or NULL. */
static JsonNode *request_id(JsonNode *req)
{
    if (req && JSON_NODE_HOLDS_OBJECT(req)) {
        return json_object_get_member(json_node_get_object(req), "id");
    }
    return NULL;
}

static bool request_is_oob(JsonNode *req)
{
    return req && JSON_NODE_HOLDS_OBJECT(req) &&
           json_object_has_member(json_node_get_object(req), "exec-oob");
}

/*
 * QEMU's qmp_dispatch_check_obj(): the request's members are checked in
 * QDict iteration order, so that a request with several problems gets the
 * same complaint as from QEMU.  Returns the command name or NULL.
 */
static const char *qmp_check_request(JsonObject *obj, bool allow_oob,
                                     bool *oob, Error **errp)
{
    g_autoptr(GList) members = json_object_get_members(obj);
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    const char *exec_key = NULL;

    for (GList *l = members; l; l = l->next) {
        g_ptr_array_add(keys, l->data);
    }
    qdict_order_keys(keys);
    for (guint i = 0; i < keys->len; i++) {
        const char *key = keys->pdata[i];
        JsonNode *val = json_object_get_member(obj, key);

        if (!strcmp(key, "execute") ||
            (!strcmp(key, "exec-oob") && allow_oob)) {
            if (!qjson_node_is_string(val)) {
                error_setg(errp, "QMP input member '%s' must be a string",
                           key);
                return NULL;
            }
            if (exec_key) {
                error_setg(errp, "QMP input member '%s' clashes with '%s'",
                           key, exec_key);
                return NULL;
            }
            exec_key = key;
        } else if (!strcmp(key, "arguments")) {
            if (!JSON_NODE_HOLDS_OBJECT(val)) {
                error_setg(errp, "QMP input member 'arguments' must be an "
                           "object");
                return NULL;
            }
        } else if (strcmp(key, "id")) {
            error_setg(errp, "QMP input member '%s' is unexpected", key);
            return NULL;
        }
    }
    if (!exec_key) {
        error_setg(errp, "QMP input lacks member 'execute'");
        return NULL;
    }
    *oob = !strcmp(exec_key, "exec-oob");
    return json_object_get_string_member(obj, exec_key);
}

/*
 * Validates and runs one request.  Returns the return value's JSON text, or
 * NULL with *errp set.  @in_iothread: running out of band, without the BQL.
 */
static char *qmp_dispatch(MonitorQMP *mon, JsonNode *req, bool in_iothread,
                          Error **errp)
{
    JsonObject *obj, *args;
    JsonNode *args_node;
    g_autoptr(JsonObject) empty = NULL;
    const QmpCommand *cmd;
    const char *name, *disabled;
    bool negotiated, oob_enabled, oob = false;

    if (!JSON_NODE_HOLDS_OBJECT(req)) {
        error_setg(errp, "QMP input must be a JSON object");
        return NULL;
    }
    obj = json_node_get_object(req);
    qemu_mutex_lock(&mon->lock);
    negotiated = mon->negotiated;
    oob_enabled = mon->oob_enabled;
    qemu_mutex_unlock(&mon->lock);

    name = qmp_check_request(obj, oob_enabled, &oob, errp);
    if (!name) {
        return NULL;
    }
    /* Before negotiation only qmp_capabilities exists. */
    cmd = qmp_find_command(name);
    if (!cmd || (!negotiated && strcmp(name, "qmp_capabilities"))) {
        if (!negotiated) {
            error_set(errp, ERROR_CLASS_COMMAND_NOT_FOUND,
                      "Expecting capabilities negotiation with "
                      "'qmp_capabilities'");
        } else {
            error_set(errp, ERROR_CLASS_COMMAND_NOT_FOUND,
                      "The command %s has not been found", name);
        }
        return NULL;
    }
    disabled = qmp_command_disabled(name);
    if (disabled) {
        error_set(errp, ERROR_CLASS_COMMAND_NOT_FOUND,
                  "The command %s is disabled on this instance (%s)", name,
                  disabled);
        return NULL;
    }
    if (oob && !(cmd->flags & QCO_ALLOW_OOB)) {
        error_setg(errp, "The command %s does not support OOB", name);
        return NULL;
    }
    args_node = json_object_get_member(obj, "arguments");
    if (args_node) {
        args = json_node_get_object(args_node);
    } else {
        empty = json_object_new();
        args = empty;
    }
    if (!(cmd->flags & QCO_ARGS_BY_HANDLER) &&
        !qmp_check_args(cmd, args, errp)) {
        return NULL;
    }
    trace_qmp_dispatch(name, in_iothread);
    if (!strcmp(name, "qmp_capabilities")) {
        return qmp_capabilities_for(mon, args, errp);
    }
    {
        MonitorQMP *saved = cur_mon;
        char *ret;

        cur_mon = mon;
        ret = cmd->fn(args, errp);
        cur_mon = saved;
        return ret;
    }
}

static char *qmp_handle_request(MonitorQMP *mon, QMPRequest *r, bool oob)
{
    Error *err = NULL;
    g_autofree char *ret = NULL;
    char *rsp;

    if (r->error) {
        error_setg(&err, "%s", r->error);
    } else {
        ret = qmp_dispatch(mon, r->req, oob, &err);
    }
    rsp = qmp_build_response(ret, err, request_id(r->req));
    trace_qmp_response(err ? error_get_pretty(err) : "ok");
    error_free(err);
    return rsp;
}

/* Main thread, BQL: runs the oldest queued request of any monitor. */
static void monitor_qmp_dispatcher(void *opaque)
{
    if (qemu_system_shutdown_pending()) {
        return;     /* like QEMU, nothing is answered after "quit" */
    }
    for (guint i = 0; monitor_list && i < monitor_list->len; i++) {
        MonitorQMP *mon = monitor_list->pdata[i];
        QMPRequest *r;
        bool resume = false;

        qemu_mutex_lock(&mon->lock);
        r = g_queue_pop_head(&mon->requests);
        if (r && mon->suspended &&
            g_queue_get_length(&mon->requests) < QMP_REQ_QUEUE_LEN_MAX) {
            mon->suspended = false;
            resume = true;
        }
        qemu_mutex_unlock(&mon->lock);
        if (resume) {
            qemu_chr_fe_accept_input(mon->chr, true);
        }
        if (r) {
            g_autofree char *rsp = NULL;

            if (r->session == mon->session) {
                rsp = qmp_handle_request(mon, r, false);
                monitor_qmp_send(mon, r->session, rsp);
            }
            qmp_request_free(r);
            return;
        }
    }
}

static void monitor_qmp_queue(MonitorQMP *mon, QMPRequest *r)
{
    bool suspend = false;

    qemu_mutex_lock(&mon->lock);
    r->session = mon->session;
    g_queue_push_tail(&mon->requests, r);
    if (g_queue_get_length(&mon->requests) >= QMP_REQ_QUEUE_LEN_MAX &&
        !mon->suspended) {
        mon->suspended = suspend = true;
    }
    qemu_mutex_unlock(&mon->lock);
    if (suspend) {
        trace_monitor_suspend(qemu_chr_get_label(mon->chr));
        qemu_chr_fe_accept_input(mon->chr, false);
    }
    main_loop_call(monitor_qmp_dispatcher, NULL);
}

/*
 * Whether every number in @n can be written back as JSON.  json-glib
 * turns a literal beyond the double range (1e999) into an infinity, which
 * JSON cannot spell: echoed in an "id" it would make the reply invalid.
 */
static bool json_numbers_finite(JsonNode *n)
{
    switch (json_node_get_node_type(n)) {
    case JSON_NODE_OBJECT: {
        JsonObject *o = json_node_get_object(n);
        g_autoptr(GList) members = json_object_get_members(o);

        for (GList *l = members; l; l = l->next) {
            if (!json_numbers_finite(json_object_get_member(o, l->data))) {
                return false;
            }
        }
        return true;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array(n);

        for (guint i = 0; i < json_array_get_length(a); i++) {
            if (!json_numbers_finite(json_array_get_element(a, i))) {
                return false;
            }
        }
        return true;
    }
    case JSON_NODE_VALUE:
        return json_node_get_value_type(n) != G_TYPE_DOUBLE ||
               isfinite(json_node_get_double(n));
    default:
        return true;
    }
}

/* I/O thread: one complete JSON text (or a framing error) arrived. */
static void handle_qmp_text(void *opaque, const char *text, size_t len,
                            const char *error)
{
    MonitorQMP *mon = opaque;
    QMPRequest *r = g_new0(QMPRequest, 1);
    Error *err = NULL;
    bool oob_enabled;

    r->mon = mon;
    if (error) {
        r->error = g_strdup(error);
    } else {
        r->req = qjson_from_string(text, len, &err);
        if (!r->req) {
            r->error = g_strdup(error_get_pretty(err));
            error_free(err);
        } else if (!json_numbers_finite(r->req)) {
            json_node_unref(g_steal_pointer(&r->req));
            r->error = g_strdup("JSON parse error, number out of range");
        }
    }
    trace_qmp_request(text ? text : error);
    qemu_mutex_lock(&mon->lock);
    oob_enabled = mon->oob_enabled;
    r->session = mon->session;
    qemu_mutex_unlock(&mon->lock);

    if (oob_enabled && request_is_oob(r->req)) {
        /* Out of band: answer now, from this thread, without the BQL. */
        g_autofree char *rsp = qmp_handle_request(mon, r, true);

        monitor_qmp_send(mon, r->session, rsp);
        qmp_request_free(r);
        return;
    }
    monitor_qmp_queue(mon, r);
}

static char *qmp_greeting(void)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_object(w, NULL);
    json_writer_start_object(w, "QMP");
    json_writer_start_object(w, "version");
    json_writer_start_object(w, "qemu");
    json_writer_int64(w, "major", QMP_VERSION_MAJOR);
    json_writer_int64(w, "minor", QMP_VERSION_MINOR);
    json_writer_int64(w, "micro", QMP_VERSION_MICRO);
    json_writer_end_object(w);
    json_writer_str(w, "package", "ferry-" FERRY_VERSION);
    json_writer_end_object(w);
    json_writer_start_list(w, "capabilities");
    json_writer_str(w, NULL, "oob");
    json_writer_end_list(w);
    json_writer_end_object(w);
    json_writer_end_object(w);
    return json_writer_finish(w);
}

static void monitor_qmp_read(void *opaque, const uint8_t *buf, size_t len)
{
    MonitorQMP *mon = opaque;

    json_streamer_feed(&mon->streamer, (const char *)buf, len);
}

static void monitor_qmp_event(void *opaque, QEMUChrEvent ev)
{
    MonitorQMP *mon = opaque;
    uint64_t session;
    QMPRequest *r;

    qemu_mutex_lock(&mon->lock);
    session = ++mon->session;
    mon->connected = ev == CHR_EVENT_OPENED;
    mon->negotiated = false;
    mon->oob_enabled = false;
    /* Requests of a departed client are dropped unanswered. */
    while ((r = g_queue_pop_head(&mon->requests))) {
        qmp_request_free(r);
    }
    if (mon->suspended) {
        mon->suspended = false;
        qemu_mutex_unlock(&mon->lock);
        qemu_chr_fe_accept_input(mon->chr, true);
        qemu_mutex_lock(&mon->lock);
    }
    qemu_mutex_unlock(&mon->lock);
    json_streamer_reset(&mon->streamer);
    trace_monitor_qmp_event(qemu_chr_get_label(mon->chr),
                            ev == CHR_EVENT_OPENED);
    if (ev == CHR_EVENT_OPENED) {
        g_autofree char *greeting = qmp_greeting();

        monitor_qmp_send(mon, session, greeting);
    }
}

void monitor_qmp_setup(MonitorQMP *mon)
{
    mon->streamer.emit = handle_qmp_text;
    mon->streamer.opaque = mon;
    qemu_chr_fe_set_handlers(mon->chr, monitor_qmp_read, monitor_qmp_event,
                             mon, monitor_get_io_context());
}

void monitor_qmp_free(MonitorQMP *mon)
{
    QMPRequest *r;

    while ((r = g_queue_pop_head(&mon->requests))) {
        qmp_request_free(r);
    }
    json_streamer_destroy(&mon->streamer);
    qemu_mutex_destroy(&mon->lock);
    g_free(mon);
}

/* ---- In-process clients (monitor-internal.h) ---- */

void monitor_qmp_client_event(MonitorQMP *mon, bool opened)
{
    monitor_qmp_event(mon, opened ? CHR_EVENT_OPENED : CHR_EVENT_CLOSED);
}

void monitor_qmp_feed(MonitorQMP *mon, const uint8_t *buf, size_t len)
{
    monitor_qmp_read(mon, buf, len);
}

bool monitor_qmp_run_pending(MonitorQMP *mon)
{
    GMainContext *ctx = qemu_get_main_context();

    assert(bql_locked());
    for (;;) {
        bool empty;

        qemu_mutex_lock(&mon->lock);
        empty = g_queue_is_empty(&mon->requests);
        qemu_mutex_unlock(&mon->lock);
        if (empty) {
            return true;
        }
        /* (One idle source per queued request: monitor_qmp_queue().) */
        if (!g_main_context_iteration(ctx, false)) {
            return false;
        }
    }
}

void monitor_qmp_set_capture(MonitorQMP *mon, GString *out)
{
    qemu_mutex_lock(&mon->lock);
    mon->capture = out;
    qemu_mutex_unlock(&mon->lock);
}

char *qmp_capabilities_for(MonitorQMP *mon, JsonObject *args, Error **errp)
{
    JsonNode *enable = json_object_get_member(args, "enable");
    bool oob = false;

    if (enable) {
        JsonArray *arr = json_node_get_array(enable);

        for (guint i = 0; i < json_array_get_length(arr); i++) {
            JsonNode *n = json_array_get_element(arr, i);

            if (!qjson_node_is_string(n)) {
                error_setg(errp, "Invalid parameter type for 'enable[%u]', "
                           "expected: string", i);
                return NULL;
            }
            if (strcmp(json_node_get_string(n), "oob")) {
                /* Sic: QEMU 7.2 names the list element 'null'. */
                error_setg(errp, "Parameter 'null' does not accept value "
                           "'%s'", json_node_get_string(n));
                return NULL;
            }
            oob = true;
        }
    }
    qemu_mutex_lock(&mon->lock);
    if (mon->negotiated) {
        qemu_mutex_unlock(&mon->lock);
        error_set(errp, ERROR_CLASS_COMMAND_NOT_FOUND,
                  "Capabilities negotiation is already complete, command "
                  "ignored");
        return NULL;
    }
    mon->negotiated = true;
    mon->oob_enabled = oob;
    qemu_mutex_unlock(&mon->lock);
    return g_strdup("{}");
}
