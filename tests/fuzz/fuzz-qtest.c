/*
 * fuzz-qtest.c: fuzz target "qtest" — arbitrary bytes as qtest protocol
 * text, into the server's own request processing.
 *
 * Design note
 *
 * fuzz_qtest_init() builds, once, what "ferry -M none -m 8M -accel qtest"
 * has when a qtest client connects, in qemu_init()'s order: the main loop
 * and BQL (kept held: the server runs under it), the machine types, the
 * qtest accelerator (so clock_step and clock_set exist), the "none"
 * machine with 8 MiB of RAM at 0.  No chardev, monitor or socket.
 *
 * Each input is one connection's worth of text: qtest_process_input(),
 * the function the chardev handler runs, splits it into lines (a last
 * line without its newline is dropped, as when a client hangs up) and
 * runs each request.  Replies are checked as they come, piece by piece,
 * and not kept (bar the first refused one, for the replay's "why").
 *
 * Bounds.  The input is at most -max_len bytes (4 KiB in the runs).  A
 * request moves at most FUZZ_MAX_XFER bytes (the server's own limit is
 * 256 MiB; a lower one keeps an input of many large reads within the
 * time-out — the refusal path is the same): the server allocates a few
 * 64 KiB chunks per request whatever SIZE says, so nothing here depends
 * on SIZE but time.  memset has no SIZE limit (nor has QEMU's): it costs
 * at most the RAM size, unassigned gaps being skipped whole.
 *
 * Every input starts from the same state: guest RAM all zero (the RAM
 * block's dirty log is on, and the pages an input dirtied are zeroed
 * after it, so the reset costs what the input wrote) and the qtest clock
 * at 0.  Nothing else is state: the I/O space of "none" is empty, the
 * server keeps no state between lines.
 *
 * Rules checked (a broken one is a finding): every complete line gets
 * exactly one reply; a reply is one line, "OK", "FAIL" or "ERR" then a
 * space or the newline, with no NUL byte; a reply is at most
 * 2 * FUZZ_MAX_XFER + the request line + a little long; a reply never
 * starts before the previous one ended.  Memory safety and aborts are
 * the sanitizers'.
 *
 * Accepted (run() returns 0): every reply was "OK...".
 *
 * FERRY_FUZZ_TRACE=PATTERN enables trace events (as -trace PATTERN).
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "exec/ramblock.h"
#include "hw/boards.h"
#include "qemu/bitmap.h"
#include "qemu/main-loop.h"
#include "sysemu/qtest.h"

#define FUZZ_RAM_SIZE       (8ull << 20)
#define FUZZ_MAX_XFER       (256 * 1024)
/* The longest "why" kept from the first refused reply. */
#define FUZZ_WHY_MAX        256

static RAMBlock *fuzz_ram;
static unsigned long *fuzz_dirty;   /* pages to zero after an input */

/* What the replies of one input looked like, checked as they come. */
typedef struct FuzzReplies {
    size_t input_len;       /* bounds a reply's length */
    size_t replies;         /* complete replies */
    size_t cur_len;         /* bytes of the reply in progress */
    char head[8];           /* its first bytes */
    bool all_ok;
    GString *why;           /* the first refused reply (capped) */
    bool why_done;
} FuzzReplies;

static void fuzz_check_head(FuzzReplies *r)
{
    static const char *const kinds[] = { "OK", "FAIL", "ERR" };
    size_t n = MIN(r->cur_len, sizeof(r->head));

    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        size_t k = strlen(kinds[i]);

        if (n >= k && !memcmp(r->head, kinds[i], k) &&
            (r->cur_len == k || r->head[k] == ' ')) {
            if (i != 0) {
                r->all_ok = false;
            }
            return;
        }
    }
    fuzz_finding("reply %zu starts with neither OK, FAIL nor ERR: '%.*s'",
                 r->replies + 1, (int)n, r->head);
}

/* One piece of a reply that does not end it (has no newline). */
static void fuzz_reply_piece(FuzzReplies *r, const char *p, size_t len)
{
    if (memchr(p, '\0', len)) {
        fuzz_finding("reply %zu has a NUL byte", r->replies + 1);
    }
    if (r->cur_len < sizeof(r->head)) {
        size_t k = MIN(len, sizeof(r->head) - r->cur_len);

        memcpy(r->head + r->cur_len, p, k);
    }
    if (!r->why_done && r->why->len < FUZZ_WHY_MAX) {
        g_string_append_len(r->why, p, MIN(len, FUZZ_WHY_MAX - r->why->len));
    }
    r->cur_len += len;
    if (r->cur_len > 2 * FUZZ_MAX_XFER + r->input_len + 64) {
        fuzz_finding("reply %zu is %zu bytes long and not finished",
                     r->replies + 1, r->cur_len);
    }
}

