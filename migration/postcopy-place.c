/*
 * postcopy-place.c: placing the pages that come after LISTEN, and the
 * placer thread that takes the push's pages off the main channel's
 * reader.
 *
 * Each channel's reader assembles target pages into whole host pages in
 * its own PostcopyTmpPage and places them atomically (UFFDIO_COPY, or
 * UFFDIO_ZEROPAGE for zero pages), which wakes any thread blocked on
 * them; a page that is already present is a protocol violation (the
 * source sends each page once).  In blocks of 4 KiB host pages,
 * contiguous pages are gathered into runs placed with one call each:
 * zero runs of up to ZERO_RUN_MAX, data runs of up to DATA_RUN_MAX.
 *
 * The placer.  In a push, placing was ~60 % of the listen thread's CPU
 * (UFFDIO_COPY allocates, charges and copies each page) and reading the
 * socket ~30 %, one after the other on one core.  So the main channel
 * hands its data runs to a thread of their own and reads on:
 *
 *   listen thread                        placer thread (mig/dst/place)
 *   ─────────────                        ─────────────────────────────
 *   a data run is complete:
 *     a fault in the last 20 ms, or the
 *     input ran dry and the placer is
 *     idle: place it here (nothing to
 *     wake on a requested page's path)
 *     else queue it, take a free buffer ──> place it, mark it received,
 *     (none free: wait until half are,     complete its requests, give
 *     2 ms at most, then place it here)    the buffer back
 *   EOF, a break: drain ─────────────────> wakes it when the queue is empty
 *   the end: let go ─────────────────────> exits when it next runs; the
 *                                          last of the two frees the state
 *
 * Runs never overlap (each page comes once), so the order in which they
 * are placed does not matter.  What must hold is that every queued run
 * has been placed, or its failure recorded, before the listen thread
 * reports the end, pauses (a recovery's RECV_BITMAP is the received
 * map) or tears the userfaultfd down: each of them drains first.  A
 * placement that fails records the first error (the stream's, not the
 * link's) and shuts the channels down, as the preempt thread does, so
 * the listen thread stops at once; the runs queued after it are dropped.
 * The preempt channel places its pages itself: they are the requested
 * ones, and a hand-over would only add a wake-up.
 */
#include "qemu/osdep.h"
#include "postcopy-int.h"
#include "options.h"
#include "qemu/userfaultfd.h"
#include "trace.h"

/* One UFFDIO_ZEROPAGE for up to this much of a guest's untouched RAM. */
#define ZERO_RUN_MAX (2u << 20)
/*
 * Data pages placed with one UFFDIO_COPY: the push of 512 MiB without
 * faults placed one 4 KiB page per ioctl and its destination spent ~90 %
 * of its CPU there, as QEMU's does.  16 pages a call: see the commit's
 * measurements in tests/bench/README.md ("The postcopy push").  A run is
 * placed (or queued for the placer) as soon as the channel has nothing
 * more buffered, so a requested page waits at most for the rest of its
 * run to arrive (64 KiB: tens of microseconds on a fast link).
 */
#define DATA_RUN_MAX (64u << 10)
/*
 * The placer is for the push alone: for this long after a fault the
 * listen thread places every run itself, as a requested page may be in
 * it (plain postcopy) and a busy placer takes a CPU from the threads that
 * serve one (preempt).  As long as the source's URGENT (ram.c).
 */
#define POSTCOPY_PLACER_HOLD_NS (20 * 1000 * 1000)
/* At most this long the listen thread waits for a placer behind: below. */
#define POSTCOPY_PLACER_WAIT_MS 2

/* ---- runs and host pages ---- */
PostcopyTmpPage *postcopy_tmp_page(PostcopyIncoming *pc, int channel)
{
    return pc->tmp[channel];
}

PostcopyTmpPage *postcopy_tmp_page_new(size_t size)
{
    PostcopyTmpPage *t = g_new0(PostcopyTmpPage, 1);

    /* Page-aligned: UFFDIO_COPY copies from it. */
    t->buf = qemu_memalign_pages(size);
    t->max_pages = MAX(size / TARGET_PAGE_SIZE, 1);
    t->have = bitmap_new(t->max_pages);
    t->drun_buf = qemu_memalign_pages(DATA_RUN_MAX);
    return t;
}

