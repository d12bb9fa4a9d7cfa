/*
 * misc.h: what the rest of ferry calls in migration/.
 */
#ifndef MIGRATION_MISC_H
#define MIGRATION_MISC_H

#include "qemu/osdep.h"
#include "qapi/error.h"

/* Start-up: options, the "ram" handler, globalstate, QMP commands. */
void migration_init(void);
/* -incoming URI (or "defer"): run state inmigrate, listen. */
bool migration_incoming_setup(const char *uri, Error **errp);
/* -global migration.PROP=VALUE */
bool migrate_set_global_property(const char *name, const char *value,
                                 Error **errp);
/* Exit: cancel an outgoing migration, stop listening. */
void migration_shutdown(void);

#endif
