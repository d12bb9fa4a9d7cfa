/*
 * incoming.c: the destination — accepting channels, the incoming thread
 * that loads the stream, and the end of an incoming migration.
 *
 *   -incoming URI / migrate-incoming   run state inmigrate; listen
 *                                      [MIGRATION setup]
 *   connection(s) (main loop)          none -> active [MIGRATION active];
 *                                      the incoming thread starts
 *   incoming thread                    header, configuration, sections
 *                                      and commands to EOF, VMDESCRIPTION
 *   main loop, success                 run state from "globalstate"
 *                                      (autostart obeyed) [RESUME];
 *                                      active -> completed; RP SHUT(0)
 *   main loop, failure                 active -> failed; RP SHUT(1)
 *                                      (if the link still carries it);
 *                                      "load of migration failed: ...";
 *                                      the process exits with status 1
 *
 * Postcopy: LISTEN (inside the PACKAGED blob the incoming thread is
 * loading) starts the listen thread (postcopy-listen.c), which reads the
 * main channel from then on while the incoming thread loads the devices
 * from the blob; RUN ends the incoming thread's part and starts the VM.
 * The listen thread finishes the migration, and in between survives
 * broken links: postcopy-paused, then migrate-recover here (a listener
 * that accepts in its own thread, since the main loop may be stuck on a
 * missing page), and the new channels go to postcopy_incoming_recover().
 *
 * multifd: every connection is told apart by its first bytes in a thread
 * of its own (the main one may come after multifd's, and a hello may be
 * slow): the main channel then starts loading as above, the others
 * become multifd's channels (multifd-recv.c); the listener takes 1 + N
 * connections.  The incoming thread tears multifd down when the load
 * ends, as QEMU does: the source closes its side when it is done.
 *
 * A failed load never leaves a half-loaded VM running: exiting is what
 * QEMU 7.2 does, and what management software expects.
 */
#include "qemu/osdep.h"
#include "incoming.h"
#include "loadvm.h"
#include "savevm.h"
#include "ram.h"
#include "transport.h"
#include "return-path.h"
#include "postcopy-ram.h"
#include "postcopy-preempt.h"
#include "multifd.h"
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
    Error *err;
} IncomingResult;

/*
 * The last word to the source, SHUT, then the channels close.  From a
 * thread of its own: the main loop must not wait for a stalled source
 * (the write has the link's deadline).  Joined before the next incoming
 * migration and at exit.
 */
static QemuThread shut_thread;
static bool shut_thread_running;
static uint32_t shut_value;

static void *incoming_shut_thread(void *opaque)
{
    MigrationIncomingState *mis = opaque;

    rp_send_shut(mis->rp, shut_value);
    migration_incoming_close_channels(mis);
    return NULL;
}

static void incoming_join_shut(void)
{
    if (shut_thread_running) {
        qemu_thread_join(&shut_thread);
        shut_thread_running = false;
    }
}

/* (The postcopy statistics stay for query-migrate.) */
static void incoming_end(MigrationIncomingState *mis, uint32_t shut)
{
    incoming_join_shut();
    shut_value = shut;
    qemu_thread_create(&shut_thread, "mig/dst/shut", incoming_shut_thread,
                       mis, QEMU_THREAD_JOINABLE);
    shut_thread_running = true;
    qemu_loadvm_state_cleanup(mis);
}

static void incoming_fail(MigrationIncomingState *mis, Error *err)
{
    migrate_set_state(&mis->state, qatomic_read(&mis->state),
                      MIGRATION_STATUS_FAILED);
    error_report("load of migration failed: %s", error_get_pretty(err));
    migration_incoming_set_error(mis, err);
    incoming_end(mis, 1);
    /* QEMU 7.2 exits here; so do we, cleanly and with status 1. */
    qemu_system_exit_request(1);
}