void postcopy_tmp_page_free(PostcopyTmpPage *t)
{
    if (t) {
        qemu_free_pages(t->buf);
        qemu_free_pages(t->drun_buf);
        g_free(t->have);
        g_free(t);
    }
}

/*
 * A broken link leaves a partly assembled host page and an unplaced run
 * of zero pages behind: neither is marked received, so the source sends
 * them again after the recovery.
 */
void postcopy_tmp_page_reset(PostcopyTmpPage *t)
{
    if (t) {
        bitmap_zero(t->have, t->max_pages);
        t->pages = 0;
        t->zrun_len = 0;
        t->drun_len = 0;
    }
}

static int place_result(RAMBlock *rb, uint64_t start, int ret,
                        Error **errp)
{
    if (ret == -EEXIST) {
        error_setg(errp, "page 0x%" PRIx64 " of %s was sent twice", start,
                   rb->idstr);
        return ret;
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "placing page 0x%" PRIx64 " of %s "
                         "failed", start, rb->idstr);
        return ret;
    }
    return 0;
}

/*
 * UFFDIO_COPY / UFFDIO_ZEROPAGE of @len bytes at @start in @rb (@src
 * NULL: zeroes); in harness mode a copy, refused as the kernel would
 * refuse a page already there.
 */
static int place(PostcopyIncoming *pc, RAMBlock *rb, uint64_t start,
                 const void *src, uint64_t len)
{
    uint8_t *host = rb->host + start;

    if (!pc->harness) {
        return src ? uffd_copy(pc->uffd, host, src, len)
                   : uffd_zeropage(pc->uffd, host, len);
    }
    if (find_next_bit(rb->receivedmap, (start + len) >> TARGET_PAGE_BITS,
                      start >> TARGET_PAGE_BITS) <
        (start + len) >> TARGET_PAGE_BITS) {
        return -EEXIST;
    }
    if (src) {
        memcpy(host, src, len);
    } else {
        memset(host, 0, len);
    }
    return 0;
}

static void mark_placed(PostcopyIncoming *pc, RAMBlock *rb, uint64_t start,
                        uint64_t len)
{
    bitmap_set_atomic(rb->receivedmap, start >> TARGET_PAGE_BITS,
                      len >> TARGET_PAGE_BITS);
    for (uint64_t off = start; off < start + len; off += rb->page_size) {
        postcopy_page_placed(pc, rb, off);
    }
}

static int place_data_run(PostcopyIncoming *pc, RAMBlock *rb,
                          uint64_t start, const uint8_t *buf, uint64_t len,
                          Error **errp)
{
    int ret = place_result(rb, start, place(pc, rb, start, buf, len), errp);

    if (ret == 0) {
        mark_placed(pc, rb, start, len);
        trace_postcopy_place_data_run(rb->idstr, start, len);
    }
    return ret;
}

static int placer_submit(PostcopyIncoming *pc, PostcopyTmpPage *t,
                         Error **errp);

/*
 * Places the data run @t has gathered: here, or by the placer (see the
 * top of the file).  @dry: the channel has no more input buffered.
 */
static int flush_data_run(PostcopyIncoming *pc, PostcopyTmpPage *t,
                          bool dry, Error **errp)
{
    PostcopyPlacer *p = t->placer;
    int ret;

    if (!t->drun_len) {
        return 0;
    }
    if (p && get_clock() - qatomic_read(&pc->last_fault_ns) >=
             POSTCOPY_PLACER_HOLD_NS) {
        bool idle;

        qemu_mutex_lock(&p->lock);
        idle = !p->queued;
        qemu_mutex_unlock(&p->lock);
        if (!dry || !idle) {
            return placer_submit(pc, t, errp);
        }
    }
    ret = place_data_run(pc, t->drun_rb, t->drun_start, t->drun_buf,
                         t->drun_len, errp);
    t->drun_len = 0;
    return ret;
}

