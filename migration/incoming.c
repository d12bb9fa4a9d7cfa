/*
 * incoming.c: the destination — the incoming thread loads the stream;
 * the main loop then starts the VM (or not) and finishes.
 *
 *   -incoming URI / migrate-incoming   run state inmigrate; listen
 *                                      [MIGRATION setup]
 *   connection (main loop)             none -> active [MIGRATION active];
 *                                      incoming thread starts
 *   incoming thread                    header, configuration, sections
 *                                      and commands to EOF, VMDESCRIPTION
 *   main loop, success                 run state from "globalstate"
 *                                      (autostart obeyed) [RESUME];
 *                                      active -> completed; RP SHUT(0)
 *   main loop, failure                 active -> failed; RP SHUT(1);
 *                                      "load of migration failed: ...";
 *                                      the process exits with status 1
 *
 * Postcopy: LISTEN (inside the PACKAGED blob the incoming thread is
 * loading) starts the *listen thread*, which reads the main channel from
 * then on (RAM pages, PING 4, END, EOF) while the incoming thread loads
 * the devices from the blob; RUN ends the incoming thread's part and
 * starts the VM.  The listen thread finishes the migration:
 *   listen thread, EOF                 wait for the blob's load; tear down
 *                                      userfaultfd; postcopy END
 *   main loop                          postcopy-active -> completed;
 *                                      RP SHUT(0)
 * An I/O error once the VM runs on the destination pauses the migration
 * (postcopy-paused) instead: the guest's pages are split between the two
 * hosts, so neither side may give up.
 *
 * A failed load never leaves a half-loaded VM running: exiting is what
 * QEMU 7.2 does, and what management software expects.
 */
#include "qemu/osdep.h"
#include "incoming.h"
#include "savevm.h"
#include "transport.h"
#include "postcopy-ram.h"
#include "postcopy-fault.h"
#include "postcopy-preempt.h"
#include "migration/global_state.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/qmp-event.h"
#include "sysemu/runstate.h"
#include "trace.h"

static bool incoming_deferred;

bool migration_incoming_deferred(void)
{
    return incoming_deferred;
}

typedef struct IncomingResult {
    MigrationIncomingState *mis;
    int ret;
    Error *err;
} IncomingResult;

/* (The postcopy statistics stay for query-migrate.) */
static void incoming_cleanup(MigrationIncomingState *mis)
{
    postcopy_preempt_stop(mis);
    postcopy_ram_incoming_cleanup(mis);
    qemu_mutex_lock(&mis->rp_mutex);
    if (mis->to_src_file) {
        qemu_fclose(mis->to_src_file);
        mis->to_src_file = NULL;
    }
    qemu_mutex_unlock(&mis->rp_mutex);
    if (mis->from_src_file) {
        qemu_fclose(mis->from_src_file);
        mis->from_src_file = NULL;
    }
    qemu_loadvm_state_cleanup(mis);
}

static void incoming_fail(MigrationIncomingState *mis, Error *err)
{
    migrate_set_state(&mis->state, qatomic_read(&mis->state),
                      MIGRATION_STATUS_FAILED);
    migrate_send_rp_shut(mis, 1);
    error_report("load of migration failed: %s", error_get_pretty(err));
    mis->error = err;
    incoming_cleanup(mis);
    /* QEMU 7.2 exits here; so do we, cleanly and with status 1. */
    qemu_system_exit_request(1);
}

/* Main loop, BQL: success; tell the source (SHUT 0) and tidy up. */
static void incoming_complete(MigrationIncomingState *mis,
                              MigrationStatus from)
{
    migrate_set_state(&mis->state, from, MIGRATION_STATUS_COMPLETED);
    migrate_send_rp_shut(mis, 0);
    trace_migration_incoming_done(qatomic_read(&mis->pages_received));
    incoming_cleanup(mis);
}

