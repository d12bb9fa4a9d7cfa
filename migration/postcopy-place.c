/*
 * postcopy-place.c: placing the pages that come after LISTEN.
 *
 * Each channel's reader assembles target pages into whole host pages in
 * its own PostcopyTmpPage and places them atomically (UFFDIO_COPY, or
 * UFFDIO_ZEROPAGE for zero pages), which wakes any thread blocked on
 * them; a page that is already present is a protocol violation (the
 * source sends each page once).  In blocks of 4 KiB host pages,
 * contiguous pages are gathered into runs placed with one call each:
 * zero runs of up to ZERO_RUN_MAX, data runs of up to DATA_RUN_MAX.
 */
#include "qemu/osdep.h"
#include "postcopy-int.h"
#include "qemu/userfaultfd.h"
#include "trace.h"

/* One UFFDIO_ZEROPAGE for up to this much of a guest's untouched RAM. */
#define ZERO_RUN_MAX (2u << 20)
/*
 * Data pages placed with one UFFDIO_COPY: the push of 512 MiB without
 * faults placed one 4 KiB page per ioctl and its destination spent ~90 %
 * of its CPU there, as QEMU's does.  16 pages a call: see the commit's
 * measurements in tests/bench/README.md ("The postcopy push").  A run is
 * placed as soon as the channel has nothing more buffered, so a
 * requested page waits at most for the rest of its run to arrive (64 KiB:
 * tens of microseconds on a fast link).
 */
#define DATA_RUN_MAX (64u << 10)

/* ---- runs and host pages ---- */

PostcopyTmpPage *postcopy_tmp_page(PostcopyIncoming *pc, int channel)
{
    return pc->tmp[channel];
}

PostcopyTmpPage *postcopy_tmp_page_new(size_t size)
{
    PostcopyTmpPage *t = g_new0(PostcopyTmpPage, 1);

    /* Page-aligned: UFFDIO_COPY copies from it. */
    t->buf = qemu_memalign_pages(size);
    t->max_pages = MAX(size / TARGET_PAGE_SIZE, 1);
    t->have = bitmap_new(t->max_pages);
    t->drun_buf = qemu_memalign_pages(DATA_RUN_MAX);
    return t;
}

void postcopy_tmp_page_free(PostcopyTmpPage *t)
{
    if (t) {
        qemu_free_pages(t->buf);
        qemu_free_pages(t->drun_buf);
        g_free(t->have);
        g_free(t);
    }
}

/*
 * A broken link leaves a partly assembled host page and an unplaced run
 * of zero pages behind: neither is marked received, so the source sends
 * them again after the recovery.
 */
void postcopy_tmp_page_reset(PostcopyTmpPage *t)
{
    if (t) {
        bitmap_zero(t->have, t->max_pages);
        t->pages = 0;
        t->zrun_len = 0;
        t->drun_len = 0;
    }
}

static int place_result(RAMBlock *rb, uint64_t start, int ret,
                        Error **errp)
{
    if (ret == -EEXIST) {
        error_setg(errp, "page 0x%" PRIx64 " of %s was sent twice", start,
                   rb->idstr);
        return ret;
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "placing page 0x%" PRIx64 " of %s "
                         "failed", start, rb->idstr);
        return ret;
    }
    return 0;
}

/*
 * UFFDIO_COPY / UFFDIO_ZEROPAGE of @len bytes at @start in @rb (@src
 * NULL: zeroes); in harness mode a copy, refused as the kernel would
 * refuse a page already there.
 */
static int place(PostcopyIncoming *pc, RAMBlock *rb, uint64_t start,
                 const void *src, uint64_t len)
{
    uint8_t *host = rb->host + start;

    if (!pc->harness) {
        return src ? uffd_copy(pc->uffd, host, src, len)
                   : uffd_zeropage(pc->uffd, host, len);
    }
    if (find_next_bit(rb->receivedmap, (start + len) >> TARGET_PAGE_BITS,
                      start >> TARGET_PAGE_BITS) <
        (start + len) >> TARGET_PAGE_BITS) {
        return -EEXIST;
    }
    if (src) {
        memcpy(host, src, len);
    } else {
        memset(host, 0, len);
    }
    return 0;
}

static void mark_placed(PostcopyIncoming *pc, RAMBlock *rb, uint64_t start,
                        uint64_t len)
{
    bitmap_set_atomic(rb->receivedmap, start >> TARGET_PAGE_BITS,
                      len >> TARGET_PAGE_BITS);
    for (uint64_t off = start; off < start + len; off += rb->page_size) {
        postcopy_page_placed(pc, rb, off);
    }
}

static int flush_data_run(PostcopyIncoming *pc, PostcopyTmpPage *t,
                          Error **errp)
{
    RAMBlock *rb = t->drun_rb;
    int ret;

    if (!t->drun_len) {
        return 0;
    }
    ret = place(pc, rb, t->drun_start, t->drun_buf, t->drun_len);
    ret = place_result(rb, t->drun_start, ret, errp);
    if (ret == 0) {
        mark_placed(pc, rb, t->drun_start, t->drun_len);
        trace_postcopy_place_data_run(rb->idstr, t->drun_start,
                                      t->drun_len);
    }
    t->drun_len = 0;
    return ret;
}

