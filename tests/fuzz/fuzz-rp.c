/*
 * fuzz-rp.c: fuzz target "rp" — arbitrary bytes into the source's
 * return-path parser.
 *
 * Design note
 *
 * The return path is what a destination (or anything that got hold of
 * the migration socket) tells the source: page requests, received
 * bitmaps, PONGs, RESUME_ACK and SHUT.  The source parses it in its
 * return-path thread with rp_read_messages() (return-path.c), which
 * validates every length, block name, range and value before it hands a
 * message to the source's callbacks (RPReaderOps).
 *
 * fuzz_rp_init() builds, once, the RAM of "ferry -M none -m 64M" (the
 * blocks requests and bitmaps name).  Each input is a read-only memory
 * channel that the real parser reads twice, as two sources would:
 *
 *   pass 1  a postcopy that is running: page requests are welcome, a
 *           received bitmap or RESUME_ACK is refused (no recovery runs),
 *           and so is SHUT(0) (the stream has not ended);
 *   pass 2  a postcopy recovery after the stream ended: one bitmap per
 *           block and one RESUME_ACK are welcome, SHUT(0) too.
 *
 * The callbacks here stand in for the source's (outgoing.c), refusing
 * what it refuses, and check the parser's side of the contract
 * (return-path.h): a request names a real block, is aligned to the host
 * page size, non-empty and inside the block; a bitmap has one bit per
 * target page of the block (every word of it is read, so ASan sees a
 * short one).  On top of memory safety the target checks the Error
 * convention: -1 comes with an Error, 0 (SHUT(0)) without one.  A broken
 * rule is a finding (fuzz_finding()).
 *
 * Seeds: the return paths of the QEMU 7.2 captures
 * (captures/ * /return-path.dst-to-src.bin, after-recover.dst-to-src.bin)
 * and one ferry writes itself with the real RPWriter (every message
 * type), which pass 2 must accept.
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "qapi/error.h"
#include "migration/return-path.h"
#include "migration/channel.h"
#include "migration/qemu-file.h"
#include "exec/ramblock.h"
#include "hw/boards.h"
#include "qemu/main-loop.h"
#include "qemu/bitmap.h"

#define FUZZ_RAM_SIZE (64ull << 20)

typedef struct FuzzRP {
    bool recovering;            /* pass 2 */
    GHashTable *bitmaps;        /* RAMBlock * that sent one, this pass */
    bool acked;
    uint64_t requests;
} FuzzRP;

static void fuzz_rp_check_block(RAMBlock *rb)
{
    if (!rb || qemu_ram_block_by_name(rb->idstr) != rb) {
        fuzz_finding("a callback got a block that does not exist");
    }
}

static void fuzz_rp_pong(void *opaque, uint32_t value)
{
}

static bool fuzz_rp_req_pages(void *opaque, RAMBlock *rb, uint64_t start,
                              uint32_t len, Error **errp)
{
    FuzzRP *rp = opaque;

    fuzz_rp_check_block(rb);
    if (!len || !QEMU_IS_ALIGNED(start, qemu_real_host_page_size) ||
        !QEMU_IS_ALIGNED(len, qemu_real_host_page_size) ||
        start >= rb->used_length || len > rb->used_length - start) {
        fuzz_finding("page request 0x%" PRIx64 "+0x%x of %s passed the "
                     "parser", start, len, rb->idstr);
    }
    rp->requests++;
    return true;
}

static bool fuzz_rp_recv_bitmap(void *opaque, RAMBlock *rb,
                                const unsigned long *received, Error **errp)
{
    FuzzRP *rp = opaque;
    uint64_t nbits;

    fuzz_rp_check_block(rb);
    if (!rp->recovering) {
        error_setg(errp, "RP: RECV_BITMAP outside a recovery");
        return false;
    }
    if (!g_hash_table_add(rp->bitmaps, rb)) {
        error_setg(errp, "RP: a second RECV_BITMAP for block %s", rb->idstr);
        return false;
    }
    /* Every word: a bitmap shorter than the block is an ASan report. */
    nbits = rb->used_length >> TARGET_PAGE_BITS;
    (void)bitmap_count_one(received, nbits);
    return true;
}

