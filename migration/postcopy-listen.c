/*
 * postcopy-listen.c: the listen thread — the destination's main channel
 * after LISTEN — and what happens when the link breaks (spec §9, §10).
 *
 * The thread runs the savevm loop (ops->load_main) on the main channel
 * while the incoming thread loads the package; after RUN the VM runs
 * here and this thread keeps reading the pages the source pushes, up to
 * EOF, and places them with the placer thread's help (postcopy-place.c).
 * Then it waits until the placer has placed all, for the package's end
 * and for the preempt channel's EOS, tears userfaultfd down (END) and
 * hands the result over (ops->finished).
 *
 * A broken link, once the VM runs here (RUNNING), is not an end: the
 * only complete copy of the guest's memory is split between two hosts.
 * The thread pauses instead:
 *
 *   listen thread                        other threads
 *   ─────────────                        ─────────────
 *   I/O error on the main channel        (preempt thread: I/O error, it
 *   (or the preempt thread shut it       shuts the main channel down and
 *    down after one on its own)          parks; fault thread: requests
 *   wait until the placer placed all     stay in the table, none goes
 *   close requests; refuse preempt       out; vCPUs on missing pages
 *   channels, shut the current one       wait in the kernel)
 *   down, wait until its thread parked
 *   close both channels, detach the
 *   return path, take the link's first   QMP migrate-recover: listen
 *   error, drop half-built host pages    accept (incoming.c) ->
 *   postcopy-active -> postcopy-paused   postcopy_incoming_recover():
 *   wait ........................... <── drop a stale error, attach the
 *                                        return path; paused -> recover
 *   read the new main channel:           (a preempt channel goes to its
 *   RECV_BITMAP -> RP RECV_BITMAP        thread as it arrives)
 *   POSTCOPY_RESUME -> postcopy_resume(): recover -> postcopy-active,
 *   RESUME_ACK, re-send every pending request, open requests
 *   go on with the pages ...
 *
 * A second break during the handshake pauses again (recover -> paused);
 * it can be retried as often as needed.  An error that is not the link's
 * (postcopy-ram.c: the first recorded error decides) ends the migration,
 * and so does the process's exit while paused (postcopy_incoming_shutdown).
 */
#include "qemu/osdep.h"
#include "postcopy-int.h"
#include "return-path.h"
#include "migration.h"
#include "options.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "trace.h"

#define POSTCOPY_READ_CHUNK (64 * 1024)     /* see the listen thread */

/* Closes the broken channels; the return path goes with the main one. */
static void close_links(PostcopyIncoming *pc)
{
    /* (Wakes a writer blocked on the broken link first.) */
    rp_writer_shutdown(pc->mis->rp);
    migration_incoming_close_channels(pc->mis);
    pc->listen_file = NULL;
}

/*
 * The link broke (or the migration failed): may we pause?  Only for an
 * I/O error, with the VM running here, and not while exiting.
 */
static bool can_pause(PostcopyIncoming *pc)
{
    int st = qatomic_read(&pc->mis->state);
    bool quitting;

    qemu_mutex_lock(&pc->pause_lock);
    quitting = pc->quitting;
    qemu_mutex_unlock(&pc->pause_lock);
    return !quitting && postcopy_error_is_io(pc) &&
           postcopy_get_state(pc) == POSTCOPY_INCOMING_RUNNING &&
           (st == MIGRATION_STATUS_POSTCOPY_ACTIVE ||
            st == MIGRATION_STATUS_POSTCOPY_RECOVER);
}

/*
 * Pauses and waits for a recovery.  Returns the new main channel, or
 * NULL if the process exits meanwhile.
 */
