/*
 * multifd-recv.c: the destination's multifd channels.
 *
 * A connection is told apart by its first four bytes (incoming.c):
 * "QEVM" is the main channel, the multifd magic one of ours, in any
 * order — a QEMU 8.0+ source may connect them in any order, 7.2 connects
 * the main one first.  A multifd connection's hello names its channel
 * id; a thread per channel then reads packets and puts their pages
 * straight into guest memory (readv into the pages themselves, or the
 * method's output).
 *
 * The barrier (spec A.7):
 *
 *   channel thread                      incoming thread (RAM loader)
 *   SYNC packet: pages placed;
 *   synced++, wait for the release  ◄── multifd_recv_sync(): wait until
 *                                       synced == N; synced = 0,
 *                                       release all; read on
 *
 * so nothing the source sent on a channel before a barrier is placed
 * after the loader has read past it, and a ZERO record of a later round
 * is never overtaken by an older copy of its page.  A 7.2 source puts
 * the barrier at the end of every RAM section; an 8.1+ one (and ferry
 * with multifd-flush-after-each-section=off) marks it with a
 * MULTIFD_FLUSH record instead, and the first barrier of the stream
 * tells which: 8.1+ sources flush before their first section ends.
 *
 * Unlike QEMU, a barrier that no channel moves towards for x-link-timeout
 * fails the migration (a source with fewer channels, or none), and a
 * channel that ends or fails fails it at once: its error is recorded on
 * the main channel (first error wins) and every channel is shut down.
 *
 * Locking: lock covers everything but what a channel thread owns (its
 * file after registration, its method stream, its buffers).
 */
#include "qemu/osdep.h"
#include "multifd.h"
#include "migration.h"
#include "options.h"
#include "sysemu/sysemu.h"
#include "qemu/bswap.h"
#include "qemu/atomic.h"
#include "qemu/bufferiszero.h"
#include "qemu/thread.h"
#include "trace.h"

typedef enum {
    BARRIER_UNKNOWN,
    BARRIER_SECTION_END,        /* QEMU 7.2 */
    BARRIER_FLUSH,              /* MULTIFD_FLUSH records (8.1+) */
} BarrierMode;

typedef struct MultiFDRecvChannel {
    MultiFDRecvState *mr;
    unsigned id;
    QEMUFile *f;
    QemuThread thread;
    void *comp;
    uint8_t *comp_buf;
} MultiFDRecvChannel;

struct MultiFDRecvState {
    QemuMutex lock;
    QemuCond cond;
    unsigned n;
    MultiFDRecvChannel **ch;        /* by id; NULL until its hello */
    unsigned registered;
    GPtrArray *hellos;              /* files whose hello is being read */
    QEMUFile *main;
    const MultiFDMethod *method;    /* NULL: none */
    uint32_t comp_flag;
    unsigned synced;                /* channels waiting at the barrier */
    uint64_t sync_gen;              /* barriers released */
    BarrierMode mode;
    uint64_t progress;              /* packets read, by all channels */
    unsigned ended;                 /* channels the source closed */
    int refcnt;                     /* atomic: owner + accepting threads */
    bool failed;
    bool quit;
    Error *err;                     /* the first failure */
};

MultiFDRecvState *multifd_recv_new(void)
{
    MultiFDRecvState *mr = g_new0(MultiFDRecvState, 1);
    g_autofree char *comp = migrate_multifd_compression();

    qemu_mutex_init(&mr->lock);
    qemu_cond_init(&mr->cond);
    mr->n = migrate_multifd_channels();
    mr->ch = g_new0(MultiFDRecvChannel *, mr->n);
    mr->hellos = g_ptr_array_new();
    mr->refcnt = 1;
    mr->method = multifd_method(comp);
    mr->comp_flag = mr->method ? mr->method->flag : MULTIFD_FLAG_NOCOMP;
    trace_multifd_recv_new(mr->n, comp);
    return mr;
}

/* Shuts the main channel down with @err as its error (lock held). */
static void fail_main(MultiFDRecvState *mr)
{
    if (mr->main && mr->err) {
        qemu_file_set_error_obj(mr->main, -EINVAL, error_copy(mr->err));
        qemu_file_shutdown(mr->main);
    }
}

void multifd_recv_set_main(MultiFDRecvState *mr, QEMUFile *main)
{
    QEMU_LOCK_GUARD(&mr->lock);
    mr->main = main;
    if (mr->failed) {
        fail_main(mr);
    }
}