/* Main loop, BQL: success; tell the source (SHUT 0) and tidy up. */
static void incoming_complete(MigrationIncomingState *mis,
                              MigrationStatus from)
{
    migrate_set_state(&mis->state, from, MIGRATION_STATUS_COMPLETED);
    trace_migration_incoming_done(qatomic_read(&mis->pages_received));
    incoming_end(mis, 0);
}

/* Main loop, BQL: after the load. */
static void incoming_finish_bh(void *opaque)
{
    IncomingResult *r = opaque;
    MigrationIncomingState *mis = r->mis;
    Error *err = r->err;

    if (!mis->thread_created) {
        /* (The exit stopped the load and joined the thread already.) */
        error_free(err);
        g_free(r);
        return;
    }
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

    postcopy_incoming_join(mis->postcopy);
    if (mis->thread_created) {
        qemu_thread_join(&mis->thread);
        mis->thread_created = false;
    }
    g_free(r);
    if (err) {
        incoming_fail(mis, err);
        return;
    }
    incoming_complete(mis, qatomic_read(&mis->state));
}

/* ---- what postcopy needs from the loaders (PostcopyIncomingOps) ---- */

int migration_incoming_load_main(QEMUFile *f, void *opaque)
{
    MigrationIncomingState *mis = opaque;
    Error *err = NULL;
    int ret = qemu_loadvm_state_main(f, mis, LOADVM_PHASE_LISTEN, &err);

    /* (The error is on @f too: that is where postcopy reads it.) */
    g_clear_pointer(&err, error_free);
    if (ret > 0) {
        /* Only the package may quit the load (RUN): not the main channel. */
        error_setg(&err, "the main channel's load quit after RUN");
        qemu_file_set_error_obj(f, -EINVAL, err);
        return -EINVAL;
    }
    return ret;
}

int migration_incoming_load_preempt(QEMUFile *f, void *opaque)
{
    MigrationIncomingState *mis = opaque;
    Error *err = NULL;
    int ret = ram_load_postcopy(f, mis->postcopy, RAM_CHANNEL_PREEMPT, &err);

    error_free(err);
    return ret;
}

void migration_incoming_link_reset(void *opaque)
{
    ram_load_link_reset();
}

/* Listen thread, its last act. */
static void listen_finished(void *opaque, Error *err)
{
    IncomingResult *r = g_new0(IncomingResult, 1);

    savevm_foreach_load_cleanup();
    r->mis = opaque;
    r->err = err;
    main_loop_call(postcopy_finish_bh, r);
}

static const PostcopyIncomingOps postcopy_ops = {
    .load_main = migration_incoming_load_main,
    .load_preempt = migration_incoming_load_preempt,
    .link_reset = migration_incoming_link_reset,
    .finished = listen_finished,
};

void migration_incoming_prepare(MigrationIncomingState *mis)
{
    incoming_join_shut();
    postcopy_incoming_free(mis->postcopy);
    mis->postcopy = postcopy_incoming_new(mis, &postcopy_ops, mis);
    qatomic_set(&mis->pages_received, 0);
    migration_incoming_set_error(mis, NULL);
}

/* multifd's channels are done with (shut down, joined, freed). */
static void incoming_multifd_end(MigrationIncomingState *mis)
{
    MultiFDRecvState *mr;

    qemu_mutex_lock(&mis->channel_lock);
    mr = g_steal_pointer(&mis->multifd);
    qemu_mutex_unlock(&mis->channel_lock);
    multifd_recv_free(mr);
}

static void *incoming_thread(void *opaque)
{
    MigrationIncomingState *mis = opaque;
    IncomingResult *r;
    Error *err = NULL;
    int ret;

    trace_migration_incoming_thread_start();
    ret = qemu_loadvm_state(mis->from_src_file, mis, &err);
    if (ret < 0 && !err) {
        error_setg(&err, "stream error %d", ret);
    }
    incoming_multifd_end(mis);
    if (postcopy_incoming_listen_started(mis->postcopy)) {
        /*
         * Postcopy: RUN ended our part (the listen thread finishes), or
         * loading the package failed, and the listen thread must fail.
         */
        postcopy_incoming_package_done(mis->postcopy, ret < 0 ? err : NULL);
        return NULL;
    }
    postcopy_incoming_load_ended(mis->postcopy);
    savevm_foreach_load_cleanup();
    r = g_new0(IncomingResult, 1);
    r->mis = mis;
    r->err = err;
    main_loop_call(incoming_finish_bh, r);
    return NULL;
}

