/*
 * channel.c: blocking byte channels with a thread-safe shutdown and
 * deadlines.
 *
 * Sockets are woken with shutdown(2).  Pipes cannot be: they are
 * non-blocking, and pipe I/O polls the fd together with an eventfd that
 * shutdown signals, so that no call sleeps in read(2) or write(2).
 * Sockets do not sleep there either: they are read and written with
 * MSG_DONTWAIT and waited for in poll(2), which only wakes for what it
 * waits for (see mig_channel_raw_readv()).
 * Regular files never block for long.  Memory channels serve PACKAGED
 * blobs, the fuzzer and unit tests.
 *
 * Deadlines (sockets and pipes): with a read or write timeout set, a call
 * that makes no progress for that long fails with ETIMEDOUT — the peer
 * sent nothing, or took nothing (its receive window stayed closed, its
 * pipe stayed full).  A write never blocks past it: sockets are written
 * with MSG_DONTWAIT, pipes are non-blocking, and both are polled for
 * room in between.  This is how a silent link is told from a slow one
 * (x-link-timeout, docs/system/migration.rst).
 *
 * A layer (TLS, channel-tls.c) may sit between the channel's users and
 * its raw I/O: it reads and writes through mig_channel_raw_*(), so it
 * keeps the deadlines and the shutdown of a plain channel.
 */
#include "qemu/osdep.h"
#include "channel.h"
#include "qemu/atomic.h"
#include "trace.h"
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/*
 * How long an exec: command may take to end once its pipes are closed
 * (it has its input's EOF) before it is terminated; none if the channel
 * was shut down (a cancel or a failure: what it does no longer matters;
 * a migration that succeeds does not shut its channels down).
 */
#define EXEC_EXIT_MS    10000
#define EXEC_TERM_MS    1000

typedef enum {
    CHAN_FD,
    CHAN_PIPES,
    CHAN_BUF_READ,
    CHAN_BUF_WRITE,
} ChanKind;

struct MigChannel {
    int refcnt;             /* atomic */
    char *name;
    ChanKind kind;
    int rfd, wfd;
    bool is_socket;
    int shut_efd;           /* pipes: signalled by shutdown */
    int fifo_flags;         /* fd: FIFO's file flags to restore, or -1 */
    pid_t pid;
    int shut;               /* atomic */
    int64_t read_timeout_ms;    /* atomic; 0: none */
    int64_t write_timeout_ms;   /* atomic; 0: none */
    int timed_out;              /* atomic: a deadline passed (sticky) */
    const uint8_t *rbuf;
    size_t rlen, rpos;
    GByteArray *wbuf;
    /* A layer (TLS), set once before the channel is shared. */
    const MigChannelLayer *layer;
    void *layer_opaque;
};

static MigChannel *chan_new(ChanKind kind, const char *name)
{
    MigChannel *c = g_new0(MigChannel, 1);

    c->refcnt = 1;
    c->kind = kind;
    c->name = g_strdup(name);
    c->rfd = c->wfd = c->shut_efd = -1;
    c->fifo_flags = -1;
    return c;
}

MigChannel *mig_channel_new_fd(int fd, const char *name)
{
    MigChannel *c = chan_new(CHAN_FD, name);
    struct stat st;

    c->rfd = c->wfd = fd;
    c->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    if (!c->is_socket && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
        c->kind = CHAN_PIPES;
        c->shut_efd = eventfd(0, EFD_CLOEXEC);
        /* (Others may share the file description: given back as it was.) */
        c->fifo_flags = fcntl(fd, F_GETFL);
    }
    qemu_set_nonblock(fd, c->kind == CHAN_PIPES);
    return c;
}

MigChannel *mig_channel_new_pipes(int rfd, int wfd, pid_t pid,
                                  const char *name)
{
    MigChannel *c = chan_new(CHAN_PIPES, name);

    c->rfd = rfd;
    c->wfd = wfd;
    c->pid = pid;
    c->shut_efd = eventfd(0, EFD_CLOEXEC);
    if (rfd >= 0) {
        qemu_set_nonblock(rfd, true);
    }
    if (wfd >= 0) {
        qemu_set_nonblock(wfd, true);
    }
    return c;
}

