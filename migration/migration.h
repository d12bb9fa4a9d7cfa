/*
 * migration.h: the state of outgoing and incoming migrations.
 *
 * MigrationState (source) and MigrationIncomingState (destination) are
 * the two process-wide singletons QEMU's API has (migrate_get_current(),
 * migration_incoming_get_current()).  Their status fields change only
 * through migrate_set_state(), which checks the transition against the
 * table in migration.c, swaps atomically, traces and emits MIGRATION.
 */
#ifndef MIGRATION_MIGRATION_H
#define MIGRATION_MIGRATION_H

#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "qapi/error.h"
#include "sysemu/runstate.h"
#include "options.h"
#include "qemu-file.h"

/* QEMU 7.2's MigrationStatus, in QAPI order. */
typedef enum MigrationStatus {
    MIGRATION_STATUS_NONE,
    MIGRATION_STATUS_SETUP,
    MIGRATION_STATUS_CANCELLING,
    MIGRATION_STATUS_CANCELLED,
    MIGRATION_STATUS_ACTIVE,
    MIGRATION_STATUS_POSTCOPY_ACTIVE,
    MIGRATION_STATUS_POSTCOPY_PAUSED,
    MIGRATION_STATUS_POSTCOPY_RECOVER,
    MIGRATION_STATUS_COMPLETED,
    MIGRATION_STATUS_FAILED,
    MIGRATION_STATUS_COLO,
    MIGRATION_STATUS_PRE_SWITCHOVER,
    MIGRATION_STATUS_DEVICE,
    MIGRATION_STATUS_WAIT_UNPLUG,
    MIGRATION_STATUS__MAX
} MigrationStatus;

const char *MigrationStatus_str(MigrationStatus s);

/* Byte and page counters of the source (atomics; any thread). */
typedef struct MigrationStats {
    uint64_t transferred;           /* bytes on the main channel */
    uint64_t duplicate;             /* zero pages sent as ZERO records */
    uint64_t normal;                /* pages sent whole */
    uint64_t precopy_bytes;         /* while the VM ran */
    uint64_t downtime_bytes;        /* while it was stopped */
    uint64_t postcopy_bytes;        /* after the postcopy switch */
    uint64_t dirty_sync_count;
    uint64_t postcopy_requests;
    uint64_t dirty_pages_rate;
    uint64_t remaining;             /* bytes still dirty */
} MigrationStats;

typedef struct ReturnPathState ReturnPathState;

typedef struct MigrationState {
    int state;                      /* MigrationStatus, atomic */
    QemuThread thread;
    bool thread_created;            /* main thread, BQL */
    unsigned thread_gen;            /* which thread a reap is for */
    char *uri;
    QEMUFile *to_dst_file;          /* migration thread */
    /* postcopy-preempt: the second channel (migration thread opens it). */
    QEMUFile *postcopy_qemufile_src;
    QemuMutex qemu_file_lock;       /* protects to_dst_file for cancel */
    ReturnPathState *rp;
    Error *error;                   /* first error; protected by error_mutex */
    QemuMutex error_mutex;
    RunState vm_old_state;          /* to restore after failure */
    bool vm_was_running;
    QemuSemaphore rate_limit_sem;   /* wakes the thread early */
    int start_postcopy;             /* atomic: migrate-start-postcopy */
    bool postcopy_after_run;        /* migration thread: RUN was sent */
    int postcopy_cpu_latency;       /* migration thread: PM QoS handle */
    QemuSemaphore pause_sem;        /* migrate-continue */
    int64_t start_time;             /* ms, realtime */
    int64_t setup_time;             /* ms */
    int64_t total_time;             /* ms, set at completion */
    int64_t downtime_start;         /* ms */
    int64_t downtime;               /* ms */
    int64_t expected_downtime;      /* ms */
    uint64_t threshold_size;        /* bytes that fit in the downtime */
    double mbps;
    uint64_t pages_per_second;
    MigrationStats stats;
} MigrationState;

