/*
 * postcopy-ram.h: postcopy RAM on the destination (spec §5, §7.3, §8-§11).
 *
 * PostcopyIncoming is the whole of the destination's postcopy machinery:
 * its state (postcopy-state.h), userfaultfd and page placement, the fault
 * thread and its requests, the listen thread that reads the main channel
 * after LISTEN, the preempt channel's thread, and the pause and recovery
 * of a broken link.  incoming.c creates one per incoming migration and
 * frees it after the last of its threads ended; everything else calls
 * the functions below with it, and nothing reaches inside.
 *
 * The loaders it runs (the savevm loop on the main channel, the page
 * loader on the preempt channel) live above it, in loadvm.c and ram.c:
 * incoming.c hands them over in PostcopyIncomingOps, so that postcopy
 * does not depend on the files that depend on it.
 */
#ifndef MIGRATION_POSTCOPY_RAM_H
#define MIGRATION_POSTCOPY_RAM_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu-file.h"
#include "postcopy-state.h"
#include "exec/ramblock.h"

/* The channels RAM pages travel on (postcopy-preempt adds the second). */
enum {
    RAM_CHANNEL_MAIN,
    RAM_CHANNEL_PREEMPT,
    RAM_CHANNEL__MAX,
};

typedef struct MigrationIncomingState MigrationIncomingState;
typedef struct PostcopyIncoming PostcopyIncoming;
typedef struct PostcopyTmpPage PostcopyTmpPage;
typedef struct JSONWriter JSONWriter;

typedef struct PostcopyIncomingOps {
    /*
     * Reads the main channel to its EOF: 0, or < 0 with the error
     * recorded on @f (the caller reads it from there).
     */
    int (*load_main)(QEMUFile *f, void *opaque);
    /* Reads page records from the preempt channel to its EOS; likewise. */
    int (*load_preempt)(QEMUFile *f, void *opaque);
    /* A link broke: the loaders forget what they knew of the old one. */
    void (*link_reset)(void *opaque);
    /*
     * The listen thread's last act, from that thread: the migration
     * succeeded (@err NULL) or failed.  Takes @err.
     */
    void (*finished)(void *opaque, Error *err);
} PostcopyIncomingOps;

PostcopyIncoming *postcopy_incoming_new(MigrationIncomingState *mis,
                                        const PostcopyIncomingOps *ops,
                                        void *opaque);
/* After the threads ended (the listen thread joined); NULL is fine. */
void postcopy_incoming_free(PostcopyIncoming *pc);
/*
 * Harness mode, for the loader's fuzz target (tests/fuzz): everything as
 * usual, the listen and preempt threads included, except that nothing
 * touches userfaultfd — pages are placed with a copy (a page placed twice
 * fails as UFFDIO_COPY would, with EEXIST), no page is ever requested —
 * and RUN does not start the VM (a loader's run state is not its own).
 * Call right after postcopy_incoming_new().
 */
void postcopy_incoming_set_harness(PostcopyIncoming *pc);

/* ---- the stream's postcopy commands (loadvm.c) ---- */

/* MIG_CMD_POSTCOPY_*, RECV_BITMAP; the payload is still on @f. */
int postcopy_incoming_command(PostcopyIncoming *pc, QEMUFile *f,
                              unsigned cmd, unsigned len, uint64_t start,
                              Error **errp);
/* ADVISE seen and the migration not over: PACKAGED is allowed. */
bool postcopy_incoming_advised(PostcopyIncoming *pc);
/* RAM records are postcopy records (after LISTEN). */
bool postcopy_incoming_listening(PostcopyIncoming *pc);
/*
 * The incoming thread is done with the package (or failed inside it,
 * @err set): the listen thread may finish once its stream ends.
 */
void postcopy_incoming_package_done(PostcopyIncoming *pc, Error *err);
/* The listen thread runs (incoming.c then leaves the finish to it). */
bool postcopy_incoming_listen_started(PostcopyIncoming *pc);
/* The load ended before LISTEN (in precopy, or failed): ADVISE -> END. */
void postcopy_incoming_load_ended(PostcopyIncoming *pc);

/* ---- pages (ram.c) ---- */

/* Each channel assembles host pages in its own temporary page. */
PostcopyTmpPage *postcopy_tmp_page(PostcopyIncoming *pc, int channel);
/* Adds one target page (data from @f, or a fill byte) at @addr of @rb. */
int postcopy_load_target_page(PostcopyIncoming *pc, PostcopyTmpPage *tmp,
                              int channel, RAMBlock *rb, uint64_t addr,
                              QEMUFile *f, bool zero, uint8_t fill,
                              Error **errp);
/*
 * Places the zero pages @tmp has gathered; the channel calls it when its
 * input runs dry and at its end.
 */
int postcopy_flush_zero_run(PostcopyIncoming *pc, PostcopyTmpPage *tmp,
                            Error **errp);

/* ---- the host ---- */

/* Can this host do postcopy (userfaultfd, page sizes)? */
bool postcopy_ram_supported_by_host(Error **errp);

/* ---- the link (incoming.c, QMP) ---- */

/* Whether a new connection now is a recovery (postcopy-paused). */
bool postcopy_incoming_wants_channels(PostcopyIncoming *pc);
/*
 * Recovery: the new main channel arrived.  Takes it; postcopy-paused ->
 * postcopy-recover, and the listen thread reads @main from now on.
 * False (and @main closed) if it came too late or too early.
 */
bool postcopy_incoming_recover(PostcopyIncoming *pc, QEMUFile *main);
/*
 * A preempt channel arrived (any time: QEMU 7.2 sends it right after the
 * main one, 8.0+ at the switch or in the recovery handshake).  Takes it:
 * the preempt thread reads it, or it is closed (a second one for the
 * same link, or one that comes while a broken link is torn down).
 */
void postcopy_incoming_preempt_channel(PostcopyIncoming *pc, QEMUFile *f);
/*
 * The same with mis->channel_lock held; returns whether @f was taken
 * (else the caller closes it, after dropping the lock).
 */
bool postcopy_incoming_preempt_channel_locked(PostcopyIncoming *pc,
                                              QEMUFile *f);
/*
 * Breaks the links on purpose (migrate-pause): @why is recorded as the
 * link's failure first, so that the pause says so.
 */
void postcopy_incoming_break(PostcopyIncoming *pc, const char *why);
/*
 * At exit: a paused migration gives up (its vCPUs waiting for pages are
 * released), the threads end; returns once the listen thread has, true
 * if there was one.
 */
bool postcopy_incoming_shutdown(PostcopyIncoming *pc);
/* Joins the listen thread after its ops->finished. */
void postcopy_incoming_join(PostcopyIncoming *pc);

/* ---- query-migrate ---- */

/* The destination's postcopy members, for the status @st. */
void postcopy_write_stats(PostcopyIncoming *pc, int st, JSONWriter *w);

#endif
