/*
 * migration-multifd-test: precopy with capability multifd between real
 * ferry processes — 1, 2 and 4 channels, compression none, zlib and zstd,
 * unix: and tcp:, TLS on every channel — memory compared byte for byte;
 * a guest rewriting (and zeroing) pages while its pages travel on several
 * channels; and the ways it must fail cleanly: a channel cut in the
 * middle, cancel, mismatched channel counts, multifd on one side only,
 * hand-made hellos that are wrong in each field, and the combinations
 * and parameters that are refused up front.  A failed source VM always
 * runs on.  (QEMU 7.2 and 10.x peers: migration-multifd-interop-test.)
 */
#include "migration-helpers.h"
#include "migration-relay.h"
#include "migration-tls-helpers.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define RAM_MB      64
#define RAM_SIZE    ((size_t)RAM_MB << 20)
#define PAT_ADDR    0x100000
#define PAT_LEN     (32u << 20)

typedef struct Pair {
    QTestState *src, *dst;
    uint8_t *pattern;
    char *uri;                  /* where the source migrates */
    bool dst_gone;
} Pair;

static char *tmp_path(const char *name)
{
    static unsigned n;

    return g_strdup_printf("%s/%s-%d-%u", qtest_tmpdir(), name, getpid(),
                           n++);
}

static void set_multifd(QTestState *qts, unsigned channels, const char *comp)
{
    migrate_set_capability(qts, "multifd", true);
    qtest_qmp_assert_success(qts, "{'execute': 'migrate-set-parameters', "
                             "'arguments': {'multifd-channels': %u, "
                             "'multifd-compression': '%s'}}", channels,
                             comp);
}

/* A source with the pattern at PAT_ADDR, a deferred destination. */
static void pair_start(Pair *p, const char *src_extra, const char *dst_extra)
{
    g_autofree char *file = make_pattern_file(PAT_LEN, 11);

    p->pattern = g_malloc(PAT_LEN);
    fill_pattern(p->pattern, PAT_LEN, 11);
    p->src = migrate_start_vm(NULL, false, RAM_MB,
                              "-name source -device loader,file=%s,addr=0x%x "
                              "%s", file, PAT_ADDR,
                              src_extra ? src_extra : "");
    p->dst = migrate_start_vm(NULL, false, RAM_MB,
                              "-name target -incoming defer %s",
                              dst_extra ? dst_extra : "");
    unlink(file);
}