int postcopy_flush_zero_run(PostcopyIncoming *pc, PostcopyTmpPage *t,
                            Error **errp)
{
    RAMBlock *rb = t->zrun_rb;
    int ret;

    if (t->drun_len) {
        return flush_data_run(pc, t, true, errp);
    }
    if (!t->zrun_len) {
        return 0;
    }
    ret = place(pc, rb, t->zrun_start, NULL, t->zrun_len);
    ret = place_result(rb, t->zrun_start, ret, errp);
    if (ret == 0) {
        mark_placed(pc, rb, t->zrun_start, t->zrun_len);
        trace_postcopy_place_zero_run(rb->idstr, t->zrun_start,
                                      t->zrun_len);
    }
    t->zrun_len = 0;
    return ret;
}

static int place_host_page(PostcopyIncoming *pc, PostcopyTmpPage *t,
                           Error **errp)
{
    RAMBlock *rb = t->rb;
    int ret;

    bitmap_zero(t->have, t->pages);
    t->pages = 0;
    ret = flush_data_run(pc, t, false, errp);
    if (ret < 0) {
        return ret;
    }
    if (t->all_zero && postcopy_block_zeropage_ok(pc, rb)) {
        if (t->zrun_len && (t->zrun_rb != rb ||
                            t->zrun_start + t->zrun_len != t->host_offset ||
                            t->zrun_len >= ZERO_RUN_MAX)) {
            ret = postcopy_flush_zero_run(pc, t, errp);
            if (ret < 0) {
                return ret;
            }
        }
        if (!t->zrun_len) {
            t->zrun_rb = rb;
            t->zrun_start = t->host_offset;
        }
        t->zrun_len += rb->page_size;
        return 0;
    }
    ret = postcopy_flush_zero_run(pc, t, errp);
    if (ret < 0) {
        return ret;
    }
    /* (An all-zero buffer holds zeroes: the records wrote them.) */
    ret = place_result(rb, t->host_offset,
                       place(pc, rb, t->host_offset, t->buf, rb->page_size),
                       errp);
    if (ret < 0) {
        return ret;
    }
    mark_placed(pc, rb, t->host_offset, rb->page_size);
    trace_postcopy_place_page(rb->idstr, t->host_offset, false);
    return 0;
}

int postcopy_load_target_page(PostcopyIncoming *pc, PostcopyTmpPage *t,
                              int channel, RAMBlock *rb, uint64_t addr,
                              QEMUFile *f, bool zero, uint8_t fill,
                              Error **errp)
{
    uint64_t host_off = QEMU_ALIGN_DOWN(addr, rb->page_size);
    uint8_t *dst;

    if (addr >= rb->postcopy_length) {
        error_setg(errp, "Illegal RAM offset 0x%" PRIx64 " in block %s "
                   "(postcopy)", addr, rb->idstr);
        return -EINVAL;
    }
    if (t->pages == 0) {
        t->rb = rb;
        t->host_offset = host_off;
        t->all_zero = true;
    } else if (t->rb != rb || t->host_offset != host_off) {
        error_setg(errp, "Non-same host page detected on channel %d: "
                   "target host page %s+0x%" PRIx64 ", received %s+0x%"
                   PRIx64, channel, t->rb->idstr, t->host_offset,
                   rb->idstr, addr);
        return -EINVAL;
    }
    /*
     * A host page is placed once all its target pages are here: each
     * must come once, or a repeated one would leave another unwritten
     * (the buffer holds the last host page's bytes) and place it.
     */
    if (test_bit((addr - host_off) / TARGET_PAGE_SIZE, t->have)) {
        error_setg(errp, "target page 0x%" PRIx64 " of %s came twice for "
                   "host page 0x%" PRIx64 " on channel %d", addr, rb->idstr,
                   host_off, channel);
        return -EINVAL;
    }
    /*
     * A data page of a 4 KiB-page block joins the data run (or starts
     * one), read straight into it.
     */
    if (!zero && rb->page_size == TARGET_PAGE_SIZE) {
        int ret;

        if (t->drun_len && (t->drun_rb != rb ||
                            t->drun_start + t->drun_len != addr)) {
            ret = flush_data_run(pc, t, false, errp);
            if (ret < 0) {
                return ret;
            }
        }
        /* (Only one kind of run at a time: the zero run goes first.) */
        if (!t->drun_len) {
            ret = postcopy_flush_zero_run(pc, t, errp);
            if (ret < 0) {
                return ret;
            }
            t->drun_rb = rb;
            t->drun_start = addr;
        }
        if (qemu_get_buffer(f, t->drun_buf + t->drun_len,
                            TARGET_PAGE_SIZE) != TARGET_PAGE_SIZE) {
            error_setg(errp, "truncated page");
            return -EIO;
        }
        t->drun_len += TARGET_PAGE_SIZE;
        return t->drun_len < DATA_RUN_MAX ? 0
                                          : flush_data_run(pc, t, false, errp);
    }
    dst = t->buf + (addr - host_off);
    if (zero) {
        /* The buffer is reused: zero pages must be written too. */
        memset(dst, fill, TARGET_PAGE_SIZE);
        t->all_zero &= fill == 0;
    } else {
        if (qemu_get_buffer(f, dst, TARGET_PAGE_SIZE) != TARGET_PAGE_SIZE) {
            error_setg(errp, "truncated page");
            return -EIO;
        }
        t->all_zero = false;
    }
    set_bit((addr - host_off) / TARGET_PAGE_SIZE, t->have);
    if (++t->pages < rb->page_size / TARGET_PAGE_SIZE) {
        return 0;
    }
    return place_host_page(pc, t, errp);
}

