/*
 * transport.c: sockets, passed file descriptors, exec: and file: for
 * migration streams, both ways.
 *
 * The listener accepts the main channel, and with postcopy-preempt a
 * second connection (channels are told apart by their order of arrival,
 * as QEMU 7.2 does); the return path uses the main socket in the other
 * direction, or the command's other pipe for exec:.  It accepts the
 * first channel in the main loop, and any later one in a thread of its
 * own: the main loop may by then be stuck on a missing page that only
 * the preempt channel can bring.  A postcopy recovery, armed by an
 * out-of-band migrate-recover while the main loop may be stuck, accepts
 * in a thread from the start.  listener.lock protects the listener: the main
 * loop, the monitor's I/O thread and the accept thread all use it.
 *
 * TLS (tls-creds set when a connection arrives): the destination's
 * handshake runs before the channel is handed over, in a thread of its
 * own for each connection, which then hands the channel over itself, so
 * that a peer that connects and says nothing never holds the main loop
 * (QEMU 7.2's does) and no channel waits for it — an accept thread runs
 * the handshake itself.  A refused connection is reported
 * and the listener stays, as in QEMU: a good peer may still come.
 * Channels reach @fn in the order their handshakes end, as in QEMU 7.2.
 */
#include "qemu/osdep.h"
#include "transport.h"
#include "options.h"
#include "tls.h"
#include "qemu/error-report.h"
#include "qemu/sockets.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "monitor/monitor.h"
#include "trace.h"
#include <glib-unix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

typedef struct Listener {
    QemuMutex lock;
    int fd;
    unsigned gen;           /* one more for each listener */
    guint watch;            /* main-loop mode */
    SocketAddress *addr;
    char *bound;            /* actual address, kept after the accept */
    MigrationIncomingFn *fn;
    /* TLS handshakes in flight: their channels (not references). */
    GPtrArray *handshakes;
    QemuCond handshakes_cond;   /* a handshake ended or handed over */
    unsigned accepted;          /* connections of this listener so far */
    unsigned handed;            /* of those, handed over (or refused) */
    /* Thread mode: the accept thread, and an eventfd that stops it. */
    QemuThread thread;
    bool thread_running;    /* started and not yet joined */
    int stop_efd;
} Listener;

static Listener listener = { .fd = -1, .stop_efd = -1 };

static void listener_init(void)
{
    static bool done;

    /* (First used from the main thread, before any other thread.) */
    if (!done) {
        qemu_mutex_init(&listener.lock);
        qemu_cond_init(&listener.handshakes_cond);
        listener.handshakes = g_ptr_array_new();
        done = true;
    }
}

int migration_fd_param(const char *name, Error **errp)
{
    int fd;

    if (qemu_strtoi(name, NULL, 10, &fd) == 0) {
        if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
            error_setg(errp, "File descriptor %s is not open", name);
            return -1;
        }
        return dup(fd);
    }
    return monitor_get_fd(name, errp);
}

/* file:PATH[,offset=N] */
static bool parse_file_uri(const char *spec, char **path, uint64_t *offset,
                           Error **errp)
{
    const char *comma = strrchr(spec, ',');

    *offset = 0;
    if (comma && g_str_has_prefix(comma, ",offset=")) {
        if (qemu_strtou64(comma + 8, NULL, 0, offset) != 0) {
            error_setg(errp, "file URI has an invalid offset '%s'",
                       comma + 8);
            return false;
        }
        *path = g_strndup(spec, comma - spec);
    } else {
        *path = g_strdup(spec);
    }
    if (!**path) {
        g_free(*path);
        error_setg(errp, "file URI has no path");
        return false;
    }
    return true;
}

bool migration_uri_known(const char *uri)
{
    return g_str_has_prefix(uri, "tcp:") || g_str_has_prefix(uri, "unix:") ||
           g_str_has_prefix(uri, "fd:") || g_str_has_prefix(uri, "exec:") ||
           g_str_has_prefix(uri, "file:");
}

char *migration_uri_prepare(const char *uri, Error **errp)
{
    if (g_str_has_prefix(uri, "tcp:") || g_str_has_prefix(uri, "unix:")) {
        g_autoptr(SocketAddress) addr = socket_parse(uri, errp);

        return addr ? g_strdup(uri) : NULL;
    }
    if (g_str_has_prefix(uri, "fd:")) {
        int fd = migration_fd_param(uri + 3, errp);

        return fd < 0 ? NULL : g_strdup_printf("fd:%d", fd);
    }
    if (g_str_has_prefix(uri, "file:")) {
        g_autofree char *path = NULL;
        uint64_t offset;

        return parse_file_uri(uri + 5, &path, &offset, errp) ? g_strdup(uri)
                                                              : NULL;
    }
    return g_strdup(uri);
}

