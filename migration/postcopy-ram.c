/*
 * postcopy-ram.c: the destination's postcopy state machine, commands and
 * page placement.
 *
 *   ADVISE   check the host (userfaultfd, page sizes), discard all guest
 *            RAM so that only migrated pages will exist      NONE -> ADVISE
 *   DISCARD  drop ranges the source will send again (not yet sent, or
 *            written since)                          ADVISE -> DISCARD
 *   LISTEN   register RAM with userfaultfd (MISSING), start the fault
 *            thread and the listen thread, which reads the main channel
 *            from now on                  ADVISE/DISCARD -> LISTENING
 *   RUN      start the VM (main loop)         LISTENING -> RUNNING
 *   EOF      (listen thread) tear down                  RUNNING -> END
 *
 * A command in the wrong state fails the migration with QEMU's message.
 * Pages arriving after LISTEN are assembled into whole host pages and
 * placed atomically (UFFDIO_COPY, or UFFDIO_ZEROPAGE for a zero page),
 * which wakes any thread blocked on them; a page that is already present
 * is a protocol violation (the source must send each page once).
 *
 * Locking: PostcopyIncoming is created at ADVISE by the incoming thread
 * and freed after both loading threads have stopped.  The placement
 * state (tmp pages) belongs to the thread reading that channel; the
 * request table and statistics are under req_lock (postcopy-fault.c).
 */
#include "qemu/osdep.h"
#include "postcopy-ram.h"
#include "postcopy-fault.h"
#include "postcopy-preempt.h"
#include "migration.h"
#include "options.h"
#include "savevm.h"
#include "ram.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "qemu/userfaultfd.h"
#include "sysemu/runstate.h"
#include "trace.h"

struct PostcopyTmpPage {
    uint8_t *buf;               /* largest host page of any block */
    RAMBlock *rb;
    uint64_t host_offset;
    unsigned pages;             /* target pages received so far */
    bool all_zero;
    /*
     * A run of whole zero host pages, contiguous in one block, not yet
     * placed: one UFFDIO_ZEROPAGE for the run instead of one per page
     * (each call costs microseconds, and a guest's untouched memory is
     * mostly such runs).  The run is placed before any other page, when
     * it reaches ZERO_RUN_MAX, and whenever the channel has no more
     * buffered input, so a requested page never waits for the network.
     */
    RAMBlock *zrun_rb;
    uint64_t zrun_start;
    uint64_t zrun_len;
};

#define ZERO_RUN_MAX (2u << 20)

static int incoming_postcopy_state;     /* PostcopyState, atomic */

PostcopyState postcopy_state_get(void)
{
    return qatomic_read(&incoming_postcopy_state);
}

void postcopy_state_set(PostcopyState state)
{
    trace_postcopy_state_set(postcopy_state_get(), state);
    qatomic_set(&incoming_postcopy_state, state);
}

bool postcopy_incoming_advised(MigrationIncomingState *mis)
{
    PostcopyState ps = postcopy_state_get();

    return ps >= POSTCOPY_INCOMING_ADVISE && ps < POSTCOPY_INCOMING_END;
}

bool postcopy_incoming_listening(MigrationIncomingState *mis)
{
    PostcopyState ps = postcopy_state_get();

    return ps == POSTCOPY_INCOMING_LISTENING ||
           ps == POSTCOPY_INCOMING_RUNNING;
}

