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

/*
 * QEMU 7.2's MigrationStatus, in QAPI order, and after them those QEMU
 * added later that ferry uses (the wire never carries the numbers).
 */
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
    MIGRATION_STATUS_POSTCOPY_RECOVER_SETUP,    /* 9.1: reconnecting */
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
    uint64_t multifd_bytes;         /* bytes on the multifd channels */
} MigrationStats;

/*
 * ferry's keepalive PINGs: this value with the interval (in units of
 * 10 ms) in the low 24 bits.  QEMU uses 1-4 and 0x42.
 */
#define MIG_KEEPALIVE_PING              0x7e000000u
#define MIG_KEEPALIVE_INTERVAL_MASK     0x00ffffffu

typedef struct RPReader RPReader;
typedef struct RPWriter RPWriter;
typedef struct PostcopyIncoming PostcopyIncoming;
typedef struct MultiFDSendState MultiFDSendState;
typedef struct MultiFDRecvState MultiFDRecvState;

typedef struct MigrationState {
    int state;                      /* MigrationStatus, atomic */
    QemuThread thread;
    bool thread_created;            /* main thread, BQL */
    unsigned thread_gen;            /* which thread a reap is for */
    char *uri;
    /*
     * The channels.  The migration thread opens, writes and closes them;
     * qemu_file_lock lets other threads (cancel, pause, the return-path
     * thread) shut them down meanwhile.
     */
    QemuMutex qemu_file_lock;
    QEMUFile *to_dst_file;
    QEMUFile *postcopy_qemufile_src;    /* postcopy-preempt's second */
    MultiFDSendState *multifd;          /* multifd's channels, or NULL */
    RPReader *rp;                   /* migration thread */
    /*
     * The first error of the migration, or of the current link once
     * postcopy has run (a recovery starts afresh), and its class: an I/O
     * error (the link) pauses postcopy after RUN, anything else fails.
     */
    QemuMutex error_mutex;
    Error *error;
    bool error_io;
    RunState vm_old_state;          /* to restore after failure */
    bool vm_was_running;
    QemuSemaphore rate_limit_sem;   /* wakes the thread early */
    int start_postcopy;             /* atomic: migrate-start-postcopy */
    bool postcopy_after_run;        /* atomic: RUN was sent */
    /*
     * The stream's EOF is on its way (atomic; set by the migration
     * thread): only then may the destination say SHUT(0).
     */
    bool stream_ended;
    int postcopy_cpu_latency;       /* migration thread: PM QoS handle */
    QemuSemaphore pause_sem;        /* migrate-continue */
    /*
     * Postcopy recovery.  A paused migration thread waits on
     * postcopy_pause_sem for migrate resume=true (which sets resume_uri
     * under qemu_file_lock) or cancel.  During the handshake the
     * return-path thread reports to it under rp_lock / rp_cond.
     */
    QemuSemaphore postcopy_pause_sem;
    char *resume_uri;
    QemuMutex rp_lock;
    QemuCond rp_cond;
    unsigned rp_bitmaps;            /* rp_lock: bitmaps received */
    GHashTable *rp_bitmap_blocks;   /* rp_lock: ... for these RAMBlocks */
    bool rp_resume_acked;           /* rp_lock */
    bool rp_stopped;                /* rp_lock: the reader ended */
    int64_t start_time;             /* ms, realtime */
    /*
     * Written by the migration thread, read by query-migrate: atomic
     * (every statistic QMP shows is, including stats below).
     */
    int64_t setup_time;             /* ms */
    int64_t total_time;             /* ms, set at completion */
    int64_t downtime;               /* ms */
    int64_t expected_downtime;      /* ms */
    uint64_t bits_per_second;       /* query-migrate's "mbps" */
    uint64_t pages_per_second;
    /* The migration thread's own. */
    int64_t downtime_start;         /* ms */
    uint64_t threshold_size;        /* bytes that fit in the downtime */
    MigrationStats stats;
    /* Recovery statistics (atomics). */
    uint64_t postcopy_recoveries;
    uint64_t postcopy_paused_ms;    /* completed pauses */
    int64_t postcopy_paused_since;  /* ms, 0 when not paused */
    uint64_t postcopy_pages_resent; /* sent before a break, lost, sent again */
    uint64_t postcopy_pages_missing;    /* the destination lacked, at resume */
    uint64_t transferred_before;    /* main-channel bytes of broken links */
    /*
     * Keepalive PINGs (outgoing.c), all atomic: sent by the migration
     * thread, answered in the return-path thread, watched by the
     * watchdog thread (which waits on rp_cond; watchdog_quit: rp_lock).
     */
    uint32_t keepalive_sent;
    uint32_t keepalive_answered;
    int64_t keepalive_sent_at;      /* ms, monotonic */
    QemuThread watchdog;
    bool watchdog_running;          /* migration thread */
    bool watchdog_quit;
} MigrationState;