static bool fuzz_rp_resume_ack(void *opaque, uint32_t value, Error **errp)
{
    FuzzRP *rp = opaque;

    if (value != RP_RESUME_ACK_VALUE) {
        fuzz_finding("RESUME_ACK %u passed the parser", value);
    }
    if (!rp->recovering || rp->acked) {
        error_setg(errp, "RP: RESUME_ACK outside a postcopy recovery");
        return false;
    }
    rp->acked = true;
    return true;
}

static bool fuzz_rp_shut(void *opaque, Error **errp)
{
    FuzzRP *rp = opaque;

    if (!rp->recovering) {
        error_setg(errp, "RP: the destination said SHUT(0) before the "
                   "stream ended");
        return false;
    }
    return true;
}

static const RPReaderOps fuzz_rp_ops = {
    .pong = fuzz_rp_pong,
    .req_pages = fuzz_rp_req_pages,
    .recv_bitmap = fuzz_rp_recv_bitmap,
    .resume_ack = fuzz_rp_resume_ack,
    .shut = fuzz_rp_shut,
};

/* One pass over the input; returns the parser's result. */
static int fuzz_rp_pass(const uint8_t *data, size_t size, bool recovering,
                        char **why)
{
    MigChannel *ioc = mig_channel_new_buffer(data, size, "fuzz-rp");
    QEMUFile *f = qemu_file_new_input(ioc);
    FuzzRP rp = {
        .recovering = recovering,
        .bitmaps = g_hash_table_new(NULL, NULL),
    };
    Error *err = NULL;
    bool io = false;
    int ret;

    mig_channel_unref(ioc);
    ret = rp_read_messages(f, &fuzz_rp_ops, &rp, &io, &err);
    if (ret < 0 && !err) {
        fuzz_finding("the parser failed without an Error");
    }
    if (ret == 0 && err) {
        fuzz_finding("an Error although the parser ended with SHUT(0): %s",
                     error_get_pretty(err));
    }
    if (ret != 0 && ret != -1) {
        fuzz_finding("the parser returned %d", ret);
    }
    if (err && why) {
        g_free(*why);
        *why = g_strdup(error_get_pretty(err));
    }
    error_free(err);
    g_hash_table_destroy(rp.bitmaps);
    qemu_fclose(f);
    return ret;
}

static int fuzz_rp_run(const uint8_t *data, size_t size, char **why)
{
    fuzz_rp_pass(data, size, false, NULL);
    return fuzz_rp_pass(data, size, true, why) == 0 ? 0 : 1;
}

static void fuzz_rp_init(void)
{
    qemu_init_host_page();
    fuzz_setup_trace();
    qemu_main_loop_init();
    machine_register_builtin();
    fuzz_machine_create("none", FUZZ_RAM_SIZE);
    bql_unlock();
}

/* What a ferry destination writes, every message type, ending SHUT(0). */
static void fuzz_rp_seeds(FuzzSeedFn add, void *opaque)
{
    MigChannel *ioc = mig_channel_new_writer("fuzz-rp-native");
    RPWriter *w = rp_writer_new();
    RAMBlock *rb = qemu_ram_block_nth(0);
    uint64_t nbits = rb->used_length >> TARGET_PAGE_BITS;
    g_autofree unsigned long *got = bitmap_new(nbits);
    const uint8_t *data;
    size_t len;

    rp_writer_attach(w, qemu_file_new_output(ioc));
    bitmap_set(got, 0, nbits / 3);
    rp_send_pong(w, 1);
    rp_send_req_pages(w, rb, true, 0, qemu_real_host_page_size);
    rp_send_req_pages(w, rb, false, 16 * qemu_real_host_page_size,
                      4 * qemu_real_host_page_size);
    rp_send_recv_bitmap(w, rb, got, nbits);
    rp_send_resume_ack(w, RP_RESUME_ACK_VALUE);
    rp_send_pong(w, 4);
    rp_send_shut(w, 0);
    data = mig_channel_buffer_data(ioc, &len);
    add("native", data, len, opaque);
    rp_writer_free(w);
    mig_channel_unref(ioc);
}

const FuzzTarget fuzz_target = {
    .name = "rp",
    .init = fuzz_rp_init,
    .run = fuzz_rp_run,
    .make_seeds = fuzz_rp_seeds,
};
