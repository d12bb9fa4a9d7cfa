/*
 * return-path.h: the return path, destination -> source (spec §6, §10.3).
 *
 * The wire format lives here and nowhere else: both ends of every message
 * type, and the received-bitmap blob that follows an RP RECV_BITMAP.
 * The module knows nothing about migration states or RAM sending; the
 * source's reader hands each valid message to callbacks (RPReaderOps),
 * and the destination's writer sends what it is told to.
 *
 * Destination: one RPWriter for the whole incoming migration.  A channel
 * is attached when OPEN_RETURN_PATH arrives, detached when the link
 * breaks, and a new one attached on recovery.  Any thread may send;
 * messages sent while nothing is attached are dropped (false), which is
 * right for every sender: page requests are re-sent after a recovery,
 * and PONG/SHUT have nobody to go to.
 *
 * Source: rp_reader_start() runs a thread that reads messages until SHUT,
 * a violation, a broken channel, or rp_reader_shutdown().  Every length,
 * block name, range and value is validated before a callback sees it.
 */
#ifndef MIGRATION_RETURN_PATH_H
#define MIGRATION_RETURN_PATH_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu-file.h"
#include "exec/ramblock.h"

enum MigRpMessageType {
    MIG_RP_MSG_INVALID = 0,
    MIG_RP_MSG_SHUT,            /* be32 0 = OK, 1 = the destination failed */
    MIG_RP_MSG_PONG,            /* be32 echoed from a PING */
    MIG_RP_MSG_REQ_PAGES_ID,    /* be64 start, be32 len, counted idstr */
    MIG_RP_MSG_REQ_PAGES,       /* be64 start, be32 len (last named block) */
    MIG_RP_MSG_RECV_BITMAP,     /* counted idstr, then the blob (§10.3) */
    MIG_RP_MSG_RESUME_ACK,      /* be32 1 */
    MIG_RP_MSG_MAX              /* 7.2 stops here: never send more */
};

/* The received bitmap's end mark (RAMBLOCK_RECV_BITMAP_ENDING). */
#define RP_RECV_BITMAP_ENDING 0x0123456789abcdefULL
/* The value RESUME_ACK carries. */
#define RP_RESUME_ACK_VALUE 1

const char *rp_msg_name(unsigned type);

/* ---- destination ---- */

typedef struct RPWriter RPWriter;

RPWriter *rp_writer_new(void);
void rp_writer_free(RPWriter *w);
/* Sends go to @f from now on (takes ownership; detaches the old one). */
void rp_writer_attach(RPWriter *w, QEMUFile *f);
/* Closes the attached channel, if any; later sends are dropped. */
void rp_writer_detach(RPWriter *w);
bool rp_writer_attached(RPWriter *w);
/*
 * Wakes a sender blocked on a full channel (it fails); the channel stays
 * attached until rp_writer_detach().  Any thread, no lock needed.
 */
void rp_writer_shutdown(RPWriter *w);

/* Each returns false if nothing was attached or the channel failed. */
bool rp_send_shut(RPWriter *w, uint32_t value);
bool rp_send_pong(RPWriter *w, uint32_t value);
/* @rb named (REQ_PAGES_ID) when @named, else REQ_PAGES. */
bool rp_send_req_pages(RPWriter *w, RAMBlock *rb, bool named,
                       uint64_t start, uint32_t len);
/*
 * RECV_BITMAP for @rb and the blob: @received holds one bit per target
 * page of the block's first @nbits (bit set: the page is here).
 */
bool rp_send_recv_bitmap(RPWriter *w, RAMBlock *rb,
                         const unsigned long *received, uint64_t nbits);
bool rp_send_resume_ack(RPWriter *w, uint32_t value);

/* ---- source ---- */

/*
 * Callbacks, run in the reader thread.  One returning false stops the
 * reader with the error it set, reported as a protocol violation.
 */
typedef struct RPReaderOps {
    void (*pong)(void *opaque, uint32_t value);
    /* A page request, checked: the block exists, the range is in it. */
    bool (*req_pages)(void *opaque, RAMBlock *rb, uint64_t start,
                      uint32_t len, Error **errp);
    /*
     * A received bitmap, checked (size and end mark): @received has one
     * bit per target page of @rb's used length, host order.
     */
    bool (*recv_bitmap)(void *opaque, RAMBlock *rb,
                        const unsigned long *received, Error **errp);
    bool (*resume_ack)(void *opaque, uint32_t value, Error **errp);
    /* SHUT(0): false (and *@errp) if it comes too early. */
    bool (*shut)(void *opaque, Error **errp);
    /*
     * The reader stopped: after SHUT (@err NULL if it said 0), or on the
     * first error.  @io: the channel failed (the peer went away, or the
     * link broke), as opposed to a message that broke the protocol.  Not
     * called when rp_reader_shutdown() stopped it.  Takes @err.
     */
    void (*stopped)(void *opaque, Error *err, bool io);
} RPReaderOps;

typedef struct RPReader RPReader;

/* Starts the reader thread on @f (takes ownership). */
RPReader *rp_reader_start(QEMUFile *f, const RPReaderOps *ops, void *opaque);
/* Makes the reader stop soon (it will not call ->stopped). Any thread. */
void rp_reader_shutdown(RPReader *r);
/* Waits for the thread to end. */
void rp_reader_join(RPReader *r);
/* Whether it ended with SHUT(0); only after rp_reader_join(). */
bool rp_reader_got_shut_ok(RPReader *r);
/* Shuts down, joins, closes the channel; NULL is fine. */
void rp_reader_free(RPReader *r);

/*
 * The stream parser on its own, for the reader thread, tests and fuzzing:
 * reads messages from @f until SHUT or an error.  Returns 0 after SHUT(0),
 * else -1 with @errp set and *@io telling the class (see ->stopped).
 */
int rp_read_messages(QEMUFile *f, const RPReaderOps *ops, void *opaque,
                     bool *io, Error **errp);

#endif
