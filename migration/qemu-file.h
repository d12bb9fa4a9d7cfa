/*
 * qemu-file.h: buffered migration streams (private to migration/).
 *
 * A QEMUFile reads or writes one direction of a MigChannel.  The write
 * side gathers small puts in a buffer and sends page data straight from
 * guest memory (qemu_put_buffer_async) with writev, so RAM is not copied
 * on the source; the read side reads large chunks and hands page data out
 * in place.  Errors are sticky and carry a message; end of stream while
 * more is expected is reported as truncation (-ENODATA), distinct from
 * corruption found by the parsers (-EINVAL).
 *
 * A QEMUFile is used by one thread at a time; the rate-limit counters may
 * be reset from another thread (they are atomics).
 */
#ifndef MIGRATION_QEMU_FILE_H
#define MIGRATION_QEMU_FILE_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "migration/qemu-file-types.h"
#include "channel.h"

QEMUFile *qemu_file_new_input(MigChannel *ioc);
QEMUFile *qemu_file_new_output(MigChannel *ioc);
/* The other direction of the same channel (return path). */
QEMUFile *qemu_file_get_return_path(QEMUFile *f);
/* Flushes (output) and frees; returns the first error or 0. */
int qemu_fclose(QEMUFile *f);
MigChannel *qemu_file_get_ioc(QEMUFile *f);

/* Sends everything buffered (nothing while held). */
void qemu_fflush(QEMUFile *f);
/*
 * While held, nothing is sent: what is put (and async data, which must
 * stay valid) is kept in memory, and sent in order when released, with
 * the channel's deadlines.  For writes made under the BQL, which must
 * not wait for the peer.
 */
void qemu_file_hold(QEMUFile *f, bool hold);
/*
 * Queues @size bytes at @buf to be sent without copying; @buf must stay
 * valid until the next qemu_fflush() (guest RAM does).
 */
void qemu_put_buffer_async(QEMUFile *f, const uint8_t *buf, size_t size);
/* Counted string: u8 length + bytes (at most 255). */
void qemu_put_counted_string(QEMUFile *f, const char *name);
/*
 * Reads a counted string into @buf (256 bytes); returns its length, or 0
 * with the error set on failure.
 */
size_t qemu_get_counted_string(QEMUFile *f, char buf[256]);

/*
 * Makes @size bytes available and points *@buf at them inside the file's
 * buffer (valid until the next read); falls back to copying into @buf's
 * original target when they are not contiguous.  Returns bytes available.
 */
/* Reads exactly into @iov (straight into it once nothing is buffered). */
size_t qemu_get_bufferv(QEMUFile *f, const struct iovec *iov, int n);
size_t qemu_get_buffer_in_place(QEMUFile *f, uint8_t **buf, size_t size);
/* Peeks without consuming: @size bytes at @offset from the read cursor. */
size_t qemu_peek_buffer(QEMUFile *f, uint8_t **buf, size_t size,
                        size_t offset);
int qemu_peek_byte(QEMUFile *f, int offset);

/*
 * Reads at most @bytes from the channel at a time (default: the whole
 * buffer).  Postcopy keeps reads small so that a requested page is not
 * stuck behind a large chunk of background pages still to be placed.
 */
void qemu_file_set_read_chunk(QEMUFile *f, size_t bytes);
/* Bytes already read from the channel and not yet consumed (readers). */
size_t qemu_file_read_buffered(QEMUFile *f);

int qemu_file_get_error_obj(QEMUFile *f, Error **errp);
/*
 * Whether the first error recorded on @f came from the channel itself:
 * the peer closed or reset the connection, the stream ended early, the
 * channel was shut down, or a deadline passed.  The link may come back,
 * so postcopy pauses on such an error after RUN.  Every other error is
 * recorded by whoever found it (qemu_file_set_error*(): a parser that
 * met an invalid stream, or this side failing to do what it asked) and
 * fails the migration.  The class of the *first* error decides: a parser
 * that trips over the remains of a cut link does not change it.
 */
bool qemu_file_error_is_io(QEMUFile *f);
/* Shuts the channel down: wakes threads blocked on it. */
void qemu_file_shutdown(QEMUFile *f);

/* ---- accounting and rate limiting ---- */

/*
 * An input file cut from a bigger stream (a PACKAGED blob): its offsets,
 * in messages and qemu_file_tell(), count from @base.  Before any read.
 */
void qemu_file_set_base_offset(QEMUFile *f, uint64_t base);
/* Bytes put (written or queued) / read so far. */
uint64_t qemu_file_total_transferred(QEMUFile *f);
/*
 * Bytes the channel took so far (written side): less than
 * qemu_file_total_transferred() while some are buffered or held, or
 * after a failed write.
 */
uint64_t qemu_file_written(QEMUFile *f);
/* Bytes allowed per rate-limit window; 0 means unlimited. */
void qemu_file_set_rate_limit(QEMUFile *f, uint64_t limit);
uint64_t qemu_file_get_rate_limit(QEMUFile *f);
bool qemu_file_rate_limit(QEMUFile *f);
void qemu_file_reset_rate_limit(QEMUFile *f);
/* Charges bytes sent elsewhere (e.g. on another channel) to the limit. */
void qemu_file_acct_rate_limit(QEMUFile *f, uint64_t len);

#endif
