/*
 * outgoing.c: the migration thread — connect, set up, iterate under the
 * rate limit until what remains fits the downtime limit, stop the VM,
 * complete, wait for the destination's verdict, and put the source back
 * where it was if anything failed.
 *
 * Timeline of a precopy migration (events in brackets):
 *   QMP migrate        none -> setup [MIGRATION setup]; thread starts
 *   thread             connect; header; [RP: OPEN_RETURN_PATH, PING 1]
 *                      START sections (RAM setup: sync [MIGRATION_PASS 1])
 *                      setup -> active [MIGRATION active]
 *   loop               PART sections, 100 ms rate-limit windows; after
 *                      each window: bandwidth -> threshold = bw * downtime
 *   pending < threshold: BQL; record run state; stop VM [STOP];
 *                      [pause-before-switchover: pre-switchover, wait
 *                       migrate-continue, device]; END (final sync
 *                      [MIGRATION_PASS n]) + FULL sections + EOF + JSON
 *   RP                 wait for SHUT(0)
 *   finish (BQL)       active -> completed [MIGRATION completed], run
 *                      state postmigrate — or, on failure/cancel, the VM
 *                      goes back to its previous state.
 *
 * Postcopy (postcopy_start()): from RUN on the destination runs the VM,
 * and the source never resumes it.  A broken link then pauses instead of
 * failing (postcopy_pause()): both copies of the guest's memory are
 * needed.  The class of the first error recorded decides (migration.h):
 * the link's failure — a channel's I/O error, or the return path closed
 * or broken — pauses; anything else (the destination said SHUT(1), a
 * message broke the protocol, a local failure) fails.
 *
 * Recovery (spec §10), this side:
 *   postcopy-paused          channels and return path closed; the dirty
 *                            bitmaps kept; wait for migrate resume=true
 *   -> recover-setup         connect the new main channel (and preempt)
 *   -> recover               a new return-path thread; RECV_BITMAP for
 *                            every block, each answered with the
 *                            destination's received bitmap, which becomes
 *                            what is left to send; POSTCOPY_RESUME
 *   -> postcopy-active       on RESUME_ACK (the return-path thread); go on
 * A failure anywhere in there goes back to postcopy-paused, ready for the
 * next migrate resume=true.
 *
 * Cancel and errors: migrate_cancel() shuts the channels down under
 * qemu_file_lock, which makes any blocked write fail at once.
 */
#include "qemu/osdep.h"
#include "outgoing.h"
#include "options.h"
#include "savevm.h"
#include "ram.h"
#include "return-path.h"
#include "multifd.h"
#include "postcopy-preempt.h"
#include "transport.h"
#include "migration/global_state.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "sysemu/runstate.h"
#include "trace.h"

/*
 * Rate-limit windows: QEMU's 100 ms in precopy.  In postcopy a window is
 * 10 ms, so the background push goes out in small bursts and a page the
 * destination is waiting for never queues behind a big one.
 */
#define BUFFER_DELAY_MS             100
#define POSTCOPY_BUFFER_DELAY_MS    10

/*
 * Bytes the kernel may queue on the socket before / during postcopy.
 * In postcopy, the short queue holds while the destination asks for
 * pages, and BULK while it does not (ram.c, "Pacing").
 * Over TLS the destination drains the queue at about half the speed (it
 * decrypts), so a requested page behind a full 64 KiB queue waited twice
 * as long: half the queue keeps its wait close to that without TLS
 * (fault latency p50 over TLS 1.1x of plain at 32 KiB, 2.0x at 64 KiB,
 * for the same uncapped push time; tests/bench/README.md, "Over TLS").
 * BULK: with 64 KiB the push of 1 GiB without faults took 0.79-0.92 s
 * (source CPU 0.26-0.51 s) against QEMU 7.2's 0.58-0.62 s; 256 KiB gave
 * 0.67-1.08 s, 1 MiB 0.57-0.64 s (source CPU 0.14-0.22 s), 4 MiB no
 * better: from 1 MiB on the destination's placements (UFFDIO_COPY, one
 * per 4 KiB page, ~90 % of its CPU) are the limit, as in QEMU
 * (postcopy-latency.py --max-faults 0 --dst-prealloc, 2-vCPU VM;
 * tests/bench/README.md, "The postcopy push").  More only lengthens the
 * wait of the first request after a quiet spell.
 */
#define PRECOPY_SEND_QUEUE          (4 * 1024 * 1024)
#define POSTCOPY_SEND_QUEUE         (64 * 1024)
#define POSTCOPY_SEND_QUEUE_TLS     (32 * 1024)
#define POSTCOPY_SEND_QUEUE_BULK    (1024 * 1024)

static int64_t window_ms(void)
{
    return migration_in_postcopy() ? POSTCOPY_BUFFER_DELAY_MS
                                   : BUFFER_DELAY_MS;
}

static void migrate_reap_thread(void *opaque);

typedef struct IterState {
    int64_t start_ms;               /* this window */
    uint64_t start_bytes;
    uint64_t start_pages;
} IterState;

static int64_t now_ms(void)
{
    return g_get_real_time() / 1000;
}

/* Bytes on the main channel, including links lost before a recovery. */
static uint64_t transferred(MigrationState *s)
{
    /* (s->multifd is the migration thread's, like this function.) */
    if (s->multifd) {
        qatomic_set(&s->stats.multifd_bytes, multifd_send_bytes(s->multifd));
    }
    return s->transferred_before + qemu_file_total_transferred(s->to_dst_file) +
           qatomic_read(&s->stats.multifd_bytes);
}

static void set_file_rate_limit(MigrationState *s)
{
    uint64_t bw = migration_in_postcopy() ? migrate_max_postcopy_bandwidth()
                                          : migrate_max_bandwidth();

    qemu_file_set_rate_limit(s->to_dst_file, bw * window_ms() / 1000);
}

