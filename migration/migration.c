/*
 * migration.c: the migration status machine, the two migration states
 * and their errors.  (QMP and start-up: migration-qmp.c.)
 *
 * Status machine (source and destination share the table):
 *
 *   none ──> setup ──> active ──> completed
 *     │        │         │  ├──> pre-switchover ──> device ──> completed
 *     │        │         │  ├──> device ─────────────┘
 *     │        │         │  └──> postcopy-active ──> completed
 *     │        │         │            │    ^
 *     │        │         │            v    │ (RESUME_ACK / RESUME)
 *     │        │         │      postcopy-paused <──────── postcopy-recover
 *     │        │         │         │   ^    │                ^
 *     │        │         │         │   │    └─ (dst) ────────┤
 *     │        │         │         v   │ (connect failed)    │
 *     │        │         │   postcopy-recover-setup ─(src)───┘
 *     │        └─────────┴──> cancelling ──> cancelled
 *     │                              └──> completed  (the destination
 *     │                                   confirmed first: too late)
 *     └──> active (destination)        (and any running state ──> failed)
 *   completed / failed / cancelled ──> setup   (the next migration)
 *
 * The recovery (spec §10): the source goes paused -> recover-setup while
 * it connects (QEMU 9.1's status; back to paused if it cannot), then
 * recover for the handshake; the destination goes paused -> recover when
 * the new connection arrives.  Both return to postcopy-active, or to
 * paused if the handshake breaks, as often as needed.
 *
 * Every change goes through migrate_set_state(): it checks the table,
 * swaps the status atomically (the migration threads and QMP race on
 * it), traces it and emits the MIGRATION event.
 */
#include "qemu/osdep.h"
#include "migration.h"
#include "options.h"
#include "qapi/qmp-event.h"
#include "qemu/atomic.h"
#include "qemu/cpu-latency.h"
#include "return-path.h"
#include "trace.h"

static const char *const status_names[MIGRATION_STATUS__MAX] = {
    "none", "setup", "cancelling", "cancelled", "active", "postcopy-active",
    "postcopy-paused", "postcopy-recover", "completed", "failed", "colo",
    "pre-switchover", "device", "wait-unplug", "postcopy-recover-setup",
};

#define S(x) (1u << MIGRATION_STATUS_##x)
static const uint32_t status_next[MIGRATION_STATUS__MAX] = {
    [MIGRATION_STATUS_NONE] = S(SETUP) | S(ACTIVE) | S(FAILED),
    [MIGRATION_STATUS_SETUP] = S(ACTIVE) | S(FAILED) | S(CANCELLING) |
                               S(WAIT_UNPLUG),
    [MIGRATION_STATUS_WAIT_UNPLUG] = S(ACTIVE) | S(FAILED) | S(CANCELLING),
    [MIGRATION_STATUS_ACTIVE] = S(COMPLETED) | S(FAILED) | S(CANCELLING) |
                                S(PRE_SWITCHOVER) | S(DEVICE) |
                                S(POSTCOPY_ACTIVE),
    [MIGRATION_STATUS_PRE_SWITCHOVER] = S(DEVICE) | S(POSTCOPY_ACTIVE) |
                                        S(FAILED) | S(CANCELLING),
    [MIGRATION_STATUS_DEVICE] = S(COMPLETED) | S(FAILED) | S(CANCELLING),
    [MIGRATION_STATUS_POSTCOPY_ACTIVE] = S(COMPLETED) | S(FAILED) |
                                         S(CANCELLING) | S(POSTCOPY_PAUSED),
    [MIGRATION_STATUS_POSTCOPY_PAUSED] = S(POSTCOPY_RECOVER_SETUP) |
                                         S(POSTCOPY_RECOVER) | S(FAILED) |
                                         S(CANCELLING),
    [MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP] = S(POSTCOPY_RECOVER) |
                                                S(POSTCOPY_PAUSED) |
                                                S(FAILED) | S(CANCELLING),
    [MIGRATION_STATUS_POSTCOPY_RECOVER] = S(POSTCOPY_ACTIVE) |
                                          S(POSTCOPY_PAUSED) | S(FAILED) |
                                          S(CANCELLING),
    [MIGRATION_STATUS_CANCELLING] = S(CANCELLED) | S(FAILED) | S(COMPLETED),
    [MIGRATION_STATUS_COMPLETED] = S(SETUP),
    [MIGRATION_STATUS_FAILED] = S(SETUP),
    [MIGRATION_STATUS_CANCELLED] = S(SETUP),
};
#undef S

static MigrationState *current_migration;
static MigrationIncomingState *current_incoming;

const char *MigrationStatus_str(MigrationStatus s)
{
    return s < MIGRATION_STATUS__MAX ? status_names[s] : "invalid";
}

MigrationState *migrate_get_current(void)
{
    return current_migration;
}

MigrationIncomingState *migration_incoming_get_current(void)
{
    return current_incoming;
}

bool migration_transition_valid(MigrationStatus old, MigrationStatus new)
{
    return old < MIGRATION_STATUS__MAX && (status_next[old] & (1u << new));
}

static void migration_event(MigrationStatus st)
{
    if (migrate_events()) {
        g_autofree char *data = g_strdup_printf("{\"status\": \"%s\"}",
                                                MigrationStatus_str(st));
        qapi_event_send("MIGRATION", data);
    }
}

