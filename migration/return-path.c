/*
 * return-path.c: the return path's wire format, both ends (spec §6).
 *
 * Destination: RPWriter.  The incoming thread (PONG, RECV_BITMAP,
 * RESUME_ACK), the listen thread (PONG), the fault thread (page requests)
 * and the main loop (SHUT) all send, so each message is written and
 * flushed whole under the writer's lock.  Attach and detach take the lock
 * too; rp_writer_shutdown() only needs the channel, which ioc_lock
 * guards, so that it can wake a sender blocked inside the lock.
 *
 * Source: RPReader, a thread running rp_read_messages().  Message header:
 * be16 type, be16 length, payload.  QEMU reads payloads into a 512-byte
 * buffer and so does this: a longer one is a violation, as are type 0,
 * types from 7 on (7.2 knows none; ferry never enables switchover-ack),
 * and a wrong length for a fixed-length type.  A page request must be
 * aligned to the host page, non-empty and inside its block, and REQ_PAGES
 * needs a block named before on this channel.  RECV_BITMAP is followed,
 * outside the message framing, by be64 size, the bitmap, be64 end mark;
 * the size must be what the block's length gives.
 *
 * Error classes: a failed read (the peer closed, reset, or the link was
 * shut down) is I/O; anything the reader finds wrong in what it read, a
 * SHUT with a non-zero value, and an error set by a callback are not.
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "return-path.h"
#include "qemu/atomic.h"
#include "qemu/bitmap.h"
#include "qemu/thread.h"
#include "trace.h"

#define RP_MAX_PAYLOAD 512

static const struct {
    const char *name;
    int len;            /* -1: variable */
} rp_msg[MIG_RP_MSG_MAX] = {
    [MIG_RP_MSG_INVALID] = { "INVALID", 0 },
    [MIG_RP_MSG_SHUT] = { "SHUT", 4 },
    [MIG_RP_MSG_PONG] = { "PONG", 4 },
    [MIG_RP_MSG_REQ_PAGES_ID] = { "REQ_PAGES_ID", -1 },
    [MIG_RP_MSG_REQ_PAGES] = { "REQ_PAGES", 12 },
    [MIG_RP_MSG_RECV_BITMAP] = { "RECV_BITMAP", -1 },
    [MIG_RP_MSG_RESUME_ACK] = { "RESUME_ACK", 4 },
};

const char *rp_msg_name(unsigned type)
{
    return type < MIG_RP_MSG_MAX ? rp_msg[type].name : "unknown";
}

/* Bytes of a block's received-bitmap blob: whole be64 words (§10.3). */
static uint64_t recv_bitmap_bytes(uint64_t nbits)
{
    return QEMU_ALIGN_UP(DIV_ROUND_UP(nbits, 8), 8);
}

/* ---------------- destination: the writer ---------------- */

struct RPWriter {
    QemuMutex lock;             /* f, and one message at a time */
    QEMUFile *f;
    QemuMutex ioc_lock;         /* ioc, for rp_writer_shutdown() */
    MigChannel *ioc;            /* f's channel (a reference) */
};

RPWriter *rp_writer_new(void)
{
    RPWriter *w = g_new0(RPWriter, 1);

    qemu_mutex_init(&w->lock);
    qemu_mutex_init(&w->ioc_lock);
    return w;
}

void rp_writer_free(RPWriter *w)
{
    if (!w) {
        return;
    }
    rp_writer_detach(w);
    qemu_mutex_destroy(&w->ioc_lock);
    qemu_mutex_destroy(&w->lock);
    g_free(w);
}

static void writer_set(RPWriter *w, QEMUFile *f)
{
    MigChannel *old_ioc;
    QEMUFile *old;

    qemu_mutex_lock(&w->lock);
    old = w->f;
    w->f = f;
    qemu_mutex_lock(&w->ioc_lock);
    old_ioc = w->ioc;
    w->ioc = f ? mig_channel_ref(qemu_file_get_ioc(f)) : NULL;
    qemu_mutex_unlock(&w->ioc_lock);
    qemu_mutex_unlock(&w->lock);
    if (old) {
        qemu_fclose(old);
    }
    mig_channel_unref(old_ioc);
}

void rp_writer_attach(RPWriter *w, QEMUFile *f)
{
    trace_rp_writer_attach(f != NULL);
    writer_set(w, f);
}

void rp_writer_detach(RPWriter *w)
{
    rp_writer_attach(w, NULL);
}

bool rp_writer_attached(RPWriter *w)
{
    QEMU_LOCK_GUARD(&w->lock);
    return w->f != NULL;
}

