/*
 * qjson.c: JSON text to json-glib values.
 */
#include "qemu/osdep.h"
#include "qapi/qmp/qjson.h"
#include "qapi/qmp/json-writer.h"

JsonNode *qjson_from_string(const char *text, gssize len, Error **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) gerr = NULL;
    JsonNode *root;

    if (!json_parser_load_from_data(parser, text, len, &gerr)) {
        error_setg(errp, "JSON parse error, %s", gerr->message);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root) {
        error_setg(errp, "JSON parse error, empty input");
        return NULL;
    }
    return json_node_copy(root);
}

char *qjson_to_string(JsonNode *node)
{
    JSONWriter *w = json_writer_new(false);

    json_writer_node(w, NULL, node);
    return json_writer_finish(w);
}

bool qjson_node_is_string(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) &&
           json_node_get_value_type(node) == G_TYPE_STRING;
}

bool qjson_node_is_bool(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) &&
           json_node_get_value_type(node) == G_TYPE_BOOLEAN;
}

bool qjson_node_is_int(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) &&
           json_node_get_value_type(node) == G_TYPE_INT64;
}

bool qjson_node_is_number(JsonNode *node)
{
    return qjson_node_is_int(node) ||
           (JSON_NODE_HOLDS_VALUE(node) &&
            json_node_get_value_type(node) == G_TYPE_DOUBLE);
}