/* migrate-incoming on "unix" or "tcp"; p->uri is where it listens. */
static void pair_listen(Pair *p, const char *how)
{
    g_autofree char *path = tmp_path("mf.sock");
    g_autofree char *uri = g_str_equal(how, "tcp")
                           ? g_strdup("tcp:127.0.0.1:0")
                           : g_strdup_printf("unix:%s", path);

    qtest_qmp_assert_success(p->dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': '%s'}}", uri);
    g_free(p->uri);
    p->uri = migrate_listen_uri(p->dst);
}

static void pair_finish(Pair *p)
{
    qtest_quit(p->src);
    if (p->dst_gone) {
        qtest_kill(p->dst);
    } else {
        qtest_quit(p->dst);
    }
    g_free(p->pattern);
    g_free(p->uri);
}

static int64_t ram_stat(QTestState *qts, const char *name)
{
    g_autoptr(JsonNode) rsp = migrate_query(qts);
    JsonObject *ret = qmp_rsp_return(rsp);
    JsonObject *ram;

    /* (None before the status leaves setup.) */
    if (!json_object_has_member(ret, "ram")) {
        return 0;
    }
    ram = json_object_get_object_member(ret, "ram");
    return json_object_get_int_member(ram, name);
}

/* Both ends completed and hold the same memory (the pattern included). */
static void check_completed(Pair *p)
{
    g_autofree char *st = wait_for_migration_end(p->src);

    g_assert_cmpstr(st, ==, "completed");
    wait_for_migration_complete(p->dst);
    assert_runstate(p->src, "postmigrate");
    assert_runstate(p->dst, "running");
    check_same_memory(p->src, p->dst, RAM_SIZE, PAT_ADDR, p->pattern,
                      PAT_LEN);
}

/* The source's migration failed with @desc in error-desc; its VM runs. */
static void expect_src_failed(QTestState *src, const char *desc)
{
    g_autofree char *st = wait_for_migration_end(src);
    g_autofree char *err = migrate_error_desc(src);

    g_assert_cmpstr(st, ==, "failed");
    if (desc && (!err || !strstr(err, desc))) {
        g_test_message("error-desc: %s", err ? err : "(none)");
        g_assert_not_reached();
    }
    assert_runstate(src, "running");
}

/* ---- migrations that work ---- */

typedef struct Case {
    const char *how;            /* "unix" or "tcp" */
    unsigned channels;
    const char *comp;
} Case;

static void test_precopy(const void *opaque)
{
    const Case *c = opaque;
    Pair p = { 0 };
    int64_t mf;

    pair_start(&p, NULL, NULL);
    set_multifd(p.src, c->channels, c->comp);
    set_multifd(p.dst, c->channels, c->comp);
    pair_listen(&p, c->how);
    migrate_qmp(p.src, p.uri);
    check_completed(&p);
    /* The pattern (random: no zero pages) went on the multifd channels. */
    mf = ram_stat(p.src, "multifd-bytes");
    g_assert_cmpint(mf, >=, PAT_LEN);
    g_assert_cmpint(ram_stat(p.src, "transferred"), >=, mf);
    g_assert_cmpint(ram_stat(p.src, "normal"), >=, PAT_LEN / 4096);
    pair_finish(&p);
}

/* 8 MiB have gone from the source. */
static bool sent_8m(void *opaque)
{
    return ram_stat(opaque, "transferred") >= (8 << 20);
}

/* Pages flow on all three connections through the relay. */
static bool relay_flowing(void *opaque)
{
    return relay_connections(opaque) >= 3 &&
           relay_bytes_from_source(opaque) >= 4 << 20;
}

/* Rewrites @n pages from @addr: even ones zeroed, odd ones new data. */
static void rewrite_pages(Pair *p, uint64_t addr, unsigned n, uint32_t seed)
{
    uint8_t page[4096];

    for (unsigned i = 0; i < n; i++) {
        uint64_t at = addr + (uint64_t)i * 4096;

        if (i & 1) {
            fill_pattern(page, sizeof(page), seed + i);
        } else {
            memset(page, 0, sizeof(page));
        }
        qtest_bufwrite(p->src, at, page, sizeof(page));
        if (at >= PAT_ADDR && at < PAT_ADDR + PAT_LEN) {
            memcpy(p->pattern + (at - PAT_ADDR), page, sizeof(page));
        }
    }
}

/*
 * Pages rewritten while they travel: some after they went (on a multifd
 * channel), some before; zeroed ones then go as ZERO records on the main
 * channel, which must not be overtaken by an older copy on a multifd
 * channel.  Then more while the source waits in pre-switchover with its
 * VM stopped: the completion, which queues under the BQL, carries them.
 */
static void test_dirty(const void *opaque)
{
    unsigned channels = GPOINTER_TO_UINT(opaque);
    Pair p = { 0 };

    pair_start(&p, NULL, NULL);
    if (channels) {
        set_multifd(p.src, channels, "none");
        set_multifd(p.dst, channels, "none");
    }
    migrate_set_capability(p.src, "pause-before-switchover", true);
    /* 32 MiB at 4 MB/s: 8 s, ample time for the writes below. */
    migrate_set_parameter_int(p.src, "max-bandwidth", 4 << 20);
    pair_listen(&p, "unix");
    migrate_qmp(p.src, p.uri);
    /* The start of the pattern has gone (pages go in address order). */
    g_assert_true(qtest_poll_until(sent_8m, p.src, qtest_timeout()));
    rewrite_pages(&p, PAT_ADDR, 64, 100);                   /* sent */
    rewrite_pages(&p, PAT_ADDR + PAT_LEN - 64 * 4096, 64, 200); /* not yet */
    rewrite_pages(&p, RAM_SIZE - 8 * 4096, 8, 300);        /* were zero */
    {
        g_autofree char *st = migrate_query_status(p.src);

        g_assert_cmpstr(st, ==, "active");
    }
    migrate_set_parameter_int(p.src, "max-bandwidth", 0);
    wait_for_migration_status(p.src, "pre-switchover");
    rewrite_pages(&p, PAT_ADDR + PAT_LEN / 2, 32, 400);
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate-continue', "
                             "'arguments': {'state': 'pre-switchover'}}");
    check_completed(&p);
    g_assert_cmpint(ram_stat(p.src, "dirty-sync-count"), >=, 2);
    pair_finish(&p);
}

