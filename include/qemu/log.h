/*
 * log.h: the log file that trace output and -d messages go to.
 *
 * stderr unless -D FILE (or -trace file=FILE) names another.  Every
 * qemu_log() call is one stdio call, so lines from different threads do not
 * interleave.
 */
#ifndef QEMU_LOG_H
#define QEMU_LOG_H

#include "qemu/osdep.h"

typedef struct Error Error;

void qemu_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
bool qemu_set_log_filename(const char *filename, Error **errp);
void qemu_log_close(void);

#endif
