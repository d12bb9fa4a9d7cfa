/*
 * migration-relay.h: a relay between a migration source and destination,
 * inside the test, that breaks the link on command.
 *
 * It listens on a unix socket and forwards each connection it accepts
 * (main, preempt, ...) to the destination's socket, both ways.  The test
 * can then cut every connection at once (the peers see the sockets
 * close), stall them (nothing is forwarded any more and nothing closed:
 * a silent link, as with a frozen peer or a pulled cable), or have them
 * cut after a number of bytes from the source (a link that breaks in the
 * middle of something).
 */
#ifndef MIGRATION_RELAY_H
#define MIGRATION_RELAY_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Relay Relay;

/* Listens on @listen_path, forwards to the unix socket @target_path. */
Relay *relay_new(const char *listen_path, const char *target_path);
/* Closes every connection now; later ones are still accepted. */
void relay_cut(Relay *r);
/* Stops forwarding (true) or resumes (false); nothing is closed. */
void relay_stall(Relay *r, bool stall);
/* Closes the connection accepted @index-th (from 0), if it is there. */
void relay_cut_one(Relay *r, unsigned index);
/* Cuts everything once @bytes have come from the source side (0: off). */
void relay_cut_after(Relay *r, uint64_t bytes);
/* Connections accepted so far, and bytes forwarded from the source. */
unsigned relay_connections(Relay *r);
uint64_t relay_bytes_from_source(Relay *r);
/* Stops the relay, closes everything. */
void relay_free(Relay *r);

#endif