/* End of a rate-limit window: measure, derive the switchover threshold. */
static void update_counters(MigrationState *s, IterState *it)
{
    int64_t now = now_ms();
    int64_t spent = now - it->start_ms;
    uint64_t bytes = transferred(s);
    uint64_t pages = qatomic_read(&s->stats.normal) +
                     qatomic_read(&s->stats.duplicate);
    double bandwidth;

    if (spent <= 0) {
        return;
    }
    bandwidth = (double)(bytes - it->start_bytes) / spent;     /* B/ms */
    s->threshold_size = bandwidth * migrate_downtime_limit();
    qatomic_set(&s->bits_per_second,
                (bytes - it->start_bytes) * 8 * 1000 / spent);
    qatomic_set(&s->pages_per_second,
                (pages - it->start_pages) * 1000 / spent);
    if (bandwidth > 0 && bytes - it->start_bytes > 10000) {
        qatomic_set(&s->expected_downtime,
                    (int64_t)(ram_bytes_remaining() / bandwidth));
    }
    qatomic_set(&s->stats.transferred, bytes);
    trace_migration_update_counters(bandwidth, s->threshold_size,
                                    ram_bytes_remaining());
    it->start_ms = now;
    it->start_bytes = bytes;
    it->start_pages = pages;
    set_file_rate_limit(s);
    qemu_file_reset_rate_limit(s->to_dst_file);
}

/* Waits out the rest of the window if the limit is reached. */
static void rate_limit_wait(MigrationState *s, IterState *it)
{
    if (qemu_file_rate_limit(s->to_dst_file) &&
        !qemu_file_get_error(s->to_dst_file)) {
        int64_t ms = it->start_ms + window_ms() - now_ms();

        if (ms > 0) {
            /* Early wake-ups: cancel, new bandwidth, urgent work. */
            qemu_sem_timedwait(&s->rate_limit_sem, ms);
        }
    }
    if (now_ms() >= it->start_ms + window_ms()) {
        update_counters(s, it);
    }
}

/* ---------------- errors and the channels ---------------- */

/* Records the channels' first errors, each with its class. */
static void record_channel_errors(MigrationState *s)
{
    QEMUFile *files[2] = { s->to_dst_file, s->postcopy_qemufile_src };

    for (int i = 0; i < 2; i++) {
        Error *err = NULL;

        if (files[i] && qemu_file_get_error_obj(files[i], &err)) {
            migrate_set_error_class(s, err, qemu_file_error_is_io(files[i]));
            error_free(err);
        }
    }
}

static bool has_error(MigrationState *s)
{
    QEMU_LOCK_GUARD(&s->error_mutex);
    return s->error != NULL;
}

/* Wakes everything blocked on a channel (cancel, pause, a bad RP). */
static void shutdown_channels(MigrationState *s)
{
    QEMU_LOCK_GUARD(&s->qemu_file_lock);
    if (s->to_dst_file) {
        qemu_file_shutdown(s->to_dst_file);
    }
    if (s->postcopy_qemufile_src) {
        qemu_file_shutdown(s->postcopy_qemufile_src);
    }
    if (s->multifd) {
        multifd_send_shutdown(s->multifd);
    }
}

/* Installs a new main (or preempt) channel; cancel may shut it at once. */
static void set_channel(MigrationState *s, QEMUFile **slot, QEMUFile *f)
{
    QEMU_LOCK_GUARD(&s->qemu_file_lock);
    *slot = f;
    if (f && qatomic_read(&s->state) == MIGRATION_STATUS_CANCELLING) {
        qemu_file_shutdown(f);
    }
}

/* multifd's channels, after their last use (migration thread). */
static void multifd_end(MigrationState *s)
{
    MultiFDSendState *ms;

    if (!s->multifd) {
        return;
    }
    qatomic_set(&s->stats.multifd_bytes, multifd_send_bytes(s->multifd));
    qemu_mutex_lock(&s->qemu_file_lock);
    ms = g_steal_pointer(&s->multifd);
    qemu_mutex_unlock(&s->qemu_file_lock);
    multifd_send_cleanup(ms);
}

/* Closes both channels (their users have stopped). */
static void close_channels(MigrationState *s)
{
    QEMUFile *main, *preempt;

    qemu_mutex_lock(&s->qemu_file_lock);
    main = s->to_dst_file;
    preempt = s->postcopy_qemufile_src;
    s->to_dst_file = NULL;
    s->postcopy_qemufile_src = NULL;
    qemu_mutex_unlock(&s->qemu_file_lock);
    if (main) {
        s->transferred_before += qemu_file_total_transferred(main);
        qemu_fclose(main);
    }
    if (preempt) {
        qemu_fclose(preempt);
    }
}

/* ---------------- the return path ---------------- */

static void rp_pong(void *opaque, uint32_t value)
{
    MigrationState *s = opaque;

    if ((value & ~MIG_KEEPALIVE_INTERVAL_MASK) == MIG_KEEPALIVE_PING) {
        qatomic_inc(&s->keepalive_answered);
    }
}

static bool rp_req_pages(void *opaque, RAMBlock *rb, uint64_t start,
                         uint32_t len, Error **errp)
{
    MigrationState *s = opaque;

    if (!migration_in_postcopy()) {
        error_setg(errp, "RP: page request outside postcopy");
        return false;
    }
    qatomic_inc(&s->stats.postcopy_requests);
    /* After RUN the page goes out from here; before, the thread sends it. */
    if (!ram_save_urgent(s->to_dst_file, rb, start, len)) {
        ram_save_queue_pages(rb, start, len);
        /* Wake the migration thread if it waits out a rate-limit window. */
        qemu_sem_post(&s->rate_limit_sem);
    }
    return true;
}

static bool rp_recv_bitmap(void *opaque, RAMBlock *rb,
                           const unsigned long *received, Error **errp)
{
    MigrationState *s = opaque;
    int st = qatomic_read(&s->state);

    if (st != MIGRATION_STATUS_POSTCOPY_RECOVER) {
        error_setg(errp, "RP: RECV_BITMAP in state %s",
                   MigrationStatus_str(st));
        return false;
    }
    /*
     * One per block: the handshake goes on once each block has one, so a
     * second one (it would change the bitmap under the resume) is wrong.
     */
    qemu_mutex_lock(&s->rp_lock);
    if (!g_hash_table_add(s->rp_bitmap_blocks, rb)) {
        qemu_mutex_unlock(&s->rp_lock);
        error_setg(errp, "RP: a second RECV_BITMAP for block %s", rb->idstr);
        return false;
    }
    qemu_mutex_unlock(&s->rp_lock);
    qatomic_add(&s->postcopy_pages_resent,
                ram_postcopy_reload_bitmap(rb, received));
    QEMU_LOCK_GUARD(&s->rp_lock);
    s->rp_bitmaps++;
    qemu_cond_broadcast(&s->rp_cond);
    return true;
}

