/*
 * ram.c: sending guest RAM (source) and receiving it (destination).
 *
 * Source.  Every RAMBlock gets a bitmap ("bmap") of target pages still to
 * send, all set at the start.  The dirty log of the memory API is merged
 * into it at every sync (ramblock_sync_dirty_log), and a page's bit is
 * cleared when the page is put on the wire, so a set bit always means
 * "never sent, or written since it was sent".  Pages are found by a
 * round-robin scan that resumes where the last iteration stopped; all
 * dirty target pages of one host page go out together (huge pages).
 * Zero pages travel as ZERO records (never-populated anonymous pages are
 * known zero without reading them: ram_page_unpopulated); others are
 * written with qemu_put_buffer_async straight from guest memory, uncopied
 * — or, with multifd, queued for its channels (multifd-send.c), which
 * write them the same way; every RAM section then ends with multifd's
 * barrier (ram_multifd_barrier()).
 *
 * Locking: the scan state and the bitmaps belong to the migration thread;
 * bitmap_mutex also covers them so that other threads (postcopy page
 * requests) can take part later.
 *
 * Destination.  Records are checked before anything is written: known
 * flag combinations only, a named block that exists, CONTINUE only after
 * a block was named, offsets inside the block, a MEM_SIZE list whose
 * lengths add up to the announced total.
 */
#include "qemu/osdep.h"
#include "ram.h"
#include "migration.h"
#include "options.h"
#include "savevm.h"
#include "postcopy-ram.h"
#include "multifd.h"
#include "migration/register.h"
#include "qemu/bufferiszero.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "qemu/pagemap.h"
#include "qapi/qmp-event.h"
#include "sysemu/runstate.h"
#include "trace.h"

/* An iteration yields after this long (checked every 64 pages). */
#define RAM_ITERATION_MAX_NS (50 * 1000 * 1000)

/*
 * The postcopy push's two regimes (ram_postcopy_pace()).  URGENT while
 * page requests come: a flush every 4 pages, so that a requested page
 * queues behind little, as before these regimes existed (the fault
 * latencies of tests/bench/README.md).  BULK: 64 pages (256 KiB) a write;
 * with outgoing.c's 1 MiB queue the push of 1 GiB without faults took
 * 0.58-0.63 s against 0.79-0.92 s with 4 pages and 64 KiB (QEMU 7.2:
 * 0.58-0.62 s).  256 pages did as well (0.73-0.87 s against 0.85-1.43 s
 * for 64 in a noisier session, QEMU 0.81-0.89 s) but puts up to 1 MiB of
 * unflushed pages ahead of the first request after a quiet spell, 64
 * pages at most 256 KiB.  HOLD: in postcopy-latency.py a fault
 * follows the last one after 0.3-1.1 ms (p50), 9 ms at most (p99 over 12
 * runs), a running guest's after its previous fault's latency: 20 ms
 * keeps a burst of faults in URGENT, and costs the push at most 20 ms of
 * the slower regime once the faults stop.
 */
#define POSTCOPY_FLUSH_PAGES_URGENT 4
#define POSTCOPY_FLUSH_PAGES_BULK   64
#define POSTCOPY_REQUEST_HOLD_NS    (20 * 1000 * 1000)

/* A page range the destination asked for (postcopy). */
typedef struct RAMSrcPageRequest {
    RAMBlock *rb;
    uint64_t offset;
    uint64_t len;
} RAMSrcPageRequest;

/*
 * What a channel's sender keeps between pages: the block named last (for
 * CONTINUE) and a window of /proc/self/pagemap.  Each belongs to whoever
 * may write the channel (writer_lock / preempt_lock).
 */
typedef struct RAMSender {
    RAMBlock *last_block;
    PagemapWindow pagemap;
} RAMSender;

typedef struct RAMState {
    /* bmaps; migration_dirty_pages changes under it (atomic: read by all) */
    QemuMutex bitmap_mutex;
    QemuMutex req_mutex;            /* src_page_requests */
    GQueue src_page_requests;       /* RAMSrcPageRequest *, oldest first */
    int requests_pending;           /* atomic: queue length */
    RAMBlock *last_seen_block;      /* scan position */
    uint64_t last_page;             /* target page index in that block */
    RAMSender main_sender;          /* the main channel */
    uint64_t pagemap_gen;           /* atomic: bumped at every sync */
    uint64_t migration_dirty_pages;
    int64_t time_last_bitmap_sync;  /* ns */
    uint64_t num_dirty_pages_period;
    uint64_t dirty_pages_rate;      /* pages/s at the last sync (atomic) */
    bool active;                    /* atomic: read by query-migrate */

    /* Postcopy after RUN: two writers on the main channel (see below). */
    QemuMutex writer_lock;          /* the main channel, in postcopy */
    bool direct;                    /* atomic: RP thread may send pages */
    QemuMutex preempt_lock;         /* the two fields below */
    QEMUFile *preempt_file;         /* postcopy-preempt channel, or NULL */
    RAMSender preempt_sender;
    SaveStateEntry *se;             /* the "ram" section */

    /*
     * Postcopy pacing of the main channel (ram_postcopy_pace()): the
     * migration thread's, but last_request_ns, which the return-path
     * thread sets at every page request (atomic).
     */
    int64_t last_request_ns;
    int send_queue_urgent;          /* bytes; 0: no pacing (not yet RUN) */
    int send_queue_bulk;
    bool bulk;                      /* the regime in force */
} RAMState;

static RAMState ram_state;

static void ram_drop_requests(RAMState *rs);

/* ---------------- source ---------------- */

static void ram_stat_bytes(MigrationState *s, uint64_t bytes)
{
    if (migration_in_postcopy()) {
        qatomic_add(&s->stats.postcopy_bytes, bytes);
    } else if (runstate_is_running()) {
        qatomic_add(&s->stats.precopy_bytes, bytes);
    } else {
        qatomic_add(&s->stats.downtime_bytes, bytes);
    }
}

