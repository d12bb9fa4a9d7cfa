/*
 * qemu-sockets.c: socket address parsing, listen and connect.
 */
#include "qemu/osdep.h"
#include "qemu/sockets.h"
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/un.h>

void qapi_free_SocketAddress(SocketAddress *addr)
{
    if (addr) {
        g_free(addr->path);
        g_free(addr->host);
        g_free(addr->port);
        g_free(addr->fd_name);
        g_free(addr);
    }
}

SocketAddress *socket_address_copy(const SocketAddress *addr)
{
    SocketAddress *c = g_new0(SocketAddress, 1);

    c->type = addr->type;
    c->path = g_strdup(addr->path);
    c->host = g_strdup(addr->host);
    c->port = g_strdup(addr->port);
    c->fd_name = g_strdup(addr->fd_name);
    return c;
}

static bool parse_inet(const char *str, SocketAddress *addr, Error **errp)
{
    const char *colon;

    if (*str == '[') {
        const char *end = strchr(str, ']');

        if (!end || end[1] != ':') {
            error_setg(errp, "error parsing IPv6 address '%s'", str);
            return false;
        }
        addr->host = g_strndup(str + 1, end - str - 1);
        colon = end + 1;
    } else {
        colon = strrchr(str, ':');
        if (!colon) {
            error_setg(errp, "error parsing address '%s'", str);
            return false;
        }
        addr->host = g_strndup(str, colon - str);
    }
    if (colon[1] == '\0') {
        error_setg(errp, "error parsing address '%s'", str);
        return false;
    }
    addr->port = g_strdup(colon + 1);
    return true;
}

SocketAddress *socket_parse(const char *str, Error **errp)
{
    g_autoptr(SocketAddress) addr = g_new0(SocketAddress, 1);

    if (g_str_has_prefix(str, "unix:")) {
        if (str[5] == '\0') {
            error_setg(errp, "invalid Unix socket address");
            return NULL;
        }
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->path = g_strdup(str + 5);
    } else if (g_str_has_prefix(str, "fd:")) {
        if (str[3] == '\0') {
            error_setg(errp, "invalid file descriptor address");
            return NULL;
        }
        addr->type = SOCKET_ADDRESS_TYPE_FD;
        addr->fd_name = g_strdup(str + 3);
    } else if (g_str_has_prefix(str, "tcp:")) {
        addr->type = SOCKET_ADDRESS_TYPE_INET;
        if (!parse_inet(str + 4, addr, errp)) {
            return NULL;
        }
    } else {
        addr->type = SOCKET_ADDRESS_TYPE_INET;
        if (!parse_inet(str, addr, errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&addr);
}

char *socket_address_to_string(const SocketAddress *addr)
{
    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_UNIX:
        return g_strdup_printf("unix:%s", addr->path);
    case SOCKET_ADDRESS_TYPE_FD:
        return g_strdup_printf("fd:%s", addr->fd_name);
    case SOCKET_ADDRESS_TYPE_INET:
    default:
        if (strchr(addr->host, ':')) {
            return g_strdup_printf("tcp:[%s]:%s", addr->host, addr->port);
        }
        return g_strdup_printf("tcp:%s:%s", addr->host, addr->port);
    }
}

static bool unix_sockaddr(const char *path, struct sockaddr_un *un,
                          Error **errp)
{
    memset(un, 0, sizeof(*un));
    un->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(un->sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long", path);
        error_append_hint(errp, "Path must be less than %zu bytes\n",
                          sizeof(un->sun_path));
        return false;
    }
    strcpy(un->sun_path, path);
    return true;
}

static struct addrinfo *inet_resolve(const SocketAddress *addr, bool passive,
                                     Error **errp)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = passive ? AI_PASSIVE : 0,
    };
    struct addrinfo *res = NULL;
    const char *host = addr->host && *addr->host ? addr->host : NULL;
    int rc;

    if (!host && !passive) {
        host = "localhost";
    }
    rc = getaddrinfo(host, addr->port, &hints, &res);
    if (rc != 0) {
        error_setg(errp, "address resolution failed for %s:%s: %s",
                   host ? host : "", addr->port, gai_strerror(rc));
        return NULL;
    }
    return res;
}

