/*
 * postcopy-ram.h: the destination's postcopy state machine and the
 * commands that drive it (spec §5, §7.3, §8).
 */
#ifndef MIGRATION_POSTCOPY_RAM_H
#define MIGRATION_POSTCOPY_RAM_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu-file.h"

typedef struct MigrationIncomingState MigrationIncomingState;

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

#endif
