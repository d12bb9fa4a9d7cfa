/*
 * postcopy-ram.c: the destination's postcopy machinery — its life cycle
 * and the commands that drive it.
 *
 *   ADVISE   check the host (userfaultfd, page sizes), discard all guest
 *            RAM so that only migrated pages will exist      NONE -> ADVISE
 *   DISCARD  drop ranges the source will send again (not yet sent, or
 *            written since)                          ADVISE -> DISCARD
 *   LISTEN   register RAM with userfaultfd (MISSING), start the fault,
 *            preempt and listen threads; the listen thread reads the
 *            main channel from now on     ADVISE/DISCARD -> LISTENING
 *   RUN      start the VM (main loop)         LISTENING -> RUNNING
 *   EOF      (listen thread) tear down                  RUNNING -> END
 *   RECV_BITMAP, POSTCOPY_RESUME: the recovery handshake (spec §10),
 *            valid only in postcopy-recover
 *
 * A command in the wrong state fails the migration with QEMU's message.
 * Pages arriving after LISTEN are placed by postcopy-place.c.
 *
 * Pause or fail.  Every thread that stops on an error records it here,
 * the first one winning (postcopy_record_*): the class of that first
 * error decides.  An I/O error — the link failed — pauses once the VM
 * runs here (RUNNING); anything else fails.  So a preempt thread that
 * finds a bad record, or a placement that fails on the placer thread,
 * fails the migration even though the listen thread, which is woken by
 * shutting the main channel down, then sees only an I/O error; and a
 * link cut in the middle of a record stays an I/O error whatever the
 * parser made of the remains.  The lock order and the
 * threads are described in postcopy-int.h.
 */
#include "qemu/osdep.h"
#include "postcopy-int.h"
#include "return-path.h"
#include "migration.h"
#include "options.h"
#include "savevm.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "qemu/userfaultfd.h"
#include "sysemu/runstate.h"
#include "trace.h"

/* ---- life cycle ---- */

PostcopyIncoming *postcopy_incoming_new(MigrationIncomingState *mis,
                                        const PostcopyIncomingOps *ops,
                                        void *opaque)
{
    PostcopyIncoming *pc = g_new0(PostcopyIncoming, 1);

    pc->mis = mis;
    pc->ops = ops;
    pc->opaque = opaque;
    pc->state = POSTCOPY_INCOMING_NONE;
    pc->uffd = -1;
    pc->zeropage_ok = g_hash_table_new(NULL, NULL);
    qemu_event_init(&pc->package_loaded, false);
    qemu_mutex_init(&pc->pause_lock);
    qemu_cond_init(&pc->pause_cond);
    qemu_mutex_init(&pc->error_lock);
    postcopy_fault_init(pc);
    return pc;
}

void postcopy_incoming_free(PostcopyIncoming *pc)
{
    if (!pc) {
        return;
    }
    assert(!pc->listen_thread_running && !pc->preempt_thread_running &&
           !pc->fault_thread_running);
    postcopy_fault_fini(pc);
    for (int i = 0; i < RAM_CHANNEL__MAX; i++) {
        postcopy_tmp_page_free(pc->tmp[i]);
    }
    g_hash_table_destroy(pc->zeropage_ok);
    error_free(pc->error);
    qemu_event_destroy(&pc->package_loaded);
    qemu_cond_destroy(&pc->pause_cond);
    qemu_mutex_destroy(&pc->pause_lock);
    qemu_mutex_destroy(&pc->error_lock);
    trace_postcopy_incoming_free();
    g_free(pc);
}

void postcopy_incoming_set_harness(PostcopyIncoming *pc)
{
    pc->harness = true;
}

PostcopyState postcopy_get_state(PostcopyIncoming *pc)
{
    return qatomic_read(&pc->state);
}

bool postcopy_set_state(PostcopyIncoming *pc, PostcopyState old,
                        PostcopyState new)
{
    return postcopy_state_change(&pc->state, old, new);
}

bool postcopy_incoming_advised(PostcopyIncoming *pc)
{
    PostcopyState ps = pc ? postcopy_get_state(pc) : POSTCOPY_INCOMING_NONE;

    return ps >= POSTCOPY_INCOMING_ADVISE && ps < POSTCOPY_INCOMING_END;
}

bool postcopy_incoming_listening(PostcopyIncoming *pc)
{
    PostcopyState ps = pc ? postcopy_get_state(pc) : POSTCOPY_INCOMING_NONE;

    return ps == POSTCOPY_INCOMING_LISTENING ||
           ps == POSTCOPY_INCOMING_RUNNING;
}

bool postcopy_incoming_listen_started(PostcopyIncoming *pc)
{
    return pc && pc->listen_thread_running;
}

