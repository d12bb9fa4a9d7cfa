/*
 * pagemap.h: has this process ever populated a page of its own memory?
 *
 * Reads /proc/self/pagemap, whose entry for a page says whether it is
 * present in RAM (bit 63) or swapped out (bit 62).  In a private anonymous
 * mapping a page that is neither has never been written (or was
 * discarded) and reads as zeros — without the page fault that reading it
 * would cost.  For shared or file mappings "not present" says nothing
 * about the contents: callers must only ask about private anonymous
 * memory.
 *
 * Entries are read a window at a time into a caller-owned PagemapWindow;
 * a window is tagged with the caller's generation number and is refilled
 * when asked with another one, so a caller that must not trust entries
 * older than some event bumps its generation at that event.
 */
#ifndef QEMU_PAGEMAP_H
#define QEMU_PAGEMAP_H

#include "qemu/osdep.h"

#define PAGEMAP_WINDOW 512      /* entries: 2 MiB of 4 KiB pages */

typedef struct PagemapWindow {
    uintptr_t start;            /* host address of ent[0] */
    unsigned count;             /* entries read */
    uint64_t gen;
    uint64_t ent[PAGEMAP_WINDOW];
} PagemapWindow;

/* An empty window (nothing cached). */
void pagemap_window_init(PagemapWindow *w);

/*
 * True if the host page holding @addr is neither present nor swapped out
 * (see above for what that means).  False when it is, and whenever it
 * cannot be told (no /proc, a short read): the caller then reads the page.
 */
bool pagemap_page_unpopulated(PagemapWindow *w, const void *addr,
                              uint64_t gen);

#endif
