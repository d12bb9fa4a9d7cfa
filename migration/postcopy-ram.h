/*
 * postcopy-ram.h: postcopy RAM on the destination — the state machine
 * driven by the postcopy commands, userfaultfd registration, atomic page
 * placement, the fault thread and its statistics (spec §5, §7.3, §8).
 */
#ifndef MIGRATION_POSTCOPY_RAM_H
#define MIGRATION_POSTCOPY_RAM_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu-file.h"
#include "exec/ramblock.h"

typedef struct MigrationIncomingState MigrationIncomingState;
typedef struct JSONWriter JSONWriter;

/* Destination postcopy state; the numbers appear in error messages. */
typedef enum PostcopyState {
    POSTCOPY_INCOMING_NONE = 0,
    POSTCOPY_INCOMING_ADVISE,
    POSTCOPY_INCOMING_DISCARD,
    POSTCOPY_INCOMING_LISTENING,
    POSTCOPY_INCOMING_RUNNING,
    POSTCOPY_INCOMING_END,
} PostcopyState;

PostcopyState postcopy_state_get(void);
void postcopy_state_set(PostcopyState state);

/* Handles the postcopy MIG_CMD_* (payload not yet read). */
int postcopy_incoming_command(QEMUFile *f, MigrationIncomingState *mis,
                              unsigned cmd, unsigned len, uint64_t start,
                              Error **errp);
bool postcopy_incoming_advised(MigrationIncomingState *mis);
/* RAM records arrive in postcopy mode (after LISTEN). */
bool postcopy_incoming_listening(MigrationIncomingState *mis);

/*
 * Host-page assembly for one channel: target pages go into a temporary
 * host page, placed atomically when complete.
 */
typedef struct PostcopyTmpPage PostcopyTmpPage;
PostcopyTmpPage *postcopy_tmp_page(MigrationIncomingState *mis, int channel);
/* Adds one target page (or a fill byte) at @addr of @rb. */
int postcopy_load_target_page(MigrationIncomingState *mis,
                              PostcopyTmpPage *tmp, int channel,
                              RAMBlock *rb, uint64_t addr, QEMUFile *f,
                              bool zero, uint8_t fill, Error **errp);

/*
 * Places the zero pages @tmp has gathered (see PostcopyTmpPage); the
 * channel calls it when its input runs dry and at its end.
 */
int postcopy_flush_zero_run(MigrationIncomingState *mis,
                            PostcopyTmpPage *tmp, Error **errp);

/* Can this host do postcopy (userfaultfd, page sizes)? */
bool postcopy_ram_supported_by_host(MigrationIncomingState *mis,
                                    Error **errp);

/* Listen thread's end: tear down userfaultfd and the fault thread. */
void postcopy_ram_incoming_cleanup(MigrationIncomingState *mis);
/* Ends the x-postcopy-cpu-latency request early (postcopy-paused). */
void postcopy_cpu_latency_drop(MigrationIncomingState *mis);

/* query-migrate: blocktime and latency members (destination). */
void postcopy_write_stats(MigrationIncomingState *mis, JSONWriter *w);

#endif
