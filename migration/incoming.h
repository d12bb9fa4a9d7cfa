/*
 * incoming.h: the destination side — accepting a stream and loading it.
 */
#ifndef MIGRATION_INCOMING_H
#define MIGRATION_INCOMING_H

#include "migration.h"

/* Arms @uri (from -incoming or migrate-incoming); event MIGRATION setup. */
bool migration_incoming_start(MigrationIncomingState *mis, const char *uri,
                              Error **errp);

#endif