/* Merges every block's dirty log into its bmap; one "pass". */
static void migration_bitmap_sync(RAMState *rs)
{
    MigrationState *s = migrate_get_current();
    int64_t now = get_clock();
    uint64_t newly = 0;
    RAMBlock *rb;

    /* Accelerator logs (KVM) first, outside the lock: they can be slow. */
    memory_global_dirty_log_sync();
    qemu_mutex_lock(&rs->bitmap_mutex);
    RAMBLOCK_FOREACH(rb) {
        newly += ramblock_sync_dirty_log(rb, rb->bmap);
    }
    qatomic_set(&rs->migration_dirty_pages,
                rs->migration_dirty_pages + newly);
    qemu_mutex_unlock(&rs->bitmap_mutex);

    rs->num_dirty_pages_period += newly;
    if (now - rs->time_last_bitmap_sync > 1000000000LL) {
        qatomic_set(&rs->dirty_pages_rate,
                    rs->num_dirty_pages_period * 1000000000ULL /
                    (now - rs->time_last_bitmap_sync));
        rs->num_dirty_pages_period = 0;
        rs->time_last_bitmap_sync = now;
    }
    /* Pagemap windows read before this sync may miss pages written since. */
    qatomic_inc(&rs->pagemap_gen);
    qatomic_inc(&s->stats.dirty_sync_count);
    trace_migration_bitmap_sync(qatomic_read(&s->stats.dirty_sync_count),
                                newly, rs->migration_dirty_pages);
    if (migrate_events()) {
        g_autofree char *data = g_strdup_printf(
            "{\"pass\": %" PRIu64 "}",
            qatomic_read(&s->stats.dirty_sync_count));
        qapi_event_send("MIGRATION_PASS", data);
    }
}

/* CONTINUE is per channel: @tx knows the channel's last named block. */
static void save_page_header(RAMSender *tx, QEMUFile *f, RAMBlock *rb,
                             uint64_t offset)
{
    if (rb == tx->last_block) {
        offset |= RAM_SAVE_FLAG_CONTINUE;
    }
    qemu_put_be64(f, offset);
    if (!(offset & RAM_SAVE_FLAG_CONTINUE)) {
        qemu_put_counted_string(f, rb->idstr);
        tx->last_block = rb;
    }
}

/*
 * A page of private anonymous RAM that the process never populated is
 * zero: no need to fault it in to find out (a fresh guest's untouched
 * memory is most of it).  The answer may be stale by the time the page is
 * sent, but only for a page written since the window was read, and such
 * a write is in the dirty log: the page goes again after the next sync,
 * which also invalidates every window (pagemap_gen).
 */
static bool ram_page_unpopulated(RAMSender *tx, RAMBlock *rb, uint8_t *p)
{
    if (rb->fd >= 0 || qemu_ram_is_shared(rb) || qemu_ram_is_hugetlb(rb)) {
        return false;
    }
    /*
     * Not in postcopy: the page faults were what kept the push from
     * flooding the destination with ZERO records, 9 bytes each.  Without
     * them a 64 KiB send queue holds ~7000 zero pages, a requested page
     * waits behind all of them, and a live guest's fault went from ~58
     * to ~150 us (blocktime 405 -> 800 ms, capped, 3 runs each).
     */
    if (migration_in_postcopy()) {
        return false;
    }
    return pagemap_page_unpopulated(&tx->pagemap, p,
                                    qatomic_read(&ram_state.pagemap_gen));
}

/* Puts one target page on the wire. */
static void ram_save_target_page(RAMSender *tx, QEMUFile *f, RAMBlock *rb,
                                 uint64_t page)
{
    MigrationState *s = migrate_get_current();
    uint64_t offset = page << TARGET_PAGE_BITS;
    uint8_t *p = rb->host + offset;
    uint64_t before = qemu_file_total_transferred(f);

    if (ram_page_unpopulated(tx, rb, p) ||
        buffer_is_zero(p, TARGET_PAGE_SIZE)) {
        save_page_header(tx, f, rb, offset | RAM_SAVE_FLAG_ZERO);
        qemu_put_byte(f, 0);
        qatomic_inc(&s->stats.duplicate);
    } else if (s->multifd && tx == &ram_state.main_sender) {
        /* (Never in postcopy: multifd with postcopy is refused.) */
        multifd_queue_page(s->multifd, rb, offset);
        qatomic_inc(&s->stats.normal);
        ram_stat_bytes(s, TARGET_PAGE_SIZE);
    } else {
        save_page_header(tx, f, rb, offset | RAM_SAVE_FLAG_PAGE);
        qemu_put_buffer_async(f, p, TARGET_PAGE_SIZE);
        qatomic_inc(&s->stats.normal);
    }
    ram_stat_bytes(s, qemu_file_total_transferred(f) - before);
}

/*
 * multifd's barrier, just before a RAM section's EOS: the destination
 * places everything its channels carried so far before it reads on.
 * With multifd-flush-after-each-section=off a MULTIFD_FLUSH record marks
 * it instead (what 8.1+ destinations expect by default).  A failure is
 * on the main channel's file already.
 */
static void ram_multifd_barrier(QEMUFile *f)
{
    MigrationState *s = migrate_get_current();

    if (!s->multifd || !multifd_send_sync(s->multifd)) {
        return;
    }
    if (!migrate_props()->multifd_flush_after_each_section) {
        qemu_put_be64(f, RAM_SAVE_FLAG_MULTIFD_FLUSH);
    }
}

/*
 * The dirty target pages of one host page, taken out of the dirty bitmap
 * under bitmap_mutex and then sent without it: a send may block on a full
 * socket, and the other sender (the return-path thread) must still be
 * able to take its page meanwhile.
 */
#define CLAIM_INLINE_BITS 512           /* a 2 MiB page of 4 KiB pages */

typedef struct RAMClaim {
    RAMBlock *rb;
    uint64_t first;                     /* target page where the host page starts */
    uint64_t end;
    int n;
    unsigned long *bits;                /* bit i: target page first + i */
    unsigned long inline_bits[BITS_TO_LONGS(CLAIM_INLINE_BITS)];
} RAMClaim;

/*
 * Claims the dirty target pages of the host page holding @page, from
 * @page on; returns how many.  bitmap_mutex held.
 */