static int fail(QEMUFile *f, Error **errp, int ret, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static int fail(QEMUFile *f, Error **errp, int ret, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(errp, "%s", msg);
    qemu_file_set_error(f, ret);
    return ret;
}

bool postcopy_ram_supported_by_host(MigrationIncomingState *mis,
                                    Error **errp)
{
    bool huge = false;
    RAMBlock *rb;

    RAMBLOCK_FOREACH(rb) {
        if (rb->page_size < TARGET_PAGE_SIZE) {
            error_setg(errp, "Postcopy: target page size is larger than "
                       "block %s's page size", rb->idstr);
            return false;
        }
        if (!QEMU_IS_ALIGNED(rb->used_length, rb->page_size)) {
            error_setg(errp, "Postcopy: block %s's length 0x%" PRIx64
                       " is not a multiple of its page size 0x%zx",
                       rb->idstr, (uint64_t)rb->used_length, rb->page_size);
            return false;
        }
        huge |= qemu_ram_is_hugetlb(rb);
    }
    if (!uffd_probe(huge, NULL, errp)) {
        error_prepend(errp, "Postcopy is not supported: ");
        return false;
    }
    /* userfaultfd and mlock() do not mix (QEMU unlocks too). */
    munlockall();
    return true;
}

/* ---- ADVISE ---- */

static int handle_advise(QEMUFile *f, MigrationIncomingState *mis,
                         unsigned len, uint64_t start, Error **errp)
{
    PostcopyState ps = postcopy_state_get();
    uint64_t summary, tps;
    Error *err = NULL;
    RAMBlock *rb;

    if (ps != POSTCOPY_INCOMING_NONE) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_"
                    "ADVISE in wrong postcopy state (%d)", start, ps);
    }
    if (len == 0) {
        if (migrate_postcopy_ram()) {
            return fail(f, errp, -EINVAL, "offset %" PRIu64 ": RAM postcopy "
                        "is enabled but have 0 byte advise", start);
        }
        /* Dirty-bitmap postcopy only; ferry has no block dirty bitmaps. */
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": dirty-bitmap "
                    "postcopy is not supported by ferry", start);
    }
    if (len != 16) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_"
                    "ADVISE invalid length (%u)", start, len);
    }
    if (!migrate_postcopy_ram()) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": RAM postcopy is "
                    "disabled but have 16 byte advise", start);
    }
    summary = qemu_get_be64(f);
    tps = qemu_get_be64(f);
    if (qemu_file_get_error(f)) {
        return fail(f, errp, -EIO, "offset %" PRIu64 ": truncated "
                    "POSTCOPY_ADVISE", start);
    }
    if (!postcopy_ram_supported_by_host(mis, &err)) {
        error_propagate(errp, err);
        qemu_file_set_error(f, -ENOTSUP);
        return -ENOTSUP;
    }
    if (summary != ram_pagesize_summary()) {
        return fail(f, errp, -EINVAL, "Postcopy needs matching RAM page "
                    "sizes (s=%" PRIx64 " d=%" PRIx64 ")", summary,
                    ram_pagesize_summary());
    }
    if (tps != TARGET_PAGE_SIZE) {
        return fail(f, errp, -EINVAL, "Postcopy needs matching target page "
                    "sizes (s=%d d=%zd)", (int)tps, (size_t)TARGET_PAGE_SIZE);
    }
    /* Only migrated pages may exist, or userfaultfd would not fault. */
    RAMBLOCK_FOREACH(rb) {
        if (!ram_block_discard_range(rb, 0, rb->used_length, &err)) {
            error_propagate(errp, err);
            qemu_file_set_error(f, -EIO);
            return -EIO;
        }
        rb->postcopy_length = rb->used_length;
        if (rb->receivedmap) {
            bitmap_zero(rb->receivedmap, rb->max_length >> TARGET_PAGE_BITS);
        }
    }
    postcopy_incoming_create(mis);
    postcopy_state_set(POSTCOPY_INCOMING_ADVISE);
    trace_postcopy_advise(summary);
    return 0;
}

/* ---- DISCARD ---- */

static void disable_thp(void)
{
    RAMBlock *rb;

    /* THP would re-create huge pages over the holes and hide them. */
    RAMBLOCK_FOREACH(rb) {
        if (!qemu_ram_is_hugetlb(rb)) {
            madvise(rb->host, rb->max_length, MADV_NOHUGEPAGE);
        }
    }
}

static int discard_range(RAMBlock *rb, uint64_t start, uint64_t length,
                         Error **errp)
{
    if (!QEMU_IS_ALIGNED(start, rb->page_size) ||
        !QEMU_IS_ALIGNED(length, rb->page_size)) {
        error_setg(errp, "ram_discard_range: %s: unaligned start 0x%" PRIx64
                   " length 0x%" PRIx64, rb->idstr, start, length);
        return -EINVAL;
    }
    if (start > rb->postcopy_length ||
        length > rb->postcopy_length - start) {
        error_setg(errp, "ram_discard_range: %s: 0x%" PRIx64 "+0x%" PRIx64
                   " overruns the block (0x%" PRIx64 ")", rb->idstr, start,
                   length, rb->postcopy_length);
        return -EINVAL;
    }
    trace_postcopy_discard_range(rb->idstr, start, length);
    if (rb->receivedmap) {
        bitmap_clear(rb->receivedmap, start >> TARGET_PAGE_BITS,
                     length >> TARGET_PAGE_BITS);
    }
    return ram_block_discard_range(rb, start, length, errp) ? 0 : -EIO;
}

