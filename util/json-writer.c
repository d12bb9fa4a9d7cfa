/*
 * json-writer.c: streaming JSON output (see json-writer.h).
 *
 * The writer tracks, per nesting level, whether a value has been written,
 * which is all it needs to place ", " separators.  Pretty mode puts every
 * member on its own line with four-space indentation.
 */
#include "qemu/osdep.h"
#include "qapi/qmp/json-writer.h"

struct JSONWriter {
    GString *out;
    bool pretty;
    bool need_comma;
    GByteArray *container;  /* '{' or '[' per open level */
};

JSONWriter *json_writer_new(bool pretty)
{
    JSONWriter *w = g_new0(JSONWriter, 1);

    w->out = g_string_new(NULL);
    w->pretty = pretty;
    w->container = g_byte_array_new();
    return w;
}

const char *json_writer_get(JSONWriter *w)
{
    assert(w->container->len == 0);
    return w->out->str;
}

char *json_writer_finish(JSONWriter *w)
{
    char *s;

    assert(w->container->len == 0);
    s = g_string_free(w->out, false);
    g_byte_array_unref(w->container);
    g_free(w);
    return s;
}

void json_writer_free(JSONWriter *w)
{
    if (w) {
        g_string_free(w->out, true);
        g_byte_array_unref(w->container);
        g_free(w);
    }
}

void json_quote_append(GString *out, const char *str)
{
    const unsigned char *p = (const unsigned char *)str;

    g_string_append_c(out, '"');
    while (*p) {
        gunichar c;
        const char *next;

        switch (*p) {
        case '"':
            g_string_append(out, "\\\"");
            p++;
            continue;
        case '\\':
            g_string_append(out, "\\\\");
            p++;
            continue;
        case '\b':
            g_string_append(out, "\\b");
            p++;
            continue;
        case '\f':
            g_string_append(out, "\\f");
            p++;
            continue;
        case '\n':
            g_string_append(out, "\\n");
            p++;
            continue;
        case '\r':
            g_string_append(out, "\\r");
            p++;
            continue;
        case '\t':
            g_string_append(out, "\\t");
            p++;
            continue;
        }
        if (*p >= 0x20 && *p < 0x7f) {
            g_string_append_c(out, *p++);
            continue;
        }
        /* Control characters and everything non-ASCII: \uXXXX. */
        c = g_utf8_get_char_validated((const char *)p, -1);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            /* Invalid UTF-8 byte: emit U+FFFD, as QEMU does. */
            c = 0xfffd;
            next = (const char *)p + 1;
        } else {
            next = g_utf8_next_char(p);
        }
        if (c >= 0x10000) {
            c -= 0x10000;
            g_string_append_printf(out, "\\u%04X\\u%04X",
                                   0xd800 | (c >> 10), 0xdc00 | (c & 0x3ff));
        } else {
            g_string_append_printf(out, "\\u%04X", c);
        }
        p = (const unsigned char *)next;
    }
    g_string_append_c(out, '"');
}

static void indent(JSONWriter *w)
{
    g_string_append_c(w->out, '\n');
    for (guint i = 0; i < w->container->len; i++) {
        g_string_append(w->out, "    ");
    }
}

/* Writes the separator and member name that precede any value. */
static void pre_value(JSONWriter *w, const char *name)
{
    bool in_object = w->container->len &&
                     w->container->data[w->container->len - 1] == '{';

    assert(in_object == (name != NULL));
    if (w->need_comma) {
        g_string_append_c(w->out, ',');
        if (!w->pretty) {
            g_string_append_c(w->out, ' ');
        }
    }
    if (w->pretty && w->container->len) {
        indent(w);
    }
    if (name) {
        json_quote_append(w->out, name);
        g_string_append(w->out, ": ");
    }
    w->need_comma = true;
}

static void start(JSONWriter *w, const char *name, char open)
{
    pre_value(w, name);
    g_string_append_c(w->out, open);
    g_byte_array_append(w->container, (const guint8 *)&open, 1);
    w->need_comma = false;
}

static void end(JSONWriter *w, char open, char close)
{
    bool empty = !w->need_comma;

    assert(w->container->len &&
           w->container->data[w->container->len - 1] == open);
    g_byte_array_set_size(w->container, w->container->len - 1);
    if (w->pretty && !empty) {
        indent(w);
    }
    g_string_append_c(w->out, close);
    w->need_comma = true;
}

void json_writer_start_object(JSONWriter *w, const char *name)
{
    start(w, name, '{');
}

void json_writer_end_object(JSONWriter *w)
{
    end(w, '{', '}');
}

void json_writer_start_list(JSONWriter *w, const char *name)
{
    start(w, name, '[');
}

void json_writer_end_list(JSONWriter *w)
{
    end(w, '[', ']');
}

void json_writer_bool(JSONWriter *w, const char *name, bool val)
{
    pre_value(w, name);
    g_string_append(w->out, val ? "true" : "false");
}

void json_writer_null(JSONWriter *w, const char *name)
{
    pre_value(w, name);
    g_string_append(w->out, "null");
}

void json_writer_int64(JSONWriter *w, const char *name, int64_t val)
{
    pre_value(w, name);
    g_string_append_printf(w->out, "%" PRId64, val);
}

void json_writer_uint64(JSONWriter *w, const char *name, uint64_t val)
{
    pre_value(w, name);
    g_string_append_printf(w->out, "%" PRIu64, val);
}

void json_writer_double(JSONWriter *w, const char *name, double val)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    pre_value(w, name);
    /* Shortest text that reads back as the same double, like QEMU's %.17g. */
    g_ascii_formatd(buf, sizeof(buf), "%.17g", val);
    g_string_append(w->out, buf);
}

void json_writer_str(JSONWriter *w, const char *name, const char *str)
{
    pre_value(w, name);
    json_quote_append(w->out, str);
}

void json_writer_raw(JSONWriter *w, const char *name, const char *json)
{
    pre_value(w, name);
    g_string_append(w->out, json);
}

void json_writer_node(JSONWriter *w, const char *name, JsonNode *node)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT: {
        JsonObject *obj = json_node_get_object(node);
        g_autoptr(GList) members = json_object_get_members(obj);

        json_writer_start_object(w, name);
        for (GList *l = members; l; l = l->next) {
            json_writer_node(w, l->data, json_object_get_member(obj, l->data));
        }
        json_writer_end_object(w);
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);

        json_writer_start_list(w, name);
        for (guint i = 0; i < json_array_get_length(arr); i++) {
            json_writer_node(w, NULL, json_array_get_element(arr, i));
        }
        json_writer_end_list(w);
        break;
    }
    case JSON_NODE_NULL:
        json_writer_null(w, name);
        break;
    case JSON_NODE_VALUE:
        switch (json_node_get_value_type(node)) {
        case G_TYPE_BOOLEAN:
            json_writer_bool(w, name, json_node_get_boolean(node));
            break;
        case G_TYPE_DOUBLE:
            json_writer_double(w, name, json_node_get_double(node));
            break;
        case G_TYPE_STRING:
            json_writer_str(w, name, json_node_get_string(node));
            break;
        default:
            json_writer_int64(w, name, json_node_get_int(node));
            break;
        }
        break;
    }
}