/* ---- the placer ---- */

/*
 * The placer's state outlives whichever of its two users, the listen
 * thread and the placer thread, lets go last: the listen thread does not
 * wait for an idle placer to be scheduled only to see that it may exit
 * (beside a busy vCPU that took 30-60 ms, which the end of every
 * postcopy migration waited for).
 */
static void placer_unref(PostcopyPlacer *p)
{
    bool last;

    qemu_mutex_lock(&p->lock);
    last = --p->refs == 0;
    qemu_mutex_unlock(&p->lock);
    if (!last) {
        return;
    }
    for (unsigned i = 0; i < p->nfree; i++) {
        qemu_free_pages(p->free_bufs[i]);
    }
    error_free(p->err);
    qemu_cond_destroy(&p->done);
    qemu_cond_destroy(&p->work);
    qemu_mutex_destroy(&p->lock);
    g_free(p);
}

/*
 * Hands @t's data run to the placer; @t goes on with a free buffer.  When
 * none is free it waits, but for POSTCOPY_PLACER_WAIT_MS at most: a placer
 * that gets no CPU for that long (a busy vCPU beside it) leaves the run to
 * this thread.
 */
static int placer_submit(PostcopyIncoming *pc, PostcopyTmpPage *t,
                         Error **errp)
{
    PostcopyPlacer *p = t->placer;
    PostcopyRun *run;
    bool wake;
    int ret;

    qemu_mutex_lock(&p->lock);
    /* (The placer wakes this only once half are free: see below.) */
    while (!p->nfree && !p->err) {
        p->submit_waits = true;
        if (!qemu_cond_timedwait(&p->done, &p->lock,
                                 POSTCOPY_PLACER_WAIT_MS)) {
            p->submit_waits = false;
            break;
        }
    }
    if (!p->nfree && !p->err) {
        qemu_mutex_unlock(&p->lock);
        trace_postcopy_placer_busy(t->drun_start);
        ret = place_data_run(pc, t->drun_rb, t->drun_start, t->drun_buf,
                             t->drun_len, errp);
        t->drun_len = 0;
        return ret;
    }
    if (p->err) {
        error_propagate(errp, error_copy(p->err));
        qemu_mutex_unlock(&p->lock);
        t->drun_len = 0;
        return -EINVAL;
    }
    run = &p->queue[(p->head + p->queued) % POSTCOPY_PLACER_RUNS];
    run->rb = t->drun_rb;
    run->start = t->drun_start;
    run->len = t->drun_len;
    run->buf = t->drun_buf;
    t->drun_buf = p->free_bufs[--p->nfree];
    p->queued++;
    wake = p->idle;
    qemu_mutex_unlock(&p->lock);
    /* (Signalled unlocked, the placer does not wake into the lock.) */
    if (wake) {
        qemu_cond_signal(&p->work);
    }
    t->drun_len = 0;
    return 0;
}

