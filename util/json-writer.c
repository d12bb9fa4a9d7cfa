/*
 * json-writer.c: JSON output (see json-writer.h).
 *
 * The writer builds a small tree of nodes and prints it at the end, which
 * lets it re-order object members (QDict mode) and indent (pretty mode)
 * without the callers caring.  Scalars are stored as their final text.
 */
#include "qemu/osdep.h"
#include "qapi/qmp/json-writer.h"

typedef struct WNode WNode;
struct WNode {
    char kind;              /* '{', '[' or 's' (scalar / raw text) */
    char *key;              /* member name inside an object */
    GString *text;          /* scalars */
    GPtrArray *children;    /* containers: WNode * in write order */
    WNode *parent;
};

struct JSONWriter {
    bool pretty;
    bool qdict_order;
    WNode *root;
    WNode *cur;             /* innermost open container, NULL at top */
};

static void wnode_free(gpointer p)
{
    WNode *n = p;

    if (n->text) {
        g_string_free(n->text, true);
    }
    if (n->children) {
        g_ptr_array_free(n->children, true);
    }
    g_free(n->key);
    g_free(n);
}

static JSONWriter *writer_new(bool pretty, bool qdict)
{
    JSONWriter *w = g_new0(JSONWriter, 1);

    w->pretty = pretty;
    w->qdict_order = qdict;
    return w;
}

JSONWriter *json_writer_new(bool pretty)
{
    return writer_new(pretty, false);
}

JSONWriter *json_writer_new_qdict(bool pretty)
{
    return writer_new(pretty, true);
}

void json_writer_free(JSONWriter *w)
{
    if (w) {
        if (w->root) {
            wnode_free(w->root);
        }
        g_free(w);
    }
}

/* QEMU's QDict hash (tdb's), reduced to its 512 buckets. */
unsigned qdict_bucket(const char *key)
{
    unsigned value = 0x238F13AFu * (unsigned)strlen(key);

    for (unsigned i = 0; key[i]; i++) {
        value += (unsigned)(unsigned char)key[i] << (i * 5 % 24);
    }
    return (1103515243u * value + 12345u) % 512;
}

typedef struct KeyPos {
    const char *key;
    unsigned bucket;
    guint pos;
    gpointer item;
} KeyPos;

static gint keypos_cmp(gconstpointer a, gconstpointer b)
{
    const KeyPos *x = a, *y = b;

    if (x->bucket != y->bucket) {
        return x->bucket < y->bucket ? -1 : 1;
    }
    /* Same bucket: the entry inserted last comes first. */
    return x->pos > y->pos ? -1 : (x->pos < y->pos ? 1 : 0);
}

/* Sorts @items by QDict order of key_of(item). */
static void qdict_sort(GPtrArray *items, const char *(*key_of)(gpointer))
{
    g_autofree KeyPos *kp = g_new(KeyPos, items->len ? items->len : 1);

    for (guint i = 0; i < items->len; i++) {
        kp[i].key = key_of(items->pdata[i]);
        kp[i].bucket = qdict_bucket(kp[i].key);
        kp[i].pos = i;
        kp[i].item = items->pdata[i];
    }
    qsort(kp, items->len, sizeof(KeyPos),
          (int (*)(const void *, const void *))keypos_cmp);
    for (guint i = 0; i < items->len; i++) {
        items->pdata[i] = kp[i].item;
    }
}

static const char *key_is_string(gpointer p)
{
    return p;
}

void qdict_order_keys(GPtrArray *keys)
{
    qdict_sort(keys, key_is_string);
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
            /* Invalid UTF-8 byte: U+FFFD, as QEMU prints it. */
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

/* Adds a node under the current container (or as the root). */
static WNode *add_node(JSONWriter *w, const char *name, char kind)
{
    WNode *n = g_new0(WNode, 1);

    n->kind = kind;
    if (w->cur) {
        assert((w->cur->kind == '{') == (name != NULL));
        n->key = g_strdup(name);
        n->parent = w->cur;
        g_ptr_array_add(w->cur->children, n);
    } else {
        assert(!name && !w->root);
        w->root = n;
    }
    if (kind == 's') {
        n->text = g_string_new(NULL);
    } else {
        n->children = g_ptr_array_new_with_free_func(wnode_free);
    }
    return n;
}

static GString *scalar(JSONWriter *w, const char *name)
{
    return add_node(w, name, 's')->text;
}

void json_writer_start_object(JSONWriter *w, const char *name)
{
    w->cur = add_node(w, name, '{');
}

void json_writer_start_list(JSONWriter *w, const char *name)
{
    w->cur = add_node(w, name, '[');
}

void json_writer_end_object(JSONWriter *w)
{
    assert(w->cur && w->cur->kind == '{');
    w->cur = w->cur->parent;
}

void json_writer_end_list(JSONWriter *w)
{
    assert(w->cur && w->cur->kind == '[');
    w->cur = w->cur->parent;
}

void json_writer_bool(JSONWriter *w, const char *name, bool val)
{
    g_string_append(scalar(w, name), val ? "true" : "false");
}

void json_writer_null(JSONWriter *w, const char *name)
{
    g_string_append(scalar(w, name), "null");
}

void json_writer_int64(JSONWriter *w, const char *name, int64_t val)
{
    g_string_append_printf(scalar(w, name), "%" PRId64, val);
}

void json_writer_uint64(JSONWriter *w, const char *name, uint64_t val)
{
    g_string_append_printf(scalar(w, name), "%" PRIu64, val);
}

void json_writer_double(JSONWriter *w, const char *name, double val)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    /* QEMU prints doubles with %.17g (so 0.1 is 0.10000000000000001). */
    g_ascii_formatd(buf, sizeof(buf), "%.17g", val);
    g_string_append(scalar(w, name), buf);
}

void json_writer_str(JSONWriter *w, const char *name, const char *str)
{
    json_quote_append(scalar(w, name), str);
}

void json_writer_raw(JSONWriter *w, const char *name, const char *json)
{
    g_string_append(scalar(w, name), json);
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

static const char *wnode_key(gpointer p)
{
    return ((WNode *)p)->key;
}

static void newline(GString *out, int depth)
{
    g_string_append_c(out, '\n');
    for (int i = 0; i < depth; i++) {
        g_string_append(out, "    ");
    }
}

static void print_node(JSONWriter *w, WNode *n, GString *out, int depth)
{
    GPtrArray *items;

    if (n->kind == 's') {
        g_string_append_len(out, n->text->str, n->text->len);
        return;
    }
    items = n->children;
    if (n->kind == '{' && w->qdict_order && items->len > 1) {
        qdict_sort(items, wnode_key);
    }
    g_string_append_c(out, n->kind);
    for (guint i = 0; i < items->len; i++) {
        WNode *c = items->pdata[i];

        if (i) {
            g_string_append_c(out, ',');
            if (!w->pretty) {
                g_string_append_c(out, ' ');
            }
        }
        if (w->pretty) {
            newline(out, depth + 1);
        }
        if (c->key) {
            json_quote_append(out, c->key);
            g_string_append(out, ": ");
        }
        print_node(w, c, out, depth + 1);
    }
    if (w->pretty && items->len) {
        newline(out, depth);
    }
    g_string_append_c(out, n->kind == '{' ? '}' : ']');
}

char *json_writer_finish(JSONWriter *w)
{
    GString *out = g_string_new(NULL);

    assert(!w->cur && w->root);
    print_node(w, w->root, out, 0);
    json_writer_free(w);
    return g_string_free(out, false);
}
