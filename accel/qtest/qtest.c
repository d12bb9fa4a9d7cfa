/*
 * qtest.c: the qtest protocol server.
 *
 * Requests and replies are exactly QEMU 7.2's (docs/devel/qtest.rst has
 * the table).  Where QEMU asserts (missing or malformed numbers, an empty
 * line, a zero-sized read, a port above 0xffff) or runs out of memory
 * (a size of -1), ferry answers "FAIL <reason>" and carries on; where QEMU
 * writes unpredictable heap bytes (b64write data shorter than SIZE) ferry
 * writes zeroes; a NUL byte does not jam the connection; and a partial
 * line does not survive a disconnect.
 *
 * Runs in the main loop with the BQL held.
 */
#include "qemu/osdep.h"
#include "sysemu/qtest.h"
#include "exec/memory.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "trace.h"

/* Largest buffer one read/write request may need (hex replies double it). */
#define QTEST_MAX_XFER (256 * 1024 * 1024)

struct QTestState {
    Chardev *chr;
    GString *inbuf;
    FILE *log;
    int64_t start_ns;
};

typedef struct QTestCmd {
    GPtrArray *words;       /* char *, split at single spaces */
    GString *reply;
    bool failed;
} QTestCmd;

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
    if (*v > QTEST_MAX_XFER) {
        qtest_fail(c, "size 0x%" PRIx64 " is too large (max 0x%x)", *v,
                   QTEST_MAX_XFER);
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
    uint64_t addr, size;
    g_autofree uint8_t *buf = NULL;

    if (!arg_u64(c, 1, &addr) || !arg_size(c, 2, &size, b64)) {
        return;
    }
    buf = g_malloc(size ? size : 1);
    address_space_read(&address_space_memory, addr, buf, size);
    if (b64) {
        g_autofree char *enc = g_base64_encode(buf, size);

        g_string_printf(c->reply, "OK %s", enc);
    } else {
        static const char hex[] = "0123456789abcdef";

        g_string_set_size(c->reply, 5 + 2 * size);
        memcpy(c->reply->str, "OK 0x", 5);
        for (uint64_t i = 0; i < size; i++) {
            c->reply->str[5 + 2 * i] = hex[buf[i] >> 4];
            c->reply->str[6 + 2 * i] = hex[buf[i] & 15];
        }
    }
}

static void cmd_write(QTestCmd *c)
{
    uint64_t addr, size;
    const char *data;
    size_t data_len;
    g_autofree uint8_t *buf = NULL;

    if (!arg_u64(c, 1, &addr) || !arg_size(c, 2, &size, true)) {
        return;
    }
    data = word(c, 3);
    if (!data) {
        qtest_fail(c, "missing argument 3 to 'write'");
        return;
    }
    data_len = strlen(data);
    if (data_len < 3) {
        g_string_assign(c->reply, "ERR invalid argument size");
        return;
    }
    /*
     * QEMU skips the first two characters ("0x") unchecked and converts
     * pairs while whole pairs remain; missing bytes are zero.
     */
    buf = g_malloc0(size ? size : 1);
    for (uint64_t i = 0; i < size && 2 * i + 4 <= data_len; i++) {
        /* A bad digit counts as -1, all ones, exactly as in QEMU. */
        unsigned hi = (unsigned)hex2nib(data[2 + 2 * i]);
        unsigned lo = (unsigned)hex2nib(data[3 + 2 * i]);

        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    address_space_write(&address_space_memory, addr, buf, size);
    g_string_assign(c->reply, "OK");
}

static void cmd_b64write(QTestCmd *c)
{
    uint64_t addr, size;
    const char *data;
    g_autofree uint8_t *buf = NULL;
    g_autofree guchar *dec = NULL;
    gsize dec_len = 0;

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
    dec = g_base64_decode(data, &dec_len);
    buf = g_malloc0(size ? size : 1);
    memcpy(buf, dec, MIN(dec_len, size));
    address_space_write(&address_space_memory, addr, buf, size);
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
    int64_t ns = 0, now = qtest_get_virtual_clock();
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
    qtest_set_virtual_clock(step ? now + ns : ns);
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

char *qtest_process_line(const char *line, size_t len)
{
    QTestCmd c = { 0 };
    g_autofree char *copy = g_strndup(line, len);
    char *p = copy, *sp;

    c.words = g_ptr_array_new();
    c.reply = g_string_new(NULL);
    /* A NUL cannot reach here from g_strndup; split at single spaces. */
    while ((sp = strchr(p, ' '))) {
        *sp = '\0';
        g_ptr_array_add(c.words, p);
        p = sp + 1;
    }
    g_ptr_array_add(c.words, p);
    trace_qtest_command(copy);
    if (len == 0) {
        qtest_fail(&c, "empty request");
    } else {
        qtest_dispatch(&c);
    }
    g_string_append_c(c.reply, '\n');
    g_ptr_array_free(c.words, true);
    return g_string_free(c.reply, false);
}

static void qtest_log(QTestState *s, char dir, const char *line, size_t len)
{
    if (s->log) {
        double t = (get_clock() - s->start_ns) / 1e9;

        fprintf(s->log, "[%c +%f] %.*s\n", dir, t, (int)len, line);
        fflush(s->log);
    }
}

static void qtest_read(void *opaque, const uint8_t *buf, size_t len)
{
    QTestState *s = opaque;
    char *nl;

    g_string_append_len(s->inbuf, (const char *)buf, len);
    while ((nl = memchr(s->inbuf->str, '\n', s->inbuf->len))) {
        size_t llen = nl - s->inbuf->str;
        g_autofree char *reply = NULL;
        g_autofree char *line = g_strndup(s->inbuf->str, llen);

        g_string_erase(s->inbuf, 0, llen + 1);
        /* NUL bytes would cut the request short; make them visible. */
        for (size_t i = 0; i < llen; i++) {
            if (line[i] == '\0') {
                line[i] = '?';
            }
        }
        qtest_log(s, 'R', line, llen);
        reply = qtest_process_line(line, llen);
        qtest_log(s, 'S', reply, strlen(reply) - 1);
        qemu_chr_write(s->chr, reply, strlen(reply));
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
