/*
 * fuzz-qmp.c: fuzz target "qmp" — arbitrary bytes from a QMP client,
 * through the monitor's framing, negotiation and dispatch, into every
 * registered command.
 *
 * Design note
 *
 * fuzz_qmp_init() builds, once, what "ferry -M none -m 64M -incoming
 * defer -qmp null" has when a client connects, in qemu_init()'s order:
 * the main loop and BQL, the machine types, the built-in QMP commands,
 * the "timer" section, migration (its options and its QMP commands), the
 * monitor I/O thread and one compact QMP monitor on a "null" chardev, the
 * qtest accelerator, the "none" machine with 64 MiB of RAM, and the run
 * state inmigrate of "-incoming defer".  Not done: the signal handlers of
 * qemu_system_shutdown_setup() (libFuzzer owns SIGINT and SIGTERM), the
 * vCPUs (none with qtest) and the main loop itself, which the harness
 * runs without blocking instead.  Trace output goes to /dev/null (-D)
 * unless FERRY_FUZZ_TRACE=PATTERN asks for some (as -trace PATTERN), so
 * that an input's trace-event-set-state does not flood the log.
 *
 * Each input is one client session on that monitor, driven through the
 * entry points monitor-internal.h gives in-process clients — the very
 * functions the chardev and the main loop call, only synchronously:
 *
 *   connect     monitor_qmp_client_event(opened): a new session, the
 *               greeting (I/O thread's role, BQL not held)
 *   per line    the input is cut after each '\n'; each piece is one
 *               read from the client: monitor_qmp_feed() frames it
 *               (util/json-streamer.c), parses each value and runs the
 *               out-of-band ones ("exec-oob" after "enable": ["oob"]) at
 *               once, without the BQL, as the I/O thread does, and
 *               queues the rest; then monitor_qmp_run_pending() runs the
 *               main loop, with the BQL, until every queued request is
 *               answered — a client that pipelines the requests of one
 *               line and waits for their replies before the next line
 *   disconnect  monitor_qmp_client_event(closed): a partial value left
 *               at the end of the input is dropped, as at a hang-up
 *
 * Everything the monitor sends goes to the null chardev and is copied to
 * a buffer (monitor_qmp_set_capture()), which is checked afterwards.
 *
 * Commands that cannot run safely or be undone are disabled on this
 * instance (qmp_disable_command(), QEMU's mechanism): they are answered
 * CommandNotFound before their arguments are looked at.
 *
 *   quit              the shutdown request cannot be withdrawn (nothing
 *                     in system/runstate.c cancels it): the main loop
 *                     answers nothing after it and ferry would exit
 *   pmemsave          writes guest memory to a file named by the input
 *   migrate-incoming  listens on, connects to, opens or executes ("exec:")
 *                     what the input names, takes descriptors ("fd:"),
 *                     and can succeed only once per process (its flag is
 *                     private to migration/migration-qmp.c)
 *
 * Every other command runs for real.  What keeps them harmless is the
 * run state: waiting for an incoming migration, "migrate" is refused
 * before it looks at its URI (and "resume": true needs a paused
 * migration); "stop" and "cont" only clear or set autostart;
 * "migrate-pause", "migrate-recover" and "migrate-start-postcopy" need a
 * migration that never exists here; "getfd" finds no descriptor on a
 * null chardev.  What an input may change is put back before the next:
 * the migration capabilities and parameters (through the real
 * migrate-set-capabilities / migrate-set-parameters handlers, with the
 * values of start-up), the trace events' states, autostart, and the
 * migration's pause/rate-limit/resume semaphores that migrate-continue
 * and others post.  The session state (negotiation, oob) goes with the
 * session.  The harness then checks that it is back where it started:
 * query-status, query-migrate, query-migrate-capabilities,
 * query-migrate-parameters, query-name, the trace events and autostart
 * must read as right after start-up, and no shutdown may be pending.
 *
 * Rules (fuzz_finding() when broken; an abort, assertion or sanitizer
 * report is a finding by itself):
 *
 *   - the first message is the greeting {"QMP": {...}}, and the only one;
 *   - every message is one line of strictly valid JSON (RFC 8259: no
 *     "inf", no bare control characters, no duplicate member names);
 *   - every other message is an event {"event", "timestamp"[, "data"]}
 *     or a reply: {"return": ...} or {"error": {"class", "desc"}} (both
 *     strings, the class a known one), plus "id" and nothing else;
 *   - every value the client sent (as util/json-streamer.c frames it; a
 *     second streamer in the harness frames the same bytes) gets exactly
 *     one reply, carrying the request's "id" (equal as JSON, member order
 *     aside) when the request is an object with one, and no "id"
 *     otherwise — replies may come out of order (out-of-band ones), so
 *     ids are matched as a multiset.  A request holding a number JSON
 *     cannot write back (beyond the double range, json-glib's inf) is
 *     not accepted as JSON: it gets an error without "id";
 *   - no request is left unanswered: the main loop, run until it has
 *     nothing ready, empties the queue (a hang inside a command is
 *     libFuzzer's -timeout);
 *   - the state is restored (above).
 *
 * run() returns 0 (accepted as a whole) when the client sent at least one
 * value and every reply is a "return" — what make_seeds' sessions must
 * get — and 1 otherwise, with the first error's description.
 *
 * FERRY_FUZZ_TRACE=PATTERN enables trace events (as -trace PATTERN).
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "qapi/error.h"
#include "qapi/qmp/dispatch.h"
#include "qapi/qmp/json-streamer.h"
#include "qapi/qmp/qjson.h"
#include "monitor/monitor-internal.h"
#include "migration/migration.h"
#include "migration/misc.h"
#include "hw/boards.h"
#include "hw/loader.h"
#include "chardev/char.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "sysemu/runstate.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/qtest.h"
#include "qom/object_interfaces.h"
#include "crypto/tlscreds.h"
#include "authz/base.h"
#include "trace/control.h"
#include <math.h>

#define FUZZ_RAM_SIZE       (64ull << 20)
/* Deeper than any reply ferry writes (requests nest up to 1024). */
#define FUZZ_JSON_MAX_DEPTH 4096

