/*
 * qemu-interop-test: the harness against the real QEMU 7.2, and ferry
 * against QEMU reply for reply.
 *
 * 1. libqtest drives QEMU 7.2 exactly as it drives ferry (QMP and qtest),
 *    which proves that the harness speaks the real protocols.
 * 2. The way interop migration tests fill and read QEMU's RAM without a
 *    CPU — "-device loader" and QMP "pmemsave" on -M none — works.
 * 3. The same QMP conversation, sent to ferry and to QEMU, gets the same
 *    bytes back (after replacing the version and package strings).
 *
 * Skipped, with the reason, when the QEMU binary is missing.
 */
#include "libqtest.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* What Debian's QEMU 7.2 needs for -qtest on -M none (no qtest accel). */
#define QEMU_QTEST_ARGS \
    "-M none -cpu qemu64,apic-id=0,-apic -accel tcg -nodefaults " \
    "-display none"

static void test_qemu_qtest(void)
{
    QTestOptions o = { 0 };
    QTestState *qts;
    g_autoptr(JsonNode) v = NULL;
    g_autofree char *st = NULL;
    g_autofree uint8_t *data = g_malloc(256 * 1024);
    g_autofree uint8_t *back = g_malloc(256 * 1024);
    JsonObject *q;

    if (!qtest_have_qemu()) {
        return;
    }
    o.binary = qtest_qemu_binary();
    qts = qtest_init_opts(&o, QEMU_QTEST_ARGS " -S -m 64M");
    v = qtest_qmp(qts, "{'execute': 'query-version'}");
    q = json_object_get_object_member(qmp_rsp_return(v), "qemu");
    g_assert_cmpint(json_object_get_int_member(q, "major"), ==, 7);
    g_assert_cmpint(json_object_get_int_member(q, "minor"), ==, 2);
    st = qtest_runstate(qts);
    g_assert_cmpstr(st, ==, "prelaunch");

    qtest_writeq(qts, 0x1000, 0x0123456789abcdefULL);
    g_assert_cmphex(qtest_readq(qts, 0x1000), ==, 0x0123456789abcdefULL);
    g_assert_cmphex(qtest_readl(qts, 0x1004), ==, 0x01234567);
    for (size_t i = 0; i < 256 * 1024; i++) {
        data[i] = i * 7 + (i >> 9);
    }
    qtest_bufwrite(qts, 0x200000, data, 256 * 1024);
    qtest_memread(qts, 0x200000, back, 256 * 1024);
    g_assert_cmpmem(data, 256 * 1024, back, 256 * 1024);
    qtest_memset(qts, 0x200000, 0xa5, 16);
    qtest_bufread(qts, 0x200000, back, 16);
    g_assert_cmphex(back[0], ==, 0xa5);
    g_assert_cmphex(back[15], ==, 0xa5);
    qtest_qmp_assert_success(qts, "{'execute': 'cont'}");
    qtest_qmp_eventwait(qts, "RESUME");
    qtest_quit(qts);
}

static void test_qemu_loader_pmemsave(void)
{
    QTestOptions o = { .no_qtest = true };
    g_autofree char *in = g_strdup_printf("%s/loader-%d.bin", qtest_tmpdir(),
                                          getpid());
    g_autofree char *out = g_strdup_printf("%s/pmem-%d.bin", qtest_tmpdir(),
                                           getpid());
    g_autofree uint8_t *data = g_malloc(1 << 20);
    g_autofree char *contents = NULL;
    gsize len;
    QTestState *qts;

    if (!qtest_have_qemu()) {
        return;
    }
    for (size_t i = 0; i < (1 << 20); i++) {
        data[i] = (i * 2654435761u) >> 13;
    }
    g_assert_true(g_file_set_contents(in, (char *)data, 1 << 20, NULL));
    o.binary = qtest_qemu_binary();
    qts = qtest_init_opts(&o, "-M none -m 64M -nodefaults -display none -S "
                          "-device loader,file=%s,addr=0x100000", in);
    qtest_qmp_assert_success(qts, "{'execute': 'pmemsave', 'arguments': "
                             "{'val': %d, 'size': %d, 'filename': '%s'}}",
                             0x100000, 1 << 20, out);
    g_assert_true(g_file_get_contents(out, &contents, &len, NULL));
    g_assert_cmpmem(contents, len, data, 1 << 20);
    qtest_quit(qts);
    unlink(in);
    unlink(out);
}

/*
 * A conversation replayed on both.  Replies must match byte for byte once
 * the "package" string and version triple are normalised, and events are
 * compared with their timestamps blanked.
 */