static bool rp_resume_ack(void *opaque, uint32_t value, Error **errp)
{
    MigrationState *s = opaque;

    if (!migrate_set_state(&s->state, MIGRATION_STATUS_POSTCOPY_RECOVER,
                           MIGRATION_STATUS_POSTCOPY_ACTIVE)) {
        error_setg(errp, "RP: RESUME_ACK outside a postcopy recovery");
        return false;
    }
    QEMU_LOCK_GUARD(&s->rp_lock);
    s->rp_resume_acked = true;
    qemu_cond_broadcast(&s->rp_cond);
    return true;
}

/*
 * A destination says SHUT(0) once it has loaded the whole stream; one
 * that says it before the EOF was sent is wrong (and would otherwise
 * have the source end, its VM stopped, as if it had moved).
 */
static bool rp_shut(void *opaque, Error **errp)
{
    MigrationState *s = opaque;

    if (!qatomic_read(&s->stream_ended)) {
        error_setg(errp, "RP: the destination said SHUT(0) before the "
                   "stream ended");
        return false;
    }
    return true;
}

static void rp_stopped(void *opaque, Error *err, bool io)
{
    MigrationState *s = opaque;

    if (err) {
        migrate_set_error_class(s, err, io);
        error_free(err);
        /* Wake the migration thread if it is blocked sending. */
        shutdown_channels(s);
    }
    QEMU_LOCK_GUARD(&s->rp_lock);
    s->rp_stopped = true;
    qemu_cond_broadcast(&s->rp_cond);
}

static const RPReaderOps rp_ops = {
    .pong = rp_pong,
    .req_pages = rp_req_pages,
    .recv_bitmap = rp_recv_bitmap,
    .resume_ack = rp_resume_ack,
    .shut = rp_shut,
    .stopped = rp_stopped,
};

static void watchdog_start(MigrationState *s);
static void watchdog_stop(MigrationState *s);

static void rp_start(MigrationState *s, QEMUFile *f)
{
    /* A new link: no PING outstanding, the first one at once. */
    qatomic_set(&s->keepalive_sent, 0);
    qatomic_set(&s->keepalive_answered, 0);
    qatomic_set(&s->keepalive_sent_at, g_get_monotonic_time() / 1000 -
                                       migrate_link_timeout());
    qemu_mutex_lock(&s->rp_lock);
    s->rp_bitmaps = 0;
    g_hash_table_remove_all(s->rp_bitmap_blocks);
    s->rp_resume_acked = false;
    s->rp_stopped = false;
    qemu_mutex_unlock(&s->rp_lock);
    s->rp = rp_reader_start(qemu_file_get_return_path(f), &rp_ops, s);
    watchdog_start(s);
}

static void rp_stop(MigrationState *s)
{
    watchdog_stop(s);
    rp_reader_free(s->rp);
    s->rp = NULL;
}

/* The link is dead: an I/O error, and every channel shut down. */
static void link_timed_out(MigrationState *s, const char *what)
{
    Error *err = NULL;

    error_setg_errno(&err, ETIMEDOUT, "the destination %s for %" PRId64
                     " ms (x-link-timeout)", what, migrate_link_timeout());
    trace_migration_link_timeout(what);
    migrate_set_error_class(s, err, true);
    error_free(err);
    shutdown_channels(s);
}

/*
 * Waits until the return-path thread reports @what (a field under
 * rp_lock reaching @want) or stops; false if it stopped first, the
 * migration is being cancelled, or x-link-timeout passed (then the link
 * is declared dead, @silence saying what did not come).
 */
static bool rp_wait(MigrationState *s, const unsigned *what, unsigned want,
                    const bool *flag, const char *silence)
{
    int64_t t = migrate_link_timeout();
    int64_t deadline = g_get_monotonic_time() / 1000 + t;
    bool ok, timed_out = false;

    qemu_mutex_lock(&s->rp_lock);
    while (!s->rp_stopped &&
           !(what ? *what >= want : *flag) &&
           qatomic_read(&s->state) != MIGRATION_STATUS_CANCELLING) {
        if (!t) {
            qemu_cond_wait(&s->rp_cond, &s->rp_lock);
            continue;
        }
        if (g_get_monotonic_time() / 1000 >= deadline) {
            timed_out = true;
            break;
        }
        qemu_cond_timedwait(&s->rp_cond, &s->rp_lock,
                            deadline - g_get_monotonic_time() / 1000);
    }
    ok = what ? *what >= want : *flag;
    qemu_mutex_unlock(&s->rp_lock);
    if (timed_out && !ok) {
        link_timed_out(s, silence);
    }
    return ok;
}

/* The destination's last word: SHUT(0), once it loaded everything. */
static int rp_await_shut(MigrationState *s, Error **errp)
{
    trace_migration_await_shut();
    if (!rp_wait(s, NULL, 0, &s->rp_stopped, "sent no SHUT")) {
        rp_reader_shutdown(s->rp);
    }
    rp_reader_join(s->rp);
    if (!rp_reader_got_shut_ok(s->rp)) {
        error_setg(errp, "the destination did not confirm the migration");
        return -EIO;
    }
    return 0;
}

/* ---------------- keepalive ---------------- */

/*
 * With a return path, the migration thread sends a PING every quarter of
 * x-link-timeout (every second at most) once the last one was answered,
 * and the watchdog thread declares the link dead when one stays
 * unanswered for the timeout: a destination that stopped reading
 * (frozen, or behind a dead link) is noticed within the timeout plus the
 * interval, even while the socket buffers still take data, and even
 * while the migration thread is blocked writing.  Every QEMU answers
 * PINGs; the value (MIG_KEEPALIVE_PING with the interval in its low
 * bits) tells a ferry destination how long the source may stay silent
 * (loadvm.c).  A PING waits behind what the socket buffers hold (4 MiB
 * in precopy): the timeout must exceed the time the link needs to drain
 * them.  Postcopy: under the writer lock, between sections.
 */
static int64_t keepalive_interval(void)
{
    return MIN(migrate_link_timeout() / 4, 1000);
}

static void keepalive_tick(MigrationState *s, bool in_postcopy)
{
    int64_t t = migrate_link_timeout();
    int64_t now = g_get_monotonic_time() / 1000;
    uint32_t sent = qatomic_read(&s->keepalive_sent);
    uint32_t value;

    if (!t || !s->rp || !s->to_dst_file) {
        return;
    }
    if (qatomic_read(&s->keepalive_answered) != sent ||
        now - qatomic_read(&s->keepalive_sent_at) < keepalive_interval()) {
        return;
    }
    value = MIG_KEEPALIVE_PING |
            MIN(keepalive_interval() / 10,
                (int64_t)MIG_KEEPALIVE_INTERVAL_MASK);
    qatomic_set(&s->keepalive_sent_at, now);
    qatomic_set(&s->keepalive_sent, sent + 1);
    if (in_postcopy) {
        ram_postcopy_writer_lock();
    }
    qemu_savevm_send_ping(s->to_dst_file, value);
    qemu_fflush(s->to_dst_file);
    if (in_postcopy) {
        ram_postcopy_writer_unlock();
    }
    trace_migration_keepalive(sent + 1);
}