void rp_writer_shutdown(RPWriter *w)
{
    QEMU_LOCK_GUARD(&w->ioc_lock);
    if (w->ioc) {
        mig_channel_shutdown(w->ioc);
    }
}

/* Header and @len bytes of @data, not yet flushed: lock held. */
static bool writer_put(RPWriter *w, unsigned type, const uint8_t *data,
                       uint16_t len)
{
    if (!w->f) {
        trace_rp_send_dropped(rp_msg[type].name);
        return false;
    }
    trace_rp_send(rp_msg[type].name, len);
    qemu_put_be16(w->f, type);
    qemu_put_be16(w->f, len);
    qemu_put_buffer(w->f, data, len);
    return true;
}

static bool writer_flush(RPWriter *w)
{
    qemu_fflush(w->f);
    return qemu_file_get_error(w->f) == 0;
}

static bool rp_send(RPWriter *w, unsigned type, const uint8_t *data,
                    uint16_t len)
{
    QEMU_LOCK_GUARD(&w->lock);
    return writer_put(w, type, data, len) && writer_flush(w);
}

static bool rp_send_u32(RPWriter *w, unsigned type, uint32_t v)
{
    uint8_t b[4];

    stl_be_p(b, v);
    return rp_send(w, type, b, 4);
}

bool rp_send_shut(RPWriter *w, uint32_t value)
{
    return rp_send_u32(w, MIG_RP_MSG_SHUT, value);
}

bool rp_send_pong(RPWriter *w, uint32_t value)
{
    return rp_send_u32(w, MIG_RP_MSG_PONG, value);
}

bool rp_send_resume_ack(RPWriter *w, uint32_t value)
{
    return rp_send_u32(w, MIG_RP_MSG_RESUME_ACK, value);
}

bool rp_send_req_pages(RPWriter *w, RAMBlock *rb, bool named,
                       uint64_t start, uint32_t len)
{
    uint8_t b[13 + 255];
    size_t n = strlen(rb->idstr);

    stq_be_p(b, start);
    stl_be_p(b + 8, len);
    if (!named) {
        return rp_send(w, MIG_RP_MSG_REQ_PAGES, b, 12);
    }
    b[12] = n;
    memcpy(b + 13, rb->idstr, n);
    return rp_send(w, MIG_RP_MSG_REQ_PAGES_ID, b, 13 + n);
}

bool rp_send_recv_bitmap(RPWriter *w, RAMBlock *rb,
                         const unsigned long *received, uint64_t nbits)
{
    uint64_t size = recv_bitmap_bytes(nbits);
    g_autofree uint8_t *blob = g_malloc0(8 + size + 8);
    uint8_t name[256];
    size_t n = strlen(rb->idstr);

    name[0] = n;
    memcpy(name + 1, rb->idstr, n);
    /* Byte j, bit i: target page 8j+i, whatever the host's byte order. */
    stq_be_p(blob, size);
    for (uint64_t i = find_first_bit(received, nbits); i < nbits;
         i = find_next_bit(received, nbits, i + 1)) {
        blob[8 + i / 8] |= 1u << (i % 8);
    }
    stq_be_p(blob + 8 + size, RP_RECV_BITMAP_ENDING);

    QEMU_LOCK_GUARD(&w->lock);
    if (!writer_put(w, MIG_RP_MSG_RECV_BITMAP, name, n + 1)) {
        return false;
    }
    trace_rp_send_recv_bitmap(rb->idstr, nbits, size);
    qemu_put_buffer(w->f, blob, 8 + size + 8);
    return writer_flush(w);
}

/* ---------------- source: the reader ---------------- */

