/*
 * memory.h: guest physical address spaces and the regions mapped in them.
 *
 * A MemoryRegion is either RAM (backed by a RAMBlock) or I/O (callbacks).
 * Regions are mapped into an AddressSpace at a base address; the system
 * memory space and the x86 I/O port space exist from start-up.  The map is
 * built during machine initialisation and is read without locks afterwards
 * (ferry has no memory hotplug).
 *
 * Accesses that hit no region behave as on a QEMU "-M none" machine: reads
 * return 0 (all-ones for I/O ports), writes are dropped, and they are
 * traced.  An access may span regions and wraps around at 2^64.
 */
#ifndef EXEC_MEMORY_H
#define EXEC_MEMORY_H

#include "qemu/osdep.h"
#include "exec/ramblock.h"

typedef enum MemTxResult {
    MEMTX_OK = 0,
    MEMTX_ERROR = 1,
    MEMTX_DECODE_ERROR = 2,     /* some bytes hit no region */
} MemTxResult;

typedef struct MemoryRegionOps {
    /* @size is 1, 2, 4 or 8; values are little-endian guest values. */
    uint64_t (*read)(void *opaque, hwaddr addr, unsigned size);
    void (*write)(void *opaque, hwaddr addr, uint64_t val, unsigned size);
} MemoryRegionOps;

struct MemoryRegion {
    char *name;
    uint64_t size;
    RAMBlock *ram_block;            /* RAM regions */
    const MemoryRegionOps *ops;     /* I/O regions */
    void *opaque;
};

typedef struct AddressSpace AddressSpace;

extern AddressSpace address_space_memory;
extern AddressSpace address_space_io;

void memory_region_init_ram_from_block(MemoryRegion *mr, const char *name,
                                       RAMBlock *rb);
void memory_region_init_io(MemoryRegion *mr, const char *name,
                           const MemoryRegionOps *ops, void *opaque,
                           uint64_t size);
/* Maps @mr at @base; overlapping an existing region is an error. */
bool address_space_map_region(AddressSpace *as, hwaddr base,
                              MemoryRegion *mr, Error **errp);
void address_space_unmap_all(AddressSpace *as);

MemTxResult address_space_read(AddressSpace *as, hwaddr addr, void *buf,
                               hwaddr len);
MemTxResult address_space_write(AddressSpace *as, hwaddr addr,
                                const void *buf, hwaddr len);
MemTxResult address_space_set(AddressSpace *as, hwaddr addr, uint8_t c,
                              hwaddr len);

/*
 * A listener learns about RAM regions mapped into an address space (the
 * ones mapped before it registers are replayed), the way an accelerator
 * mirrors guest RAM into its own memory slots.  Registration happens at
 * start-up, in the main thread.
 */
typedef struct MemoryListener MemoryListener;
struct MemoryListener {
    void (*region_add)(MemoryListener *l, AddressSpace *as, hwaddr base,
                       MemoryRegion *mr);
};

void memory_listener_register(MemoryListener *l);

/* Translates a guest physical address to its RAMBlock, or NULL. */
RAMBlock *address_space_translate_ram(AddressSpace *as, hwaddr addr,
                                      ram_addr_t *offset, hwaddr *avail);

static inline void cpu_physical_memory_read(hwaddr addr, void *buf,
                                            hwaddr len)
{
    address_space_read(&address_space_memory, addr, buf, len);
}

static inline void cpu_physical_memory_write(hwaddr addr, const void *buf,
                                             hwaddr len)
{
    address_space_write(&address_space_memory, addr, buf, len);
}

/* Little-endian scalar accessors of the x86 guest. */
uint64_t address_space_ldn_le(AddressSpace *as, hwaddr addr, unsigned size);
void address_space_stn_le(AddressSpace *as, hwaddr addr, uint64_t val,
                          unsigned size);

#endif