/*
 * Main loop: a channel is here.  The first is the main channel, and
 * loading starts at once; with postcopy-preempt the next one is the
 * preempt channel, whenever it comes (QEMU 7.2 opens it right after the
 * main one, 8.0+ at the switch to postcopy): the listener stays.
 */
static bool incoming_process_main(QEMUFile *f)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    Error *err = NULL;

    if (mis->from_src_file && migrate_multifd()) {
        error_report("a second main channel came; ignoring it");
        qemu_fclose(f);
        return false;
    }
    if (mis->from_src_file) {
        postcopy_incoming_preempt_channel(mis->postcopy, f);
        return false;
    }
    qemu_mutex_lock(&mis->channel_lock);
    mis->from_src_file = f;
    if (mis->multifd) {
        multifd_recv_set_main(mis->multifd, f);
    }
    qemu_mutex_unlock(&mis->channel_lock);
    if (migrate_postcopy_preempt() &&
        !postcopy_preempt_check_uri(mis->uri ? mis->uri : "", &err)) {
        incoming_fail(mis, err);
        return false;
    }
    global_state_reset_received();
    if (!migrate_set_state(&mis->state, MIGRATION_STATUS_NONE,
                           MIGRATION_STATUS_ACTIVE)) {
        error_setg(&err, "a second incoming migration was offered");
        incoming_fail(mis, err);
        return false;
    }
    migration_incoming_prepare(mis);
    qemu_thread_create(&mis->thread, "mig/dst/load", incoming_thread, mis,
                       QEMU_THREAD_JOINABLE);
    mis->thread_created = true;
    if (!migrate_postcopy_preempt()) {
        return false;
    }
    /* The preempt channel may come now, in any thread. */
    qemu_mutex_lock(&mis->channel_lock);
    mis->accepts_preempt = true;
    qemu_mutex_unlock(&mis->channel_lock);
    return true;
}

static void incoming_process_bh(void *opaque)
{
    incoming_process_main(opaque);
}

/*
 * Main loop: a connection was refused (a bad hello, or one that closed
 * before saying anything).  A load that runs fails by itself (multifd
 * shut its main channel down with the reason); without one the incoming
 * migration fails now, as QEMU 10.x's does (7.2 sits with no status).
 */
static void incoming_multifd_refused_bh(void *opaque)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    Error *err = opaque;
    bool loading;

    /* (The channels may be being closed by an earlier failure's thread.) */
    qemu_mutex_lock(&mis->channel_lock);
    loading = mis->from_src_file != NULL;
    qemu_mutex_unlock(&mis->channel_lock);
    if (loading || qatomic_read(&mis->state) != MIGRATION_STATUS_NONE) {
        error_free(err);
        return;
    }
    migration_incoming_unlisten();
    incoming_multifd_end(mis);
    incoming_fail(mis, err);
}

typedef struct MultiFDAccept {
    MultiFDRecvState *mr;
    QEMUFile *f;
} MultiFDAccept;

/* multifd: what a connection is, told in a thread of its own. */
static void *incoming_multifd_accept_thread(void *opaque)
{
    MultiFDAccept *a = opaque;
    Error *err = NULL;

    switch (multifd_recv_accept(a->mr, a->f, &err)) {
    case MULTIFD_CHANNEL_MAIN:
        main_loop_call(incoming_process_bh, a->f);
        break;
    case MULTIFD_CHANNEL_MULTIFD:
        break;
    case MULTIFD_CHANNEL_REFUSED:
        error_report("%s", error_get_pretty(err));
        main_loop_call(incoming_multifd_refused_bh, err);
        break;
    }
    multifd_recv_unref(a->mr);
    g_free(a);
    return NULL;
}