static int ram_claim_host_page(RAMState *rs, RAMBlock *rb, uint64_t page,
                               RAMClaim *c)
{
    uint64_t per_host = rb->page_size >> TARGET_PAGE_BITS;

    c->rb = rb;
    c->first = QEMU_ALIGN_DOWN(page, per_host);
    c->end = MIN(c->first + per_host, rb->used_length >> TARGET_PAGE_BITS);
    c->n = 0;
    if (per_host <= CLAIM_INLINE_BITS) {
        c->bits = c->inline_bits;
        memset(c->inline_bits, 0, sizeof(c->inline_bits));
    } else {
        c->bits = bitmap_new(per_host);
    }
    for (uint64_t p = page; p < c->end; p++) {
        if (test_and_clear_bit(p, rb->bmap)) {
            set_bit(p - c->first, c->bits);
            qatomic_set(&rs->migration_dirty_pages,
                        rs->migration_dirty_pages - 1);
            c->n++;
        }
    }
    rs->last_page = c->end;
    return c->n;
}

/* Puts the claimed pages on @f (whose last named block is *@last). */
static int ram_send_claim(QEMUFile *f, RAMSender *tx, RAMClaim *c)
{
    uint64_t count = c->end - c->first;

    for (uint64_t i = find_next_bit(c->bits, count, 0); i < count;
         i = find_next_bit(c->bits, count, i + 1)) {
        ram_save_target_page(tx, f, c->rb, c->first + i);
    }
    if (c->bits != c->inline_bits) {
        g_free(c->bits);
    }
    return c->n;
}

/* The return-path thread: the destination asked for a page. */
static void ram_note_request(RAMState *rs)
{
    qatomic_set(&rs->last_request_ns, get_clock());
}

void ram_save_queue_pages(RAMBlock *rb, uint64_t start, uint64_t len)
{
    RAMState *rs = &ram_state;
    RAMSrcPageRequest *req = g_new0(RAMSrcPageRequest, 1);

    ram_note_request(rs);
    req->rb = rb;
    req->offset = start;
    req->len = len;
    qemu_mutex_lock(&rs->req_mutex);
    g_queue_push_tail(&rs->src_page_requests, req);
    qatomic_inc(&rs->requests_pending);
    qemu_mutex_unlock(&rs->req_mutex);
}

/*
 * Postcopy, after RUN, requested pages can leave from the return-path
 * thread, which saves waking the migration thread on the way of a fault:
 *
 * - With postcopy-preempt they always do, on the preempt channel, where
 *   nothing is queued ahead of them (preempt_lock: the RP thread's sends
 *   and the EOS at completion).
 * - Without it, only when the migration thread is not writing (it waits
 *   out a rate-limit window, or checks what is pending).  When it is
 *   writing it is the quicker sender: the request is queued and taken
 *   before its next page.  writer_lock makes the two writers of the main
 *   channel take turns; the migration thread holds it for each iteration
 *   (a whole SECTION_PART) and for the completion, so the RP thread, which
 *   only try-locks, always writes a SECTION_PART of its own.
 *
 * A page goes once: whoever clears its dirty bit (bitmap_mutex) sends it.
 * Lock order: writer_lock or preempt_lock, then bitmap_mutex.
 */
void ram_postcopy_writer_lock(void)
{
    qemu_mutex_lock(&ram_state.writer_lock);
}

void ram_postcopy_writer_unlock(void)
{
    qemu_mutex_unlock(&ram_state.writer_lock);
}

void ram_postcopy_set_direct(bool on, QEMUFile *preempt)
{
    RAMState *rs = &ram_state;

    /* (Waits for a send of the return-path thread to end.) */
    qemu_mutex_lock(&rs->writer_lock);
    qemu_mutex_lock(&rs->preempt_lock);
    rs->se = savevm_find_se("ram", 0);
    rs->preempt_file = on ? preempt : NULL;
    rs->preempt_sender.last_block = NULL;
    qatomic_set(&rs->direct, on && rs->se);
    qemu_mutex_unlock(&rs->preempt_lock);
    qemu_mutex_unlock(&rs->writer_lock);
}

void ram_postcopy_preempt_end(QEMUFile *preempt)
{
    RAMState *rs = &ram_state;

    if (!preempt) {
        return;
    }
    qemu_mutex_lock(&rs->preempt_lock);
    /* 7.2's end of the preempt channel: its loader thread exits. */
    qemu_put_be64(preempt, RAM_SAVE_FLAG_EOS);
    qemu_fflush(preempt);
    trace_ram_preempt_eos();
    qemu_mutex_unlock(&rs->preempt_lock);
}

/*
 * Postcopy recovery, source (spec §10.3): every page the destination has
 * not received is sent again — the dirty bitmap becomes the complement of
 * its received bitmap.  A page whose bit was clear (sent) but that is not
 * there was lost with the link: those are counted.  The RP thread calls
 * this while the migration thread waits for the bitmaps (it does not
 * touch the bitmaps meanwhile).
 */
uint64_t ram_postcopy_reload_bitmap(RAMBlock *rb,
                                    const unsigned long *received)
{
    RAMState *rs = &ram_state;
    uint64_t npages = rb->used_length >> TARGET_PAGE_BITS;
    uint64_t lost = 0;

    QEMU_LOCK_GUARD(&rs->bitmap_mutex);
    for (uint64_t p = 0; p < npages; p++) {
        bool here = test_bit(p, received);

        if (!here && !test_bit(p, rb->bmap)) {
            lost++;
        }
        if (here) {
            clear_bit(p, rb->bmap);
        } else {
            set_bit(p, rb->bmap);
        }
    }
    trace_ram_postcopy_reload_bitmap(rb->idstr, npages, lost);
    return lost;
}

uint64_t ram_postcopy_resume_prepare(void)
{
    RAMState *rs = &ram_state;
    uint64_t dirty = 0;
    RAMBlock *rb;

    ram_drop_requests(rs);
    QEMU_LOCK_GUARD(&rs->bitmap_mutex);
    RAMBLOCK_FOREACH(rb) {
        dirty += bitmap_count_one(rb->bmap,
                                  rb->used_length >> TARGET_PAGE_BITS);
    }
    qatomic_set(&rs->migration_dirty_pages, dirty);
    /* A new link: start over, and name every block again. */
    rs->last_seen_block = NULL;
    rs->last_page = 0;
    rs->main_sender.last_block = NULL;
    rs->preempt_sender.last_block = NULL;
    pagemap_window_init(&rs->main_sender.pagemap);
    pagemap_window_init(&rs->preempt_sender.pagemap);
    trace_ram_postcopy_resume_prepare(dirty);
    return dirty;
}

