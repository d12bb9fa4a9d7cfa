/*
 * migration-postcopy-test: postcopy between ferry processes with real
 * userfaultfd: switching at once, switching after precopy passes while
 * the guest keeps writing (re-dirtied pages are discarded and re-sent),
 * on-demand reads of pages never sent, memfd and hugetlbfs RAM,
 * blocktime reporting, the QEMU 7.2 postcopy captures loading into
 * ferry, and malformed postcopy commands failing cleanly.
 */
#include "migration-helpers.h"

#include <gio/gio.h>

#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA_START  0x100000

static char *tmp_path(const char *name)
{
    return g_strdup_printf("%s/%s-%d", qtest_tmpdir(), name, getpid());
}

typedef struct PostcopyPair {
    QTestState *src, *dst;
    char *uri;
    size_t ram;
    uint8_t *pattern;
    size_t pat_len;
} PostcopyPair;

/* Source with @ram bytes, a pattern over most of it, and a destination. */
static void pair_start(PostcopyPair *p, size_t ram, const char *mem_src,
                       const char *mem_dst, const char *dst_extra)
{
    g_autofree char *sock = tmp_path("pc.sock");

    p->ram = ram;
    p->uri = g_strdup_printf("unix:%s", sock);
    p->src = qtest_init_opts(NULL, "-name source %s", mem_src);
    p->dst = qtest_init_opts(NULL, "-name target %s -incoming %s %s",
                             mem_dst, p->uri, dst_extra ? dst_extra : "");
    p->pat_len = ram - DATA_START - (1 << 20);
    p->pattern = g_malloc(p->pat_len);
    fill_pattern(p->pattern, p->pat_len, 42);
    for (size_t off = 0; off < p->pat_len; off += 1 << 20) {
        qtest_bufwrite(p->src, DATA_START + off, p->pattern + off,
                       MIN(1 << 20, p->pat_len - off));
    }
    for (int i = 0; i < 2; i++) {
        QTestState *q = i ? p->dst : p->src;

        migrate_set_capability(q, "events", true);
        migrate_set_capability(q, "postcopy-ram", true);
    }
}

static void pair_finish(PostcopyPair *p)
{
    qtest_quit(p->src);
    qtest_quit(p->dst);
    g_free(p->uri);
    g_free(p->pattern);
}

static void check_dst_memory(PostcopyPair *p, QTestState *ref)
{
    g_autofree uint8_t *got = pmemsave_read(p->dst, 0, p->ram);

    if (ref) {
        g_autofree uint8_t *want = pmemsave_read(ref, 0, p->ram);

        for (size_t i = 0; i < p->ram; i += 4096) {
            if (memcmp(got + i, want + i, 4096)) {
                size_t j = i;

                while (got[j] == want[j]) {
                    j++;
                }
                g_test_message("page 0x%zx differs, first at 0x%zx: "
                               "destination 0x%02x, source 0x%02x", i, j,
                               got[j], want[j]);
                g_assert_not_reached();
            }
        }
        return;
    }
    g_assert_cmpmem(got + DATA_START, p->pat_len, p->pattern, p->pat_len);
}

static void wait_both_complete(PostcopyPair *p)
{
    wait_for_migration_complete(p->src);
    wait_for_migration_complete(p->dst);
}

/* Events and states around the switch, as 7.2 sends them. */
static void check_switch(PostcopyPair *p)
{
    g_autofree char *st = NULL;

    qtest_qmp_eventwait(p->src, "STOP");
    qtest_qmp_eventwait(p->dst, "RESUME");
    st = qtest_runstate(p->dst);
    g_assert_cmpstr(st, ==, "running");
}

/*
 * The destination's RAM is MADV_NOHUGEPAGE from the first DISCARD (or
 * LISTEN) until postcopy ends, then MADV_HUGEPAGE again, as in QEMU 7.2
 * (VmFlags show it whatever the host's THP mode).
 */
