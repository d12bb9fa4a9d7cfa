/*
 * char.c: character device backends (socket, file, stdio, null).
 *
 * Locking: chr->lock protects the connection (fd, in_fd, listen source,
 * input/output sources) and the output buffer.  Callbacks into the user
 * (fd_read, fd_event) are made from the chardev's GMainContext with the
 * lock released, so they may write to the chardev.  Sources are created
 * and destroyed only with the lock held.
 */
#include "qemu/osdep.h"
#include "chardev/char.h"
#include "qemu/sockets.h"
#include "qemu/thread.h"
#include "qemu/error-report.h"
#include "qemu/cutils.h"
#include "trace.h"
#include <glib-unix.h>
#include <sys/socket.h>

typedef enum ChardevKind {
    CHR_KIND_SOCKET,
    CHR_KIND_FILE,
    CHR_KIND_STDIO,
    CHR_KIND_NULL,
} ChardevKind;

struct Chardev {
    char *label;
    ChardevKind kind;
    SocketAddress *addr;        /* socket */
    bool is_listen;
    bool wait;
    bool nodelay;
    char *path;                 /* file */

    QemuMutex lock;
    int listen_fd;
    int fd;                     /* output side; -1 when not connected */
    int in_fd;                  /* input side; -1 when none */
    bool connected;
    bool accept_input;
    GByteArray *outbuf;
    GSource *listen_src;
    GSource *in_src;
    GSource *out_src;
    GQueue msgfds;              /* fds received with SCM_RIGHTS */

    GMainContext *ctx;
    ChardevReadFn *fd_read;
    ChardevEventFn *fd_event;
    void *opaque;
};

/* All chardevs by label; touched only by the main thread. */
static GHashTable *chardevs;

static gboolean chr_listen_ready(gint fd, GIOCondition cond, gpointer data);
static void chr_drop_msgfds_locked(Chardev *chr);
static gboolean chr_input_ready(gint fd, GIOCondition cond, gpointer data);
static gboolean chr_output_ready(gint fd, GIOCondition cond, gpointer data);

static void chr_source_drop(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

static GSource *chr_add_watch(Chardev *chr, int fd, GIOCondition cond,
                              GUnixFDSourceFunc fn)
{
    GSource *src = g_unix_fd_source_new(fd, cond);

    /* GLib calls fd sources with the fd-source signature. */
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))fn, chr, NULL);
    g_source_attach(src, chr->ctx);
    return src;
}

/* Starts the sources this chardev needs now.  Lock held. */
static void chr_update_sources_locked(Chardev *chr)
{
    if (!chr->fd_read && !chr->fd_event) {
        return;
    }
    if (chr->listen_fd >= 0 && !chr->connected && !chr->listen_src) {
        chr->listen_src = chr_add_watch(chr, chr->listen_fd, G_IO_IN,
                                        chr_listen_ready);
    }
    if (chr->in_fd >= 0 && chr->accept_input && !chr->in_src &&
        chr->fd_read) {
        chr->in_src = chr_add_watch(chr, chr->in_fd,
                                    G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    chr_input_ready);
    }
    if (!chr->accept_input) {
        chr_source_drop(&chr->in_src);
    }
    if (chr->outbuf->len && chr->fd >= 0 && !chr->out_src) {
        chr->out_src = chr_add_watch(chr, chr->fd, G_IO_OUT | G_IO_ERR,
                                     chr_output_ready);
    }
}

static void chr_set_connected_locked(Chardev *chr, int fd)
{
    chr->fd = fd;
    chr->in_fd = fd;
    chr->connected = true;
    chr_source_drop(&chr->listen_src);
    trace_chr_connected(chr->label, fd);
}

static void chr_emit(Chardev *chr, QEMUChrEvent ev)
{
    if (chr->fd_event) {
        chr->fd_event(chr->opaque, ev);
    }
}