/* Sends the dirty host pages of [first, end) of @rb. */
static int ram_save_range(RAMState *rs, QEMUFile *f, RAMSender *tx,
                          RAMBlock *rb, uint64_t first, uint64_t end)
{
    int sent = 0;

    for (;;) {
        RAMClaim c;
        uint64_t p;

        qemu_mutex_lock(&rs->bitmap_mutex);
        p = find_next_bit(rb->bmap, end, first);
        if (p >= end) {
            qemu_mutex_unlock(&rs->bitmap_mutex);
            return sent;
        }
        ram_claim_host_page(rs, rb, p, &c);
        /* The background push carries on from here. */
        rs->last_seen_block = rb;
        qemu_mutex_unlock(&rs->bitmap_mutex);
        sent += ram_send_claim(f, tx, &c);
        first = c.end;
    }
}

static bool range_dirty(RAMBlock *rb, uint64_t first, uint64_t end)
{
    return find_next_bit(rb->bmap, end, first) < end;
}

bool ram_save_urgent(QEMUFile *f, RAMBlock *rb, uint64_t start, uint64_t len)
{
    RAMState *rs = &ram_state;
    uint64_t first = start >> TARGET_PAGE_BITS;
    uint64_t end = (start + len) >> TARGET_PAGE_BITS;
    bool dirty;
    int sent = 0;

    ram_note_request(rs);
    if (!qatomic_read(&rs->direct)) {
        return false;
    }
    qemu_mutex_lock(&rs->preempt_lock);
    if (rs->preempt_file) {
        sent = ram_save_range(rs, rs->preempt_file,
                              &rs->preempt_sender, rb, first, end);
        if (sent) {
            qemu_fflush(rs->preempt_file);
            trace_ram_urgent_preempt(rb->idstr, start, sent);
        } else {
            trace_ram_request_already_sent(rb->idstr, start);
        }
        qemu_mutex_unlock(&rs->preempt_lock);
        return true;
    }
    qemu_mutex_unlock(&rs->preempt_lock);

    if (!qemu_mutex_trylock(&rs->writer_lock)) {
        return false;
    }
    if (!qatomic_read(&rs->direct)) {
        /* The completion is about to send everything. */
        qemu_mutex_unlock(&rs->writer_lock);
        return false;
    }
    qemu_mutex_lock(&rs->bitmap_mutex);
    dirty = range_dirty(rb, first, end);
    qemu_mutex_unlock(&rs->bitmap_mutex);
    /* (Only this thread takes pages now: the migration thread waits.) */
    if (dirty) {
        qemu_savevm_section_part_begin(f, rs->se);
        sent = ram_save_range(rs, f, &rs->main_sender, rb, first, end);
        qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
        qemu_savevm_section_part_end(f, rs->se);
    }
    if (sent) {
        qemu_fflush(f);
        trace_ram_urgent_direct(rb->idstr, start, sent);
    } else {
        trace_ram_request_already_sent(rb->idstr, start);
    }
    qemu_mutex_unlock(&rs->writer_lock);
    return true;
}

static bool ram_has_requests(RAMState *rs)
{
    return qatomic_read(&rs->requests_pending) > 0;
}

/*
 * Pacing the postcopy push on the main channel.  What the push has put
 * in the socket's send queue, and what it buffered since its last flush,
 * is ahead of the next requested page: without postcopy-preempt the
 * requested page goes behind it on the same channel; with it, a page the
 * push took just before it was requested ("already sent") is in there.
 * So while the destination asks for pages the queue is short and the
 * push flushes every few pages.  But a short queue starves the
 * destination: it drains 64 KiB in ~35 us, and the source's migration
 * thread, blocked on the full socket, takes longer than that to be woken
 * (~50-100 us on an idle vCPU here); the push's throughput went to the
 * scheduler, not the link.  So without requests the push has a deep
 * queue and big writes:
 *
 *   URGENT  a request is queued, or the last one came less than
 *           POSTCOPY_REQUEST_HOLD_NS ago (also the start: the guest has
 *           just been started and is about to fault): the short queue of
 *           outgoing.c, a flush every POSTCOPY_FLUSH_PAGES_URGENT pages.
 *   BULK    otherwise: the deep queue, a flush every
 *           POSTCOPY_FLUSH_PAGES_BULK pages.
 *
 * The first request after a quiet spell waits behind the deep queue
 * once; the switch to URGENT comes right after its page went out
 * (shrinking the queue first would only make that write wait for the
 * queue to drain, then for this thread to be woken).  Queued data stays
 * queued: the following pages see the short queue once it has drained.
 */
void ram_postcopy_set_send_queues(QEMUFile *f, int urgent, int bulk)
{
    RAMState *rs = &ram_state;

    rs->send_queue_urgent = urgent;
    rs->send_queue_bulk = bulk;
    rs->bulk = false;
    ram_note_request(rs);
    mig_channel_set_send_queue(qemu_file_get_ioc(f), urgent);
    trace_ram_postcopy_pace(false, urgent);
}

/* Postcopy (migration thread): the regime now; returns pages per flush. */
static int ram_postcopy_pace(RAMState *rs, QEMUFile *f)
{
    bool bulk = rs->send_queue_bulk && !ram_has_requests(rs) &&
                get_clock() - qatomic_read(&rs->last_request_ns) >=
                POSTCOPY_REQUEST_HOLD_NS;

    if (bulk != rs->bulk) {
        int queue = bulk ? rs->send_queue_bulk : rs->send_queue_urgent;

        rs->bulk = bulk;
        mig_channel_set_send_queue(qemu_file_get_ioc(f), queue);
        trace_ram_postcopy_pace(bulk, queue);
    }
    return bulk ? POSTCOPY_FLUSH_PAGES_BULK : POSTCOPY_FLUSH_PAGES_URGENT;
}

/*
 * The oldest requested page that still needs sending; requests for pages
 * already sent are dropped (the page is on its way).  bitmap_mutex held.
 */
