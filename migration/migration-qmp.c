/*
 * migration-qmp.c: the migration QMP commands, query-migrate, and the
 * start-up and exit of the migration subsystem.
 *
 * The top of migration/: it calls into the source (outgoing.c), the
 * destination (incoming.c) and the options; nothing below includes it.
 * In-band commands run in the main loop with the BQL; migrate-pause and
 * migrate-recover may also run out of band (see each).
 */
#include "qemu/osdep.h"
#include "migration.h"
#include "options.h"
#include "ram.h"
#include "transport.h"
#include "outgoing.h"
#include "incoming.h"
#include "postcopy-ram.h"
#include "migration/global_state.h"
#include "migration/misc.h"
#include "qapi/qmp/dispatch.h"
#include "qapi/qmp/json-writer.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "sysemu/runstate.h"
#include "exec/ramblock.h"
#include "trace.h"

/*
 * Capabilities may change only while no migration runs; a destination
 * waiting for a stream learns now, not at ADVISE, that it cannot postcopy.
 */
static bool caps_change_allowed(const bool *new_caps, Error **errp)
{
    if (!new_caps) {
        if (!migration_is_idle()) {
            error_setg(errp, "There's a migration process in progress");
            return false;
        }
        return true;
    }
    if (new_caps[MIGRATION_CAPABILITY_POSTCOPY_RAM] &&
        !migrate_postcopy_ram() && runstate_check(RUN_STATE_INMIGRATE) &&
        !postcopy_ram_supported_by_host(errp)) {
        return false;
    }
    return true;
}

static const MigrateOptionsHooks options_hooks = {
    .caps_change_allowed = caps_change_allowed,
    .params_changed = migration_parameters_changed,
};

/* ---------------- QMP ---------------- */

static char *qmp_migrate(JsonObject *args, Error **errp)
{
    MigrationState *s = migrate_get_current();
    const char *uri = qmp_arg_str(args, "uri");

    if (qmp_arg_bool(args, "resume", false)) {
        /* Recovery: paused -> postcopy-recover-setup, thread woken. */
        return migrate_resume(s, uri, errp) ? g_strdup("{}") : NULL;
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
    migrate_cancel(migrate_get_current());
    return g_strdup("{}");
}

static char *qmp_migrate_continue(JsonObject *args, Error **errp)
{
    MigrationState *s = migrate_get_current();
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
    MigrationState *s = migrate_get_current();
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

/*
 * OOB-capable, as in QEMU: may run in the monitor's I/O thread without
 * the BQL, while the main loop is stuck (e.g. on a missing page).  Source
 * first, then destination, with QEMU's messages.
 */
static char *qmp_migrate_pause(JsonObject *args, Error **errp)
{
    bool done;

    if (migrate_pause(migrate_get_current(), &done, errp) && done) {
        return g_strdup("{}");
    }
    if (done) {
        return NULL;
    }
    if (!migration_incoming_pause(errp)) {
        return NULL;
    }
    return g_strdup("{}");
}

/* OOB-capable too: the destination's way out of postcopy-paused. */
static char *qmp_migrate_recover(JsonObject *args, Error **errp)
{
    if (!migration_incoming_recover(qmp_arg_str(args, "uri"), errp)) {
        return NULL;
    }
    return g_strdup("{}");
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
    if (!migration_incoming_start(migration_incoming_get_current(), uri, errp)) {
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
    json_writer_double(w, "mbps",
                       qatomic_read(&s->bits_per_second) / 1e6);
    json_writer_uint64(w, "dirty-sync-count",
                       qatomic_read(&st->dirty_sync_count));
    json_writer_uint64(w, "postcopy-requests",
                       qatomic_read(&st->postcopy_requests));
    json_writer_uint64(w, "page-size", TARGET_PAGE_SIZE);
    json_writer_uint64(w, "multifd-bytes", qatomic_read(&st->multifd_bytes));
    json_writer_uint64(w, "pages-per-second",
                       qatomic_read(&s->pages_per_second));
    json_writer_uint64(w, "precopy-bytes", qatomic_read(&st->precopy_bytes));
    json_writer_uint64(w, "downtime-bytes",
                       qatomic_read(&st->downtime_bytes));
    json_writer_uint64(w, "postcopy-bytes",
                       qatomic_read(&st->postcopy_bytes));
    json_writer_uint64(w, "dirty-sync-missed-zero-copy", 0);
    json_writer_end_object(w);
}

/* ferry's own (x- names): postcopy recovery on the source. */
static void write_source_recovery(JSONWriter *w, MigrationState *s)
{
    uint64_t paused = qatomic_read(&s->postcopy_paused_ms);
    int64_t since = qatomic_read(&s->postcopy_paused_since);

    if (!qatomic_read(&s->postcopy_after_run)) {
        return;
    }
    if (since) {
        paused += g_get_real_time() / 1000 - since;
    }
    json_writer_uint64(w, "x-postcopy-recoveries",
                       qatomic_read(&s->postcopy_recoveries));
    json_writer_uint64(w, "x-postcopy-paused-time", paused);
    json_writer_uint64(w, "x-postcopy-pages-resent",
                       qatomic_read(&s->postcopy_pages_resent));
    json_writer_uint64(w, "x-postcopy-pages-missing",
                       qatomic_read(&s->postcopy_pages_missing));
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
        json_writer_int64(w, "total-time", qatomic_read(&s->total_time));
        json_writer_int64(w, "downtime", qatomic_read(&s->downtime));
        json_writer_int64(w, "setup-time", qatomic_read(&s->setup_time));
        write_source_recovery(w, s);
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
        json_writer_int64(w, "expected-downtime",
                          qatomic_read(&s->expected_downtime));
        json_writer_int64(w, "setup-time", qatomic_read(&s->setup_time));
        write_source_recovery(w, s);
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
        qemu_mutex_lock(&mis->error_lock);
        if (st == MIGRATION_STATUS_FAILED && mis->error) {
            json_writer_str(w, "error-desc", error_get_pretty(mis->error));
        }
        qemu_mutex_unlock(&mis->error_lock);
        postcopy_write_stats(mis->postcopy, st, w);
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
    write_source_info(w, migrate_get_current());
    write_incoming_info(w, migration_incoming_get_current());
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
    migration_state_init();
    migrate_options_init(&options_hooks);
    ram_mig_init();
    register_global_state();
    qmp_register_commands(migration_commands);
}

void migration_shutdown(void)
{
    MigrationState *s = migrate_get_current();

    /* At exit: stop an outgoing migration, then the incoming side. */
    if (s && migration_is_running()) {
        migrate_cancel(s);
        migrate_wait_thread(s);
    }
    migration_incoming_shutdown();
}