void postcopy_incoming_load_ended(PostcopyIncoming *pc)
{
    PostcopyState ps = pc ? postcopy_get_state(pc) : POSTCOPY_INCOMING_NONE;

    if (ps == POSTCOPY_INCOMING_ADVISE || ps == POSTCOPY_INCOMING_DISCARD) {
        postcopy_set_state(pc, ps, POSTCOPY_INCOMING_END);
    }
}

/* ---- the first error ---- */

static void record_error(PostcopyIncoming *pc, Error *err, bool io)
{
    QEMU_LOCK_GUARD(&pc->error_lock);
    if (pc->error) {
        error_free(err);
        return;
    }
    trace_postcopy_record_error(io, error_get_pretty(err));
    pc->error = err;
    pc->error_io = io;
}

void postcopy_record_stream_error(PostcopyIncoming *pc, QEMUFile *f,
                                  const char *channel)
{
    Error *err = NULL;
    bool io = false;

    if (qemu_file_get_error_obj(f, &err)) {
        io = qemu_file_error_is_io(f);
    } else {
        error_setg(&err, "the stream stopped without an error");
    }
    if (channel) {
        error_prepend(&err, "%s channel: ", channel);
    }
    record_error(pc, err, io);
}

void postcopy_record_error(PostcopyIncoming *pc, Error *err)
{
    record_error(pc, err, false);
}

bool postcopy_error_is_io(PostcopyIncoming *pc)
{
    QEMU_LOCK_GUARD(&pc->error_lock);
    return pc->error && pc->error_io;
}

Error *postcopy_take_error(PostcopyIncoming *pc)
{
    QEMU_LOCK_GUARD(&pc->error_lock);
    return g_steal_pointer(&pc->error);
}

void postcopy_break_links(PostcopyIncoming *pc)
{
    MigrationIncomingState *mis = pc->mis;

    QEMU_LOCK_GUARD(&mis->channel_lock);
    if (mis->from_src_file) {
        qemu_file_shutdown(mis->from_src_file);
    }
    if (mis->preempt_file) {
        qemu_file_shutdown(mis->preempt_file);
    }
}

void postcopy_incoming_break(PostcopyIncoming *pc, const char *why)
{
    Error *err = NULL;

    error_setg(&err, "%s", why);
    record_error(pc, err, true);
    postcopy_break_links(pc);
}

void postcopy_incoming_package_done(PostcopyIncoming *pc, Error *err)
{
    if (err) {
        /* The VM never ran here: whatever the error, this fails. */
        error_prepend(&err, "loading the postcopy package: ");
        postcopy_record_error(pc, err);
        postcopy_break_links(pc);
    }
    qemu_event_set(&pc->package_loaded);
}

/*
 * Records @ret on @f with *@errp's message (the listen thread reports the
 * stream's first error, and should say what it was).
 */
static void stream_error(QEMUFile *f, int ret, Error **errp)
{
    qemu_file_set_error_obj(f, ret, errp && *errp ? error_copy(*errp) : NULL);
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
    stream_error(f, ret, errp);
    return ret;
}

bool postcopy_ram_supported_by_host(Error **errp)
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

static int handle_advise(PostcopyIncoming *pc, QEMUFile *f, unsigned len,
                         uint64_t start, Error **errp)
{
    PostcopyState ps = postcopy_get_state(pc);
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
    if (!pc->harness && !postcopy_ram_supported_by_host(&err)) {
        error_propagate(errp, err);
        stream_error(f, -ENOTSUP, errp);
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
            stream_error(f, -EIO, errp);
            return -EIO;
        }
        rb->postcopy_length = rb->used_length;
        if (rb->receivedmap) {
            bitmap_zero(rb->receivedmap, rb->max_length >> TARGET_PAGE_BITS);
        }
    }
    postcopy_set_state(pc, POSTCOPY_INCOMING_NONE, POSTCOPY_INCOMING_ADVISE);
    trace_postcopy_advise(summary);
    return 0;
}

/* ---- DISCARD ---- */

/*
 * QEMU 7.2's nhp_range(), via postcopy_ram_prepare_discard(): at the first
 * DISCARD, or at LISTEN if no DISCARD came, before anything is discarded
 * or registered.  Not at ADVISE: precopy still fills RAM with huge pages
 * until then.  postcopy_fault_stop() turns them back on (cleanup_range()).
 */
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

static int handle_discard(PostcopyIncoming *pc, QEMUFile *f, unsigned len,
                          uint64_t start, Error **errp)
{
    PostcopyState ps = postcopy_get_state(pc);
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
        postcopy_set_state(pc, ps, POSTCOPY_INCOMING_DISCARD);
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
            stream_error(f, ret, errp);
            return ret;
        }
    }
    return 0;
}

/* ---- LISTEN and RUN ---- */

