/*
 * qemu-file.c: buffered, error-sticky migration streams.
 *
 * Write side: puts go to buf, and each run of buffered bytes or external
 * (async) data is one iovec; qemu_fflush() writev()s them all.  Read side:
 * buf holds [buf_index, buf_len) unread bytes from stream offset pos;
 * large gets bypass it and read straight into the caller's memory.
 *
 * Hold (qemu_file_hold()): while held, nothing goes to the channel; puts
 * go to a growing buffer (hold_buf) and a growing list of pieces
 * (hold_pieces: runs of hold_buf by offset, or external data by address),
 * sent in order on release.  For what is written under the BQL, which
 * must never wait for the peer.
 */
#include "qemu/osdep.h"
#include "qemu-file.h"
#include "qemu/atomic.h"
#include "trace.h"

#define IO_BUF_SIZE    (256 * 1024)
#define MAX_IOV_SIZE   512

struct QEMUFile {
    MigChannel *ioc;
    bool is_writable;

    uint8_t *buf;
    size_t buf_index;       /* write: bytes buffered; read: read cursor */
    size_t buf_len;         /* read: bytes valid in buf */
    uint64_t pos;           /* read: stream offset of buf[0] */
    size_t read_chunk;      /* read: largest single read */

    struct iovec iov[MAX_IOV_SIZE];
    unsigned iovcnt;

    /*
     * Counters: the thread using the file changes them, any thread may
     * read them (the migration thread reads the main channel's while the
     * return-path thread writes pages on it): atomic.
     */
    uint64_t total_transferred;
    uint64_t written;       /* write: bytes the channel took */
    uint64_t rate_limit_max;        /* atomic */
    uint64_t rate_limit_used;       /* atomic */

    /*
     * The first error.  Any thread may record it (set_error()) or read
     * it: the recorder that claims it writes obj and io, then publishes
     * last_error (release); a reader that sees it (acquire) sees them.
     */
    int error_claimed;      /* atomic */
    int last_error;         /* atomic */
    Error *last_error_obj;
    bool last_error_io;     /* the channel failed (see the header) */

    bool hold;
    GByteArray *hold_buf;
    GArray *hold_pieces;    /* HoldPiece */
};

typedef struct HoldPiece {
    const uint8_t *ext;     /* external data, or NULL: hold_buf at off */
    size_t off;
    size_t len;
} HoldPiece;

static QEMUFile *qemu_file_new(MigChannel *ioc, bool writable)
{
    QEMUFile *f = g_new0(QEMUFile, 1);

    f->ioc = mig_channel_ref(ioc);
    f->is_writable = writable;
    f->buf = g_malloc(IO_BUF_SIZE);
    f->read_chunk = IO_BUF_SIZE;
    return f;
}

QEMUFile *qemu_file_new_input(MigChannel *ioc)
{
    return qemu_file_new(ioc, false);
}

QEMUFile *qemu_file_new_output(MigChannel *ioc)
{
    return qemu_file_new(ioc, true);
}

QEMUFile *qemu_file_get_return_path(QEMUFile *f)
{
    return qemu_file_new(f->ioc, !f->is_writable);
}

MigChannel *qemu_file_get_ioc(QEMUFile *f)
{
    return f->ioc;
}

static inline int file_error(QEMUFile *f)
{
    return qatomic_load_acquire(&f->last_error);
}

int qemu_file_get_error(QEMUFile *f)
{
    return file_error(f);
}

int qemu_file_get_error_obj(QEMUFile *f, Error **errp)
{
    if (file_error(f) && errp) {
        if (f->last_error_obj) {
            *errp = error_copy(f->last_error_obj);
        } else {
            error_setg_errno(errp, -file_error(f), "stream error");
        }
    }
    return file_error(f);
}

static void set_error(QEMUFile *f, int ret, Error *err, bool io)
{
    if (ret && !qatomic_xchg(&f->error_claimed, 1)) {
        trace_qemu_file_set_error(ret, io, err ? error_get_pretty(err) : "");
        f->last_error_obj = err;
        f->last_error_io = io;
        /* (From here a reader may see it, and free it with the file.) */
        qatomic_store_release(&f->last_error, ret);
    } else {
        error_free(err);
    }
}