/* TLS: every channel (main and each multifd one) does its handshake. */
static void test_tls(void)
{
    Pair p = { 0 };
    Sniff *sniff;

    if (!tls_test_certs()) {
        return;
    }
    pair_start(&p, NULL, NULL);
    tls_creds_add_ok(p.src, "tls-creds-x509", "tls0", "client", "client",
                     NULL);
    tls_creds_add_ok(p.dst, "tls-creds-x509", "tls0", "server", "server",
                     NULL);
    migrate_set_tls(p.src, "tls0", NULL, NULL);
    migrate_set_tls(p.dst, "tls0", NULL, NULL);
    set_multifd(p.src, 2, "none");
    set_multifd(p.dst, 2, "none");
    pair_listen(&p, "tcp");
    sniff = sniff_new(p.uri);
    migrate_qmp(p.src, sniff_uri(sniff));
    /* Main + 2 channels, each TLS from its first byte, the data hidden. */
    tls_check_completed(p.src, p.dst, sniff, 0, 3, p.pattern);
    g_assert_cmpint(ram_stat(p.src, "multifd-bytes"), >=, PAT_LEN);
    sniff_free(sniff);
    pair_finish(&p);
}

/* ---- failures ---- */

/* One multifd channel's connection cut in the middle. */
static void test_channel_cut(void)
{
    g_autofree char *relay_path = tmp_path("mf-relay.sock");
    g_autofree char *relay_uri = g_strdup_printf("unix:%s", relay_path);
    Pair p = { 0 };
    Relay *relay;

    pair_start(&p, NULL, NULL);
    set_multifd(p.src, 2, "none");
    set_multifd(p.dst, 2, "none");
    migrate_set_parameter_int(p.src, "max-bandwidth", 16 << 20);
    pair_listen(&p, "unix");
    relay = relay_new(relay_path, p.uri + strlen("unix:"));
    migrate_qmp(p.src, relay_uri);
    /* Once pages flow on all three connections, cut channel 1's. */
    g_assert_true(qtest_poll_until(relay_flowing, relay, qtest_timeout()));
    relay_cut_one(relay, 2);
    /*
     * Whichever the source notices first: its channel's write, or the
     * main channel's once the destination has failed and gone (QEMU's
     * error-desc is usually the latter, spec A.8).
     */
    expect_src_failed(p.src, "Unable to write to socket");
    /* The destination fails too, and exits as QEMU's does. */
    wait_for_exit_code(p.dst, 1);
    wait_for_stderr(p.dst, "load of migration failed");
    p.dst_gone = true;
    relay_free(relay);
    pair_finish(&p);
}

