/*
 * return-path.c: the return path (spec §6) — the source's reader thread
 * and the destination's message writer.
 *
 * Source: a thread reads messages until SHUT, an error, or shutdown.
 * Every message is validated (type, length <= 512, fixed lengths) before
 * its payload is used.  An error marks the return path bad and shuts the
 * main channel down, which fails a precopy migration promptly.
 *
 * Destination: messages are written under rp_mutex, because the incoming
 * thread (PONG, SHUT) and the fault thread (page requests) both send.
 */
#include "qemu/osdep.h"
#include "outgoing.h"
#include "migration.h"
#include "qemu/atomic.h"
#include "ram.h"
#include "trace.h"

enum MigRpMessageType {
    MIG_RP_MSG_INVALID = 0,
    MIG_RP_MSG_SHUT,
    MIG_RP_MSG_PONG,
    MIG_RP_MSG_REQ_PAGES_ID,
    MIG_RP_MSG_REQ_PAGES,
    MIG_RP_MSG_RECV_BITMAP,
    MIG_RP_MSG_RESUME_ACK,
    MIG_RP_MSG_MAX
};

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

struct ReturnPathState {
    QEMUFile *from_dst;
    RAMBlock *last_req_block;       /* RP thread only */
    QemuThread thread;
    bool thread_created;
    int error;                  /* atomic; non-zero: bad */
    uint32_t shut_value;
    bool got_shut;
};

