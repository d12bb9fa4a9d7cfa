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
 * Cancel and errors: migrate_cancel() shuts the channel down under
 * qemu_file_lock, which makes any blocked write fail at once.
 */
#include "qemu/osdep.h"
#include "outgoing.h"
#include "options.h"
#include "savevm.h"
#include "ram.h"
#include "postcopy-preempt.h"
#include "transport.h"
#include "migration/global_state.h"
#include "qemu/atomic.h"
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

/* Bytes the kernel may queue on the socket before / during postcopy. */
#define PRECOPY_SEND_QUEUE          (4 * 1024 * 1024)
#define POSTCOPY_SEND_QUEUE         (64 * 1024)

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

static void set_file_rate_limit(MigrationState *s)
{
    uint64_t bw = migration_in_postcopy() ? migrate_max_postcopy_bandwidth()
                                          : migrate_max_bandwidth();

    qemu_file_set_rate_limit(s->to_dst_file, bw * window_ms() / 1000);
}

static void fail_with(MigrationState *s, Error *err)
{
    if (err) {
        error_report("%s", error_get_pretty(err));
        migrate_set_error(s, err);
        error_free(err);
    }
}

/* End of a rate-limit window: measure, derive the switchover threshold. */
static void update_counters(MigrationState *s, IterState *it)
{
    int64_t now = now_ms();
    int64_t spent = now - it->start_ms;
    uint64_t bytes = qemu_file_total_transferred(s->to_dst_file);
    uint64_t pages = qatomic_read(&s->stats.normal) +
                     qatomic_read(&s->stats.duplicate);
    double bandwidth;

    if (spent <= 0) {
        return;
    }
    bandwidth = (double)(bytes - it->start_bytes) / spent;     /* B/ms */
    s->threshold_size = bandwidth * migrate_downtime_limit();
    s->mbps = (bytes - it->start_bytes) * 8.0 / spent / 1000.0;
    s->pages_per_second = (pages - it->start_pages) * 1000 / spent;
    if (bandwidth > 0 && bytes - it->start_bytes > 10000) {
        s->expected_downtime = ram_bytes_remaining() / bandwidth;
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
    qemu_sem_wait(&s->pause_sem);
    bql_lock();
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
        if (migrate_props()->send_switchover_start) {
            qemu_savevm_send_switchover_start(s->to_dst_file);
        }
        ret = qemu_savevm_state_complete_precopy(s->to_dst_file, false,
                                                 errp);
    }
    bql_unlock();
    if (ret < 0) {
        return ret;
    }
    /* The destination answers with SHUT once it has loaded everything. */
    if (s->rp && rp_await_close(s, false) < 0) {
        error_setg(errp, "the destination did not confirm the migration");
        return -EIO;
    }
    return 0;
}