static int handle_listen(PostcopyIncoming *pc, QEMUFile *f, uint64_t start,
                         Error **errp)
{
    MigrationIncomingState *mis = pc->mis;
    PostcopyState ps = postcopy_get_state(pc);
    Error *err = NULL;

    if (ps != POSTCOPY_INCOMING_ADVISE && ps != POSTCOPY_INCOMING_DISCARD) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_"
                    "LISTEN in wrong postcopy state (%d)", start, ps);
    }
    if (ps == POSTCOPY_INCOMING_ADVISE) {
        disable_thp();
    }
    if (!postcopy_fault_start(pc, &err)) {
        /* (Whatever it registered and opened so far goes.) */
        postcopy_fault_stop(pc);
        error_propagate(errp, err);
        stream_error(f, -EIO, errp);
        return -EIO;
    }
    postcopy_set_state(pc, ps, POSTCOPY_INCOMING_LISTENING);
    migrate_set_state(&mis->state, MIGRATION_STATUS_ACTIVE,
                      MIGRATION_STATUS_POSTCOPY_ACTIVE);
    if (migrate_postcopy_preempt()) {
        /* (Its channel may come later: QEMU 8.0+ opens it at the switch.) */
        postcopy_preempt_start(pc);
    }
    if (!postcopy_listen_start(pc, &err)) {
        error_propagate(errp, err);
        stream_error(f, -EIO, errp);
        return -EIO;
    }
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

static int handle_run(PostcopyIncoming *pc, QEMUFile *f, uint64_t start,
                      Error **errp)
{
    PostcopyState ps = postcopy_get_state(pc);

    if (ps != POSTCOPY_INCOMING_LISTENING) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_RUN "
                    "in wrong postcopy state (%d)", start, ps);
    }
    postcopy_set_state(pc, ps, POSTCOPY_INCOMING_RUNNING);
    if (!pc->harness) {
        main_loop_call(postcopy_run_bh, NULL);
    }
    /* Ends the package and the incoming thread's part of the load. */
    return LOADVM_QUIT;
}

/* ---- the recovery handshake (spec §10.2) ---- */

static bool in_recovery(PostcopyIncoming *pc)
{
    return qatomic_read(&pc->mis->state) == MIGRATION_STATUS_POSTCOPY_RECOVER;
}

static int handle_recv_bitmap(PostcopyIncoming *pc, QEMUFile *f,
                              unsigned len, uint64_t start, Error **errp)
{
    char name[256];
    size_t n;
    RAMBlock *rb;

    if (!in_recovery(pc)) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": RECV_BITMAP "
                    "outside a postcopy recovery", start);
    }
    n = qemu_get_counted_string(f, name);
    if (qemu_file_get_error(f)) {
        error_setg(errp, "offset %" PRIu64 ": truncated RECV_BITMAP", start);
        return -EIO;
    }
    if (len != n + 1 || n == 0) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": RECV_BITMAP "
                    "invalid payload length (%u, name %zu)", start, len, n);
    }
    rb = qemu_ram_block_by_name(name);
    if (!rb) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": RECV_BITMAP "
                    "block '%s' not found", start, name);
    }
    trace_postcopy_recv_bitmap(name);
    /*
     * The bitmap cannot change before the source has resumed: it sends
     * no page until then (one that did, and then sent the page again,
     * would be refused as already present).
     */
    rp_send_recv_bitmap(pc->mis->rp, rb, rb->receivedmap,
                        rb->postcopy_length >> TARGET_PAGE_BITS);
    return 0;
}

static int handle_resume(PostcopyIncoming *pc, QEMUFile *f, Error **errp)
{
    if (!in_recovery(pc)) {
        /* QEMU only warns about a resume outside recovery. */
        trace_postcopy_resume_ignored();
        return 0;
    }
    if (postcopy_resume(pc, errp) < 0) {
        stream_error(f, -EINVAL, errp);
        return -EINVAL;
    }
    return 0;
}

int postcopy_incoming_command(PostcopyIncoming *pc, QEMUFile *f,
                              unsigned cmd, unsigned len, uint64_t start,
                              Error **errp)
{
    /* (loadvm.c took LISTEN and RUN only from the package.) */
    switch (cmd) {
    case MIG_CMD_POSTCOPY_ADVISE:
        return handle_advise(pc, f, len, start, errp);
    case MIG_CMD_POSTCOPY_RAM_DISCARD:
        return handle_discard(pc, f, len, start, errp);
    case MIG_CMD_POSTCOPY_LISTEN:
        return handle_listen(pc, f, start, errp);
    case MIG_CMD_POSTCOPY_RUN:
        return handle_run(pc, f, start, errp);
    case MIG_CMD_POSTCOPY_RESUME:
        return handle_resume(pc, f, errp);
    case MIG_CMD_RECV_BITMAP:
        return handle_recv_bitmap(pc, f, len, start, errp);
    default:
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": %s is not a "
                    "postcopy command", start, mig_cmd_name(cmd));
    }
}