static void rp_mark_bad(MigrationState *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
static void rp_mark_bad(MigrationState *s, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;
    Error *err = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    trace_rp_bad(msg);
    error_setg(&err, "%s", msg);
    migrate_set_error(s, err);
    error_free(err);
    qatomic_set(&s->rp->error, 1);
    /* Wake the migration thread if it is blocked sending. */
    qemu_mutex_lock(&s->qemu_file_lock);
    if (s->to_dst_file) {
        qemu_file_shutdown(s->to_dst_file);
    }
    qemu_mutex_unlock(&s->qemu_file_lock);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/*
 * A page request (spec §6.4): aligned to the host page, inside the
 * block, and only once the block was named by a REQ_PAGES_ID.
 */
static bool rp_handle_req_pages(MigrationState *s, const uint8_t *buf,
                                unsigned len, bool with_id)
{
    ReturnPathState *rp = s->rp;
    uint64_t start = be64(buf);
    uint32_t plen = be32(buf + 8);
    RAMBlock *rb;

    if (with_id) {
        char name[256];
        uint8_t n = buf[12];

        if (len != 13u + n) {
            rp_mark_bad(s, "RP: REQ_PAGES_ID with bad length %u (name %u)",
                        len, n);
            return false;
        }
        memcpy(name, buf + 13, n);
        name[n] = '\0';
        rb = qemu_ram_block_by_name(name);
        if (!rb) {
            rp_mark_bad(s, "RP: page request for unknown block '%s'", name);
            return false;
        }
        rp->last_req_block = rb;
    } else {
        rb = rp->last_req_block;
        if (!rb) {
            rp_mark_bad(s, "RP: REQ_PAGES without a previous REQ_PAGES_ID");
            return false;
        }
    }
    if (!QEMU_IS_ALIGNED(start, qemu_real_host_page_size) ||
        !QEMU_IS_ALIGNED(plen, qemu_real_host_page_size) || plen == 0) {
        rp_mark_bad(s, "RP: misaligned page request 0x%" PRIx64 "+0x%x",
                    start, plen);
        return false;
    }
    if (start >= rb->used_length || plen > rb->used_length - start) {
        rp_mark_bad(s, "RP: page request 0x%" PRIx64 "+0x%x overruns %s "
                    "(0x%" PRIx64 ")", start, plen, rb->idstr,
                    (uint64_t)rb->used_length);
        return false;
    }
    if (!migration_in_postcopy()) {
        rp_mark_bad(s, "RP: page request outside postcopy");
        return false;
    }
    qatomic_inc(&s->stats.postcopy_requests);
    trace_rp_req_pages(rb->idstr, start, plen);
    /* After RUN the page goes out from here; before, the thread sends it. */
    if (!ram_save_urgent(s->to_dst_file, rb, start, plen)) {
        ram_save_queue_pages(rb, start, plen);
        /* Wake the migration thread if it waits out a rate-limit window. */
        qemu_sem_post(&s->rate_limit_sem);
    }
    return true;
}

static void *rp_thread(void *opaque)
{
    MigrationState *s = opaque;
    ReturnPathState *rp = s->rp;
    QEMUFile *f = rp->from_dst;
    uint8_t buf[RP_MAX_PAYLOAD];

    trace_rp_thread_start();
    for (;;) {
        unsigned type = qemu_get_be16(f);
        unsigned len = qemu_get_be16(f);

        if (qemu_file_get_error(f)) {
            if (!rp->got_shut && !mig_channel_is_shut_down(
                    qemu_file_get_ioc(f))) {
                rp_mark_bad(s, "RP: the destination closed the return path "
                            "without SHUT");
            }
            break;
        }
        if (type == MIG_RP_MSG_INVALID || type >= MIG_RP_MSG_MAX ||
            len > RP_MAX_PAYLOAD ||
            (rp_msg[type].len != -1 && rp_msg[type].len != (int)len)) {
            rp_mark_bad(s, "RP: Received invalid message 0x%04x length "
                        "0x%04x", type, len);
            break;
        }
        if (qemu_get_buffer(f, buf, len) != len) {
            rp_mark_bad(s, "RP: truncated %s message", rp_msg[type].name);
            break;
        }
        trace_rp_message(rp_msg[type].name, len);
        if (type == MIG_RP_MSG_SHUT) {
            rp->shut_value = be32(buf);
            rp->got_shut = true;
            if (rp->shut_value) {
                rp_mark_bad(s, "RP: Sibling indicated error %u",
                            rp->shut_value);
            }
            break;
        }
        if (type == MIG_RP_MSG_PONG) {
            trace_rp_pong(be32(buf));
            continue;
        }
        if (type == MIG_RP_MSG_REQ_PAGES_ID || type == MIG_RP_MSG_REQ_PAGES) {
            if (len < 12 || (type == MIG_RP_MSG_REQ_PAGES_ID && len < 14)) {
                rp_mark_bad(s, "RP: %s too short (%u)", rp_msg[type].name,
                            len);
                break;
            }
            if (!rp_handle_req_pages(s, buf, len,
                                     type == MIG_RP_MSG_REQ_PAGES_ID)) {
                break;
            }
            continue;
        }
        /* Bitmaps and acks belong to postcopy recovery. */
        rp_mark_bad(s, "RP: unexpected %s message", rp_msg[type].name);
        break;
    }
    trace_rp_thread_end(rp->got_shut, rp->shut_value);
    return NULL;
}

bool rp_start(MigrationState *s, QEMUFile *from_dst, Error **errp)
{
    s->rp = g_new0(ReturnPathState, 1);
    s->rp->from_dst = from_dst;
    qemu_thread_create(&s->rp->thread, "mig/src/rp", rp_thread, s,
                       QEMU_THREAD_JOINABLE);
    s->rp->thread_created = true;
    return true;
}

int rp_await_close(MigrationState *s, bool force)
{
    ReturnPathState *rp = s->rp;

    if (!rp || !rp->thread_created) {
        return 0;
    }
    if (force) {
        qemu_file_shutdown(rp->from_dst);
    }
    qemu_thread_join(&rp->thread);
    rp->thread_created = false;
    return (qatomic_read(&rp->error) || !rp->got_shut) ? -EIO : 0;
}

bool rp_has_error(MigrationState *s)
{
    return s->rp && qatomic_read(&s->rp->error);
}

void rp_cleanup(MigrationState *s)
{
    if (!s->rp) {
        return;
    }
    rp_await_close(s, true);
    qemu_fclose(s->rp->from_dst);
    g_free(s->rp);
    s->rp = NULL;
}

/* ---- destination ---- */

static void rp_send(MigrationIncomingState *mis, unsigned type,
                    const uint8_t *data, uint16_t len)
{
    QEMU_LOCK_GUARD(&mis->rp_mutex);
    if (!mis->to_src_file) {
        return;
    }
    trace_rp_send(rp_msg[type].name, len);
    qemu_put_be16(mis->to_src_file, type);
    qemu_put_be16(mis->to_src_file, len);
    qemu_put_buffer(mis->to_src_file, data, len);
    qemu_fflush(mis->to_src_file);
}

static void rp_send_u32(MigrationIncomingState *mis, unsigned type,
                        uint32_t v)
{
    uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

    rp_send(mis, type, b, 4);
}

void migrate_send_rp_shut(MigrationIncomingState *mis, uint32_t value)
{
    rp_send_u32(mis, MIG_RP_MSG_SHUT, value);
}

void migrate_send_rp_pong(MigrationIncomingState *mis, uint32_t value)
{
    rp_send_u32(mis, MIG_RP_MSG_PONG, value);
}

void migrate_send_rp_req_pages_id(MigrationIncomingState *mis,
                                  const char *idstr, uint64_t start,
                                  uint32_t len)
{
    uint8_t b[13 + 255];
    size_t n = strlen(idstr);

    for (int i = 0; i < 8; i++) {
        b[i] = start >> (56 - 8 * i);
    }
    b[8] = len >> 24;
    b[9] = len >> 16;
    b[10] = len >> 8;
    b[11] = len;
    b[12] = n;
    memcpy(b + 13, idstr, n);
    rp_send(mis, MIG_RP_MSG_REQ_PAGES_ID, b, 13 + n);
}

void migrate_send_rp_req_pages(MigrationIncomingState *mis, uint64_t start,
                               uint32_t len)
{
    uint8_t b[12];

    for (int i = 0; i < 8; i++) {
        b[i] = start >> (56 - 8 * i);
    }
    b[8] = len >> 24;
    b[9] = len >> 16;
    b[10] = len >> 8;
    b[11] = len;
    rp_send(mis, MIG_RP_MSG_REQ_PAGES, b, 12);
}

bool migration_incoming_open_return_path(MigrationIncomingState *mis,
                                         Error **errp)
{
    QEMU_LOCK_GUARD(&mis->rp_mutex);
    mis->to_src_file = qemu_file_get_return_path(mis->from_src_file);
    trace_rp_open();
    return true;
}