static void test_cancel(void)
{
    Pair p = { 0 };
    g_autofree char *st = NULL;

    pair_start(&p, NULL, NULL);
    set_multifd(p.src, 4, "zlib");
    set_multifd(p.dst, 4, "zlib");
    migrate_set_parameter_int(p.src, "max-bandwidth", 8 << 20);
    pair_listen(&p, "unix");
    migrate_qmp(p.src, p.uri);
    wait_for_migration_status(p.src, "active");
    qtest_qmp_assert_success(p.src, "{'execute': 'migrate_cancel'}");
    st = wait_for_migration_end(p.src);
    g_assert_cmpstr(st, ==, "cancelled");
    assert_runstate(p.src, "running");
    wait_for_exit_code(p.dst, 1);
    p.dst_gone = true;
    pair_finish(&p);
}

/* More channels on the source than the destination takes. */
static void test_channels_mismatch(void)
{
    Pair p = { 0 };

    pair_start(&p, NULL, NULL);
    set_multifd(p.src, 4, "none");
    set_multifd(p.dst, 2, "none");
    pair_listen(&p, "unix");
    migrate_qmp(p.src, p.uri);
    expect_src_failed(p.src, NULL);
    wait_for_exit_code(p.dst, 1);
    p.dst_gone = true;
    pair_finish(&p);
}

/* multifd on the source only: the destination takes one connection. */
static void test_source_only(void)
{
    Pair p = { 0 };

    pair_start(&p, NULL, NULL);
    set_multifd(p.src, 2, "none");
    pair_listen(&p, "unix");
    migrate_qmp(p.src, p.uri);
    expect_src_failed(p.src, "multifd channel");
    wait_for_exit_code(p.dst, 1);
    p.dst_gone = true;
    pair_finish(&p);
}

/*
 * multifd on the destination only: no channel ever comes, and the first
 * barrier fails after x-link-timeout (QEMU waits forever).
 */
static void test_destination_only(void)
{
    Pair p = { 0 };

    pair_start(&p, NULL, "-global migration.x-link-timeout=1500");
    set_multifd(p.dst, 2, "none");
    migrate_set_capability(p.src, "return-path", true);
    migrate_set_capability(p.dst, "return-path", true);
    pair_listen(&p, "unix");
    migrate_qmp(p.src, p.uri);
    wait_for_stderr(p.dst, "multifd: no progress towards the barrier for "
                    "1500 ms: 0 of 2 channels connected");
    wait_for_exit_code(p.dst, 1);
    p.dst_gone = true;
    expect_src_failed(p.src, NULL);
    pair_finish(&p);
}

/* exec: (and fd:, file:) carry one stream: multifd cannot use them. */
static void test_exec_refused(void)
{
    g_autofree char *out = tmp_path("mf-exec.out");
    g_autofree char *uri = g_strdup_printf("exec:cat > %s", out);
    QTestState *src = migrate_start_vm(NULL, false, 16, "%s", "");

    set_multifd(src, 2, "none");
    migrate_qmp(src, uri);
    expect_src_failed(src, "multifd is not supported by current protocol");
    qtest_quit(src);
    unlink(out);
}

static void expect_qmp_error(QTestState *qts, const char *cmd,
                             const char *desc)
{
    g_autoptr(JsonNode) rsp = qtest_qmp(qts, "%s", cmd);

    g_assert_cmpstr(qmp_rsp_error_desc(rsp), ==, desc);
}