/* Shuts every channel down (lock held). */
static void shutdown_locked(MultiFDRecvState *mr)
{
    for (unsigned i = 0; i < mr->n; i++) {
        if (mr->ch[i]) {
            qemu_file_shutdown(mr->ch[i]->f);
        }
    }
    for (guint i = 0; i < mr->hellos->len; i++) {
        qemu_file_shutdown(mr->hellos->pdata[i]);
    }
}

/* A channel failed: the migration does. */
static void multifd_recv_fail(MultiFDRecvState *mr, Error *err)
{
    qemu_mutex_lock(&mr->lock);
    if (mr->failed || mr->quit) {
        qemu_mutex_unlock(&mr->lock);
        error_free(err);
        return;
    }
    trace_multifd_recv_error(error_get_pretty(err));
    mr->failed = true;
    mr->err = err;
    qemu_cond_broadcast(&mr->cond);
    shutdown_locked(mr);
    fail_main(mr);
    qemu_mutex_unlock(&mr->lock);
}

/* Checks a packet's header (QEMU 7.2's messages); the block, or NULL. */
static bool check_header(MultiFDRecvChannel *ch, const MultiFDHeader *h,
                         RAMBlock **rbp, Error **errp)
{
    unsigned pages = h->normal_pages + h->zero_pages;
    RAMBlock *rb;

    *rbp = NULL;
    if (h->magic != MULTIFD_MAGIC) {
        error_setg(errp, "multifd: received packet magic %x and expected "
                   "magic %x", h->magic, MULTIFD_MAGIC);
        return false;
    }
    if (h->version != MULTIFD_VERSION) {
        error_setg(errp, "multifd: received packet version %u and expected "
                   "version %u", h->version, MULTIFD_VERSION);
        return false;
    }
    if (h->pages_alloc > MULTIFD_PAGES_MAX) {
        error_setg(errp, "multifd: received packet with size %u and "
                   "expected a size of %u", h->pages_alloc,
                   MULTIFD_PAGES_MAX);
        return false;
    }
    /* (Counts are u32: their sum cannot wrap below the limit unnoticed.) */
    if (h->normal_pages > h->pages_alloc || h->zero_pages > h->pages_alloc ||
        pages > h->pages_alloc) {
        error_setg(errp, "multifd: received packet with %u pages and "
                   "expected maximum pages are %u", pages, h->pages_alloc);
        return false;
    }
    if (!pages) {
        return true;
    }
    if (h->normal_pages &&
        (h->flags & MULTIFD_FLAG_COMP_MASK) != ch->mr->comp_flag) {
        error_setg(errp, "multifd %u: flags received %x flags expected %x",
                   ch->id, h->flags & MULTIFD_FLAG_COMP_MASK,
                   ch->mr->comp_flag);
        return false;
    }
    rb = qemu_ram_block_by_name(h->ramblock);
    if (!rb) {
        error_setg(errp, "multifd: unknown ram block %s", h->ramblock);
        return false;
    }
    for (unsigned i = 0; i < pages; i++) {
        if (h->offset[i] > rb->used_length - TARGET_PAGE_SIZE) {
            error_setg(errp, "multifd: offset too long %" PRIu64 " (max %"
                       PRIx64 ")", h->offset[i], (uint64_t)rb->used_length);
            return false;
        }
        /* (QEMU does not check this; its senders never do otherwise.) */
        if (h->offset[i] & ~TARGET_PAGE_MASK) {
            error_setg(errp, "multifd: offset 0x%" PRIx64 " is not page "
                       "aligned", h->offset[i]);
            return false;
        }
    }
    if (h->normal_pages && ch->mr->method &&
        h->next_packet_size > MULTIFD_COMP_MAX) {
        error_setg(errp, "multifd %u: packet of %u bytes exceeds %u", ch->id,
                   h->next_packet_size, MULTIFD_COMP_MAX);
        return false;
    }
    *rbp = rb;
    return true;
}

