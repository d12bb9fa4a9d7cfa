/*
 * qtest.h: the qtest protocol server (-qtest CHARDEV) and accelerator.
 *
 * The server speaks QEMU's line protocol (spec §13): one request per line,
 * one reply per request.  Unlike QEMU it never asserts on bad input: a
 * malformed request gets a "FAIL <reason>" line and the session goes on.
 * It runs in the main loop under the BQL and accesses the system address
 * space, so it works with any accelerator.
 */
#ifndef SYSEMU_QTEST_H
#define SYSEMU_QTEST_H

#include "qemu/osdep.h"
#include "chardev/char.h"

typedef struct QTestState QTestState;

/* Starts serving on @chr; @log (may be NULL) receives a copy of traffic. */
QTestState *qtest_server_init(Chardev *chr, FILE *log, Error **errp);
void qtest_server_fini(QTestState *s);

/*
 * Processes one request line (without the newline) and returns the reply
 * line (with its newline).  Exposed for unit tests.
 */
char *qtest_process_line(const char *line, size_t len);

/* The qtest accelerator: no vCPUs; the virtual clock moves only when told. */
bool qtest_enabled(void);
void qtest_accel_init(void);
int64_t qtest_get_virtual_clock(void);
void qtest_set_virtual_clock(int64_t ns);

#endif