/* Must run in the chardev's context (it closes the fd being read). */
void qemu_chr_fe_disconnect(Chardev *chr)
{
    bool was;

    qemu_mutex_lock(&chr->lock);
    was = chr->connected && chr->kind == CHR_KIND_SOCKET;
    if (was) {
        chr_source_drop(&chr->in_src);
        chr_source_drop(&chr->out_src);
        close(chr->fd);
        chr->fd = chr->in_fd = -1;
        chr->connected = false;
        chr_drop_msgfds_locked(chr);
        g_byte_array_set_size(chr->outbuf, 0);
        trace_chr_disconnected(chr->label);
        chr_update_sources_locked(chr);
    }
    qemu_mutex_unlock(&chr->lock);
    if (was) {
        chr_emit(chr, CHR_EVENT_CLOSED);
    }
}

static gboolean chr_listen_ready(gint fd, GIOCondition cond, gpointer data)
{
    Chardev *chr = data;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (cfd < 0) {
        return G_SOURCE_CONTINUE;
    }
    if (chr->nodelay) {
        socket_set_nodelay(cfd);
    }
    qemu_mutex_lock(&chr->lock);
    if (chr->connected) {
        /* Raced with another accept path; keep the first client. */
        qemu_mutex_unlock(&chr->lock);
        close(cfd);
        return G_SOURCE_CONTINUE;
    }
    chr_set_connected_locked(chr, cfd);
    chr_update_sources_locked(chr);
    qemu_mutex_unlock(&chr->lock);
    chr_emit(chr, CHR_EVENT_OPENED);
    /* chr_set_connected_locked() destroyed this source. */
    return G_SOURCE_REMOVE;
}

/* recvmsg(), keeping any file descriptors passed along (getfd). */
static ssize_t chr_recv(Chardev *chr, int fd, uint8_t *buf, size_t len)
{
    union {
        struct cmsghdr hdr;
        char space[CMSG_SPACE(16 * sizeof(int))];
    } ctl;
    struct iovec iov = { buf, len };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = &ctl,
        .msg_controllen = sizeof(ctl),
    };
    struct cmsghdr *c;
    ssize_t n;

    if (chr->kind != CHR_KIND_SOCKET) {
        return read(fd, buf, len);
    }
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    for (c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int *fds = (int *)CMSG_DATA(c);

            qemu_mutex_lock(&chr->lock);
            for (int i = 0; i < nfds; i++) {
                g_queue_push_tail(&chr->msgfds, GINT_TO_POINTER(fds[i]));
            }
            qemu_mutex_unlock(&chr->lock);
        }
    }
    return n;
}

int qemu_chr_fe_get_msgfd(Chardev *chr)
{
    int fd = -1;

    qemu_mutex_lock(&chr->lock);
    if (!g_queue_is_empty(&chr->msgfds)) {
        fd = GPOINTER_TO_INT(g_queue_pop_head(&chr->msgfds));
    }
    qemu_mutex_unlock(&chr->lock);
    return fd;
}

static void chr_drop_msgfds_locked(Chardev *chr)
{
    while (!g_queue_is_empty(&chr->msgfds)) {
        close(GPOINTER_TO_INT(g_queue_pop_head(&chr->msgfds)));
    }
}