static QEMUFile *pause_incoming(PostcopyIncoming *pc)
{
    MigrationIncomingState *mis = pc->mis;
    int st = qatomic_read(&mis->state);
    QEMUFile *f;
    bool quitting;
    Error *err;

    trace_postcopy_pause_incoming(MigrationStatus_str(st));
    /* No more page requests until POSTCOPY_RESUME on a new link. */
    postcopy_requests_close(pc);
    postcopy_preempt_park(pc);
    close_links(pc);
    /*
     * The first error of this link, now that nothing else can record
     * one: the next link starts without.
     */
    err = postcopy_take_error(pc);
    postcopy_preempt_link_reset(pc);
    /* Half-built host pages are not received: they come again. */
    for (int i = 0; i < RAM_CHANNEL__MAX; i++) {
        postcopy_tmp_page_reset(pc->tmp[i]);
    }
    postcopy_placer_link_reset(pc);
    pc->ops->link_reset(pc->opaque);
    /* No page comes before a recovery: no reason to keep CPUs polling. */
    postcopy_cpu_latency_drop(pc);
    qemu_mutex_lock(&pc->req_lock);
    pc->paused_since = get_clock();
    qemu_mutex_unlock(&pc->req_lock);

    error_report("postcopy: the link to the source broke (%s); migration "
                 "paused, the VM waits for its missing pages (recover with "
                 "migrate-recover)", error_get_pretty(err));
    migration_incoming_set_error(mis, err);
    migrate_set_state(&mis->state, st, MIGRATION_STATUS_POSTCOPY_PAUSED);

    qemu_mutex_lock(&pc->pause_lock);
    while (!pc->quitting && !pc->recover_main) {
        qemu_cond_wait(&pc->pause_cond, &pc->pause_lock);
    }
    f = g_steal_pointer(&pc->recover_main);
    quitting = pc->quitting;
    qemu_mutex_unlock(&pc->pause_lock);
    trace_postcopy_pause_incoming_continued(!quitting);
    if (quitting) {
        /*
         * A recovery that came as the exit began: its channels close
         * here, once the preempt thread (which may have taken the new
         * preempt channel) has stopped reading.
         */
        postcopy_preempt_park(pc);
        close_links(pc);
        return NULL;
    }
    return f;
}

bool postcopy_incoming_wants_channels(PostcopyIncoming *pc)
{
    return pc && qatomic_read(&pc->mis->state) ==
                 MIGRATION_STATUS_POSTCOPY_PAUSED;
}

bool postcopy_incoming_recover(PostcopyIncoming *pc, QEMUFile *main)
{
    MigrationIncomingState *mis = pc->mis;
    Error *stale;

    qemu_mutex_lock(&mis->channel_lock);
    qemu_mutex_lock(&pc->pause_lock);
    if (pc->quitting || pc->recover_main ||
        qatomic_read(&mis->state) != MIGRATION_STATUS_POSTCOPY_PAUSED) {
        qemu_mutex_unlock(&pc->pause_lock);
        qemu_mutex_unlock(&mis->channel_lock);
        trace_postcopy_recover_refused(MigrationStatus_str(
                                       qatomic_read(&mis->state)));
        qemu_fclose(main);
        return false;
    }
    /*
     * Whatever was recorded since the pause took the old link's error
     * (a migrate-pause racing with the break) is not this link's.
     */
    stale = postcopy_take_error(pc);
    if (stale) {
        trace_postcopy_recover_stale_error(error_get_pretty(stale));
        error_free(stale);
    }
    mis->from_src_file = main;
    /* The return path runs over the new main channel at once. */
    rp_writer_attach(mis->rp, qemu_file_get_return_path(main));
    pc->recover_main = main;
    pc->pausing = false;
    migrate_set_state(&mis->state, MIGRATION_STATUS_POSTCOPY_PAUSED,
                      MIGRATION_STATUS_POSTCOPY_RECOVER);
    qemu_cond_broadcast(&pc->pause_cond);
    qemu_mutex_unlock(&pc->pause_lock);
    qemu_mutex_unlock(&mis->channel_lock);
    return true;
}

int postcopy_resume(PostcopyIncoming *pc, Error **errp)
{
    MigrationIncomingState *mis = pc->mis;

    if (!migrate_set_state(&mis->state, MIGRATION_STATUS_POSTCOPY_RECOVER,
                           MIGRATION_STATUS_POSTCOPY_ACTIVE)) {
        error_setg(errp, "POSTCOPY_RESUME in the wrong state");
        return -EINVAL;
    }
    qemu_mutex_lock(&pc->req_lock);
    if (pc->paused_since) {
        pc->paused_ns += get_clock() - pc->paused_since;
        pc->paused_since = 0;
    }
    qatomic_inc(&pc->recoveries);
    qemu_mutex_unlock(&pc->req_lock);
    trace_postcopy_resume();
    rp_send_resume_ack(mis->rp, RP_RESUME_ACK_VALUE);
    /*
     * What was in flight when the link broke is asked for again, and
     * the fault thread may send on the new link from now on.
     */
    postcopy_resend_requests(pc);
    /* (A new preempt channel went to its thread as it arrived.) */
    postcopy_cpu_latency_take(pc);
    return 0;
}

bool postcopy_incoming_shutdown(PostcopyIncoming *pc)
{
    bool listened = pc->listen_thread_running;

    qemu_mutex_lock(&pc->pause_lock);
    pc->quitting = true;
    qemu_cond_broadcast(&pc->pause_cond);
    qemu_mutex_unlock(&pc->pause_lock);
    if (listened) {
        trace_postcopy_incoming_shutdown();
        postcopy_break_links(pc);
        postcopy_incoming_join(pc);
    }
    return listened;
}

