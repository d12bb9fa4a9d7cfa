/*
 * json-streamer.c: finding the end of each top-level JSON value.
 *
 * States: between values (depth 0, empty buffer) whitespace is skipped; a
 * '{' or '[' opens a container, which ends when its nesting returns to 0;
 * anything else at depth 0 is a scalar that ends at the next whitespace or
 * structural character.  Quotes switch to string mode, where only the
 * matching quote (not escaped) ends the string.
 */
#include "qemu/osdep.h"
#include "qapi/qmp/json-streamer.h"

void json_streamer_init(JSONStreamer *s, JSONStreamerEmit *emit,
                        void *opaque)
{
    memset(s, 0, sizeof(*s));
    s->buf = g_string_new(NULL);
    s->emit = emit;
    s->opaque = opaque;
}

void json_streamer_reset(JSONStreamer *s)
{
    g_string_truncate(s->buf, 0);
    s->depth = 0;
    s->quote = 0;
    s->escape = false;
    s->udigits = 0;
    s->want_low = false;
    s->recovering = false;
}

void json_streamer_destroy(JSONStreamer *s)
{
    if (s->buf) {
        g_string_free(s->buf, true);
        s->buf = NULL;
    }
}

static void emit_value(JSONStreamer *s)
{
    g_autofree char *text = g_strndup(s->buf->str, s->buf->len);
    size_t len = s->buf->len;

    json_streamer_reset(s);
    /* json-glib would quietly accept broken UTF-8: refuse it here. */
    if (!g_utf8_validate(text, len, NULL)) {
        s->emit(s->opaque, NULL, 0,
                "JSON parse error, invalid UTF-8 sequence in string");
        return;
    }
    s->emit(s->opaque, text, len, NULL);
}

static void emit_error(JSONStreamer *s, const char *msg)
{
    json_streamer_reset(s);
    s->recovering = true;
    s->emit(s->opaque, NULL, 0, msg);
}

/*
 * One character inside a string.  Checks what JSON (and QEMU, which also
 * takes \' in single-quoted strings) allows after a backslash and inside
 * \uXXXX, including surrogate pairs, because json-glib accepts some
 * invalid escapes.  Returns false after reporting an error.
 */
static bool string_char(JSONStreamer *s, char c)
{
    if (s->udigits) {
        if (!g_ascii_isxdigit(c)) {
            emit_error(s, "JSON parse error, invalid hex escape sequence "
                       "in string");
            return false;
        }
        s->ucode = s->ucode << 4 | g_ascii_xdigit_value(c);
        if (--s->udigits == 0) {
            bool high = s->ucode >= 0xd800 && s->ucode < 0xdc00;
            bool low = s->ucode >= 0xdc00 && s->ucode < 0xe000;

            if (low != s->want_low || (s->want_low && !low)) {
                emit_error(s, "JSON parse error, invalid Unicode "
                           "surrogate pair in string");
                return false;
            }
            s->want_low = high;
        }
        return true;
    }
    if (s->escape) {
        s->escape = false;
        if (c == 'u') {
            s->udigits = 4;
            s->ucode = 0;
            return true;
        }
        if (s->want_low || !strchr("\"\\/bfnrt'", c)) {
            emit_error(s, s->want_low ? "JSON parse error, invalid Unicode "
                       "surrogate pair in string"
                       : "JSON parse error, invalid escape sequence in "
                       "string");
            return false;
        }
        return true;
    }
    if (c == '\\') {
        s->escape = true;
        return true;
    }
    if (s->want_low || (unsigned char)c < 0x20) {
        emit_error(s, s->want_low ? "JSON parse error, invalid Unicode "
                   "surrogate pair in string"
                   : "JSON parse error, control character in string");
        return false;
    }
    if (c == s->quote) {
        s->quote = 0;
    }
    return true;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_structural(char c)
{
    return c == '{' || c == '}' || c == '[' || c == ']' || c == '"' ||
           c == '\'' || c == ',' || c == ':';
}

void json_streamer_feed(JSONStreamer *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];

        if (s->recovering) {
            if (c == '\n' || (unsigned char)c == 0xff) {
                s->recovering = false;
            }
            continue;
        }
        if ((unsigned char)c == 0xff) {
            /* Explicit parser reset request; drop any partial value. */
            json_streamer_reset(s);
            continue;
        }
        if (s->quote) {
            g_string_append_c(s->buf, c);
            if (!string_char(s, c)) {
                continue;
            }
        } else if (s->depth == 0 && s->buf->len > 0 &&
                   (is_ws(c) || is_structural(c))) {
            /* End of a top-level scalar; reprocess this character. */
            emit_value(s);
            i--;
            continue;
        } else if (s->depth == 0 && s->buf->len == 0 && is_ws(c)) {
            continue;
        } else {
            g_string_append_c(s->buf, c);
            switch (c) {
            case '"':
            case '\'':
                s->quote = c;
                break;
            case '{':
            case '[':
                if (++s->depth > JSON_MAX_NESTING) {
                    emit_error(s, "JSON parse error, nesting too deep");
                    continue;
                }
                break;
            case '}':
            case ']':
                if (--s->depth <= 0) {
                    s->depth = 0;
                    emit_value(s);
                    continue;
                }
                break;
            }
        }
        if (s->buf->len > JSON_MAX_TEXT) {
            emit_error(s, "JSON parse error, token too large");
        }
    }
    /* A top-level scalar at the very end of the input is complete too. */
}