static void fuzz_reply_end(FuzzReplies *r)
{
    bool was_ok = r->all_ok;

    fuzz_check_head(r);
    if (!r->why_done) {
        if (was_ok && !r->all_ok) {
            r->why_done = true;     /* keep this one */
        } else {
            g_string_truncate(r->why, 0);
        }
    }
    r->replies++;
    r->cur_len = 0;
}

static void fuzz_emit(const char *data, size_t len, void *opaque)
{
    FuzzReplies *r = opaque;
    const char *nl;

    if (len == 0) {
        fuzz_finding("an empty reply piece");
    }
    while (len && (nl = memchr(data, '\n', len))) {
        fuzz_reply_piece(r, data, nl - data);
        fuzz_reply_end(r);
        len -= nl - data + 1;
        data = nl + 1;
    }
    if (len) {
        fuzz_reply_piece(r, data, len);
    }
}

/* Zeroes what the last input wrote to guest RAM. */
static void fuzz_reset_ram(void)
{
    size_t pages = fuzz_ram->used_length >> TARGET_PAGE_BITS;

    ramblock_sync_dirty_log(fuzz_ram, fuzz_dirty);
    for (size_t p = find_first_bit(fuzz_dirty, pages); p < pages;
         p = find_next_bit(fuzz_dirty, pages, p + 1)) {
        memset(fuzz_ram->host + (p << TARGET_PAGE_BITS), 0,
               TARGET_PAGE_SIZE);
    }
    bitmap_zero(fuzz_dirty, pages);
}

static int fuzz_qtest_run(const uint8_t *data, size_t size, char **why)
{
    FuzzReplies r = {
        .input_len = size, .all_ok = true, .why = g_string_new(NULL),
    };
    size_t lines = 0, n;

    for (const uint8_t *p = data; (p = memchr(p, '\n', data + size - p));
         p++) {
        lines++;
    }
    n = qtest_process_input(data, size, FUZZ_MAX_XFER, fuzz_emit, &r);
    if (r.cur_len) {
        fuzz_finding("the last reply has no newline");
    }
    if (n != lines || r.replies != lines) {
        fuzz_finding("%zu lines, %zu requests, %zu replies", lines, n,
                     r.replies);
    }
    fuzz_reset_ram();
    qtest_set_virtual_clock(0);
    if (why && !r.all_ok) {
        *why = g_strdup(r.why->str);
    }
    g_string_free(r.why, true);
    return r.all_ok ? 0 : 1;
}

/* qemu_init() for "-M none -m 8M -accel qtest", minus the I/O. */
static void fuzz_qtest_init(void)
{
    MachineState *ms;

    qemu_init_host_page();
    fuzz_setup_trace();
    qemu_main_loop_init();          /* takes the BQL, kept */
    machine_register_builtin();
    qtest_accel_init();
    ms = fuzz_machine_create("none", FUZZ_RAM_SIZE);
    fuzz_ram = ms->ram_block;
    fuzz_dirty = bitmap_new(fuzz_ram->used_length >> TARGET_PAGE_BITS);
    memory_global_dirty_log_start();
}

static const char *const fuzz_qtest_seeds[][2] = {
    { "scalar",
      "writeb 0x1000 0x12\nreadb 0x1000\nwritew 0x1002 0x3456\n"
      "readw 0x1002\nwritel 0x1004 0x89abcdef\nreadl 0x1004\n"
      "writeq 0x1008 0x0123456789abcdef\nreadq 0x1008\n"
      "readq 0x7ffffc\nwriteq 0xfffffffffffffffc -1\n" },
    { "bulk",
      "write 0x2000 4 0x11223344\nread 0x2000 5\nb64read 0x2000 4\n"
      "b64write 0x2000 4 qrvM3Q==\nmemset 0x2000 4 0xab\n"
      "b64read 0x2000 0\nwrite 0x2000 2 0xzz11\n" },
    { "chunks",
      "memset 0x7f0000 0x20000 0x5a\nread 0x7fff00 0x200\n"
      "b64read 0xfff0 0x20010\nwrite 0xffff 0x10002 0x0102\n"
      "b64write 0x1fffe 0x4 AQID\nmemset 0 -1 0\n" },
    { "misc",
      "endianness\ninb 0x80\ninw 0x80\ninl 0xfffe\noutb 0x80 0x12\n"
      "outw 0x80 1\noutl 0x80 2\nclock_set 5000\nclock_step 250\n"
      "clock_step\n" },
};

static void fuzz_qtest_seeds_fn(FuzzSeedFn add, void *opaque)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fuzz_qtest_seeds); i++) {
        add(fuzz_qtest_seeds[i][0],
            (const uint8_t *)fuzz_qtest_seeds[i][1],
            strlen(fuzz_qtest_seeds[i][1]), opaque);
    }
}

const FuzzTarget fuzz_target = {
    .name = "qtest",
    .init = fuzz_qtest_init,
    .run = fuzz_qtest_run,
    .make_seeds = fuzz_qtest_seeds_fn,
};