void qemu_file_set_error_obj(QEMUFile *f, int ret, Error *err)
{
    set_error(f, ret, err, false);
}

/* Only the channel I/O below records errors of the I/O class. */
static void set_io_error(QEMUFile *f, int ret, Error *err)
{
    set_error(f, ret, err, true);
}

bool qemu_file_error_is_io(QEMUFile *f)
{
    return file_error(f) && f->last_error_io;
}

void qemu_file_set_error(QEMUFile *f, int ret)
{
    qemu_file_set_error_obj(f, ret, NULL);
}

void qemu_file_set_read_chunk(QEMUFile *f, size_t bytes)
{
    f->read_chunk = MAX(bytes, 1);
}

size_t qemu_file_read_buffered(QEMUFile *f)
{
    return f->is_writable ? 0 : f->buf_len - f->buf_index;
}

uint64_t qemu_file_tell(QEMUFile *f)
{
    return f->is_writable ? qatomic_read(&f->total_transferred)
                          : f->pos + f->buf_index;
}

void qemu_file_set_base_offset(QEMUFile *f, uint64_t base)
{
    assert(!f->is_writable && f->pos == 0 && f->buf_len == 0);
    f->pos = base;
}

void qemu_file_shutdown(QEMUFile *f)
{
    mig_channel_shutdown(f->ioc);
}

/* ---- write side ---- */

static void hold_add(QEMUFile *f, const uint8_t *ext, const uint8_t *data,
                     size_t size)
{
    HoldPiece *last = f->hold_pieces->len
                      ? &g_array_index(f->hold_pieces, HoldPiece,
                                       f->hold_pieces->len - 1) : NULL;
    HoldPiece p = { .ext = ext, .off = f->hold_buf->len, .len = size };

    if (!ext) {
        g_byte_array_append(f->hold_buf, data, size);
        if (last && !last->ext && last->off + last->len == p.off) {
            last->len += size;
            return;
        }
    } else if (last && last->ext && last->ext + last->len == ext) {
        last->len += size;
        return;
    }
    g_array_append_val(f->hold_pieces, p);
}

void qemu_fflush(QEMUFile *f)
{
    struct iovec *iov = f->iov;
    unsigned cnt = f->iovcnt;
    Error *err = NULL;

    assert(f->is_writable);
    if (f->hold) {
        return;
    }
    while (cnt && !file_error(f)) {
        ssize_t n = mig_channel_writev(f->ioc, iov, MIN(cnt, IOV_MAX), &err);

        if (n < 0) {
            set_io_error(f, -EIO, err);
            break;
        }
        qatomic_set(&f->written, f->written + n);
        /* Partial write: skip the iovecs (and part of one) that went. */
        while (cnt && (size_t)n >= iov->iov_len) {
            n -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= n;
        }
    }
    f->iovcnt = 0;
    f->buf_index = 0;
}

/* Appends (or extends) an iovec; the caller made room for one more. */
static void add_iov(QEMUFile *f, const uint8_t *p, size_t size)
{
    struct iovec *last = f->iovcnt ? &f->iov[f->iovcnt - 1] : NULL;

    if (last && (uint8_t *)last->iov_base + last->iov_len == p) {
        last->iov_len += size;
        return;
    }
    assert(f->iovcnt < MAX_IOV_SIZE);
    f->iov[f->iovcnt].iov_base = (void *)p;
    f->iov[f->iovcnt].iov_len = size;
    f->iovcnt++;
}

static void account_bytes(QEMUFile *f, size_t size)
{
    qatomic_set(&f->total_transferred, f->total_transferred + size);
    qatomic_add(&f->rate_limit_used, size);
}

void qemu_put_buffer_async(QEMUFile *f, const uint8_t *buf, size_t size)
{
    if (file_error(f) || size == 0) {
        return;
    }
    if (f->hold) {
        hold_add(f, buf, NULL, size);
        account_bytes(f, size);
        return;
    }
    if (f->iovcnt == MAX_IOV_SIZE) {
        qemu_fflush(f);
    }
    add_iov(f, buf, size);
    account_bytes(f, size);
}