bool migrate_set_state(int *state, MigrationStatus old, MigrationStatus new)
{
    if (!migration_transition_valid(old, new)) {
        trace_migrate_set_state_invalid(MigrationStatus_str(old),
                                        MigrationStatus_str(new));
        return false;
    }
    if (qatomic_cmpxchg(state, (int)old, (int)new) != (int)old) {
        return false;
    }
    trace_migrate_set_state(MigrationStatus_str(old),
                            MigrationStatus_str(new));
    migration_event(new);
    return true;
}

static bool status_is_running(int st)
{
    switch (st) {
    case MIGRATION_STATUS_SETUP:
    case MIGRATION_STATUS_ACTIVE:
    case MIGRATION_STATUS_POSTCOPY_ACTIVE:
    case MIGRATION_STATUS_POSTCOPY_PAUSED:
    case MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP:
    case MIGRATION_STATUS_POSTCOPY_RECOVER:
    case MIGRATION_STATUS_CANCELLING:
    case MIGRATION_STATUS_PRE_SWITCHOVER:
    case MIGRATION_STATUS_DEVICE:
    case MIGRATION_STATUS_WAIT_UNPLUG:
        return true;
    default:
        return false;
    }
}

bool migration_status_cancellable(int st)
{
    return status_is_running(st) && st != MIGRATION_STATUS_CANCELLING;
}

bool migration_is_running(void)
{
    return status_is_running(qatomic_read(&current_migration->state));
}

bool migration_in_postcopy(void)
{
    int st = qatomic_read(&current_migration->state);

    return st == MIGRATION_STATUS_POSTCOPY_ACTIVE ||
           st == MIGRATION_STATUS_POSTCOPY_PAUSED ||
           st == MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP ||
           st == MIGRATION_STATUS_POSTCOPY_RECOVER;
}

int migration_cpu_latency_hold(void)
{
    int us = migrate_props()->postcopy_cpu_latency;
    Error *err = NULL;
    int handle;

    if (us < 0) {
        return -1;
    }
    handle = qemu_cpu_latency_request(us, &err);
    if (handle < 0) {
        error_prepend(&err, "x-postcopy-cpu-latency: ");
        error_append_hint(&err, "Postcopy goes on without it.\n");
        warn_report_err(err);
    }
    return handle;
}

void migration_cpu_latency_release(int *handle)
{
    qemu_cpu_latency_release(*handle);
    *handle = -1;
}

bool migration_is_idle(void)
{
    return !migration_is_running() &&
           !status_is_running(qatomic_read(&current_incoming->state));
}

void migrate_set_error_class(MigrationState *s, const Error *error, bool io)
{
    QEMU_LOCK_GUARD(&s->error_mutex);
    if (!s->error) {
        s->error = error_copy(error);
        s->error_io = io;
        trace_migrate_set_error(io, error_get_pretty(error));
    }
}

void migrate_set_error(MigrationState *s, const Error *error)
{
    migrate_set_error_class(s, error, false);
}

bool migrate_error_is_io(MigrationState *s)
{
    QEMU_LOCK_GUARD(&s->error_mutex);
    return s->error && s->error_io;
}

void migrate_clear_error(MigrationState *s)
{
    QEMU_LOCK_GUARD(&s->error_mutex);
    g_clear_pointer(&s->error, error_free);
    s->error_io = false;
}

void migration_incoming_set_error(MigrationIncomingState *mis, Error *err)
{
    QEMU_LOCK_GUARD(&mis->error_lock);
    error_free(mis->error);
    mis->error = err;
}

void migration_incoming_close_channels(MigrationIncomingState *mis)
{
    QEMUFile *main, *preempt;

    rp_writer_detach(mis->rp);
    qemu_mutex_lock(&mis->channel_lock);
    main = mis->from_src_file;
    preempt = mis->preempt_file;
    mis->from_src_file = NULL;
    mis->preempt_file = NULL;
    mis->accepts_preempt = false;
    qemu_mutex_unlock(&mis->channel_lock);
    if (main) {
        qemu_fclose(main);
    }
    if (preempt) {
        qemu_fclose(preempt);
    }
}

void migration_state_init(void)
{
    MigrationState *s = g_new0(MigrationState, 1);
    MigrationIncomingState *mis = g_new0(MigrationIncomingState, 1);

    qemu_mutex_init(&s->qemu_file_lock);
    qemu_mutex_init(&s->error_mutex);
    qemu_sem_init(&s->rate_limit_sem, 0);
    qemu_sem_init(&s->pause_sem, 0);
    qemu_sem_init(&s->postcopy_pause_sem, 0);
    qemu_mutex_init(&s->rp_lock);
    qemu_cond_init(&s->rp_cond);
    s->rp_bitmap_blocks = g_hash_table_new(NULL, NULL);
    s->postcopy_cpu_latency = -1;
    current_migration = s;

    qemu_mutex_init(&mis->channel_lock);
    qemu_mutex_init(&mis->oob_lock);
    qemu_mutex_init(&mis->error_lock);
    qemu_mutex_init(&mis->loadvm_lock);
    mis->loadvm_by_id = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    mis->loadvm_by_se = g_hash_table_new(NULL, NULL);
    mis->rp = rp_writer_new();
    current_incoming = mis;
}

void migration_parameters_changed(void)
{
    MigrationState *s = current_migration;

    /* A running migration picks up the new bandwidth at once. */
    if (migration_is_running()) {
        qemu_sem_post(&s->rate_limit_sem);
    }
}