int postcopy_flush_zero_run(PostcopyIncoming *pc, PostcopyTmpPage *t,
                            Error **errp)
{
    RAMBlock *rb = t->zrun_rb;
    int ret;

    if (t->drun_len) {
        return flush_data_run(pc, t, errp);
    }
    if (!t->zrun_len) {
        return 0;
    }
    ret = place(pc, rb, t->zrun_start, NULL, t->zrun_len);
    ret = place_result(rb, t->zrun_start, ret, errp);
    if (ret == 0) {
        mark_placed(pc, rb, t->zrun_start, t->zrun_len);
        trace_postcopy_place_zero_run(rb->idstr, t->zrun_start,
                                      t->zrun_len);
    }
    t->zrun_len = 0;
    return ret;
}

static int place_host_page(PostcopyIncoming *pc, PostcopyTmpPage *t,
                           Error **errp)
{
    RAMBlock *rb = t->rb;
    int ret;

    bitmap_zero(t->have, t->pages);
    t->pages = 0;
    ret = flush_data_run(pc, t, errp);
    if (ret < 0) {
        return ret;
    }
    if (t->all_zero && postcopy_block_zeropage_ok(pc, rb)) {
        if (t->zrun_len && (t->zrun_rb != rb ||
                            t->zrun_start + t->zrun_len != t->host_offset ||
                            t->zrun_len >= ZERO_RUN_MAX)) {
            ret = postcopy_flush_zero_run(pc, t, errp);
            if (ret < 0) {
                return ret;
            }
        }
        if (!t->zrun_len) {
            t->zrun_rb = rb;
            t->zrun_start = t->host_offset;
        }
        t->zrun_len += rb->page_size;
        return 0;
    }
    ret = postcopy_flush_zero_run(pc, t, errp);
    if (ret < 0) {
        return ret;
    }
    /* (An all-zero buffer holds zeroes: the records wrote them.) */
    ret = place_result(rb, t->host_offset,
                       place(pc, rb, t->host_offset, t->buf, rb->page_size),
                       errp);
    if (ret < 0) {
        return ret;
    }
    mark_placed(pc, rb, t->host_offset, rb->page_size);
    trace_postcopy_place_page(rb->idstr, t->host_offset, false);
    return 0;
}

int postcopy_load_target_page(PostcopyIncoming *pc, PostcopyTmpPage *t,
                              int channel, RAMBlock *rb, uint64_t addr,
                              QEMUFile *f, bool zero, uint8_t fill,
                              Error **errp)
{
    uint64_t host_off = QEMU_ALIGN_DOWN(addr, rb->page_size);
    uint8_t *dst;

    if (addr >= rb->postcopy_length) {
        error_setg(errp, "Illegal RAM offset 0x%" PRIx64 " in block %s "
                   "(postcopy)", addr, rb->idstr);
        return -EINVAL;
    }
    if (t->pages == 0) {
        t->rb = rb;
        t->host_offset = host_off;
        t->all_zero = true;
    } else if (t->rb != rb || t->host_offset != host_off) {
        error_setg(errp, "Non-same host page detected on channel %d: "
                   "target host page %s+0x%" PRIx64 ", received %s+0x%"
                   PRIx64, channel, t->rb->idstr, t->host_offset,
                   rb->idstr, addr);
        return -EINVAL;
    }
    /*
     * A host page is placed once all its target pages are here: each
     * must come once, or a repeated one would leave another unwritten
     * (the buffer holds the last host page's bytes) and place it.
     */
    if (test_bit((addr - host_off) / TARGET_PAGE_SIZE, t->have)) {
        error_setg(errp, "target page 0x%" PRIx64 " of %s came twice for "
                   "host page 0x%" PRIx64 " on channel %d", addr, rb->idstr,
                   host_off, channel);
        return -EINVAL;
    }
    /*
     * A data page of a 4 KiB-page block joins the data run (or starts
     * one), read straight into it.
     */
    if (!zero && rb->page_size == TARGET_PAGE_SIZE) {
        int ret;

        if (t->drun_len && (t->drun_rb != rb ||
                            t->drun_start + t->drun_len != addr)) {
            ret = flush_data_run(pc, t, errp);
            if (ret < 0) {
                return ret;
            }
        }
        /* (Only one kind of run at a time: the zero run goes first.) */
        if (!t->drun_len) {
            ret = postcopy_flush_zero_run(pc, t, errp);
            if (ret < 0) {
                return ret;
            }
            t->drun_rb = rb;
            t->drun_start = addr;
        }
        if (qemu_get_buffer(f, t->drun_buf + t->drun_len,
                            TARGET_PAGE_SIZE) != TARGET_PAGE_SIZE) {
            error_setg(errp, "truncated page");
            return -EIO;
        }
        t->drun_len += TARGET_PAGE_SIZE;
        return t->drun_len < DATA_RUN_MAX ? 0 : flush_data_run(pc, t, errp);
    }
    dst = t->buf + (addr - host_off);
    if (zero) {
        /* The buffer is reused: zero pages must be written too. */
        memset(dst, fill, TARGET_PAGE_SIZE);
        t->all_zero &= fill == 0;
    } else {
        if (qemu_get_buffer(f, dst, TARGET_PAGE_SIZE) != TARGET_PAGE_SIZE) {
            error_setg(errp, "truncated page");
            return -EIO;
        }
        t->all_zero = false;
    }
    set_bit((addr - host_off) / TARGET_PAGE_SIZE, t->have);
    if (++t->pages < rb->page_size / TARGET_PAGE_SIZE) {
        return 0;
    }
    return place_host_page(pc, t, errp);
}