void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size)
{
    if (f->hold && size && !file_error(f)) {
        hold_add(f, NULL, buf, size);
        account_bytes(f, size);
        return;
    }
    while (size && !file_error(f)) {
        size_t l;

        /*
         * Flush first when out of room: buffered bytes are referenced by
         * queued iovecs, so the buffer may only be reused after a flush.
         */
        if (f->buf_index == IO_BUF_SIZE || f->iovcnt == MAX_IOV_SIZE) {
            qemu_fflush(f);
        }
        l = MIN(size, IO_BUF_SIZE - f->buf_index);
        memcpy(f->buf + f->buf_index, buf, l);
        add_iov(f, f->buf + f->buf_index, l);
        f->buf_index += l;
        account_bytes(f, l);
        buf += l;
        size -= l;
    }
}

void qemu_put_zeroes(QEMUFile *f, size_t size)
{
    static const uint8_t zero[256];

    while (size) {
        size_t l = MIN(size, sizeof(zero));

        qemu_put_buffer(f, zero, l);
        size -= l;
    }
}

void qemu_put_byte(QEMUFile *f, int v)
{
    uint8_t b = v;

    qemu_put_buffer(f, &b, 1);
}

void qemu_put_be16(QEMUFile *f, unsigned int v)
{
    uint8_t b[2] = { v >> 8, v };

    qemu_put_buffer(f, b, 2);
}

void qemu_put_be32(QEMUFile *f, unsigned int v)
{
    uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

    qemu_put_buffer(f, b, 4);
}

void qemu_put_be64(QEMUFile *f, uint64_t v)
{
    uint8_t b[8];

    for (int i = 0; i < 8; i++) {
        b[i] = v >> (56 - 8 * i);
    }
    qemu_put_buffer(f, b, 8);
}

void qemu_put_counted_string(QEMUFile *f, const char *str)
{
    size_t len = strlen(str);

    assert(len < 256);
    qemu_put_byte(f, len);
    qemu_put_buffer(f, (const uint8_t *)str, len);
}

void qemu_file_hold(QEMUFile *f, bool hold)
{
    assert(f->is_writable);
    if (hold == f->hold) {
        return;
    }
    if (hold) {
        f->hold_buf = g_byte_array_new();
        f->hold_pieces = g_array_new(false, false, sizeof(HoldPiece));
        /* What is buffered goes first: it becomes held too. */
        for (unsigned i = 0; i < f->iovcnt; i++) {
            const uint8_t *p = f->iov[i].iov_base;
            bool internal = p >= f->buf && p < f->buf + IO_BUF_SIZE;

            hold_add(f, internal ? NULL : p, p, f->iov[i].iov_len);
        }
        f->iovcnt = 0;
        f->buf_index = 0;
        f->hold = true;
        return;
    }
    f->hold = false;
    trace_qemu_file_hold_release(f->hold_pieces->len, f->hold_buf->len);
    for (guint i = 0; i < f->hold_pieces->len && !file_error(f);) {
        struct iovec iov[MAX_IOV_SIZE];
        unsigned n = 0;

        /* In batches, through the ordinary flush (deadlines and all). */
        for (; i < f->hold_pieces->len && n < MAX_IOV_SIZE; i++, n++) {
            HoldPiece *p = &g_array_index(f->hold_pieces, HoldPiece, i);

            iov[n].iov_base = (void *)(p->ext ? p->ext
                                              : f->hold_buf->data + p->off);
            iov[n].iov_len = p->len;
        }
        memcpy(f->iov, iov, n * sizeof(iov[0]));
        f->iovcnt = n;
        qemu_fflush(f);
    }
    f->iovcnt = 0;
    f->buf_index = 0;
    g_byte_array_unref(f->hold_buf);
    g_array_free(f->hold_pieces, true);
    f->hold_buf = NULL;
    f->hold_pieces = NULL;
}