/* multifd: takes a connection; true while more are to come. */
static bool incoming_process_multifd(QEMUFile *f)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    MultiFDAccept *a = g_new0(MultiFDAccept, 1);
    QemuThread thread;
    bool more;

    qemu_mutex_lock(&mis->channel_lock);
    if (!mis->multifd) {
        mis->multifd = multifd_recv_new();
        mis->multifd_accepted = 0;
    }
    a->mr = mis->multifd;
    multifd_recv_ref(a->mr);
    mis->multifd_accepted++;
    more = mis->multifd_accepted < 1 + (unsigned)migrate_multifd_channels();
    qemu_mutex_unlock(&mis->channel_lock);
    a->f = f;
    qemu_thread_create(&thread, "mig/dst/accept", incoming_multifd_accept_thread,
                       a, QEMU_THREAD_DETACHED);
    return more;
}

/*
 * A channel, from the main loop or from the thread that accepted it (or
 * ran its TLS handshake).  The preempt channel is taken in that thread:
 * the main loop may by then wait for a page that only this channel can
 * bring (a QMP pmemsave, a device read), so it must not need the main
 * loop.  The main channel is started from the main loop.
 */
static bool incoming_process(MigChannel *ioc)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    QEMUFile *f = qemu_file_new_input(ioc);

    mig_channel_unref(ioc);
    if (migrate_multifd()) {
        return incoming_process_multifd(f);
    }
    if (bql_locked()) {
        return incoming_process_main(f);
    }
    qemu_mutex_lock(&mis->channel_lock);
    if (mis->accepts_preempt) {
        bool taken = postcopy_incoming_preempt_channel_locked(mis->postcopy,
                                                              f);

        qemu_mutex_unlock(&mis->channel_lock);
        if (!taken) {
            qemu_fclose(f);
        }
        return false;
    }
    qemu_mutex_unlock(&mis->channel_lock);
    main_loop_call(incoming_process_bh, f);
    return migrate_postcopy_preempt();
}