static const struct {
    const char *name;
    const char *reason;
} fuzz_disabled[] = {
    { "quit", "a shutdown cannot be withdrawn" },
    { "pmemsave", "writes a file named by the client" },
    { "migrate-incoming", "listens on, opens or executes the URI, once "
      "per process" },
};

/* What start-up left, to put back and to compare with after each input. */
typedef struct FuzzBaseline {
    JsonNode *caps_args;        /* {"capabilities": [...]} */
    JsonNode *params_args;      /* every parameter's start-up value */
    char *caps;                 /* query-migrate-capabilities */
    char *params;               /* query-migrate-parameters */
    GArray *trace;              /* bool per trace event, registry order */
    bool autostart;
    char *fingerprint;          /* fuzz_state_fingerprint() */
} FuzzBaseline;

static MonitorQMP *fuzz_mon;
static FuzzBaseline baseline;

/* ---------------- strict JSON (RFC 8259) ---------------- */

typedef struct JsonCheck {
    const char *p, *end;
    const char *why;
} JsonCheck;

static bool jc_fail(JsonCheck *c, const char *why)
{
    if (!c->why) {
        c->why = why;
    }
    return false;
}

static void jc_ws(JsonCheck *c)
{
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' ||
            *c->p == '\r')) {
        c->p++;
    }
}

static bool jc_lit(JsonCheck *c, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n)) {
        return jc_fail(c, "not a JSON value");
    }
    c->p += n;
    return true;
}

static bool jc_digits(JsonCheck *c)
{
    const char *s = c->p;

    while (c->p < c->end && g_ascii_isdigit(*c->p)) {
        c->p++;
    }
    return c->p > s ? true : jc_fail(c, "bad number");
}

static bool jc_number(JsonCheck *c)
{
    if (c->p < c->end && *c->p == '-') {
        c->p++;
    }
    if (c->p < c->end && *c->p == '0') {
        c->p++;
    } else if (!jc_digits(c)) {
        return false;
    }
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!jc_digits(c)) {
            return false;
        }
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
            c->p++;
        }
        if (!jc_digits(c)) {
            return false;
        }
    }
    return true;
}

