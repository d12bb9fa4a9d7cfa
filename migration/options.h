/*
 * options.h: migration capabilities, parameters and properties.
 *
 * Capabilities and parameters are set over QMP (migrate-set-capabilities,
 * migrate-set-parameters) in the main thread under the BQL and read by the
 * migration threads while a migration runs.  Capabilities cannot change
 * during a migration; parameters that may (bandwidths, downtime limit)
 * are read atomically.  Properties are -global migration.NAME=VALUE
 * settings fixed at start-up.
 */
#ifndef MIGRATION_OPTIONS_H
#define MIGRATION_OPTIONS_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <json-glib/json-glib.h>
#include "qapi/qmp/dispatch.h"

/* QEMU 7.2's MigrationCapability, in its order. */
typedef enum MigrationCapability {
    MIGRATION_CAPABILITY_XBZRLE,
    MIGRATION_CAPABILITY_RDMA_PIN_ALL,
    MIGRATION_CAPABILITY_AUTO_CONVERGE,
    MIGRATION_CAPABILITY_ZERO_BLOCKS,
    MIGRATION_CAPABILITY_COMPRESS,
    MIGRATION_CAPABILITY_EVENTS,
    MIGRATION_CAPABILITY_POSTCOPY_RAM,
    MIGRATION_CAPABILITY_X_COLO,
    MIGRATION_CAPABILITY_RELEASE_RAM,
    MIGRATION_CAPABILITY_BLOCK,
    MIGRATION_CAPABILITY_RETURN_PATH,
    MIGRATION_CAPABILITY_PAUSE_BEFORE_SWITCHOVER,
    MIGRATION_CAPABILITY_MULTIFD,
    MIGRATION_CAPABILITY_DIRTY_BITMAPS,
    MIGRATION_CAPABILITY_POSTCOPY_BLOCKTIME,
    MIGRATION_CAPABILITY_LATE_BLOCK_ACTIVATE,
    MIGRATION_CAPABILITY_X_IGNORE_SHARED,
    MIGRATION_CAPABILITY_VALIDATE_UUID,
    MIGRATION_CAPABILITY_BACKGROUND_SNAPSHOT,
    MIGRATION_CAPABILITY_ZERO_COPY_SEND,
    MIGRATION_CAPABILITY_POSTCOPY_PREEMPT,
    MIGRATION_CAPABILITY__MAX
} MigrationCapability;

const char *MigrationCapability_str(MigrationCapability cap);
MigrationCapability MigrationCapability_parse(const char *name);

/* The parameters ferry acts on (all of 7.2's are reported). */
typedef struct MigrationParameters {
    uint64_t announce_initial, announce_max, announce_rounds, announce_step;
    int64_t compress_level, compress_threads, decompress_threads;
    bool compress_wait_thread;
    int64_t throttle_trigger_threshold;
    int64_t cpu_throttle_initial, cpu_throttle_increment;
    bool cpu_throttle_tailslow;
    char *tls_creds, *tls_hostname, *tls_authz;
    uint64_t max_bandwidth;             /* bytes/s; 0 = unlimited */
    uint64_t downtime_limit;            /* ms */
    int64_t x_checkpoint_delay;
    bool block_incremental;
    int64_t multifd_channels;
    uint64_t xbzrle_cache_size;
    uint64_t max_postcopy_bandwidth;    /* bytes/s; 0 = unlimited */
    int64_t max_cpu_throttle;
    char *multifd_compression;
    int64_t multifd_zlib_level, multifd_zstd_level;
} MigrationParameters;

/* -global migration.NAME=VALUE, QEMU's MigrationState properties. */
typedef struct MigrationProperties {
    bool store_global_state;        /* default on */
    bool send_configuration;        /* default on */
    bool send_section_footer;       /* default on */
    bool send_switchover_start;     /* 10.x command; default off (7.2) */
    bool preempt_pre_7_2;           /* x-preempt-pre-7-2; default on */
    /*
     * ferry's own: x-postcopy-cpu-latency, the CPU wake-up latency in us
     * requested from the kernel while postcopy runs; -1 (default) asks
     * nothing.  See migration_cpu_latency_hold().
     */
    int postcopy_cpu_latency;
    /*
     * ferry's own: x-link-timeout, in ms (0: off).  A peer that neither
     * sends nor takes anything for this long is gone: every wait on a
     * peer has this deadline (docs/system/migration.rst).
     */
    int64_t link_timeout_ms;
    /*
     * multifd's barrier at the end of every RAM section (QEMU 7.2; the
     * default), or a MULTIFD_FLUSH record instead (off: what an 8.1+
     * destination without this property set expects).
     */
    bool multifd_flush_after_each_section;
} MigrationProperties;

/*
 * What the options need from the migration layer above them (options.c
 * does not depend on it): whether capabilities may change now, and a
 * nudge when a parameter changed.
 */
typedef struct MigrateOptionsHooks {
    bool (*caps_change_allowed)(const bool *new_caps, Error **errp);
    void (*params_changed)(void);
} MigrateOptionsHooks;

void migrate_options_init(const MigrateOptionsHooks *hooks);
/* Parses one -global migration.NAME=VALUE. */
bool migrate_set_global_property(const char *name, const char *value,
                                 Error **errp);

bool migrate_cap_enabled(MigrationCapability cap);
bool migrate_events(void);
bool migrate_postcopy_ram(void);
bool migrate_return_path(void);     /* return-path or postcopy-ram */
bool migrate_validate_uuid(void);
bool migrate_pause_before_switchover(void);
bool migrate_postcopy_blocktime(void);
bool migrate_postcopy_preempt(void);
bool migrate_multifd(void);
int migrate_multifd_channels(void);
char *migrate_multifd_compression(void);    /* a copy */
int migrate_multifd_level(const char *method);
uint64_t migrate_max_bandwidth(void);
uint64_t migrate_max_postcopy_bandwidth(void);
uint64_t migrate_downtime_limit(void);
/*
 * tls-creds and tls-hostname, or NULL when empty; tls-authz, or NULL when
 * never set (set to "", it names the empty id).  Copies; any thread.
 */
char *migrate_tls_creds(void);
char *migrate_tls_hostname(void);
char *migrate_tls_authz(void);
/* x-link-timeout in ms, 0 when off. */
int64_t migrate_link_timeout(void);
const MigrationProperties *migrate_props(void);

/* QMP handlers (registered by migration.c). */
char *qmp_migrate_set_capabilities(JsonObject *args, Error **errp);
char *qmp_query_migrate_capabilities(JsonObject *args, Error **errp);
char *qmp_migrate_set_parameters(JsonObject *args, Error **errp);
char *qmp_query_migrate_parameters(JsonObject *args, Error **errp);
extern const QmpArgSpec qmp_migrate_set_capabilities_args[];
extern const QmpArgSpec qmp_migrate_set_parameters_args[];

#endif
