/*
 * tls.h: TLS on migration channels (tls-creds, tls-hostname, tls-authz).
 *
 * With tls-creds set, every connection of a migration — the main stream
 * (and so the return path, which shares it), the postcopy-preempt
 * channel, the connections of a postcopy recovery — runs a full TLS
 * handshake before its first migration byte, the source as the client,
 * as QEMU does.  The parameters are read when each channel is made.
 */
#ifndef MIGRATION_TLS_H
#define MIGRATION_TLS_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "channel.h"

/* Is tls-creds set (now)? */
bool migration_tls_enabled(void);
/*
 * Source: runs the client handshake on @c, made for @uri (its host is
 * the name the server's certificate must carry unless tls-hostname is
 * set).  Returns @c, or NULL with @c closed.  Blocks (migration thread).
 */
MigChannel *migration_tls_client(MigChannel *c, const char *uri,
                                 Error **errp);
/*
 * Destination: runs the server handshake on @c (a thread that may block
 * until x-link-timeout).  Returns @c, or NULL with @c closed.
 */
MigChannel *migration_tls_server(MigChannel *c, Error **errp);

#endif