/* A string; its raw text (quotes and escapes kept) into @raw if given. */
static bool jc_string(JsonCheck *c, GString *raw)
{
    const char *s = c->p;

    if (c->p >= c->end || *c->p != '"') {
        return jc_fail(c, "expected a string");
    }
    c->p++;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = *c->p;

        if (ch < 0x20) {
            return jc_fail(c, "control character in a string");
        }
        if (ch == '\\') {
            c->p++;
            if (c->p >= c->end) {
                break;
            }
            if (*c->p == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (c->p + i >= c->end || !g_ascii_isxdigit(c->p[i])) {
                        return jc_fail(c, "bad \\u escape");
                    }
                }
                c->p += 4;
            } else if (!strchr("\"\\/bfnrt", *c->p)) {
                return jc_fail(c, "bad escape");
            }
        }
        c->p++;
    }
    if (c->p >= c->end) {
        return jc_fail(c, "unterminated string");
    }
    c->p++;
    if (raw) {
        g_string_append_len(raw, s, c->p - s);
    }
    return true;
}

static bool jc_value(JsonCheck *c, int depth);

/*
 * A member's value (an array element) and what follows it: -1 after a
 * ',' (another comes), else whether @close ended the container.
 */
static int jc_member_end(JsonCheck *c, int depth, char close)
{
    if (!jc_value(c, depth + 1)) {
        return false;
    }
    jc_ws(c);
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        return -1;
    }
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return true;
    }
    return close == '}' ? jc_fail(c, "expected ',' or '}'")
                        : jc_fail(c, "expected ',' or ']'");
}

static bool jc_object(JsonCheck *c, int depth)
{
    g_autoptr(GHashTable) keys = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal, g_free,
                                                       NULL);

    c->p++;
    jc_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (;;) {
        GString *key = g_string_new(NULL);
        int done;

        jc_ws(c);
        if (!jc_string(c, key)) {
            g_string_free(key, true);
            return false;
        }
        /* (Raw text: a key spelled twice differently slips through.) */
        if (!g_hash_table_add(keys, g_string_free(key, false))) {
            return jc_fail(c, "duplicate member name");
        }
        jc_ws(c);
        if (c->p >= c->end || *c->p != ':') {
            return jc_fail(c, "expected ':'");
        }
        c->p++;
        done = jc_member_end(c, depth, '}');
        if (done >= 0) {
            return done;
        }
    }
}

static bool jc_array(JsonCheck *c, int depth)
{
    c->p++;
    jc_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return true;
    }
    for (;;) {
        int done = jc_member_end(c, depth, ']');

        if (done >= 0) {
            return done;
        }
    }
}

static bool jc_value(JsonCheck *c, int depth)
{
    if (depth > FUZZ_JSON_MAX_DEPTH) {
        return jc_fail(c, "nested too deeply");
    }
    jc_ws(c);
    if (c->p >= c->end) {
        return jc_fail(c, "truncated");
    }
    switch (*c->p) {
    case '{':
        return jc_object(c, depth);
    case '[':
        return jc_array(c, depth);
    case '"':
        return jc_string(c, NULL);
    case 't':
        return jc_lit(c, "true");
    case 'f':
        return jc_lit(c, "false");
    case 'n':
        return jc_lit(c, "null");
    default:
        if (*c->p == '-' || g_ascii_isdigit(*c->p)) {
            return jc_number(c);
        }
        return jc_fail(c, "not a JSON value");
    }
}

/* NULL if @text is exactly one valid JSON value, else why not. */
static const char *json_strict_check(const char *text, size_t len)
{
    JsonCheck c = { .p = text, .end = text + len };

    if (!g_utf8_validate(text, len, NULL)) {
        return "invalid UTF-8";
    }
    if (!jc_value(&c, 0)) {
        return c.why;
    }
    jc_ws(&c);
    return c.p == c.end ? NULL : "trailing characters";
}

/* ---------------- ids ---------------- */