int qemu_fclose(QEMUFile *f)
{
    int ret;

    if (f->hold) {
        /* (Only after a failure: what was held is not sent.) */
        g_byte_array_unref(f->hold_buf);
        g_array_free(f->hold_pieces, true);
        f->hold = false;
        f->iovcnt = 0;
        f->buf_index = 0;
    }
    if (f->is_writable) {
        qemu_fflush(f);
    }
    ret = file_error(f);
    error_free(f->last_error_obj);
    mig_channel_unref(f->ioc);
    g_free(f->buf);
    g_free(f);
    return ret;
}

/* ---- read side ---- */

static void set_eof(QEMUFile *f)
{
    Error *err = NULL;

    error_setg(&err, "stream truncated at offset %" PRIu64,
               f->pos + f->buf_len);
    set_io_error(f, -ENODATA, err);
}

/* Reads more data; returns bytes added (0 at EOF or error). */
static size_t qemu_fill_buffer(QEMUFile *f)
{
    struct iovec iov;
    Error *err = NULL;
    ssize_t n;

    if (file_error(f)) {
        return 0;
    }
    /* Move the unread tail to the front. */
    if (f->buf_index) {
        memmove(f->buf, f->buf + f->buf_index, f->buf_len - f->buf_index);
        f->pos += f->buf_index;
        f->buf_len -= f->buf_index;
        f->buf_index = 0;
    }
    if (f->buf_len == IO_BUF_SIZE) {
        return 0;
    }
    iov.iov_base = f->buf + f->buf_len;
    iov.iov_len = MIN(IO_BUF_SIZE - f->buf_len, f->read_chunk);
    n = mig_channel_readv(f->ioc, &iov, 1, &err);
    if (n < 0) {
        set_io_error(f, -EIO, err);
        return 0;
    }
    if (n == 0) {
        set_eof(f);
        return 0;
    }
    f->buf_len += n;
    return n;
}

size_t qemu_peek_buffer(QEMUFile *f, uint8_t **buf, size_t size,
                        size_t offset)
{
    assert(!f->is_writable);
    if (size + offset > IO_BUF_SIZE) {
        return 0;
    }
    while (f->buf_len - f->buf_index < offset + size) {
        if (!qemu_fill_buffer(f)) {
            break;
        }
    }
    if (f->buf_len - f->buf_index < offset + size) {
        size_t avail = f->buf_len - f->buf_index;

        size = avail > offset ? avail - offset : 0;
    }
    *buf = f->buf + f->buf_index + offset;
    return size;
}

int qemu_peek_byte(QEMUFile *f, int offset)
{
    uint8_t *p;

    if (qemu_peek_buffer(f, &p, 1, offset) != 1) {
        return 0;
    }
    return *p;
}

void qemu_file_skip(QEMUFile *f, size_t size)
{
    while (size && !file_error(f)) {
        size_t avail = f->buf_len - f->buf_index;

        if (!avail && !qemu_fill_buffer(f)) {
            return;
        }
        avail = MIN(f->buf_len - f->buf_index, size);
        f->buf_index += avail;
        size -= avail;
    }
}

size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size)
{
    size_t done = 0;

    while (done < size && !file_error(f)) {
        size_t avail = f->buf_len - f->buf_index;

        if (avail) {
            size_t l = MIN(avail, size - done);

            memcpy(buf + done, f->buf + f->buf_index, l);
            f->buf_index += l;
            done += l;
        } else if (size - done >= IO_BUF_SIZE / 2) {
            /* Big and nothing buffered: read straight into @buf. */
            struct iovec iov = { buf + done, size - done };
            Error *err = NULL;
            ssize_t n = mig_channel_readv(f->ioc, &iov, 1, &err);

            if (n < 0) {
                set_io_error(f, -EIO, err);
            } else if (n == 0) {
                set_eof(f);
            } else {
                f->pos += n;
                done += n;
            }
        } else if (!qemu_fill_buffer(f)) {
            break;
        }
    }
    qatomic_set(&f->total_transferred, f->total_transferred + done);
    return done;
}

