/*
 * test-json: the QEMU-spelled writer and the QMP stream framer.
 */
#include "qemu/osdep.h"
#include "qapi/qmp/json-writer.h"
#include "qapi/qmp/json-streamer.h"
#include "qapi/qmp/qjson.h"

static void test_writer_compact(void)
{
    JSONWriter *w = json_writer_new(false);
    g_autofree char *s = NULL;

    json_writer_start_object(w, NULL);
    json_writer_str(w, "status", "running");
    json_writer_bool(w, "running", true);
    json_writer_uint64(w, "max", UINT64_MAX);
    json_writer_int64(w, "neg", -5);
    json_writer_start_list(w, "l");
    json_writer_int64(w, NULL, 1);
    json_writer_null(w, NULL);
    json_writer_start_object(w, NULL);
    json_writer_end_object(w);
    json_writer_end_list(w);
    json_writer_double(w, "d", 14.957974160206719);
    json_writer_end_object(w);
    s = json_writer_finish(w);
    g_assert_cmpstr(s, ==, "{\"status\": \"running\", \"running\": true, "
                    "\"max\": 18446744073709551615, \"neg\": -5, "
                    "\"l\": [1, null, {}], \"d\": 14.957974160206719}");
}

static void test_writer_escape(void)
{
    GString *out = g_string_new(NULL);

    json_quote_append(out, "a\"b\\c\n\t\x01\xc3\xa9\xf0\x9f\x98\x80");
    g_assert_cmpstr(out->str, ==,
                    "\"a\\\"b\\\\c\\n\\t\\u0001\\u00E9\\uD83D\\uDE00\"");
    g_string_free(out, true);
}

static void test_writer_pretty(void)
{
    JSONWriter *w = json_writer_new(true);
    g_autofree char *s = NULL;

    json_writer_start_object(w, NULL);
    json_writer_start_object(w, "return");
    json_writer_end_object(w);
    json_writer_int64(w, "id", 1);
    json_writer_end_object(w);
    s = json_writer_finish(w);
    g_assert_cmpstr(s, ==, "{\n    \"return\": {},\n    \"id\": 1\n}");
}

static void test_writer_node_roundtrip(void)
{
    const char *in = "{\"a\": [1, 2.5, \"x\", true, null], \"b\": {}}";
    g_autoptr(JsonNode) n = qjson_from_string(in, -1, &error_abort);
    g_autofree char *out = qjson_to_string(n);

    g_assert_cmpstr(out, ==, in);
}

typedef struct Collected {
    GPtrArray *texts;
    GPtrArray *errors;
} Collected;

static void collect(void *opaque, const char *text, size_t len,
                    const char *error)
{
    Collected *c = opaque;

    if (text) {
        g_ptr_array_add(c->texts, g_strndup(text, len));
    } else {
        g_ptr_array_add(c->errors, g_strdup(error));
    }
}

static void feed_bytewise(JSONStreamer *s, const char *data)
{
    for (const char *p = data; *p; p++) {
        json_streamer_feed(s, p, 1);
    }
}

static void test_streamer_split(void)
{
    Collected c = { g_ptr_array_new_with_free_func(g_free),
                    g_ptr_array_new_with_free_func(g_free) };
    JSONStreamer s;

    json_streamer_init(&s, collect, &c);
    /* Two objects in one write, one split byte by byte, braces in strings. */
    json_streamer_feed(&s, "{\"a\": 1}{\"b\": \"}{\"}\n", 19);
    feed_bytewise(&s, " {\"c\": ['x\\'}', [1, {}]]} 42 \"s\"\n");
    g_assert_cmpuint(c.texts->len, ==, 5);
    g_assert_cmpstr(c.texts->pdata[0], ==, "{\"a\": 1}");
    g_assert_cmpstr(c.texts->pdata[1], ==, "{\"b\": \"}{\"}");
    g_assert_cmpstr(c.texts->pdata[2], ==, "{\"c\": ['x\\'}', [1, {}]]}");
    g_assert_cmpstr(c.texts->pdata[3], ==, "42");
    g_assert_cmpstr(c.texts->pdata[4], ==, "\"s\"");
    g_assert_cmpuint(c.errors->len, ==, 0);
    json_streamer_destroy(&s);
    g_ptr_array_free(c.texts, true);
    g_ptr_array_free(c.errors, true);
}

static void test_streamer_nesting_limit(void)
{
    Collected c = { g_ptr_array_new_with_free_func(g_free),
                    g_ptr_array_new_with_free_func(g_free) };
    JSONStreamer s;
    GString *deep = g_string_new(NULL);

    json_streamer_init(&s, collect, &c);
    for (int i = 0; i < JSON_MAX_NESTING + 10; i++) {
        g_string_append_c(deep, '[');
    }
    g_string_append(deep, "\n{\"ok\": 1}");
    json_streamer_feed(&s, deep->str, deep->len);
    g_assert_cmpuint(c.errors->len, ==, 1);
    /* Recovery: skipped to the newline, then parsed the next object. */
    g_assert_cmpuint(c.texts->len, ==, 1);
    g_assert_cmpstr(c.texts->pdata[0], ==, "{\"ok\": 1}");
    json_streamer_destroy(&s);
    g_string_free(deep, true);
    g_ptr_array_free(c.texts, true);
    g_ptr_array_free(c.errors, true);
}

static void test_streamer_reset_byte(void)
{
    Collected c = { g_ptr_array_new_with_free_func(g_free),
                    g_ptr_array_new_with_free_func(g_free) };
    JSONStreamer s;

    json_streamer_init(&s, collect, &c);
    json_streamer_feed(&s, "{\"half\": \xff{\"x\": 1}",
                       strlen("{\"half\": \xff{\"x\": 1}"));
    g_assert_cmpuint(c.texts->len, ==, 1);
    g_assert_cmpstr(c.texts->pdata[0], ==, "{\"x\": 1}");
    json_streamer_destroy(&s);
    g_ptr_array_free(c.texts, true);
    g_ptr_array_free(c.errors, true);
}

static void test_parse_errors(void)
{
    Error *err = NULL;

    g_assert_null(qjson_from_string("{\"execute\": }", -1, &err));
    g_assert_true(g_str_has_prefix(error_get_pretty(err),
                                   "JSON parse error"));
    error_free(err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qobject/json-writer/compact", test_writer_compact);
    g_test_add_func("/qobject/json-writer/escape", test_writer_escape);
    g_test_add_func("/qobject/json-writer/pretty", test_writer_pretty);
    g_test_add_func("/qobject/json-writer/node-roundtrip",
                    test_writer_node_roundtrip);
    g_test_add_func("/qobject/json-streamer/split", test_streamer_split);
    g_test_add_func("/qobject/json-streamer/nesting-limit",
                    test_streamer_nesting_limit);
    g_test_add_func("/qobject/json-streamer/reset-byte",
                    test_streamer_reset_byte);
    g_test_add_func("/qobject/qjson/parse-errors", test_parse_errors);
    return g_test_run();
}