static void check_dst_thp(PostcopyPair *p, bool done)
{
    g_autofree char *flags = NULL;

    if (!g_file_test("/sys/kernel/mm/transparent_hugepage",
                     G_FILE_TEST_IS_DIR)) {
        g_test_message("no THP in this kernel: advice not checked");
        return;
    }
    flags = ram_vmflags(qtest_pid(p->dst), p->ram, NULL);
    g_test_message("destination RAM %s: VmFlags %s",
                   done ? "after completion" : "while listening", flags);
    g_assert_cmpint(vmflags_has(flags, "hg"), ==, done);
    g_assert_cmpint(vmflags_has(flags, "nh"), ==, !done);
}

static void test_postcopy_immediate(void)
{
    PostcopyPair p = { 0 };
    g_autoptr(JsonNode) rsp = NULL;
    JsonObject *ram;

    if (!have_userfaultfd()) {
        return;
    }
    pair_start(&p, 128 << 20, "-M none -m 128M", "-M none -m 128M", NULL);
    migrate_set_parameter_int(p.src, "max-bandwidth", 8 << 20);
    migrate_qmp(p.src, p.uri);
    /* Accepted in setup already, as QEMU accepts it. */
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-start-postcopy'}");
    check_switch(&p);
    wait_both_complete(&p);
    check_dst_memory(&p, NULL);
    rsp = migrate_query(p.src);
    ram = json_object_get_object_member(qmp_rsp_return(rsp), "ram");
    g_assert_cmpint(json_object_get_int_member(ram, "postcopy-bytes"), >, 0);
    pair_finish(&p);
}

/*
 * Precopy passes while the guest writes, then the switch: re-dirtied
 * pages are discarded on the destination and sent again.
 *
 * The "guest" is qtest, which unlike a vCPU can still write after the VM
 * stopped: a write that lands after the source's last dirty-log sync is
 * never sent, rightly.  On a slow host the precopy may even catch up and
 * complete while the test still writes.  So the source pauses before the
 * switchover (pause-before-switchover: the VM stopped, the last sync not
 * yet done) and goes on only once every write is in; and once two passes
 * are done the bandwidth drops, so that the last round of writes (1 MiB)
 * cannot drain before migrate-start-postcopy.
 */
static void test_postcopy_after_passes(void)
{
    PostcopyPair p = { 0 };
    g_autoptr(JsonNode) info = NULL;
    uint64_t round = 0;
    bool throttled = false;

    if (!have_userfaultfd()) {
        return;
    }
    pair_start(&p, 128 << 20, "-M none -m 128M", "-M none -m 128M", NULL);
    migrate_set_capability(p.src, "pause-before-switchover", true);
    migrate_set_parameter_int(p.src, "max-bandwidth", 16 << 20);
    migrate_set_parameter_int(p.src, "downtime-limit", 1);
    migrate_qmp(p.src, p.uri);
    for (;;) {
        g_autoptr(JsonNode) pass = NULL;

        for (uint64_t a = 0; a < p.ram; a += p.ram / 256) {
            qtest_writeq(p.src, a + 8 * (round % 512), round * 0x0101 + a);
        }
        round++;
        if (throttled) {
            break;
        }
        g_free(migrate_query_status(p.src));
        pass = qtest_qmp_event_ref(p.src, "MIGRATION_PASS");
        if (pass && json_object_get_int_member(
                json_object_get_object_member(json_node_get_object(pass),
                                              "data"), "pass") >= 2) {
            migrate_set_parameter_int(p.src, "max-bandwidth", 64 << 10);
            throttled = true;
        }
    }
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_status(p.src, "pre-switchover");
    /* Every write is in: the last sync comes after this. */
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-continue', "
                             "'arguments': {'state': 'pre-switchover'}}");
    check_switch(&p);
    wait_both_complete(&p);
    info = migrate_query(p.src);
    g_test_message("postcopy-bytes: %" G_GINT64_FORMAT,
                   json_object_get_int_member(json_object_get_object_member(
                       qmp_rsp_return(info), "ram"), "postcopy-bytes"));
    /* The source is stopped: its memory is the reference. */
    check_dst_memory(&p, p.src);
    pair_finish(&p);
}

