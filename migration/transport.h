/*
 * transport.h: turning a migration URI into a channel (spec §1).
 *
 *   tcp:HOST:PORT   unix:PATH   fd:NAME|NUMBER   exec:COMMAND
 *   file:PATH[,offset=N]
 *
 * Outgoing connections are made from the migration thread (they may
 * block).  Incoming URIs are armed from the main thread; the stream is
 * handed to migration_incoming_process() once a peer connects (sockets)
 * or at once (fd, exec, file).
 */
#ifndef MIGRATION_TRANSPORT_H
#define MIGRATION_TRANSPORT_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "channel.h"

/* Is the protocol of @uri one ferry knows? */
bool migration_uri_known(const char *uri);
/*
 * Checks an outgoing @uri now (address syntax) and turns "fd:NAME" into
 * "fd:NUMBER" by taking the named fd from the monitor, so the migration
 * thread never needs the monitor.  Returns the URI to connect to.
 */
char *migration_uri_prepare(const char *uri, Error **errp);
/* A prepared URI that will not be connected to: frees it (and its fd). */
void migration_uri_discard(char *prepared);
MigChannel *migration_connect(const char *uri, Error **errp);

/*
 * Runs for each incoming channel (see migration_incoming_listen());
 * returns true to accept another connection on the same socket
 * (postcopy-preempt's second channel), false when it has all it needs.
 */
typedef bool MigrationIncomingFn(MigChannel *ioc);
/* Does @uri's transport carry more than one channel (tcp:, unix:)? */
bool migration_uri_multi_channel(const char *uri);
/*
 * Arms @uri; @fn runs in the main thread with the stream — or, with
 * @threaded, in a thread that accepts on its own (postcopy recovery: the
 * main loop may be blocked), or at once for fd:, exec:, file:.
 */
bool migration_incoming_listen(const char *uri, MigrationIncomingFn *fn,
                               bool threaded, Error **errp);
/* Stops listening (after the connection, or at exit); any thread. */
void migration_incoming_unlisten(void);
/* "tcp:HOST:PORT" actually bound (for query-migrate socket-address). */
char *migration_incoming_address(void);

/* fd:NAME: the fd a QMP client passed with getfd, or a number. */
int migration_fd_param(const char *name, Error **errp);

#endif