MigChannel *mig_channel_new_buffer(const uint8_t *data, size_t len,
                                   const char *name)
{
    MigChannel *c = chan_new(CHAN_BUF_READ, name);

    c->rbuf = data;
    c->rlen = len;
    return c;
}

MigChannel *mig_channel_new_writer(const char *name)
{
    MigChannel *c = chan_new(CHAN_BUF_WRITE, name);

    c->wbuf = g_byte_array_new();
    return c;
}

const uint8_t *mig_channel_buffer_data(MigChannel *c, size_t *len)
{
    assert(c->kind == CHAN_BUF_WRITE);
    *len = c->wbuf->len;
    return c->wbuf->data;
}

MigChannel *mig_channel_ref(MigChannel *c)
{
    qatomic_inc(&c->refcnt);
    return c;
}

/* Whether @pid ended within @ms (0: now); it is not reaped. */
static bool child_ended(pid_t pid, int64_t ms)
{
    siginfo_t si = { 0 };
    int pfd;

    if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        si.si_pid == pid) {
        return true;
    }
    if (!ms) {
        return false;
    }
    pfd = syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0) {
        /* (No pidfd: look again every 10 ms until the time is up.) */
        int64_t end = g_get_monotonic_time() + ms * 1000;

        while (g_get_monotonic_time() < end) {
            g_usleep(10000);
            if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                si.si_pid == pid) {
                return true;
            }
        }
        return false;
    }
    {
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        int r;

        do {
            r = poll(&p, 1, ms);
        } while (r < 0 && errno == EINTR);
        close(pfd);
        return r > 0;
    }
}

/*
 * Reaps an exec: command, terminating it if it does not end by itself
 * (QEMU terminates it at once; ferry leaves it time after a success).
 */