/* Reads of pages never sent fault on the destination and are fetched. */
static void test_postcopy_on_demand(void)
{
    PostcopyPair p = { 0 };
    g_autoptr(JsonNode) s = NULL, d = NULL;
    JsonObject *dr;

    if (!have_userfaultfd()) {
        return;
    }
    /*
     * (200 MiB: check_dst_thp() finds the RAM by its size, and ASan's
     * allocator maps 256 MiB regions of its own.)
     */
    pair_start(&p, 200 << 20, "-M none -m 200M", "-M none -m 200M", NULL);
    /* A slow background push: most pages arrive only when asked for. */
    migrate_set_parameter_int(p.src, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(p.src, "max-postcopy-bandwidth", 4 << 20);
    migrate_qmp(p.src, p.uri);
    wait_for_migration_status(p.src, "active");
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-start-postcopy'}");
    check_switch(&p);
    check_dst_thp(&p, false);
    for (int i = 0; i < 64; i++) {
        uint64_t off = ((uint64_t)i * 3001 * 4096) % p.pat_len;
        uint8_t got[64];

        off &= ~4095ULL;
        qtest_memread(p.dst, DATA_START + off + 100, got, sizeof(got));
        g_assert_cmpmem(got, sizeof(got), p.pattern + off + 100,
                        sizeof(got));
    }
    d = migrate_query(p.dst);
    dr = qmp_rsp_return(d);
    g_assert_cmpstr(json_object_get_string_member(dr, "status"), ==,
                    "postcopy-active");
    /* ferry's live statistics (QEMU's come at completion only). */
    g_assert_cmpint(json_object_get_int_member(dr, "x-postcopy-requests"),
                    >, 0);
    g_assert_false(json_object_has_member(dr, "postcopy-latency"));
    /* Then let it finish quickly. */
    migrate_set_parameter_int(p.src, "max-postcopy-bandwidth", 0);
    wait_both_complete(&p);
    s = migrate_query(p.src);
    g_assert_cmpint(json_object_get_int_member(
                        json_object_get_object_member(qmp_rsp_return(s),
                                                      "ram"),
                        "postcopy-requests"), >, 0);
    check_dst_memory(&p, NULL);
    check_dst_thp(&p, true);
    pair_finish(&p);
}

static void test_postcopy_memfd(void)
{
    PostcopyPair p = { 0 };
    const char *mem = "-machine none,memory-backend=m0 -object "
                      "memory-backend-memfd,id=m0,size=64M";

    if (!have_userfaultfd()) {
        return;
    }
    pair_start(&p, 64 << 20, mem, mem, NULL);
    migrate_set_parameter_int(p.src, "max-bandwidth", 8 << 20);
    migrate_qmp(p.src, p.uri);
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-start-postcopy'}");
    check_switch(&p);
    wait_both_complete(&p);
    check_dst_memory(&p, NULL);
    pair_finish(&p);
}


static void test_postcopy_hugetlbfs(void)
{
    PostcopyPair p = { 0 };
    const char *mem = "-machine none,memory-backend=m0 -object "
                      "memory-backend-memfd,id=m0,size=32M,hugetlb=on,"
                      "hugetlbsize=2M";
    g_autoptr(JsonNode) d = NULL;

    if (!free_huge_pages(32)) {
        g_test_skip("fewer than 32 free 2 MiB huge pages "
                    "(scripts/setup-hugepages.sh reserves them)");
        return;
    }
    if (!have_userfaultfd()) {
        return;
    }
    pair_start(&p, 32 << 20, mem, mem, NULL);
    migrate_set_parameter_int(p.src, "max-bandwidth", 4 << 20);
    migrate_set_parameter_int(p.src, "max-postcopy-bandwidth", 4 << 20);
    migrate_qmp(p.src, p.uri);
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-start-postcopy'}");
    check_switch(&p);
    /* A read faults in a whole 2 MiB page. */
    for (int i = 0; i < 8; i++) {
        uint64_t off = (uint64_t)i * (3 << 20) % p.pat_len;

        g_assert_cmphex(qtest_readb(p.dst, DATA_START + off), ==,
                        p.pattern[off]);
    }
    d = migrate_query(p.dst);
    g_assert_cmpint(json_object_get_int_member(qmp_rsp_return(d),
                                               "x-postcopy-requests"), >, 0);
    migrate_set_parameter_int(p.src, "max-postcopy-bandwidth", 0);
    wait_both_complete(&p);
    check_dst_memory(&p, NULL);
    pair_finish(&p);
}

static void test_postcopy_blocktime(void)
{
    PostcopyPair p = { 0 };
    g_autoptr(JsonNode) d = NULL;
    JsonObject *dr;

    if (!have_userfaultfd()) {
        return;
    }
    pair_start(&p, 64 << 20, "-M none -m 64M", "-M none -m 64M", NULL);
    migrate_set_capability(p.dst, "postcopy-blocktime", true);
    migrate_qmp(p.src, p.uri);
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-start-postcopy'}");
    wait_both_complete(&p);
    d = migrate_query(p.dst);
    dr = qmp_rsp_return(d);
    /* No vCPU threads under qtest: one slot of 0 ms, as 7.2 on -M none. */
    g_assert_true(json_object_has_member(dr, "postcopy-blocktime"));
    g_assert_cmpint(json_array_get_length(json_object_get_array_member(
                        dr, "postcopy-vcpu-blocktime")), ==, 1);
    /* QEMU 10.1's latency members, in its shapes (ns; 24 buckets). */
    g_assert_true(json_object_has_member(dr, "postcopy-latency"));
    g_assert_true(json_object_has_member(dr, "postcopy-non-vcpu-latency"));
    g_assert_cmpint(json_array_get_length(json_object_get_array_member(
                        dr, "postcopy-vcpu-latency")), ==, 1);
    g_assert_cmpint(json_array_get_length(json_object_get_array_member(
                        dr, "postcopy-latency-dist")), ==, 24);
    pair_finish(&p);
}

static void test_postcopy_qmp(void)
{
    QTestState *src = qtest_init("-M none -m 16M");
    g_autoptr(JsonNode) r1 = NULL, r2 = NULL;

    r1 = qtest_qmp(src, "{'execute': 'migrate-start-postcopy'}");
    g_assert_cmpstr(qmp_rsp_error_desc(r1), ==,
                    "Enable postcopy with migrate_set_capability before the "
                    "start of migration");
    migrate_set_capability(src, "postcopy-ram", true);
    r2 = qtest_qmp(src, "{'execute': 'migrate-start-postcopy'}");
    g_assert_cmpstr(qmp_rsp_error_desc(r2), ==,
                    "Postcopy must be started after migration has been "
                    "started");
    qtest_quit(src);
}

/*
 * The host probe: a non-root user without vm.unprivileged_userfaultfd
 * (and without access to /dev/userfaultfd) is told why and what to do.
 */
static void test_probe_unprivileged(void)
{
    g_autofree char *sysctl = NULL;
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autofree char *dir = NULL, *bin = NULL, *image = NULL;
    gsize len;
    struct stat st;
    const char *input = "{'execute': 'qmp_capabilities'}\n"
        "{'execute': 'migrate-set-capabilities', 'arguments': "
        "{'capabilities': [{'capability': 'postcopy-ram', 'state': true}]}}\n"
        "{'execute': 'quit'}\n";

    if (geteuid() != 0) {
        g_test_skip("needs root, to run ferry as an unprivileged user");
        return;
    }
    if (!g_file_get_contents("/proc/sys/vm/unprivileged_userfaultfd",
                             &sysctl, NULL, NULL) || sysctl[0] != '0') {
        g_test_skip("vm.unprivileged_userfaultfd is not 0 here");
        return;
    }
    if (stat("/dev/userfaultfd", &st) == 0 && (st.st_mode & 06)) {
        g_test_skip("/dev/userfaultfd is open to everyone here");
        return;
    }
    if (!g_file_test("/usr/bin/setpriv", G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("no setpriv (util-linux)");
        return;
    }
    /* A copy the unprivileged user can reach (the build dir may not be). */
    dir = g_dir_make_tmp("ferry-probe-XXXXXX", &gerr);
    g_assert_no_error(gerr);
    bin = g_build_filename(dir, "ferry", NULL);
    g_assert_true(g_file_get_contents(qtest_ferry_binary(), &image, &len,
                                      NULL));
    g_assert_true(g_file_set_contents(bin, image, len, NULL));
    g_assert_cmpint(chmod(dir, 0755), ==, 0);
    g_assert_cmpint(chmod(bin, 0755), ==, 0);
    p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
                         G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                         G_SUBPROCESS_FLAGS_STDERR_PIPE, &gerr,
                         "/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                         "--clear-groups", bin, "-M", "none",
                         "-m", "16M", "-nodefaults", "-incoming", "defer",
                         "-qmp", "stdio", NULL);
    g_assert_no_error(gerr);
    g_assert_true(g_subprocess_communicate_utf8(p, input, NULL, &out, &err,
                                                &gerr));
    g_assert_no_error(gerr);
    unlink(bin);
    rmdir(dir);
    if (!strstr(out, "\"QMP\"")) {
        g_autofree char *msg = g_strdup_printf("ferry did not start as "
                                               "uid 65534: %s", err);

        g_test_skip(msg);   /* e.g. the build dir is not world-readable */
        return;
    }
    g_test_message("%s", out);
    g_assert_nonnull(strstr(out, "\"desc\": \"Postcopy is not supported: "
                            "userfaultfd not available (as a non-root user: "
                            "set vm.unprivileged_userfaultfd=1"));
}

/* ---- streams ---- */

static void test_capture_postcopy(void)
{
    g_autofree char *cap = capture_path("postcopy/main.src-to-dst.bin");
    g_autofree char *err = NULL;

    if (!cap || !have_userfaultfd()) {
        return;
    }
    g_assert_cmpint(load_postcopy_stream(cap, "-M none -m 64M", &err), ==, 0);
}

/* Each case edits the postcopy capture at the first match of @find. */
typedef struct Malformed {
    const char *name;
    const char *find;       /* bytes to find */
    size_t find_len;
    const char *repl;       /* replacement, same length */
    const char *expect;
} Malformed;

static const Malformed malformed[] = {
    /* LISTEN (08 0004 0000) turned into RUN before LISTEN. */
    { "run-before-listen", "\x08\x00\x04\x00\x00", 5,
      "\x08\x00\x05\x00\x00",
      "POSTCOPY_RUN before POSTCOPY_LISTEN, which must start the PACKAGED" },
    /*
     * PING 2 (08 0002 0004 00000002), just before PACKAGED, turned into a
     * LISTEN on the main channel: it would have the listen thread read
     * the main channel while the incoming thread still does.
     */
    { "listen-outside-package", "\x08\x00\x02\x00\x04\x00\x00\x00\x02", 9,
      "\x08\x00\x04\x00\x00\x00\x00\x00\x02",
      "POSTCOPY_LISTEN outside the PACKAGED blob" },
    /* PING 4, just after PACKAGED, turned into a RUN on the main channel. */
    { "run-outside-package", "\x08\x00\x02\x00\x04\x00\x00\x00\x04", 9,
      "\x08\x00\x05\x00\x00\x00\x00\x00\x04",
      "POSTCOPY_RUN on the main channel after POSTCOPY_LISTEN" },
    /* DISCARD with a bad version byte. */
    { "discard-version", "\x08\x00\x06\x00\x16\x00", 6,
      "\x08\x00\x06\x00\x16\x07", "invalid version" },
    /* DISCARD of a block that does not exist. */
    { "discard-block", "\x08\x00\x06\x00\x16\x00\x03ram", 10,
      "\x08\x00\x06\x00\x16\x00\x03rom", "Failed to find block 'rom'" },
    /* ADVISE with a different target page size. */
    { "advise-tps", "\x08\x00\x03\x00\x10\x00\x00\x00\x00\x00\x00\x10"
      "\x00\x00\x00\x00\x00\x00\x00\x10\x00", 21,
      "\x08\x00\x03\x00\x10\x00\x00\x00\x00\x00\x00\x10"
      "\x00\x00\x00\x00\x00\x00\x00\x20\x00",
      "Postcopy needs matching target page sizes" },
};

static void test_malformed(const void *opaque)
{
    const Malformed *m = opaque;
    g_autofree char *cap = capture_path("postcopy/main.src-to-dst.bin");
    g_autofree char *file = tmp_path(m->name);
    g_autofree char *data = NULL;
    g_autofree char *err = NULL;
    gsize len;
    char *at;

    if (!cap || !have_userfaultfd()) {
        return;
    }
    g_assert_true(g_file_get_contents(cap, &data, &len, NULL));
    at = memmem(data, len, m->find, m->find_len);
    g_assert_nonnull(at);
    memcpy(at, m->repl, m->find_len);
    g_assert_true(g_file_set_contents(file, data, len, NULL));
    g_assert_cmpint(load_postcopy_stream(file, "-M none -m 64M", &err), ==,
                    1);
    g_test_message("%s", err);
    g_assert_nonnull(strstr(err, "load of migration failed"));
    g_assert_nonnull(strstr(err, m->expect));
    unlink(file);
}

/*
 * After RUN.  The first RAM record after POSTCOPY_RUN and PING 4 in the
 * capture: SECTION_PART (0x02, section id), then be64 address | flags.
 */
static size_t first_record_after_run(const char *data, size_t len)
{
    const char *run = memmem(data, len, "\x08\x00\x05\x00\x00", 5);
    size_t off;

    g_assert_nonnull(run);
    off = run - data + 5;
    g_assert_cmphex((uint8_t)data[off], ==, 0x08);      /* PING 4 */
    off += 9;
    g_assert_cmphex((uint8_t)data[off], ==, 0x02);      /* SECTION_PART */
    return off + 5;
}

static uint64_t get_be64(const char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | (uint8_t)p[i];
    }
    return v;
}

