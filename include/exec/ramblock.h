/*
 * ramblock.h: guest RAM blocks.
 *
 * A RAMBlock is one contiguous piece of guest RAM backed by host memory:
 * anonymous, a memfd, or a file (hugetlbfs included).  Its idstr is the
 * name the migration stream uses ("ram" for -m, the backend id with
 * -machine memory-backend=ID, exactly as QEMU 7.2 names them).
 *
 * Lifetime and locking: blocks are created during machine initialisation,
 * before any other thread starts, and freed at exit after every thread has
 * stopped; the block list is therefore immutable while threads run and is
 * read without a lock.  The bitmaps have their own rules, noted per field.
 */
#ifndef EXEC_RAMBLOCK_H
#define EXEC_RAMBLOCK_H

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qapi/error.h"

/* RAMBlock flags. */
#define RAM_SHARED      (1u << 0)   /* MAP_SHARED: other processes may see it */
#define RAM_RESIZEABLE  (1u << 1)
#define RAM_FILE        (1u << 2)   /* backed by a regular or hugetlbfs file */
#define RAM_MEMFD       (1u << 3)
#define RAM_PREALLOC    (1u << 4)
#define RAM_NORESERVE   (1u << 5)

typedef struct MemoryRegion MemoryRegion;

typedef struct RAMBlock {
    char idstr[256];
    uint8_t *host;
    ram_addr_t used_length;
    ram_addr_t max_length;
    size_t page_size;           /* host page size of this block's memory */
    int fd;                     /* memfd or file, -1 when anonymous */
    uint64_t fd_offset;
    uint32_t flags;
    MemoryRegion *mr;

    /*
     * Dirty log: one bit per target page, set (atomically) by every writer
     * that goes through the memory API while dirty logging is on, and
     * harvested by ramblock_sync_dirty_log() with atomic exchanges.
     */
    unsigned long *dirty_log;

    /*
     * Owned by migration (QEMU keeps them here too): on the source the
     * pages still to send; on the destination the pages received, and the
     * length the block had when postcopy was advised.  Their locking is
     * described in migration/ram.c.
     */
    unsigned long *bmap;
    unsigned long *receivedmap;
    uint64_t postcopy_length;
} RAMBlock;

typedef int (RAMBlockIterFunc)(RAMBlock *rb, void *opaque);

/*
 * Allocation.  qemu_ram_alloc_*() round @size up to the block's page size;
 * a zero size or a failing mmap/memfd/file is an error, never an exit.
 */
RAMBlock *qemu_ram_alloc_anon(const char *idstr, uint64_t size, bool share,
                              Error **errp);
RAMBlock *qemu_ram_alloc_memfd(const char *idstr, uint64_t size, bool share,
                               uint64_t hugetlbsize, bool hugetlb,
                               Error **errp);
RAMBlock *qemu_ram_alloc_from_path(const char *idstr, uint64_t size,
                                   const char *mem_path, bool share,
                                   bool readonly_ok, Error **errp);
void qemu_ram_free(RAMBlock *rb);
/*
 * Allocates every page now (prealloc=on), with up to @max_threads
 * threads (prealloc-threads); fails if the host cannot provide them.
 */
bool qemu_ram_prealloc(RAMBlock *rb, unsigned max_threads, Error **errp);

/*
 * -machine mem-merge=on|off and dump-guest-core=on|off (both on by
 * default): the advice every block made later gets (physmem.c's design
 * note).  Called once at start-up, before any block exists.
 */
void qemu_ram_set_machine_opts(bool mem_merge, bool dump_guest_core);
/*
 * Once the accelerator is known: with vCPUs (kvm, tcg) every block, now
 * and later, is MADV_DONTFORK, as QEMU's are unless it is a qtest server.
 */
void qemu_ram_set_dontfork(void);
bool qemu_ram_mem_merge(void);
bool qemu_ram_dump_guest_core(void);