/* Main loop, BQL: after the load. */
static void incoming_finish_bh(void *opaque)
{
    IncomingResult *r = opaque;
    MigrationIncomingState *mis = r->mis;
    Error *err = r->err;

    qemu_thread_join(&mis->thread);
    mis->thread_created = false;
    g_free(r);
    if (err) {
        incoming_fail(mis, err);
        return;
    }
    /*
     * The received run state decides, except "running" (and no state at
     * all), where autostart does: -S keeps the VM paused.
     */
    if (!global_state_received() ||
        global_state_get_runstate() == RUN_STATE_RUNNING) {
        if (autostart) {
            vm_start();
        } else {
            runstate_set(RUN_STATE_PAUSED);
        }
    } else if (runstate_transition_valid(runstate_get(),
                                         global_state_get_runstate())) {
        runstate_set(global_state_get_runstate());
    } else {
        error_setg(&err, "invalid run state '%s' received",
                   RunState_str(global_state_get_runstate()));
        incoming_fail(mis, err);
        return;
    }
    incoming_complete(mis, MIGRATION_STATUS_ACTIVE);
}

/* Main loop, BQL: the listen thread finished a postcopy migration. */
static void postcopy_finish_bh(void *opaque)
{
    IncomingResult *r = opaque;
    MigrationIncomingState *mis = r->mis;
    Error *err = r->err;

    qemu_thread_join(&mis->listen_thread);
    mis->have_listen_thread = false;
    qemu_thread_join(&mis->thread);
    mis->thread_created = false;
    g_free(r);
    if (err) {
        incoming_fail(mis, err);
        return;
    }
    incoming_complete(mis, MIGRATION_STATUS_POSTCOPY_ACTIVE);
}

/* The link broke while the VM runs here: wait (postcopy-paused). */
static void postcopy_pause_bh(void *opaque)
{
    IncomingResult *r = opaque;
    MigrationIncomingState *mis = r->mis;

    migrate_set_state(&mis->state, MIGRATION_STATUS_POSTCOPY_ACTIVE,
                      MIGRATION_STATUS_POSTCOPY_PAUSED);
    error_report("postcopy: the migration stream broke (%s); the VM waits "
                 "for its missing pages", error_get_pretty(r->err));
    mis->error = r->err;
    g_free(r);
    /* No page comes before a recovery: no reason to keep CPUs polling. */
    postcopy_cpu_latency_drop(mis);
}

static bool is_io_error(int ret)
{
    return ret == -EIO || ret == -ENODATA;
}

static void *listen_thread(void *opaque)
{
    MigrationIncomingState *mis = opaque;
    IncomingResult *r = g_new0(IncomingResult, 1);

    trace_migration_listen_thread(1);
    r->mis = mis;
    /* Small reads: a requested page must not wait behind a big chunk. */
    qemu_file_set_read_chunk(mis->from_src_file, 16 * 1024);
    if (migrate_postcopy_preempt()) {
        /* Requested pages come on the preempt channel: yield to them. */
        qemu_thread_set_class(QEMU_THREAD_BULK);
    }
    r->ret = qemu_loadvm_state_main(mis->from_src_file, mis, &r->err);
    if (r->ret < 0 && !r->err) {
        error_setg(&r->err, "stream error %d", r->ret);
    }
    /* The devices in the blob must be loaded before we finish. */
    qemu_event_wait(&mis->load_done);
    if (r->ret == 0) {
        /* EOF: the preempt channel's EOS follows (with postcopy-preempt). */
        r->ret = postcopy_preempt_finish(mis, &r->err);
    }
    if (mis->package_error) {
        error_free(r->err);
        r->err = g_steal_pointer(&mis->package_error);
        r->ret = -EINVAL;
    } else if (postcopy_preempt_failed(mis)) {
        /* A bad record there stopped us: that is the error to report. */
        error_free(r->err);
        r->err = NULL;
        r->ret = postcopy_preempt_finish(mis, &r->err);
    } else if (r->ret < 0 && is_io_error(r->ret) &&
               postcopy_state_get() == POSTCOPY_INCOMING_RUNNING) {
        trace_migration_listen_thread(2);
        main_loop_call(postcopy_pause_bh, r);
        return NULL;
    }
    /* (Placement needs the userfaultfd: the preempt thread stops first.) */
    postcopy_preempt_stop(mis);
    postcopy_ram_incoming_cleanup(mis);
    postcopy_state_set(POSTCOPY_INCOMING_END);
    savevm_foreach_load_cleanup();
    trace_migration_listen_thread(0);
    main_loop_call(postcopy_finish_bh, r);
    return NULL;
}