void migration_uri_discard(char *prepared)
{
    int fd;

    if (prepared && g_str_has_prefix(prepared, "fd:") &&
        qemu_strtoi(prepared + 3, NULL, 10, &fd) == 0 && fd >= 0) {
        close(fd);
    }
    g_free(prepared);
}

/* Runs "/bin/sh -c CMD" with pipes to its stdin and from its stdout. */
static MigChannel *spawn_exec(const char *cmd, bool outgoing, Error **errp)
{
    int in[2], out[2];
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) < 0) {
        error_setg_errno(errp, errno, "exec: pipe failed");
        return NULL;
    }
    if (pipe2(out, O_CLOEXEC) < 0) {
        error_setg_errno(errp, errno, "exec: pipe failed");
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    pid = fork();
    if (pid < 0) {
        error_setg_errno(errp, errno, "exec: fork failed");
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return NULL;
    }
    if (pid == 0) {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    trace_migration_exec(cmd, pid, outgoing);
    /* We read the command's stdout and write its stdin. */
    return mig_channel_new_pipes(out[0], in[1], pid, "exec");
}

/*
 * A socket to a peer, with x-link-timeout applied to what needs no
 * reading: TCP keepalive (a dead host is noticed even while nothing is
 * sent) and the write deadline (a peer that takes nothing for that long
 * is gone).  Read deadlines are set by those who know that silence is
 * wrong at that point.
 */
/* fd: and exec: reach a peer too: the write deadline applies. */
static MigChannel *peer_channel(MigChannel *c)
{
    if (c) {
        mig_channel_set_timeouts(c, -1, migrate_link_timeout());
    }
    return c;
}

static MigChannel *link_channel(int fd)
{
    int64_t t = migrate_link_timeout();
    MigChannel *c;

    socket_set_keepalive(fd, t);
    c = mig_channel_new_fd(fd, "migration-socket");
    mig_channel_set_timeouts(c, -1, t);
    return c;
}

static MigChannel *connect_channel(const char *uri, Error **errp);

MigChannel *migration_connect(const char *uri, Error **errp)
{
    MigChannel *c = connect_channel(uri, errp);

    return c ? migration_tls_client(c, uri, errp) : NULL;
}

static MigChannel *connect_channel(const char *uri, Error **errp)
{
    trace_migration_connect(uri);
    if (g_str_has_prefix(uri, "tcp:") || g_str_has_prefix(uri, "unix:")) {
        g_autoptr(SocketAddress) addr = socket_parse(uri, errp);
        int fd;

        if (!addr) {
            return NULL;
        }
        /* A host that drops everything is given up after the deadline. */
        fd = socket_connect_timeout(addr, migrate_link_timeout(), errp);
        if (fd < 0) {
            return NULL;
        }
        socket_set_nodelay(fd);
        return link_channel(fd);
    }
    if (g_str_has_prefix(uri, "fd:")) {
        /* migration_uri_prepare() took (or dup'ed) this fd for us. */
        int fd;

        if (qemu_strtoi(uri + 3, NULL, 10, &fd) != 0 || fd < 0) {
            error_setg(errp, "invalid file descriptor in '%s'", uri);
            return NULL;
        }
        return peer_channel(mig_channel_new_fd(fd, "migration-fd"));
    }
    if (g_str_has_prefix(uri, "exec:")) {
        return peer_channel(spawn_exec(uri + 5, true, errp));
    }
    if (g_str_has_prefix(uri, "file:")) {
        g_autofree char *path = NULL;
        uint64_t offset;
        MigChannel *c;
        int fd;

        if (!parse_file_uri(uri + 5, &path, &offset, errp)) {
            return NULL;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
                  (offset ? 0 : O_TRUNC), 0600);
        if (fd < 0) {
            error_setg_errno(errp, errno, "Could not open '%s'", path);
            return NULL;
        }
        c = mig_channel_new_fd(fd, "migration-file");
        if (offset && !mig_channel_seek(c, offset, errp)) {
            mig_channel_unref(c);
            return NULL;
        }
        return c;
    }
    error_setg(errp, "unknown migration protocol: %s", uri);
    return NULL;
}

/*
 * Closes the listening socket (lock held).  An accept thread is woken
 * first, so that it never polls or accepts on a closed (or reused) fd
 * number; listener_stop_thread() joins it.
 */
static void listener_close(void)
{
    if (listener.watch) {
        g_source_remove(listener.watch);
        listener.watch = 0;
    }
    if (listener.thread_running && listener.stop_efd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(listener.stop_efd, &one, sizeof(one));

        (void)r;
    }
    if (listener.fd >= 0) {
        close(listener.fd);
        listener.fd = -1;
    }
    if (listener.addr) {
        if (listener.addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
            unlink(listener.addr->path);
        }
        qapi_free_SocketAddress(listener.addr);
        listener.addr = NULL;
    }
}

/*
 * All channels are here: stop listening (unless a migrate-recover replaced
 * this listener meanwhile, from the monitor's I/O thread).  @in_watch: we
 * are the watch's own callback, which returns G_SOURCE_REMOVE.
 */
static void listener_done(unsigned gen, bool in_watch)
{
    qemu_mutex_lock(&listener.lock);
    if (listener.gen == gen) {
        if (in_watch) {
            listener.watch = 0;
        }
        listener_close();
    }
    qemu_mutex_unlock(&listener.lock);
}

/*
 * The first channel is here and @fn wants more (postcopy-preempt): the
 * rest are accepted by a thread, as the main loop may soon wait for a
 * page that only the next channel can bring (a pmemsave, a device read).
 * Unless a new listener replaced ours meanwhile.
 */
static void *listener_thread(void *opaque);
static void listener_start_thread(void);

static void listener_to_thread(unsigned gen, bool in_watch)
{
    qemu_mutex_lock(&listener.lock);
    if (listener.gen == gen && listener.fd >= 0 && !listener.thread_running) {
        if (listener.watch && !in_watch) {
            g_source_remove(listener.watch);
        }
        listener.watch = 0;
        listener_start_thread();
    }
    qemu_mutex_unlock(&listener.lock);
}

/*
 * A server handshake in a thread of its own; the thread then hands the
 * channel to @fn itself (which takes channels in any thread), so that no
 * channel waits for the main loop.  Channels are handed over in the
 * order they were accepted, whatever order their handshakes end in: the
 * first connection is the main channel (a preempt channel's handshake
 * may well end first on a busy host).  migration_incoming_unlisten()
 * shuts the handshakes in flight down and waits for their threads.
 */
typedef struct Handshake {
    MigChannel *c;
    MigrationIncomingFn *fn;
    unsigned gen;               /* the listener's; 0 for fd:, exec: */
    unsigned seq;               /* its place in the listener's accepts */
} Handshake;

/* Whether the handshake's listener is still the one (lock held). */
static bool handshake_current(Handshake *h)
{
    return !h->gen || (h->gen == listener.gen && listener.fd >= 0);
}

static void *handshake_thread(void *opaque)
{
    Handshake *h = opaque;
    MigChannel *c = mig_channel_ref(h->c);
    Error *err = NULL;
    bool current;

    c = migration_tls_server(c, &err);
    qemu_mutex_lock(&listener.lock);
    /* Our turn comes when those accepted before us are handed over. */
    while (h->gen && handshake_current(h) && listener.handed != h->seq) {
        qemu_cond_wait(&listener.handshakes_cond, &listener.lock);
    }
    current = handshake_current(h);
    qemu_mutex_unlock(&listener.lock);
    if (!c) {
        trace_migration_incoming_tls_failed(mig_channel_name(h->c));
        if (current) {
            error_report_err(err);  /* and the listener stays */
        } else {
            error_free(err);
        }
    } else if (!current) {
        mig_channel_unref(c);       /* a listener that is gone */
    } else if (h->fn(c)) {
        if (h->gen) {
            listener_to_thread(h->gen, false);
        }
    } else if (h->gen) {
        listener_done(h->gen, false);
    }
    qemu_mutex_lock(&listener.lock);
    g_ptr_array_remove(listener.handshakes, h->c);
    if (h->gen && h->gen == listener.gen) {
        listener.handed++;          /* the next one's turn */
    }
    qemu_cond_broadcast(&listener.handshakes_cond);
    qemu_mutex_unlock(&listener.lock);
    mig_channel_unref(h->c);
    g_free(h);
    return NULL;
}

/*
 * Runs a new channel's TLS handshake in a thread, which then hands it to
 * @fn and decides what the listener does next.
 */
static void start_handshake(MigChannel *c, MigrationIncomingFn *fn,
                            unsigned gen)
{
    Handshake *h;
    QemuThread thread;

    h = g_new0(Handshake, 1);
    h->c = c;
    h->fn = fn;
    h->gen = gen;
    qemu_mutex_lock(&listener.lock);
    g_ptr_array_add(listener.handshakes, c);
    if (gen) {
        h->seq = listener.accepted++;
    }
    qemu_mutex_unlock(&listener.lock);
    qemu_thread_create(&thread, "mig/dst/tls", handshake_thread, h,
                       QEMU_THREAD_DETACHED);
}

/* Shuts the handshakes in flight down and waits for them (lock held). */
static void listener_stop_handshakes(void)
{
    for (guint i = 0; i < listener.handshakes->len; i++) {
        mig_channel_shutdown(listener.handshakes->pdata[i]);
    }
    while (listener.handshakes->len) {
        qemu_cond_wait(&listener.handshakes_cond, &listener.lock);
    }
}

/* Thread mode: the same, the handshake run by the calling thread. */
static bool incoming_channel_here(MigChannel *c, MigrationIncomingFn *fn)
{
    Error *err = NULL;

    if (migration_tls_enabled()) {
        c = migration_tls_server(c, &err);
        if (!c) {
            trace_migration_incoming_tls_failed("incoming");
            error_report_err(err);
            return true;            /* still listening */
        }
    }
    return fn(c);
}

static gboolean listener_accept(gint fd, GIOCondition cond, gpointer data)
{
    unsigned gen = GPOINTER_TO_UINT(data);
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    MigrationIncomingFn *fn = listener.fn;

    if (cfd < 0) {
        return G_SOURCE_CONTINUE;
    }
    trace_migration_incoming_accept(cfd);
    socket_set_nodelay(cfd);
    if (migration_tls_enabled()) {
        /* The handshake thread decides what comes next. */
        start_handshake(link_channel(cfd), fn, gen);
        return G_SOURCE_CONTINUE;
    }
    if (fn(link_channel(cfd))) {
        listener_to_thread(gen, true);  /* another channel to come */
    } else {
        listener_done(gen, true);
    }
    return G_SOURCE_REMOVE;
}

/* What an accept thread works with, taken under the lock. */
typedef struct ListenerThreadArgs {
    int fd, stop;
    MigrationIncomingFn *fn;
} ListenerThreadArgs;

/* Starts the accept thread (lock held). */
static void listener_start_thread(void)
{
    ListenerThreadArgs *a = g_new(ListenerThreadArgs, 1);

    listener.stop_efd = eventfd(0, EFD_CLOEXEC);
    a->fd = listener.fd;
    a->stop = listener.stop_efd;
    a->fn = listener.fn;
    qemu_thread_create(&listener.thread, "mig/dst/accept", listener_thread,
                       a, QEMU_THREAD_JOINABLE);
    listener.thread_running = true;
}

/* Thread mode: accepts until @fn has all it needs, or a stop. */
static void *listener_thread(void *opaque)
{
    ListenerThreadArgs *a = opaque;
    int fd = a->fd, stop = a->stop;
    MigrationIncomingFn *fn = a->fn;

    g_free(a);
    trace_migration_incoming_accept_thread(1);
    for (;;) {
        struct pollfd p[2] = {
            { .fd = fd, .events = POLLIN },
            { .fd = stop, .events = POLLIN },
        };
        int cfd;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (p[1].revents) {
            break;
        }
        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            continue;
        }
        trace_migration_incoming_accept(cfd);
        socket_set_nodelay(cfd);
        if (!incoming_channel_here(link_channel(cfd), fn)) {
            qemu_mutex_lock(&listener.lock);
            /* (Unless a new listener replaced ours meanwhile.) */
            if (listener.fd == fd) {
                listener_close();
            }
            qemu_mutex_unlock(&listener.lock);
            break;
        }
    }
    trace_migration_incoming_accept_thread(0);
    return NULL;
}