static int handle_discard(QEMUFile *f, MigrationIncomingState *mis,
                          unsigned len, uint64_t start, Error **errp)
{
    PostcopyState ps = postcopy_state_get();
    uint8_t version, nlen, nil;
    char name[256];
    RAMBlock *rb;
    unsigned n;

    if (ps != POSTCOPY_INCOMING_ADVISE && ps != POSTCOPY_INCOMING_DISCARD) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_RAM_"
                    "DISCARD in wrong postcopy state (%d)", start, ps);
    }
    if (ps == POSTCOPY_INCOMING_ADVISE) {
        disable_thp();
        postcopy_state_set(POSTCOPY_INCOMING_DISCARD);
    }
    version = qemu_get_byte(f);
    if (version != 0) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_RAM_"
                    "DISCARD invalid version (%d)", start, version);
    }
    nlen = qemu_get_byte(f);
    if (len < 20 || 3u + nlen > len || (len - 3 - nlen) % 16) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_RAM_"
                    "DISCARD invalid length (%u, name %u)", start, len, nlen);
    }
    qemu_get_buffer(f, (uint8_t *)name, nlen);
    name[nlen] = '\0';
    nil = qemu_get_byte(f);
    if (qemu_file_get_error(f)) {
        return fail(f, errp, -EIO, "offset %" PRIu64 ": truncated POSTCOPY_"
                    "RAM_DISCARD", start);
    }
    if (nil != 0) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_RAM_"
                    "DISCARD missing nil (%d)", start, nil);
    }
    rb = qemu_ram_block_by_name(name);
    if (!rb) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": ram_discard_range:"
                    " Failed to find block '%s'", start, name);
    }
    n = (len - 3 - nlen) / 16;
    for (unsigned i = 0; i < n; i++) {
        uint64_t rs = qemu_get_be64(f);
        uint64_t rl = qemu_get_be64(f);
        int ret;

        if (qemu_file_get_error(f)) {
            return fail(f, errp, -EIO, "offset %" PRIu64 ": truncated "
                        "POSTCOPY_RAM_DISCARD", start);
        }
        ret = discard_range(rb, rs, rl, errp);
        if (ret) {
            error_prepend(errp, "offset %" PRIu64 ": ", start);
            qemu_file_set_error(f, ret);
            return ret;
        }
    }
    return 0;
}

/* ---- LISTEN and RUN ---- */

static int handle_listen(QEMUFile *f, MigrationIncomingState *mis,
                         uint64_t start, Error **errp)
{
    PostcopyState ps = postcopy_state_get();
    Error *err = NULL;

    if (ps != POSTCOPY_INCOMING_ADVISE && ps != POSTCOPY_INCOMING_DISCARD) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_"
                    "LISTEN in wrong postcopy state (%d)", start, ps);
    }
    if (ps == POSTCOPY_INCOMING_ADVISE) {
        disable_thp();
    }
    if (!postcopy_fault_start(mis, &err) ||
        (migrate_postcopy_preempt() && !postcopy_preempt_start(mis, &err))) {
        error_propagate(errp, err);
        qemu_file_set_error(f, -EIO);
        return -EIO;
    }
    postcopy_state_set(POSTCOPY_INCOMING_LISTENING);
    migrate_set_state(&mis->state, MIGRATION_STATUS_ACTIVE,
                      MIGRATION_STATUS_POSTCOPY_ACTIVE);
    migration_incoming_start_listen_thread(mis);
    return 0;
}

static void postcopy_run_bh(void *opaque)
{
    /* In postcopy the received run state is ignored: autostart decides. */
    if (autostart) {
        vm_start();
    } else {
        runstate_set(RUN_STATE_PAUSED);
    }
    trace_postcopy_run(autostart);
}

static int handle_run(QEMUFile *f, uint64_t start, Error **errp)
{
    PostcopyState ps = postcopy_state_get();

    if (ps != POSTCOPY_INCOMING_LISTENING) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_RUN "
                    "in wrong postcopy state (%d)", start, ps);
    }
    postcopy_state_set(POSTCOPY_INCOMING_RUNNING);
    main_loop_call(postcopy_run_bh, NULL);
    /* Ends the package and the incoming thread's part of the load. */
    return LOADVM_QUIT;
}