static const char *const conversation[] = {
    "{\"execute\":\"query-status\"}",
    "{\"execute\":\"query-status\",\"id\":\"a1\"}",
    "{}",
    "[1]",
    "{\"execute\":1}",
    "{\"execute\":\"query-status\",\"foo\":1,\"id\":1}",
    "{\"execute\":\"qmp_capabilities\",\"arguments\":1}",
    "{\"exec-oob\":\"qmp_capabilities\",\"id\":1}",
    "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"bogus\"]}}",
    "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"foo\":1}}",
    "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":null}}",
    "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[1]}}",
    "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}",
    "{\"execute\":\"qmp_capabilities\",\"id\":5}",
    "{\"execute\":\"query-status\"}",
    "{\"execute\":\"nonexistent\",\"id\":{\"x\":1}}",
    "{\"arguments\":{}}",
    "{\"execute\":null}",
    "{\"execute\":\"query-status\",\"arguments\":null}",
    "{\"execute\":\"query-status\",\"arguments\":{\"foo\":1,\"bar\":2}}",
    "{\"execute\":\"query-status\",\"arguments\":{\"zzz\":1,\"aaa\":1}}",
    "{\"x\":1,\"aaa\":1}",
    "{\"execute\":\"pmemsave\"}",
    ("{\"execute\":\"pmemsave\",\"arguments\":{\"val\":\"x\",\"size\":1,"
     "\"filename\":\"/dev/null\"}}"),
    "{\"exec-oob\":\"query-status\",\"id\":\"o2\"}",
    "{\"execute\":\"query-status\",\"exec-oob\":\"stop\",\"id\":\"b\"}",
    "{\"exec-oob\":1,\"id\":\"n\"}",
    "{\"exec-oob\":\"nonexistent\",\"id\":\"n\"}",
    "{\"execute\":\"query-status\",\"id\":{\"c\":1,\"a\":2,\"zz\":[1,2]}}",
    "{\"execute\":\"query-status\",\"id\":-1.5}",
    "{\"execute\":\"query-status\",\"id\":1e3}",
    "{\"execute\":\"query-status\",\"id\":\"\\u00e9\\n\\\"/\\u0001\"}",
    "{\"execute\":\"query-name\"}",
    "{\"execute\":\"query-memory-size-summary\"}",
    "{\"execute\":\"stop\"}",
    "{\"execute\":\"cont\",\"id\":\"c\"}",
    "{\"execute\":\"cont\"}",
    "{\"execute\":\"stop\"}",
    "{\"execute\":\"stop\"}",
    "{\"execute\":\"query-status\"}",
    "{\"execute\":\"quit\",\"id\":\"q\"}",
};

/* Migration commands and their errors, on an idle VM. */
static const char *const migration_conversation[] = {
    "{\"execute\":\"qmp_capabilities\"}",
    "{\"execute\":\"query-migrate\"}",
    "{\"execute\":\"query-migrate-capabilities\"}",
    "{\"execute\":\"query-migrate-parameters\"}",
    "{\"execute\":\"migrate\"}",
    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":1}}",
    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"bogus:x\"}}",
    "{\"execute\":\"query-migrate\"}",
    "{\"execute\":\"migrate-incoming\",\"arguments\":"
    "{\"uri\":\"unix:/nonexistent\"}}",
    "{\"execute\":\"migrate-continue\",\"arguments\":"
    "{\"state\":\"pre-switchover\"}}",
    "{\"execute\":\"migrate-start-postcopy\"}",
    "{\"execute\":\"migrate-pause\"}",
    "{\"execute\":\"migrate-recover\",\"arguments\":"
    "{\"uri\":\"tcp:0:0\"}}",
    "{\"execute\":\"migrate_cancel\"}",
    "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
    "{\"capabilities\":[{\"capability\":\"bogus\",\"state\":true}]}}",
    "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
    "{\"capabilities\":[{\"capability\":\"events\",\"state\":1}]}}",
    "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
    "{\"capabilities\":[{\"capability\":\"events\"}]}}",
    "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
    "{\"capabilities\":[{\"capability\":\"postcopy-preempt\","
    "\"state\":true}]}}",
    "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
    "{\"capabilities\":[{\"capability\":\"events\",\"state\":true},"
    "{\"capability\":\"return-path\",\"state\":true}]}}",
    "{\"execute\":\"query-migrate-capabilities\"}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"downtime-limit\":2000001}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"compress-level\":10}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"multifd-channels\":0}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"throttle-trigger-threshold\":0}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"xbzrle-cache-size\":1000}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"cpu-throttle-initial\":0}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"max-cpu-throttle\":100}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"max-bandwidth\":\"x\"}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"bogus\":1}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"max-bandwidth\":1000000,\"downtime-limit\":1,"
    "\"max-postcopy-bandwidth\":50000,\"announce-step\":7}}",
    "{\"execute\":\"query-migrate-parameters\"}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"compress-level\":300}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"downtime-limit\":-1}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"tls-creds\":1}}",
    "{\"execute\":\"migrate-set-parameters\",\"arguments\":"
    "{\"announce-step\":0}}",
    "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
    "{\"capabilities\":[{\"capability\":\"events\",\"state\":true,"
    "\"x\":1}]}}",
    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:\"}}",
    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:\"}}",
    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:nosuch\"}}",
    "{\"execute\":\"query-migrate\"}",
    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:/x\","
    "\"resume\":true}}",
    "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"x\"}}",
    "{\"execute\":\"closefd\",\"arguments\":{\"fdname\":\"x\"}}",
};

