/*
 * pagemap.c: populated-page queries through /proc/self/pagemap (see the
 * header for what an answer means).
 */
#include "qemu/osdep.h"
#include "qemu/pagemap.h"
#include "qemu/atomic.h"
#include "trace.h"

#include <fcntl.h>

#define PM_PRESENT  (1ULL << 63)
#define PM_SWAPPED  (1ULL << 62)

/* -2: not opened yet; -1: unavailable.  Opened once, never closed. */
static int pagemap_fd = -2;

static int pagemap_open(void)
{
    int fd = qatomic_read(&pagemap_fd);

    if (fd == -2) {
        int nfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        int old = qatomic_cmpxchg(&pagemap_fd, -2, nfd < 0 ? -1 : nfd);

        if (old != -2) {
            /* Another thread was first. */
            if (nfd >= 0) {
                close(nfd);
            }
            fd = old;
        } else {
            fd = nfd < 0 ? -1 : nfd;
            trace_pagemap_open(fd);
        }
    }
    return fd;
}

void pagemap_window_init(PagemapWindow *w)
{
    w->start = 0;
    w->count = 0;
    w->gen = 0;
}

static bool pagemap_fill(PagemapWindow *w, uintptr_t page, uint64_t gen)
{
    size_t ps = qemu_real_host_page_size;
    int fd = pagemap_open();
    unsigned none = 0;
    ssize_t n;

    w->count = 0;
    if (fd < 0) {
        return false;
    }
    n = pread(fd, w->ent, sizeof(w->ent), (off_t)(page / ps) * 8);
    if (n < 8) {
        return false;
    }
    w->start = page;
    w->count = n / 8;
    w->gen = gen;
    /* (Counting costs little next to the read.) */
    for (unsigned i = 0; i < w->count; i++) {
        none += !(w->ent[i] & (PM_PRESENT | PM_SWAPPED));
    }
    trace_pagemap_fill(page, w->count, none);
    return true;
}

bool pagemap_page_unpopulated(PagemapWindow *w, const void *addr,
                              uint64_t gen)
{
    size_t ps = qemu_real_host_page_size;
    uintptr_t page = (uintptr_t)addr & ~(uintptr_t)(ps - 1);
    uint64_t i;

    if (w->gen != gen || !w->count || page < w->start ||
        (page - w->start) / ps >= w->count) {
        if (!pagemap_fill(w, page, gen)) {
            return false;
        }
    }
    i = (page - w->start) / ps;
    return !(w->ent[i] & (PM_PRESENT | PM_SWAPPED));
}