static void *watchdog_thread(void *opaque)
{
    MigrationState *s = opaque;
    int64_t t = migrate_link_timeout();

    qemu_mutex_lock(&s->rp_lock);
    while (!s->watchdog_quit) {
        int64_t now = g_get_monotonic_time() / 1000;

        if (qatomic_read(&s->keepalive_answered) !=
            qatomic_read(&s->keepalive_sent) &&
            now - qatomic_read(&s->keepalive_sent_at) > t) {
            qemu_mutex_unlock(&s->rp_lock);
            link_timed_out(s, "answered no PING");
            return NULL;
        }
        qemu_cond_timedwait(&s->rp_cond, &s->rp_lock,
                            MAX(keepalive_interval() / 4, 10));
    }
    qemu_mutex_unlock(&s->rp_lock);
    return NULL;
}

static void watchdog_start(MigrationState *s)
{
    if (!migrate_link_timeout()) {
        return;
    }
    s->watchdog_quit = false;
    qemu_thread_create(&s->watchdog, "mig/src/watch", watchdog_thread, s,
                       QEMU_THREAD_JOINABLE);
    s->watchdog_running = true;
}

static void watchdog_stop(MigrationState *s)
{
    if (!s->watchdog_running) {
        return;
    }
    qemu_mutex_lock(&s->rp_lock);
    s->watchdog_quit = true;
    qemu_cond_broadcast(&s->rp_cond);
    qemu_mutex_unlock(&s->rp_lock);
    qemu_thread_join(&s->watchdog);
    s->watchdog_running = false;
}

/* ---------------- precopy ---------------- */

/* pause-before-switchover: wait in pre-switchover for migrate-continue. */
static int maybe_pause(MigrationState *s, int *cur, MigrationStatus next)
{
    if (!migrate_pause_before_switchover()) {
        return 0;
    }
    if (!migrate_set_state(&s->state, *cur,
                           MIGRATION_STATUS_PRE_SWITCHOVER)) {
        return -ECANCELED;
    }
    bql_unlock();
    /* (The link is watched meanwhile: a PING now and then.) */
    while (qemu_sem_timedwait(&s->pause_sem, 100) < 0) {
        keepalive_tick(s, false);
        if (has_error(s)) {
            break;
        }
    }
    bql_lock();
    if (has_error(s)) {
        return -EIO;
    }
    if (!migrate_set_state(&s->state, MIGRATION_STATUS_PRE_SWITCHOVER,
                           next)) {
        return -ECANCELED;
    }
    *cur = next;
    return 0;
}

static int migration_completion(MigrationState *s, int *cur, Error **errp)
{
    int ret;

    bql_lock();
    s->downtime_start = now_ms();
    global_state_store();
    ret = vm_stop_force_state(RUN_STATE_FINISH_MIGRATE);
    if (ret >= 0) {
        ret = maybe_pause(s, cur, MIGRATION_STATUS_DEVICE);
    }
    if (ret >= 0) {
        qemu_file_set_rate_limit(s->to_dst_file, 0);
        /* Nothing may wait for the peer under the BQL: see below. */
        qemu_file_hold(s->to_dst_file, true);
        if (migrate_props()->send_switchover_start) {
            qemu_savevm_send_switchover_start(s->to_dst_file);
        }
        ret = qemu_savevm_state_complete_precopy(s->to_dst_file, false,
                                                 errp);
        /* (Held: nothing of it, EOF included, has left yet.) */
        qatomic_set(&s->stream_ended, ret == 0);
    }
    bql_unlock();
    /*
     * Now it goes out, with the link's deadline, while QMP answers.  The
     * VM stays stopped; a page written meanwhile by the monitor or qtest
     * may or may not reach the destination (it never would have).
     */
    qemu_file_hold(s->to_dst_file, false);
    if (ret < 0) {
        return ret;
    }
    /* What the completion queued on multifd's channels goes out too. */
    if (s->multifd && !multifd_send_drain(s->multifd)) {
        qemu_file_get_error_obj(s->to_dst_file, errp);
        return -EIO;
    }
    if (qemu_file_get_error_obj(s->to_dst_file, errp)) {
        return -EIO;
    }
    /* The destination answers with SHUT once it has loaded everything. */
    return s->rp ? rp_await_shut(s, errp) : 0;
}

static void migration_finish(MigrationState *s, int cur, bool ok)
{
    migration_cpu_latency_release(&s->postcopy_cpu_latency);
    bql_lock();
    qatomic_set(&s->total_time, now_ms() - s->start_time);
    /*
     * Done (the destination confirmed with SHUT(0), or without a return
     * path the last byte went): completed, even if a cancel came after.
     * It is too late: the VM may run there now, it must not resume here.
     */
    if (ok && (migrate_set_state(&s->state, cur, MIGRATION_STATUS_COMPLETED) ||
               migrate_set_state(&s->state, MIGRATION_STATUS_CANCELLING,
                                 MIGRATION_STATUS_COMPLETED))) {
        if (!qatomic_read(&s->postcopy_after_run)) {
            /* (In postcopy it was measured at the switch.) */
            qatomic_set(&s->downtime, now_ms() - s->downtime_start);
        }
        qatomic_set(&s->stats.transferred, transferred(s));
        runstate_set(RUN_STATE_POSTMIGRATE);
    } else {
        int st = qatomic_read(&s->state);

        if (st == MIGRATION_STATUS_CANCELLING) {
            migrate_set_state(&s->state, st, MIGRATION_STATUS_CANCELLED);
        } else {
            migrate_set_state(&s->state, st, MIGRATION_STATUS_FAILED);
        }
        if (qatomic_read(&s->postcopy_after_run)) {
            /* The destination may be running the VM: never resume it. */
            if (runstate_check(RUN_STATE_FINISH_MIGRATE)) {
                runstate_set(RUN_STATE_POSTMIGRATE);
            }
        } else if (s->vm_was_running) {
            /* Back to where it was: a failed precopy costs nothing. */
            vm_start();
        } else if (runstate_transition_valid(runstate_get(),
                                             s->vm_old_state)) {
            runstate_set(s->vm_old_state);
        }
    }
    trace_migration_finish(MigrationStatus_str(qatomic_read(&s->state)));
    bql_unlock();
}

