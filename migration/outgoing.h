/*
 * outgoing.h: the source side — the migration thread.
 */
#ifndef MIGRATION_OUTGOING_H
#define MIGRATION_OUTGOING_H

#include "migration.h"

/* QMP migrate: status setup, then the thread connects and sends. */
bool migrate_start(MigrationState *s, const char *uri, Error **errp);
/* QMP migrate_cancel: cancelling, wakes the thread (any state). */
void migrate_cancel(MigrationState *s);
/* Joins a finished (or cancelled) migration thread. */
void migrate_wait_thread(MigrationState *s);

/* Return path (return-path.c). */
bool rp_start(MigrationState *s, QEMUFile *from_dst, Error **errp);
/* Waits for SHUT (or an error); returns 0 if the destination said OK. */
int rp_await_close(MigrationState *s, bool force);
bool rp_has_error(MigrationState *s);
void rp_cleanup(MigrationState *s);

#endif
