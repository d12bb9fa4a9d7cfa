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
 * A failed load never leaves a half-loaded VM running: exiting is what
 * QEMU 7.2 does, and what management software expects.
 */
#include "qemu/osdep.h"
#include "incoming.h"
#include "savevm.h"
#include "transport.h"
#include "postcopy-ram.h"
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

static void incoming_cleanup(MigrationIncomingState *mis)
{
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
    migrate_set_state(&mis->state, MIGRATION_STATUS_ACTIVE,
                      MIGRATION_STATUS_COMPLETED);
    migrate_send_rp_shut(mis, 0);
    trace_migration_incoming_done(mis->pages_received);
    incoming_cleanup(mis);
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
    savevm_foreach_load_cleanup();
    main_loop_call(incoming_finish_bh, r);
    return NULL;
}

/* Main loop: the stream is here. */
static void incoming_process(MigChannel *ioc)
{
    MigrationIncomingState *mis = migration_incoming_get_current();

    mis->from_src_file = qemu_file_new_input(ioc);
    mig_channel_unref(ioc);
    global_state_reset_received();
    if (!migrate_set_state(&mis->state, MIGRATION_STATUS_NONE,
                           MIGRATION_STATUS_ACTIVE)) {
        Error *err = NULL;

        error_setg(&err, "a second incoming migration was offered");
        incoming_fail(mis, err);
        return;
    }
    qemu_thread_create(&mis->thread, "mig/dst/load", incoming_thread, mis,
                       QEMU_THREAD_JOINABLE);
    mis->thread_created = true;
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