/* ---------------- postcopy ---------------- */

/* The push only fills in; requests go first (see postcopy_start()). */
static void postcopy_go(MigrationState *s)
{
    QEMUFile *f = s->to_dst_file;

    /*
     * Keep what the main channel's socket holds short while pages are
     * requested (and deep while none are: ram.c, "Pacing").  Without a
     * preempt channel requested pages queue behind it; with one, a
     * requested page that the push has already taken is still in there,
     * and the vCPU waits for everything ahead of it.
     */
    ram_postcopy_set_send_queues(f,
                                 mig_channel_has_layer(qemu_file_get_ioc(f)) ?
                                 POSTCOPY_SEND_QUEUE_TLS : POSTCOPY_SEND_QUEUE,
                                 POSTCOPY_SEND_QUEUE_BULK);
    /* Requested pages now go out from the return-path thread. */
    ram_postcopy_set_direct(true, s->postcopy_qemufile_src);
    if (s->postcopy_qemufile_src) {
        /* The push only fills in: it yields the CPU to requests. */
        qemu_thread_set_class(QEMU_THREAD_BULK);
    }
    if (s->postcopy_cpu_latency < 0) {
        s->postcopy_cpu_latency = migration_cpu_latency_hold();
    }
}

/*
 * The switch to postcopy (spec §5.4): stop the VM, send the discards for
 * every page still to come, then the devices in one PACKAGED blob
 * {LISTEN, devices, PING 3, RUN}, with PINGs 2 and 4 around it.  From RUN
 * on, the destination runs the VM: the source must never resume it.
 */
static int postcopy_start(MigrationState *s, int *cur, Error **errp)
{
    QEMUFile *f = s->to_dst_file;
    MigChannel *pkg_ioc;
    QEMUFile *pf;
    const uint8_t *pkg;
    size_t pkg_len;
    uint64_t pkg_end = 0;
    int ret;

    bql_lock();
    /* 7.2 announces postcopy-active before STOP. */
    if (!migrate_pause_before_switchover()) {
        if (!migrate_set_state(&s->state, MIGRATION_STATUS_ACTIVE,
                               MIGRATION_STATUS_POSTCOPY_ACTIVE)) {
            bql_unlock();
            return -ECANCELED;
        }
        *cur = MIGRATION_STATUS_POSTCOPY_ACTIVE;
    }
    s->downtime_start = now_ms();
    global_state_store();
    ret = vm_stop_force_state(RUN_STATE_FINISH_MIGRATE);
    if (ret >= 0) {
        ret = maybe_pause(s, cur, MIGRATION_STATUS_POSTCOPY_ACTIVE);
    }
    if (ret < 0) {
        bql_unlock();
        return ret;
    }
    qemu_file_set_rate_limit(f, 0);
    /* Nothing may wait for the peer under the BQL: sent after it. */
    qemu_file_hold(f, true);
    if (migrate_props()->send_switchover_start) {
        qemu_savevm_send_switchover_start(f);
    }
    ret = ram_postcopy_send_discard_bitmap(f, errp);
    if (ret < 0) {
        bql_unlock();
        qemu_file_hold(f, false);
        return ret;
    }
    qemu_savevm_send_ping(f, 2);

    pkg_ioc = mig_channel_new_writer("package");
    pf = qemu_file_new_output(pkg_ioc);
    qemu_savevm_send_postcopy_listen(pf);
    ret = qemu_savevm_state_complete_precopy(pf, true, errp);
    if (ret == 0) {
        qemu_savevm_send_ping(pf, 3);
        qemu_savevm_send_postcopy_run(pf);
        qemu_fflush(pf);
        pkg = mig_channel_buffer_data(pkg_ioc, &pkg_len);
        trace_postcopy_start_package(pkg_len);
    }
    if (ret == 0 && pkg_len > MAX_VM_CMD_PACKAGED_SIZE) {
        error_setg(errp, "the device state (%zu bytes) does not fit in a "
                   "postcopy package (at most %u bytes)", pkg_len,
                   MAX_VM_CMD_PACKAGED_SIZE);
        ret = -E2BIG;
    }
    if (ret == 0) {
        qemu_savevm_send_packaged(f, pkg, pkg_len);
        pkg_end = qemu_file_total_transferred(f);
        /*
         * From here the destination may run the VM (a migrate-pause now
         * pauses, and a failure never resumes it here) ...
         */
        qatomic_set(&s->postcopy_after_run, true);
        qemu_savevm_send_ping(f, 4);
    }
    qemu_fclose(pf);
    mig_channel_unref(pkg_ioc);
    qatomic_set(&s->downtime, now_ms() - s->downtime_start);
    bql_unlock();
    /* The discards, the package and the PINGs go out now. */
    qemu_file_hold(f, false);
    if (ret < 0) {
        return ret;
    }
    if (qemu_file_written(f) < pkg_end) {
        /*
         * ... unless the package never left whole: the destination loads
         * it only once it has all of it, so it cannot run the VM, and a
         * failure here resumes it as a failed precopy does.
         */
        trace_postcopy_start_package_unsent(qemu_file_written(f), pkg_end);
        qatomic_set(&s->postcopy_after_run, false);
        if (!qemu_file_get_error_obj(f, errp)) {
            error_setg(errp, "the postcopy package was not sent");
        }
        return -EIO;
    }
    trace_postcopy_start_sent(pkg_end);
    /* (Not before: nothing else may write the main channel in the hold.) */
    postcopy_go(s);
    set_file_rate_limit(s);
    qemu_file_reset_rate_limit(f);
    return qemu_file_get_error_obj(f, errp) ? -EIO : 0;
}