static void put_be64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = v;
        v >>= 8;
    }
}

typedef struct AfterRun {
    const char *name;
    uint64_t addr;          /* new address of the record */
    uint64_t add_flags;
    const char *expect;
} AfterRun;

static const AfterRun after_run[] = {
    /* Page 0 arrived in precopy and was not discarded: sent twice. */
    { "page-twice", 0, 0, "was sent twice" },
    /* A compressed page in postcopy. */
    { "bad-flags", UINT64_MAX, 0x100,
      "Unknown combination of migration flags: 0x108 (postcopy mode)" },
    /* A page beyond the block. */
    { "beyond-block", 64 << 20, 0, "Illegal RAM offset" },
};

/* A non-I/O error after RUN fails the destination with a message, exit 1. */
static void test_after_run(const void *opaque)
{
    const AfterRun *m = opaque;
    g_autofree char *cap = capture_path("postcopy/main.src-to-dst.bin");
    g_autofree char *file = tmp_path(m->name);
    g_autofree char *data = NULL;
    g_autofree char *err = NULL;
    gsize len;
    size_t off;
    uint64_t rec;

    if (!cap || !have_userfaultfd()) {
        return;
    }
    g_assert_true(g_file_get_contents(cap, &data, &len, NULL));
    off = first_record_after_run(data, len);
    rec = get_be64(data + off);
    if (m->addr != UINT64_MAX) {
        rec = m->addr | (rec & 0xfff);
    }
    put_be64(data + off, rec | m->add_flags);
    g_assert_true(g_file_set_contents(file, data, len, NULL));
    g_assert_cmpint(load_postcopy_stream(file, "-M none -m 64M", &err), ==,
                    1);
    g_test_message("%s", err);
    g_assert_nonnull(strstr(err, "load of migration failed"));
    g_assert_nonnull(strstr(err, m->expect));
    unlink(file);
}