/* Iteration in creation order; stops at the first non-zero return. */
int qemu_ram_foreach_block(RAMBlockIterFunc func, void *opaque);
#define RAMBLOCK_FOREACH(block) \
    for (guint _rb_i = 0; ((block) = qemu_ram_block_nth(_rb_i)); _rb_i++)
RAMBlock *qemu_ram_block_nth(guint n);
unsigned qemu_ram_block_count(void);
RAMBlock *qemu_ram_block_by_name(const char *name);
/* The block containing @host (and the offset inside it), or NULL. */
RAMBlock *qemu_ram_block_from_host(void *host, ram_addr_t *offset);

static inline const char *qemu_ram_get_idstr(RAMBlock *rb)
{
    return rb->idstr;
}
static inline size_t qemu_ram_pagesize(RAMBlock *rb)
{
    return rb->page_size;
}
static inline bool qemu_ram_is_shared(RAMBlock *rb)
{
    return rb->flags & RAM_SHARED;
}
static inline bool qemu_ram_is_hugetlb(RAMBlock *rb)
{
    return rb->page_size > qemu_real_host_page_size;
}
static inline ram_addr_t qemu_ram_get_used_length(RAMBlock *rb)
{
    return rb->used_length;
}
static inline bool offset_in_ramblock(RAMBlock *rb, ram_addr_t offset)
{
    return rb && rb->host && offset < rb->used_length;
}
static inline void *ramblock_ptr(RAMBlock *rb, ram_addr_t offset)
{
    assert(offset_in_ramblock(rb, offset));
    return rb->host + offset;
}
/* Bitwise OR of all block page sizes (POSTCOPY_ADVISE's summary). */
uint64_t ram_pagesize_summary(void);
/* Sum of used_length over all blocks. */
uint64_t ram_bytes_total(void);

/*
 * Drops the memory of [start, start+length) so that later reads see zeroes
 * (or, under userfaultfd, fault): MADV_DONTNEED for private anonymous
 * memory, fallocate(PUNCH_HOLE) for files and memfds.  Both must be
 * aligned to the block's page size.
 */
bool ram_block_discard_range(RAMBlock *rb, uint64_t start, size_t length,
                             Error **errp);

/* ---- dirty logging ---- */

/* Global switch; while off, writers do not touch the dirty logs. */
void memory_global_dirty_log_start(void);
void memory_global_dirty_log_stop(void);
bool memory_global_dirty_log_enabled(void);

/*
 * An accelerator whose vCPUs write guest RAM behind the memory API (KVM)
 * keeps its own dirty log; these hooks turn it on and off with the global
 * switch, and log_sync() folds it into the blocks' dirty logs (with
 * ramblock_set_dirty_bitmap) before each harvest.  Any thread may call
 * memory_global_dirty_log_sync(); the hooks serialise themselves.
 */
typedef struct DirtyLogOps {
    void (*log_start)(void);
    void (*log_stop)(void);
    void (*log_sync)(void);
} DirtyLogOps;

void memory_register_dirty_log_ops(const DirtyLogOps *ops);
void memory_global_dirty_log_sync(void);

/*
 * ORs @npages bits of @bitmap (bit i = target page @first_page + i of @rb)
 * into the block's dirty log.
 */
void ramblock_set_dirty_bitmap(RAMBlock *rb, uint64_t first_page,
                               const unsigned long *bitmap, uint64_t npages);

/* Marks [offset, offset+length) of @rb dirty if logging is on. */
void ramblock_set_dirty_range(RAMBlock *rb, ram_addr_t offset,
                              ram_addr_t length);

/*
 * Moves the dirty log of @rb into @dest (bitwise OR), clearing the log, and
 * returns how many bits were newly set in @dest.  Safe against concurrent
 * writers: a page written during the sync is either in this harvest or the
 * next one.
 */
uint64_t ramblock_sync_dirty_log(RAMBlock *rb, unsigned long *dest);

#endif
