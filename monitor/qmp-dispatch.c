/*
 * qmp-dispatch.c: the command registry and QEMU-compatible argument checks.
 *
 * The registry is filled at start-up (main thread, before the monitor
 * thread exists) and read-only afterwards, so lookups take no lock.
 */
#include "qemu/osdep.h"
#include "qapi/qmp/dispatch.h"
#include "qapi/qmp/qjson.h"
#include "qapi/qmp/json-writer.h"
#include "monitor-internal.h"

static GPtrArray *qmp_commands;
/*
 * Commands this instance refuses, name -> reason (QEMU's
 * qmp_disable_command()): they stay registered, and listed by
 * query-commands, but are answered with CommandNotFound before their
 * arguments are looked at.  Filled at start-up like the registry.
 */
static GHashTable *qmp_disabled;

void qmp_register_command(const QmpCommand *cmd)
{
    if (!qmp_commands) {
        qmp_commands = g_ptr_array_new();
    }
    assert(!qmp_find_command(cmd->name));
    g_ptr_array_add(qmp_commands, (gpointer)cmd);
}

void qmp_register_commands(const QmpCommand *cmds)
{
    for (; cmds->name; cmds++) {
        qmp_register_command(cmds);
    }
}

const QmpCommand *qmp_find_command(const char *name)
{
    for (guint i = 0; qmp_commands && i < qmp_commands->len; i++) {
        const QmpCommand *cmd = qmp_commands->pdata[i];

        if (g_str_equal(cmd->name, name)) {
            return cmd;
        }
    }
    return NULL;
}

void qmp_disable_command(const char *name, const char *reason)
{
    assert(qmp_find_command(name));
    if (!qmp_disabled) {
        qmp_disabled = g_hash_table_new_full(g_str_hash, g_str_equal,
                                             g_free, g_free);
    }
    g_hash_table_replace(qmp_disabled, g_strdup(name), g_strdup(reason));
}

const char *qmp_command_disabled(const char *name)
{
    return qmp_disabled ? g_hash_table_lookup(qmp_disabled, name) : NULL;
}

void qmp_for_each_command(void (*fn)(const QmpCommand *cmd, void *opaque),
                          void *opaque)
{
    for (guint i = 0; qmp_commands && i < qmp_commands->len; i++) {
        fn(qmp_commands->pdata[i], opaque);
    }
}

/*
 * One argument against its declared type, with the message QEMU's input
 * visitor gives: strings, booleans, integers, objects and lists report
 * "Invalid parameter type for 'x', expected: T"; unsigned integers
 * "Parameter 'x' expects uint64" (or uint8_t, uint32_t when too large).
 * Negative numbers are accepted for unsigned types, as QEMU does.
 */
static bool check_arg(const QmpArgSpec *spec, JsonNode *n, Error **errp)
{
    const char *want = NULL;

    switch (spec->type) {
    case QMP_ARG_STR:
        want = qjson_node_is_string(n) ? NULL : "string";
        break;
    case QMP_ARG_STR_OR_NULL:
        want = qjson_node_is_string(n) || JSON_NODE_HOLDS_NULL(n)
               ? NULL : "StrOrNull";
        break;
    case QMP_ARG_BOOL:
        want = qjson_node_is_bool(n) ? NULL : "boolean";
        break;
    case QMP_ARG_INT:
        want = qjson_node_is_int(n) ? NULL : "integer";
        break;
    case QMP_ARG_NUMBER:
        want = qjson_node_is_number(n) ? NULL : "number";
        break;
    case QMP_ARG_OBJECT:
        want = JSON_NODE_HOLDS_OBJECT(n) ? NULL : "object";
        break;
    case QMP_ARG_ARRAY:
        want = JSON_NODE_HOLDS_ARRAY(n) ? NULL : "array";
        break;
    case QMP_ARG_UINT:
    case QMP_ARG_SIZE:
    case QMP_ARG_UINT8:
    case QMP_ARG_UINT32: {
        uint64_t v, max = spec->type == QMP_ARG_UINT8 ? UINT8_MAX
                        : spec->type == QMP_ARG_UINT32 ? UINT32_MAX
                        : UINT64_MAX;

        if (!qjson_node_is_int(n)) {
            error_setg(errp, "Parameter '%s' expects uint64", spec->name);
            return false;
        }
        v = (uint64_t)json_node_get_int(n);
        if (v > max) {
            error_setg(errp, "Parameter '%s' expects %s", spec->name,
                       spec->type == QMP_ARG_UINT8 ? "uint8_t"
                                                   : "uint32_t");
            return false;
        }
        return true;
    }
    case QMP_ARG_ANY:
    default:
        return true;
    }
    if (want) {
        error_setg(errp, "Invalid parameter type for '%s', expected: %s",
                   spec->name, want);
        return false;
    }
    return true;
}