static void test_refused(void)
{
    QTestState *q = migrate_start_vm(NULL, false, 16, "%s", "");
    g_autoptr(JsonNode) caps = NULL;

    /* Together with postcopy, either way round (as QEMU 10.x). */
    expect_qmp_error(q, "{'execute': 'migrate-set-capabilities', "
                     "'arguments': {'capabilities': ["
                     "{'capability': 'multifd', 'state': true}, "
                     "{'capability': 'postcopy-ram', 'state': true}]}}",
                     "Postcopy is not yet compatible with multifd");
    migrate_set_capability(q, "multifd", true);
    expect_qmp_error(q, "{'execute': 'migrate-set-capabilities', "
                     "'arguments': {'capabilities': ["
                     "{'capability': 'postcopy-ram', 'state': true}]}}",
                     "Postcopy is not yet compatible with multifd");
    migrate_set_capability(q, "multifd", false);
    migrate_set_capability(q, "postcopy-ram", true);
    expect_qmp_error(q, "{'execute': 'migrate-set-capabilities', "
                     "'arguments': {'capabilities': ["
                     "{'capability': 'multifd', 'state': true}]}}",
                     "Postcopy is not yet compatible with multifd");
    /* Parameters, with QEMU's messages. */
    expect_qmp_error(q, "{'execute': 'migrate-set-parameters', "
                     "'arguments': {'multifd-channels': 0}}",
                     "Parameter 'multifd_channels' expects a value between "
                     "1 and 255");
    expect_qmp_error(q, "{'execute': 'migrate-set-parameters', "
                     "'arguments': {'multifd-channels': 256}}",
                     "Parameter 'multifd-channels' expects uint8_t");
    expect_qmp_error(q, "{'execute': 'migrate-set-parameters', "
                     "'arguments': {'multifd-compression': 'lz4'}}",
                     "Parameter 'multifd-compression' does not accept "
                     "value 'lz4'");
    expect_qmp_error(q, "{'execute': 'migrate-set-parameters', "
                     "'arguments': {'multifd-zlib-level': 10}}",
                     "Parameter 'multifd_zlib_level' expects a value "
                     "between 0 and 9");
    expect_qmp_error(q, "{'execute': 'migrate-set-parameters', "
                     "'arguments': {'multifd-zstd-level': 21}}",
                     "Parameter 'multifd_zstd_level' expects a value "
                     "between 0 and 20");
    /* Levels are applied (QEMU 7.2 keeps the old value silently). */
    qtest_qmp_assert_success(q, "{'execute': 'migrate-set-parameters', "
                             "'arguments': {'multifd-zlib-level': 6, "
                             "'multifd-zstd-level': 19}}");
    caps = qtest_qmp(q, "{'execute': 'query-migrate-parameters'}");
    g_assert_cmpint(json_object_get_int_member(qmp_rsp_return(caps),
                                               "multifd-zlib-level"), ==, 6);
    g_assert_cmpint(json_object_get_int_member(qmp_rsp_return(caps),
                                               "multifd-zstd-level"), ==, 19);
    qtest_quit(q);
}

/* -global spellings: x-multifd and the parameters. */
static void test_globals(void)
{
    QTestState *q = migrate_start_vm(NULL, false, 16, "%s",
                                     "-global migration.x-multifd=on "
                                     "-global migration.multifd-channels=5 "
                                     "-global migration.multifd-compression"
                                     "=zstd");
    g_autoptr(JsonNode) caps = qtest_qmp(q, "{'execute': "
                                         "'query-migrate-capabilities'}");
    g_autoptr(JsonNode) par = qtest_qmp(q, "{'execute': "
                                        "'query-migrate-parameters'}");
    JsonArray *a = json_node_get_array(
        json_object_get_member(json_node_get_object(caps), "return"));
    bool on = false;

    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);

        if (g_str_equal(json_object_get_string_member(o, "capability"),
                        "multifd")) {
            on = json_object_get_boolean_member(o, "state");
        }
    }
    g_assert_true(on);
    g_assert_cmpint(json_object_get_int_member(qmp_rsp_return(par),
                                               "multifd-channels"), ==, 5);
    g_assert_cmpstr(json_object_get_string_member(qmp_rsp_return(par),
                                                  "multifd-compression"), ==,
                    "zstd");
    qtest_quit(q);
}

/* ---- hand-made hellos ---- */

typedef struct Hello {
    const char *name;
    uint32_t magic, version;
    uint8_t id;
    const char *dst_extra;
    const char *msg;
} Hello;

static int unix_connect(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(a.sun_path));
    strcpy(a.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    return fd;
}

