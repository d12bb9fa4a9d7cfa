/*
 * sockets.h: socket addresses as QEMU users write them, and the blocking
 * calls that create listening and connected sockets from them.
 *
 *   unix:PATH                 AF_UNIX stream socket
 *   tcp:HOST:PORT             TCP; HOST may be empty ("tcp::4444"),
 *                             "[::1]" for IPv6, PORT may be 0 to listen on
 *                             an ephemeral port
 */
#ifndef QEMU_SOCKETS_H
#define QEMU_SOCKETS_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <sys/socket.h>

typedef enum SocketAddressType {
    SOCKET_ADDRESS_TYPE_UNIX,
    SOCKET_ADDRESS_TYPE_INET,
    SOCKET_ADDRESS_TYPE_FD,
} SocketAddressType;

typedef struct SocketAddress {
    SocketAddressType type;
    char *path;         /* unix */
    char *host;         /* inet */
    char *port;         /* inet */
    char *fd_name;      /* fd: a name from getfd or a number */
} SocketAddress;

void qapi_free_SocketAddress(SocketAddress *addr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SocketAddress, qapi_free_SocketAddress)
SocketAddress *socket_address_copy(const SocketAddress *addr);

/* Parses "unix:PATH" / "tcp:HOST:PORT" (without options). */
SocketAddress *socket_parse(const char *str, Error **errp);
/* Canonical text form, e.g. "unix:/tmp/s" or "tcp:127.0.0.1:4444". */
char *socket_address_to_string(const SocketAddress *addr);

/* Returns a listening fd (CLOEXEC, blocking) or -1 with *errp set. */
int socket_listen(const SocketAddress *addr, int backlog, Error **errp);
/* Connects (blocking); returns the fd or -1. */
int socket_connect(const SocketAddress *addr, Error **errp);
/* The same, giving up after @timeout_ms (TCP; 0: the kernel's own). */
int socket_connect_timeout(const SocketAddress *addr, int64_t timeout_ms,
                           Error **errp);
/* The local address of a listening socket (to learn an ephemeral port). */
SocketAddress *socket_local_address(int fd, Error **errp);

/*
 * TCP: keepalive probes and TCP_USER_TIMEOUT, so that a peer that stops
 * answering (host down, cable pulled, packets dropped) is noticed within
 * about @timeout_ms even when nothing is being sent.  Fails (false) on
 * other sockets; 0 leaves the socket alone.
 */
bool socket_set_keepalive(int fd, int64_t timeout_ms);
/* Disables Nagle on TCP sockets; harmless elsewhere. */
void socket_set_nodelay(int fd);

#endif
