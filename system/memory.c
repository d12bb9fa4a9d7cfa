/*
 * memory.c: address spaces as sorted arrays of mapped regions.
 *
 * Lookups binary-search the array; RAM accesses are memcpy plus a dirty
 * log update; I/O regions are called one naturally sized piece at a time.
 */
#include "qemu/osdep.h"
#include "qemu/tsan.h"
#include "exec/memory.h"
#include "trace.h"

typedef struct MemoryMapping {
    hwaddr base;
    MemoryRegion *mr;
} MemoryMapping;

struct AddressSpace {
    const char *name;
    bool all_ones_when_unassigned;  /* I/O ports read 0xff.. */
    uint64_t limit;                 /* accesses at or above read unassigned */
    GArray *map;                    /* MemoryMapping, sorted by base */
};

AddressSpace address_space_memory = {
    .name = "memory",
    .limit = UINT64_MAX,
};
AddressSpace address_space_io = {
    .name = "I/O",
    .all_ones_when_unassigned = true,
    .limit = 0x10000,
};

/* Registered at start-up in the main thread; read-only afterwards. */
static GPtrArray *memory_listeners;

void memory_listener_register(MemoryListener *l)
{
    AddressSpace *spaces[] = { &address_space_memory, &address_space_io };

    if (!memory_listeners) {
        memory_listeners = g_ptr_array_new();
    }
    g_ptr_array_add(memory_listeners, l);
    for (size_t k = 0; k < G_N_ELEMENTS(spaces); k++) {
        for (guint i = 0; spaces[k]->map && i < spaces[k]->map->len; i++) {
            MemoryMapping *m = &g_array_index(spaces[k]->map, MemoryMapping,
                                              i);
            if (l->region_add) {
                l->region_add(l, spaces[k], m->base, m->mr);
            }
        }
    }
}

void memory_region_init_ram_from_block(MemoryRegion *mr, const char *name,
                                       RAMBlock *rb)
{
    memset(mr, 0, sizeof(*mr));
    mr->name = g_strdup(name);
    mr->size = rb->used_length;
    mr->ram_block = rb;
    rb->mr = mr;
}

void memory_region_init_io(MemoryRegion *mr, const char *name,
                           const MemoryRegionOps *ops, void *opaque,
                           uint64_t size)
{
    memset(mr, 0, sizeof(*mr));
    mr->name = g_strdup(name);
    mr->ops = ops;
    mr->opaque = opaque;
    mr->size = size;
}

bool address_space_map_region(AddressSpace *as, hwaddr base,
                              MemoryRegion *mr, Error **errp)
{
    MemoryMapping m = { .base = base, .mr = mr };
    guint i;

    if (mr->size == 0 || base + mr->size - 1 < base) {
        error_setg(errp, "region %s does not fit at 0x%" PRIx64, mr->name,
                   base);
        return false;
    }
    if (!as->map) {
        as->map = g_array_new(false, false, sizeof(MemoryMapping));
    }
    for (i = 0; i < as->map->len; i++) {
        MemoryMapping *o = &g_array_index(as->map, MemoryMapping, i);

        if (base <= o->base + o->mr->size - 1 &&
            o->base <= base + mr->size - 1) {
            error_setg(errp, "region %s at 0x%" PRIx64 " overlaps %s",
                       mr->name, base, o->mr->name);
            return false;
        }
        if (o->base > base) {
            break;
        }
    }
    g_array_insert_val(as->map, i, m);
    trace_memory_region_map(mr->name, base, mr->size);
    for (i = 0; memory_listeners && i < memory_listeners->len; i++) {
        MemoryListener *l = memory_listeners->pdata[i];

        if (l->region_add) {
            l->region_add(l, as, base, mr);
        }
    }
    return true;
}

void address_space_unmap_all(AddressSpace *as)
{
    if (as->map) {
        g_array_set_size(as->map, 0);
    }
}

/*
 * Finds the mapping containing @addr; if none, returns NULL and sets
 * *@gap to the number of unassigned bytes from @addr to the next mapping.
 */
static MemoryMapping *lookup(AddressSpace *as, hwaddr addr, uint64_t *gap)
{
    guint lo = 0, hi = as->map ? as->map->len : 0;

    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        MemoryMapping *m = &g_array_index(as->map, MemoryMapping, mid);

        if (addr < m->base) {
            hi = mid;
        } else if (addr - m->base >= m->mr->size) {
            lo = mid + 1;
        } else {
            return m;
        }
    }
    /* lo is the first mapping above addr. */
    if (as->map && lo < as->map->len) {
        *gap = g_array_index(as->map, MemoryMapping, lo).base - addr;
    } else {
        *gap = UINT64_MAX - addr + 1;     /* to the end of the space */
        if (*gap == 0) {
            *gap = UINT64_MAX;
        }
    }
    return NULL;
}

RAMBlock *address_space_translate_ram(AddressSpace *as, hwaddr addr,
                                      ram_addr_t *offset, hwaddr *avail)
{
    uint64_t gap;
    MemoryMapping *m = lookup(as, addr, &gap);

    if (!m || !m->mr->ram_block) {
        return NULL;
    }
    *offset = addr - m->base;
    *avail = m->mr->size - *offset;
    return m->mr->ram_block;
}