/* Places a packet's pages; false with @errp on error. */
static bool place_pages(MultiFDRecvChannel *ch, const MultiFDHeader *h,
                        RAMBlock *rb, Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    unsigned n = h->normal_pages;
    uint8_t *pages[MULTIFD_PAGES_MAX];

    for (unsigned i = 0; i < n; i++) {
        pages[i] = rb->host + h->offset[i];
    }
    if (n && ch->mr->method) {
        size_t len = h->next_packet_size;

        if (qemu_get_buffer(ch->f, ch->comp_buf, len) != len) {
            return !qemu_file_get_error_obj(ch->f, errp);
        }
        if (!ch->mr->method->decompress(ch->comp, ch->id, ch->comp_buf, len,
                                        pages, n, errp)) {
            return false;
        }
    } else if (n) {
        struct iovec iov[MULTIFD_PAGES_MAX];

        for (unsigned i = 0; i < n; i++) {
            iov[i].iov_base = pages[i];
            iov[i].iov_len = TARGET_PAGE_SIZE;
        }
        if (qemu_get_bufferv(ch->f, iov, n) != n * TARGET_PAGE_SIZE) {
            qemu_file_get_error_obj(ch->f, errp);
            return false;
        }
    }
    /* 9.0+ sources list zero pages after the normal ones. */
    for (unsigned i = n; i < n + h->zero_pages; i++) {
        uint8_t *p = rb->host + h->offset[i];

        if (!buffer_is_zero(p, TARGET_PAGE_SIZE)) {
            memset(p, 0, TARGET_PAGE_SIZE);
        }
    }
    for (unsigned i = 0; i < n + h->zero_pages; i++) {
        if (rb->receivedmap) {
            set_bit_atomic(h->offset[i] >> TARGET_PAGE_BITS, rb->receivedmap);
        }
    }
    if (mis) {              /* (NULL in the fuzz harness) */
        qatomic_add(&mis->pages_received, n + h->zero_pages);
    }
    return true;
}

/* After a SYNC packet: wait until the loader reaches the barrier. */
static void channel_synced(MultiFDRecvChannel *ch)
{
    MultiFDRecvState *mr = ch->mr;
    uint64_t gen;

    qemu_mutex_lock(&mr->lock);
    mr->synced++;
    gen = mr->sync_gen;
    qemu_cond_broadcast(&mr->cond);
    trace_multifd_recv_synced(ch->id, mr->synced);
    while (mr->sync_gen == gen && !mr->failed && !mr->quit) {
        qemu_cond_wait(&mr->cond, &mr->lock);
    }
    qemu_mutex_unlock(&mr->lock);
}

static void *multifd_recv_thread(void *opaque)
{
    MultiFDRecvChannel *ch = opaque;
    MultiFDRecvState *mr = ch->mr;
    Error *err = NULL;

    trace_multifd_recv_thread(ch->id, 1);
    for (;;) {
        uint8_t buf[MULTIFD_HEADER_SIZE];
        MultiFDHeader h;
        RAMBlock *rb;
        uint8_t *p;

        /*
         * The end of the stream at a packet's boundary ends quietly (the
         * source closes its channels once it is done, which may be
         * before the loader is)...
         */
        if (qemu_peek_buffer(ch->f, &p, 1, 0) != 1) {
            if (qemu_file_get_error(ch->f) == -ENODATA) {
                qemu_mutex_lock(&mr->lock);
                mr->ended++;
                qemu_cond_broadcast(&mr->cond);
                qemu_mutex_unlock(&mr->lock);
            } else if (!qatomic_read(&mr->quit)) {
                qemu_file_get_error_obj(ch->f, &err);
                error_prepend(&err, "multifd channel %u: ", ch->id);
                multifd_recv_fail(mr, err);
            }
            break;
        }
        /* ... inside one it is an error. */
        if (qemu_get_buffer(ch->f, buf, sizeof(buf)) != sizeof(buf)) {
            qemu_file_get_error_obj(ch->f, &err);
        } else {
            multifd_header_decode(buf, &h);
            if (check_header(ch, &h, &rb, &err) &&
                (!rb || place_pages(ch, &h, rb, &err))) {
                trace_multifd_recv_packet(ch->id, h.packet_num, h.flags,
                                          h.normal_pages, h.zero_pages,
                                          h.next_packet_size);
            }
        }
        if (err) {
            if (!qatomic_read(&mr->quit)) {
                error_prepend(&err, "multifd channel %u: ", ch->id);
                multifd_recv_fail(mr, err);
            } else {
                error_free(err);
            }
            break;
        }
        qemu_mutex_lock(&mr->lock);
        mr->progress++;
        qemu_mutex_unlock(&mr->lock);
        if (h.flags & MULTIFD_FLAG_SYNC) {
            channel_synced(ch);
        }
    }
    trace_multifd_recv_thread(ch->id, 0);
    return NULL;
}

static char *uuid_str(const uint8_t *u)
{
    return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                           "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
                           u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                           u[12], u[13], u[14], u[15]);
}

void multifd_recv_ref(MultiFDRecvState *mr)
{
    qatomic_inc(&mr->refcnt);
}

