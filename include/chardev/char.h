/*
 * char.h: character devices — the byte pipes behind -qmp, -qtest,
 * -serial, -chardev and -mon.
 *
 * Backends: socket (unix: or tcp:, listening with server=on or connecting
 * as a client), file (output only), stdio, null.  A listening socket
 * serves one client at a time, like QEMU's: further clients wait in the
 * listen backlog until the current one disconnects.
 *
 * Threads: a chardev's read and event callbacks run in the GMainContext
 * given to qemu_chr_fe_set_handlers() (the main loop, or the monitor's I/O
 * thread).  qemu_chr_write() may be called from any thread; it never
 * blocks: what the peer cannot take yet is buffered and flushed from that
 * context.  Data written while no client is connected is dropped.
 */
#ifndef CHARDEV_CHAR_H
#define CHARDEV_CHAR_H

#include "qemu/osdep.h"
#include "qemu/option.h"
#include "qapi/error.h"

typedef enum QEMUChrEvent {
    CHR_EVENT_OPENED,
    CHR_EVENT_CLOSED,
} QEMUChrEvent;

typedef struct Chardev Chardev;

typedef void ChardevReadFn(void *opaque, const uint8_t *buf, size_t len);
typedef void ChardevEventFn(void *opaque, QEMUChrEvent event);

/* -chardev BACKEND,id=ID,...  */
Chardev *qemu_chr_new_from_opts(QemuOpts *opts, Error **errp);
/*
 * The short forms of -qmp/-qtest/-serial: "unix:PATH[,server=on,wait=off]",
 * "tcp:HOST:PORT[,...]", "file:PATH", "stdio", "null", "chardev:ID".
 * Returns NULL without error for "none".
 */
Chardev *qemu_chr_new(const char *label, const char *spec, Error **errp);
Chardev *qemu_chr_find(const char *label);
const char *qemu_chr_get_label(Chardev *chr);
/* "unix:/path,server=on", "disconnected:unix:...", "file", ... */
char *qemu_chr_get_filename(Chardev *chr);
/* A server with wait=on blocks here until the first client connects. */
bool qemu_chr_wait_connected(Chardev *chr, Error **errp);
bool qemu_chr_is_connected(Chardev *chr);

void qemu_chr_fe_set_handlers(Chardev *chr, ChardevReadFn *fd_read,
                              ChardevEventFn *fd_event, void *opaque,
                              GMainContext *ctx);
/* Stops / restarts reading (back-pressure). Callable from any thread. */
void qemu_chr_fe_accept_input(Chardev *chr, bool accept);
void qemu_chr_write(Chardev *chr, const void *buf, size_t len);
/*
 * The oldest file descriptor a client passed with SCM_RIGHTS (QMP getfd),
 * or -1.  The caller owns it.  Unclaimed fds are closed at disconnect.
 */
int qemu_chr_fe_get_msgfd(Chardev *chr);
/* Closes the current connection (a server then accepts the next one). */
void qemu_chr_fe_disconnect(Chardev *chr);

/* Closes everything and removes unix socket files we created (at exit). */
void qemu_chr_cleanup_all(void);

#endif