void postcopy_incoming_join(PostcopyIncoming *pc)
{
    if (pc && pc->listen_thread_running) {
        qemu_thread_join(&pc->listen_thread);
        pc->listen_thread_running = false;
    }
}

/* The listen thread's end: everything stops, whatever the outcome. */
static void listen_finish(PostcopyIncoming *pc, Error *err)
{
    postcopy_placer_stop(pc);
    /* (Placement needs the userfaultfd: the preempt thread stops first.) */
    postcopy_preempt_stop(pc);
    postcopy_fault_stop(pc);
    postcopy_set_state(pc, postcopy_get_state(pc), POSTCOPY_INCOMING_END);
    /*
     * The return path stays: SHUT, 0 or 1, goes on it from incoming.c
     * with the link's deadline (after a failure, if the main channel was
     * not shut down to stop its reader).  Nothing else writes it now.
     */
    trace_postcopy_listen_thread(0);
    pc->ops->finished(pc->opaque, err);
}

/*
 * After RUN a source pushes pages until it is done (and a ferry source
 * PINGs besides): silence on the main channel is a dead link.
 */
static void set_link_deadline(PostcopyIncoming *pc, QEMUFile *f)
{
    int64_t t = migrate_link_timeout();

    if (t) {
        t = MAX(t, 4 * qatomic_read(&pc->mis->keepalive_ms));
        trace_postcopy_link_deadline(t);
    }
    mig_channel_set_timeouts(qemu_file_get_ioc(f), t, -1);
}

static void *postcopy_listen_thread(void *opaque)
{
    PostcopyIncoming *pc = opaque;
    QEMUFile *f = pc->listen_file;
    Error *err = NULL;

    trace_postcopy_listen_thread(1);
    /*
     * Reads of at most 64 KiB: a read returns what has arrived, so a
     * requested page never waits for a chunk to fill, but a big one
     * delays the placing of what is already here.  16 KiB cost the push
     * a read (and a poll) every four pages: 512 MiB without faults took
     * 0.29-0.45 s, 0.20-0.23 s at 64 KiB (QEMU 7.2: 0.31-0.35 s), with
     * fault latency p50 as before (plain 150 -> 152 us, preempt 46 ->
     * 36 us, p99 569 -> 236 and 131 -> 174; tests/bench/README.md).
     */
    qemu_file_set_read_chunk(f, POSTCOPY_READ_CHUNK);
    set_link_deadline(pc, f);
    if (migrate_postcopy_preempt()) {
        /* Requested pages come on the preempt channel: yield to them. */
        qemu_thread_set_class(QEMU_THREAD_BULK);
    }
    postcopy_placer_start(pc);
    for (;;) {
        int ret = pc->ops->load_main(f, pc->opaque);

        /* (A placement that failed has recorded the first error.) */
        if (!postcopy_placer_drain(pc)) {
            ret = -1;
        }
        if (ret == 0) {
            /* EOF: the devices, and the preempt channel's last pages. */
            qemu_event_wait(&pc->package_loaded);
            if (postcopy_preempt_wait_done(pc) == 0) {
                break;
            }
            /* (Recorded already by the preempt thread, if first.) */
            postcopy_incoming_break(pc, "the preempt channel broke before "
                                    "its end");
        } else {
            postcopy_record_stream_error(pc, f, NULL);
            /*
             * Whether the VM runs here (RUN) is known once the package
             * is loaded: the link may break before the incoming thread
             * got there (a file, read at full speed, ends first).
             */
            qemu_event_wait(&pc->package_loaded);
        }
        if (!can_pause(pc)) {
            break;
        }
        f = pause_incoming(pc);
        if (!f) {
            error_setg(&err, "the process exits while postcopy is paused");
            postcopy_record_error(pc, err);
            err = NULL;
            break;
        }
        pc->listen_file = f;
        qemu_file_set_read_chunk(f, POSTCOPY_READ_CHUNK);
        set_link_deadline(pc, f);
    }
    /* The package may still be loading: it has to end first. */
    qemu_event_wait(&pc->package_loaded);
    err = postcopy_take_error(pc);
    listen_finish(pc, err);
    return NULL;
}

bool postcopy_listen_start(PostcopyIncoming *pc, Error **errp)
{
    pc->listen_file = pc->mis->from_src_file;
    qemu_thread_create(&pc->listen_thread, "mig/dst/listen",
                       postcopy_listen_thread, pc, QEMU_THREAD_JOINABLE);
    pc->listen_thread_running = true;
    return true;
}
