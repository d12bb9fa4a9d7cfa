/*
 * postcopy-preempt.c: postcopy's second channel (capability
 * postcopy-preempt), spec §11.
 *
 * Without it, a page the destination asks for waits behind whatever is
 * queued on the main channel; the preempt channel carries requested pages
 * only, so nothing is ahead of them, and the main channel can keep large
 * buffers for the background push.
 *
 * The preempt channel is a second connection to the destination's listen
 * address.  It has no header: bare RAM page records (§4.3), with its own
 * "last block" for CONTINUE.  Two protocols:
 *
 *   QEMU 7.2 (ferry's source)  the source connects it right after the
 *       main channel (again on a recovery, before the handshake) and
 *       writes an EOS on it after the main channel's EOF;
 *   QEMU 8.0+  the source connects it at the switch to postcopy (on a
 *       recovery after the bitmaps, before POSTCOPY_RESUME) and writes no
 *       EOS: the destination ends it once every page it asked for is here.
 *
 * The destination serves both without being told which: the first
 * connection is the main channel and loading starts at once; the next one
 * is the preempt channel, whenever it comes (postcopy_incoming_preempt_
 * channel()).  From LISTEN a thread loads it with its own temporary page;
 * it waits for the channel if it has not come yet.  After the main
 * channel's EOF the listen thread waits until that thread read an EOS or
 * no requested page is missing any more (every page is sent once: what is
 * still on the preempt channel was asked for), then stops it.
 *
 * A bad record fails the migration: the thread records the error (the
 * first one decides) and shuts the main channel down so that the listen
 * thread stops too.  A broken channel is the link's failure: the thread
 * shuts the main channel down as well (the listen thread pauses), then
 * parks until the recovery hands it the new channel or the end comes.
 * It parks after an EOS too: the link may still break before the main
 * channel's EOF, and a 7.2 source then sends the pages asked again on
 * the recovery's preempt channel.
 *
 * Ownership: the preempt channel of a link is mis->preempt_file (which
 * close_links() closes) and, until the thread takes it, preempt_next.
 * The pause refuses new channels (pausing) and waits until the thread is
 * parked holding none, so that nothing it reads is ever closed under it.
 * pause_lock covers pausing, preempt_next, preempt_parked,
 * preempt_broken, preempt_eos, preempt_done.
 *
 * Source: outgoing.c connects (7.2's order); ram.c sends requested pages
 * on it from the return-path thread (ram_save_urgent()) and the EOS at
 * completion.
 */
#include "qemu/osdep.h"
#include "postcopy-int.h"
#include "postcopy-preempt.h"
#include "migration.h"
#include "options.h"
#include "transport.h"
#include "trace.h"

/* pause_lock held: waits for the next channel; NULL when it is over. */
static QEMUFile *wait_channel(PostcopyIncoming *pc)
{
    QEMUFile *f;

    pc->preempt_parked = true;
    qemu_cond_broadcast(&pc->pause_cond);
    trace_postcopy_preempt_parked();
    while (!pc->quitting && !pc->preempt_next) {
        qemu_cond_wait(&pc->pause_cond, &pc->pause_lock);
    }
    f = pc->quitting ? NULL : g_steal_pointer(&pc->preempt_next);
    pc->preempt_parked = false;
    pc->preempt_broken = false;
    pc->preempt_eos = false;
    return f;
}

static void *preempt_thread(void *opaque)
{
    PostcopyIncoming *pc = opaque;
    QEMUFile *f;

    trace_postcopy_preempt_thread(1);
    qemu_mutex_lock(&pc->pause_lock);
    f = wait_channel(pc);
    qemu_mutex_unlock(&pc->pause_lock);
    while (f) {
        bool quitting, eos = false;

        trace_postcopy_preempt_channel("loading");
        if (pc->ops->load_preempt(f, pc->opaque) == 0) {
            /*
             * EOS: this link's last page.  A recovery may still bring a
             * new channel (the link can break before the main channel's
             * EOF, and a QEMU 7.2 source then sends requested pages on
             * the new one): wait for it as after a break.
             */
            eos = true;
        }
        qemu_mutex_lock(&pc->pause_lock);
        quitting = pc->quitting;
        qemu_mutex_unlock(&pc->pause_lock);
        if (quitting) {
            break;                          /* stopped at the end */
        }
        if (!eos) {
            postcopy_record_stream_error(pc, f, "preempt");
            /* Either way the listen thread must know at once. */
            postcopy_break_links(pc);
            if (!qemu_file_error_is_io(f)) {
                break;
            }
        }
        qemu_mutex_lock(&pc->pause_lock);
        pc->preempt_broken = !eos;
        pc->preempt_eos = eos;
        f = wait_channel(pc);
        qemu_mutex_unlock(&pc->pause_lock);
    }
    qemu_mutex_lock(&pc->pause_lock);
    pc->preempt_done = true;
    qemu_cond_broadcast(&pc->pause_cond);
    qemu_mutex_unlock(&pc->pause_lock);
    trace_postcopy_preempt_thread(0);
    return NULL;
}

