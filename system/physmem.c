/*
 * physmem.c: RAMBlocks — allocating guest RAM from anonymous memory,
 * memfds and files, discarding it, and the per-block dirty logs.
 *
 * Design note: QEMU keeps one global ram_addr space with dirty bitmaps per
 * client.  ferry keeps one dirty log per block instead (indexed by target
 * page within the block), because every consumer (migration, KVM slots)
 * already works per block; it removes the ram_addr translation from the
 * hot write path.
 */
#include "qemu/osdep.h"
#include "exec/ramblock.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "trace.h"
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif

/* See ramblock.h: written only before other threads exist. */
static GPtrArray *ram_list;
static int global_dirty_log;
static const DirtyLogOps *dirty_log_ops;    /* set once at start-up */

static size_t fd_page_size(int fd)
{
    struct statfs fs;
    int ret;

    do {
        ret = fstatfs(fd, &fs);
    } while (ret != 0 && errno == EINTR);
    if (ret == 0 && fs.f_type == HUGETLBFS_MAGIC) {
        return fs.f_bsize;
    }
    return qemu_real_host_page_size;
}

static RAMBlock *ram_block_new(const char *idstr, uint64_t size,
                               size_t page_size, Error **errp)
{
    RAMBlock *rb;

    if (strlen(idstr) >= sizeof(rb->idstr)) {
        error_setg(errp, "RAM block name '%s' is too long", idstr);
        return NULL;
    }
    if (qemu_ram_block_by_name(idstr)) {
        error_setg(errp, "RAMBlock \"%s\" already registered", idstr);
        return NULL;
    }
    if (size == 0) {
        error_setg(errp, "memory size must not be zero");
        return NULL;
    }
    if (size > UINT64_MAX - page_size) {
        error_setg(errp, "memory size 0x%" PRIx64 " is too large", size);
        return NULL;
    }
    rb = g_new0(RAMBlock, 1);
    g_strlcpy(rb->idstr, idstr, sizeof(rb->idstr));
    rb->page_size = page_size;
    rb->used_length = rb->max_length = ROUND_UP(size, page_size);
    rb->fd = -1;
    return rb;
}

static bool ram_block_map(RAMBlock *rb, int fd, bool shared, Error **errp)
{
    int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_NORESERVE;
    void *p;

    if (fd < 0) {
        flags |= MAP_ANONYMOUS;
    }
    p = mmap(NULL, rb->max_length, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED) {
        error_setg_errno(errp, errno,
                         "cannot map %" PRIu64 " bytes of guest RAM for '%s'",
                         (uint64_t)rb->max_length, rb->idstr);
        return false;
    }
    rb->host = p;
    rb->fd = fd;
    if (shared) {
        rb->flags |= RAM_SHARED;
    }
    return true;
}

static void ram_block_register(RAMBlock *rb)
{
    if (!ram_list) {
        ram_list = g_ptr_array_new();
    }
    rb->dirty_log = bitmap_new(rb->max_length >> TARGET_PAGE_BITS);
    g_ptr_array_add(ram_list, rb);
    trace_ram_block_add(rb->idstr, rb->max_length, rb->page_size, rb->fd,
                        rb->flags);
}

RAMBlock *qemu_ram_alloc_anon(const char *idstr, uint64_t size, bool share,
                              Error **errp)
{
    RAMBlock *rb = ram_block_new(idstr, size, qemu_real_host_page_size,
                                 errp);

    if (!rb) {
        return NULL;
    }
    if (!ram_block_map(rb, -1, share, errp)) {
        g_free(rb);
        return NULL;
    }
    ram_block_register(rb);
    return rb;
}

RAMBlock *qemu_ram_alloc_memfd(const char *idstr, uint64_t size, bool share,
                               uint64_t hugetlbsize, bool hugetlb,
                               Error **errp)
{
    unsigned int mfd_flags = MFD_CLOEXEC;
    size_t page_size;
    RAMBlock *rb;
    int fd;

    if (hugetlb) {
        mfd_flags |= MFD_HUGETLB;
        if (hugetlbsize) {
            if (!QEMU_IS_POW2(hugetlbsize)) {
                error_setg(errp, "hugetlbsize must be a power of 2");
                return NULL;
            }
            mfd_flags |= (unsigned)__builtin_ctzll(hugetlbsize)
                         << MFD_HUGE_SHIFT;
        }
    }
    fd = memfd_create(idstr, mfd_flags);
    if (fd < 0) {
        error_setg_errno(errp, errno, "failed to create memfd");
        return NULL;
    }
    page_size = fd_page_size(fd);
    rb = ram_block_new(idstr, size, page_size, errp);
    if (!rb) {
        close(fd);
        return NULL;
    }
    if (ftruncate(fd, rb->max_length) < 0) {
        error_setg_errno(errp, errno, "failed to resize memfd to %" PRIu64,
                         (uint64_t)rb->max_length);
        close(fd);
        g_free(rb);
        return NULL;
    }
    if (!ram_block_map(rb, fd, share, errp)) {
        close(fd);
        g_free(rb);
        return NULL;
    }
    rb->flags |= RAM_MEMFD;
    ram_block_register(rb);
    return rb;
}

