/*
 * json-writer.h: streaming JSON output in QEMU's spelling.
 *
 * QMP replies, events and the migration stream's JSON description are
 * written with this, never by hand-formatting: it handles separators,
 * escaping (control and non-ASCII characters as \uXXXX, as QEMU does) and
 * the full uint64 range, which json-glib's int64 nodes cannot hold.
 *
 *   JSONWriter *w = json_writer_new(false);
 *   json_writer_start_object(w, NULL);
 *   json_writer_str(w, "status", "running");
 *   json_writer_end_object(w);
 *   char *text = json_writer_finish(w);      -> {"status": "running"}
 *
 * Inside an object every value takes a member name; inside an array or at
 * the top level the name must be NULL.
 */
#ifndef QAPI_QMP_JSON_WRITER_H
#define QAPI_QMP_JSON_WRITER_H

#include "qemu/osdep.h"
#include <json-glib/json-glib.h>

typedef struct JSONWriter JSONWriter;

JSONWriter *json_writer_new(bool pretty);
/* Returns the text and frees the writer. */
char *json_writer_finish(JSONWriter *w);
const char *json_writer_get(JSONWriter *w);
void json_writer_free(JSONWriter *w);

void json_writer_start_object(JSONWriter *w, const char *name);
void json_writer_end_object(JSONWriter *w);
void json_writer_start_list(JSONWriter *w, const char *name);
void json_writer_end_list(JSONWriter *w);
void json_writer_bool(JSONWriter *w, const char *name, bool val);
void json_writer_null(JSONWriter *w, const char *name);
void json_writer_int64(JSONWriter *w, const char *name, int64_t val);
void json_writer_uint64(JSONWriter *w, const char *name, uint64_t val);
void json_writer_double(JSONWriter *w, const char *name, double val);
void json_writer_str(JSONWriter *w, const char *name, const char *str);
/* Writes a parsed json-glib value (e.g. an echoed QMP "id"). */
void json_writer_node(JSONWriter *w, const char *name, JsonNode *node);
/* Inserts @json, which must be one complete JSON value, verbatim. */
void json_writer_raw(JSONWriter *w, const char *name, const char *json);

/* Appends @str as a quoted, escaped JSON string. */
void json_quote_append(GString *out, const char *str);

#endif
