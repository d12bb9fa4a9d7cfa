/*
 * multifd.h: RAM pages over several extra connections (capability
 * multifd), as QEMU 7.2 speaks it.  Private to migration/.
 *
 * The wire (../shared/spec/multifd-and-tls.md, section A): each extra
 * connection starts with a 64-byte hello (magic, version, VM UUID,
 * channel id), then carries packets: a fixed 1344-byte header (flags,
 * page count, block name, up to 128 page offsets) and the pages, raw or
 * through one zlib / zstd stream per channel.  Zero pages stay on the
 * main channel as ZERO records.  A barrier keeps the channels in step
 * with the main one: every channel sends a SYNC packet, and the
 * destination places all of them before it reads past the matching
 * point of the main stream — the end of each RAM section (7.2), or a
 * MULTIFD_FLUSH record (8.0+ sources; ferry with the migration property
 * multifd-flush-after-each-section=off).
 */
#ifndef MIGRATION_MULTIFD_H
#define MIGRATION_MULTIFD_H

#include "qemu-file.h"
#include "exec/ramblock.h"

#define MULTIFD_MAGIC           0x11223344u
#define MULTIFD_VERSION         1
#define MULTIFD_HELLO_SIZE      64
#define MULTIFD_PAGES_MAX       128         /* 512 KiB of 4 KiB pages */
#define MULTIFD_HEADER_SIZE     (320 + 8 * MULTIFD_PAGES_MAX)

#define MULTIFD_FLAG_SYNC       (1u << 0)
#define MULTIFD_FLAG_NOCOMP     (0u << 1)
#define MULTIFD_FLAG_ZLIB       (1u << 1)
#define MULTIFD_FLAG_ZSTD       (2u << 1)
#define MULTIFD_FLAG_COMP_MASK  (7u << 1)

/* A compressed packet may not exceed this (twice the raw payload). */
#define MULTIFD_COMP_MAX        (2 * MULTIFD_PAGES_MAX * TARGET_PAGE_SIZE)

/* One packet's header, in host order. */
typedef struct MultiFDHeader {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t pages_alloc;
    uint32_t normal_pages;
    uint32_t next_packet_size;
    uint64_t packet_num;
    uint32_t zero_pages;        /* 8.x+: the first reserved word */
    char ramblock[256];
    uint64_t offset[MULTIFD_PAGES_MAX];
} MultiFDHeader;

void multifd_header_encode(const MultiFDHeader *h,
                           uint8_t out[MULTIFD_HEADER_SIZE]);
void multifd_header_decode(const uint8_t in[MULTIFD_HEADER_SIZE],
                           MultiFDHeader *h);
void multifd_hello_encode(uint8_t id, uint8_t out[MULTIFD_HELLO_SIZE]);

/* ---- compression methods (multifd-compress.c) ---- */

typedef struct MultiFDMethod {
    const char *name;           /* the multifd-compression value */
    uint32_t flag;              /* MULTIFD_FLAG_* */
    /* The sender's stream, for the whole migration. */
    void *(*send_new)(int level, Error **errp);
    /* Appends the compressed @n pages to @out; -1 on error. */
    ssize_t (*compress)(void *st, uint8_t *const *pages, unsigned n,
                        uint8_t *out, size_t cap, Error **errp);
    void (*send_free)(void *st);
    void *(*recv_new)(Error **errp);
    /* Inflates exactly @n pages from @in; false with @errp otherwise. */
    bool (*decompress)(void *st, unsigned id, const uint8_t *in, size_t len,
                       uint8_t *const *pages, unsigned n, Error **errp);
    void (*recv_free)(void *st);
} MultiFDMethod;

/* The method called @name, NULL for "none" (or an unknown name). */
const MultiFDMethod *multifd_method(const char *name);
/* The compression the current parameters ask for (its flag for none). */
uint32_t multifd_compression_flag(void);

/* ---- source (multifd-send.c) ---- */

typedef struct MultiFDSendState MultiFDSendState;

/*
 * Connects migrate's multifd-channels connections to @uri (each with its
 * own TLS handshake if tls-creds is set), and starts a thread for each,
 * which sends the hello.  Errors on a channel later are recorded on
 * @main (the first error of the migration wins) and shut it down.
 */
MultiFDSendState *multifd_send_setup(const char *uri, QEMUFile *main,
                                     Error **errp);
/* Queues a non-zero page; the batch goes out when full. False on error. */
bool multifd_queue_page(MultiFDSendState *ms, RAMBlock *rb, uint64_t offset);
/*
 * The barrier: hands the partial batch out and queues a SYNC packet on
 * every channel.  Never waits for the peer, and for room in the queues
 * only when the BQL is not held.
 */
bool multifd_send_sync(MultiFDSendState *ms);
/* Waits until every queued packet has gone out; false on error. */
bool multifd_send_drain(MultiFDSendState *ms);
/* Shuts every channel down (cancel, a failure): any thread. */
void multifd_send_shutdown(MultiFDSendState *ms);
/* Stops and joins the threads, closes the channels, frees. */
void multifd_send_cleanup(MultiFDSendState *ms);
uint64_t multifd_send_bytes(MultiFDSendState *ms);

/* ---- destination (multifd-recv.c) ---- */

typedef struct MultiFDRecvState MultiFDRecvState;

/*
 * For one incoming migration: @main is where a channel's failure is
 * recorded (its first error wins) and which it shuts down, once set.
 */
MultiFDRecvState *multifd_recv_new(void);
void multifd_recv_set_main(MultiFDRecvState *mr, QEMUFile *main);
typedef enum {
    MULTIFD_CHANNEL_MAIN,       /* "QEVM": @f is the caller's again */
    MULTIFD_CHANNEL_MULTIFD,    /* taken: its thread runs */
    MULTIFD_CHANNEL_REFUSED,    /* closed, with the reason in @errp */
} MultiFDChannelKind;

/*
 * A new connection: peeks at its first bytes; a multifd one's hello is
 * read and checked and its thread started.  From any thread but the main
 * loop (the bytes may be slow to come); the caller holds a reference.
 */
MultiFDChannelKind multifd_recv_accept(MultiFDRecvState *mr, QEMUFile *f,
                                       Error **errp);
void multifd_recv_ref(MultiFDRecvState *mr);
void multifd_recv_unref(MultiFDRecvState *mr);
/*
 * The destination's half of the barrier, called by the RAM loader at
 * @flush (MULTIFD_FLUSH record) or at a section's end: which of the two
 * the source uses is learnt from the first barrier of the stream.
 * Returns 0, or -errno with @errp.
 */
int multifd_recv_sync(MultiFDRecvState *mr, bool flush, Error **errp);
void multifd_recv_shutdown(MultiFDRecvState *mr);
/*
 * Shuts down, joins the channel threads, waits for those still telling
 * connections apart, and drops the owner's reference.
 */
void multifd_recv_free(MultiFDRecvState *mr);

#endif
