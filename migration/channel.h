/*
 * channel.h: byte channels under a QEMUFile (a small QIOChannel).
 *
 * A channel is a pair of file descriptors (one socket for both
 * directions, two pipes for exec:, a file) or a memory buffer (PACKAGED
 * blobs, fuzzing, unit tests).  I/O is blocking; shutdown() wakes every
 * thread blocked on the channel, which is how cancel and pause interrupt
 * a migration.  Channels are reference counted: the main stream and the
 * return path share one.
 */
#ifndef MIGRATION_CHANNEL_H
#define MIGRATION_CHANNEL_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <sys/uio.h>

typedef struct MigChannel MigChannel;

/* A socket or file: reads and writes go to @fd.  Takes ownership. */
MigChannel *mig_channel_new_fd(int fd, const char *name);
/* Reads from @rfd, writes to @wfd (exec: pipes); @pid reaped on close. */
MigChannel *mig_channel_new_pipes(int rfd, int wfd, pid_t pid,
                                  const char *name);
/* Read-only view of @data (not copied: must outlive the channel). */
MigChannel *mig_channel_new_buffer(const uint8_t *data, size_t len,
                                   const char *name);
/* Write-only growable memory buffer; see mig_channel_buffer_data(). */
MigChannel *mig_channel_new_writer(const char *name);
const uint8_t *mig_channel_buffer_data(MigChannel *c, size_t *len);

MigChannel *mig_channel_ref(MigChannel *c);
void mig_channel_unref(MigChannel *c);
const char *mig_channel_name(MigChannel *c);

/*
 * Blocking vectored I/O.  readv returns 0 at end of stream; both return
 * -1 with *errp set on error (including after shutdown).
 */
ssize_t mig_channel_readv(MigChannel *c, const struct iovec *iov, int n,
                          Error **errp);
ssize_t mig_channel_writev(MigChannel *c, const struct iovec *iov, int n,
                           Error **errp);
/* Wakes blocked readers and writers; later I/O fails.  Thread-safe. */
void mig_channel_shutdown(MigChannel *c);
bool mig_channel_is_shut_down(MigChannel *c);
/*
 * Sockets: limits the bytes the kernel queues for sending (SO_SNDBUF).
 * Postcopy keeps this small so a requested page does not wait behind a
 * long queue of background pages.  No-op for other channels.
 */
void mig_channel_set_send_queue(MigChannel *c, int bytes);
/*
 * Deadlines, in ms (0: none; -1: leave as it is): a read or write that
 * makes no progress for that long fails with ETIMEDOUT.  Sockets and
 * pipes only.  Thread-safe; applies from the next call on.
 */
void mig_channel_set_timeouts(MigChannel *c, int64_t read_ms,
                              int64_t write_ms);
/* Whether a deadline passed on @c (then its link is gone). */
bool mig_channel_timed_out(MigChannel *c);
/* The fd to poll for readability, or -1 for memory channels. */
int mig_channel_read_fd(MigChannel *c);
/*
 * A layer over a socket or pipes channel (TLS: migration/tls.c): from
 * the moment it is set, mig_channel_readv/writev go through it, and it
 * reaches the wire with mig_channel_raw_readv/writev (same contract,
 * deadlines and shutdown included).  Set once, before the channel is
 * shared with another thread; @free runs with the channel's last unref.
 */
typedef struct MigChannelLayer {
    ssize_t (*readv)(void *opaque, const struct iovec *iov, int n,
                     Error **errp);
    ssize_t (*writev)(void *opaque, const struct iovec *iov, int n,
                      Error **errp);
    void (*free)(void *opaque);
} MigChannelLayer;

void mig_channel_set_layer(MigChannel *c, const MigChannelLayer *layer,
                           void *opaque);
bool mig_channel_has_layer(MigChannel *c);
ssize_t mig_channel_raw_readv(MigChannel *c, const struct iovec *iov, int n,
                              Error **errp);
ssize_t mig_channel_raw_writev(MigChannel *c, const struct iovec *iov, int n,
                               Error **errp);
/*
 * Read deadline in ms now (0: none), for a layer that changes it for a
 * while (a handshake) and puts it back.
 */
int64_t mig_channel_read_timeout(MigChannel *c);
/* Seekable channels (file:): set the position for the next I/O. */
bool mig_channel_seek(MigChannel *c, uint64_t offset, Error **errp);

#endif
