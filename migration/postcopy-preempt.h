/*
 * postcopy-preempt.h: postcopy's second channel (capability
 * postcopy-preempt, QEMU 7.2 protocol); see postcopy-preempt.c.
 */
#ifndef MIGRATION_POSTCOPY_PREEMPT_H
#define MIGRATION_POSTCOPY_PREEMPT_H

#include "qemu/osdep.h"
#include "qapi/error.h"

/* Either side: can a migration over @uri use a preempt channel? */
bool postcopy_preempt_check_uri(const char *uri, Error **errp);

#endif
