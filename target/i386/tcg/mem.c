/*
 * mem.c: guest memory for the interpreter, and its share of the dirty log.
 *
 * The guest has no paging (the interpreter refuses CR0.PG), so a linear
 * address is a physical one.  Physical pages resolve, on first touch, to
 * either a host page of a RAMBlock (pc.ram, vga.vram) or "I/O"; the
 * resolution is cached in a flat map of 2^20 entries (8 MiB of address
 * space, touched sparsely).  The system address space never changes after
 * board init, so the map never goes stale.
 *
 * RAM is read and written through the host pointer, without the BQL: the
 * same memory KVM would map into the guest.  Under postcopy the pages not
 * yet received are registered with userfaultfd, so an access to one
 * faults in this thread, which sleeps in the kernel until the page is
 * placed, and the fault thread records the wait as this vCPU's blocktime
 * (it names the thread by its TID).  Such an access is bracketed by
 * x86_ram_enter()/leave(), where a kick may abandon the instruction
 * (x86-interp.h).
 *
 * Every other access goes through address_space_read/write under the BQL,
 * one naturally sized access at a time, as KVM's MMIO exits do.
 *
 * Dirty log: each store records its host page (consecutive duplicates
 * skipped); x86_dirty_flush() marks the recorded pages in their blocks'
 * logs if logging is on, at the end of each slice and when the record is
 * full.  Marking after the store keeps migration exact: a harvest before
 * the mark leaves the bit for the next one, and the final harvest runs
 * after the vCPU parked, which flushes first.
 */
#include "x86-interp.h"
#include "exec/memory.h"
#include "exec/ramblock.h"
#include "qemu/main-loop.h"
#include "trace.h"

bool x86_mem_init(X86TCGState *t, Error **errp)
{
    t->pagemap = g_try_new0(uintptr_t, X86_PAGEMAP_ENTRIES);
    if (!t->pagemap) {
        error_setg(errp, "TCG: cannot allocate the guest page map");
        return false;
    }
    t->ndirty = 0;
    return true;
}

void x86_mem_fini(X86TCGState *t)
{
    g_free(t->pagemap);
    t->pagemap = NULL;
}

uintptr_t x86_page_fill(X86TCGState *t, uint32_t lin)
{
    hwaddr page = lin & ~0xfffu, avail = 0;
    ram_addr_t offset = 0;
    sig_atomic_t saved = t->in_ram;
    RAMBlock *rb;
    uintptr_t e = X86_PAGE_IO;

    t->in_ram = 0;                  /* (the trace below may take locks) */
    rb = address_space_translate_ram(&address_space_memory, page, &offset,
                                     &avail);

    if (rb && avail >= TARGET_PAGE_SIZE &&
        offset + TARGET_PAGE_SIZE <= rb->used_length) {
        uintptr_t host = (uintptr_t)(rb->host + offset);

        if (!(host & 0xfff)) {
            e = host | X86_PAGE_RAM;
        }
    }
    t->pagemap[lin >> 12] = e;
    trace_x86_tcg_page_fill(page, e & X86_PAGE_RAM ? "ram" : "io");
    t->in_ram = saved;
    return e;
}

/* One access to a non-RAM page, under the BQL (devices expect it). */
static void mmio_access(X86TCGState *t, uint32_t lin, uint8_t *buf,
                        int size, bool write)
{
    sig_atomic_t saved = t->in_ram;

    t->in_ram = 0;                  /* no abandoning while holding locks */
    bql_lock();
    if (write) {
        address_space_write(&address_space_memory, lin, buf, size);
    } else {
        address_space_read(&address_space_memory, lin, buf, size);
    }
    bql_unlock();
    t->in_ram = saved;
    trace_x86_tcg_mmio(lin, size, write);
}

/* One byte of RAM (a page-crossing access, byte by byte). */
static bool ram_byte(X86TCGState *t, uint32_t lin, uint8_t *b, bool write)
{
    uint8_t *p = x86_ram_ptr(t, lin, 1);
    sig_atomic_t saved = t->in_ram;

    if (!p) {
        return false;
    }
    t->in_ram = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (write) {
        *p = *b;
    } else {
        *b = *p;
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->in_ram = saved;
    if (write) {
        x86_dirty_record(t, p);
    }
    return true;
}

static void access_slow(X86TCGState *t, uint32_t lin, uint8_t *buf,
                        int size, bool write)
{
    if ((lin & 0xfff) + (uint32_t)size <= 0x1000) {
        /* Within one page, not RAM: a device. */
        mmio_access(t, lin, buf, size, write);
        return;
    }
    for (int i = 0; i < size; i++) {
        if (!ram_byte(t, lin + i, &buf[i], write)) {
            mmio_access(t, lin + i, &buf[i], 1, write);
        }
    }
}

uint32_t x86_ld_slow(X86TCGState *t, uint32_t lin, int size)
{
    uint8_t b[4] = { 0 };

    access_slow(t, lin, b, size, false);
    return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

void x86_st_slow(X86TCGState *t, uint32_t lin, uint32_t v, int size)
{
    uint8_t b[4] = { v, v >> 8, v >> 16, v >> 24 };

    access_slow(t, lin, b, size, true);
}

void x86_dirty_record_slow(X86TCGState *t, uintptr_t hpage)
{
    if (t->ndirty == X86_DIRTY_MAX) {
        x86_dirty_flush(t);
    }
    t->dirty[t->ndirty++] = hpage;
}

void x86_dirty_flush(X86TCGState *t)
{
    unsigned n = t->ndirty;

    t->ndirty = 0;
    if (!n || !memory_global_dirty_log_enabled()) {
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        ram_addr_t offset;
        RAMBlock *rb = qemu_ram_block_from_host((void *)t->dirty[i],
                                                &offset);

        if (rb) {
            ramblock_set_dirty_range(rb, offset, TARGET_PAGE_SIZE);
        }
    }
    trace_x86_tcg_dirty_flush(n);
}
