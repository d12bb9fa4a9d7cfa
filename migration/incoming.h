/*
 * incoming.h: the destination side — accepting a stream and loading it.
 */
#ifndef MIGRATION_INCOMING_H
#define MIGRATION_INCOMING_H

#include "migration.h"

/* Arms @uri (from -incoming or migrate-incoming); event MIGRATION setup. */
bool migration_incoming_start(MigrationIncomingState *mis, const char *uri,
                              Error **errp);
bool migration_incoming_setup(const char *uri, Error **errp);
bool migration_incoming_deferred(void);
/*
 * A new incoming migration's state (its PostcopyIncoming); done when the
 * first channel arrives (and by the loader's fuzzer).
 */
void migration_incoming_prepare(MigrationIncomingState *mis);
/*
 * The loaders' side of PostcopyIncomingOps (@opaque: the incoming state):
 * the main channel after LISTEN, the preempt channel, a broken link.
 * Shared with the loader's fuzz target, which only ends differently.
 */
int migration_incoming_load_main(QEMUFile *f, void *opaque);
int migration_incoming_load_preempt(QEMUFile *f, void *opaque);
void migration_incoming_link_reset(void *opaque);
/* QMP migrate-recover: listen for the recovery's channels (any thread). */
bool migration_incoming_recover(const char *uri, Error **errp);
/* QMP migrate-pause on the destination (any thread). */
bool migration_incoming_pause(Error **errp);
/* At exit: releases a postcopy-paused destination's sleeping vCPUs. */
void migration_incoming_shutdown(void);

#endif
