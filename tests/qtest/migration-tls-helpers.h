/*
 * migration-tls-helpers.h: what the TLS migration tests share — the
 * certificate tree, credential objects, the TLS parameters, reading
 * errors, and a sniffer that sits on the link and records it.
 *
 * The sniffer listens where the source is told to migrate, forwards every
 * connection (main, preempt, recovery) to the destination both ways, and
 * keeps what went through, so that a test can check that each connection
 * was TLS from its first byte to its last and that the guest's bytes never
 * crossed in clear.  It can also cut every connection at once (a broken
 * link, for postcopy recovery).
 */
#ifndef MIGRATION_TLS_HELPERS_H
#define MIGRATION_TLS_HELPERS_H

#include "migration-helpers.h"
#include "../common/tls-certs.h"

typedef struct Sniff Sniff;

/*
 * The guest both TLS tests migrate: a pattern of TLS_PAT_LEN bytes at
 * TLS_PAT_ADDR ("-device loader") in TLS_RAM_MB of RAM.
 */
#define TLS_RAM_MB      64
#define TLS_RAM_SIZE    ((size_t)TLS_RAM_MB << 20)
#define TLS_PAT_ADDR    0x100000
#define TLS_PAT_LEN     (32u << 20)

/*
 * The certificate tree of this test binary (made at the first call,
 * removed at exit), or NULL: then the test is skipped, saying why.
 */
TLSCerts *tls_test_certs(void);
/* BASE/@name of that tree (caller frees). */
char *tls_test_dir(const char *name);

/*
 * "-object tls-creds-x509,id=@id,dir=BASE/@dir,endpoint=@endpoint@extra"
 * (@extra: "" or ",verify-peer=off" ...), and the same for tls-creds-psk.
 */
char *tls_x509_arg(const char *id, const char *dir, const char *endpoint,
                   const char *extra);
char *tls_psk_arg(const char *id, const char *dir, const char *endpoint,
                  const char *extra);
/*
 * object-add of a @type ("tls-creds-x509", "tls-creds-psk") for BASE/@dir;
 * @extra_json: "" or ", 'verify-peer': false" ...  Returns the response.
 */
JsonNode *tls_creds_add(QTestState *qts, const char *type, const char *id,
                        const char *dir, const char *endpoint,
                        const char *extra_json);
/* The same, which must succeed. */
void tls_creds_add_ok(QTestState *qts, const char *type, const char *id,
                      const char *dir, const char *endpoint,
                      const char *extra_json);
void tls_object_del(QTestState *qts, const char *id);

/*
 * migrate-set-parameters of tls-creds, tls-hostname, tls-authz: NULL
 * leaves one alone; "null" (the string) sends JSON null.
 */
void migrate_set_tls(QTestState *qts, const char *creds,
                     const char *hostname, const char *authz);

/*
 * Polls until the migration has ended (completed, failed or cancelled)
 * and returns that status (caller frees): a test expecting a failure
 * learns at once that it completed instead.
 */
char *wait_for_migration_end(QTestState *qts);
/* query-migrate "error-desc", or NULL (caller frees). */
char *migrate_error_desc(QTestState *qts);
/* The URI the destination listens on (query-migrate socket-address). */
char *migrate_listen_uri(QTestState *dst);
/*
 * Polls until @qts's captured stderr, from byte @from on, holds @text;
 * fails the test at the deadline, showing what it holds.  stderr_mark()
 * is where it ends now (to look only at what comes next).
 */
void wait_for_stderr_from(QTestState *qts, size_t from, const char *text);
void wait_for_stderr(QTestState *qts, const char *text);
size_t stderr_mark(QTestState *qts);
/* Waits for @qts to exit by itself; asserts exit status @code. */
void wait_for_exit_code(QTestState *qts, int code);
/* Asserts query-status @want. */
void assert_runstate(QTestState *qts, const char *want);

/*
 * The migration of @src failed with one of @desc (NULL-terminated), and
 * its VM runs on.
 */
void tls_expect_src_failed(QTestState *src, const char *const *desc);
/*
 * @dst said @msg (after its stderr byte @mark) and, like 7.2's, keeps
 * listening with no migration status.
 */
void tls_expect_dst_stays(QTestState *dst, size_t mark, const char *msg);

/*
 * Migration to @dst (started with the guest above) just begun: switches
 * to postcopy, waits until both ends are in it, and reads pages far
 * ahead of the push (@src should push slowly).
 */
void tls_postcopy_switch(QTestState *src, QTestState *dst,
                         const uint8_t *pattern);
/* Asserts that @src served postcopy page requests. */
void tls_assert_postcopy_requests(QTestState *src);
/*
 * Both ends completed (@src postmigrate, @dst running), memory compared
 * with @pattern, over @conns connections of @sniff from @first on, each
 * TLS throughout, the pattern hidden.
 */
void tls_check_completed(QTestState *src, QTestState *dst, Sniff *sniff,
                         unsigned first, unsigned conns,
                         const uint8_t *pattern);

/*
 * Compares @dst's RAM (@ram bytes) with @src's, and the @len bytes at
 * @addr with @pattern too (so that two empty guests do not pass), page by
 * page, naming the first page that differs.
 */
void check_same_memory(QTestState *src, QTestState *dst, size_t ram,
                       uint64_t addr, const uint8_t *pattern, size_t len);

/* ---- the sniffer ---- */

/*
 * Forwards to @target ("tcp:HOST:PORT" or "unix:PATH"), listening on the
 * same kind of address (127.0.0.1, an ephemeral port; or a fresh socket
 * in the test's directory).
 */
Sniff *sniff_new(const char *target);
/* Where the source is to migrate. */
const char *sniff_uri(Sniff *s);
/* Connections accepted so far. */
unsigned sniff_connections(Sniff *s);
/* Closes every connection now (later ones are still accepted). */
void sniff_cut(Sniff *s);
/*
 * Asserts that connection @i carried TLS records only, both ways, the
 * first of each way a handshake; returns how many records went from the
 * source.  A record cut short at the very end (a cut link) is allowed.
 */
unsigned sniff_assert_tls(Sniff *s, unsigned i);
/*
 * Whether the bytes of @needle went through in clear, either way, on
 * connection @first or a later one.
 */
bool sniff_saw(Sniff *s, unsigned first, const void *needle, size_t len);
/* The first @max bytes the source sent on connection @i (a copy). */
GBytes *sniff_upstream(Sniff *s, unsigned i, size_t max);
void sniff_free(Sniff *s);

/*
 * Asserts that none of 64 samples (32 bytes each) spread over @pattern
 * crossed @s in clear, on connection @first or a later one.
 */
void sniff_assert_hidden(Sniff *s, unsigned first, const uint8_t *pattern,
                         size_t len);
/*
 * An attempt that began at connection @first used exactly @conns
 * connections, each TLS throughout, and @pattern stayed hidden.
 */
void sniff_check_attempt(Sniff *s, unsigned first, unsigned conns,
                         const uint8_t *pattern, size_t len);

#endif