static bool get_queued_page(RAMState *rs, RAMBlock **rbp, uint64_t *page)
{
    QEMU_LOCK_GUARD(&rs->req_mutex);
    while (!g_queue_is_empty(&rs->src_page_requests)) {
        RAMSrcPageRequest *req = g_queue_peek_head(&rs->src_page_requests);
        uint64_t first = req->offset >> TARGET_PAGE_BITS;
        uint64_t end = (req->offset + req->len) >> TARGET_PAGE_BITS;
        uint64_t p = find_next_bit(req->rb->bmap, end, first);

        if (p < end) {
            /* Consume up to the end of this page's host page. */
            uint64_t next = QEMU_ALIGN_UP((p + 1) << TARGET_PAGE_BITS,
                                          req->rb->page_size);

            *rbp = req->rb;
            *page = p;
            if (next >= req->offset + req->len) {
                g_queue_pop_head(&rs->src_page_requests);
                qatomic_dec(&rs->requests_pending);
                g_free(req);
            } else {
                req->len -= next - req->offset;
                req->offset = next;
            }
            return true;
        }
        trace_ram_request_already_sent(req->rb->idstr, req->offset);
        g_queue_pop_head(&rs->src_page_requests);
        qatomic_dec(&rs->requests_pending);
        g_free(req);
    }
    return false;
}

static void ram_drop_requests(RAMState *rs)
{
    RAMSrcPageRequest *req;

    QEMU_LOCK_GUARD(&rs->req_mutex);
    while ((req = g_queue_pop_head(&rs->src_page_requests))) {
        g_free(req);
    }
    qatomic_set(&rs->requests_pending, 0);
}

/*
 * Finds the next dirty page — a requested one first — and sends its host
 * page.  Returns pages sent, 0 if nothing is dirty anywhere.
 */
static int ram_find_and_save_block(RAMState *rs, QEMUFile *f)
{
    unsigned nblocks = qemu_ram_block_count();
    RAMClaim c;
    RAMBlock *rb;
    int ret = 0;

    if (!nblocks) {
        return 0;
    }
    /* (The RP thread moves the scan position too, under the lock.) */
    qemu_mutex_lock(&rs->bitmap_mutex);
    rb = rs->last_seen_block;
    if (!rb) {
        rb = qemu_ram_block_nth(0);
        rs->last_page = 0;
    }
    if (ram_has_requests(rs)) {
        RAMBlock *qrb;
        uint64_t page;

        if (get_queued_page(rs, &qrb, &page)) {
            /*
             * Send it now, push it out at once, and carry on scanning from
             * there: the guest will likely want the neighbours next.
             */
            ram_claim_host_page(rs, qrb, page, &c);
            rs->last_seen_block = qrb;
            qemu_mutex_unlock(&rs->bitmap_mutex);
            ret = ram_send_claim(f, &rs->main_sender, &c);
            qemu_fflush(f);
            trace_ram_urgent_page(qrb->idstr, page << TARGET_PAGE_BITS);
            return ret;
        }
    }
    /* At most one full round over the blocks, plus the wrap of the first. */
    for (unsigned tries = 0; tries <= nblocks &&
         qatomic_read(&rs->migration_dirty_pages);
         tries++) {
        uint64_t npages = rb->used_length >> TARGET_PAGE_BITS;
        uint64_t page = find_next_bit(rb->bmap, npages, rs->last_page);

        if (page < npages) {
            ret = ram_claim_host_page(rs, rb, page, &c);
            break;
        }
        /* Next block (circularly). */
        for (unsigned i = 0; i < nblocks; i++) {
            if (qemu_ram_block_nth(i) == rb) {
                rb = qemu_ram_block_nth((i + 1) % nblocks);
                break;
            }
        }
        rs->last_page = 0;
    }
    rs->last_seen_block = rb;
    qemu_mutex_unlock(&rs->bitmap_mutex);
    return ret ? ram_send_claim(f, &rs->main_sender, &c) : 0;
}

static bool ram_is_active(void *opaque)
{
    return qemu_ram_block_count() > 0;
}

static int ram_save_setup(QEMUFile *f, void *opaque, Error **errp)
{
    RAMState *rs = &ram_state;
    RAMBlock *rb;
    uint64_t total = 0;

    qemu_mutex_lock(&rs->bitmap_mutex);
    qatomic_set(&rs->migration_dirty_pages, 0);
    RAMBLOCK_FOREACH(rb) {
        uint64_t npages = rb->used_length >> TARGET_PAGE_BITS;

        g_free(rb->bmap);
        rb->bmap = bitmap_new(npages);
        bitmap_set(rb->bmap, 0, npages);
        qatomic_set(&rs->migration_dirty_pages,
                    rs->migration_dirty_pages + npages);
        total += rb->used_length;
    }
    rs->last_seen_block = NULL;
    rs->main_sender.last_block = NULL;
    pagemap_window_init(&rs->main_sender.pagemap);
    pagemap_window_init(&rs->preempt_sender.pagemap);
    rs->last_page = 0;
    rs->send_queue_urgent = rs->send_queue_bulk = 0;   /* (until RUN) */
    rs->bulk = false;
    rs->num_dirty_pages_period = 0;
    rs->time_last_bitmap_sync = get_clock();
    qatomic_set(&rs->active, true);
    qemu_mutex_unlock(&rs->bitmap_mutex);

    memory_global_dirty_log_start();
    migration_bitmap_sync(rs);

    qemu_put_be64(f, total | RAM_SAVE_FLAG_MEM_SIZE);
    RAMBLOCK_FOREACH(rb) {
        qemu_put_counted_string(f, rb->idstr);
        qemu_put_be64(f, rb->used_length);
        /* The page size goes along only for huge-page blocks (spec §4.3). */
        if (migrate_postcopy_ram() &&
            rb->page_size != qemu_real_host_page_size) {
            qemu_put_be64(f, rb->page_size);
        }
    }
    ram_multifd_barrier(f);
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    qemu_fflush(f);
    trace_ram_save_setup(total, qatomic_read(&rs->migration_dirty_pages));
    return qemu_file_get_error_obj(f, errp) ? -EIO : 0;
}

