/*
 * fuzz-multifd.c: fuzz target "multifd" — arbitrary bytes as one of a
 * destination's multifd connections.
 *
 * Design note
 *
 * A multifd connection (migration/multifd-recv.c) is read by a thread of
 * its own, straight into guest memory: its hello names a channel, then
 * each packet header names a RAMBlock, up to 128 page offsets and a
 * payload (raw pages, or a zlib / zstd stream that goes on across
 * packets).  Every count, offset and length comes from the wire.
 *
 * The first byte of an input picks the compression (0 none, 1 zlib,
 * 2 zstd; anything else: none); the rest is the connection, read by the
 * real code: multifd_recv_accept() peeks at it and checks the hello, its
 * channel thread reads packets, and this harness plays the RAM loader,
 * releasing each barrier (multifd_recv_sync()) until the connection ends.
 * A clean end at a packet boundary ("closed by the source before the
 * barrier") counts as accepted, anything else as refused; either way an
 * error must come with an Error, and nothing may crash or leak.  Guest
 * RAM is that of "ferry -M none -m 64M", one channel.
 *
 * Seeds: a hello and packets as ferry's sender lays them out — raw pages,
 * a barrier, pages and zero pages as QEMU 9.0+ lists them, and the same
 * pages through zlib and zstd streams.
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "qapi/error.h"
#include "migration/channel.h"
#include "migration/qemu-file.h"
#include "migration/multifd.h"
#include "migration/options.h"
#include "exec/ramblock.h"
#include "hw/boards.h"
#include "qemu/main-loop.h"
#include <zlib.h>
#include <zstd.h>

#define FUZZ_RAM_SIZE (64ull << 20)

static const char *const methods[] = { "none", "zlib", "zstd" };

static int fuzz_multifd_run(const uint8_t *data, size_t size, char **why)
{
    const char *comp = size && data[0] < 3 ? methods[data[0]] : "none";
    MultiFDRecvState *mr;
    MultiFDChannelKind kind;
    MigChannel *ioc;
    QEMUFile *f;
    Error *err = NULL;
    int ret = 1;

    if (!size) {
        return 1;
    }
    if (!migrate_set_global_property("multifd-compression", comp, &err)) {
        fuzz_setup_failed("multifd-compression", error_get_pretty(err));
    }
    ioc = mig_channel_new_buffer(data + 1, size - 1, "fuzz-multifd");
    f = qemu_file_new_input(ioc);
    mig_channel_unref(ioc);
    mr = multifd_recv_new();
    kind = multifd_recv_accept(mr, f, &err);
    if (kind == MULTIFD_CHANNEL_MAIN) {
        qemu_fclose(f);
        error_setg(&err, "a main channel");
    } else if (kind == MULTIFD_CHANNEL_REFUSED && !err) {
        fuzz_finding("a refused connection without an Error");
    } else if (kind == MULTIFD_CHANNEL_MULTIFD) {
        int r;

        while ((r = multifd_recv_sync(mr, false, &err)) == 0) {
            /* a barrier passed: on to the next */
        }
        if (!err) {
            fuzz_finding("multifd_recv_sync() returned %d without an Error",
                         r);
        }
        ret = strstr(error_get_pretty(err), "closed by the source") ? 0 : 1;
    }
    multifd_recv_free(mr);
    if (err && why) {
        g_free(*why);
        *why = g_strdup(error_get_pretty(err));
    }
    error_free(err);
    return ret;
}

static void fuzz_multifd_init(void)
{
    Error *err = NULL;

    qemu_init_host_page();
    fuzz_setup_trace();
    qemu_main_loop_init();
    machine_register_builtin();
    fuzz_machine_create("none", FUZZ_RAM_SIZE);
    if (!migrate_set_global_property("multifd-channels", "1", &err) ||
        !migrate_set_global_property("x-multifd", "on", &err)) {
        fuzz_setup_failed("multifd", error_get_pretty(err));
    }
    bql_unlock();
}

/* ---- seeds ---- */

