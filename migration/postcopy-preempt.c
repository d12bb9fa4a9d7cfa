/*
 * postcopy-preempt.c: postcopy's second channel (capability
 * postcopy-preempt), in QEMU 7.2's protocol (spec §11).
 *
 * Without it, a page the destination asks for waits behind whatever is
 * queued on the main channel; the preempt channel carries requested pages
 * only, so nothing is ahead of them, and the main channel can keep large
 * buffers for the background push.
 *
 * The preempt channel is a second connection to the destination's listen
 * address, opened by the source right after the main one at the start of
 * the migration, and again right after the new main one on a recovery.
 * It has no header: bare RAM page records (§4.3), each channel with its
 * own "last block" for CONTINUE, and a final EOS that the 7.2 source
 * writes after the main channel's EOF.  The destination tells the
 * channels apart by their order of arrival and starts loading only when
 * both are there.
 *
 * Source: outgoing.c connects; ram.c sends requested pages on it from the
 * return-path thread (ram_save_urgent()) and the EOS at completion.
 * Destination (here): from LISTEN, a thread loads pages from the channel
 * with its own temporary page, up to EOS.  A bad record fails the
 * migration: the thread records the error (the first one decides) and
 * shuts the main channel down so that the listen thread stops too.  A
 * broken channel is the link's failure: the thread shuts the main channel
 * down as well (the listen thread pauses), then parks until the recovery
 * hands it the new channel (postcopy_preempt_run()) or the end comes.
 * pause_lock covers preempt_file, preempt_parked and preempt_done.
 */
#include "qemu/osdep.h"
#include "postcopy-int.h"
#include "postcopy-preempt.h"
#include "migration.h"
#include "options.h"
#include "transport.h"
#include "trace.h"

static void *preempt_thread(void *opaque)
{
    PostcopyIncoming *pc = opaque;
    QEMUFile *f;

    trace_postcopy_preempt_thread(1);
    qemu_mutex_lock(&pc->pause_lock);
    f = pc->preempt_file;
    qemu_mutex_unlock(&pc->pause_lock);
    for (;;) {
        if (pc->ops->load_preempt(f, pc->opaque) == 0) {
            break;                          /* EOS */
        }
        postcopy_record_stream_error(pc, f, "preempt");
        /* Either way the listen thread must know at once. */
        postcopy_break_links(pc);
        if (!qemu_file_error_is_io(f)) {
            break;
        }
        qemu_mutex_lock(&pc->pause_lock);
        pc->preempt_parked = true;
        pc->preempt_file = NULL;
        qemu_cond_broadcast(&pc->pause_cond);
        trace_postcopy_preempt_parked();
        while (!pc->quitting && !pc->preempt_file) {
            qemu_cond_wait(&pc->pause_cond, &pc->pause_lock);
        }
        f = pc->preempt_file;
        pc->preempt_parked = false;
        qemu_mutex_unlock(&pc->pause_lock);
        if (!f) {
            break;                          /* the end, while parked */
        }
        trace_postcopy_preempt_channel("resumed");
    }
    qemu_mutex_lock(&pc->pause_lock);
    pc->preempt_done = true;
    qemu_cond_broadcast(&pc->pause_cond);
    qemu_mutex_unlock(&pc->pause_lock);
    trace_postcopy_preempt_thread(0);
    return NULL;
}

void postcopy_preempt_run(PostcopyIncoming *pc, QEMUFile *f)
{
    qemu_mutex_lock(&pc->pause_lock);
    pc->preempt_file = f;
    if (pc->preempt_thread_running && !pc->preempt_done) {
        /* Parked on the old link: this wakes it. */
        qemu_cond_broadcast(&pc->pause_cond);
        qemu_mutex_unlock(&pc->pause_lock);
        return;
    }
    qemu_mutex_unlock(&pc->pause_lock);
    if (pc->preempt_thread_running) {
        /* It ended (EOS came before the break): a new one. */
        qemu_thread_join(&pc->preempt_thread);
    }
    pc->preempt_done = false;
    qemu_thread_create(&pc->preempt_thread, "mig/dst/preempt",
                       preempt_thread, pc, QEMU_THREAD_JOINABLE);
    pc->preempt_thread_running = true;
}

int postcopy_preempt_wait_done(PostcopyIncoming *pc)
{
    int ret = 0;

    if (!pc->preempt_thread_running) {
        return 0;
    }
    QEMU_LOCK_GUARD(&pc->pause_lock);
    while (!pc->preempt_done && !pc->preempt_parked) {
        qemu_cond_wait(&pc->pause_cond, &pc->pause_lock);
    }
    if (pc->preempt_parked) {
        ret = -1;           /* it broke before its EOS (recorded) */
    }
    return ret;
}

void postcopy_preempt_wait_parked(PostcopyIncoming *pc)
{
    if (!pc->preempt_thread_running) {
        return;
    }
    QEMU_LOCK_GUARD(&pc->pause_lock);
    while (!pc->preempt_done && !pc->preempt_parked) {
        qemu_cond_wait(&pc->pause_cond, &pc->pause_lock);
    }
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