/*
 * A canonical text for comparing ids as JSON values: members sorted,
 * integral doubles written as integers (1.0 is echoed as 1).  False for
 * a number JSON cannot write (inf, nan).
 */
static bool canon_append(GString *out, JsonNode *n)
{
    switch (json_node_get_node_type(n)) {
    case JSON_NODE_OBJECT: {
        JsonObject *o = json_node_get_object(n);
        g_autoptr(GList) members = json_object_get_members(o);

        members = g_list_sort(members, (GCompareFunc)strcmp);
        g_string_append_c(out, '{');
        for (GList *l = members; l; l = l->next) {
            g_string_append_printf(out, "%zu:%s=", strlen(l->data),
                                   (char *)l->data);
            if (!canon_append(out, json_object_get_member(o, l->data))) {
                return false;
            }
            g_string_append_c(out, ',');
        }
        g_string_append_c(out, '}');
        return true;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array(n);

        g_string_append_c(out, '[');
        for (guint i = 0; i < json_array_get_length(a); i++) {
            if (!canon_append(out, json_array_get_element(a, i))) {
                return false;
            }
            g_string_append_c(out, ',');
        }
        g_string_append_c(out, ']');
        return true;
    }
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        return true;
    case JSON_NODE_VALUE:
    default:
        break;
    }
    switch (json_node_get_value_type(n)) {
    case G_TYPE_BOOLEAN:
        g_string_append(out, json_node_get_boolean(n) ? "true" : "false");
        return true;
    case G_TYPE_STRING: {
        const char *s = json_node_get_string(n);

        g_string_append_printf(out, "s%zu:%s", strlen(s), s);
        return true;
    }
    case G_TYPE_DOUBLE: {
        double d = json_node_get_double(n);

        if (!isfinite(d)) {
            return false;
        }
        if (d == floor(d) && fabs(d) < 9.2e18) {
            g_string_append_printf(out, "%" PRId64, (int64_t)d);
        } else {
            g_string_append_printf(out, "%.17g", d);
        }
        return true;
    }
    default:
        g_string_append_printf(out, "%" PRId64, json_node_get_int(n));
        return true;
    }
}

static char *canon_id(JsonNode *id)
{
    GString *out = g_string_new(NULL);

    if (!canon_append(out, id)) {
        g_string_free(out, true);
        return NULL;
    }
    return g_string_free(out, false);
}

static bool canon_writable(JsonNode *n)
{
    g_autofree char *c = canon_id(n);

    return c != NULL;
}

/* ---------------- one session ---------------- */

typedef struct FuzzSession {
    JSONStreamer shadow;        /* frames the same bytes as the monitor */
    unsigned requests;          /* values framed (errors included) */
    unsigned replies;
    unsigned want_no_id;        /* requests whose reply has no "id" */
    GHashTable *want_ids;       /* canonical id -> count still expected */
    unsigned errors;
    char *first_error;
    bool greeted;
} FuzzSession;

static void session_request(void *opaque, const char *text, size_t len,
                            const char *error)
{
    FuzzSession *fs = opaque;
    g_autoptr(JsonNode) req = NULL;
    g_autofree char *id = NULL;
    JsonNode *idn;
    guint count;

    fs->requests++;
    if (!error) {
        req = qjson_from_string(text, len, NULL);
    }
    /* An unwritable number anywhere: refused as JSON (see above). */
    idn = req && JSON_NODE_HOLDS_OBJECT(req) && canon_writable(req)
          ? json_object_get_member(json_node_get_object(req), "id") : NULL;
    if (idn) {
        id = canon_id(idn);
        count = GPOINTER_TO_UINT(g_hash_table_lookup(fs->want_ids, id));
        g_hash_table_insert(fs->want_ids, g_steal_pointer(&id),
                            GUINT_TO_POINTER(count + 1));
        return;
    }
    fs->want_no_id++;
}

static void session_init(FuzzSession *fs)
{
    memset(fs, 0, sizeof(*fs));
    json_streamer_init(&fs->shadow, session_request, fs);
    fs->want_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         NULL);
}

static void session_destroy(FuzzSession *fs)
{
    json_streamer_destroy(&fs->shadow);
    g_hash_table_destroy(fs->want_ids);
    g_free(fs->first_error);
}

