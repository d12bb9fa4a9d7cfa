/*
 * migration-relay.c: see migration-relay.h.
 *
 * One thread polls the listening socket, a control eventfd and both ends
 * of every connection.  Sockets are non-blocking; each direction has a
 * buffer, and a side is read only while its buffer is empty, so a slow
 * reader pushes back on the writer through the kernel, as a real link
 * does.  A stall simply stops polling the connections: their data stays
 * in the kernel's buffers and nobody learns anything.
 */
#include "migration-relay.h"
#include "libqtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RELAY_BUF   (64 * 1024)
#define RELAY_MAX   8

typedef struct Dir {
    int from, to;
    char buf[RELAY_BUF];
    size_t len, off;
} Dir;

typedef struct Conn {
    int src_fd, dst_fd;             /* -1 when closed */
    Dir up, down;                   /* up: source -> destination */
} Conn;

struct Relay {
    GThread *thread;
    /* The controls below (not a GMutex: TSan cannot see its futex). */
    pthread_mutex_t lock;
    bool stall, cut, quit;
    uint64_t cut_after;
    unsigned cut_one;               /* 1 + index of a connection to close */
    int efd;                        /* wakes the thread */
    int lfd;
    char *target;
    char *path;
    Conn conns[RELAY_MAX];
    unsigned nconns;                /* thread; read under lock */
    uint64_t up_bytes;              /* thread; read under lock */
};

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int unix_socket(const char *path, bool listen_on)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(a.sun_path));
    strcpy(a.sun_path, path);
    if (listen_on) {
        unlink(path);
        g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
        g_assert_cmpint(listen(fd, 8), ==, 0);
    } else if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void conn_close(Conn *c)
{
    if (c->src_fd >= 0) {
        close(c->src_fd);
        c->src_fd = -1;
    }
    if (c->dst_fd >= 0) {
        close(c->dst_fd);
        c->dst_fd = -1;
    }
}

static void relay_kick(Relay *r)
{
    uint64_t one = 1;
    ssize_t n = write(r->efd, &one, sizeof(one));

    (void)n;
}

/* Moves what it can in one direction; false when a side closed. */
static bool dir_pump(Dir *d, short revents_from, short revents_to,
                     uint64_t *count)
{
    if (!d->len && (revents_from & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(d->from, d->buf, sizeof(d->buf));

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return false;
        }
        if (n > 0) {
            d->len = n;
            d->off = 0;
            if (count) {
                *count += n;
            }
        }
    }
    if (d->len && (revents_to & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t n = write(d->to, d->buf + d->off, d->len - d->off);

        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        }
        if (n > 0) {
            d->off += n;
            if (d->off == d->len) {
                d->len = 0;
            }
        }
    }
    return true;
}