static void migration_finish(MigrationState *s, int cur, bool ok)
{
    migration_cpu_latency_release(&s->postcopy_cpu_latency);
    bql_lock();
    s->total_time = now_ms() - s->start_time;
    if (ok && migrate_set_state(&s->state, cur, MIGRATION_STATUS_COMPLETED)) {
        if (!s->postcopy_after_run) {
            /* (In postcopy it was measured at the switch.) */
            s->downtime = now_ms() - s->downtime_start;
        }
        qatomic_set(&s->stats.transferred,
                    qemu_file_total_transferred(s->to_dst_file));
        runstate_set(RUN_STATE_POSTMIGRATE);
    } else {
        int st = qatomic_read(&s->state);

        if (st == MIGRATION_STATUS_CANCELLING) {
            migrate_set_state(&s->state, st, MIGRATION_STATUS_CANCELLED);
        } else {
            migrate_set_state(&s->state, st, MIGRATION_STATUS_FAILED);
        }
        if (s->postcopy_after_run) {
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
    if (migrate_props()->send_switchover_start) {
        qemu_savevm_send_switchover_start(f);
    }
    ret = ram_postcopy_send_discard_bitmap(f, errp);
    if (ret < 0) {
        bql_unlock();
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
        qemu_savevm_send_packaged(f, pkg, pkg_len);
        /* From here the destination may run the VM. */
        s->postcopy_after_run = true;
        qemu_savevm_send_ping(f, 4);
        /*
         * Keep what the main channel's socket holds short.  Without a
         * preempt channel requested pages queue behind it; with one, a
         * requested page that the push has already taken is still in
         * there, and the vCPU waits for everything ahead of it.
         */
        mig_channel_set_send_queue(qemu_file_get_ioc(f), POSTCOPY_SEND_QUEUE);
        /* Requested pages now go out from the return-path thread. */
        ram_postcopy_set_direct(true, s->postcopy_qemufile_src);
        if (s->postcopy_qemufile_src) {
            /* The push only fills in: it yields the CPU to requests. */
            qemu_thread_set_class(QEMU_THREAD_BULK);
        }
        s->postcopy_cpu_latency = migration_cpu_latency_hold();
    }
    qemu_fclose(pf);
    mig_channel_unref(pkg_ioc);
    s->downtime = now_ms() - s->downtime_start;
    bql_unlock();
    if (ret < 0) {
        return ret;
    }
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
    ret = qemu_savevm_state_complete_postcopy(s->to_dst_file, errp);
    ram_postcopy_writer_unlock();
    /* After the main channel's EOF, 7.2 ends the preempt channel. */
    ram_postcopy_preempt_end();

    if (ret < 0) {
        return ret;
    }
    /* The destination sends SHUT once its listen thread saw EOF. */
    if (rp_await_close(s, false) < 0) {
        error_setg(errp, "the destination did not confirm the migration");
        return -EIO;
    }
    return 0;
}

/*
 * postcopy-preempt (7.2 protocol): the second connection, right after the
 * main one, so that the destination sees them in this order.
 */
static bool preempt_connect(MigrationState *s, Error **errp)
{
    MigChannel *ioc;
    QEMUFile *f;

    if (!postcopy_preempt_check_uri(s->uri, errp)) {
        return false;
    }
    ioc = migration_connect(s->uri, errp);
    if (!ioc) {
        error_prepend(errp, "postcopy preempt channel: ");
        return false;
    }
    f = qemu_file_new_output(ioc);
    mig_channel_unref(ioc);
    qemu_mutex_lock(&s->qemu_file_lock);
    s->postcopy_qemufile_src = f;
    if (qatomic_read(&s->state) == MIGRATION_STATUS_CANCELLING) {
        qemu_file_shutdown(f);
    }
    qemu_mutex_unlock(&s->qemu_file_lock);
    trace_postcopy_preempt_channel("connected");
    return true;
}

static bool migration_setup(MigrationState *s, Error **errp)
{
    MigChannel *ioc = migration_connect(s->uri, errp);
    QEMUFile *f;

    if (!ioc) {
        return false;
    }
    /*
     * A deep socket queue: fewer times the writer blocks and the reader
     * wakes it (the kernel caps it at net.core.wmem_max).  Postcopy
     * shortens it again at the switch.
     */
    mig_channel_set_send_queue(ioc, PRECOPY_SEND_QUEUE);
    f = qemu_file_new_output(ioc);
    mig_channel_unref(ioc);
    qemu_mutex_lock(&s->qemu_file_lock);
    s->to_dst_file = f;
    if (qatomic_read(&s->state) == MIGRATION_STATUS_CANCELLING) {
        qemu_file_shutdown(f);
    }
    qemu_mutex_unlock(&s->qemu_file_lock);
    set_file_rate_limit(s);

    if (migrate_postcopy_preempt() && !preempt_connect(s, errp)) {
        return false;
    }
    if (migrate_return_path() &&
        !rp_start(s, qemu_file_get_return_path(f), errp)) {
        return false;
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
    s->setup_time = now_ms() - s->start_time;
    if (!migrate_set_state(&s->state, MIGRATION_STATUS_SETUP,
                           MIGRATION_STATUS_ACTIVE)) {
        goto finish;            /* cancelled meanwhile */
    }
    it.start_ms = now_ms();
    it.start_bytes = qemu_file_total_transferred(s->to_dst_file);
    for (;;) {
        if (qatomic_read(&s->state) != cur) {
            break;              /* cancelling */
        }
        if (migration_iteration_run(s, &cur, &ok, &err)) {
            break;
        }
        if (qemu_file_get_error(s->to_dst_file)) {
            qemu_file_get_error_obj(s->to_dst_file, &err);
            break;
        }
        rate_limit_wait(s, &it);
    }
    if (ok && (qemu_file_get_error(s->to_dst_file) || rp_has_error(s))) {
        ok = false;
    }
    if (!ok && !err && s->to_dst_file) {
        qemu_file_get_error_obj(s->to_dst_file, &err);
    }

finish:
    if (!ok && qatomic_read(&s->state) == MIGRATION_STATUS_CANCELLING) {
        error_free(err);        /* the cancel caused it */
        err = NULL;
    }
    fail_with(s, err);
    rp_cleanup(s);
    migration_finish(s, cur, ok);
    qemu_mutex_lock(&s->qemu_file_lock);
    if (s->to_dst_file) {
        qemu_fclose(s->to_dst_file);
        s->to_dst_file = NULL;
    }
    if (s->postcopy_qemufile_src) {
        qemu_fclose(s->postcopy_qemufile_src);
        s->postcopy_qemufile_src = NULL;
    }
    qemu_mutex_unlock(&s->qemu_file_lock);
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
    s->setup_time = s->total_time = s->downtime = 0;
    s->expected_downtime = 0;
    s->threshold_size = 0;
    s->mbps = 0;
    s->pages_per_second = 0;
    qemu_mutex_lock(&s->error_mutex);
    g_clear_pointer(&s->error, error_free);
    qemu_mutex_unlock(&s->error_mutex);
    while (qemu_sem_timedwait(&s->rate_limit_sem, 0) == 0) {
        /* drain stale wake-ups */
    }
    while (qemu_sem_timedwait(&s->pause_sem, 0) == 0) {
        /* drain stale continues */
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
    s->postcopy_after_run = false;
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
    qemu_mutex_lock(&s->qemu_file_lock);
    if (s->to_dst_file) {
        qemu_file_shutdown(s->to_dst_file);
    }
    if (s->postcopy_qemufile_src) {
        qemu_file_shutdown(s->postcopy_qemufile_src);
    }
    qemu_mutex_unlock(&s->qemu_file_lock);
    qemu_sem_post(&s->rate_limit_sem);
    qemu_sem_post(&s->pause_sem);
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
