/*
 * physmem.c: RAMBlocks — allocating guest RAM from anonymous memory,
 * memfds and files, discarding it, and the per-block dirty logs.
 *
 * Design note: QEMU keeps one global ram_addr space with dirty bitmaps per
 * client.  ferry keeps one dirty log per block instead (indexed by target
 * page within the block), because every consumer (migration, KVM slots)
 * already works per block; it removes the ram_addr translation from the
 * hot write path.
 *
 * Host advice, as QEMU 7.2's ram_block_add() gives it: every block is
 * mapped at a 2 MiB boundary (QEMU_VMALLOC_ALIGN) and advised
 * MADV_HUGEPAGE, so that with THP in "madvise" mode guest RAM is faulted
 * (and zeroed, and copied into) 2 MiB at a time, not 4 KiB; anonymous
 * blocks are MADV_MERGEABLE unless -machine mem-merge=off; every block is
 * MADV_DONTDUMP with -machine dump-guest-core=off; and once an accelerator
 * with vCPUs (kvm, tcg) is chosen, every block is MADV_DONTFORK (QEMU
 * leaves that out only for a qtest server; ferry's qtest accelerator is
 * that case).  Errors are ignored, as QEMU ignores them (a kernel without
 * THP or KSM just says EINVAL).  The postcopy destination turns huge
 * pages off and on again around userfaultfd (migration/postcopy-ram.c).
 */
#include "qemu/osdep.h"
#include "exec/ramblock.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/thread.h"
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
/* -machine mem-merge / dump-guest-core: set before any block exists. */
static bool ram_mem_merge = true;
static bool ram_dump_guest_core = true;
/* An accelerator with vCPUs: set once, from the main thread. */
static bool ram_dontfork;

/* QEMU_VMALLOC_ALIGN on x86-64 Linux: where THP can map a huge page. */
#define RAM_MAP_ALIGN (2u << 20)

void qemu_ram_set_machine_opts(bool mem_merge, bool dump_guest_core)
{
    ram_mem_merge = mem_merge;
    ram_dump_guest_core = dump_guest_core;
}

void qemu_ram_set_dontfork(void)
{
    RAMBlock *rb;

    ram_dontfork = true;
    RAMBLOCK_FOREACH(rb) {
        (void)madvise(rb->host, rb->max_length, MADV_DONTFORK);
        trace_ram_block_dontfork(rb->idstr);
    }
}

bool qemu_ram_mem_merge(void)
{
    return ram_mem_merge;
}

bool qemu_ram_dump_guest_core(void)
{
    return ram_dump_guest_core;
}

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

/*
 * Maps the block at a multiple of MAX(2 MiB, its page size): reserve a
 * larger PROT_NONE area, map over its aligned middle, unmap the rest.
 */
static bool ram_block_map(RAMBlock *rb, int fd, bool shared, Error **errp)
{
    int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_NORESERVE;
    size_t align = MAX(RAM_MAP_ALIGN, rb->page_size);
    size_t total = rb->max_length + align;
    uint8_t *area, *p;

    if (fd < 0) {
        flags |= MAP_ANONYMOUS;
    }
    area = mmap(NULL, total, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED) {
        goto fail;
    }
    p = (uint8_t *)ROUND_UP((uintptr_t)area, align);
    if (mmap(p, rb->max_length, PROT_READ | PROT_WRITE, flags | MAP_FIXED,
             fd, 0) == MAP_FAILED) {
        int e = errno;

        munmap(area, total);
        errno = e;
        goto fail;
    }
    if (p > area) {
        munmap(area, p - area);
    }
    if (area + total > p + rb->max_length) {
        munmap(p + rb->max_length, area + total - (p + rb->max_length));
    }
    rb->host = p;
    rb->fd = fd;
    if (shared) {
        rb->flags |= RAM_SHARED;
    }
    return true;

fail:
    error_setg_errno(errp, errno,
                     "cannot map %" PRIu64 " bytes of guest RAM for '%s'",
                     (uint64_t)rb->max_length, rb->idstr);
    return false;
}

/* See the design note; QEMU: ram_block_add(), memory_try_enable_merging(). */
static void ram_block_advise(RAMBlock *rb)
{
    bool merge = rb->fd < 0 && ram_mem_merge;

    if (merge) {
        (void)madvise(rb->host, rb->max_length, MADV_MERGEABLE);
    }
    if (!ram_dump_guest_core) {
        (void)madvise(rb->host, rb->max_length, MADV_DONTDUMP);
    }
    (void)madvise(rb->host, rb->max_length, MADV_HUGEPAGE);
    trace_ram_block_advise(rb->idstr, merge, ram_dump_guest_core);
    if (ram_dontfork) {
        (void)madvise(rb->host, rb->max_length, MADV_DONTFORK);
        trace_ram_block_dontfork(rb->idstr);
    }
}