int postcopy_incoming_command(QEMUFile *f, MigrationIncomingState *mis,
                              unsigned cmd, unsigned len, uint64_t start,
                              Error **errp)
{
    switch (cmd) {
    case MIG_CMD_POSTCOPY_ADVISE:
        return handle_advise(f, mis, len, start, errp);
    case MIG_CMD_POSTCOPY_RAM_DISCARD:
        return handle_discard(f, mis, len, start, errp);
    case MIG_CMD_POSTCOPY_LISTEN:
        return handle_listen(f, mis, start, errp);
    case MIG_CMD_POSTCOPY_RUN:
        return handle_run(f, start, errp);
    case MIG_CMD_POSTCOPY_RESUME:
        /* QEMU only warns about a resume outside recovery. */
        trace_postcopy_resume_ignored();
        return 0;
    case MIG_CMD_RECV_BITMAP:
    default:
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": %s outside a "
                    "postcopy recovery", start, mig_cmd_name(cmd));
    }
}

/* ---- placing pages ---- */

PostcopyTmpPage *postcopy_tmp_page(MigrationIncomingState *mis, int channel)
{
    return postcopy_incoming_tmp_page(mis, channel);
}

PostcopyTmpPage *postcopy_tmp_page_new(size_t size)
{
    PostcopyTmpPage *t = g_new0(PostcopyTmpPage, 1);

    /* Page-aligned: UFFDIO_COPY copies from it. */
    t->buf = qemu_memalign_pages(size);
    return t;
}

void postcopy_tmp_page_free(PostcopyTmpPage *t)
{
    if (t) {
        qemu_free_pages(t->buf);
        g_free(t);
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

static void mark_placed(MigrationIncomingState *mis, RAMBlock *rb,
                        uint64_t start, uint64_t len)
{
    bitmap_set_atomic(rb->receivedmap, start >> TARGET_PAGE_BITS,
                      len >> TARGET_PAGE_BITS);
    for (uint64_t off = start; off < start + len; off += rb->page_size) {
        postcopy_page_placed(mis, rb, off);
    }
}

int postcopy_flush_zero_run(MigrationIncomingState *mis, PostcopyTmpPage *t,
                            Error **errp)
{
    RAMBlock *rb = t->zrun_rb;
    int ret;

    if (!t->zrun_len) {
        return 0;
    }
    ret = uffd_zeropage(postcopy_uffd(mis), rb->host + t->zrun_start,
                        t->zrun_len);
    ret = place_result(rb, t->zrun_start, ret, errp);
    if (ret == 0) {
        mark_placed(mis, rb, t->zrun_start, t->zrun_len);
        trace_postcopy_place_zero_run(rb->idstr, t->zrun_start,
                                      t->zrun_len);
    }
    t->zrun_len = 0;
    return ret;
}

static int place_host_page(MigrationIncomingState *mis, PostcopyTmpPage *t,
                           Error **errp)
{
    RAMBlock *rb = t->rb;
    uint8_t *host = rb->host + t->host_offset;
    int ret;

    t->pages = 0;
    if (t->all_zero && postcopy_block_zeropage_ok(mis, rb)) {
        if (t->zrun_len && (t->zrun_rb != rb ||
                            t->zrun_start + t->zrun_len != t->host_offset ||
                            t->zrun_len >= ZERO_RUN_MAX)) {
            ret = postcopy_flush_zero_run(mis, t, errp);
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
    ret = postcopy_flush_zero_run(mis, t, errp);
    if (ret < 0) {
        return ret;
    }
    /* (An all-zero buffer holds zeroes: the records wrote them.) */
    ret = place_result(rb, t->host_offset,
                       uffd_copy(postcopy_uffd(mis), host, t->buf,
                                 rb->page_size), errp);
    if (ret < 0) {
        return ret;
    }
    mark_placed(mis, rb, t->host_offset, rb->page_size);
    trace_postcopy_place_page(rb->idstr, t->host_offset, false);
    return 0;
}

int postcopy_load_target_page(MigrationIncomingState *mis,
                              PostcopyTmpPage *t, int channel,
                              RAMBlock *rb, uint64_t addr, QEMUFile *f,
                              bool zero, uint8_t fill, Error **errp)
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
    if (++t->pages < rb->page_size / TARGET_PAGE_SIZE) {
        return 0;
    }
    return place_host_page(mis, t, errp);
}