/* Stops and joins an accept thread (not from itself); lock not held. */
static void listener_stop_thread(void)
{
    uint64_t one = 1;
    bool running;

    qemu_mutex_lock(&listener.lock);
    running = listener.thread_running;
    if (running && listener.stop_efd >= 0) {
        ssize_t r = write(listener.stop_efd, &one, sizeof(one));
        (void)r;
    }
    listener.thread_running = false;
    qemu_mutex_unlock(&listener.lock);
    if (running) {
        qemu_thread_join(&listener.thread);
    }
    qemu_mutex_lock(&listener.lock);
    if (listener.stop_efd >= 0) {
        close(listener.stop_efd);
        listener.stop_efd = -1;
    }
    qemu_mutex_unlock(&listener.lock);
}

typedef struct DeferredStream {
    MigrationIncomingFn *fn;
    MigChannel *ioc;
} DeferredStream;

static void deliver_stream(void *opaque)
{
    DeferredStream *d = opaque;

    /* One stream only here (incoming.c refuses preempt without sockets). */
    if (migration_tls_enabled()) {
        start_handshake(d->ioc, d->fn, 0);
    } else {
        d->fn(d->ioc);
    }
    g_free(d);
}

/* fd:, exec:, file: have the stream already; hand it over from the loop. */
static bool deliver_later(MigrationIncomingFn *fn, MigChannel *ioc)
{
    DeferredStream *d = g_new0(DeferredStream, 1);

    d->fn = fn;
    d->ioc = ioc;
    main_loop_call(deliver_stream, d);
    return true;
}