/*
 * The stream ends in the middle of a page after RUN (an I/O error): the
 * destination keeps running in postcopy-paused, waiting for its pages.
 */
static void test_truncated_after_run(void)
{
    g_autofree char *cap = capture_path("postcopy/main.src-to-dst.bin");
    g_autofree char *file = tmp_path("truncated-after-run");
    g_autofree char *data = NULL;
    g_autofree char *st = NULL;
    QTestOptions o = { .capture_stderr = true };
    QTestState *dst;
    gsize len;

    if (!cap || !have_userfaultfd()) {
        return;
    }
    g_assert_true(g_file_get_contents(cap, &data, &len, NULL));
    len = first_record_after_run(data, len) + 8 + 5 + 2000;
    g_assert_true(g_file_set_contents(file, data, len, NULL));
    dst = qtest_init_opts(&o, "-M none -m 64M -incoming defer");
    migrate_set_capability(dst, "events", true);
    migrate_set_capability(dst, "postcopy-ram", true);
    qtest_qmp_assert_success(dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'file:%s'}}", file);
    wait_for_migration_status(dst, "postcopy-paused");
    st = qtest_runstate(dst);
    g_assert_cmpstr(st, ==, "running");
    /* Pages that did arrive are there: the first one of the capture. */
    g_assert_cmphex(qtest_readb(dst, 0), ==, 0);
    g_assert_nonnull(strstr(qtest_stderr(dst), "link to the source broke"));
    qtest_quit(dst);
    unlink(file);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/postcopy/qmp", test_postcopy_qmp);
    g_test_add_func("/migration/postcopy/unix/immediate",
                    test_postcopy_immediate);
    g_test_add_func("/migration/postcopy/unix/after-passes",
                    test_postcopy_after_passes);
    g_test_add_func("/migration/postcopy/unix/on-demand",
                    test_postcopy_on_demand);
    g_test_add_func("/migration/postcopy/memfd", test_postcopy_memfd);
    g_test_add_func("/migration/postcopy/hugetlbfs",
                    test_postcopy_hugetlbfs);
    g_test_add_func("/migration/postcopy/blocktime",
                    test_postcopy_blocktime);
    g_test_add_func("/migration/postcopy/probe/unprivileged",
                    test_probe_unprivileged);
    g_test_add_func("/migration/postcopy/stream/capture",
                    test_capture_postcopy);
    for (size_t i = 0; i < G_N_ELEMENTS(malformed); i++) {
        g_autofree char *path = g_strdup_printf("/migration/postcopy/stream/"
                                                "malformed/%s",
                                                malformed[i].name);
        g_test_add_data_func(path, &malformed[i], test_malformed);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(after_run); i++) {
        g_autofree char *path = g_strdup_printf("/migration/postcopy/stream/"
                                                "after-run/%s",
                                                after_run[i].name);
        g_test_add_data_func(path, &after_run[i], test_after_run);
    }
    g_test_add_func("/migration/postcopy/stream/after-run/truncated",
                    test_truncated_after_run);
    return g_test_run();
}
