/*
 * migration.c: migration status machine, QMP commands and query-migrate.
 *
 * Status machine (source and destination share the table):
 *
 *   none ──> setup ──> active ──> completed
 *     │        │         │  ├──> pre-switchover ──> device ──> completed
 *     │        │         │  ├──> device ─────────────┘
 *     │        │         │  └──> postcopy-active ──> completed
 *     │        │         │            ├──> postcopy-paused <──> postcopy-recover
 *     │        └─────────┴────────────┴──> cancelling ──> cancelled
 *     └──> active (destination)        (and any running state ──> failed)
 *   completed / failed / cancelled ──> setup   (the next migration)
 *
 * Every change goes through migrate_set_state(): it checks the table,
 * swaps the status atomically (the migration threads and QMP race on
 * it), traces it and emits the MIGRATION event.
 */
#include "qemu/osdep.h"
#include "migration.h"
#include "options.h"
#include "ram.h"
#include "savevm.h"
#include "transport.h"
#include "outgoing.h"
#include "incoming.h"
#include "postcopy-ram.h"
#include "migration/global_state.h"
#include "qapi/qmp/dispatch.h"
#include "qapi/qmp/json-writer.h"
#include "qapi/qmp-event.h"
#include "qemu/atomic.h"
#include "qemu/cpu-latency.h"
#include "qemu/main-loop.h"
#include "sysemu/runstate.h"
#include "exec/ramblock.h"
#include "trace.h"

