/*
 * monitor.h: QMP monitors (-qmp, -mon chardev=...,mode=control).
 *
 * Each monitor serves one client at a time on a chardev.  Input is read
 * and framed in the monitor I/O thread ("mon_iothread"), which also runs
 * out-of-band commands; in-band commands are queued and executed in the
 * main thread under the BQL, one at a time, in arrival order.  Events are
 * broadcast to every client that finished capability negotiation.
 */
#ifndef MONITOR_MONITOR_H
#define MONITOR_MONITOR_H

#include "qemu/osdep.h"
#include "chardev/char.h"

typedef struct MonitorQMP MonitorQMP;

/* Starts the I/O thread and installs the QMP event emitter. */
void monitor_init_globals(void);
MonitorQMP *monitor_init_qmp(Chardev *chr, bool pretty, Error **errp);
/* Stops the I/O thread and frees every monitor (at exit). */
void monitor_cleanup(void);

/* The version reported by the greeting and query-version. */
#define QMP_VERSION_MAJOR 7
#define QMP_VERSION_MINOR 2
#define QMP_VERSION_MICRO 0

/*
 * Named file descriptors passed with QMP "getfd" (SCM_RIGHTS).  The
 * migration's fd:NAME takes one (ownership passes to the caller).  Main
 * thread, BQL.
 */
int monitor_get_fd(const char *name, Error **errp);

/* The monitor whose command is running in this thread, or NULL. */
MonitorQMP *monitor_cur(void);
Chardev *monitor_get_chardev(MonitorQMP *mon);

/* Registers the built-in commands (monitor/qmp-cmds.c). */
void qmp_register_builtin_commands(void);

#endif