static gboolean chr_input_ready(gint fd, GIOCondition cond, gpointer data)
{
    Chardev *chr = data;
    uint8_t buf[4096];
    ssize_t n;

    do {
        n = chr_recv(chr, fd, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        chr->fd_read(chr->opaque, buf, n);
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && errno == EAGAIN) {
        return G_SOURCE_CONTINUE;
    }
    /* EOF or error. */
    if (chr->kind == CHR_KIND_SOCKET) {
        qemu_chr_fe_disconnect(chr);
    } else {
        qemu_mutex_lock(&chr->lock);
        chr_source_drop(&chr->in_src);
        chr->in_fd = -1;
        qemu_mutex_unlock(&chr->lock);
    }
    return G_SOURCE_REMOVE;
}

/* Writes as much of the buffer as the fd takes.  Lock held. */
static bool chr_flush_locked(Chardev *chr)
{
    while (chr->outbuf->len) {
        ssize_t n = write(chr->fd, chr->outbuf->data, chr->outbuf->len);

        if (n > 0) {
            g_byte_array_remove_range(chr->outbuf, 0, n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return true;
        }
        /* Broken peer: drop output; the input side sees the hang-up. */
        g_byte_array_set_size(chr->outbuf, 0);
        return false;
    }
    return true;
}

static gboolean chr_output_ready(gint fd, GIOCondition cond, gpointer data)
{
    Chardev *chr = data;
    gboolean ret = G_SOURCE_CONTINUE;

    qemu_mutex_lock(&chr->lock);
    if (chr->fd == fd) {
        chr_flush_locked(chr);
    } else {
        g_byte_array_set_size(chr->outbuf, 0);
    }
    if (chr->outbuf->len == 0) {
        if (chr->out_src) {
            g_source_unref(chr->out_src);
            chr->out_src = NULL;
        }
        ret = G_SOURCE_REMOVE;
    }
    qemu_mutex_unlock(&chr->lock);
    return ret;
}

void qemu_chr_write(Chardev *chr, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    if (!chr || len == 0) {
        return;
    }
    qemu_mutex_lock(&chr->lock);
    switch (chr->kind) {
    case CHR_KIND_NULL:
        break;
    case CHR_KIND_FILE:
    case CHR_KIND_STDIO:
        /* Blocking output: files and terminals always make progress. */
        while (len && chr->fd >= 0) {
            ssize_t n = write(chr->fd, p, len);

            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            p += n;
            len -= n;
        }
        break;
    case CHR_KIND_SOCKET:
        if (!chr->connected) {
            trace_chr_write_dropped(chr->label, len);
            break;
        }
        g_byte_array_append(chr->outbuf, p, len);
        if (!chr->out_src) {
            chr_flush_locked(chr);
        }
        if (chr->outbuf->len) {
            trace_chr_write_buffered(chr->label, chr->outbuf->len);
            chr_update_sources_locked(chr);
        }
        break;
    }
    qemu_mutex_unlock(&chr->lock);
}

static gboolean chr_deliver_opened(gpointer data)
{
    Chardev *chr = data;

    if (qemu_chr_is_connected(chr)) {
        chr_emit(chr, CHR_EVENT_OPENED);
    }
    return G_SOURCE_REMOVE;
}

void qemu_chr_fe_set_handlers(Chardev *chr, ChardevReadFn *fd_read,
                              ChardevEventFn *fd_event, void *opaque,
                              GMainContext *ctx)
{
    bool opened;

    qemu_mutex_lock(&chr->lock);
    chr->fd_read = fd_read;
    chr->fd_event = fd_event;
    chr->opaque = opaque;
    chr->ctx = ctx ? ctx : g_main_context_default();
    chr->accept_input = true;
    opened = chr->connected &&
             (chr->kind == CHR_KIND_SOCKET || chr->kind == CHR_KIND_STDIO);
    chr_update_sources_locked(chr);
    qemu_mutex_unlock(&chr->lock);
    /*
     * stdio, a client-mode socket or a server that waited at start-up is
     * already connected: tell the user, from its own context.
     */
    if (opened && fd_event) {
        GSource *src = g_idle_source_new();

        /* Before any input is read, so no request predates the session. */
        g_source_set_priority(src, G_PRIORITY_HIGH);
        g_source_set_callback(src, chr_deliver_opened, chr, NULL);
        g_source_attach(src, chr->ctx);
        g_source_unref(src);
    }
}

void qemu_chr_fe_accept_input(Chardev *chr, bool accept)
{
    qemu_mutex_lock(&chr->lock);
    chr->accept_input = accept;
    chr_update_sources_locked(chr);
    qemu_mutex_unlock(&chr->lock);
}

bool qemu_chr_is_connected(Chardev *chr)
{
    bool c;

    qemu_mutex_lock(&chr->lock);
    c = chr->connected;
    qemu_mutex_unlock(&chr->lock);
    return c;
}

const char *qemu_chr_get_label(Chardev *chr)
{
    return chr->label;
}

char *qemu_chr_get_filename(Chardev *chr)
{
    g_autofree char *addr = NULL;
    bool connected;

    switch (chr->kind) {
    case CHR_KIND_FILE:
        return g_strdup_printf("file:%s", chr->path);
    case CHR_KIND_STDIO:
        return g_strdup("stdio");
    case CHR_KIND_NULL:
        return g_strdup("null");
    case CHR_KIND_SOCKET:
    default:
        break;
    }
    addr = socket_address_to_string(chr->addr);
    connected = qemu_chr_is_connected(chr);
    return g_strdup_printf("%s%s%s", connected ? "" : "disconnected:", addr,
                           chr->is_listen ? ",server=on" : "");
}

bool qemu_chr_wait_connected(Chardev *chr, Error **errp)
{
    g_autofree char *name = NULL;
    int cfd;

    if (chr->kind != CHR_KIND_SOCKET || !chr->wait || chr->connected) {
        return true;
    }
    name = qemu_chr_get_filename(chr);
    info_report("QEMU waiting for connection on: %s", name);
    do {
        cfd = accept4(chr->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    } while (cfd < 0 && errno == EINTR);
    if (cfd < 0) {
        error_setg_errno(errp, errno, "accept failed on %s", name);
        return false;
    }
    qemu_set_nonblock(cfd, true);
    if (chr->nodelay) {
        socket_set_nodelay(cfd);
    }
    qemu_mutex_lock(&chr->lock);
    chr_set_connected_locked(chr, cfd);
    qemu_mutex_unlock(&chr->lock);
    return true;
}

static Chardev *chr_alloc(const char *label, ChardevKind kind)
{
    Chardev *chr = g_new0(Chardev, 1);

    chr->label = g_strdup(label);
    chr->kind = kind;
    chr->listen_fd = chr->fd = chr->in_fd = -1;
    chr->outbuf = g_byte_array_new();
    chr->ctx = g_main_context_default();
    qemu_mutex_init(&chr->lock);
    return chr;
}

/*
 * At exit: push out what is still buffered (a reply to "quit", say) with
 * blocking writes bounded by a send timeout, then give up.
 */
static void chr_flush_at_exit_locked(Chardev *chr)
{
    struct timeval tv = { .tv_sec = 2 };

    if (chr->kind != CHR_KIND_SOCKET || chr->fd < 0 || !chr->outbuf->len) {
        return;
    }
    qemu_set_nonblock(chr->fd, false);
    setsockopt(chr->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    chr_flush_locked(chr);
}

static void chr_free(Chardev *chr)
{
    qemu_mutex_lock(&chr->lock);
    chr_flush_at_exit_locked(chr);
    chr_drop_msgfds_locked(chr);
    chr_source_drop(&chr->listen_src);
    chr_source_drop(&chr->in_src);
    chr_source_drop(&chr->out_src);
    if (chr->kind == CHR_KIND_SOCKET || chr->kind == CHR_KIND_FILE) {
        if (chr->fd >= 0) {
            close(chr->fd);
        }
    }
    if (chr->listen_fd >= 0) {
        close(chr->listen_fd);
        if (chr->addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
            unlink(chr->addr->path);
        }
    }
    qemu_mutex_unlock(&chr->lock);
    qemu_mutex_destroy(&chr->lock);
    qapi_free_SocketAddress(chr->addr);
    g_byte_array_unref(chr->outbuf);
    g_free(chr->path);
    g_free(chr->label);
    g_free(chr);
}

static bool chr_register(Chardev *chr, Error **errp)
{
    g_autofree char *fname = NULL;

    if (!chardevs) {
        chardevs = g_hash_table_new(g_str_hash, g_str_equal);
    }
    if (g_hash_table_contains(chardevs, chr->label)) {
        error_setg(errp, "attempt to add duplicate property '%s' to object "
                   "(type 'container')", chr->label);
        return false;
    }
    g_hash_table_insert(chardevs, chr->label, chr);
    fname = qemu_chr_get_filename(chr);
    trace_chr_new(chr->label, fname);
    return true;
}

static Chardev *chr_open_socket(const char *label, SocketAddress *addr,
                                bool server, bool wait, bool nodelay,
                                Error **errp)
{
    Chardev *chr = chr_alloc(label, CHR_KIND_SOCKET);
    int fd;

    chr->addr = addr;
    chr->is_listen = server;
    chr->wait = server && wait;
    chr->nodelay = nodelay;
    if (server) {
        fd = socket_listen(addr, 1, errp);
        if (fd < 0) {
            goto fail;
        }
        chr->listen_fd = fd;
    } else {
        fd = socket_connect(addr, errp);
        if (fd < 0) {
            goto fail;
        }
        qemu_set_nonblock(fd, true);
        if (nodelay) {
            socket_set_nodelay(fd);
        }
        chr_set_connected_locked(chr, fd);
    }
    if (!chr_register(chr, errp)) {
        goto fail;
    }
    return chr;

fail:
    chr->addr = NULL;       /* owned by the caller on failure */
    chr_free(chr);
    return NULL;
}

static Chardev *chr_open_file(const char *label, const char *path,
                              bool append, Error **errp)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
                  (append ? O_APPEND : O_TRUNC), 0666);
    Chardev *chr;

    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not open '%s'", path);
        return NULL;
    }
    chr = chr_alloc(label, CHR_KIND_FILE);
    chr->fd = fd;
    chr->connected = true;
    chr->path = g_strdup(path);
    if (!chr_register(chr, errp)) {
        chr_free(chr);
        return NULL;
    }
    return chr;
}

static Chardev *chr_open_simple(const char *label, ChardevKind kind,
                                Error **errp)
{
    Chardev *chr = chr_alloc(label, kind);

    if (kind == CHR_KIND_STDIO) {
        chr->fd = STDOUT_FILENO;
        chr->in_fd = STDIN_FILENO;
        chr->connected = true;
    }
    if (!chr_register(chr, errp)) {
        chr_free(chr);
        return NULL;
    }
    return chr;
}

/* server/wait/nodelay, with QEMU's legacy spellings "server", "nowait". */
static bool socket_flags(QemuOpts *opts, bool *server, bool *wait,
                         bool *nodelay, Error **errp)
{
    if (!qemu_opt_get_bool(opts, "server", false, server, errp) ||
        !qemu_opt_get_bool(opts, "wait", true, wait, errp) ||
        !qemu_opt_get_bool(opts, "nodelay", false, nodelay, errp)) {
        return false;
    }
    if (qemu_opt_has(opts, "nowait")) {
        *wait = false;
    }
    if (!*server && qemu_opt_has(opts, "wait") && !*wait) {
        /* QEMU rejects wait=off without server=on. */
        error_setg(errp, "'wait' option is incompatible with socket in "
                   "client connect mode");
        return false;
    }
    return true;
}

Chardev *qemu_chr_new_from_opts(QemuOpts *opts, Error **errp)
{
    const char *backend = qemu_opt_get(opts, "backend");
    const char *id = qemu_opt_get(opts, "id");
    Chardev *chr = NULL;

    if (!backend) {
        error_setg(errp, "chardev: \"\" missing backend");
        return NULL;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        return NULL;
    }
    if (g_str_equal(backend, "socket")) {
        const char *path = qemu_opt_get(opts, "path");
        const char *host = qemu_opt_get(opts, "host");
        const char *port = qemu_opt_get(opts, "port");
        bool server, wait, nodelay;
        SocketAddress *addr;

        if (!socket_flags(opts, &server, &wait, &nodelay, errp)) {
            return NULL;
        }
        if (path && (host || port)) {
            error_setg(errp, "chardev: socket: 'path' and 'host'/'port' are "
                       "mutually exclusive");
            return NULL;
        }
        addr = g_new0(SocketAddress, 1);
        if (path) {
            addr->type = SOCKET_ADDRESS_TYPE_UNIX;
            addr->path = g_strdup(path);
        } else if (port) {
            addr->type = SOCKET_ADDRESS_TYPE_INET;
            addr->host = g_strdup(host ? host : "");
            addr->port = g_strdup(port);
        } else {
            qapi_free_SocketAddress(addr);
            error_setg(errp, "chardev: socket: no host given");
            return NULL;
        }
        qemu_opt_get(opts, "telnet");   /* accepted; must be off */
        if (!qemu_opts_check_unused(opts, "Invalid parameter '%s'", errp)) {
            qapi_free_SocketAddress(addr);
            return NULL;
        }
        chr = chr_open_socket(id, addr, server, wait, nodelay, errp);
        if (!chr) {
            qapi_free_SocketAddress(addr);
        }
        return chr;
    }
    if (g_str_equal(backend, "file")) {
        const char *path = qemu_opt_get(opts, "path");
        bool append;

        if (!qemu_opt_get_bool(opts, "append", false, &append, errp)) {
            return NULL;
        }
        if (!path) {
            error_setg(errp, "chardev: file: no filename given");
            return NULL;
        }
        if (!qemu_opts_check_unused(opts, "Invalid parameter '%s'", errp)) {
            return NULL;
        }
        return chr_open_file(id, path, append, errp);
    }
    if (g_str_equal(backend, "stdio") || g_str_equal(backend, "null")) {
        qemu_opt_get(opts, "signal");
        if (!qemu_opts_check_unused(opts, "Invalid parameter '%s'", errp)) {
            return NULL;
        }
        return chr_open_simple(id, g_str_equal(backend, "stdio")
                               ? CHR_KIND_STDIO : CHR_KIND_NULL, errp);
    }
    error_setg(errp, "'%s' is not a valid char driver name", backend);
    return NULL;
}

Chardev *qemu_chr_new(const char *label, const char *spec, Error **errp)
{
    if (g_str_equal(spec, "none")) {
        return NULL;
    }
    if (g_str_has_prefix(spec, "chardev:")) {
        Chardev *chr = qemu_chr_find(spec + 8);

        if (!chr) {
            error_setg(errp, "chardev '%s' not found", spec + 8);
        }
        return chr;
    }
    if (g_str_equal(spec, "null") || g_str_equal(spec, "stdio")) {
        return chr_open_simple(label, g_str_equal(spec, "stdio")
                               ? CHR_KIND_STDIO : CHR_KIND_NULL, errp);
    }
    if (g_str_has_prefix(spec, "file:")) {
        if (spec[5] == '\0') {
            error_setg(errp, "chardev: file: no filename given");
            return NULL;
        }
        return chr_open_file(label, spec + 5, false, errp);
    }
    if (g_str_has_prefix(spec, "unix:") || g_str_has_prefix(spec, "tcp:")) {
        /* ADDRESS[,server=on][,wait=off][,nodelay=on] */
        const char *comma = strchr(spec, ',');
        g_autofree char *addr_str = comma ? g_strndup(spec, comma - spec)
                                          : g_strdup(spec);
        g_autoptr(QemuOpts) opts = NULL;
        bool server = false, wait = true, nodelay = false;
        SocketAddress *addr;
        Chardev *chr;

        if (comma) {
            opts = qemu_opts_parse(comma + 1, NULL, errp);
            if (!opts || !socket_flags(opts, &server, &wait, &nodelay, errp)) {
                return NULL;
            }
            qemu_opt_get(opts, "telnet");
            if (!qemu_opts_check_unused(opts, "Invalid parameter '%s'",
                                        errp)) {
                return NULL;
            }
        }
        addr = socket_parse(addr_str, errp);
        if (!addr) {
            return NULL;
        }
        chr = chr_open_socket(label, addr, server, wait, nodelay, errp);
        if (!chr) {
            qapi_free_SocketAddress(addr);
        }
        return chr;
    }
    error_setg(errp, "'%s' is not a valid char driver name", spec);
    return NULL;
}

Chardev *qemu_chr_find(const char *label)
{
    return chardevs ? g_hash_table_lookup(chardevs, label) : NULL;
}

void qemu_chr_cleanup_all(void)
{
    GHashTableIter it;
    gpointer value;

    if (!chardevs) {
        return;
    }
    g_hash_table_iter_init(&it, chardevs);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        g_hash_table_iter_remove(&it);
        chr_free(value);
    }
}