static void io_access(MemoryRegion *mr, hwaddr off, uint8_t *buf,
                      uint64_t len, bool is_write)
{
    while (len) {
        unsigned size = 1;
        uint64_t v = 0;

        /* Largest naturally aligned power-of-two piece, up to 8 bytes. */
        while (size < 8 && size * 2 <= len && !(off & (size * 2 - 1))) {
            size *= 2;
        }
        if (is_write) {
            for (unsigned i = 0; i < size; i++) {
                v |= (uint64_t)buf[i] << (8 * i);
            }
            if (mr->ops->write) {
                mr->ops->write(mr->opaque, off, v, size);
            }
        } else {
            v = mr->ops->read ? mr->ops->read(mr->opaque, off, size) : 0;
            for (unsigned i = 0; i < size; i++) {
                buf[i] = v >> (8 * i);
            }
        }
        off += size;
        buf += size;
        len -= size;
    }
}

/* One contiguous piece that does not wrap; @op: 0 read, 1 write, 2 set. */
static MemTxResult access_range(AddressSpace *as, hwaddr addr, uint8_t *buf,
                                uint64_t len, int op, uint8_t c)
{
    MemTxResult res = MEMTX_OK;

    while (len) {
        uint64_t gap = 0, chunk;
        MemoryMapping *m = addr < as->limit ? lookup(as, addr, &gap) : NULL;

        if (!m) {
            if (addr >= as->limit) {
                gap = UINT64_MAX - addr + 1;
                if (gap == 0) {
                    gap = UINT64_MAX;
                }
            }
            if (addr < as->limit && gap > as->limit - addr) {
                gap = as->limit - addr;
            }
            chunk = MIN(len, gap);
            trace_address_space_unassigned(op != 0, addr, chunk);
            if (op == 0) {
                memset(buf, as->all_ones_when_unassigned && addr < as->limit
                       ? 0xff : 0, chunk);
            }
            res = MEMTX_DECODE_ERROR;
        } else {
            hwaddr off = addr - m->base;
            MemoryRegion *mr = m->mr;

            chunk = MIN(len, mr->size - off);
            if (mr->ram_block) {
                RAMBlock *rb = mr->ram_block;

                /* (Racy with the guest and migration by design.) */
                TSAN_GUEST_RAM_BEGIN();
                if (op == 0) {
                    memcpy(buf, rb->host + off, chunk);
                } else if (op == 1) {
                    memcpy(rb->host + off, buf, chunk);
                } else {
                    memset(rb->host + off, c, chunk);
                }
                TSAN_GUEST_RAM_END();
                if (op != 0) {
                    ramblock_set_dirty_range(rb, off, chunk);
                }
            } else if (op == 2) {
                g_autofree uint8_t *tmp = g_malloc(MIN(chunk, 4096));

                memset(tmp, c, MIN(chunk, 4096));
                for (uint64_t done = 0; done < chunk; done += 4096) {
                    io_access(mr, off + done, tmp, MIN(chunk - done, 4096),
                              true);
                }
            } else {
                io_access(mr, off, buf, chunk, op == 1);
            }
        }
        addr += chunk;
        if (buf) {
            buf += chunk;
        }
        len -= chunk;
    }
    return res;
}

static MemTxResult access_wrapping(AddressSpace *as, hwaddr addr,
                                   uint8_t *buf, uint64_t len, int op,
                                   uint8_t c)
{
    MemTxResult r1 = MEMTX_OK;

    if (len == 0) {
        return MEMTX_OK;
    }
    /* [addr, 2^64) then, if the access wraps, [0, rest). */
    if (addr + (len - 1) < addr) {
        uint64_t first = -addr;

        r1 = access_range(as, addr, buf, first, op, c);
        addr = 0;
        if (buf) {
            buf += first;
        }
        len -= first;
    }
    return access_range(as, addr, buf, len, op, c) | r1;
}

MemTxResult address_space_read(AddressSpace *as, hwaddr addr, void *buf,
                               hwaddr len)
{
    return access_wrapping(as, addr, buf, len, 0, 0);
}

MemTxResult address_space_write(AddressSpace *as, hwaddr addr,
                                const void *buf, hwaddr len)
{
    return access_wrapping(as, addr, (uint8_t *)buf, len, 1, 0);
}

MemTxResult address_space_set(AddressSpace *as, hwaddr addr, uint8_t c,
                              hwaddr len)
{
    return access_wrapping(as, addr, NULL, len, 2, c);
}

uint64_t address_space_ldn_le(AddressSpace *as, hwaddr addr, unsigned size)
{
    uint8_t b[8] = { 0 };
    uint64_t v = 0;

    assert(size <= 8);
    address_space_read(as, addr, b, size);
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)b[i] << (8 * i);
    }
    return v;
}

void address_space_stn_le(AddressSpace *as, hwaddr addr, uint64_t val,
                          unsigned size)
{
    uint8_t b[8];

    assert(size <= 8);
    for (unsigned i = 0; i < size; i++) {
        b[i] = val >> (8 * i);
    }
    address_space_write(as, addr, b, size);
}
