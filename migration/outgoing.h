/*
 * outgoing.h: the source side — the migration thread.
 */
#ifndef MIGRATION_OUTGOING_H
#define MIGRATION_OUTGOING_H

#include "migration.h"

/* QMP migrate: status setup, then the thread connects and sends. */
bool migrate_start(MigrationState *s, const char *uri, Error **errp);
/*
 * QMP migrate resume=true: a paused postcopy goes on over @uri
 * (postcopy-paused -> postcopy-recover-setup; the thread connects).
 */
bool migrate_resume(MigrationState *s, const char *uri, Error **errp);
/*
 * QMP migrate-pause, the source's part: in postcopy-active, breaks the
 * link (*@done set, false with @errp on failure); otherwise *@done is
 * false and the destination's part may apply.  Any thread.
 */
bool migrate_pause(MigrationState *s, bool *done, Error **errp);
/* QMP migrate_cancel: cancelling, wakes the thread (any state). */
void migrate_cancel(MigrationState *s);
/* Joins a finished (or cancelled) migration thread. */
void migrate_wait_thread(MigrationState *s);

#endif