static bool member_is_string(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);

    return n && qjson_node_is_string(n);
}

static void check_error_member(JsonObject *err, const char *msg)
{
    const char *cls;
    bool known = false;

    if (json_object_get_size(err) != 2 || !member_is_string(err, "class") ||
        !member_is_string(err, "desc")) {
        fuzz_finding("error reply without exactly \"class\" and \"desc\" "
                     "strings: %s", msg);
    }
    cls = json_object_get_string_member(err, "class");
    for (int i = 0; i < ERROR_CLASS__MAX; i++) {
        known |= g_str_equal(cls, error_class_name(i));
    }
    if (!known) {
        fuzz_finding("unknown error class: %s", msg);
    }
}

static void check_reply(FuzzSession *fs, JsonObject *o, const char *msg)
{
    bool ret = json_object_has_member(o, "return");
    bool err = json_object_has_member(o, "error");
    JsonNode *idn = json_object_get_member(o, "id");
    guint want = 1 + (idn != NULL);

    if (ret == err || json_object_get_size(o) != want) {
        fuzz_finding("not a QMP reply (one of \"return\" / \"error\", "
                     "optionally \"id\"): %s", msg);
    }
    if (err) {
        JsonNode *e = json_object_get_member(o, "error");

        if (!JSON_NODE_HOLDS_OBJECT(e)) {
            fuzz_finding("\"error\" is not an object: %s", msg);
        }
        check_error_member(json_node_get_object(e), msg);
        if (!fs->errors++) {
            fs->first_error = g_strdup(json_object_get_string_member(
                json_node_get_object(e), "desc"));
        }
    }
    fs->replies++;
    if (idn) {
        g_autofree char *id = canon_id(idn);
        guint left = id ? GPOINTER_TO_UINT(g_hash_table_lookup(fs->want_ids,
                                                               id)) : 0;

        if (!left) {
            fuzz_finding("reply with an id no request (still) has: %s", msg);
        }
        g_hash_table_insert(fs->want_ids, g_steal_pointer(&id),
                            GUINT_TO_POINTER(left - 1));
    } else {
        if (!fs->want_no_id) {
            fuzz_finding("reply without the request's id: %s", msg);
        }
        fs->want_no_id--;
    }
}

static void check_event(JsonObject *o, const char *msg)
{
    JsonNode *ts = json_object_get_member(o, "timestamp");
    guint want = 2 + json_object_has_member(o, "data");

    if (!member_is_string(o, "event") || !ts || !JSON_NODE_HOLDS_OBJECT(ts) ||
        json_object_get_size(o) != want) {
        fuzz_finding("malformed event: %s", msg);
    }
}

static void check_message(FuzzSession *fs, const char *msg, size_t len)
{
    g_autoptr(JsonNode) node = NULL;
    const char *why = json_strict_check(msg, len);
    JsonObject *o;

    if (why) {
        fuzz_finding("message is not valid JSON (%s): %.*s", why, (int)len,
                     msg);
    }
    node = qjson_from_string(msg, len, NULL);
    if (!node || !JSON_NODE_HOLDS_OBJECT(node)) {
        fuzz_finding("message is not a JSON object: %.*s", (int)len, msg);
    }
    o = json_node_get_object(node);
    if (!fs->greeted) {
        JsonNode *qmp = json_object_get_member(o, "QMP");

        if (!qmp || !JSON_NODE_HOLDS_OBJECT(qmp) ||
            json_object_get_size(o) != 1) {
            fuzz_finding("the first message is not the greeting: %.*s",
                         (int)len, msg);
        }
        fs->greeted = true;
        return;
    }
    if (json_object_has_member(o, "event")) {
        check_event(o, msg);
    } else {
        check_reply(fs, o, msg);
    }
}