static const char *const status_names[MIGRATION_STATUS__MAX] = {
    "none", "setup", "cancelling", "cancelled", "active", "postcopy-active",
    "postcopy-paused", "postcopy-recover", "completed", "failed", "colo",
    "pre-switchover", "device", "wait-unplug",
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
    [MIGRATION_STATUS_POSTCOPY_PAUSED] = S(POSTCOPY_RECOVER) | S(FAILED) |
                                         S(CANCELLING),
    [MIGRATION_STATUS_POSTCOPY_RECOVER] = S(POSTCOPY_ACTIVE) |
                                          S(POSTCOPY_PAUSED) | S(FAILED),
    [MIGRATION_STATUS_CANCELLING] = S(CANCELLED) | S(FAILED),
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

void migrate_set_error(MigrationState *s, const Error *error)
{
    QEMU_LOCK_GUARD(&s->error_mutex);
    if (!s->error) {
        s->error = error_copy(error);
    }
}

void migration_parameters_changed(void)
{
    MigrationState *s = current_migration;

    /* A running migration picks up the new bandwidth at once. */
    if (migration_is_running()) {
        qemu_sem_post(&s->rate_limit_sem);
    }
}

bool migration_caps_check_incoming(const bool *new_caps, Error **errp)
{
    Error *err = NULL;

    /* A destination learns now, not at ADVISE, that it cannot postcopy. */
    if (new_caps[MIGRATION_CAPABILITY_POSTCOPY_RAM] &&
        !migrate_postcopy_ram() && runstate_check(RUN_STATE_INMIGRATE) &&
        !postcopy_ram_supported_by_host(current_incoming, &err)) {
        error_propagate(errp, err);
        return false;
    }
    return true;
}

/* ---------------- QMP ---------------- */

static char *qmp_migrate(JsonObject *args, Error **errp)
{
    MigrationState *s = current_migration;
    const char *uri = qmp_arg_str(args, "uri");

    if (qmp_arg_bool(args, "resume", false)) {
        error_setg(errp, "Cannot resume if there is no paused migration");
        return NULL;
    }
    if (migration_is_running()) {
        error_setg(errp, "There's a migration process in progress");
        return NULL;
    }
    if (runstate_check(RUN_STATE_INMIGRATE)) {
        error_setg(errp, "Guest is waiting for an incoming migration");
        return NULL;
    }
    if (runstate_check(RUN_STATE_POSTMIGRATE)) {
        error_setg(errp, "Can't migrate the vm that was paused due to "
                   "previous migration");
        return NULL;
    }
    if (qmp_arg_bool(args, "blk", false) || qmp_arg_bool(args, "inc", false)) {
        error_setg(errp, "Block migration needs block devices, which ferry "
                   "does not have");
        return NULL;
    }
    if (!migrate_start(s, uri, errp)) {
        return NULL;
    }
    return g_strdup("{}");
}

static char *qmp_migrate_cancel(JsonObject *args, Error **errp)
{
    migrate_cancel(current_migration);
    return g_strdup("{}");
}

static char *qmp_migrate_continue(JsonObject *args, Error **errp)
{
    MigrationState *s = current_migration;
    const char *want = qmp_arg_str(args, "state");
    int st = qatomic_read(&s->state);

    if (strcmp(want, MigrationStatus_str(st)) != 0) {
        error_setg(errp, "Migration not in expected state: %s",
                   MigrationStatus_str(st));
        return NULL;
    }
    qemu_sem_post(&s->pause_sem);
    return g_strdup("{}");
}

/*
 * Only sets a flag: the migration thread switches at its next turn.  As in
 * QEMU it is accepted in setup too, and is no error once it finished.
 */
static char *qmp_migrate_start_postcopy(JsonObject *args, Error **errp)
{
    MigrationState *s = current_migration;
    int st = qatomic_read(&s->state);

    if (!migrate_postcopy_ram()) {
        error_setg(errp, "Enable postcopy with migrate_set_capability before"
                   " the start of migration");
        return NULL;
    }
    if (st == MIGRATION_STATUS_NONE) {
        error_setg(errp, "Postcopy must be started after migration has been "
                   "started");
        return NULL;
    }
    trace_migrate_start_postcopy(MigrationStatus_str(st));
    qatomic_set(&s->start_postcopy, 1);
    qemu_sem_post(&s->rate_limit_sem);
    return g_strdup("{}");
}

static char *qmp_migrate_pause(JsonObject *args, Error **errp)
{
    error_setg(errp, "migrate-pause is currently only supported during "
               "postcopy-active state");
    return NULL;
}

static char *qmp_migrate_recover(JsonObject *args, Error **errp)
{
    error_setg(errp, "Migrate recover can only be run when postcopy is "
               "paused.");
    return NULL;
}

static char *qmp_migrate_incoming(JsonObject *args, Error **errp)
{
    const char *uri = qmp_arg_str(args, "uri");
    static bool once = true;

    if (!once) {
        error_setg(errp, "The incoming migration has already been started");
        return NULL;
    }
    if (!migration_incoming_deferred()) {
        error_setg(errp, "'-incoming' was not specified on the command line");
        return NULL;
    }
    if (!migration_incoming_start(current_incoming, uri, errp)) {
        return NULL;
    }
    once = false;
    return g_strdup("{}");
}

/* ---- query-migrate ---- */

static void write_ram_stats(JSONWriter *w, MigrationState *s)
{
    MigrationStats *st = &s->stats;
    uint64_t normal = qatomic_read(&st->normal);

    /* QAPI MigrationStats order (the writer prints QEMU's order). */
    json_writer_start_object(w, "ram");
    json_writer_uint64(w, "transferred", qatomic_read(&st->transferred));
    json_writer_uint64(w, "remaining", ram_bytes_remaining());
    json_writer_uint64(w, "total", ram_bytes_total());
    json_writer_uint64(w, "duplicate", qatomic_read(&st->duplicate));
    json_writer_uint64(w, "skipped", 0);
    json_writer_uint64(w, "normal", normal);
    json_writer_uint64(w, "normal-bytes", normal * TARGET_PAGE_SIZE);
    json_writer_uint64(w, "dirty-pages-rate", ram_dirty_pages_rate());
    json_writer_double(w, "mbps", s->mbps);
    json_writer_uint64(w, "dirty-sync-count",
                       qatomic_read(&st->dirty_sync_count));
    json_writer_uint64(w, "postcopy-requests",
                       qatomic_read(&st->postcopy_requests));
    json_writer_uint64(w, "page-size", TARGET_PAGE_SIZE);
    json_writer_uint64(w, "multifd-bytes", 0);
    json_writer_uint64(w, "pages-per-second", s->pages_per_second);
    json_writer_uint64(w, "precopy-bytes", qatomic_read(&st->precopy_bytes));
    json_writer_uint64(w, "downtime-bytes",
                       qatomic_read(&st->downtime_bytes));
    json_writer_uint64(w, "postcopy-bytes",
                       qatomic_read(&st->postcopy_bytes));
    json_writer_uint64(w, "dirty-sync-missed-zero-copy", 0);
    json_writer_end_object(w);
}

static void write_source_info(JSONWriter *w, MigrationState *s)
{
    int st = qatomic_read(&s->state);
    int64_t now = g_get_real_time() / 1000;

    switch (st) {
    case MIGRATION_STATUS_NONE:
        return;
    case MIGRATION_STATUS_SETUP:
        json_writer_str(w, "status", MigrationStatus_str(st));
        return;
    case MIGRATION_STATUS_COMPLETED:
        json_writer_str(w, "status", MigrationStatus_str(st));
        write_ram_stats(w, s);
        json_writer_int64(w, "total-time", s->total_time);
        json_writer_int64(w, "downtime", s->downtime);
        json_writer_int64(w, "setup-time", s->setup_time);
        return;
    case MIGRATION_STATUS_FAILED:
        json_writer_str(w, "status", MigrationStatus_str(st));
        qemu_mutex_lock(&s->error_mutex);
        if (s->error) {
            json_writer_str(w, "error-desc", error_get_pretty(s->error));
        }
        qemu_mutex_unlock(&s->error_mutex);
        return;
    case MIGRATION_STATUS_CANCELLED:
    case MIGRATION_STATUS_COLO:
    case MIGRATION_STATUS_WAIT_UNPLUG:
        json_writer_str(w, "status", MigrationStatus_str(st));
        return;
    default:
        json_writer_str(w, "status", MigrationStatus_str(st));
        write_ram_stats(w, s);
        json_writer_int64(w, "total-time", now - s->start_time);
        json_writer_int64(w, "expected-downtime", s->expected_downtime);
        json_writer_int64(w, "setup-time", s->setup_time);
        return;
    }
}

/* The destination's part: socket addresses while listening, status. */
static void write_incoming_info(JSONWriter *w, MigrationIncomingState *mis)
{
    int st = qatomic_read(&mis->state);
    g_autofree char *addr = migration_incoming_address();

    if (st != MIGRATION_STATUS_NONE) {
        json_writer_str(w, "status", MigrationStatus_str(st));
        if (st == MIGRATION_STATUS_FAILED && mis->error) {
            json_writer_str(w, "error-desc", error_get_pretty(mis->error));
        }
        postcopy_write_stats(mis, w);
    }
    if (addr && g_str_has_prefix(addr, "tcp:")) {
        const char *hp = addr + 4;
        const char *colon = strrchr(hp, ':');
        g_autofree char *host = g_strndup(hp, colon - hp);
        bool v6 = hp[0] == '[';

        if (v6) {
            g_free(host);
            host = g_strndup(hp + 1, colon - hp - 2);
        }
        json_writer_start_list(w, "socket-address");
        json_writer_start_object(w, NULL);
        json_writer_str(w, "type", "inet");
        json_writer_str(w, "host", host);
        json_writer_str(w, "port", colon + 1);
        json_writer_bool(w, v6 ? "ipv6" : "ipv4", true);
        json_writer_end_object(w);
        json_writer_end_list(w);
    } else if (addr && g_str_has_prefix(addr, "unix:")) {
        json_writer_start_list(w, "socket-address");
        json_writer_start_object(w, NULL);
        json_writer_str(w, "type", "unix");
        json_writer_str(w, "path", addr + 5);
        json_writer_end_object(w);
        json_writer_end_list(w);
    }
}

/* As QEMU: the source's part, then the destination's (one is empty). */
static char *qmp_query_migrate(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_object(w, NULL);
    write_source_info(w, current_migration);
    write_incoming_info(w, current_incoming);
    json_writer_end_object(w);
    return json_writer_finish(w);
}

static const QmpArgSpec migrate_args[] = {
    { "uri", QMP_ARG_STR, false },
    { "blk", QMP_ARG_BOOL, true },
    { "inc", QMP_ARG_BOOL, true },
    { "detach", QMP_ARG_BOOL, true },
    { "resume", QMP_ARG_BOOL, true },
    { NULL }
};
static const QmpArgSpec uri_args[] = {
    { "uri", QMP_ARG_STR, false },
    { NULL }
};
static const QmpArgSpec continue_args[] = {
    { "state", QMP_ARG_STR, false },
    { NULL }
};

static const QmpCommand migration_commands[] = {
    { "migrate", qmp_migrate, migrate_args, 0 },
    { "migrate-incoming", qmp_migrate_incoming, uri_args, 0 },
    { "migrate_cancel", qmp_migrate_cancel, NULL, 0 },
    { "migrate-continue", qmp_migrate_continue, continue_args, 0 },
    { "migrate-start-postcopy", qmp_migrate_start_postcopy, NULL, 0 },
    { "migrate-pause", qmp_migrate_pause, NULL, QCO_ALLOW_OOB },
    { "migrate-recover", qmp_migrate_recover, uri_args, QCO_ALLOW_OOB },
    { "query-migrate", qmp_query_migrate, NULL, 0 },
    { "migrate-set-capabilities", qmp_migrate_set_capabilities,
      qmp_migrate_set_capabilities_args, 0 },
    { "query-migrate-capabilities", qmp_query_migrate_capabilities, NULL, 0 },
    { "migrate-set-parameters", qmp_migrate_set_parameters,
      qmp_migrate_set_parameters_args, 0 },
    { "query-migrate-parameters", qmp_query_migrate_parameters, NULL, 0 },
    { NULL }
};

void migration_init(void)
{
    MigrationState *s = g_new0(MigrationState, 1);
    MigrationIncomingState *mis = g_new0(MigrationIncomingState, 1);

    migrate_options_init();
    qemu_mutex_init(&s->qemu_file_lock);
    qemu_mutex_init(&s->error_mutex);
    qemu_sem_init(&s->rate_limit_sem, 0);
    qemu_sem_init(&s->pause_sem, 0);
    current_migration = s;

    qemu_mutex_init(&mis->rp_mutex);
    qemu_mutex_init(&mis->loadvm_lock);
    qemu_event_init(&mis->load_done, false);
    mis->loadvm_handlers = g_ptr_array_new_with_free_func(g_free);
    mis->listen_fd = -1;
    current_incoming = mis;

    ram_mig_init();
    register_global_state();
    qmp_register_commands(migration_commands);
}

void migration_shutdown(void)
{
    /* At exit: stop an outgoing migration, stop listening. */
    if (current_migration && migration_is_running()) {
        migrate_cancel(current_migration);
        migrate_wait_thread(current_migration);
    }
    migration_incoming_unlisten();
    migration_incoming_shutdown();
}