void postcopy_preempt_start(PostcopyIncoming *pc)
{
    pc->preempt_done = false;
    qemu_thread_create(&pc->preempt_thread, "mig/dst/preempt",
                       preempt_thread, pc, QEMU_THREAD_JOINABLE);
    pc->preempt_thread_running = true;
}

/*
 * A preempt channel: the first one, or a recovery's.  One per link: it
 * is mis->preempt_file (for shutting down; close_links() closes it) and
 * the thread's next channel, both at once.  One that comes while a
 * broken link is torn down, or a second one, is refused.
 */
bool postcopy_incoming_preempt_channel_locked(PostcopyIncoming *pc,
                                              QEMUFile *f)
{
    MigrationIncomingState *mis = pc->mis;
    bool refused;

    qemu_mutex_lock(&pc->pause_lock);
    refused = pc->quitting || pc->pausing || mis->preempt_file;
    if (!refused) {
        mis->preempt_file = f;
        pc->preempt_next = f;
        qemu_cond_broadcast(&pc->pause_cond);
    }
    qemu_mutex_unlock(&pc->pause_lock);
    trace_postcopy_preempt_channel(refused ? "refused" : "accepted");
    return !refused;
}

void postcopy_incoming_preempt_channel(PostcopyIncoming *pc, QEMUFile *f)
{
    bool taken;

    qemu_mutex_lock(&pc->mis->channel_lock);
    taken = postcopy_incoming_preempt_channel_locked(pc, f);
    qemu_mutex_unlock(&pc->mis->channel_lock);
    if (!taken) {
        qemu_fclose(f);
    }
}

/* pause_lock held. */
static bool requests_all_served(PostcopyIncoming *pc)
{
    QEMU_LOCK_GUARD(&pc->req_lock);
    return g_hash_table_size(pc->requested) == 0;
}

int postcopy_preempt_wait_done(PostcopyIncoming *pc)
{
    if (!pc->preempt_thread_running) {
        return 0;
    }
    QEMU_LOCK_GUARD(&pc->pause_lock);
    for (;;) {
        if (pc->preempt_done || (pc->preempt_parked && pc->preempt_eos)) {
            return 0;
        }
        if (pc->preempt_parked && pc->preempt_broken) {
            return -1;      /* this link's channel broke before its end */
        }
        if (requests_all_served(pc)) {
            trace_postcopy_preempt_channel("all requests served");
            return 0;
        }
        qemu_cond_wait(&pc->pause_cond, &pc->pause_lock);
    }
}

void postcopy_preempt_park(PostcopyIncoming *pc)
{
    MigrationIncomingState *mis = pc->mis;

    qemu_mutex_lock(&mis->channel_lock);
    qemu_mutex_lock(&pc->pause_lock);
    pc->pausing = true;
    qemu_mutex_unlock(&pc->pause_lock);
    if (mis->preempt_file) {
        qemu_file_shutdown(mis->preempt_file);
    }
    qemu_mutex_unlock(&mis->channel_lock);
    if (!pc->preempt_thread_running) {
        return;
    }
    /*
     * A channel handed over before the refusal began was shut down above
     * too: the thread takes it, fails at once and parks again.
     */
    QEMU_LOCK_GUARD(&pc->pause_lock);
    while (!pc->preempt_done && !(pc->preempt_parked && !pc->preempt_next)) {
        qemu_cond_wait(&pc->pause_cond, &pc->pause_lock);
    }
}

void postcopy_preempt_link_reset(PostcopyIncoming *pc)
{
    QEMU_LOCK_GUARD(&pc->pause_lock);
    pc->preempt_broken = false;
    pc->preempt_eos = false;
}

void postcopy_preempt_stop(PostcopyIncoming *pc)
{
    MigrationIncomingState *mis = pc->mis;

    if (!pc->preempt_thread_running) {
        return;
    }
    qemu_mutex_lock(&pc->pause_lock);
    pc->quitting = true;
    qemu_cond_broadcast(&pc->pause_cond);
    qemu_mutex_unlock(&pc->pause_lock);
    /* (Its channel only: the main one carries the return path's SHUT.) */
    qemu_mutex_lock(&mis->channel_lock);
    if (mis->preempt_file) {
        qemu_file_shutdown(mis->preempt_file);
    }
    qemu_mutex_unlock(&mis->channel_lock);
    qemu_thread_join(&pc->preempt_thread);
    pc->preempt_thread_running = false;
}

bool postcopy_preempt_check_uri(const char *uri, Error **errp)
{
    if (!migration_uri_multi_channel(uri)) {
        error_setg(errp, "Postcopy preempt is not supported as current "
                   "migration stream does not support multi-channels.");
        return false;
    }
    if (!migrate_props()->preempt_pre_7_2) {
        error_setg(errp, "ferry speaks QEMU 7.2's postcopy-preempt protocol "
                   "only (x-preempt-pre-7-2=on)");
        return false;
    }
    return true;
}