/*
 * A connection that says nothing does not hold the destination up (QMP
 * answers; QEMU 7.2's freezes); a hello wrong in one field fails the
 * incoming migration with QEMU's words, and the destination exits with
 * status 1, as QEMU 10.x's does.
 */
static void test_bad_hello(const void *opaque)
{
    const Hello *h = opaque;
    QTestState *dst = migrate_start_vm(NULL, false, 16,
                                       "-incoming defer %s",
                                       h->dst_extra ? h->dst_extra : "");
    g_autofree char *path = tmp_path("mf-hello.sock");
    uint8_t hello[64] = { 0 };
    int silent, fd;

    set_multifd(dst, 2, "none");
    qtest_qmp_assert_success(dst, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'unix:%s'}}", path);
    silent = unix_connect(path);
    assert_runstate(dst, "inmigrate");
    hello[0] = h->magic >> 24;
    hello[1] = h->magic >> 16;
    hello[2] = h->magic >> 8;
    hello[3] = h->magic;
    hello[7] = h->version;
    hello[24] = h->id;
    fd = unix_connect(path);
    g_assert_true(send_all(fd, hello, sizeof(hello)));
    wait_for_stderr(dst, h->msg);
    wait_for_exit_code(dst, 1);
    wait_for_stderr(dst, "load of migration failed");
    qtest_kill(dst);
    close(fd);
    close(silent);
}

static const Hello hellos[] = {
    { "magic", 0xdeadbeef, 1, 0, NULL,
      "failed to receive packet via multifd channel 0: multifd: received "
      "packet magic deadbeef expected 11223344" },
    { "version", 0x11223344, 2, 0, NULL,
      "failed to receive packet via multifd channel 0: multifd: received "
      "packet version 2 expected 1" },
    { "uuid", 0x11223344, 1, 0,
      "-uuid 12345678-9abc-def0-1122-334455667788",
      "failed to receive packet via multifd channel 0: multifd: received "
      "uuid '00000000-0000-0000-0000-000000000000' and expected uuid "
      "'12345678-9abc-def0-1122-334455667788' for channel 0" },
    { "id", 0x11223344, 1, 2, NULL,
      "failed to receive packet via multifd channel 0: multifd: received "
      "channel id 2 is greater than number of channels 2" },
};

static const Case cases[] = {
    { "unix", 2, "none" },
    { "unix", 1, "none" },
    { "tcp", 4, "none" },
    { "unix", 2, "zlib" },
    { "tcp", 4, "zstd" },
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *name = g_strdup_printf("/multifd/%s/%s/%u",
                                                cases[i].how, cases[i].comp,
                                                cases[i].channels);

        g_test_add_data_func(name, &cases[i], test_precopy);
    }
    /* (Without multifd too: the same writes, the stream as before.) */
    g_test_add_data_func("/multifd/dirty/off", GUINT_TO_POINTER(0),
                         test_dirty);
    g_test_add_data_func("/multifd/dirty/4", GUINT_TO_POINTER(4), test_dirty);
    g_test_add_func("/multifd/tls", test_tls);
    g_test_add_func("/multifd/fail/channel-cut", test_channel_cut);
    g_test_add_func("/multifd/fail/cancel", test_cancel);
    g_test_add_func("/multifd/fail/channels-mismatch", test_channels_mismatch);
    g_test_add_func("/multifd/fail/source-only", test_source_only);
    g_test_add_func("/multifd/fail/destination-only", test_destination_only);
    g_test_add_func("/multifd/fail/exec", test_exec_refused);
    g_test_add_func("/multifd/refused", test_refused);
    g_test_add_func("/multifd/globals", test_globals);
    for (size_t i = 0; i < G_N_ELEMENTS(hellos); i++) {
        g_autofree char *name = g_strdup_printf("/multifd/bad-hello/%s",
                                                hellos[i].name);

        g_test_add_data_func(name, &hellos[i], test_bad_hello);
    }
    return g_test_run();
}
