/*
 * qtest.c: the qtest protocol server.
 *
 * Requests and replies are exactly QEMU 7.2's (docs/devel/qtest.rst has
 * the table).  Where QEMU asserts (missing or malformed numbers, an empty
 * line, a zero-sized read, a port above 0xffff) or runs out of memory
 * (a size of -1), ferry answers "FAIL <reason>" and carries on; where QEMU
 * writes unpredictable heap bytes (b64write data shorter than SIZE) ferry
 * writes zeroes; a NUL byte does not jam the connection; and a partial
 * line does not survive a disconnect.  The virtual clock only moves
 * forward, as in QEMU (clock_set to the past, a negative clock_step:
 * "OK <now>"); a clock_step past 2^63 - 1 ns fails (QEMU overflows).
 *
 * Memory: a reply is handed to its writer in pieces (QTestEmitFn), and
 * read/write move guest memory QTEST_CHUNK bytes at a time, so what one
 * request allocates is bounded by its line's length plus a few chunks,
 * whatever SIZE says; SIZE itself is capped at QTEST_MAX_XFER, which
 * bounds the time one request takes.  (QEMU allocates SIZE, then twice
 * SIZE for a hex reply.)
 *
 * Runs in the main loop with the BQL held.
 */
#include "qemu/osdep.h"
#include "sysemu/qtest.h"
#include "exec/memory.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "trace.h"

/* Largest SIZE of one read/write request. */
#define QTEST_MAX_XFER (256 * 1024 * 1024)
/*
 * Guest memory is moved in pieces of at most this size, which start at
 * multiples of it (so I/O regions see the accesses one whole transfer
 * would make).
 */
#define QTEST_CHUNK (64 * 1024)

struct QTestState {
    Chardev *chr;
    GString *inbuf;
    FILE *log;
    bool log_midline;       /* a reply's log line is not finished */
    int64_t start_ns;
};

typedef struct QTestCmd {
    GPtrArray *words;       /* char *, split at single spaces */
    GString *reply;         /* the reply, or what is not yet emitted of it */
    QTestEmitFn *emit;
    void *opaque;
    uint64_t max_xfer;      /* SIZE limit */
    bool failed;
} QTestCmd;

/* Hands what the reply has so far to the writer. */
static void reply_flush(QTestCmd *c)
{
    if (c->reply->len) {
        c->emit(c->reply->str, c->reply->len, c->opaque);
        g_string_truncate(c->reply, 0);
    }
}

/* The piece of [@addr + @off, @addr + @size) that starts a chunk there. */
static uint64_t chunk_len(uint64_t addr, uint64_t off, uint64_t size)
{
    uint64_t to_boundary = QTEST_CHUNK - ((addr + off) & (QTEST_CHUNK - 1));

    return MIN(size - off, to_boundary);
}

static const char *word(QTestCmd *c, guint i)
{
    return i < c->words->len ? c->words->pdata[i] : NULL;
}