/* Every message is one line ending in "\r\n". */
static void check_output(FuzzSession *fs, GString *out)
{
    const char *p = out->str, *end = out->str + out->len;
    GHashTableIter it;
    gpointer key, value;

    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        size_t len;

        if (!nl || nl == p || nl[-1] != '\r') {
            fuzz_finding("output not made of \"\\r\\n\"-terminated lines: "
                         "%.*s", (int)(end - p), p);
        }
        len = nl - 1 - p;
        check_message(fs, p, len);
        p = nl + 1;
    }
    if (!fs->greeted) {
        fuzz_finding("no greeting");
    }
    if (fs->replies != fs->requests) {
        fuzz_finding("%u requests but %u replies", fs->requests, fs->replies);
    }
    g_hash_table_iter_init(&it, fs->want_ids);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (GPOINTER_TO_UINT(value)) {
            fuzz_finding("no reply for the request with id %s",
                         (char *)key);
        }
    }
}

/* ---------------- state: baseline, restore, check ---------------- */

/* Runs a registered command as the dispatcher does; aborts if it fails. */
static char *fuzz_call(const char *name, JsonObject *args)
{
    const QmpCommand *cmd = qmp_find_command(name);
    g_autoptr(JsonObject) empty = json_object_new();
    Error *err = NULL;
    char *ret;

    if (!cmd) {
        fuzz_setup_failed(name, "command not registered");
    }
    args = args ? args : empty;
    if (!qmp_check_args(cmd, args, &err)) {
        fuzz_finding("%s: %s", name, error_get_pretty(err));
    }
    ret = cmd->fn(args, &err);
    if (!ret) {
        fuzz_finding("%s failed: %s", name, error_get_pretty(err));
    }
    return ret;
}

static GArray *trace_states(void)
{
    GArray *a = g_array_new(false, false, sizeof(bool));
    TraceEventIter iter;
    TraceEvent *ev;

    trace_event_iter_init(&iter, NULL);
    while ((ev = trace_event_iter_next(&iter))) {
        bool on = trace_event_get_state(ev);

        g_array_append_val(a, on);
    }
    return a;
}

static char *fuzz_state_fingerprint(void)
{
    static const char *const queries[] = {
        "query-status", "query-migrate", "query-migrate-capabilities",
        "query-migrate-parameters", "query-name",
    };
    GString *out = g_string_new(NULL);
    g_autoptr(GArray) trace = trace_states();

    for (size_t i = 0; i < G_N_ELEMENTS(queries); i++) {
        g_autofree char *r = fuzz_call(queries[i], NULL);

        g_string_append_printf(out, "%s: %s\n", queries[i], r);
    }
    g_string_append_printf(out, "autostart: %d\nshutdown pending: %d\n"
                           "trace:", autostart,
                           qemu_system_shutdown_pending());
    for (guint i = 0; i < trace->len; i++) {
        g_string_append_c(out, g_array_index(trace, bool, i) ? '1' : '0');
    }
    return g_string_free(out, false);
}

/* {"NAME": <the JSON text @value>} */
static JsonNode *wrap_args(const char *name, const char *value)
{
    g_autofree char *text = NULL;
    JsonNode *n;

    text = name ? g_strdup_printf("{\"%s\": %s}", name, value)
                : g_strdup(value);
    n = qjson_from_string(text, -1, NULL);
    if (!n || !JSON_NODE_HOLDS_OBJECT(n)) {
        fuzz_setup_failed("baseline", text);
    }
    return n;
}

static void fuzz_take_baseline(void)
{
    baseline.caps = fuzz_call("query-migrate-capabilities", NULL);
    baseline.params = fuzz_call("query-migrate-parameters", NULL);
    baseline.caps_args = wrap_args("capabilities", baseline.caps);
    baseline.params_args = wrap_args(NULL, baseline.params);
    baseline.trace = trace_states();
    baseline.autostart = autostart;
    baseline.fingerprint = fuzz_state_fingerprint();
}