static int ram_save_iterate(QEMUFile *f, void *opaque, Error **errp)
{
    RAMState *rs = &ram_state;
    bool postcopy = migration_in_postcopy();
    int64_t t0 = get_clock();
    int done = 0;
    int unflushed = 0;
    uint64_t i = 0, pages = 0;

    /* Requested pages go out regardless of the rate limit. */
    while (!qemu_file_rate_limit(f) || ram_has_requests(rs)) {
        int n = ram_find_and_save_block(rs, f);

        if (n == 0) {
            done = 1;
            break;
        }
        pages += n;
        /*
         * In postcopy push the background out in batches, small ones
         * while requests come (ram_postcopy_pace()).  Without preempt,
         * the next requested page queues behind what is buffered; with
         * it, a page claimed here is "already sent" to a request, and a
         * vCPU that faults on it waits until this thread flushes (once up
         * to 64 pages, and this thread may be off its CPU meanwhile:
         * faults of 30-40 ms with a live guest).
         */
        unflushed += n;
        if (postcopy && unflushed >= ram_postcopy_pace(rs, f)) {
            qemu_fflush(f);
            unflushed = 0;
        }
        /* Yield now and then so the thread can check its limits. */
        if ((++i & 63) == 0 && get_clock() - t0 > RAM_ITERATION_MAX_NS &&
            !ram_has_requests(rs)) {
            break;
        }
    }
    ram_multifd_barrier(f);
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    /*
     * With multifd the barrier must reach the destination now: its
     * channels wait there, and ours, full, would wait for them.
     */
    if (migrate_get_current()->multifd) {
        qemu_fflush(f);
    }
    trace_ram_save_iterate(pages, qatomic_read(&rs->migration_dirty_pages),
                           done);
    if (qemu_file_get_error_obj(f, errp)) {
        return -EIO;
    }
    return done;
}

static int ram_save_complete(QEMUFile *f, void *opaque, Error **errp)
{
    RAMState *rs = &ram_state;
    uint64_t pages = 0;
    int unflushed = 0;
    int n;

    if (!migration_in_postcopy()) {
        migration_bitmap_sync(rs);
    }
    /* Everything that is left, regardless of the rate limit. */
    while ((n = ram_find_and_save_block(rs, f)) > 0) {
        pages += n;
        if (qemu_file_get_error(f)) {
            break;
        }
        unflushed += n;
        if (migration_in_postcopy() &&
            unflushed >= ram_postcopy_pace(rs, f)) {
            qemu_fflush(f);
            unflushed = 0;
        }
    }
    ram_multifd_barrier(f);
    qemu_put_be64(f, RAM_SAVE_FLAG_EOS);
    qemu_fflush(f);
    trace_ram_save_complete(pages);
    return qemu_file_get_error_obj(f, errp) ? -EIO : 0;
}

static void ram_state_pending(void *opaque, uint64_t threshold,
                              uint64_t *must_precopy, uint64_t *can_postcopy)
{
    RAMState *rs = &ram_state;
    uint64_t remaining = qatomic_read(&rs->migration_dirty_pages) *
                         TARGET_PAGE_SIZE;

    /* Close to the end: look at what was written meanwhile. */
    if (!migration_in_postcopy() && remaining < threshold) {
        migration_bitmap_sync(rs);
        remaining = qatomic_read(&rs->migration_dirty_pages) *
                    TARGET_PAGE_SIZE;
    }
    if (migrate_postcopy_ram()) {
        *can_postcopy += remaining;
    } else {
        *must_precopy += remaining;
    }
}

static bool ram_has_postcopy(void *opaque)
{
    return migrate_postcopy_ram();
}

static void ram_save_cleanup(void *opaque)
{
    RAMState *rs = &ram_state;
    RAMBlock *rb;

    if (!qatomic_read(&rs->active)) {
        return;
    }
    memory_global_dirty_log_stop();
    /* (A postcopy that failed or was cancelled left them set.) */
    ram_postcopy_set_direct(false, NULL);
    ram_drop_requests(rs);
    qemu_mutex_lock(&rs->bitmap_mutex);
    RAMBLOCK_FOREACH(rb) {
        g_clear_pointer(&rb->bmap, g_free);
    }
    qatomic_set(&rs->migration_dirty_pages, 0);
    qatomic_set(&rs->active, false);
    qemu_mutex_unlock(&rs->bitmap_mutex);
}

/* ---- the postcopy switch (source) ---- */

/* Sends one POSTCOPY_RAM_DISCARD with @n ranges (bytes) for @rb. */
static void send_discard(QEMUFile *f, RAMBlock *rb, const uint64_t *ranges,
                         unsigned n)
{
    size_t nlen = strlen(rb->idstr);
    uint8_t buf[3 + 255 + 12 * 16];
    size_t len = 0;

    buf[len++] = 0;                 /* version */
    buf[len++] = nlen;
    memcpy(buf + len, rb->idstr, nlen);
    len += nlen;
    buf[len++] = 0;                 /* terminator */
    for (unsigned i = 0; i < 2 * n; i++) {
        for (int k = 0; k < 8; k++) {
            buf[len++] = ranges[i] >> (56 - 8 * k);
        }
    }
    qemu_savevm_command_send(f, MIG_CMD_POSTCOPY_RAM_DISCARD, len, buf);
}

/*
 * Huge pages: the destination places whole host pages, so a host page is
 * sent whole or not at all — any dirty target page makes it all dirty.
 */
static void canonicalize_host_pages(RAMState *rs, RAMBlock *rb)
{
    uint64_t per_host = rb->page_size >> TARGET_PAGE_BITS;
    uint64_t npages = rb->used_length >> TARGET_PAGE_BITS;

    if (per_host <= 1) {
        return;
    }
    for (uint64_t hp = 0; hp < npages; hp += per_host) {
        uint64_t n = bitmap_count_one_with_offset(rb->bmap, hp, per_host);

        if (n && n < per_host) {
            bitmap_set(rb->bmap, hp, per_host);
            qatomic_set(&rs->migration_dirty_pages,
                        rs->migration_dirty_pages + per_host - n);
        }
    }
}