static void qtest_fail(QTestCmd *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void qtest_fail(QTestCmd *c, const char *fmt, ...)
{
    va_list ap;

    if (c->failed) {
        return;
    }
    c->failed = true;
    g_string_assign(c->reply, "FAIL ");
    va_start(ap, fmt);
    g_string_append_vprintf(c->reply, fmt, ap);
    va_end(ap);
    trace_qtest_fail(word(c, 0), c->reply->str + 5);
}

/* Argument @i as a number, QEMU's way (strtoull, base 0, whole word). */
static bool arg_u64(QTestCmd *c, guint i, uint64_t *v)
{
    const char *w = word(c, i);

    if (!w) {
        qtest_fail(c, "missing argument %u to '%s'", i, word(c, 0));
        return false;
    }
    if (qemu_strtou64(w, NULL, 0, v) != 0) {
        qtest_fail(c, "invalid number '%s'", w);
        return false;
    }
    return true;
}

static bool arg_size(QTestCmd *c, guint i, uint64_t *v, bool allow_zero)
{
    if (!arg_u64(c, i, v)) {
        return false;
    }
    if (*v == 0 && !allow_zero) {
        qtest_fail(c, "invalid size 0");
        return false;
    }
    if (*v > c->max_xfer) {
        qtest_fail(c, "size 0x%" PRIx64 " is too large (max 0x%" PRIx64 ")",
                   *v, c->max_xfer);
        return false;
    }
    return true;
}

static int access_size(const char *cmd)
{
    switch (cmd[strlen(cmd) - 1]) {
    case 'b':
        return 1;
    case 'w':
        return 2;
    case 'l':
        return 4;
    case 'q':
        return 8;
    }
    return 0;
}

static int hex2nib(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    } else if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void cmd_readx(QTestCmd *c, const char *cmd)
{
    uint64_t addr;

    if (arg_u64(c, 1, &addr)) {
        uint64_t v = address_space_ldn_le(&address_space_memory, addr,
                                          access_size(cmd));
        g_string_printf(c->reply, "OK 0x%016" PRIx64, v);
    }
}

static void cmd_writex(QTestCmd *c, const char *cmd)
{
    uint64_t addr, val;

    if (arg_u64(c, 1, &addr) && arg_u64(c, 2, &val)) {
        address_space_stn_le(&address_space_memory, addr, val,
                             access_size(cmd));
        g_string_assign(c->reply, "OK");
    }
}

static void cmd_inx(QTestCmd *c, const char *cmd)
{
    uint64_t port;

    if (arg_u64(c, 1, &port)) {
        if (port > 0xffff) {
            qtest_fail(c, "I/O port 0x%" PRIx64 " out of range", port);
            return;
        }
        g_string_printf(c->reply, "OK 0x%04" PRIx64,
                        address_space_ldn_le(&address_space_io, port,
                                             access_size(cmd)));
    }
}

static void cmd_outx(QTestCmd *c, const char *cmd)
{
    uint64_t port, val;

    if (arg_u64(c, 1, &port) && arg_u64(c, 2, &val)) {
        if (port > 0xffff) {
            qtest_fail(c, "I/O port 0x%" PRIx64 " out of range", port);
            return;
        }
        address_space_stn_le(&address_space_io, port, val, access_size(cmd));
        g_string_assign(c->reply, "OK");
    }
}

static void cmd_read(QTestCmd *c, bool b64)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t addr, size;
    g_autofree uint8_t *buf = NULL;
    g_autofree char *out = NULL;
    gint state = 0, save = 0;

    if (!arg_u64(c, 1, &addr) || !arg_size(c, 2, &size, b64)) {
        return;
    }
    buf = g_malloc(QTEST_CHUNK);
    /* Base64 needs (n / 3 + 1) * 4 + 4 bytes per step, hex 2 * n. */
    out = g_malloc(2 * QTEST_CHUNK + 8);
    g_string_assign(c->reply, b64 ? "OK " : "OK 0x");
    reply_flush(c);
    for (uint64_t off = 0, n; off < size; off += n) {
        size_t len = 0;

        n = chunk_len(addr, off, size);
        address_space_read(&address_space_memory, addr + off, buf, n);
        if (b64) {
            len = g_base64_encode_step(buf, n, FALSE, out, &state, &save);
        } else {
            for (uint64_t i = 0; i < n; i++) {
                out[len++] = hex[buf[i] >> 4];
                out[len++] = hex[buf[i] & 15];
            }
        }
        if (len) {      /* (base64 may hold up to 2 bytes back) */
            c->emit(out, len, c->opaque);
        }
    }
    if (b64) {
        size_t len = g_base64_encode_close(FALSE, out, &state, &save);

        if (len) {
            c->emit(out, len, c->opaque);
        }
    }
}

