/*
 * postcopy-preempt.h: postcopy's second channel (capability
 * postcopy-preempt, QEMU 7.2 protocol); see postcopy-preempt.c.
 */
#ifndef MIGRATION_POSTCOPY_PREEMPT_H
#define MIGRATION_POSTCOPY_PREEMPT_H

#include "qemu/osdep.h"
#include "qapi/error.h"

typedef struct MigrationIncomingState MigrationIncomingState;

/* Either side: can a migration over @uri use a preempt channel? */
bool postcopy_preempt_check_uri(const char *uri, Error **errp);

/* Destination, at LISTEN: start loading pages from the preempt channel. */
bool postcopy_preempt_start(MigrationIncomingState *mis, Error **errp);
/*
 * Listen thread, after the main channel's EOF: waits for the preempt
 * channel's EOS; 0, or -errno with @errp set.
 */
int postcopy_preempt_finish(MigrationIncomingState *mis, Error **errp);
/* A bad record on the preempt channel (its error waits in mis). */
bool postcopy_preempt_failed(MigrationIncomingState *mis);
/* Cleanup: stop the thread if it still runs, close the channel. */
void postcopy_preempt_stop(MigrationIncomingState *mis);

#endif