int ram_postcopy_send_discard_bitmap(QEMUFile *f, Error **errp)
{
    RAMState *rs = &ram_state;
    RAMBlock *rb;

    migration_bitmap_sync(rs);
    qemu_mutex_lock(&rs->bitmap_mutex);
    RAMBLOCK_FOREACH(rb) {
        uint64_t npages = rb->used_length >> TARGET_PAGE_BITS;
        uint64_t ranges[24];
        unsigned n = 0;
        uint64_t p = 0;

        canonicalize_host_pages(rs, rb);
        /* Every run of set bits: never sent, or written since. */
        while ((p = find_next_bit(rb->bmap, npages, p)) < npages) {
            uint64_t end = find_next_zero_bit(rb->bmap, npages, p);

            ranges[2 * n] = p << TARGET_PAGE_BITS;
            ranges[2 * n + 1] = (end - p) << TARGET_PAGE_BITS;
            if (++n == 12) {
                send_discard(f, rb, ranges, n);
                n = 0;
            }
            p = end;
        }
        if (n) {
            send_discard(f, rb, ranges, n);
        }
    }
    /* The next page record names its block again. */
    rs->main_sender.last_block = NULL;
    pagemap_window_init(&rs->main_sender.pagemap);
    pagemap_window_init(&rs->preempt_sender.pagemap);
    qemu_mutex_unlock(&rs->bitmap_mutex);
    trace_ram_postcopy_discard(qatomic_read(&rs->migration_dirty_pages));
    return qemu_file_get_error_obj(f, errp) ? -EIO : 0;
}

uint64_t ram_bytes_remaining(void)
{
    return qatomic_read(&ram_state.active) ?
           qatomic_read(&ram_state.migration_dirty_pages) * TARGET_PAGE_SIZE :
           0;
}

uint64_t ram_dirty_pages_rate(void)
{
    return qatomic_read(&ram_state.dirty_pages_rate);
}

/* ---------------- destination ---------------- */

typedef struct RAMLoadState {
    /*
     * CONTINUE refers to the channel's own last block (spec §4.3).  Each
     * entry belongs to the thread reading that channel; a new link starts
     * without one (ram_load_link_reset()).
     */
    RAMBlock *last_block[RAM_CHANNEL__MAX];
} RAMLoadState;

static RAMLoadState ram_load_state;

void ram_load_link_reset(void)
{
    for (int i = 0; i < RAM_CHANNEL__MAX; i++) {
        ram_load_state.last_block[i] = NULL;
    }
}

static int ram_load_setup(QEMUFile *f, void *opaque, Error **errp)
{
    RAMBlock *rb;

    memset(&ram_load_state, 0, sizeof(ram_load_state));
    RAMBLOCK_FOREACH(rb) {
        g_free(rb->receivedmap);
        rb->receivedmap = bitmap_new(rb->max_length >> TARGET_PAGE_BITS);
    }
    return 0;
}

static void ram_load_cleanup(void *opaque)
{
    RAMBlock *rb;

    RAMBLOCK_FOREACH(rb) {
        g_clear_pointer(&rb->receivedmap, g_free);
    }
}

/* The block list of the START section. */
static int ram_load_block_list(QEMUFile *f, uint64_t total, Error **errp)
{
    bool advised = postcopy_incoming_advised(
        migration_incoming_get_current()->postcopy);

    while (total) {
        char id[256];
        RAMBlock *rb;
        uint64_t length;

        if (!qemu_get_counted_string(f, id)) {
            error_setg(errp, "truncated RAM block list");
            return -EINVAL;
        }
        length = qemu_get_be64(f);
        if (qemu_file_get_error(f)) {
            error_setg(errp, "truncated RAM block list");
            return -EIO;
        }
        rb = qemu_ram_block_by_name(id);
        if (!rb) {
            error_setg(errp, "Unknown ramblock \"%s\", cannot accept "
                       "migration", id);
            return -EINVAL;
        }
        if (length != rb->used_length) {
            error_setg(errp, "Size mismatch: %s: 0x%" PRIx64 " != 0x%"
                       PRIx64 ": Invalid argument", id,
                       (uint64_t)rb->used_length, length);
            return -EINVAL;
        }
        if (advised && migrate_postcopy_ram() &&
            rb->page_size != qemu_real_host_page_size) {
            uint64_t remote = qemu_get_be64(f);

            if (remote != rb->page_size) {
                error_setg(errp, "Mismatched RAM page size %s (local) %zd "
                           "!= %" PRIu64, id, rb->page_size, remote);
                return -EINVAL;
            }
        }
        if (length > total) {
            error_setg(errp, "RAM block list exceeds the announced total "
                       "(block '%s')", id);
            return -EINVAL;
        }
        trace_ram_load_block(id, length);
        total -= length;
    }
    return 0;
}

static RAMBlock *ram_block_from_stream(QEMUFile *f, int flags, int channel,
                                       Error **errp)
{
    RAMBlock **last = &ram_load_state.last_block[channel];
    char id[256];
    RAMBlock *rb;

    if (flags & RAM_SAVE_FLAG_CONTINUE) {
        if (!*last) {
            error_setg(errp, "Ack, bad migration stream! (CONTINUE before "
                       "any block was named)");
        }
        return *last;
    }
    if (!qemu_get_counted_string(f, id)) {
        error_setg(errp, "truncated RAM block name");
        return NULL;
    }
    rb = qemu_ram_block_by_name(id);
    if (!rb) {
        error_setg(errp, "Can't find block %s", id);
        return NULL;
    }
    *last = rb;
    return rb;
}

static int ram_load_page(QEMUFile *f, uint64_t addr, int flags, Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    RAMBlock *rb = ram_block_from_stream(f, flags, RAM_CHANNEL_MAIN, errp);
    uint8_t *host;

    if (!rb) {
        return -EINVAL;
    }
    if (!offset_in_ramblock(rb, addr)) {
        error_setg(errp, "Illegal RAM offset 0x%" PRIx64 " in block %s",
                   addr, rb->idstr);
        return -EINVAL;
    }
    host = rb->host + addr;
    if ((flags & ~RAM_SAVE_FLAG_CONTINUE) == RAM_SAVE_FLAG_ZERO) {
        int ch = qemu_get_byte(f);

        /* Do not touch a page that is zero already (keeps it unmapped). */
        if (ch != 0 || !buffer_is_zero(host, TARGET_PAGE_SIZE)) {
            memset(host, ch, TARGET_PAGE_SIZE);
        }
    } else {
        qemu_get_buffer(f, host, TARGET_PAGE_SIZE);
    }
    if (rb->receivedmap) {
        set_bit_atomic(addr >> TARGET_PAGE_BITS, rb->receivedmap);
    }
    qatomic_inc(&mis->pages_received);
    return 0;
}