/*
 * Writes @size bytes at @addr, a chunk at a time: what @fill puts in
 * each (given its offset in the request), then nothing for the rest.
 */
static void write_chunked(uint64_t addr, uint64_t size,
                          void (*fill)(uint8_t *buf, uint64_t off,
                                       uint64_t n, const void *src),
                          const void *src)
{
    g_autofree uint8_t *buf = g_malloc(QTEST_CHUNK);

    for (uint64_t off = 0, n; off < size; off += n) {
        n = chunk_len(addr, off, size);
        fill(buf, off, n, src);
        address_space_write(&address_space_memory, addr + off, buf, n);
    }
}

typedef struct WriteData {
    const void *bytes;
    size_t len;
} WriteData;

/*
 * QEMU skips the first two characters ("0x") unchecked and converts
 * pairs while whole pairs remain; missing bytes are zero.
 */
static void fill_hex(uint8_t *buf, uint64_t off, uint64_t n, const void *src)
{
    const WriteData *d = src;
    const char *hexs = (const char *)d->bytes + 2;
    uint64_t pairs = (d->len - 2) / 2;      /* (len >= 3) */
    uint64_t have = off < pairs ? MIN(n, pairs - off) : 0;

    for (uint64_t i = 0; i < have; i++) {
        /* A bad digit counts as -1, all ones, exactly as in QEMU. */
        unsigned hi = (unsigned)hex2nib(hexs[2 * (off + i)]);
        unsigned lo = (unsigned)hex2nib(hexs[2 * (off + i) + 1]);

        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    memset(buf + have, 0, n - have);
}

static void cmd_write(QTestCmd *c)
{
    uint64_t addr, size;
    const char *data;

    if (!arg_u64(c, 1, &addr) || !arg_size(c, 2, &size, true)) {
        return;
    }
    data = word(c, 3);
    if (!data) {
        qtest_fail(c, "missing argument 3 to 'write'");
        return;
    }
    if (strlen(data) < 3) {
        g_string_assign(c->reply, "ERR invalid argument size");
        return;
    }
    write_chunked(addr, size, fill_hex,
                  &(WriteData) { .bytes = data, .len = strlen(data) });
    g_string_assign(c->reply, "OK");
}

static void fill_decoded(uint8_t *buf, uint64_t off, uint64_t n,
                         const void *src)
{
    const WriteData *d = src;
    uint64_t have = off < d->len ? MIN(n, d->len - off) : 0;

    memcpy(buf, (const uint8_t *)d->bytes + off, have);
    memset(buf + have, 0, n - have);
}

static void cmd_b64write(QTestCmd *c)
{
    uint64_t addr, size;
    const char *data;
    g_autofree guchar *dec = NULL;
    WriteData d;

    if (!arg_u64(c, 1, &addr) || !arg_size(c, 2, &size, true)) {
        return;
    }
    data = word(c, 3);
    if (!data) {
        qtest_fail(c, "missing argument 3 to 'b64write'");
        return;
    }
    if (strlen(data) < 3) {
        g_string_assign(c->reply, "ERR invalid argument size");
        return;
    }
    dec = g_base64_decode(data, &d.len);
    d.bytes = dec;
    write_chunked(addr, size, fill_decoded, &d);
    g_string_assign(c->reply, "OK");
}

static void cmd_memset(QTestCmd *c)
{
    uint64_t addr, size, pattern;

    if (arg_u64(c, 1, &addr) && arg_u64(c, 2, &size) &&
        arg_u64(c, 3, &pattern)) {
        address_space_set(&address_space_memory, addr, (uint8_t)pattern,
                          size);
        g_string_assign(c->reply, "OK");
    }
}

static void cmd_clock(QTestCmd *c, bool step)
{
    int64_t ns = 0, now = qtest_get_virtual_clock(), target;
    const char *w = word(c, 1);

    if (w) {
        if (qemu_strtoi64(w, NULL, 0, &ns) != 0) {
            qtest_fail(c, "invalid number '%s'", w);
            return;
        }
    } else if (!step) {
        qtest_fail(c, "missing argument 1 to 'clock_set'");
        return;
    }
    /* With no timers to run, stepping to "the next deadline" is a no-op. */
    target = ns;
    if (step && __builtin_add_overflow(now, ns, &target)) {
        qtest_fail(c, "clock_step %s: the clock would pass %" PRIi64 " ns",
                   w, INT64_MAX);
        return;
    }
    /* As QEMU's qtest_clock_warp(): the clock never goes back. */
    if (target > now) {
        qtest_set_virtual_clock(target);
    }
    g_string_printf(c->reply, "OK %" PRIi64, qtest_get_virtual_clock());
}

static void qtest_dispatch(QTestCmd *c)
{
    const char *cmd = word(c, 0);

    if (!strcmp(cmd, "readb") || !strcmp(cmd, "readw") ||
        !strcmp(cmd, "readl") || !strcmp(cmd, "readq")) {
        cmd_readx(c, cmd);
    } else if (!strcmp(cmd, "writeb") || !strcmp(cmd, "writew") ||
               !strcmp(cmd, "writel") || !strcmp(cmd, "writeq")) {
        cmd_writex(c, cmd);
    } else if (!strcmp(cmd, "inb") || !strcmp(cmd, "inw") ||
               !strcmp(cmd, "inl")) {
        cmd_inx(c, cmd);
    } else if (!strcmp(cmd, "outb") || !strcmp(cmd, "outw") ||
               !strcmp(cmd, "outl")) {
        cmd_outx(c, cmd);
    } else if (!strcmp(cmd, "read")) {
        cmd_read(c, false);
    } else if (!strcmp(cmd, "b64read")) {
        cmd_read(c, true);
    } else if (!strcmp(cmd, "write")) {
        cmd_write(c);
    } else if (!strcmp(cmd, "b64write")) {
        cmd_b64write(c);
    } else if (!strcmp(cmd, "memset")) {
        cmd_memset(c);
    } else if (!strcmp(cmd, "endianness")) {
        g_string_assign(c->reply, "OK little");
    } else if (qtest_enabled() && !strcmp(cmd, "clock_step")) {
        cmd_clock(c, true);
    } else if (qtest_enabled() && !strcmp(cmd, "clock_set")) {
        cmd_clock(c, false);
    } else if (!strcmp(cmd, "irq_intercept_in") ||
               !strcmp(cmd, "irq_intercept_out") ||
               !strcmp(cmd, "set_irq_in")) {
        /* ferry has no qdev tree: no path names a device. */
        if (!word(c, 1)) {
            qtest_fail(c, "missing argument 1 to '%s'", cmd);
        } else {
            g_string_assign(c->reply, "FAIL Unknown device");
        }
    } else if (!strcmp(cmd, "module_load")) {
        if (!word(c, 1) || !word(c, 2)) {
            qtest_fail(c, "missing argument to 'module_load'");
        } else {
            g_string_assign(c->reply, "FAIL");   /* no loadable modules */
        }
    } else {
        qtest_fail(c, "Unknown command '%s'", cmd);
    }
}

/* Runs one request line; its reply, ending in '\n', goes to @emit. */
static void qtest_run_line(const char *line, size_t len, uint64_t max_xfer,
                           QTestEmitFn *emit, void *opaque)
{
    QTestCmd c = {
        .emit = emit, .opaque = opaque, .max_xfer = max_xfer,
    };
    g_autofree char *copy = g_strndup(line, len);
    char *p = copy, *sp;

    c.words = g_ptr_array_new();
    c.reply = g_string_new(NULL);
    trace_qtest_command(copy);
    /* A NUL cannot reach here from g_strndup; split at single spaces. */
    while ((sp = strchr(p, ' '))) {
        *sp = '\0';
        g_ptr_array_add(c.words, p);
        p = sp + 1;
    }
    g_ptr_array_add(c.words, p);
    if (len == 0) {
        qtest_fail(&c, "empty request");
    } else {
        qtest_dispatch(&c);
    }
    g_string_append_c(c.reply, '\n');
    reply_flush(&c);
    g_ptr_array_free(c.words, true);
    g_string_free(c.reply, true);
}

static void emit_to_gstring(const char *data, size_t len, void *opaque)
{
    g_string_append_len(opaque, data, len);
}

char *qtest_process_line(const char *line, size_t len)
{
    GString *out = g_string_new(NULL);

    qtest_run_line(line, len, QTEST_MAX_XFER, emit_to_gstring, out);
    return g_string_free(out, false);
}

/* A request line as processed: NUL bytes, which would cut it, as '?'. */
static char *line_dup(const char *p, size_t len)
{
    char *line = g_strndup(p, len);

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\0') {
            line[i] = '?';
        }
    }
    return line;
}

