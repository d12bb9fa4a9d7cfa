/*
 * multifd-compress.c: the multifd packet header and the payload methods
 * (multifd-compression none / zlib / zstd).
 *
 * Header layout (big-endian, 1344 bytes for 4 KiB pages, whatever the
 * counts say): magic, version, flags, pages_alloc, normal_pages,
 * next_packet_size (u32 each), packet_num (u64), 32 reserved bytes whose
 * first u32 is zero_pages from QEMU 9.0 on, the block name (256 bytes,
 * NUL padded), then 128 u64 page offsets: the normal pages', then the
 * zero pages'.
 *
 * zlib and zstd keep one stream per channel for the whole migration:
 * each packet is flushed (zlib Z_SYNC_FLUSH, zstd ZSTD_e_flush), never
 * ended, so a packet ends on a byte boundary and the dictionary carries
 * over into the channel's next packet.  Both ends must therefore see the
 * packets of a channel in order, which they do.  The level changes only
 * what the sender produces.
 */
#include "qemu/osdep.h"
#include "multifd.h"
#include "options.h"
#include "sysemu/sysemu.h"
#include "qemu/bswap.h"
#include <zlib.h>
#include <zstd.h>

/* ---- the header ---- */

void multifd_header_encode(const MultiFDHeader *h,
                           uint8_t out[MULTIFD_HEADER_SIZE])
{
    memset(out, 0, MULTIFD_HEADER_SIZE);
    stl_be_p(out, h->magic);
    stl_be_p(out + 4, h->version);
    stl_be_p(out + 8, h->flags);
    stl_be_p(out + 12, h->pages_alloc);
    stl_be_p(out + 16, h->normal_pages);
    stl_be_p(out + 20, h->next_packet_size);
    stq_be_p(out + 24, h->packet_num);
    stl_be_p(out + 32, h->zero_pages);
    memcpy(out + 64, h->ramblock, sizeof(h->ramblock));
    for (unsigned i = 0; i < h->normal_pages + h->zero_pages &&
                         i < MULTIFD_PAGES_MAX; i++) {
        stq_be_p(out + 320 + 8 * i, h->offset[i]);
    }
}

void multifd_header_decode(const uint8_t in[MULTIFD_HEADER_SIZE],
                           MultiFDHeader *h)
{
    h->magic = ldl_be_p(in);
    h->version = ldl_be_p(in + 4);
    h->flags = ldl_be_p(in + 8);
    h->pages_alloc = ldl_be_p(in + 12);
    h->normal_pages = ldl_be_p(in + 16);
    h->next_packet_size = ldl_be_p(in + 20);
    h->packet_num = ldq_be_p(in + 24);
    h->zero_pages = ldl_be_p(in + 32);
    memcpy(h->ramblock, in + 64, sizeof(h->ramblock));
    h->ramblock[sizeof(h->ramblock) - 1] = 0;
    for (unsigned i = 0; i < MULTIFD_PAGES_MAX; i++) {
        h->offset[i] = ldq_be_p(in + 320 + 8 * i);
    }
}

void multifd_hello_encode(uint8_t id, uint8_t out[MULTIFD_HELLO_SIZE])
{
    memset(out, 0, MULTIFD_HELLO_SIZE);
    stl_be_p(out, MULTIFD_MAGIC);
    stl_be_p(out + 4, MULTIFD_VERSION);
    memcpy(out + 8, qemu_uuid, 16);
    out[24] = id;
}

/* ---- zlib ---- */

static void *zlib_send_new(int level, Error **errp)
{
    z_stream *z = g_new0(z_stream, 1);

    if (deflateInit(z, level) != Z_OK) {
        error_setg(errp, "multifd: deflate init failed: %s",
                   z->msg ? z->msg : "?");
        g_free(z);
        return NULL;
    }
    return z;
}

static ssize_t zlib_compress(void *st, uint8_t *const *pages, unsigned n,
                             uint8_t *out, size_t cap, Error **errp)
{
    z_stream *z = st;

    z->next_out = out;
    z->avail_out = cap;
    for (unsigned i = 0; i < n; i++) {
        int flush = i == n - 1 ? Z_SYNC_FLUSH : Z_NO_FLUSH;

        z->next_in = pages[i];
        z->avail_in = TARGET_PAGE_SIZE;
        do {
            int ret = deflate(z, flush);

            if (ret != Z_OK && ret != Z_BUF_ERROR) {
                error_setg(errp, "multifd: deflate returned %d", ret);
                return -1;
            }
            if (!z->avail_out) {
                error_setg(errp, "multifd: compressed packet exceeds %zu "
                           "bytes", cap);
                return -1;
            }
        } while (z->avail_in);
    }
    return cap - z->avail_out;
}

static void zlib_send_free(void *st)
{
    deflateEnd(st);
    g_free(st);
}

static void *zlib_recv_new(Error **errp)
{
    z_stream *z = g_new0(z_stream, 1);

    if (inflateInit(z) != Z_OK) {
        error_setg(errp, "multifd: inflate init failed: %s",
                   z->msg ? z->msg : "?");
        g_free(z);
        return NULL;
    }
    return z;
}