/* Records @err on @f (the first error wins) and passes it on. */
static int load_failed(QEMUFile *f, int ret, Error *err, Error **errp)
{
    qemu_file_set_error_obj(f, ret, error_copy(err));
    error_propagate(errp, err);
    return ret;
}

/*
 * After LISTEN: pages only, assembled into host pages and placed, up to
 * EOS; on the main channel (listen thread) or the preempt channel (its
 * own thread), each with its own temporary page and last block.  Every
 * error is recorded on @f too, so that its class (the link's, or the
 * stream's) is the first one's.
 */
int ram_load_postcopy(QEMUFile *f, PostcopyIncoming *pc, int channel,
                      Error **errp)
{
    PostcopyTmpPage *tmp = postcopy_tmp_page(pc, channel);
    Error *err = NULL;

    for (;;) {
        uint64_t addr;
        int flags, ret;
        RAMBlock *rb;
        uint8_t fill = 0;
        bool zero;

        /* About to wait for the network: place what is gathered first. */
        if (qemu_file_read_buffered(f) < 8 + 256 + TARGET_PAGE_SIZE) {
            ret = postcopy_flush_zero_run(pc, tmp, &err);
            if (ret < 0) {
                return load_failed(f, ret, err, errp);
            }
        }
        addr = qemu_get_be64(f);
        if (qemu_file_get_error(f)) {
            return qemu_file_get_error_obj(f, errp);
        }
        flags = addr & ~TARGET_PAGE_MASK;
        addr &= TARGET_PAGE_MASK;
        switch (flags & ~RAM_SAVE_FLAG_CONTINUE) {
        case RAM_SAVE_FLAG_ZERO:
        case RAM_SAVE_FLAG_PAGE:
            break;
        case RAM_SAVE_FLAG_EOS:
            ret = postcopy_flush_zero_run(pc, tmp, &err);
            return ret < 0 ? load_failed(f, ret, err, errp) : 0;
        default:
            error_setg(&err, "Unknown combination of migration flags: 0x%x "
                       "(postcopy mode)", flags);
            return load_failed(f, -EINVAL, err, errp);
        }
        rb = ram_block_from_stream(f, flags, channel, &err);
        if (!rb) {
            return load_failed(f, -EINVAL, err, errp);
        }
        zero = (flags & ~RAM_SAVE_FLAG_CONTINUE) == RAM_SAVE_FLAG_ZERO;
        if (zero) {
            fill = qemu_get_byte(f);
        }
        ret = postcopy_load_target_page(pc, tmp, channel, rb, addr, f, zero,
                                        fill, &err);
        if (ret < 0) {
            return load_failed(f, ret, err, errp);
        }
        qatomic_inc(&migration_incoming_get_current()->pages_received);
    }
}

static int ram_load(QEMUFile *f, void *opaque, int version_id, Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();

    if (version_id != RAM_SECTION_VERSION) {
        error_setg(errp, "ram: unsupported version %d (need %d)", version_id,
                   RAM_SECTION_VERSION);
        return -EINVAL;
    }
    if (postcopy_incoming_listening(mis->postcopy)) {
        return ram_load_postcopy(f, mis->postcopy, RAM_CHANNEL_MAIN, errp);
    }
    for (;;) {
        uint64_t addr = qemu_get_be64(f);
        int flags, ret;

        if (qemu_file_get_error(f)) {
            return -EIO;
        }
        flags = addr & ~TARGET_PAGE_MASK;
        addr &= TARGET_PAGE_MASK;
        switch (flags & ~RAM_SAVE_FLAG_CONTINUE) {
        case RAM_SAVE_FLAG_MEM_SIZE:
            ret = ram_load_block_list(f, addr, errp);
            break;
        case RAM_SAVE_FLAG_ZERO:
        case RAM_SAVE_FLAG_PAGE:
            ret = ram_load_page(f, addr, flags, errp);
            break;
        case RAM_SAVE_FLAG_MULTIFD_FLUSH:
            if (!mis->multifd) {
                error_setg(errp, "Unknown combination of migration flags: "
                           "0x%x", flags);
                return -EINVAL;
            }
            ret = multifd_recv_sync(mis->multifd, true, errp);
            break;
        case RAM_SAVE_FLAG_EOS:
            return mis->multifd ? multifd_recv_sync(mis->multifd, false, errp)
                                : 0;
        case RAM_SAVE_FLAG_XBZRLE:
        case RAM_SAVE_FLAG_COMPRESS_PAGE:
            error_setg(errp, "RAM record with flags 0x%x needs a capability "
                       "ferry does not support", flags);
            return -EINVAL;
        default:
            error_setg(errp, "Unknown combination of migration flags: 0x%x",
                       flags);
            return -EINVAL;
        }
        if (ret < 0) {
            return ret;
        }
    }
}

static bool ram_has_urgent_work(void *opaque)
{
    return ram_has_requests(opaque);
}

static const SaveVMHandlers savevm_ram_handlers = {
    .save_setup = ram_save_setup,
    .save_live_iterate = ram_save_iterate,
    .save_live_complete_precopy = ram_save_complete,
    .save_live_complete_postcopy = ram_save_complete,
    .state_pending = ram_state_pending,
    .is_active = ram_is_active,
    .has_postcopy = ram_has_postcopy,
    .has_urgent_work = ram_has_urgent_work,
    .save_cleanup = ram_save_cleanup,
    .load_setup = ram_load_setup,
    .load_state = ram_load,
    .load_cleanup = ram_load_cleanup,
};

void ram_mig_init(void)
{
    qemu_mutex_init(&ram_state.bitmap_mutex);
    qemu_mutex_init(&ram_state.req_mutex);
    qemu_mutex_init(&ram_state.writer_lock);
    qemu_mutex_init(&ram_state.preempt_lock);
    register_savevm_live("ram", 0, RAM_SECTION_VERSION, &savevm_ram_handlers,
                         &ram_state);
}