size_t qtest_process_input(const uint8_t *buf, size_t len, uint64_t max_xfer,
                           QTestEmitFn *emit, void *opaque)
{
    const char *p = (const char *)buf, *end = p + len, *nl;
    size_t n = 0;

    max_xfer = MIN(max_xfer, QTEST_MAX_XFER);
    while (p < end && (nl = memchr(p, '\n', end - p))) {
        g_autofree char *line = line_dup(p, nl - p);

        qtest_run_line(line, nl - p, max_xfer, emit, opaque);
        n++;
        p = nl + 1;
    }
    return n;       /* (a last partial line is dropped, as on a hang-up) */
}

/* Writes (and logs) a piece of a reply. */
static void qtest_emit(const char *data, size_t len, void *opaque)
{
    QTestState *s = opaque;

    if (s->log) {
        if (!s->log_midline) {
            fprintf(s->log, "[S +%f] ", (get_clock() - s->start_ns) / 1e9);
        }
        fwrite(data, 1, len, s->log);
        s->log_midline = len && data[len - 1] != '\n';
        fflush(s->log);
    }
    qemu_chr_write(s->chr, data, len);
}

static void qtest_read(void *opaque, const uint8_t *buf, size_t len)
{
    QTestState *s = opaque;
    char *nl;

    g_string_append_len(s->inbuf, (const char *)buf, len);
    while ((nl = memchr(s->inbuf->str, '\n', s->inbuf->len))) {
        size_t llen = nl - s->inbuf->str;
        g_autofree char *line = line_dup(s->inbuf->str, llen);

        g_string_erase(s->inbuf, 0, llen + 1);
        if (s->log) {
            fprintf(s->log, "[R +%f] %s\n",
                    (get_clock() - s->start_ns) / 1e9, line);
            fflush(s->log);
        }
        qtest_run_line(line, llen, QTEST_MAX_XFER, qtest_emit, s);
    }
}

static void qtest_event(void *opaque, QEMUChrEvent ev)
{
    QTestState *s = opaque;

    trace_qtest_connected(ev == CHR_EVENT_OPENED);
    if (ev == CHR_EVENT_OPENED) {
        s->start_ns = get_clock();
    }
    /* A new session starts clean. */
    g_string_truncate(s->inbuf, 0);
}

QTestState *qtest_server_init(Chardev *chr, FILE *log, Error **errp)
{
    QTestState *s = g_new0(QTestState, 1);

    s->chr = chr;
    s->inbuf = g_string_new(NULL);
    s->log = log;
    s->start_ns = get_clock();
    qemu_chr_fe_set_handlers(chr, qtest_read, qtest_event, s,
                             qemu_get_main_context());
    return s;
}

void qtest_server_fini(QTestState *s)
{
    if (s) {
        g_string_free(s->inbuf, true);
        if (s->log && s->log != stderr) {
            fclose(s->log);
        }
        g_free(s);
    }
}