static char *normalise(const char *line)
{
    g_autoptr(GRegex) ts = g_regex_new("\"seconds\": [0-9]+, "
                                       "\"microseconds\": [0-9]+", 0, 0,
                                       NULL);
    g_autoptr(GRegex) pkg = g_regex_new("\"package\": \"[^\"]*\"", 0, 0,
                                        NULL);
    g_autoptr(GRegex) ver = g_regex_new("\"micro\": [0-9]+", 0, 0, NULL);
    g_autofree char *a = g_regex_replace_literal(ts, line, -1, 0, "TS", 0,
                                                 NULL);
    g_autofree char *b = g_regex_replace_literal(pkg, a, -1, 0, "PKG", 0,
                                                 NULL);

    return g_regex_replace_literal(ver, b, -1, 0, "MICRO", 0, NULL);
}

/* Replays @conv; returns every line received, normalised. */
static GPtrArray *converse_list(QTestState *qts, const char *const *conv,
                                size_t n)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *greeting = qtest_qmp_receive_line(qts);

    g_ptr_array_add(lines, normalise(greeting));
    for (size_t i = 0; i < n; i++) {
        const char *req = conv[i];
        g_autofree char *line = g_strconcat(req, "\n", NULL);
        g_autofree char *rsp = NULL;

        qtest_qmp_send_raw(qts, line, strlen(line));
        /* Read until the reply (events come first, as lines of their own). */
        do {
            g_free(rsp);
            rsp = qtest_qmp_receive_line(qts);
            g_ptr_array_add(lines, normalise(rsp));
        } while (strstr(rsp, "\"event\""));
    }
    return lines;
}

static GPtrArray *converse(QTestState *qts)
{
    return converse_list(qts, conversation, G_N_ELEMENTS(conversation));
}

static void compare_lines(GPtrArray *fl, GPtrArray *ql)
{
    for (guint i = 0; i < MIN(fl->len, ql->len); i++) {
        g_test_message("qemu:  %s", (char *)ql->pdata[i]);
        g_test_message("ferry: %s", (char *)fl->pdata[i]);
        g_assert_cmpstr(fl->pdata[i], ==, ql->pdata[i]);
    }
    g_assert_cmpuint(fl->len, ==, ql->len);
}

static void test_qmp_migration_same_bytes(void)
{
    QTestOptions of = { .no_qmp_handshake = true, .no_qtest = true };
    QTestOptions oq = { .no_qmp_handshake = true, .no_qtest = true };
    QTestState *f, *q;
    g_autoptr(GPtrArray) fl = NULL, ql = NULL;

    if (!qtest_have_qemu()) {
        return;
    }
    oq.binary = qtest_qemu_binary();
    f = qtest_init_opts(&of, "-M none -S -nodefaults -display none");
    q = qtest_init_opts(&oq, "-M none -S -nodefaults -display none");
    fl = converse_list(f, migration_conversation,
                       G_N_ELEMENTS(migration_conversation));
    ql = converse_list(q, migration_conversation,
                       G_N_ELEMENTS(migration_conversation));
    compare_lines(fl, ql);
    qtest_quit(f);
    qtest_quit(q);
}

static void test_qmp_same_bytes(void)
{
    QTestOptions of = { .no_qmp_handshake = true, .no_qtest = true };
    QTestOptions oq = { .no_qmp_handshake = true, .no_qtest = true };
    QTestState *f, *q;
    g_autoptr(GPtrArray) fl = NULL, ql = NULL;

    if (!qtest_have_qemu()) {
        return;
    }
    oq.binary = qtest_qemu_binary();
    f = qtest_init_opts(&of, "-M none -S -nodefaults -display none");
    q = qtest_init_opts(&oq, "-M none -S -nodefaults -display none");
    fl = converse(f);
    ql = converse(q);
    compare_lines(fl, ql);
    qtest_wait_exit(f);
    qtest_wait_exit(q);
    qtest_kill(f);
    qtest_kill(q);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/interop/qemu/qtest", test_qemu_qtest);
    g_test_add_func("/interop/qemu/loader-pmemsave",
                    test_qemu_loader_pmemsave);
    g_test_add_func("/interop/qmp/same-bytes", test_qmp_same_bytes);
    g_test_add_func("/interop/qmp/migration-same-bytes",
                    test_qmp_migration_same_bytes);
    return g_test_run();
}