static void rp_bad(Error **errp, bool *io, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static void rp_bad(Error **errp, bool *io, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    trace_rp_bad(msg);
    error_setg(errp, "%s", msg);
    *io = false;
}

/* The stream broke while reading @what. */
static void rp_broken(QEMUFile *f, Error **errp, bool *io, const char *what)
{
    Error *err = NULL;

    qemu_file_get_error_obj(f, &err);
    error_propagate_prepend(errp, err, "RP: %s: ", what);
    /* (A parser error cannot be on this stream: nothing sets one.) */
    *io = true;
}

typedef struct RPParse {
    RAMBlock *last_req_block;       /* named by the last REQ_PAGES_ID */
} RPParse;

static bool handle_req_pages(RPParse *ps, const RPReaderOps *ops,
                             void *opaque, const uint8_t *buf, unsigned len,
                             bool with_id, bool *io, Error **errp)
{
    uint64_t start = ldq_be_p(buf);
    uint32_t plen = ldl_be_p(buf + 8);
    RAMBlock *rb;

    if (with_id) {
        char name[256];
        uint8_t n = buf[12];

        if (len != 13u + n || n == 0) {
            rp_bad(errp, io, "RP: REQ_PAGES_ID with bad length %u (name %u)",
                   len, n);
            return false;
        }
        memcpy(name, buf + 13, n);
        name[n] = '\0';
        rb = qemu_ram_block_by_name(name);
        if (!rb) {
            rp_bad(errp, io, "RP: page request for unknown block '%s'",
                   name);
            return false;
        }
        ps->last_req_block = rb;
    } else {
        rb = ps->last_req_block;
        if (!rb) {
            rp_bad(errp, io, "RP: REQ_PAGES without a previous "
                   "REQ_PAGES_ID");
            return false;
        }
    }
    if (!QEMU_IS_ALIGNED(start, qemu_real_host_page_size) ||
        !QEMU_IS_ALIGNED(plen, qemu_real_host_page_size) || plen == 0) {
        rp_bad(errp, io, "RP: misaligned page request 0x%" PRIx64 "+0x%x",
               start, plen);
        return false;
    }
    if (start >= rb->used_length || plen > rb->used_length - start) {
        rp_bad(errp, io, "RP: page request 0x%" PRIx64 "+0x%x overruns %s "
               "(0x%" PRIx64 ")", start, plen, rb->idstr,
               (uint64_t)rb->used_length);
        return false;
    }
    trace_rp_req_pages(rb->idstr, start, plen);
    if (!ops->req_pages(opaque, rb, start, plen, errp)) {
        *io = false;
        return false;
    }
    return true;
}

static bool handle_recv_bitmap(QEMUFile *f, const RPReaderOps *ops,
                               void *opaque, const uint8_t *buf,
                               unsigned len, bool *io, Error **errp)
{
    char name[256];
    uint8_t n = buf[0];
    g_autofree uint8_t *blob = NULL;
    g_autofree unsigned long *received = NULL;
    uint64_t nbits, size, want, mark;
    RAMBlock *rb;

    if (len != 1u + n || n == 0) {
        rp_bad(errp, io, "RP: RECV_BITMAP with bad length %u (name %u)",
               len, n);
        return false;
    }
    memcpy(name, buf + 1, n);
    name[n] = '\0';
    rb = qemu_ram_block_by_name(name);
    if (!rb) {
        rp_bad(errp, io, "RP: RECV_BITMAP for unknown block '%s'", name);
        return false;
    }
    nbits = rb->used_length >> TARGET_PAGE_BITS;
    want = recv_bitmap_bytes(nbits);
    size = qemu_get_be64(f);
    if (qemu_file_get_error(f)) {
        rp_broken(f, errp, io, "reading a received bitmap");
        return false;
    }
    if (size != want) {
        rp_bad(errp, io, "RP: ramblock '%s' bitmap size mismatch (0x%"
               PRIx64 " != 0x%" PRIx64 ")", name, size, want);
        return false;
    }
    blob = g_malloc(size);
    if (qemu_get_buffer(f, blob, size) != size) {
        rp_broken(f, errp, io, "reading a received bitmap");
        return false;
    }
    mark = qemu_get_be64(f);
    if (qemu_file_get_error(f)) {
        rp_broken(f, errp, io, "reading a received bitmap");
        return false;
    }
    if (mark != RP_RECV_BITMAP_ENDING) {
        rp_bad(errp, io, "RP: ramblock '%s' end mark incorrect: 0x%" PRIx64,
               name, mark);
        return false;
    }
    received = bitmap_new(nbits);
    for (uint64_t i = 0; i < nbits; i++) {
        if (blob[i / 8] & (1u << (i % 8))) {
            set_bit(i, received);
        }
    }
    trace_rp_recv_bitmap(name, nbits, bitmap_count_one(received, nbits));
    if (!ops->recv_bitmap(opaque, rb, received, errp)) {
        *io = false;
        return false;
    }
    return true;
}

int rp_read_messages(QEMUFile *f, const RPReaderOps *ops, void *opaque,
                     bool *io, Error **errp)
{
    RPParse ps = { 0 };
    uint8_t buf[RP_MAX_PAYLOAD];

    for (;;) {
        unsigned type = qemu_get_be16(f);
        unsigned len = qemu_get_be16(f);
        uint32_t v;

        if (qemu_file_get_error(f)) {
            rp_broken(f, errp, io, "the destination closed the return path "
                      "without SHUT");
            return -1;
        }
        if (type == MIG_RP_MSG_INVALID || type >= MIG_RP_MSG_MAX ||
            len > RP_MAX_PAYLOAD ||
            (rp_msg[type].len != -1 && rp_msg[type].len != (int)len)) {
            rp_bad(errp, io, "RP: Received invalid message 0x%04x length "
                   "0x%04x", type, len);
            return -1;
        }
        if (qemu_get_buffer(f, buf, len) != len) {
            rp_broken(f, errp, io, "truncated message");
            return -1;
        }
        trace_rp_message(rp_msg[type].name, len);
        switch (type) {
        case MIG_RP_MSG_SHUT:
            v = ldl_be_p(buf);
            if (v) {
                rp_bad(errp, io, "RP: Sibling indicated error %u", v);
                return -1;
            }
            if (ops->shut && !ops->shut(opaque, errp)) {
                *io = false;
                return -1;
            }
            return 0;
        case MIG_RP_MSG_PONG:
            v = ldl_be_p(buf);
            trace_rp_pong(v);
            if (ops->pong) {
                ops->pong(opaque, v);
            }
            break;
        case MIG_RP_MSG_REQ_PAGES_ID:
        case MIG_RP_MSG_REQ_PAGES:
            if (len < 12 || (type == MIG_RP_MSG_REQ_PAGES_ID && len < 14)) {
                rp_bad(errp, io, "RP: %s too short (%u)", rp_msg[type].name,
                       len);
                return -1;
            }
            if (!handle_req_pages(&ps, ops, opaque, buf, len,
                                  type == MIG_RP_MSG_REQ_PAGES_ID, io,
                                  errp)) {
                return -1;
            }
            break;
        case MIG_RP_MSG_RECV_BITMAP:
            if (len < 2) {
                rp_bad(errp, io, "RP: RECV_BITMAP too short (%u)", len);
                return -1;
            }
            if (!handle_recv_bitmap(f, ops, opaque, buf, len, io, errp)) {
                return -1;
            }
            break;
        case MIG_RP_MSG_RESUME_ACK:
            v = ldl_be_p(buf);
            if (v != RP_RESUME_ACK_VALUE) {
                rp_bad(errp, io, "RP: illegal resume_ack value %u", v);
                return -1;
            }
            if (!ops->resume_ack(opaque, v, errp)) {
                *io = false;
                return -1;
            }
            break;
        }
    }
}

struct RPReader {
    QEMUFile *f;
    const RPReaderOps *ops;
    void *opaque;
    QemuThread thread;
    bool thread_running;            /* owner's thread */
    bool shut_ok;                   /* reader thread, read after join */
    int stop;                       /* atomic: rp_reader_shutdown() */
};

static void *rp_reader_thread(void *opaque)
{
    RPReader *r = opaque;
    Error *err = NULL;
    bool io = false;

    trace_rp_thread_start();
    r->shut_ok = rp_read_messages(r->f, r->ops, r->opaque, &io, &err) == 0;
    trace_rp_thread_end(r->shut_ok, err ? error_get_pretty(err) : "");
    if (qatomic_read(&r->stop)) {
        /* Our own shutdown broke the read: nothing to report. */
        error_free(err);
    } else if (r->ops->stopped) {
        r->ops->stopped(r->opaque, err, io);
    } else {
        error_free(err);
    }
    return NULL;
}

RPReader *rp_reader_start(QEMUFile *f, const RPReaderOps *ops, void *opaque)
{
    RPReader *r = g_new0(RPReader, 1);

    r->f = f;
    r->ops = ops;
    r->opaque = opaque;
    qemu_thread_create(&r->thread, "mig/src/rp", rp_reader_thread, r,
                       QEMU_THREAD_JOINABLE);
    r->thread_running = true;
    return r;
}

void rp_reader_shutdown(RPReader *r)
{
    if (r) {
        qatomic_set(&r->stop, 1);
        qemu_file_shutdown(r->f);
    }
}

void rp_reader_join(RPReader *r)
{
    if (r && r->thread_running) {
        qemu_thread_join(&r->thread);
        r->thread_running = false;
    }
}

bool rp_reader_got_shut_ok(RPReader *r)
{
    return r && !r->thread_running && r->shut_ok;
}

void rp_reader_free(RPReader *r)
{
    if (!r) {
        return;
    }
    if (r->thread_running) {
        rp_reader_shutdown(r);
        rp_reader_join(r);
    }
    qemu_fclose(r->f);
    g_free(r);
}
