/*
 * ram.h: RAM migration (the "ram" section, spec §4).
 */
#ifndef MIGRATION_RAM_H
#define MIGRATION_RAM_H

#include "qemu/osdep.h"
#include "exec/ramblock.h"
#include "qemu-file.h"
#include "postcopy-ram.h"

/* RAM_SAVE_FLAG_*: the low bits of every record header (spec §4.2). */
#define RAM_SAVE_FLAG_FULL          0x01    /* obsolete, never sent */
#define RAM_SAVE_FLAG_ZERO          0x02
#define RAM_SAVE_FLAG_MEM_SIZE      0x04
#define RAM_SAVE_FLAG_PAGE          0x08
#define RAM_SAVE_FLAG_EOS           0x10
#define RAM_SAVE_FLAG_CONTINUE      0x20
#define RAM_SAVE_FLAG_XBZRLE        0x40
#define RAM_SAVE_FLAG_HOOK          0x80    /* RDMA only */
#define RAM_SAVE_FLAG_COMPRESS_PAGE 0x100   /* removed in 9.1 */
#define RAM_SAVE_FLAG_MULTIFD_FLUSH 0x200   /* 8.0+, multifd only */

/* The "ram" section's version; the loader requires exactly this. */
#define RAM_SECTION_VERSION 4


/* Registers the "ram" live handler (start-up, main thread). */
void ram_mig_init(void);

/* Source, RP thread: queue a page range the destination asked for. */
void ram_save_queue_pages(RAMBlock *rb, uint64_t start, uint64_t len);
/*
 * Source, postcopy after RUN: the return-path thread may send requested
 * pages itself (ram.c explains when).  The migration thread holds the
 * writer lock while it writes to the main channel; set_direct(true,
 * preempt channel or NULL) once the package is out, (false, NULL) before
 * the completion or a pause, and preempt_end() after the main channel's
 * EOF (writes the preempt channel's EOS).  ram_save_urgent() sends the dirty pages of
 * [start, start+len) now, or returns false if it cannot (queue the
 * request instead).
 */
void ram_postcopy_writer_lock(void);
void ram_postcopy_writer_unlock(void);
void ram_postcopy_set_direct(bool on, QEMUFile *preempt);
void ram_postcopy_preempt_end(QEMUFile *preempt);
/*
 * Postcopy after RUN (migration thread): the main channel @f's send queue
 * in bytes while page requests come (@urgent) and while none do (@bulk);
 * the push switches between them (ram.c, "Pacing").
 */
void ram_postcopy_set_send_queues(QEMUFile *f, int urgent, int bulk);
/*
 * Recovery: the destination's received bitmap of @rb (one bit per target
 * page) becomes what is still to send; returns how many pages had been
 * sent and were lost with the link.  Then, with every bitmap in,
 * resume_prepare() recounts and restarts the scan; returns the pages to
 * send.
 */
uint64_t ram_postcopy_reload_bitmap(RAMBlock *rb,
                                    const unsigned long *received);
uint64_t ram_postcopy_resume_prepare(void);
bool ram_save_urgent(QEMUFile *f, RAMBlock *rb, uint64_t start,
                     uint64_t len);
/*
 * Source, at the postcopy switch (VM stopped): final sync, then the
 * DISCARD commands for every page still to send.
 */
int ram_postcopy_send_discard_bitmap(QEMUFile *f, Error **errp);

/*
 * Destination, after LISTEN: loads page records from @f up to EOS, placing
 * whole host pages; @channel selects the temporary page and the block
 * CONTINUE refers to.  0 at EOS, else -errno with @errp set and the error
 * recorded on @f.
 */
int ram_load_postcopy(QEMUFile *f, PostcopyIncoming *pc, int channel,
                      Error **errp);
/* A new link: CONTINUE may not refer to a block named on the old one. */
void ram_load_link_reset(void);

/* Source statistics for query-migrate. */
uint64_t ram_bytes_remaining(void);
uint64_t ram_dirty_pages_rate(void);

#endif