static int postcopy_completion(MigrationState *s, Error **errp)
{
    int ret;

    /* From here the return-path thread queues requests (all is sent). */
    ram_postcopy_set_direct(false, NULL);
    ram_postcopy_writer_lock();
    qatomic_set(&s->stream_ended, true);
    ret = qemu_savevm_state_complete_postcopy(s->to_dst_file, errp);
    ram_postcopy_writer_unlock();
    /*
     * After the main channel's EOF, 7.2's protocol ends the preempt
     * channel with an EOS.  A destination that has all it asked for may
     * have closed it already (QEMU 8.0+ expects no EOS): whether the EOS
     * got there does not matter, SHUT decides.
     */
    if (s->postcopy_qemufile_src) {
        QEMUFile *preempt;

        ram_postcopy_preempt_end(s->postcopy_qemufile_src);
        qemu_mutex_lock(&s->qemu_file_lock);
        preempt = g_steal_pointer(&s->postcopy_qemufile_src);
        qemu_mutex_unlock(&s->qemu_file_lock);
        trace_postcopy_preempt_eos_sent(qemu_fclose(preempt));
    }

    if (ret < 0) {
        return ret;
    }
    /* The destination sends SHUT once its listen thread saw EOF. */
    return rp_await_shut(s, errp);
}

/*
 * postcopy-preempt (7.2 protocol): the second connection, right after the
 * main one, so that the destination sees them in this order.
 */
static bool preempt_connect(MigrationState *s, const char *uri, Error **errp)
{
    MigChannel *ioc;

    if (!postcopy_preempt_check_uri(uri, errp)) {
        return false;
    }
    ioc = migration_connect(uri, errp);
    if (!ioc) {
        error_prepend(errp, "postcopy preempt channel: ");
        return false;
    }
    set_channel(s, &s->postcopy_qemufile_src, qemu_file_new_output(ioc));
    mig_channel_unref(ioc);
    trace_postcopy_preempt_channel("connected");
    return true;
}

/* The main channel (and the preempt one), new or for a recovery. */
static bool connect_channels(MigrationState *s, const char *uri, int queue,
                             Error **errp)
{
    MigChannel *ioc = migration_connect(uri, errp);

    if (!ioc) {
        return false;
    }
    /*
     * A deep socket queue: fewer times the writer blocks and the reader
     * wakes it (the kernel caps it at net.core.wmem_max).  Postcopy
     * shortens it again at the switch.
     */
    mig_channel_set_send_queue(ioc, queue);
    set_channel(s, &s->to_dst_file, qemu_file_new_output(ioc));
    mig_channel_unref(ioc);
    set_file_rate_limit(s);
    return !migrate_postcopy_preempt() || preempt_connect(s, uri, errp);
}

/*
 * The recovery handshake on a new link (see the top of the file): true
 * once the destination acknowledged and postcopy goes on.
 */
static bool postcopy_do_resume(MigrationState *s, Error **errp)
{
    g_autofree char *uri = NULL;
    QEMUFile *f;
    unsigned nblocks = 0;
    RAMBlock *rb;

    qemu_mutex_lock(&s->qemu_file_lock);
    uri = g_steal_pointer(&s->resume_uri);
    qemu_mutex_unlock(&s->qemu_file_lock);
    trace_postcopy_resume_connect(uri);
    if (!connect_channels(s, uri, POSTCOPY_SEND_QUEUE, errp)) {
        return false;
    }
    if (!migrate_set_state(&s->state, MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP,
                           MIGRATION_STATUS_POSTCOPY_RECOVER)) {
        error_setg(errp, "the recovery was cancelled");
        return false;
    }
    f = s->to_dst_file;
    rp_start(s, f);
    RAMBLOCK_FOREACH(rb) {
        qemu_savevm_send_recv_bitmap(f, rb->idstr);
        nblocks++;
    }
    qemu_fflush(f);
    if (qemu_file_get_error(f) ||
        !rp_wait(s, &s->rp_bitmaps, nblocks, NULL,
                 "sent no received bitmap")) {
        error_setg(errp, "the destination did not send its received bitmaps");
        return false;
    }
    qatomic_add(&s->postcopy_pages_missing, ram_postcopy_resume_prepare());
    qemu_savevm_send_postcopy_resume(f);
    qemu_fflush(f);
    if (qemu_file_get_error(f) ||
        !rp_wait(s, NULL, 0, &s->rp_resume_acked, "sent no RESUME_ACK")) {
        error_setg(errp, "the destination did not acknowledge the resume");
        return false;
    }
    /* The return-path thread moved us back to postcopy-active. */
    set_file_rate_limit(s);
    qemu_file_reset_rate_limit(f);
    postcopy_go(s);
    return true;
}

/*
 * The link broke after RUN: keep everything that is needed to go on,
 * drop the channels, wait for migrate resume=true (or a cancel), and try.
 * Returns true once the migration runs again, false if it was cancelled.
 */
static bool postcopy_pause(MigrationState *s, int *cur)
{
    Error *err = NULL;
    int st;

    qemu_mutex_lock(&s->error_mutex);
    err = g_steal_pointer(&s->error);
    qemu_mutex_unlock(&s->error_mutex);
    trace_postcopy_pause(error_get_pretty(err));
    /* Nothing may use the channels any more, then they go. */
    shutdown_channels(s);
    ram_postcopy_set_direct(false, NULL);
    rp_stop(s);
    close_channels(s);
    migration_cpu_latency_release(&s->postcopy_cpu_latency);
    qatomic_set(&s->postcopy_paused_since, now_ms());
    st = qatomic_read(&s->state);
    if (st == MIGRATION_STATUS_CANCELLING) {
        error_free(err);
        return false;
    }
    /* (Said before the status changes: whoever sees it can read why.) */
    error_report("postcopy: the link to the destination broke (%s); "
                 "migration paused (resume with migrate resume=true)",
                 error_get_pretty(err));
    g_clear_pointer(&err, error_free);
    if (!migrate_set_state(&s->state, st, MIGRATION_STATUS_POSTCOPY_PAUSED)) {
        return false;           /* cancelled meanwhile */
    }
    migrate_clear_error(s);

    for (;;) {
        qemu_sem_wait(&s->postcopy_pause_sem);
        st = qatomic_read(&s->state);
        if (st == MIGRATION_STATUS_CANCELLING) {
            return false;
        }
        if (st != MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP) {
            continue;
        }
        if (postcopy_do_resume(s, &err)) {
            break;
        }
        error_report("postcopy: the recovery failed: %s; migration still "
                     "paused", error_get_pretty(err));
        g_clear_pointer(&err, error_free);
        shutdown_channels(s);
        rp_stop(s);
        close_channels(s);
        migrate_clear_error(s);
        st = qatomic_read(&s->state);
        if (st == MIGRATION_STATUS_CANCELLING ||
            !migrate_set_state(&s->state, st,
                               MIGRATION_STATUS_POSTCOPY_PAUSED)) {
            return false;
        }
    }
    qatomic_add(&s->postcopy_paused_ms,
                now_ms() - qatomic_read(&s->postcopy_paused_since));
    qatomic_set(&s->postcopy_paused_since, 0);
    qatomic_inc(&s->postcopy_recoveries);
    migrate_clear_error(s);
    *cur = MIGRATION_STATUS_POSTCOPY_ACTIVE;
    trace_postcopy_pause_continued();
    return true;
}