static void put_packet(GByteArray *out, uint32_t flags, unsigned normal,
                       unsigned zero, const uint64_t *offsets,
                       const uint8_t *payload, uint32_t len)
{
    MultiFDHeader h = {
        .magic = MULTIFD_MAGIC,
        .version = MULTIFD_VERSION,
        .flags = flags,
        .pages_alloc = MULTIFD_PAGES_MAX,
        .normal_pages = normal,
        .zero_pages = zero,
        .next_packet_size = len,
    };
    uint8_t hdr[MULTIFD_HEADER_SIZE];

    g_strlcpy(h.ramblock, "ram", sizeof(h.ramblock));
    memcpy(h.offset, offsets, (normal + zero) * sizeof(offsets[0]));
    multifd_header_encode(&h, hdr);
    g_byte_array_append(out, hdr, sizeof(hdr));
    if (len) {
        g_byte_array_append(out, payload, len);
    }
}

static GByteArray *seed_start(uint8_t method)
{
    GByteArray *out = g_byte_array_new();
    uint8_t hello[MULTIFD_HELLO_SIZE];

    g_byte_array_append(out, &method, 1);
    multifd_hello_encode(0, hello);
    g_byte_array_append(out, hello, sizeof(hello));
    return out;
}

static void fuzz_multifd_seeds(FuzzSeedFn add, void *opaque)
{
    static const uint64_t offs[4] = { 0x1000, 0x3000, 0x8000, 0x9000 };
    uint8_t pages[2 * 4096];
    uint8_t z[4 * 4096];
    GByteArray *out;

    for (size_t i = 0; i < sizeof(pages); i++) {
        pages[i] = (i * 7 + i / 4096) & 0xff;
    }

    /* Raw pages, a barrier, pages with zero pages (9.0+), a barrier. */
    out = seed_start(0);
    put_packet(out, 0, 2, 0, offs, pages, sizeof(pages));
    put_packet(out, MULTIFD_FLAG_SYNC, 0, 0, offs, NULL, 0);
    put_packet(out, 0, 2, 2, offs, pages, sizeof(pages));
    put_packet(out, MULTIFD_FLAG_SYNC, 0, 0, offs, NULL, 0);
    add("none", out->data, out->len, opaque);
    g_byte_array_free(out, true);

    /* zlib: one stream, flushed at each packet. */
    {
        z_stream zs = { 0 };
        uint32_t len;

        out = seed_start(1);
        deflateInit(&zs, 1);
        for (int pkt = 0; pkt < 2; pkt++) {
            zs.next_in = pages;
            zs.avail_in = sizeof(pages);
            zs.next_out = z;
            zs.avail_out = sizeof(z);
            deflate(&zs, Z_SYNC_FLUSH);
            len = sizeof(z) - zs.avail_out;
            put_packet(out, MULTIFD_FLAG_ZLIB, 2, 0, offs + 2 * pkt, z, len);
        }
        deflateEnd(&zs);
        put_packet(out, MULTIFD_FLAG_SYNC, 0, 0, offs, NULL, 0);
        add("zlib", out->data, out->len, opaque);
        g_byte_array_free(out, true);
    }

    /* zstd: one stream, flushed at each packet. */
    {
        ZSTD_CStream *cs = ZSTD_createCStream();

        out = seed_start(2);
        ZSTD_initCStream(cs, 1);
        for (int pkt = 0; pkt < 2; pkt++) {
            ZSTD_inBuffer ib = { pages, sizeof(pages), 0 };
            ZSTD_outBuffer ob = { z, sizeof(z), 0 };

            while (ZSTD_compressStream2(cs, &ob, &ib, ZSTD_e_flush)) {
                /* until flushed */
            }
            put_packet(out, MULTIFD_FLAG_ZSTD, 2, 0, offs + 2 * pkt, z,
                       ob.pos);
        }
        ZSTD_freeCStream(cs);
        put_packet(out, MULTIFD_FLAG_SYNC, 0, 0, offs, NULL, 0);
        add("zstd", out->data, out->len, opaque);
        g_byte_array_free(out, true);
    }
}

const FuzzTarget fuzz_target = {
    .name = "multifd",
    .init = fuzz_multifd_init,
    .run = fuzz_multifd_run,
    .make_seeds = fuzz_multifd_seeds,
};