bool migration_incoming_start(MigrationIncomingState *mis, const char *uri,
                              Error **errp)
{
    if (!migration_incoming_listen(uri, incoming_process, false, errp)) {
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

/* ---- postcopy recovery ---- */

/*
 * The recovery's channels, as they arrive (accept thread, or the monitor
 * thread for fd:/exec:/file:): the main one first, and the recovery
 * starts at once; with postcopy-preempt then the preempt one, before the
 * handshake (QEMU 7.2) or in it (8.0+).
 */
static bool recover_have_main;      /* this recovery's main channel came */

static bool incoming_recover_channel(MigChannel *ioc)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    QEMUFile *f = qemu_file_new_input(ioc);

    mig_channel_unref(ioc);
    if (qatomic_xchg(&recover_have_main, true)) {
        trace_migration_incoming_recover_channel("preempt");
        postcopy_incoming_preempt_channel(mis->postcopy, f);
        return false;
    }
    trace_migration_incoming_recover_channel("main");
    return postcopy_incoming_recover(mis->postcopy, f) &&
           migrate_postcopy_preempt();
}

/* oob_lock held: the exit has not begun (and will wait for us). */
static bool oob_allowed(MigrationIncomingState *mis, Error **errp)
{
    if (mis->exiting) {
        error_setg(errp, "the process is exiting");
        return false;
    }
    return true;
}

bool migration_incoming_recover(const char *uri, Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();

    QEMU_LOCK_GUARD(&mis->oob_lock);
    if (!oob_allowed(mis, errp)) {
        return false;
    }
    if (!postcopy_incoming_wants_channels(mis->postcopy)) {
        error_setg(errp, "Migrate recover can only be run when postcopy is "
                   "paused.");
        return false;
    }
    /* A listener armed by an earlier migrate-recover goes. */
    migration_incoming_unlisten();
    qatomic_set(&recover_have_main, false);
    trace_migration_incoming_recover(uri);
    if (!migration_incoming_listen(uri, incoming_recover_channel, true,
                                   errp)) {
        return false;
    }
    /* As QEMU: the setup event, the status stays postcopy-paused. */
    if (migrate_events()) {
        qapi_event_send("MIGRATION", "{\"status\": \"setup\"}");
    }
    return true;
}

bool migration_incoming_pause(Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();

    /*
     * (Out of band: PostcopyIncoming lives from the first channel to the
     * exit, which waits for oob_lock, so it is there in any state but
     * none.)
     */
    QEMU_LOCK_GUARD(&mis->oob_lock);
    if (!oob_allowed(mis, errp)) {
        return false;
    }
    if (qatomic_read(&mis->state) != MIGRATION_STATUS_POSTCOPY_ACTIVE ||
        !mis->postcopy) {
        error_setg(errp, "migrate-pause is currently only supported during "
                   "postcopy-active state");
        return false;
    }
    trace_migration_incoming_pause();
    postcopy_incoming_break(mis->postcopy, "migrate-pause");
    return true;
}

/*
 * At exit: a load still running in the incoming thread (precopy, or
 * postcopy before LISTEN) stops, its channel shut down; the thread is
 * joined (BQL released: loading may need it).
 */
static void incoming_stop_load(MigrationIncomingState *mis)
{
    if (!mis->thread_created) {
        return;
    }
    trace_migration_incoming_stop_load();
    qemu_mutex_lock(&mis->channel_lock);
    if (mis->from_src_file) {
        qemu_file_shutdown(mis->from_src_file);
    }
    /* (A loader waiting at multifd's barrier gives up too.) */
    multifd_recv_shutdown(mis->multifd);
    qemu_mutex_unlock(&mis->channel_lock);
    bql_unlock();
    qemu_thread_join(&mis->thread);
    bql_lock();
    mis->thread_created = false;
}

/*
 * At exit (main loop, BQL), before the vCPUs are stopped and RAM goes.
 * The out-of-band commands are refused from now on and the listener
 * closes.  A load still running is stopped: its channel is shut down
 * and the incoming thread joined (it must not write RAM that is being
 * freed).  A destination left postcopy-paused has vCPUs asleep on pages
 * that will never come: the listen thread gives up and tears the
 * userfaultfd down, which wakes them (the pages then read as zero, which
 * no longer matters), so that pausing them cannot hang the exit.
 */
void migration_incoming_shutdown(void)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    bool listened;

    qemu_mutex_lock(&mis->oob_lock);
    mis->exiting = true;
    qemu_mutex_unlock(&mis->oob_lock);
    /* (Joins a recovery's accept thread: nothing hands channels over.) */
    migration_incoming_unlisten();
    if (shut_thread_running) {
        /* (Its write has the link's deadline.) */
        bql_unlock();
        incoming_join_shut();
        bql_lock();
    }
    if (!postcopy_incoming_listen_started(mis->postcopy)) {
        incoming_stop_load(mis);
    }
    /* multifd channels that came without a main one to load them. */
    incoming_multifd_end(mis);
    if (!mis->postcopy) {
        return;
    }
    if (qatomic_read(&mis->state) == MIGRATION_STATUS_POSTCOPY_PAUSED) {
        trace_migration_incoming_shutdown_paused();
    }
    /* The listen thread may need the BQL to finish loading the package. */
    bql_unlock();
    listened = postcopy_incoming_shutdown(mis->postcopy);
    bql_lock();
    /* After the listen thread, the incoming thread is done as well. */
    if (listened && mis->thread_created) {
        qemu_thread_join(&mis->thread);
        mis->thread_created = false;
    }
    if (!mis->thread_created) {
        postcopy_incoming_free(mis->postcopy);
        mis->postcopy = NULL;
    }
}