static void ram_block_register(RAMBlock *rb)
{
    if (!ram_list) {
        ram_list = g_ptr_array_new();
    }
    rb->dirty_log = bitmap_new(rb->max_length >> TARGET_PAGE_BITS);
    ram_block_advise(rb);
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

/*
 * Preallocation, QEMU 7.2's qemu_prealloc_mem() (util/oslib-posix.c): the
 * block is cut into one run of whole pages per thread, and each thread
 * populates its run with MADV_POPULATE_WRITE, or, on a kernel without it
 * (EINVAL on the first page), by reading and writing back one byte per
 * page.  Threads: at most @max_threads, the host's CPUs and 16, no more
 * than pages, and one per 64 MiB at least.  The threads wait for each
 * other to exist before touching memory (page faults and thread stack
 * allocation contend on the mm lock).
 */
#define PREALLOC_MAX_THREADS 16

typedef struct PreallocThread {
    QemuThread thread;
    uint8_t *addr;
    size_t len;
    size_t page_size;
    bool populate;
    int ret;                    /* -errno, written by the thread */
    struct PreallocCtx *ctx;
} PreallocThread;

typedef struct PreallocCtx {
    QemuMutex lock;
    QemuCond cond;
    bool all_created;           /* protected by lock */
} PreallocCtx;

static void *prealloc_thread(void *opaque)
{
    PreallocThread *t = opaque;

    qemu_mutex_lock(&t->ctx->lock);
    while (!t->ctx->all_created) {
        qemu_cond_wait(&t->ctx->cond, &t->ctx->lock);
    }
    qemu_mutex_unlock(&t->ctx->lock);
    if (t->populate) {
        if (t->len && madvise(t->addr, t->len, MADV_POPULATE_WRITE) < 0) {
            t->ret = -errno;
        }
        return NULL;
    }
    for (size_t off = 0; off < t->len; off += t->page_size) {
        volatile uint8_t *p = t->addr + off;
        *p = *p;
    }
    return NULL;
}

static unsigned prealloc_threads(size_t page_size, size_t npages,
                                 unsigned max_threads)
{
    long procs = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t n = 1;

    if (procs > 0) {
        n = MIN(MIN((uint64_t)procs, PREALLOC_MAX_THREADS), max_threads);
    }
    n = MIN(n, npages);
    return MAX(1, MIN(n, MAX(1, (uint64_t)page_size * npages / (64 << 20))));
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

bool qemu_ram_prealloc(RAMBlock *rb, unsigned max_threads, Error **errp)
{
    size_t ps = rb->page_size, npages = rb->max_length / ps;
    unsigned n = prealloc_threads(ps, npages, MAX(max_threads, 1));
    bool populate = madvise(rb->host, ps, MADV_POPULATE_WRITE) == 0 ||
                    errno != EINVAL;
    g_autofree PreallocThread *t = NULL;
    PreallocCtx ctx = { .all_created = false };
    uint8_t *addr = rb->host;
    int ret = 0;

    trace_ram_block_prealloc(rb->idstr, rb->max_length, n, populate);
    if (n == 1 && populate) {
        if (madvise(rb->host, rb->max_length, MADV_POPULATE_WRITE) < 0) {
            ret = -errno;
        }
        goto out;
    }
    qemu_mutex_init(&ctx.lock);
    qemu_cond_init(&ctx.cond);
    t = g_new0(PreallocThread, n);
    for (unsigned i = 0; i < n; i++) {
        size_t pages = npages / n + (i < npages % n);

        t[i] = (PreallocThread) {
            .addr = addr, .len = pages * ps, .page_size = ps,
            .populate = populate, .ctx = &ctx,
        };
        qemu_thread_create(&t[i].thread, "touch_pages", prealloc_thread,
                           &t[i], QEMU_THREAD_JOINABLE);
        addr += pages * ps;
    }
    qemu_mutex_lock(&ctx.lock);
    ctx.all_created = true;
    qemu_cond_broadcast(&ctx.cond);
    qemu_mutex_unlock(&ctx.lock);
    for (unsigned i = 0; i < n; i++) {
        qemu_thread_join(&t[i].thread);
        if (t[i].ret) {
            ret = t[i].ret;
        }
    }
    qemu_cond_destroy(&ctx.cond);
    qemu_mutex_destroy(&ctx.lock);
out:
    if (ret) {
        error_setg_errno(errp, -ret, "qemu_prealloc_mem: preallocating "
                         "memory failed");
        return false;
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