/* Puts back what an input may have changed (see the design note). */
static void fuzz_restore_state(void)
{
    MigrationState *s = migrate_get_current();
    g_autofree char *caps = fuzz_call("query-migrate-capabilities", NULL);
    g_autofree char *params = fuzz_call("query-migrate-parameters", NULL);
    g_autofree char *now = NULL;
    TraceEventIter iter;
    TraceEvent *ev;
    guint i = 0;

    if (strcmp(caps, baseline.caps)) {
        g_free(fuzz_call("migrate-set-capabilities",
                         json_node_get_object(baseline.caps_args)));
    }
    if (strcmp(params, baseline.params)) {
        g_free(fuzz_call("migrate-set-parameters",
                         json_node_get_object(baseline.params_args)));
    }
    trace_event_iter_init(&iter, NULL);
    while ((ev = trace_event_iter_next(&iter)) && i < baseline.trace->len) {
        trace_event_set_state(ev, g_array_index(baseline.trace, bool, i++));
    }
    autostart = baseline.autostart;
    /* The baseline has no objects: those object-add made go. */
    user_creatable_cleanup();
    /* Stale posts (migrate-continue...), as reset_stats() drains them. */
    while (qemu_sem_timedwait(&s->pause_sem, 0) == 0) {
        /* drain */
    }
    while (qemu_sem_timedwait(&s->rate_limit_sem, 0) == 0) {
        /* drain */
    }
    while (qemu_sem_timedwait(&s->postcopy_pause_sem, 0) == 0) {
        /* drain */
    }
    now = fuzz_state_fingerprint();
    if (strcmp(now, baseline.fingerprint)) {
        fuzz_finding("the state was not restored after the input:\n"
                     "--- start-up\n%s\n--- now\n%s", baseline.fingerprint,
                     now);
    }
}

/* ---------------- set-up ---------------- */

/* qemu_init() for "-M none -m 64M -incoming defer -qmp null". */
static void fuzz_qmp_init(void)
{
    Chardev *chr;
    Error *err = NULL;

    qemu_init_host_page();
    signal(SIGPIPE, SIG_IGN);
    if (g_getenv("FERRY_FUZZ_TRACE")) {
        fuzz_setup_trace();
    } else if (!qemu_set_log_filename("/dev/null", &err)) {
        fuzz_setup_failed("-D /dev/null", error_get_pretty(err));
    }
    qemu_main_loop_init();          /* takes the BQL */
    machine_register_builtin();
    qmp_register_builtin_commands();
    qcrypto_tls_creds_register_types();
    qauthz_register_types();
    qmp_register_object_commands();
    cpu_timers_init();              /* section order: timer, ram, ... */
    migration_init();

    monitor_init_globals();
    chr = qemu_chr_new("compat_monitor0", "null", &err);
    if (!chr) {
        fuzz_setup_failed("-qmp null", error_get_pretty(err));
    }
    fuzz_mon = monitor_init_qmp(chr, false, &err);
    if (!fuzz_mon) {
        fuzz_setup_failed("monitor", error_get_pretty(err));
    }
    qtest_accel_init();
    fuzz_machine_create("none", FUZZ_RAM_SIZE);
    if (!generic_loader_reset(&err)) {
        fuzz_setup_failed("loaders", error_get_pretty(err));
    }
    autostart = true;
    if (!migration_incoming_setup("defer", &err)) {
        fuzz_setup_failed("-incoming defer", error_get_pretty(err));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(fuzz_disabled); i++) {
        qmp_disable_command(fuzz_disabled[i].name, fuzz_disabled[i].reason);
    }
    fuzz_take_baseline();
}

/* ---------------- one input ---------------- */

static int fuzz_qmp_run(const uint8_t *data, size_t size, char **why)
{
    g_autoptr(GString) out = g_string_new(NULL);
    FuzzSession fs;
    size_t pos = 0;
    int ret;

    session_init(&fs);
    monitor_qmp_set_capture(fuzz_mon, out);
    bql_unlock();
    monitor_qmp_client_event(fuzz_mon, true);
    bql_lock();
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;

        /* The I/O thread's part, then the main thread's. */
        bql_unlock();
        monitor_qmp_feed(fuzz_mon, data + pos, len);
        bql_lock();
        json_streamer_feed(&fs.shadow, (const char *)data + pos, len);
        if (!monitor_qmp_run_pending(fuzz_mon)) {
            fuzz_finding("requests left unanswered (shutdown pending: %d)",
                         qemu_system_shutdown_pending());
        }
        pos += len;
    }
    bql_unlock();
    monitor_qmp_client_event(fuzz_mon, false);
    bql_lock();
    monitor_qmp_set_capture(fuzz_mon, NULL);

    check_output(&fs, out);
    fuzz_restore_state();

    ret = fs.requests && !fs.errors ? 0 : 1;
    if (why && ret) {
        *why = fs.requests ? g_strdup_printf("%u of %u requests failed, the "
                                             "first: %s", fs.errors,
                                             fs.requests, fs.first_error)
                           : g_strdup("no request");
    }
    session_destroy(&fs);
    return ret;
}