/*
 * mem-path may name a directory (a private temporary file is created in it
 * and unlinked, as QEMU does for hugetlbfs mounts) or a file, which is
 * created if missing and grown if too small.
 */
static int open_mem_path(const char *path, bool *created, Error **errp)
{
    struct stat st;
    int fd;

    *created = false;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        g_autofree char *tmpl = g_build_filename(path,
                                                 "ferry_back_mem.XXXXXX",
                                                 NULL);
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0) {
            error_setg_errno(errp, errno,
                             "unable to create backing store for path %s",
                             path);
            return -1;
        }
        unlink(tmpl);
        return fd;
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        *created = fd >= 0;
    }
    if (fd < 0) {
        error_setg_errno(errp, errno, "can't open backing store %s for guest RAM",
                         path);
    }
    return fd;
}

RAMBlock *qemu_ram_alloc_from_path(const char *idstr, uint64_t size,
                                   const char *mem_path, bool share,
                                   bool readonly_ok, Error **errp)
{
    bool created;
    struct stat st;
    RAMBlock *rb;
    int fd = open_mem_path(mem_path, &created, errp);

    if (fd < 0) {
        return NULL;
    }
    rb = ram_block_new(idstr, size, fd_page_size(fd), errp);
    if (!rb) {
        goto err_close;
    }
    if (size < rb->page_size) {
        error_setg(errp, "memory size 0x%" PRIx64 " must be equal to or "
                   "larger than page size 0x%zx", size, rb->page_size);
        goto err_free;
    }
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < rb->max_length &&
        ftruncate(fd, rb->max_length) < 0) {
        error_setg_errno(errp, errno, "failed to resize %s to %" PRIu64,
                         mem_path, (uint64_t)rb->max_length);
        goto err_free;
    }
    if (!ram_block_map(rb, fd, share, errp)) {
        goto err_free;
    }
    rb->flags |= RAM_FILE;
    ram_block_register(rb);
    return rb;

err_free:
    g_free(rb);
err_close:
    close(fd);
    if (created) {
        unlink(mem_path);
    }
    return NULL;
}

bool qemu_ram_prealloc(RAMBlock *rb, Error **errp)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(rb->host, rb->max_length, MADV_POPULATE_WRITE) == 0) {
        rb->flags |= RAM_PREALLOC;
        return true;
    }
#endif
    /* Fall back to touching one byte per page (the data is still zero). */
    for (uint64_t off = 0; off < rb->max_length; off += rb->page_size) {
        volatile uint8_t *p = rb->host + off;
        *p = *p;
    }
    rb->flags |= RAM_PREALLOC;
    return true;
}

void qemu_ram_free(RAMBlock *rb)
{
    if (!rb) {
        return;
    }
    trace_ram_block_free(rb->idstr);
    if (ram_list) {
        g_ptr_array_remove(ram_list, rb);
    }
    if (rb->host) {
        munmap(rb->host, rb->max_length);
    }
    if (rb->fd >= 0) {
        close(rb->fd);
    }
    g_free(rb->dirty_log);
    g_free(rb->bmap);
    g_free(rb->receivedmap);
    g_free(rb);
}

RAMBlock *qemu_ram_block_nth(guint n)
{
    return ram_list && n < ram_list->len ? ram_list->pdata[n] : NULL;
}

unsigned qemu_ram_block_count(void)
{
    return ram_list ? ram_list->len : 0;
}

int qemu_ram_foreach_block(RAMBlockIterFunc func, void *opaque)
{
    RAMBlock *rb;
    int ret;

    RAMBLOCK_FOREACH(rb) {
        ret = func(rb, opaque);
        if (ret) {
            return ret;
        }
    }
    return 0;
}

RAMBlock *qemu_ram_block_by_name(const char *name)
{
    RAMBlock *rb;

    RAMBLOCK_FOREACH(rb) {
        if (g_str_equal(rb->idstr, name)) {
            return rb;
        }
    }
    return NULL;
}

RAMBlock *qemu_ram_block_from_host(void *host, ram_addr_t *offset)
{
    uint8_t *p = host;
    RAMBlock *rb;

    RAMBLOCK_FOREACH(rb) {
        if (p >= rb->host && p < rb->host + rb->max_length) {
            *offset = p - rb->host;
            return rb;
        }
    }
    return NULL;
}

uint64_t ram_pagesize_summary(void)
{
    uint64_t summary = 0;
    RAMBlock *rb;

    RAMBLOCK_FOREACH(rb) {
        summary |= rb->page_size;
    }
    return summary;
}

uint64_t ram_bytes_total(void)
{
    uint64_t total = 0;
    RAMBlock *rb;

    RAMBLOCK_FOREACH(rb) {
        total += rb->used_length;
    }
    return total;
}

