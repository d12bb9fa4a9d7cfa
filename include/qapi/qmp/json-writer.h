/*
 * json-writer.h: JSON output in QEMU's spelling.
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
 *
 * Member order: by default members appear in the order written.  QEMU
 * prints QMP objects from its QDict hash table, so their members come out
 * in hash-bucket order ({"return": {}, "id": 1} but {"id": 1, "error":
 * ...}); json_writer_new_qdict() reproduces that order, which QMP output
 * uses so that ferry's replies are byte-identical to QEMU's.
 */
#ifndef QAPI_QMP_JSON_WRITER_H
#define QAPI_QMP_JSON_WRITER_H

#include "qemu/osdep.h"
#include <json-glib/json-glib.h>

typedef struct JSONWriter JSONWriter;

JSONWriter *json_writer_new(bool pretty);
/* Members of every object in QEMU QDict iteration order. */
JSONWriter *json_writer_new_qdict(bool pretty);
/* Returns the text and frees the writer. */
char *json_writer_finish(JSONWriter *w);
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
/*
 * Inserts @json, one complete JSON value, as a leaf: its text is copied
 * verbatim (it is not re-ordered or re-indented).
 */
void json_writer_raw(JSONWriter *w, const char *name, const char *json);

/* Appends @str as a quoted, escaped JSON string. */
void json_quote_append(GString *out, const char *str);

/*
 * QEMU's QDict bucket of @key (its iteration is bucket 0..511, newest
 * entry first within a bucket).  Exposed for QMP's input checks, which
 * visit members in this order too.
 */
unsigned qdict_bucket(const char *key);
/* Sorts @keys (char *, in insertion order) into QDict iteration order. */
void qdict_order_keys(GPtrArray *keys);

#endif