static void reap_command(pid_t pid, bool shut)
{
    if (!child_ended(pid, shut ? 0 : EXEC_EXIT_MS)) {
        trace_migration_exec_terminate(pid, "SIGTERM");
        kill(pid, SIGTERM);
        if (!child_ended(pid, EXEC_TERM_MS)) {
            trace_migration_exec_terminate(pid, "SIGKILL");
            kill(pid, SIGKILL);
        }
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static void chan_close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

void mig_channel_unref(MigChannel *c)
{
    if (!c || qatomic_fetch_sub(&c->refcnt, 1) != 1) {
        return;
    }
    if (c->fifo_flags >= 0) {
        fcntl(c->rfd, F_SETFL, c->fifo_flags);
    }
    if (c->wfd != c->rfd) {
        chan_close_fd(&c->wfd);
    }
    chan_close_fd(&c->rfd);
    chan_close_fd(&c->shut_efd);
    if (c->pid > 0) {
        /* exec: the command sees EOF and ends; collect it. */
        reap_command(c->pid, qatomic_read(&c->shut));
    }
    if (c->wbuf) {
        g_byte_array_unref(c->wbuf);
    }
    if (c->layer) {
        c->layer->free(c->layer_opaque);
    }
    g_free(c->name);
    g_free(c);
}

const char *mig_channel_name(MigChannel *c)
{
    return c->name;
}

bool mig_channel_is_shut_down(MigChannel *c)
{
    return qatomic_read(&c->shut);
}

void mig_channel_shutdown(MigChannel *c)
{
    if (qatomic_xchg(&c->shut, 1)) {
        return;
    }
    if (c->is_socket) {
        shutdown(c->rfd, SHUT_RDWR);
    }
    if (c->shut_efd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(c->shut_efd, &one, sizeof(one));
        (void)r;
    }
}

void mig_channel_set_send_queue(MigChannel *c, int bytes)
{
    if (c->is_socket) {
        setsockopt(c->wfd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
    }
}

void mig_channel_set_timeouts(MigChannel *c, int64_t read_ms,
                              int64_t write_ms)
{
    if (read_ms >= 0) {
        qatomic_set(&c->read_timeout_ms, read_ms);
    }
    if (write_ms >= 0) {
        qatomic_set(&c->write_timeout_ms, write_ms);
    }
}

int64_t mig_channel_read_timeout(MigChannel *c)
{
    return qatomic_read(&c->read_timeout_ms);
}

int mig_channel_read_fd(MigChannel *c)
{
    return c->kind == CHAN_FD || c->kind == CHAN_PIPES ? c->rfd : -1;
}

/*
 * Waits until @fd is ready for @ev, or the channel is shut down (pipes),
 * for at most @timeout_ms (0: for ever).  0 when ready, -ESHUTDOWN or
 * -ETIMEDOUT.
 */
static int chan_wait(MigChannel *c, int fd, short ev, int64_t timeout_ms)
{
    struct pollfd p[2] = {
        { .fd = fd, .events = ev },
        { .fd = c->shut_efd, .events = POLLIN },
    };
    int n = c->shut_efd >= 0 ? 2 : 1;
    int64_t deadline = timeout_ms ? g_get_monotonic_time() / 1000 +
                                    timeout_ms : 0;

    for (;;) {
        int wait = deadline ? MAX(deadline - g_get_monotonic_time() / 1000,
                                  0) : -1;
        int r = poll(p, n, wait);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        if (n == 2 && (p[1].revents & POLLIN)) {
            return -ESHUTDOWN;
        }
        if (r == 0) {
            return -ETIMEDOUT;
        }
        return 0;
    }
}

/*
 * What the channel is, in QEMU's I/O error messages ("Unable to write to
 * socket: Broken pipe"), which users' tooling may match.
 */
static const char *chan_what(MigChannel *c)
{
    return c->is_socket ? "socket" : c->pid > 0 ? "command" : "file";
}

bool mig_channel_timed_out(MigChannel *c)
{
    return qatomic_read(&c->timed_out);
}

static void timeout_error(MigChannel *c, Error **errp, bool reading,
                          int64_t ms)
{
    qatomic_set(&c->timed_out, 1);
    error_setg_errno(errp, ETIMEDOUT, "%s: the peer %s for %" PRId64
                     " ms (x-link-timeout)", c->name,
                     reading ? "sent nothing" : "took nothing", ms);
}

/* chan_wait(), and the error it makes if not ready: shut down or late. */
static bool chan_wait_ok(MigChannel *c, int fd, short ev, int64_t timeout_ms,
                         bool reading, Error **errp)
{
    int w = chan_wait(c, fd, ev, timeout_ms);

    if (w == -ETIMEDOUT) {
        timeout_error(c, errp, reading, timeout_ms);
        return false;
    }
    if (w < 0) {
        error_setg(errp, "%s: channel shut down", c->name);
        return false;
    }
    return true;
}

static ssize_t buf_readv(MigChannel *c, const struct iovec *iov, int n)
{
    ssize_t done = 0;

    for (int i = 0; i < n && c->rpos < c->rlen; i++) {
        size_t l = MIN(iov[i].iov_len, c->rlen - c->rpos);

        memcpy(iov[i].iov_base, c->rbuf + c->rpos, l);
        c->rpos += l;
        done += l;
    }
    return done;
}

ssize_t mig_channel_raw_readv(MigChannel *c, const struct iovec *iov, int n,
                              Error **errp)
{
    int64_t timeout = qatomic_read(&c->read_timeout_ms);
    ssize_t r;

    if (qatomic_read(&c->shut)) {
        error_setg(errp, "%s: channel shut down", c->name);
        return -1;
    }
    switch (c->kind) {
    case CHAN_BUF_READ:
        return buf_readv(c, iov, n);
    case CHAN_BUF_WRITE:
        error_setg(errp, "%s: channel is write-only", c->name);
        return -1;
    case CHAN_PIPES:
    case CHAN_FD:
        break;
    }
    for (;;) {
        if (c->kind == CHAN_PIPES) {
            if (!chan_wait_ok(c, c->rfd, POLLIN, timeout, true, errp)) {
                return -1;
            }
        }
        if (c->is_socket) {
            /*
             * A socket is read without waiting, and waited for in poll():
             * a reader asleep in read(2) is woken each time the peer
             * takes some of what this end wrote (another thread's
             * writes), a poller only for input.  A postcopy source's
             * return path woke ~9,000 times a second for nothing.
             */
            struct msghdr m = { .msg_iov = (struct iovec *)iov,
                                .msg_iovlen = n };

            r = recvmsg(c->rfd, &m, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!chan_wait_ok(c, c->rfd, POLLIN, timeout, true, errp)) {
                    return -1;
                }
                continue;
            }
        } else {
            r = readv(c->rfd, iov, n);
        }
        if (r >= 0 || (errno != EINTR && errno != EAGAIN &&
                       errno != EWOULDBLOCK)) {
            break;
        }
    }
    if (r < 0) {
        error_setg_errno(errp, errno, "Unable to read from %s",
                         chan_what(c));
        return -1;
    }
    if (r == 0 && qatomic_read(&c->shut)) {
        error_setg(errp, "%s: channel shut down", c->name);
        return -1;
    }
    return r;
}

/* A socket write that waits for room at most @timeout_ms. */
static ssize_t socket_writev_deadline(MigChannel *c, const struct iovec *iov,
                                      int n, int64_t timeout, Error **errp)
{
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };

    for (;;) {
        ssize_t r = sendmsg(c->wfd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (r >= 0) {
            return r;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            error_setg_errno(errp, errno, "Unable to write to %s",
                             chan_what(c));
            return -1;
        }
        if (qatomic_read(&c->shut)) {
            error_setg(errp, "%s: channel shut down", c->name);
            return -1;
        }
        if (!chan_wait_ok(c, c->wfd, POLLOUT, timeout, false, errp)) {
            return -1;
        }
    }
}

ssize_t mig_channel_raw_writev(MigChannel *c, const struct iovec *iov, int n,
                               Error **errp)
{
    int64_t timeout = qatomic_read(&c->write_timeout_ms);
    ssize_t r;

    if (qatomic_read(&c->shut)) {
        error_setg(errp, "%s: channel shut down", c->name);
        return -1;
    }
    switch (c->kind) {
    case CHAN_BUF_WRITE:
        r = 0;
        for (int i = 0; i < n; i++) {
            g_byte_array_append(c->wbuf, iov[i].iov_base, iov[i].iov_len);
            r += iov[i].iov_len;
        }
        return r;
    case CHAN_BUF_READ:
        error_setg(errp, "%s: channel is read-only", c->name);
        return -1;
    case CHAN_PIPES:
        break;
    case CHAN_FD:
        if (c->is_socket && timeout) {
            return socket_writev_deadline(c, iov, n, timeout, errp);
        }
        break;
    }
    for (;;) {
        if (c->kind == CHAN_PIPES &&
            !chan_wait_ok(c, c->wfd, POLLOUT, timeout, false, errp)) {
            return -1;
        }
        r = writev(c->wfd, iov, n);
        if (r >= 0 || (errno != EINTR && errno != EAGAIN &&
                       errno != EWOULDBLOCK)) {
            break;
        }
    }
    if (r < 0) {
        error_setg_errno(errp, errno, "Unable to write to %s",
                         chan_what(c));
        return -1;
    }
    return r;
}

/* ---- layers ----------------------------------------------------------- */

void mig_channel_set_layer(MigChannel *c, const MigChannelLayer *layer,
                           void *opaque)
{
    assert(!c->layer && (c->kind == CHAN_FD || c->kind == CHAN_PIPES));
    c->layer = layer;
    c->layer_opaque = opaque;
}

bool mig_channel_has_layer(MigChannel *c)
{
    return c->layer != NULL;
}

ssize_t mig_channel_readv(MigChannel *c, const struct iovec *iov, int n,
                          Error **errp)
{
    if (c->layer) {
        if (qatomic_read(&c->shut)) {
            error_setg(errp, "%s: channel shut down", c->name);
            return -1;
        }
        return c->layer->readv(c->layer_opaque, iov, n, errp);
    }
    return mig_channel_raw_readv(c, iov, n, errp);
}

ssize_t mig_channel_writev(MigChannel *c, const struct iovec *iov, int n,
                           Error **errp)
{
    if (c->layer) {
        if (qatomic_read(&c->shut)) {
            error_setg(errp, "%s: channel shut down", c->name);
            return -1;
        }
        return c->layer->writev(c->layer_opaque, iov, n, errp);
    }
    return mig_channel_raw_writev(c, iov, n, errp);
}

bool mig_channel_seek(MigChannel *c, uint64_t offset, Error **errp)
{
    if (c->kind != CHAN_FD || c->is_socket ||
        lseek(c->rfd, offset, SEEK_SET) == (off_t)-1) {
        error_setg_errno(errp, errno ? errno : ESPIPE,
                         "%s: cannot seek to %" PRIu64, c->name, offset);
        return false;
    }
    return true;
}