bool migration_uri_multi_channel(const char *uri)
{
    return g_str_has_prefix(uri, "tcp:") || g_str_has_prefix(uri, "unix:");
}

/* Hands a ready stream to @fn: from the main loop, or now (thread mode). */
static bool deliver(MigrationIncomingFn *fn, MigChannel *ioc, bool threaded)
{
    if (threaded) {
        incoming_channel_here(ioc, fn);
        return true;
    }
    return deliver_later(fn, ioc);
}

static bool listen_socket(const char *uri, MigrationIncomingFn *fn,
                          bool threaded, Error **errp)
{
    SocketAddress *addr = socket_parse(uri, errp);
    int fd;

    if (!addr) {
        return false;
    }
    fd = socket_listen(addr, 1, errp);
    if (fd < 0) {
        qapi_free_SocketAddress(addr);
        return false;
    }
    qemu_mutex_lock(&listener.lock);
    listener.fd = fd;
    listener.gen++;
    listener.accepted = listener.handed = 0;
    listener.addr = addr;
    g_free(listener.bound);
    {
        g_autoptr(SocketAddress) local = socket_local_address(fd, NULL);

        listener.bound = local ? socket_address_to_string(local) : NULL;
    }
    listener.fn = fn;
    if (threaded) {
        listener_start_thread();
    } else {
        listener.watch = g_unix_fd_add(fd, G_IO_IN, listener_accept,
                                       GUINT_TO_POINTER(listener.gen));
    }
    qemu_mutex_unlock(&listener.lock);
    return true;
}