bool qmp_check_args(const QmpCommand *cmd, JsonObject *args, Error **errp)
{
    const QmpArgSpec *spec;
    g_autoptr(GList) members = json_object_get_members(args);
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    g_autoptr(GHashTable) unvisited = NULL;
    GHashTableIter iter;
    gpointer key;

    /* Declared order first: missing and mistyped arguments. */
    for (spec = cmd->args; spec && spec->name; spec++) {
        JsonNode *n = json_object_get_member(args, spec->name);

        if (!n) {
            if (!spec->optional) {
                error_setg(errp, "Parameter '%s' is missing", spec->name);
                return false;
            }
            continue;
        }
        if (!check_arg(spec, n, errp)) {
            return false;
        }
    }
    /*
     * Then anything the command does not take.  QEMU's input visitor puts
     * the members (in QDict order) in a GHashTable, removes those it
     * visited and complains about the first one left in the table's own
     * order; doing exactly that picks the same member when there are
     * several.
     */
    for (GList *l = members; l; l = l->next) {
        g_ptr_array_add(keys, l->data);
    }
    qdict_order_keys(keys);
    unvisited = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < keys->len; i++) {
        g_hash_table_add(unvisited, keys->pdata[i]);
    }
    for (spec = cmd->args; spec && spec->name; spec++) {
        g_hash_table_remove(unvisited, spec->name);
    }
    g_hash_table_iter_init(&iter, unvisited);
    if (g_hash_table_iter_next(&iter, &key, NULL)) {
        error_setg(errp, "Parameter '%s' is unexpected", (const char *)key);
        return false;
    }
    return true;
}

bool qmp_arg_has(JsonObject *args, const char *name)
{
    return json_object_has_member(args, name);
}

const char *qmp_arg_str(JsonObject *args, const char *name)
{
    JsonNode *n = json_object_get_member(args, name);

    return n && qjson_node_is_string(n) ? json_node_get_string(n) : NULL;
}

bool qmp_arg_bool(JsonObject *args, const char *name, bool defval)
{
    JsonNode *n = json_object_get_member(args, name);

    return n && qjson_node_is_bool(n) ? json_node_get_boolean(n) : defval;
}

int64_t qmp_arg_int(JsonObject *args, const char *name, int64_t defval)
{
    JsonNode *n = json_object_get_member(args, name);

    return n && qjson_node_is_int(n) ? json_node_get_int(n) : defval;
}

uint64_t qmp_arg_uint(JsonObject *args, const char *name, uint64_t defval)
{
    JsonNode *n = json_object_get_member(args, name);

    /* json-glib keeps the bit pattern of literals up to 2^64-1. */
    return n && qjson_node_is_int(n) ? (uint64_t)json_node_get_int(n)
                                     : defval;
}

double qmp_arg_number(JsonObject *args, const char *name, double defval)
{
    JsonNode *n = json_object_get_member(args, name);

    if (!n || !qjson_node_is_number(n)) {
        return defval;
    }
    return qjson_node_is_int(n) ? (double)json_node_get_int(n)
                                : json_node_get_double(n);
}