size_t qemu_get_bufferv(QEMUFile *f, const struct iovec *iov, int n)
{
    size_t done = 0, off = 0;
    int i = 0;

    /* What is buffered first... */
    while (i < n && f->buf_index < f->buf_len) {
        size_t l = MIN(f->buf_len - f->buf_index, iov[i].iov_len - off);

        memcpy((uint8_t *)iov[i].iov_base + off, f->buf + f->buf_index, l);
        f->buf_index += l;
        done += l;
        off += l;
        if (off == iov[i].iov_len) {
            i++;
            off = 0;
        }
    }
    /* ... then straight into the caller's memory. */
    while (i < n && !file_error(f)) {
        struct iovec local[64];
        int cnt = 0;
        Error *err = NULL;
        ssize_t r;

        for (int j = i; j < n && cnt < (int)ARRAY_SIZE(local); j++, cnt++) {
            local[cnt] = iov[j];
            if (j == i) {
                local[cnt].iov_base = (uint8_t *)iov[j].iov_base + off;
                local[cnt].iov_len -= off;
            }
        }
        r = mig_channel_readv(f->ioc, local, cnt, &err);
        if (r < 0) {
            set_io_error(f, -EIO, err);
            break;
        }
        if (r == 0) {
            set_eof(f);
            break;
        }
        f->pos += r;
        done += r;
        while (r && i < n) {
            size_t l = MIN((size_t)r, iov[i].iov_len - off);

            r -= l;
            off += l;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
    }
    qatomic_set(&f->total_transferred, f->total_transferred + done);
    return done;
}

size_t qemu_get_buffer_in_place(QEMUFile *f, uint8_t **buf, size_t size)
{
    if (size <= IO_BUF_SIZE) {
        uint8_t *p;
        size_t got = qemu_peek_buffer(f, &p, size, 0);

        if (got == size) {
            *buf = p;
            f->buf_index += size;
            qatomic_set(&f->total_transferred,
                        f->total_transferred + size);
            return size;
        }
    }
    return qemu_get_buffer(f, *buf, size);
}

int qemu_get_byte(QEMUFile *f)
{
    uint8_t b = 0;

    if (f->buf_index < f->buf_len) {
        qatomic_set(&f->total_transferred, f->total_transferred + 1);
        return f->buf[f->buf_index++];
    }
    qemu_get_buffer(f, &b, 1);
    return b;
}

unsigned int qemu_get_be16(QEMUFile *f)
{
    uint8_t b[2] = { 0 };

    qemu_get_buffer(f, b, 2);
    return b[0] << 8 | b[1];
}

unsigned int qemu_get_be32(QEMUFile *f)
{
    uint8_t b[4] = { 0 };

    qemu_get_buffer(f, b, 4);
    return (unsigned)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
}

uint64_t qemu_get_be64(QEMUFile *f)
{
    uint8_t b[8] = { 0 };
    uint64_t v = 0;

    qemu_get_buffer(f, b, 8);
    for (int i = 0; i < 8; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

size_t qemu_get_counted_string(QEMUFile *f, char buf[256])
{
    size_t len = qemu_get_byte(f);
    size_t got = qemu_get_buffer(f, (uint8_t *)buf, len);

    buf[got] = '\0';
    return got == len ? len : 0;
}

/* ---- accounting ---- */

uint64_t qemu_file_written(QEMUFile *f)
{
    return qatomic_read(&f->written);
}

uint64_t qemu_file_total_transferred(QEMUFile *f)
{
    return qatomic_read(&f->total_transferred);
}

void qemu_file_set_rate_limit(QEMUFile *f, uint64_t limit)
{
    qatomic_set(&f->rate_limit_max, limit);
}

uint64_t qemu_file_get_rate_limit(QEMUFile *f)
{
    return qatomic_read(&f->rate_limit_max);
}

bool qemu_file_rate_limit(QEMUFile *f)
{
    uint64_t max = qatomic_read(&f->rate_limit_max);

    if (file_error(f)) {
        return true;
    }
    return max && qatomic_read(&f->rate_limit_used) >= max;
}

void qemu_file_reset_rate_limit(QEMUFile *f)
{
    qatomic_set(&f->rate_limit_used, 0);
}

void qemu_file_acct_rate_limit(QEMUFile *f, uint64_t len)
{
    qatomic_add(&f->rate_limit_used, len);
}