void multifd_recv_unref(MultiFDRecvState *mr)
{
    int was;

    if (!mr) {
        return;
    }
    was = qatomic_fetch_sub(&mr->refcnt, 1);
    if (was == 2) {
        /* Only the owner is left: multifd_recv_free() may be waiting. */
        qemu_mutex_lock(&mr->lock);
        qemu_cond_broadcast(&mr->cond);
        qemu_mutex_unlock(&mr->lock);
    }
    if (was != 1) {
        return;
    }
    g_ptr_array_free(mr->hellos, true);
    error_free(mr->err);
    g_free(mr->ch);
    qemu_cond_destroy(&mr->cond);
    qemu_mutex_destroy(&mr->lock);
    g_free(mr);
}

MultiFDChannelKind multifd_recv_accept(MultiFDRecvState *mr, QEMUFile *f,
                                       Error **errp)
{
    static const uint8_t qevm[4] = { 'Q', 'E', 'V', 'M' };
    uint8_t hello[MULTIFD_HELLO_SIZE];
    MultiFDRecvChannel *ch;
    uint32_t magic, version;
    unsigned id, k;
    size_t got;
    uint8_t *p;
    Error *err = NULL;

    qemu_mutex_lock(&mr->lock);
    k = mr->registered;
    if (mr->quit || mr->failed) {
        qemu_mutex_unlock(&mr->lock);
        error_setg(errp, "multifd: a channel came after the migration "
                   "ended");
        qemu_fclose(f);
        return MULTIFD_CHANNEL_REFUSED;
    }
    g_ptr_array_add(mr->hellos, f);
    qemu_mutex_unlock(&mr->lock);

    /* The first four bytes say what it is (QEMU 8.0+ does the same). */
    if (qemu_peek_buffer(f, &p, 4, 0) == 4 && !memcmp(p, qevm, 4)) {
        qemu_mutex_lock(&mr->lock);
        g_ptr_array_remove(mr->hellos, f);
        qemu_mutex_unlock(&mr->lock);
        trace_multifd_recv_main_channel();
        return MULTIFD_CHANNEL_MAIN;
    }
    got = qemu_get_buffer(f, hello, sizeof(hello));

    qemu_mutex_lock(&mr->lock);
    g_ptr_array_remove(mr->hellos, f);
    qemu_mutex_unlock(&mr->lock);
    magic = ldl_be_p(hello);
    version = ldl_be_p(hello + 4);
    id = hello[24];
    if (got != sizeof(hello)) {
        qemu_file_get_error_obj(f, &err);
        error_prepend(&err, "Unexpected end-of-file before all data were "
                      "read: ");
    } else if (magic != MULTIFD_MAGIC) {
        error_setg(&err, "multifd: received packet magic %x expected %x",
                   magic, MULTIFD_MAGIC);
    } else if (version != MULTIFD_VERSION) {
        error_setg(&err, "multifd: received packet version %u expected %u",
                   version, MULTIFD_VERSION);
    } else if (memcmp(hello + 8, qemu_uuid, 16)) {
        char *theirs = uuid_str(hello + 8);
        char *ours = uuid_str(qemu_uuid);

        error_setg(&err, "multifd: received uuid '%s' and expected uuid "
                   "'%s' for channel %u", theirs, ours, id);
        g_free(theirs);
        g_free(ours);
    } else if (id >= mr->n) {
        error_setg(&err, "multifd: received channel id %u is greater than "
                   "number of channels %u", id, mr->n);
    }
    if (err) {
        error_prepend(&err, "failed to receive packet via multifd channel "
                      "%u: ", k);
        trace_multifd_recv_hello_failed(error_get_pretty(err));
        /* The migration fails (a load that runs stops at once). */
        multifd_recv_fail(mr, error_copy(err));
        error_propagate(errp, err);
        qemu_fclose(f);
        return MULTIFD_CHANNEL_REFUSED;
    }

    ch = g_new0(MultiFDRecvChannel, 1);
    ch->mr = mr;
    ch->id = id;
    ch->f = f;
    if (mr->method) {
        ch->comp = mr->method->recv_new(errp);
        if (!ch->comp) {
            g_free(ch);
            qemu_fclose(f);
            return MULTIFD_CHANNEL_REFUSED;
        }
        ch->comp_buf = g_malloc(MULTIFD_COMP_MAX);
    }
    qemu_mutex_lock(&mr->lock);
    if (mr->ch[id] || mr->quit || mr->failed) {
        bool dup = mr->ch[id] != NULL;

        qemu_mutex_unlock(&mr->lock);
        if (dup) {
            error_setg(errp, "multifd: received id '%u' already setup'", id);
        } else {
            error_setg(errp, "multifd: a channel came after the migration "
                       "ended");
        }
        if (ch->comp) {
            mr->method->recv_free(ch->comp);
        }
        g_free(ch->comp_buf);
        g_free(ch);
        qemu_fclose(f);
        return MULTIFD_CHANNEL_REFUSED;
    }
    mr->ch[id] = ch;
    mr->registered++;
    mr->progress++;
    qemu_cond_broadcast(&mr->cond);
    qemu_thread_create(&ch->thread, "mig/dst/multifd", multifd_recv_thread,
                       ch, QEMU_THREAD_JOINABLE);
    trace_multifd_recv_channel(id, mr->registered, mr->n);
    qemu_mutex_unlock(&mr->lock);
    return MULTIFD_CHANNEL_MULTIFD;
}

