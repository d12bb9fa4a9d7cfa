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

/* Receives a reply in pieces; the last piece of each ends with '\n'. */
typedef void QTestEmitFn(const char *data, size_t len, void *opaque);

/*
 * Processes @len bytes of protocol text as a connection's handler does:
 * every complete line is a request (NUL bytes read as '?'), each one's
 * reply goes to @emit, and a last line without its newline is dropped, as
 * on a hang-up.  Requests move at most @max_xfer bytes (the server's own
 * limit if larger).  Returns the number of requests.  In-process callers
 * (the "qtest" fuzz target) use it; the state it works on is the server's:
 * guest memory, the I/O space and the qtest clock.
 */
size_t qtest_process_input(const uint8_t *buf, size_t len, uint64_t max_xfer,
                           QTestEmitFn *emit, void *opaque);

/* The qtest accelerator: no vCPUs; the virtual clock moves only when told. */
bool qtest_enabled(void);
void qtest_accel_init(void);
int64_t qtest_get_virtual_clock(void);
void qtest_set_virtual_clock(int64_t ns);

#endif