/* ---------------- seeds ---------------- */

#define NEGOTIATE "{\"execute\": \"qmp_capabilities\"}\n"

static const struct {
    const char *name;
    const char *text;
} fuzz_seeds[] = {
    { "queries",
      NEGOTIATE
      "{\"execute\": \"query-status\"}\n"
      "{\"execute\": \"query-version\", \"id\": 1}\n"
      "{\"execute\": \"query-name\", \"id\": \"two\"}\n"
      "{\"execute\": \"query-commands\"}\n"
      "{\"execute\": \"query-chardev\", \"id\": [3, {\"x\": null}]}\n"
      "{\"execute\": \"query-memory-size-summary\"}\n" },
    { "oob-pipelined",
      "{\"execute\": \"qmp_capabilities\", \"arguments\": "
      "{\"enable\": [\"oob\"]}, \"id\": \"neg\"}\n"
      "{\"execute\": \"query-status\", \"id\": 1}"
      "{\"execute\": \"query-migrate\", \"id\": 2} "
      "{'execute': 'query-version', 'id': 3.5}\n" },
    { "migration-options",
      NEGOTIATE
      "{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
      "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}, "
      "{\"capability\": \"return-path\", \"state\": true}]}}\n"
      "{\"execute\": \"query-migrate-capabilities\"}\n"
      "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
      "{\"max-bandwidth\": 1048576, \"downtime-limit\": 500, "
      "\"max-postcopy-bandwidth\": 0, \"multifd-compression\": \"zlib\", "
      "\"tls-hostname\": null, \"announce-step\": 10}}\n"
      "{\"execute\": \"query-migrate-parameters\"}\n"
      "{\"execute\": \"query-migrate\"}\n" },
    { "objects",
      NEGOTIATE
      "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": "
      "\"authz-simple\", \"id\": \"auth0\", \"identity\": \"CN=a\"}}\n"
      "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
      "{\"tls-creds\": \"tls0\", \"tls-authz\": \"auth0\"}}\n"
      "{\"execute\": \"query-migrate-parameters\"}\n"
      "{\"execute\": \"object-del\", \"arguments\": {\"id\": \"auth0\"}}\n" },
    { "runstate-trace",
      NEGOTIATE
      "{\"execute\": \"stop\"}\n"
      "{\"execute\": \"query-status\"}\n"
      "{\"execute\": \"cont\", \"id\": null}\n"
      "{\"execute\": \"trace-event-get-state\", \"arguments\": "
      "{\"name\": \"qmp_*\"}}\n"
      "{\"execute\": \"trace-event-set-state\", \"arguments\": "
      "{\"name\": \"qmp_dispatch\", \"enable\": true}}\n"
      "{\"execute\": \"query-status\"}\n" },
    { "migrate-misc",
      NEGOTIATE
      "{\"execute\": \"migrate_cancel\"}\n"
      "{\"execute\": \"migrate-continue\", \"arguments\": "
      "{\"state\": \"none\"}}\n"
      "\xff{\"execute\": \"query-migrate\", \"id\": {\"a\": [true]}}\n" },
};

static void fuzz_qmp_seeds(FuzzSeedFn add, void *opaque)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fuzz_seeds); i++) {
        add(fuzz_seeds[i].name, (const uint8_t *)fuzz_seeds[i].text,
            strlen(fuzz_seeds[i].text), opaque);
    }
}

const FuzzTarget fuzz_target = {
    .name = "qmp",
    .init = fuzz_qmp_init,
    .run = fuzz_qmp_run,
    .make_seeds = fuzz_qmp_seeds,
};