int multifd_recv_sync(MultiFDRecvState *mr, bool flush, Error **errp)
{
    int64_t timeout = migrate_link_timeout();
    uint64_t seen;
    int ret = 0;

    qemu_mutex_lock(&mr->lock);
    if (mr->mode == BARRIER_UNKNOWN) {
        mr->mode = flush ? BARRIER_FLUSH : BARRIER_SECTION_END;
        trace_multifd_recv_mode(flush ? "flush" : "section end");
    }
    if (flush != (mr->mode == BARRIER_FLUSH)) {
        /* Not this stream's kind of barrier. */
        qemu_mutex_unlock(&mr->lock);
        return 0;
    }
    seen = mr->progress;
    while (mr->synced < mr->n && !mr->failed && !mr->quit) {
        if (mr->ended) {
            /* (A channel at the barrier cannot have ended.) */
            error_setg(errp, "multifd: %u channel(s) closed by the source "
                       "before the barrier", mr->ended);
            ret = -EIO;
            break;
        }
        if (timeout <= 0) {
            qemu_cond_wait(&mr->cond, &mr->lock);
            continue;
        }
        if (!qemu_cond_timedwait(&mr->cond, &mr->lock, timeout) &&
            mr->progress == seen && mr->synced < mr->n && !mr->failed) {
            error_setg(errp, "multifd: no progress towards the barrier for "
                       "%" PRId64 " ms: %u of %u channels connected, %u "
                       "synchronised", timeout, mr->registered, mr->n,
                       mr->synced);
            ret = -ETIMEDOUT;
            break;
        }
        seen = mr->progress;
    }
    if (!ret && mr->failed) {
        error_propagate(errp, error_copy(mr->err));
        ret = -EIO;
    } else if (!ret && mr->quit) {
        error_setg(errp, "multifd: the migration is being torn down");
        ret = -ECANCELED;
    }
    if (!ret) {
        mr->synced = 0;
        mr->sync_gen++;
        qemu_cond_broadcast(&mr->cond);
        trace_multifd_recv_sync(mr->sync_gen);
    }
    qemu_mutex_unlock(&mr->lock);
    return ret;
}

void multifd_recv_shutdown(MultiFDRecvState *mr)
{
    if (!mr) {
        return;
    }
    qemu_mutex_lock(&mr->lock);
    qatomic_set(&mr->quit, true);
    qemu_cond_broadcast(&mr->cond);
    shutdown_locked(mr);
    qemu_mutex_unlock(&mr->lock);
}

void multifd_recv_free(MultiFDRecvState *mr)
{
    if (!mr) {
        return;
    }
    multifd_recv_shutdown(mr);
    /*
     * No channel registers after quit; a thread still reading a hello
     * holds a reference and gives up.
     */
    for (unsigned i = 0; i < mr->n; i++) {
        MultiFDRecvChannel *ch;

        qemu_mutex_lock(&mr->lock);
        ch = g_steal_pointer(&mr->ch[i]);
        qemu_mutex_unlock(&mr->lock);
        if (!ch) {
            continue;
        }
        qemu_thread_join(&ch->thread);
        qemu_fclose(ch->f);
        if (ch->comp) {
            mr->method->recv_free(ch->comp);
        }
        g_free(ch->comp_buf);
        g_free(ch);
    }
    /*
     * The threads that tell connections apart end too (woken by the
     * shutdown): none may report or touch anything once the migration,
     * or the process, is gone.
     */
    qemu_mutex_lock(&mr->lock);
    while (qatomic_read(&mr->refcnt) > 1) {
        qemu_cond_wait(&mr->cond, &mr->lock);
    }
    qemu_mutex_unlock(&mr->lock);
    multifd_recv_unref(mr);
}