bool migration_incoming_listen(const char *uri, MigrationIncomingFn *fn,
                               bool threaded, Error **errp)
{
    /* One listener at a time: an earlier one stops first. */
    migration_incoming_unlisten();
    trace_migration_incoming_listen(uri, threaded);
    if (g_str_has_prefix(uri, "tcp:") || g_str_has_prefix(uri, "unix:")) {
        return listen_socket(uri, fn, threaded, errp);
    }
    if (g_str_has_prefix(uri, "fd:")) {
        int fd = migration_fd_param(uri + 3, errp);

        return fd >= 0 &&
               deliver(fn, peer_channel(mig_channel_new_fd(fd,
                                                           "migration-fd")),
                       threaded);
    }
    if (g_str_has_prefix(uri, "exec:")) {
        MigChannel *c = peer_channel(spawn_exec(uri + 5, false, errp));

        return c && deliver(fn, c, threaded);
    }
    if (g_str_has_prefix(uri, "file:")) {
        g_autofree char *path = NULL;
        uint64_t offset;
        MigChannel *c;
        int fd;

        if (!parse_file_uri(uri + 5, &path, &offset, errp)) {
            return false;
        }
        if (migration_tls_enabled()) {
            error_setg(errp, "TLS cannot be used with a file: migration "
                       "(tls-creds is set)");
            return false;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            error_setg_errno(errp, errno, "Could not open '%s'", path);
            return false;
        }
        c = mig_channel_new_fd(fd, "migration-file");
        if (offset && !mig_channel_seek(c, offset, errp)) {
            mig_channel_unref(c);
            return false;
        }
        return deliver(fn, c, threaded);
    }
    error_setg(errp, "unknown migration protocol: %s", uri);
    return false;
}

char *migration_incoming_address(void)
{
    listener_init();
    QEMU_LOCK_GUARD(&listener.lock);
    return g_strdup(listener.bound);
}

void migration_incoming_unlisten(void)
{
    listener_init();
    listener_stop_thread();
    qemu_mutex_lock(&listener.lock);
    listener_close();
    listener_stop_handshakes();
    qemu_mutex_unlock(&listener.lock);
}
