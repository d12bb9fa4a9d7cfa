/*
 * migration-helpers.h: what migration tests share — waiting for states,
 * reading query-migrate, filling and checking guest memory.
 */
#ifndef MIGRATION_HELPERS_H
#define MIGRATION_HELPERS_H

#include "libqtest.h"

/* query-migrate "status" (caller frees). */
char *migrate_query_status(QTestState *who);
/* query-migrate, the whole return object (caller unrefs the node). */
JsonNode *migrate_query(QTestState *who);
/* Polls until status is @goal; fails the test on "failed" or timeout. */
void wait_for_migration_status(QTestState *who, const char *goal);
void wait_for_migration_complete(QTestState *who);
/* Polls until status is "failed" (or, if @allow_cancelled, cancelled). */
void wait_for_migration_fail(QTestState *who, bool allow_cancelled);

/*
 * Starts @binary (NULL: ferry) as "-M none -m @ram_mb M -nodefaults
 * -display none" and @fmt, stderr captured, without the qtest accelerator
 * if @no_qtest (QEMU's Debian build has none), and turns the "events"
 * capability on.
 */
QTestState *migrate_start_vm(const char *binary, bool no_qtest,
                             unsigned ram_mb, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* The real QEMU at the other end of an interop test. */
typedef enum InteropPeer {
    PEER_QEMU72,
    PEER_QEMU10,
} InteropPeer;

/* Whether @peer's binary is there; if not, skips the test saying why. */
bool interop_have_peer(InteropPeer peer);
/* @peer's binary if @qemu, else NULL (ferry): for migrate_start_vm(). */
const char *interop_binary(InteropPeer peer, bool qemu);

void migrate_qmp(QTestState *who, const char *uri);
void migrate_set_capability(QTestState *who, const char *cap, bool state);
void migrate_set_parameter_int(QTestState *who, const char *name,
                               uint64_t value);

/*
 * Reads @n pages of @pattern (@len bytes at @addr in the guest) on @dst,
 * spread over its second half, and asserts they match: in postcopy,
 * pages far ahead of the push, which the destination must request.
 */
void read_pages_ahead(QTestState *dst, uint64_t addr, const uint8_t *pattern,
                      size_t len, unsigned n, unsigned seed);

/* Writes a deterministic pseudo-random pattern for @seed. */
void fill_pattern(uint8_t *buf, size_t len, uint32_t seed);
/* A pattern file of @len bytes in the test's temp dir (caller frees). */
char *make_pattern_file(size_t len, uint32_t seed);

/*
 * Reads [addr, addr+len) of guest memory with QMP pmemsave (works on
 * ferry and on QEMU without a CPU) into a new buffer.
 */
uint8_t *pmemsave_read(QTestState *who, uint64_t addr, size_t len);

/*
 * A screendump of @who (PPM, QMP screendump) as RGB bytes, row by row;
 * its size in *@width, *@height.
 */
uint8_t *screendump_read(QTestState *who, int *width, int *height);

/*
 * Sends all of @buf on the socket @fd (no SIGPIPE); false if the peer went
 * away first.
 */
bool send_all(int fd, const void *buf, size_t len);

/* Path of a capture under $FERRY_CAPTURES, or NULL (test skipped). */
char *capture_path(const char *name);

/*
 * Whether this host can be a postcopy destination (ferry probes
 * userfaultfd when postcopy-ram is enabled); skips the test if not.
 */
bool have_userfaultfd(void);

/*
 * The mapping of @size bytes (guest RAM: nothing else in a ferry process
 * is that large) in /proc/@pid/smaps: its VmFlags (e.g. "rd wr mr mw me
 * hg") and Rss in bytes.  Fails the test unless exactly one matches.
 */
char *ram_vmflags(pid_t pid, uint64_t size, uint64_t *rss);
/* Whether the space-separated @flags contain the two-letter @flag. */
bool vmflags_has(const char *flags, const char *flag);

/* Whether at least @need 2 MiB huge pages are free. */
bool free_huge_pages(unsigned need);
/*
 * Loads @file (a postcopy stream) into a destination started with @args
 * (e.g. "-M none -m 64M") with postcopy-ram on; returns its exit status
 * (0: completed; 1: the load failed) and, if @err_out, its stderr.
 */
int load_postcopy_stream(const char *file, const char *args,
                         char **err_out);

#endif