/*
 * At exit (main loop, BQL), before the vCPUs are stopped: a destination
 * left postcopy-paused has vCPUs asleep on pages that will never come.
 * Tearing down the userfaultfd wakes them (the pages then read as zero,
 * which no longer matters), so that pausing them cannot hang the exit.
 */
void migration_incoming_shutdown(void)
{
    MigrationIncomingState *mis = migration_incoming_get_current();

    if (qatomic_read(&mis->state) != MIGRATION_STATUS_POSTCOPY_PAUSED) {
        return;
    }
    trace_migration_incoming_shutdown_paused();
    postcopy_preempt_stop(mis);
    postcopy_ram_incoming_cleanup(mis);
    if (mis->have_listen_thread) {
        qemu_thread_join(&mis->listen_thread);
        mis->have_listen_thread = false;
    }
}

void migration_incoming_start_listen_thread(MigrationIncomingState *mis)
{
    qemu_thread_create(&mis->listen_thread, "mig/dst/listen",
                       listen_thread, mis, QEMU_THREAD_JOINABLE);
    mis->have_listen_thread = true;
}

static void *incoming_thread(void *opaque)
{
    MigrationIncomingState *mis = opaque;
    IncomingResult *r = g_new0(IncomingResult, 1);

    trace_migration_incoming_thread_start();
    r->mis = mis;
    r->ret = qemu_loadvm_state(mis->from_src_file, mis, &r->err);
    if (r->ret < 0 && !r->err) {
        error_setg(&r->err, "stream error %d", r->ret);
    }
    if (mis->have_listen_thread) {
        /*
         * Postcopy: RUN ended our part (the listen thread finishes), or
         * loading the blob failed, and the listen thread must stop too.
         */
        if (r->ret < 0) {
            mis->package_error = g_steal_pointer(&r->err);
            qemu_file_shutdown(mis->from_src_file);
        }
        qemu_event_set(&mis->load_done);
        g_free(r);
        return NULL;
    }
    savevm_foreach_load_cleanup();
    main_loop_call(incoming_finish_bh, r);
    return NULL;
}

/*
 * Main loop: a channel is here.  The first is the main channel; with
 * postcopy-preempt the loading waits for the second (QEMU 7.2 tells them
 * apart by arrival order and starts only when both exist).
 */
static bool incoming_process(MigChannel *ioc)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    Error *err = NULL;

    if (mis->from_src_file) {
        trace_postcopy_preempt_channel("accepted");
        mis->postcopy_qemufile_dst = qemu_file_new_input(ioc);
        mig_channel_unref(ioc);
    } else {
        mis->from_src_file = qemu_file_new_input(ioc);
        mig_channel_unref(ioc);
        if (migrate_postcopy_preempt()) {
            if (!postcopy_preempt_check_uri(mis->uri ? mis->uri : "", &err)) {
                incoming_fail(mis, err);
                return false;
            }
            return true;        /* wait for the preempt channel */
        }
    }
    global_state_reset_received();
    if (!migrate_set_state(&mis->state, MIGRATION_STATUS_NONE,
                           MIGRATION_STATUS_ACTIVE)) {
        error_setg(&err, "a second incoming migration was offered");
        incoming_fail(mis, err);
        return false;
    }
    qemu_thread_create(&mis->thread, "mig/dst/load", incoming_thread, mis,
                       QEMU_THREAD_JOINABLE);
    mis->thread_created = true;
    return false;
}

bool migration_incoming_start(MigrationIncomingState *mis, const char *uri,
                              Error **errp)
{
    if (!migration_incoming_listen(uri, incoming_process, errp)) {
        return false;
    }
    g_free(mis->uri);
    mis->uri = g_strdup(uri);
    /* The event only: the status stays "none" until a stream arrives. */
    if (migrate_events()) {
        qapi_event_send("MIGRATION", "{\"status\": \"setup\"}");
    }
    return true;
}

bool migration_incoming_setup(const char *uri, Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();

    runstate_set(RUN_STATE_INMIGRATE);
    if (g_str_equal(uri, "defer")) {
        incoming_deferred = true;
        return true;
    }
    return migration_incoming_start(mis, uri, errp);
}