typedef struct MigrationIncomingState {
    int state;                      /* MigrationStatus, atomic */
    QEMUFile *from_src_file;
    QEMUFile *to_src_file;          /* return path writer */
    QemuMutex rp_mutex;             /* serialises return-path messages */
    QemuThread thread;              /* the incoming (load) thread */
    bool thread_created;
    int listen_fd;                  /* listening socket, or -1 */
    GSource *listen_src;
    char *uri;
    Error *error;
    bool have_listen_thread;        /* main thread */
    QemuThread listen_thread;
    Error *package_error;           /* set before load_done */
    /*
     * Loader bookkeeping (loadvm.c).  In postcopy the incoming thread
     * (loading the package) and the listen thread (loading RAM) both use
     * it: loadvm_lock protects the list.
     */
    QemuMutex loadvm_lock;
    GPtrArray *loadvm_handlers;     /* LoadStateEntry * */
    /* Postcopy, destination (postcopy-ram.c); NULL until ADVISE. */
    struct PostcopyIncoming *postcopy;
    bool in_package;                /* incoming thread: loading PACKAGED */
    /* Set when the incoming thread is done with the stream or package. */
    QemuEvent load_done;
    bool received_globalstate;
    RunState received_runstate;
    uint64_t pages_received;        /* atomic */
    /*
     * postcopy-preempt (postcopy-preempt.c): the second channel and the
     * thread that loads pages from it after LISTEN.
     */
    QEMUFile *postcopy_qemufile_dst;
    QemuThread preempt_thread;
    bool preempt_thread_running;    /* listen thread / main loop */
    int preempt_ret;                /* the thread's result, when done */
    Error *preempt_error;
} MigrationIncomingState;

MigrationState *migrate_get_current(void);
MigrationIncomingState *migration_incoming_get_current(void);

/*
 * The one way to change a status: succeeds (and emits MIGRATION when the
 * events capability is on) only if *@state is still @old and the table
 * allows @old -> @new.
 */
bool migrate_set_state(int *state, MigrationStatus old, MigrationStatus new);
bool migration_transition_valid(MigrationStatus old, MigrationStatus new);

bool migration_is_idle(void);
bool migration_status_cancellable(int st);
/* Source status is one of the postcopy ones. */
bool migration_in_postcopy(void);
bool migration_is_running(void);

/*
 * Postcopy, either side: a vCPU that touches a missing page waits for a
 * chain of thread wake-ups in both processes (fault thread, return path,
 * the thread that reads the page).  On an idle CPU each costs its idle
 * state's exit latency.  With -global migration.x-postcopy-cpu-latency=US
 * the postcopy phase holds a PM QoS request for US microseconds.  Returns
 * the handle for migration_cpu_latency_release(), or -1 when none is
 * configured or the kernel refused (a warning says why; the migration
 * goes on).
 */
int migration_cpu_latency_hold(void);
void migration_cpu_latency_release(int *handle);
/* Called when max-bandwidth and friends change mid-migration. */
void migration_parameters_changed(void);
/* Validates capability changes on a destination waiting for a stream. */
bool migration_caps_check_incoming(const bool *new_caps, Error **errp);

void migrate_set_error(MigrationState *s, const Error *error);

/* Start-up: -incoming URI / defer; registers QMP commands. */
void migration_init(void);
bool migration_incoming_setup(const char *uri, Error **errp);
bool migration_incoming_deferred(void);
/* At exit: releases a postcopy-paused destination's sleeping vCPUs. */
void migration_incoming_shutdown(void);
void migration_shutdown(void);

/* Destination return path (thread-safe). */
void migrate_send_rp_shut(MigrationIncomingState *mis, uint32_t value);
void migrate_send_rp_pong(MigrationIncomingState *mis, uint32_t value);
void migrate_send_rp_req_pages_id(MigrationIncomingState *mis,
                                  const char *idstr, uint64_t start,
                                  uint32_t len);
void migrate_send_rp_req_pages(MigrationIncomingState *mis, uint64_t start,
                               uint32_t len);
bool migration_incoming_open_return_path(MigrationIncomingState *mis,
                                         Error **errp);

#endif