static bool zlib_decompress(void *st, unsigned id, const uint8_t *in,
                            size_t len, uint8_t *const *pages, unsigned n,
                            Error **errp)
{
    z_stream *z = st;
    uint8_t spare;

    z->next_in = (uint8_t *)in;
    z->avail_in = len;
    for (unsigned i = 0; i < n; i++) {
        z->next_out = pages[i];
        z->avail_out = TARGET_PAGE_SIZE;
        while (z->avail_out) {
            int ret = inflate(z, Z_SYNC_FLUSH);

            if (ret == Z_BUF_ERROR || (ret == Z_OK && !z->avail_in &&
                                       z->avail_out)) {
                error_setg(errp, "multifd %u: inflate generated too few "
                           "output", id);
                return false;
            }
            if (ret != Z_OK) {
                error_setg(errp, "multifd %u: inflate returned %d instead "
                           "of Z_OK", id, ret);
                return false;
            }
        }
    }
    /* The flush marker may be left: it must produce nothing. */
    if (z->avail_in) {
        int ret;

        z->next_out = &spare;
        z->avail_out = 1;
        ret = inflate(z, Z_SYNC_FLUSH);
        if ((ret != Z_OK && ret != Z_BUF_ERROR) || !z->avail_out ||
            z->avail_in) {
            error_setg(errp, "multifd %u: packet holds more than %u pages "
                       "of compressed data", id, n);
            return false;
        }
    }
    return true;
}

static void zlib_recv_free(void *st)
{
    inflateEnd(st);
    g_free(st);
}

/* ---- zstd ---- */

static void *zstd_send_new(int level, Error **errp)
{
    ZSTD_CStream *cs = ZSTD_createCStream();
    size_t r;

    if (!cs) {
        error_setg(errp, "multifd: zstd stream could not be created");
        return NULL;
    }
    r = ZSTD_initCStream(cs, level);
    if (ZSTD_isError(r)) {
        error_setg(errp, "multifd: zstd init failed: %s",
                   ZSTD_getErrorName(r));
        ZSTD_freeCStream(cs);
        return NULL;
    }
    return cs;
}

static ssize_t zstd_compress(void *st, uint8_t *const *pages, unsigned n,
                             uint8_t *out, size_t cap, Error **errp)
{
    ZSTD_outBuffer ob = { out, cap, 0 };

    for (unsigned i = 0; i < n; i++) {
        ZSTD_inBuffer ib = { pages[i], TARGET_PAGE_SIZE, 0 };
        ZSTD_EndDirective mode = i == n - 1 ? ZSTD_e_flush : ZSTD_e_continue;
        size_t r;

        do {
            r = ZSTD_compressStream2(st, &ob, &ib, mode);
            if (ZSTD_isError(r)) {
                error_setg(errp, "multifd: zstd compression failed: %s",
                           ZSTD_getErrorName(r));
                return -1;
            }
            if (ob.pos == ob.size && (r || ib.pos < ib.size)) {
                error_setg(errp, "multifd: compressed packet exceeds %zu "
                           "bytes", cap);
                return -1;
            }
        } while (ib.pos < ib.size || (mode == ZSTD_e_flush && r));
    }
    return ob.pos;
}

static void zstd_send_free(void *st)
{
    ZSTD_freeCStream(st);
}

static void *zstd_recv_new(Error **errp)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    size_t r;

    if (!ds) {
        error_setg(errp, "multifd: zstd stream could not be created");
        return NULL;
    }
    r = ZSTD_initDStream(ds);
    if (ZSTD_isError(r)) {
        error_setg(errp, "multifd: zstd init failed: %s",
                   ZSTD_getErrorName(r));
        ZSTD_freeDStream(ds);
        return NULL;
    }
    return ds;
}

static bool zstd_decompress(void *st, unsigned id, const uint8_t *in,
                            size_t len, uint8_t *const *pages, unsigned n,
                            Error **errp)
{
    ZSTD_inBuffer ib = { in, len, 0 };
    uint8_t spare;

    for (unsigned i = 0; i < n; i++) {
        ZSTD_outBuffer ob = { pages[i], TARGET_PAGE_SIZE, 0 };

        while (ob.pos < ob.size) {
            size_t before_in = ib.pos, before_out = ob.pos;
            size_t r = ZSTD_decompressStream(st, &ob, &ib);

            if (ZSTD_isError(r)) {
                error_setg(errp, "multifd %u: zstd decompression failed: %s",
                           id, ZSTD_getErrorName(r));
                return false;
            }
            if (ib.pos == before_in && ob.pos == before_out) {
                error_setg(errp, "multifd %u: decompression generated too "
                           "few output", id);
                return false;
            }
        }
    }
    /* What is left (a block end) must produce nothing. */
    while (ib.pos < ib.size) {
        ZSTD_outBuffer ob = { &spare, 1, 0 };
        size_t before = ib.pos;
        size_t r = ZSTD_decompressStream(st, &ob, &ib);

        if (ZSTD_isError(r) || ob.pos || ib.pos == before) {
            error_setg(errp, "multifd %u: packet holds more than %u pages "
                       "of compressed data", id, n);
            return false;
        }
    }
    return true;
}

static void zstd_recv_free(void *st)
{
    ZSTD_freeDStream(st);
}

static const MultiFDMethod methods[] = {
    {
        .name = "zlib", .flag = MULTIFD_FLAG_ZLIB,
        .send_new = zlib_send_new, .compress = zlib_compress,
        .send_free = zlib_send_free, .recv_new = zlib_recv_new,
        .decompress = zlib_decompress, .recv_free = zlib_recv_free,
    },
    {
        .name = "zstd", .flag = MULTIFD_FLAG_ZSTD,
        .send_new = zstd_send_new, .compress = zstd_compress,
        .send_free = zstd_send_free, .recv_new = zstd_recv_new,
        .decompress = zstd_decompress, .recv_free = zstd_recv_free,
    },
};

const MultiFDMethod *multifd_method(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
        if (g_str_equal(methods[i].name, name)) {
            return &methods[i];
        }
    }
    return NULL;
}

uint32_t multifd_compression_flag(void)
{
    g_autofree char *name = migrate_multifd_compression();
    const MultiFDMethod *m = multifd_method(name);

    return m ? m->flag : MULTIFD_FLAG_NOCOMP;
}
