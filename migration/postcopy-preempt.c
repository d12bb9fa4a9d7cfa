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
 * the migration.  It has no header: bare RAM page records (§4.3), each
 * channel with its own "last block" for CONTINUE, and a final EOS that
 * the 7.2 source writes after the main channel's EOF.  The destination
 * tells the channels apart by their order of arrival and starts loading
 * only when both are there.
 *
 * Source: outgoing.c connects; ram.c sends requested pages on it from the
 * return-path thread (ram_save_urgent()) and the EOS at completion.
 * Destination (here): from LISTEN, a thread loads pages from the channel
 * with its own temporary page, up to EOS; the listen thread waits for it
 * before finishing.  A bad record fails the migration like one on the
 * main channel; an I/O error is left to the main channel's handling (the
 * source is gone, the main channel breaks too).
 */
#include "qemu/osdep.h"
#include "postcopy-preempt.h"
#include "migration.h"
#include "options.h"
#include "ram.h"
#include "transport.h"
#include "trace.h"

static void *preempt_thread(void *opaque)
{
    MigrationIncomingState *mis = opaque;
    QEMUFile *f = mis->postcopy_qemufile_dst;
    Error *err = NULL;
    int ret;

    trace_postcopy_preempt_thread(1);
    ret = ram_load_postcopy(f, mis, RAM_CHANNEL_PREEMPT, &err);
    if (ret < 0 && !err) {
        qemu_file_get_error_obj(f, &err);
    }
    if (ret < 0 && ret != -EIO && ret != -ENODATA) {
        /* A bad record: the listen thread must stop and fail too. */
        error_prepend(&err, "preempt channel: ");
        mis->preempt_error = err;
        qatomic_store_release(&mis->preempt_ret, ret);
        qemu_file_shutdown(mis->from_src_file);
    } else {
        error_free(err);
        qatomic_store_release(&mis->preempt_ret, ret < 0 ? -EIO : 1);
    }
    trace_postcopy_preempt_thread(0);
    return NULL;
}

bool postcopy_preempt_start(MigrationIncomingState *mis, Error **errp)
{
    if (!mis->postcopy_qemufile_dst) {
        error_setg(errp, "postcopy-preempt is on, but the preempt channel "
                   "is missing");
        return false;
    }
    mis->preempt_ret = 0;
    qemu_thread_create(&mis->preempt_thread, "mig/dst/preempt",
                       preempt_thread, mis, QEMU_THREAD_JOINABLE);
    mis->preempt_thread_running = true;
    return true;
}

int postcopy_preempt_finish(MigrationIncomingState *mis, Error **errp)
{
    int ret;

    if (!mis->preempt_thread_running) {
        return 0;
    }
    qemu_thread_join(&mis->preempt_thread);
    mis->preempt_thread_running = false;
    ret = qatomic_load_acquire(&mis->preempt_ret);
    if (ret < 0 && mis->preempt_error) {
        error_propagate(errp, g_steal_pointer(&mis->preempt_error));
        return ret;
    }
    if (ret < 0) {
        error_setg(errp, "the preempt channel broke before its EOS");
        return ret;
    }
    return 0;
}

bool postcopy_preempt_failed(MigrationIncomingState *mis)
{
    return qatomic_load_acquire(&mis->preempt_ret) < 0 &&
           mis->preempt_error;
}

void postcopy_preempt_stop(MigrationIncomingState *mis)
{
    if (mis->preempt_thread_running) {
        qemu_file_shutdown(mis->postcopy_qemufile_dst);
        qemu_thread_join(&mis->preempt_thread);
        mis->preempt_thread_running = false;
    }
    error_free(mis->preempt_error);
    mis->preempt_error = NULL;
    if (mis->postcopy_qemufile_dst) {
        qemu_fclose(mis->postcopy_qemufile_dst);
        mis->postcopy_qemufile_dst = NULL;
    }
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
