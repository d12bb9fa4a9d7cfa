/*
 * json-streamer.h: splitting a byte stream into JSON texts.
 *
 * QMP has no framing: a client may send several requests in one write, or
 * one request over many.  The streamer tracks strings (double- or
 * single-quoted, with escapes) and nesting, and hands every complete
 * top-level value to a callback, which then parses it with json-glib.  It
 * is not a JSON parser: it only decides where one value ends.
 *
 * Limits guard memory: a value longer than JSON_MAX_TEXT bytes or nested
 * deeper than JSON_MAX_NESTING reports an error and the streamer skips
 * input up to the next newline (or 0xff byte) before starting afresh — the
 * same recovery rule as QEMU, so clients' "reset" habits work.
 */
#ifndef QAPI_QMP_JSON_STREAMER_H
#define QAPI_QMP_JSON_STREAMER_H

#include "qemu/osdep.h"

#define JSON_MAX_TEXT    (64 * 1024 * 1024)
#define JSON_MAX_NESTING 1024

/* Exactly one of @text / @error is non-NULL. */
typedef void JSONStreamerEmit(void *opaque, const char *text, size_t len,
                              const char *error);

typedef struct JSONStreamer {
    GString *buf;
    int depth;
    char quote;         /* inside a string: its quote character */
    bool escape;        /* previous character was a backslash in a string */
    int udigits;        /* hex digits still expected in a \uXXXX escape */
    unsigned ucode;     /* value of the \uXXXX escape so far */
    bool want_low;      /* a high surrogate needs its low half next */
    bool recovering;    /* skipping to a newline after an error */
    JSONStreamerEmit *emit;
    void *opaque;
} JSONStreamer;

void json_streamer_init(JSONStreamer *s, JSONStreamerEmit *emit,
                        void *opaque);
void json_streamer_feed(JSONStreamer *s, const char *data, size_t len);
/* Drops any partial value (a new client connected). */
void json_streamer_reset(JSONStreamer *s);
void json_streamer_destroy(JSONStreamer *s);

#endif