static void *postcopy_placer_thread(void *opaque)
{
    PostcopyPlacer *p = opaque;
    PostcopyIncoming *pc = p->pc;

    trace_postcopy_placer_thread(1);
    /*
     * The listen thread's class: nice 10 with preempt, where requested
     * pages come on the other channel.  Without, a placer at nice 10
     * loses the CPU it shares with the listen thread (nice 0) and the
     * push waits for it: 512 MiB, 8 interleaved runs, median 0.18 s
     * against 0.17 s at nice 0.
     */
    if (p->bulk) {
        qemu_thread_set_class(QEMU_THREAD_BULK);
    }
    qemu_mutex_lock(&p->lock);
    for (;;) {
        PostcopyRun run;
        Error *err = NULL;
        bool failed = p->err != NULL;

        if (!p->queued) {
            if (p->quit) {
                break;
            }
            p->idle = true;
            qemu_cond_wait(&p->work, &p->lock);
            p->idle = false;
            continue;
        }
        run = p->queue[p->head];
        qemu_mutex_unlock(&p->lock);
        /*
         * (After a failure, the rest is dropped.  @pc is alive while
         * runs are queued: the listen thread drains before it lets go.)
         */
        if (!failed &&
            place_data_run(pc, run.rb, run.start, run.buf, run.len,
                           &err) < 0) {
            /* The first error, then wake the listen thread. */
            postcopy_record_error(pc, error_copy(err));
            postcopy_break_links(pc);
        }
        qemu_mutex_lock(&p->lock);
        if (err) {
            p->err = err;
        }
        p->head = (p->head + 1) % POSTCOPY_PLACER_RUNS;
        p->queued--;
        p->free_bufs[p->nfree++] = run.buf;
        if (p->submit_waits &&
            (p->nfree >= POSTCOPY_PLACER_RUNS / 2 || !p->queued || p->err)) {
            /* (One wake-up: a waiter that must wait on sets it again.) */
            p->submit_waits = false;
            qemu_mutex_unlock(&p->lock);
            qemu_cond_signal(&p->done);
            qemu_mutex_lock(&p->lock);
        }
    }
    qemu_mutex_unlock(&p->lock);
    trace_postcopy_placer_thread(0);
    placer_unref(p);
    return NULL;
}

void postcopy_placer_start(PostcopyIncoming *pc)
{
    PostcopyPlacer *p = g_new0(PostcopyPlacer, 1);
    QemuThread thread;

    p->pc = pc;
    p->refs = 2;
    p->bulk = migrate_postcopy_preempt();
    qemu_mutex_init(&p->lock);
    qemu_cond_init(&p->work);
    qemu_cond_init(&p->done);
    for (int i = 0; i < POSTCOPY_PLACER_RUNS; i++) {
        p->free_bufs[i] = qemu_memalign_pages(DATA_RUN_MAX);
    }
    p->nfree = POSTCOPY_PLACER_RUNS;
    pc->placer = p;
    pc->tmp[RAM_CHANNEL_MAIN]->placer = p;
    qemu_thread_create(&thread, "mig/dst/place", postcopy_placer_thread, p,
                       QEMU_THREAD_DETACHED);
}

bool postcopy_placer_drain(PostcopyIncoming *pc)
{
    PostcopyPlacer *p = pc->placer;
    bool ok;

    if (!p) {
        return true;
    }
    qemu_mutex_lock(&p->lock);
    trace_postcopy_placer_drain(p->queued);
    while (p->queued) {
        p->submit_waits = true;
        qemu_cond_wait(&p->done, &p->lock);
    }
    ok = !p->err;
    qemu_mutex_unlock(&p->lock);
    return ok;
}

void postcopy_placer_link_reset(PostcopyIncoming *pc)
{
    PostcopyPlacer *p = pc->placer;

    if (p) {
        qemu_mutex_lock(&p->lock);
        assert(!p->queued);
        g_clear_pointer(&p->err, error_free);
        qemu_mutex_unlock(&p->lock);
    }
}

void postcopy_placer_stop(PostcopyIncoming *pc)
{
    PostcopyPlacer *p = pc->placer;
    bool wake;

    if (!p) {
        return;
    }
    postcopy_placer_drain(pc);
    qemu_mutex_lock(&p->lock);
    p->quit = true;
    wake = p->idle;
    qemu_mutex_unlock(&p->lock);
    if (wake) {
        qemu_cond_signal(&p->work);
    }
    pc->tmp[RAM_CHANNEL_MAIN]->placer = NULL;
    pc->placer = NULL;
    /* (The placer exits whenever it next runs; no need to wait for it.) */
    placer_unref(p);
}