bool ram_block_discard_range(RAMBlock *rb, uint64_t start, size_t length,
                             Error **errp)
{
    uint8_t *host;

    if (!QEMU_IS_ALIGNED(start, rb->page_size) ||
        !QEMU_IS_ALIGNED(length, rb->page_size)) {
        error_setg(errp, "%s: unaligned discard start 0x%" PRIx64
                   " length 0x%zx (page size 0x%zx)", rb->idstr, start,
                   length, rb->page_size);
        return false;
    }
    if (start > rb->max_length || length > rb->max_length - start) {
        error_setg(errp, "%s: discard overrun start 0x%" PRIx64
                   " length 0x%zx (block length 0x%" PRIx64 ")", rb->idstr,
                   start, length, (uint64_t)rb->max_length);
        return false;
    }
    if (length == 0) {
        return true;
    }
    trace_ram_block_discard_range(rb->idstr, start, length);
    host = rb->host + start;
    if (rb->fd >= 0) {
        /* File or memfd: free the backing store so the pages read as holes. */
        if (fallocate(rb->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      start + rb->fd_offset, length) < 0) {
            error_setg_errno(errp, errno, "%s: fallocate punch hole failed "
                             "at 0x%" PRIx64 "+0x%zx", rb->idstr, start,
                             length);
            return false;
        }
        if (!(rb->flags & RAM_SHARED) &&
            madvise(host, length, MADV_DONTNEED) < 0) {
            /* Private file mapping: also drop our copy-on-write pages. */
            error_setg_errno(errp, errno, "%s: madvise DONTNEED failed",
                             rb->idstr);
            return false;
        }
        return true;
    }
    if (madvise(host, length, (rb->flags & RAM_SHARED) ? MADV_REMOVE
                                                       : MADV_DONTNEED) < 0) {
        error_setg_errno(errp, errno, "%s: madvise failed at 0x%" PRIx64
                         "+0x%zx", rb->idstr, start, length);
        return false;
    }
    return true;
}

void memory_register_dirty_log_ops(const DirtyLogOps *ops)
{
    dirty_log_ops = ops;
}

void memory_global_dirty_log_start(void)
{
    trace_memory_global_dirty_log(1);
    qatomic_set(&global_dirty_log, 1);
    if (dirty_log_ops && dirty_log_ops->log_start) {
        dirty_log_ops->log_start();
    }
}

void memory_global_dirty_log_stop(void)
{
    trace_memory_global_dirty_log(0);
    if (dirty_log_ops && dirty_log_ops->log_stop) {
        dirty_log_ops->log_stop();
    }
    qatomic_set(&global_dirty_log, 0);
}

void memory_global_dirty_log_sync(void)
{
    if (qatomic_read(&global_dirty_log) && dirty_log_ops &&
        dirty_log_ops->log_sync) {
        dirty_log_ops->log_sync();
    }
}

void ramblock_set_dirty_bitmap(RAMBlock *rb, uint64_t first_page,
                               const unsigned long *bitmap, uint64_t npages)
{
    uint64_t limit = rb->max_length >> TARGET_PAGE_BITS;

    if (first_page >= limit) {
        return;
    }
    npages = MIN(npages, limit - first_page);
    if (first_page % BITS_PER_LONG == 0) {
        /* The usual case (a KVM slot starts at its block): whole words. */
        unsigned long *dst = rb->dirty_log + first_page / BITS_PER_LONG;

        for (uint64_t w = 0; w < BITS_TO_LONGS(npages); w++) {
            unsigned long bits = bitmap[w];

            if (w == npages / BITS_PER_LONG) {
                bits &= (1UL << (npages % BITS_PER_LONG)) - 1;
            }
            if (bits) {
                qatomic_or(&dst[w], bits);
            }
        }
        return;
    }
    for (uint64_t w = 0; w < BITS_TO_LONGS(npages); w++) {
        unsigned long bits = bitmap[w];

        while (bits) {
            uint64_t page = w * BITS_PER_LONG + __builtin_ctzl(bits);

            bits &= bits - 1;
            if (page < npages) {
                set_bit_atomic(first_page + page, rb->dirty_log);
            }
        }
    }
}

bool memory_global_dirty_log_enabled(void)
{
    return qatomic_read(&global_dirty_log) != 0;
}

void ramblock_set_dirty_range(RAMBlock *rb, ram_addr_t offset,
                              ram_addr_t length)
{
    ram_addr_t first, last;

    if (!qatomic_read(&global_dirty_log) || length == 0) {
        return;
    }
    first = offset >> TARGET_PAGE_BITS;
    last = (offset + length - 1) >> TARGET_PAGE_BITS;
    bitmap_set_atomic(rb->dirty_log, first, last - first + 1);
}

uint64_t ramblock_sync_dirty_log(RAMBlock *rb, unsigned long *dest)
{
    size_t nbits = rb->used_length >> TARGET_PAGE_BITS;
    size_t nwords = BITS_TO_LONGS(nbits);
    uint64_t newly = 0;

    for (size_t i = 0; i < nwords; i++) {
        unsigned long bits;

        if (!qatomic_read(&rb->dirty_log[i])) {
            continue;
        }
        bits = qatomic_xchg(&rb->dirty_log[i], 0UL);
        newly += __builtin_popcountl(bits & ~dest[i]);
        dest[i] |= bits;
    }
    trace_memory_dirty_log_sync(rb->idstr, newly);
    return newly;
}
