/*
 * qjson.h: parsing JSON text into json-glib values, and typed accessors
 * that keep QMP's rules (integers vs numbers, unsigned values).
 *
 * Output goes through json-writer.h.
 */
#ifndef QAPI_QMP_QJSON_H
#define QAPI_QMP_QJSON_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <json-glib/json-glib.h>

/* Parses one JSON value; failures say "JSON parse error, ...". */
JsonNode *qjson_from_string(const char *text, gssize len, Error **errp);
char *qjson_to_string(JsonNode *node);

bool qjson_node_is_string(JsonNode *node);
bool qjson_node_is_bool(JsonNode *node);
/* An integer literal (not 1.0 or 1e3). */
bool qjson_node_is_int(JsonNode *node);
bool qjson_node_is_number(JsonNode *node);

#endif