int socket_listen(const SocketAddress *addr, int backlog, Error **errp)
{
    int fd;

    if (addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        struct sockaddr_un un;

        if (!unix_sockaddr(addr->path, &un, errp)) {
            return -1;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            error_setg_errno(errp, errno, "Failed to create Unix socket");
            return -1;
        }
        /* A stale socket file from an earlier run would make bind fail. */
        unlink(addr->path);
        if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
            error_setg_errno(errp, errno, "Failed to bind socket to %s",
                             addr->path);
            close(fd);
            return -1;
        }
    } else if (addr->type == SOCKET_ADDRESS_TYPE_INET) {
        struct addrinfo *res = inet_resolve(addr, true, errp), *e;
        int err = 0;

        if (!res) {
            return -1;
        }
        fd = -1;
        for (e = res; e; e = e->ai_next) {
            int one = 1;

            fd = socket(e->ai_family, e->ai_socktype | SOCK_CLOEXEC,
                        e->ai_protocol);
            if (fd < 0) {
                err = errno;
                continue;
            }
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (bind(fd, e->ai_addr, e->ai_addrlen) == 0) {
                break;
            }
            err = errno;
            close(fd);
            fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
            error_setg_errno(errp, err, "Failed to bind socket");
            return -1;
        }
    } else {
        error_setg(errp, "cannot listen on a file descriptor address");
        return -1;
    }
    if (listen(fd, backlog) < 0) {
        error_setg_errno(errp, errno, "Failed to listen on socket");
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * connect() with a deadline (@timeout_ms > 0): a host that drops the SYN
 * would otherwise hold the caller for minutes of kernel retries.
 */
static int connect_deadline(int fd, const struct sockaddr *sa, socklen_t len,
                            int64_t timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int flags, err = 0, r;
    socklen_t el = sizeof(err);

    if (timeout_ms <= 0) {
        while ((r = connect(fd, sa, len)) < 0 && errno == EINTR) {
            /* again */
        }
        return r;
    }
    flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    r = connect(fd, sa, len);
    if (r < 0 && errno == EINPROGRESS) {
        do {
            r = poll(&p, 1, timeout_ms);
        } while (r < 0 && errno == EINTR);
        if (r == 0) {
            errno = ETIMEDOUT;
            r = -1;
        } else if (r > 0) {
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            errno = err;
            r = err ? -1 : 0;
        }
    }
    err = errno;
    fcntl(fd, F_SETFL, flags);
    errno = err;
    return r;
}

int socket_connect(const SocketAddress *addr, Error **errp)
{
    return socket_connect_timeout(addr, 0, errp);
}

int socket_connect_timeout(const SocketAddress *addr, int64_t timeout_ms,
                           Error **errp)
{
    int fd;

    if (addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        struct sockaddr_un un;

        if (!unix_sockaddr(addr->path, &un, errp)) {
            return -1;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            error_setg_errno(errp, errno, "Failed to create socket");
            return -1;
        }
        while (connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
            if (errno != EINTR) {
                error_setg_errno(errp, errno, "Failed to connect to '%s'",
                                 addr->path);
                close(fd);
                return -1;
            }
        }
        return fd;
    }
    if (addr->type == SOCKET_ADDRESS_TYPE_INET) {
        struct addrinfo *res = inet_resolve(addr, false, errp), *e;
        int err = 0;

        if (!res) {
            return -1;
        }
        fd = -1;
        for (e = res; e; e = e->ai_next) {
            fd = socket(e->ai_family, e->ai_socktype | SOCK_CLOEXEC,
                        e->ai_protocol);
            if (fd < 0) {
                err = errno;
                continue;
            }
            if (connect_deadline(fd, e->ai_addr, e->ai_addrlen,
                                 timeout_ms) == 0) {
                break;
            }
            err = errno;
            close(fd);
            fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
            error_setg_errno(errp, err, "Failed to connect to '%s:%s'",
                             addr->host, addr->port);
        }
        return fd;
    }
    error_setg(errp, "cannot connect to a file descriptor address");
    return -1;
}

SocketAddress *socket_local_address(int fd, Error **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    SocketAddress *addr;
    char host[NI_MAXHOST], port[NI_MAXSERV];

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        error_setg_errno(errp, errno, "getsockname failed");
        return NULL;
    }
    addr = g_new0(SocketAddress, 1);
    if (ss.ss_family == AF_UNIX) {
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->path = g_strdup(((struct sockaddr_un *)&ss)->sun_path);
        return addr;
    }
    if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        g_free(addr);
        error_setg(errp, "getnameinfo failed");
        return NULL;
    }
    addr->type = SOCKET_ADDRESS_TYPE_INET;
    addr->host = g_strdup(host);
    addr->port = g_strdup(port);
    return addr;
}

bool socket_set_keepalive(int fd, int64_t timeout_ms)
{
    int one = 1, idle, intvl, cnt = 3;
    unsigned int uto = timeout_ms;

    if (timeout_ms <= 0) {
        return true;
    }
    /*
     * Probes start after a third of the time without traffic; the
     * connection is dropped when data or probes stay unanswered for the
     * whole time (TCP_USER_TIMEOUT also bounds those).
     */
    idle = MAX(timeout_ms / 3000, 1);
    intvl = MAX(timeout_ms / 3000 / cnt, 1);
    return setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0 &&
           setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
                      sizeof(idle)) == 0 &&
           setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
                      sizeof(intvl)) == 0 &&
           setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) == 0 &&
           setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto,
                      sizeof(uto)) == 0;
}

void socket_set_nodelay(int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}