/* ---------------- the thread ---------------- */

static bool migration_setup(MigrationState *s, Error **errp)
{
    QEMUFile *f;

    if (!connect_channels(s, s->uri, PRECOPY_SEND_QUEUE, errp)) {
        return false;
    }
    f = s->to_dst_file;
    /* multifd's connections come after the main one (QEMU 7.2's order). */
    if (migrate_multifd()) {
        MultiFDSendState *ms = multifd_send_setup(s->uri, f, errp);

        if (!ms) {
            return false;
        }
        qemu_mutex_lock(&s->qemu_file_lock);
        s->multifd = ms;
        if (qatomic_read(&s->state) == MIGRATION_STATUS_CANCELLING) {
            multifd_send_shutdown(ms);
        }
        qemu_mutex_unlock(&s->qemu_file_lock);
    }
    if (migrate_return_path()) {
        rp_start(s, f);
    }
    qemu_savevm_state_header(f);
    if (migrate_return_path()) {
        qemu_savevm_send_open_return_path(f);
        qemu_savevm_send_ping(f, 1);
    }
    if (migrate_postcopy_ram()) {
        qemu_savevm_send_postcopy_advise(f);
    }
    return qemu_savevm_state_setup(f, errp) == 0;
}

/* One step of the loop: iterate, or complete.  Returns true when done. */
static bool migration_iteration_run(MigrationState *s, int *cur, bool *ok,
                                    Error **errp)
{
    uint64_t must_precopy, can_postcopy, pending;
    bool in_postcopy = *cur == MIGRATION_STATUS_POSTCOPY_ACTIVE;

    qemu_savevm_state_pending(s->threshold_size, &must_precopy,
                              &can_postcopy);
    pending = must_precopy + can_postcopy;
    trace_migration_iteration(pending, s->threshold_size);
    if (in_postcopy) {
        /* Send everything (requested pages first), then finish. */
        if (pending) {
            int ret;

            ram_postcopy_writer_lock();
            ret = qemu_savevm_state_iterate(s->to_dst_file, true, errp);
            /* Nothing may wait in the buffer during a rate-limit pause. */
            qemu_fflush(s->to_dst_file);
            ram_postcopy_writer_unlock();
            if (ret < 0) {
                *ok = false;
                return true;
            }
            return false;
        }
        *ok = postcopy_completion(s, errp) == 0;
        return true;
    }
    /*
     * migrate-start-postcopy: switch at the next turn, however much is
     * left (unlike 7.2, which may still finish in precopy when little is).
     */
    if (pending && qatomic_read(&s->start_postcopy) &&
        must_precopy <= s->threshold_size) {
        if (postcopy_start(s, cur, errp) < 0) {
            *ok = false;
            return true;
        }
        return false;
    }
    if (pending && pending >= s->threshold_size) {
        if (qemu_savevm_state_iterate(s->to_dst_file, false, errp) < 0) {
            *ok = false;
            return true;
        }
        return false;
    }
    *ok = migration_completion(s, cur, errp) == 0;
    return true;
}

/*
 * After RUN, may this failure pause rather than fail?  The link's
 * failure, in postcopy-active, not while cancelling.
 */
static bool can_pause(MigrationState *s)
{
    return qatomic_read(&s->postcopy_after_run) && migrate_error_is_io(s) &&
           qatomic_read(&s->state) == MIGRATION_STATUS_POSTCOPY_ACTIVE;
}

static void *migration_thread(void *opaque)
{
    MigrationState *s = opaque;
    IterState it = { 0 };
    Error *err = NULL;
    int cur = MIGRATION_STATUS_ACTIVE;
    bool ok = false;

    trace_migration_thread_start(s->uri);
    if (!migration_setup(s, &err)) {
        goto finish;
    }
    qatomic_set(&s->setup_time, now_ms() - s->start_time);
    if (!migrate_set_state(&s->state, MIGRATION_STATUS_SETUP,
                           MIGRATION_STATUS_ACTIVE)) {
        goto finish;            /* cancelled meanwhile */
    }
    it.start_ms = now_ms();
    it.start_bytes = transferred(s);
    for (;;) {
        bool done, failed;

        if (qatomic_read(&s->state) != cur) {
            break;              /* cancelling */
        }
        done = migration_iteration_run(s, &cur, &ok, &err);
        if (done && ok) {
            /*
             * The destination confirmed (SHUT 0): whatever was recorded
             * since (migrate-pause, the watchdog) changes nothing.
             */
            break;
        }
        /* The channels' errors first: theirs is the class that counts. */
        record_channel_errors(s);
        if (err) {
            migrate_set_error(s, err);
            g_clear_pointer(&err, error_free);
        }
        /*
         * Decided once: an error recorded from now on (migrate-pause, the
         * return path, the watchdog) is handled at the next turn.
         */
        failed = has_error(s);
        if (failed && can_pause(s)) {
            if (!postcopy_pause(s, &cur)) {
                ok = false;
                break;
            }
            it.start_ms = now_ms();
            it.start_bytes = transferred(s);
            continue;
        }
        if (done || failed) {
            break;
        }
        rate_limit_wait(s, &it);
        keepalive_tick(s, cur == MIGRATION_STATUS_POSTCOPY_ACTIVE);
    }
    /* (ok is set only when done: a failure before leaves it false.) */

finish:
    if (err) {
        migrate_set_error(s, err);
        error_free(err);
    }
    if (!ok && qatomic_read(&s->state) != MIGRATION_STATUS_CANCELLING) {
        qemu_mutex_lock(&s->error_mutex);
        if (s->error) {
            error_report("%s", error_get_pretty(s->error));
        }
        qemu_mutex_unlock(&s->error_mutex);
    } else if (!ok) {
        migrate_clear_error(s);     /* the cancel caused it */
    }
    if (!ok) {
        /*
         * Wakes whoever still waits on a channel.  (Not after a success:
         * an exec: command then gets its time to finish its output.)
         */
        shutdown_channels(s);
    }
    rp_stop(s);
    multifd_end(s);
    migration_finish(s, cur, ok);
    close_channels(s);
    bql_lock();
    qemu_savevm_state_cleanup();
    bql_unlock();
    /* Let the main loop reap this thread (not a later one). */
    main_loop_call(migrate_reap_thread, GUINT_TO_POINTER(s->thread_gen));
    return NULL;
}

