/*
 * error-report.h: printing messages for humans on stderr.
 *
 * Messages are prefixed with the program name and, while the command line
 * is being processed, with the option being processed, so that
 *     ferry -m 1Q
 * prints "ferry: -m 1Q: Parameter 'size' expects a non-negative number
 * below 2^64" exactly like QEMU's "qemu-system-x86_64: -m 1Q: ...".
 */
#ifndef QEMU_ERROR_REPORT_H
#define QEMU_ERROR_REPORT_H

#include "qemu/osdep.h"

/*
 * -msg timestamp=on: error messages start with an ISO 8601 UTC time and
 * trace lines with "tid@seconds.micros:", as in QEMU.
 */
extern bool message_with_timestamp;

void error_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void warn_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void info_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void error_vreport(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

/* Name printed before every message ("ferry" unless changed). */
void error_set_progname(const char *argv0);
const char *error_get_progname(void);

/*
 * The location printed after the program name: the command-line option
 * being processed ("-object memory-backend-ram,id=m0").  NULL clears it.
 */
void loc_set_cmdline(const char *opt, const char *arg);
void loc_clear(void);

#endif
