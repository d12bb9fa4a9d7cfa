/*
 * vl.h: process start-up and shutdown (system/vl.c).
 */
#ifndef SYSEMU_VL_H
#define SYSEMU_VL_H

#include "qemu/osdep.h"
#include "qapi/error.h"

/* Parses the command line and builds the machine; exits on bad options. */
void qemu_init(int argc, char **argv);

/*
 * Parses and validates @argv as qemu_init() does, in the same order and
 * with the same messages, but without acting: no chardev, monitor,
 * socket, file, memory backend, drive, machine, loader, qtest server or
 * incoming migration is created, -trace and -D are not looked at, and no
 * global is changed except the migration properties -global sets.  What
 * can only be checked by acting (a chardev that cannot be opened, a
 * missing memory backend, /dev/kvm...) is not checked.  Needs the
 * machine types (machine_register_builtin()) and migration_init().
 *
 * Returns false with @errp set on a bad command line (the message
 * qemu_init() would print after "ferry: "), true otherwise, with
 * *@exit_now set if an informational option (-help, -version, -machine
 * help...) would have made qemu_init() print it and exit 0.  The result
 * stays recorded until qemu_cmdline_reset() or the next check.
 */
bool qemu_cmdline_check(int argc, char **argv, bool *exit_now, Error **errp);
/* Forgets the recorded command line (@argv must outlive it until then). */
void qemu_cmdline_reset(void);
/* Tears everything down; returns the process exit status. */
int qemu_cleanup(void);

#endif