typedef struct MigrationIncomingState {
    int state;                      /* MigrationStatus, atomic */
    /*
     * The channels.  incoming.c sets them as connections arrive; the
     * thread that reads one keeps its own pointer; a pause, the end and
     * the exit shut them down and close them.  channel_lock protects the
     * pointers (lock order: postcopy-int.h).  The return path is one
     * writer for the whole migration, channels attached and detached.
     */
    QemuMutex channel_lock;
    /*
     * The out-of-band commands (migrate-pause, migrate-recover, from the
     * monitor's I/O thread) against the exit, which frees what they use:
     * they run under oob_lock and give up once exiting is set.  Above
     * channel_lock in the lock order.
     */
    QemuMutex oob_lock;
    bool exiting;
    QEMUFile *from_src_file;        /* the main channel */
    QEMUFile *preempt_file;         /* postcopy-preempt's second */
    /*
     * The main channel is loading and mis->postcopy is ready for the
     * preempt channel, which may then be taken in any thread (until the
     * channels close).  channel_lock.
     */
    bool accepts_preempt;
    /*
     * multifd (channel_lock): its channels, made at the first connection
     * of the migration, and the connections accepted so far.
     */
    MultiFDRecvState *multifd;
    unsigned multifd_accepted;
    RPWriter *rp;
    QemuThread thread;              /* the incoming (load) thread */
    bool thread_created;
    char *uri;
    /* Why it failed, or why it paused last; error_lock. */
    QemuMutex error_lock;
    Error *error;
    /*
     * Loader bookkeeping (loadvm.c): the sections seen so far, by the
     * source's section id and by entry (one id per entry, so at most one
     * per registered section however long the stream).  In postcopy the
     * incoming thread (loading the package) and the listen thread
     * (loading RAM) both use them: loadvm_lock protects them.
     */
    QemuMutex loadvm_lock;
    GHashTable *loadvm_by_id;       /* section id -> LoadStateEntry * */
    GHashTable *loadvm_by_se;       /* SaveStateEntry * -> same entry */
    /* This incoming migration's postcopy machinery (postcopy-ram.h). */
    PostcopyIncoming *postcopy;
    uint64_t pages_received;        /* atomic */
    /* A ferry source's keepalive interval (ms), once a PING said it. */
    int64_t keepalive_ms;           /* atomic */
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

/*
 * Records @error as the source's error if it is the first (copied);
 * @io: the link failed (see MigrationState.error).
 */
void migrate_set_error(MigrationState *s, const Error *error);
void migrate_set_error_class(MigrationState *s, const Error *error, bool io);
/* Whether the first error is the link's (migrate_clear_error() forgets). */
bool migrate_error_is_io(MigrationState *s);
void migrate_clear_error(MigrationState *s);

/* Creates the two states (migration-qmp.c's migration_init()). */
void migration_state_init(void);

/*
 * Detaches the return path and closes both channels of the destination
 * (whatever read them has stopped, or parked holding none).
 */
void migration_incoming_close_channels(MigrationIncomingState *mis);
/* The destination's error (takes @err; replaces an older one). */
void migration_incoming_set_error(MigrationIncomingState *mis, Error *err);

#endif
