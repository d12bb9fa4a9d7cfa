/*
 * libqtest.h: driving ferry (or QEMU) processes from tests.
 *
 * qtest_init() starts a binary with a QMP monitor and a qtest connection,
 * both on unix sockets that the test listens on and the binary connects
 * to (QEMU's own libqtest arrangement), so the same code drives ferry and
 * a real QEMU.  Every wait has a deadline (QTEST_TIMEOUT seconds, default
 * 60) and fails the test with a clear message when it passes; every child
 * dies with the test (PR_SET_PDEATHSIG) and is reaped by qtest_quit().
 *
 * QMP replies are returned as json-glib nodes; events that arrive while
 * waiting for a reply are queued for qtest_qmp_eventwait().
 *
 * Every process is checked at its end (qtest_quit()): a test whose ferry
 * crashed, hung on SIGTERM or had a sanitizer report at exit fails.
 */
#ifndef LIBQTEST_H
#define LIBQTEST_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct QTestState QTestState;

typedef struct QTestOptions {
    const char *binary;     /* NULL: $QTEST_FERRY_BINARY or build/ferry */
    bool no_qtest;          /* don't pass -qtest (e.g. QEMU without CPU) */
    bool no_qmp_handshake;  /* leave the greeting unread */
    bool capture_stderr;    /* keep stderr for qtest_stderr() */
    bool qmp_oob;           /* negotiate "oob" (exec-oob) at the handshake */
} QTestOptions;

/* Starts the binary with @extra_args (shell-style words). */
QTestState *qtest_init(const char *extra_args);
QTestState *qtest_init_opts(const QTestOptions *opts, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/*
 * SIGTERM, wait (deadline), SIGKILL if needed; frees @s.  The test fails
 * unless the process exited by itself (no signal, within the deadline)
 * with the expected status (0 unless qtest_set_expected_exit() said
 * otherwise) and, where stderr is captured, without a sanitizer report.
 */
void qtest_quit(QTestState *s);
/* The exit status qtest_quit() expects (e.g. 1: a failed incoming). */
#define QTEST_EXIT_ANY (-1)
void qtest_set_expected_exit(QTestState *s, int code);
/* Prints the captured stderr of every process still running. */
void qtest_dump_stderr_all(void);
/* Waits for the process to exit by itself; returns its wait status. */
int qtest_wait_exit(QTestState *s);
/* Kills and reaps without the graceful path. */
void qtest_kill(QTestState *s);
pid_t qtest_pid(QTestState *s);
/* stderr captured so far (capture_stderr). */
const char *qtest_stderr(QTestState *s);

/* Default deadline for waits, seconds. */
int qtest_timeout(void);
/* Path of the ferry binary under test. */
const char *qtest_ferry_binary(void);
/* The real QEMU to compare with ($QTEST_QEMU_BINARY or Debian's). */
const char *qtest_qemu_binary(void);
/* Whether it is there; if not, skips the test, saying how to get it. */
bool qtest_have_qemu(void);
/* The second peer, QEMU 10.x ($QTEST_QEMU10_BINARY or setup-qemu10.sh's). */
const char *qtest_qemu10_binary(void);
bool qtest_have_qemu10(void);
/* A fresh private directory for this test's sockets and files. */
const char *qtest_tmpdir(void);

/* ---- QMP ---- */
/* Sends a request (printf-formatted JSON) and returns the response. */
JsonNode *qtest_qmp(QTestState *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Like qtest_qmp(), passing @fds along with SCM_RIGHTS (for getfd). */
JsonNode *qtest_qmp_fds(QTestState *s, const int *fds, size_t nfds,
                        const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/*
 * Like qtest_qmp(), but returns NULL instead of failing when the process
 * closed the connection (it exited): for tests of processes that may end.
 */
JsonNode *qtest_qmp_try(QTestState *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/* The greeting, or NULL if the connection closed first. */
JsonNode *qtest_qmp_try_greeting(QTestState *s);
/* Sends raw bytes, no newline added. */
void qtest_qmp_send_raw(QTestState *s, const char *data, size_t len);
/* Reads the next message (response or event) as a raw line. */
char *qtest_qmp_receive_line(QTestState *s);
/* Next response, queuing events. */
JsonNode *qtest_qmp_receive(QTestState *s);
/* Waits for @event (from the queue or the wire); returns the event. */
JsonNode *qtest_qmp_eventwait_ref(QTestState *s, const char *event);
void qtest_qmp_eventwait(QTestState *s, const char *event);
/* A queued event of that name, or NULL (does not wait). */
JsonNode *qtest_qmp_event_ref(QTestState *s, const char *event);
/* The greeting received at start-up. */
JsonNode *qtest_qmp_greeting(QTestState *s);

/* Helpers on responses. */
JsonObject *qmp_rsp_return(JsonNode *rsp);      /* asserts success */
const char *qmp_rsp_error_class(JsonNode *rsp); /* NULL on success */
const char *qmp_rsp_error_desc(JsonNode *rsp);
/* Runs a command that must succeed and drops the reply. */
void qtest_qmp_assert_success(QTestState *s, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/* query-status "status" (caller frees). */
char *qtest_runstate(QTestState *s);

/* ---- qtest ---- */
/* Sends one request line and returns the reply line (without newline). */
char *qtest_raw(QTestState *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
uint8_t qtest_readb(QTestState *s, uint64_t addr);
uint16_t qtest_readw(QTestState *s, uint64_t addr);
uint32_t qtest_readl(QTestState *s, uint64_t addr);
uint64_t qtest_readq(QTestState *s, uint64_t addr);
void qtest_writeb(QTestState *s, uint64_t addr, uint8_t v);
void qtest_writew(QTestState *s, uint64_t addr, uint16_t v);
void qtest_writel(QTestState *s, uint64_t addr, uint32_t v);
void qtest_writeq(QTestState *s, uint64_t addr, uint64_t v);
void qtest_memread(QTestState *s, uint64_t addr, void *buf, size_t size);
void qtest_memwrite(QTestState *s, uint64_t addr, const void *buf,
                    size_t size);
void qtest_bufread(QTestState *s, uint64_t addr, void *buf, size_t size);
void qtest_bufwrite(QTestState *s, uint64_t addr, const void *buf,
                    size_t size);
void qtest_memset(QTestState *s, uint64_t addr, uint8_t pattern,
                  size_t size);

/* Polls @cond every few ms until true or the deadline passes. */
bool qtest_poll_until(bool (*cond)(void *opaque), void *opaque,
                      int timeout_s);

#endif