static gpointer relay_thread(gpointer opaque)
{
    Relay *r = opaque;

    for (;;) {
        struct pollfd p[2 + 2 * RELAY_MAX];
        unsigned np = 0;
        bool stall, cut, quit;
        uint64_t cut_after;

        pthread_mutex_lock(&r->lock);
        stall = r->stall;
        cut = r->cut;
        quit = r->quit;
        cut_after = r->cut_after;
        r->cut = false;
        if (r->cut_one && r->cut_one <= r->nconns) {
            conn_close(&r->conns[r->cut_one - 1]);
            r->cut_one = 0;
        }
        pthread_mutex_unlock(&r->lock);
        if (quit) {
            break;
        }
        if (cut || (cut_after && r->up_bytes >= cut_after)) {
            for (unsigned i = 0; i < r->nconns; i++) {
                conn_close(&r->conns[i]);
            }
            if (cut_after && r->up_bytes >= cut_after) {
                pthread_mutex_lock(&r->lock);
                r->cut_after = 0;
                pthread_mutex_unlock(&r->lock);
            }
        }
        p[np++] = (struct pollfd){ .fd = r->efd, .events = POLLIN };
        p[np++] = (struct pollfd){ .fd = r->lfd, .events = POLLIN };
        for (unsigned i = 0; i < r->nconns && !stall; i++) {
            Conn *c = &r->conns[i];

            if (c->src_fd < 0) {
                continue;
            }
            p[np++] = (struct pollfd){
                .fd = c->src_fd,
                .events = (c->up.len ? 0 : POLLIN) |
                          (c->down.len ? POLLOUT : 0) };
            p[np++] = (struct pollfd){
                .fd = c->dst_fd,
                .events = (c->down.len ? 0 : POLLIN) |
                          (c->up.len ? POLLOUT : 0) };
        }
        if (poll(p, np, -1) < 0) {
            continue;
        }
        if (p[0].revents) {
            uint64_t v;
            ssize_t n = read(r->efd, &v, sizeof(v));

            (void)n;
        }
        if ((p[1].revents & POLLIN) && r->nconns < RELAY_MAX) {
            int sfd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
            int dfd = sfd >= 0 ? unix_socket(r->target, false) : -1;

            if (dfd < 0) {
                if (sfd >= 0) {
                    close(sfd);
                }
            } else {
                Conn *c = &r->conns[r->nconns];

                memset(c, 0, sizeof(*c));
                c->src_fd = sfd;
                c->dst_fd = dfd;
                c->up.from = sfd;
                c->up.to = dfd;
                c->down.from = dfd;
                c->down.to = sfd;
                set_nonblock(sfd);
                set_nonblock(dfd);
                pthread_mutex_lock(&r->lock);
                r->nconns++;
                pthread_mutex_unlock(&r->lock);
            }
        }
        for (unsigned i = 0, k = 2; i < r->nconns && !stall; i++) {
            Conn *c = &r->conns[i];
            short sre, dre;
            uint64_t up = r->up_bytes;

            if (c->src_fd < 0) {
                continue;
            }
            if (k + 1 >= np || p[k].fd != c->src_fd) {
                break;              /* accepted during this round */
            }
            sre = p[k].revents;
            dre = p[k + 1].revents;
            k += 2;
            if (!dir_pump(&c->up, sre, dre, &up) ||
                !dir_pump(&c->down, dre, sre, NULL)) {
                conn_close(c);
            }
            pthread_mutex_lock(&r->lock);
            r->up_bytes = up;
            pthread_mutex_unlock(&r->lock);
        }
    }
    for (unsigned i = 0; i < r->nconns; i++) {
        conn_close(&r->conns[i]);
    }
    return NULL;
}

Relay *relay_new(const char *listen_path, const char *target_path)
{
    Relay *r = g_new0(Relay, 1);

    pthread_mutex_init(&r->lock, NULL);
    r->efd = eventfd(0, EFD_CLOEXEC);
    r->lfd = unix_socket(listen_path, true);
    r->path = g_strdup(listen_path);
    r->target = g_strdup(target_path);
    r->thread = g_thread_new("relay", relay_thread, r);
    return r;
}

void relay_cut(Relay *r)
{
    pthread_mutex_lock(&r->lock);
    r->cut = true;
    pthread_mutex_unlock(&r->lock);
    relay_kick(r);
}

void relay_stall(Relay *r, bool stall)
{
    pthread_mutex_lock(&r->lock);
    r->stall = stall;
    pthread_mutex_unlock(&r->lock);
    relay_kick(r);
}

void relay_cut_one(Relay *r, unsigned index)
{
    pthread_mutex_lock(&r->lock);
    r->cut_one = index + 1;
    pthread_mutex_unlock(&r->lock);
    relay_kick(r);
}

void relay_cut_after(Relay *r, uint64_t bytes)
{
    pthread_mutex_lock(&r->lock);
    r->cut_after = bytes;
    pthread_mutex_unlock(&r->lock);
    relay_kick(r);
}

unsigned relay_connections(Relay *r)
{
    unsigned n;

    pthread_mutex_lock(&r->lock);
    n = r->nconns;
    pthread_mutex_unlock(&r->lock);
    return n;
}

uint64_t relay_bytes_from_source(Relay *r)
{
    uint64_t n;

    pthread_mutex_lock(&r->lock);
    n = r->up_bytes;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void relay_free(Relay *r)
{
    pthread_mutex_lock(&r->lock);
    r->quit = true;
    pthread_mutex_unlock(&r->lock);
    relay_kick(r);
    g_thread_join(r->thread);
    close(r->lfd);
    close(r->efd);
    unlink(r->path);
    g_free(r->path);
    g_free(r->target);
    pthread_mutex_destroy(&r->lock);
    g_free(r);
}