static void migrate_reap_thread(void *opaque)
{
    MigrationState *s = migrate_get_current();

    if (s->thread_gen == GPOINTER_TO_UINT(opaque)) {
        migrate_wait_thread(s);
    }
}

static void reset_stats(MigrationState *s)
{
    memset(&s->stats, 0, sizeof(s->stats));
    qatomic_set(&s->start_postcopy, 0);
    /* (No migration thread runs: plain is fine, atomic for symmetry.) */
    qatomic_set(&s->setup_time, 0);
    qatomic_set(&s->total_time, 0);
    qatomic_set(&s->downtime, 0);
    qatomic_set(&s->expected_downtime, 0);
    qatomic_set(&s->bits_per_second, 0);
    qatomic_set(&s->pages_per_second, 0);
    s->threshold_size = 0;
    s->transferred_before = 0;
    s->postcopy_recoveries = 0;
    s->postcopy_paused_ms = 0;
    s->postcopy_paused_since = 0;
    s->postcopy_pages_resent = 0;
    s->postcopy_pages_missing = 0;
    qatomic_set(&s->stream_ended, false);
    migrate_clear_error(s);
    while (qemu_sem_timedwait(&s->rate_limit_sem, 0) == 0) {
        /* drain stale wake-ups */
    }
    while (qemu_sem_timedwait(&s->pause_sem, 0) == 0) {
        /* drain stale continues */
    }
    while (qemu_sem_timedwait(&s->postcopy_pause_sem, 0) == 0) {
        /* drain stale resumes */
    }
}

bool migrate_start(MigrationState *s, const char *uri, Error **errp)
{
    Error *err = NULL;

    migrate_wait_thread(s);
    reset_stats(s);
    if (!migrate_set_state(&s->state, qatomic_read(&s->state),
                           MIGRATION_STATUS_SETUP)) {
        error_setg(errp, "There's a migration process in progress");
        return false;
    }
    s->start_time = now_ms();
    qatomic_set(&s->postcopy_after_run, false);
    s->postcopy_cpu_latency = -1;
    if (!migration_uri_known(uri)) {
        /* QEMU records no error-desc for this one. */
        migrate_set_state(&s->state, MIGRATION_STATUS_SETUP,
                          MIGRATION_STATUS_FAILED);
        error_setg(errp, "Parameter 'uri' expects a valid migration "
                   "protocol");
        return false;
    }
    g_free(s->uri);
    /* Address syntax and fd:NAME are resolved now, as in QEMU. */
    s->uri = migration_uri_prepare(uri, &err);
    if (!s->uri) {
        migrate_set_error(s, err);
        error_propagate(errp, err);
        migrate_set_state(&s->state, MIGRATION_STATUS_SETUP,
                          MIGRATION_STATUS_FAILED);
        return false;
    }
    s->vm_old_state = runstate_get();
    s->vm_was_running = runstate_is_running();
    s->thread_gen++;
    qemu_thread_create(&s->thread, "live_migration", migration_thread, s,
                       QEMU_THREAD_JOINABLE);
    s->thread_created = true;
    return true;
}

bool migrate_resume(MigrationState *s, const char *uri, Error **errp)
{
    char *prepared;

    if (qatomic_read(&s->state) != MIGRATION_STATUS_POSTCOPY_PAUSED) {
        error_setg(errp, "Cannot resume if there is no paused migration");
        return false;
    }
    if (!migration_uri_known(uri)) {
        error_setg(errp, "Parameter 'uri' expects a valid migration "
                   "protocol");
        return false;
    }
    prepared = migration_uri_prepare(uri, errp);
    if (!prepared) {
        return false;
    }
    qemu_mutex_lock(&s->qemu_file_lock);
    migration_uri_discard(s->resume_uri);
    s->resume_uri = prepared;
    qemu_mutex_unlock(&s->qemu_file_lock);
    if (!migrate_set_state(&s->state, MIGRATION_STATUS_POSTCOPY_PAUSED,
                           MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP)) {
        /* (The migration thread takes it only in recover-setup.) */
        qemu_mutex_lock(&s->qemu_file_lock);
        migration_uri_discard(g_steal_pointer(&s->resume_uri));
        qemu_mutex_unlock(&s->qemu_file_lock);
        error_setg(errp, "Cannot resume if there is no paused migration");
        return false;
    }
    trace_migrate_resume(uri);
    qemu_sem_post(&s->postcopy_pause_sem);
    return true;
}

bool migrate_pause(MigrationState *s, bool *done, Error **errp)
{
    *done = false;
    if (qatomic_read(&s->state) != MIGRATION_STATUS_POSTCOPY_ACTIVE) {
        return false;
    }
    *done = true;
    QEMU_LOCK_GUARD(&s->qemu_file_lock);
    if (!s->to_dst_file) {
        error_setg(errp, "Failed to pause source migration");
        return false;
    }
    trace_migrate_pause();
    /* The reason comes first: the broken channels then say only how. */
    {
        Error *err = NULL;

        error_setg(&err, "migrate-pause");
        migrate_set_error_class(s, err, true);
        error_free(err);
    }
    qemu_file_shutdown(s->to_dst_file);
    return true;
}

void migrate_cancel(MigrationState *s)
{
    int st;

    do {
        st = qatomic_read(&s->state);
        if (!migration_status_cancellable(st)) {
            return;
        }
    } while (!migrate_set_state(&s->state, st, MIGRATION_STATUS_CANCELLING));
    trace_migrate_cancel(MigrationStatus_str(st));
    shutdown_channels(s);
    qemu_sem_post(&s->rate_limit_sem);
    qemu_sem_post(&s->pause_sem);
    qemu_sem_post(&s->postcopy_pause_sem);
    /* A handshake waiting for the return path gives up. */
    qemu_mutex_lock(&s->rp_lock);
    qemu_cond_broadcast(&s->rp_cond);
    qemu_mutex_unlock(&s->rp_lock);
}

void migrate_wait_thread(MigrationState *s)
{
    if (s->thread_created) {
        bool locked = bql_locked();

        /* The thread takes the BQL to finish: let it. */
        if (locked) {
            bql_unlock();
        }
        qemu_thread_join(&s->thread);
        if (locked) {
            bql_lock();
        }
        s->thread_created = false;
    }
}
