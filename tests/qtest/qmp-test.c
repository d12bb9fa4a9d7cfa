/*
 * qmp-test: the QMP server as a QEMU client sees it — greeting,
 * negotiation, every request-shape error (byte for byte as QEMU 7.2
 * answers), malformed input, run-state commands and their events,
 * out-of-band rules, reconnecting clients, pretty output, quit and
 * SIGTERM.
 */
#include "libqtest.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* Sends @req (a full line) and returns the next raw line. */
static char *roundtrip(QTestState *qts, const char *req)
{
    qtest_qmp_send_raw(qts, req, strlen(req));
    return qtest_qmp_receive_line(qts);
}

static void test_greeting(void)
{
    QTestOptions o = { .no_qmp_handshake = true };
    QTestState *qts = qtest_init_opts(&o, "-M none");
    g_autofree char *line = qtest_qmp_receive_line(qts);

    /* QEMU's member order: micro, minor, major; version, capabilities. */
    g_assert_cmpstr(line, ==, "{\"QMP\": {\"version\": {\"qemu\": "
                    "{\"micro\": 0, \"minor\": 2, \"major\": 7}, "
                    "\"package\": \"ferry-0.1.0\"}, \"capabilities\": "
                    "[\"oob\"]}}");
    qtest_quit(qts);
}

typedef struct Exchange {
    const char *req;
    const char *rsp;
} Exchange;

static void run_exchanges(QTestState *qts, const Exchange *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_autofree char *rsp = roundtrip(qts, x[i].req);

        g_test_message("%s -> %s", x[i].req, rsp);
        g_assert_cmpstr(rsp, ==, x[i].rsp);
    }
}

static void test_negotiation(void)
{
    static const Exchange x[] = {
        { "{\"execute\":\"query-status\"}\n",
          "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
          "\"Expecting capabilities negotiation with 'qmp_capabilities'\"}}" },
        { "{\"execute\":\"query-status\",\"id\":\"a1\"}\n",
          "{\"id\": \"a1\", \"error\": {\"class\": \"CommandNotFound\", "
          "\"desc\": \"Expecting capabilities negotiation with "
          "'qmp_capabilities'\"}}" },
        { "{\"exec-oob\":\"qmp_capabilities\",\"id\":1}\n",
          "{\"id\": 1, \"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'exec-oob' is unexpected\"}}" },
        { "{\"execute\":\"qmp_capabilities\",\"arguments\":"
          "{\"enable\":[\"bogus\"]}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'null' does not accept value 'bogus'\"}}" },
        { "{\"execute\":\"qmp_capabilities\",\"arguments\":"
          "{\"enable\":\"oob\"}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Invalid parameter type for 'enable', expected: array\"}}" },
        { "{\"execute\":\"qmp_capabilities\",\"arguments\":"
          "{\"enable\":[1]}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Invalid parameter type for 'enable[0]', expected: string\"}}" },
        { "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"foo\":1}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'foo' is unexpected\"}}" },
        { "{\"execute\":\"qmp_capabilities\",\"arguments\":"
          "{\"enable\":[\"oob\"]}}\n",
          "{\"return\": {}}" },
        { "{\"execute\":\"qmp_capabilities\",\"id\":5}\n",
          "{\"id\": 5, \"error\": {\"class\": \"CommandNotFound\", "
          "\"desc\": \"Capabilities negotiation is already complete, "
          "command ignored\"}}" },
    };
    QTestOptions o = { .no_qmp_handshake = true };
    QTestState *qts = qtest_init_opts(&o, "-M none -S");
    g_free(qtest_qmp_receive_line(qts));      /* the greeting */
    run_exchanges(qts, x, G_N_ELEMENTS(x));
    qtest_quit(qts);
}

/* Request-shape and argument errors, exactly as QEMU 7.2 answers them. */
static void test_request_errors(void)
{
    static const Exchange x[] = {
        { "{\"execute\":\"nonexistent\",\"id\":\"u1\"}\n",
          "{\"id\": \"u1\", \"error\": {\"class\": \"CommandNotFound\", "
          "\"desc\": \"The command nonexistent has not been found\"}}" },
        { "{\"arguments\":{}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input lacks member 'execute'\"}}" },
        { "{\"id\":\"m1\"}\n",
          "{\"id\": \"m1\", \"error\": {\"class\": \"GenericError\", "
          "\"desc\": \"QMP input lacks member 'execute'\"}}" },
        { "{\"execute\":1,\"id\":7}\n",
          "{\"id\": 7, \"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'execute' must be a string\"}}" },
        { "{\"execute\":null}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'execute' must be a string\"}}" },
        { "{\"execute\":\"query-status\",\"foo\":1,\"id\":\"f\"}\n",
          "{\"id\": \"f\", \"error\": {\"class\": \"GenericError\", "
          "\"desc\": \"QMP input member 'foo' is unexpected\"}}" },
        { "{\"execute\":\"query-status\",\"arguments\":[]}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'arguments' must be an object\"}}" },
        { "{\"execute\":\"query-status\",\"arguments\":{\"foo\":1,"
          "\"bar\":2}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'bar' is unexpected\"}}" },
        { "{\"execute\":\"query-status\",\"arguments\":{\"zzz\":1,"
          "\"aaa\":1,\"x\":1}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'zzz' is unexpected\"}}" },
        { "{\"zzz\":1,\"foo\":1}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'zzz' is unexpected\"}}" },
        { "{\"foo\":1,\"arguments\":1}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'arguments' must be an object\"}}" },
        { "{\"execute\":\"pmemsave\",\"arguments\":{\"zzz\":2}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'val' is missing\"}}" },
        { "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":0,\"size\":1,"
          "\"filename\":1}}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Invalid parameter type for 'filename', expected: string\"}}" },
        { "{\"exec-oob\":\"x\",\"execute\":1}\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'exec-oob' is unexpected\"}}" },
        { "{\"execute\":\"query-status\",\"id\":{\"c\":1,\"a\":2}}\n",
          "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
          "\"running\": false}, \"id\": {\"a\": 2, \"c\": 1}}" },
        { "{\"execute\":\"query-status\",\"id\":[1,\"b\",null,true]}\n",
          "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
          "\"running\": false}, \"id\": [1, \"b\", null, true]}" },
        { "{\"execute\":\"query-status\",\"id\":0.1}\n",
          "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
          "\"running\": false}, \"id\": 0.10000000000000001}" },
        { "{\"execute\":\"query-status\",\"id\":\"\\u00e9\\n\\\"/\"}\n",
          "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
          "\"running\": false}, \"id\": \"\\u00E9\\n\\\"/\"}" },
        { "{'execute':'query-status','id':'sq\"x'}\n",
          "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
          "\"running\": false}, \"id\": \"sq\\\"x\"}" },
        { "[1,2]\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input must be a JSON object\"}}" },
        { "\"x\"\n",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input must be a JSON object\"}}" },
        { "{\"execute\":\"query-status\"} {\"execute\":\"query-name\"}\n",
          "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
          "\"running\": false}}" },
    };
    QTestState *qts = qtest_init("-M none -S");
    g_autofree char *last = NULL;

    run_exchanges(qts, x, G_N_ELEMENTS(x));
    /* The second object of the last write is answered too. */
    last = qtest_qmp_receive_line(qts);
    g_assert_cmpstr(last, ==, "{\"return\": {}}");
    qtest_quit(qts);
}

static void assert_alive(QTestState *qts)
{
    g_autofree char *rsp = roundtrip(qts,
                                     "{\"execute\":\"query-name\","
                                     "\"id\":\"sync\"}\n");

    g_assert_cmpstr(rsp, ==, "{\"return\": {}, \"id\": \"sync\"}");
}

/* Malformed input: one GenericError per bad value, never a crash. */
static void test_malformed(void)
{
    static const char *const bad[] = {
        "{\"execute\": }\n", "{foo}\n", "}\n", "]\n", "abc\n",
        "{\"execute\":\"query-status\",}\n", "{\"a\":1 \"b\":2}\n",
        "{\"execute\":\"query-status\",\"id\":tru}\n",
        "{\"execute\":\"query-status\",\"id\":\"\\x41\"}\n",
        "{\"execute\":\"query-status\",\"id\":\"\\ud83d\"}\n",
        "{\"execute\":\"query-status\",\"id\":\"\xc3\"}\n",
    };
    QTestState *qts = qtest_init("-M none -S");

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(JsonNode) rsp = NULL;
        g_autofree char *line = roundtrip(qts, bad[i]);
        g_autofree char *shown = g_strescape(bad[i], NULL);
        GError *err = NULL;
        const char *desc;

        g_test_message("%s -> %s", shown, line);
        rsp = json_from_string(line, &err);
        g_assert_nonnull(rsp);
        g_assert_cmpstr(qmp_rsp_error_class(rsp), ==, "GenericError");
        desc = qmp_rsp_error_desc(rsp);
        g_assert_true(g_str_has_prefix(desc, "JSON parse error") ||
                      g_str_has_prefix(desc, "QMP input"));
        assert_alive(qts);
    }
    qtest_quit(qts);
}

static void test_nesting_and_binary(void)
{
    QTestState *qts = qtest_init("-M none -S");
    GString *deep = g_string_new(NULL);
    g_autofree char *line = NULL;
    char junk[4096];

    /* 1024 levels are fine (answered "not an object"), 1025 are not. */
    for (int i = 0; i < 1024; i++) {
        g_string_append_c(deep, '[');
    }
    for (int i = 0; i < 1024; i++) {
        g_string_append_c(deep, ']');
    }
    g_string_append_c(deep, '\n');
    line = roundtrip(qts, deep->str);
    g_assert_cmpstr(line, ==, "{\"error\": {\"class\": \"GenericError\", "
                    "\"desc\": \"QMP input must be a JSON object\"}}");
    g_free(g_steal_pointer(&line));
    g_string_assign(deep, "");
    for (int i = 0; i < 5000; i++) {
        g_string_append_c(deep, '[');
    }
    g_string_append_c(deep, '\n');
    line = roundtrip(qts, deep->str);
    g_assert_true(strstr(line, "nesting") != NULL);
    assert_alive(qts);

    /* Random binary, then a newline: errors at most, and still alive. */
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (char)g_test_rand_int_range(0, 256);
    }
    qtest_qmp_send_raw(qts, junk, sizeof(junk));
    qtest_qmp_send_raw(qts, "\n\xff\n", 3);
    {
        g_autofree char *sync = NULL;

        qtest_qmp_send_raw(qts, "{\"execute\":\"query-name\",\"id\":\"end\"}"
                           "\n", 37);
        do {
            g_free(sync);
            sync = qtest_qmp_receive_line(qts);
        } while (!strstr(sync, "\"end\""));
        g_assert_cmpstr(sync, ==, "{\"return\": {}, \"id\": \"end\"}");
    }
    g_string_free(deep, true);
    qtest_quit(qts);
}

static void check_event_line(const char *line, const char *event)
{
    g_autofree char *re = g_strdup_printf(
        "^\\{\"timestamp\": \\{\"seconds\": [0-9]+, \"microseconds\": "
        "[0-9]+\\}, \"event\": \"%s\"\\}$", event);

    g_test_message("%s", line);
    g_assert_true(g_regex_match_simple(re, line, 0, 0));
}

static void test_runstate_events(void)
{
    QTestState *qts = qtest_init("-M none -m 16M -S");
    g_autofree char *st = qtest_runstate(qts);
    g_autofree char *l1 = NULL, *l2 = NULL, *l3 = NULL, *l4 = NULL;

    g_assert_cmpstr(st, ==, "prelaunch");
    /* stop in prelaunch: nothing happens. */
    l1 = roundtrip(qts, "{\"execute\":\"stop\"}\n");
    g_assert_cmpstr(l1, ==, "{\"return\": {}}");
    /* cont: RESUME first, then the reply. */
    l2 = roundtrip(qts, "{\"execute\":\"cont\",\"id\":\"c\"}\n");
    check_event_line(l2, "RESUME");
    g_free(l2);
    l2 = qtest_qmp_receive_line(qts);
    g_assert_cmpstr(l2, ==, "{\"return\": {}, \"id\": \"c\"}");
    g_free(st);
    st = qtest_runstate(qts);
    g_assert_cmpstr(st, ==, "running");
    /* cont while running is silent. */
    l3 = roundtrip(qts, "{\"execute\":\"cont\"}\n");
    g_assert_cmpstr(l3, ==, "{\"return\": {}}");
    l4 = roundtrip(qts, "{\"execute\":\"stop\"}\n");
    check_event_line(l4, "STOP");
    g_free(l4);
    l4 = qtest_qmp_receive_line(qts);
    g_assert_cmpstr(l4, ==, "{\"return\": {}}");
    g_free(st);
    st = qtest_runstate(qts);
    g_assert_cmpstr(st, ==, "paused");
    g_free(l4);
    l4 = roundtrip(qts, "{\"execute\":\"stop\"}\n");
    g_assert_cmpstr(l4, ==, "{\"return\": {}}");
    qtest_quit(qts);
}

static void test_version_name_commands(void)
{
    QTestState *qts = qtest_init("-M none -name guest=vm1,debug-threads=on");
    g_autoptr(JsonNode) v = qtest_qmp(qts, "{'execute': 'query-version'}");
    g_autoptr(JsonNode) n = qtest_qmp(qts, "{'execute': 'query-name'}");
    g_autoptr(JsonNode) c = qtest_qmp(qts, "{'execute': 'query-commands'}");
    JsonObject *q = json_object_get_object_member(qmp_rsp_return(v), "qemu");
    JsonArray *cmds;
    bool have[4] = { false };
    static const char *const want[] = {
        "qmp_capabilities", "query-status", "stop", "quit",
    };

    g_assert_cmpint(json_object_get_int_member(q, "major"), ==, 7);
    g_assert_cmpint(json_object_get_int_member(q, "minor"), ==, 2);
    g_assert_cmpstr(json_object_get_string_member(qmp_rsp_return(n),
                                                  "name"), ==, "vm1");
    cmds = json_node_get_array(json_object_get_member(
        json_node_get_object(c), "return"));
    for (guint i = 0; i < json_array_get_length(cmds); i++) {
        const char *name = json_object_get_string_member(
            json_array_get_object_element(cmds, i), "name");

        for (size_t k = 0; k < G_N_ELEMENTS(want); k++) {
            have[k] |= !strcmp(name, want[k]);
        }
    }
    for (size_t k = 0; k < G_N_ELEMENTS(want); k++) {
        g_assert_true(have[k]);
    }
    qtest_quit(qts);
}

static void test_oob_rules(void)
{
    static const Exchange x[] = {
        { "{\"exec-oob\":\"query-status\",\"id\":\"o2\"}\n",
          "{\"id\": \"o2\", \"error\": {\"class\": \"GenericError\", "
          "\"desc\": \"The command query-status does not support OOB\"}}" },
        { "{\"execute\":\"query-status\",\"exec-oob\":\"stop\","
          "\"id\":\"b\"}\n",
          "{\"id\": \"b\", \"error\": {\"class\": \"GenericError\", "
          "\"desc\": \"QMP input member 'execute' clashes with "
          "'exec-oob'\"}}" },
        { "{\"exec-oob\":1,\"id\":\"n\"}\n",
          "{\"id\": \"n\", \"error\": {\"class\": \"GenericError\", "
          "\"desc\": \"QMP input member 'exec-oob' must be a string\"}}" },
        { "{\"exec-oob\":\"nonexistent\",\"id\":\"n\"}\n",
          "{\"id\": \"n\", \"error\": {\"class\": \"CommandNotFound\", "
          "\"desc\": \"The command nonexistent has not been found\"}}" },
    };
    QTestOptions o = { .no_qmp_handshake = true };
    QTestState *qts = qtest_init_opts(&o, "-M none -S");
    g_autofree char *rsp = NULL;

    g_free(qtest_qmp_receive_line(qts));      /* the greeting */
    rsp = roundtrip(qts, "{\"execute\":\"qmp_capabilities\",\"arguments\":"
                    "{\"enable\":[\"oob\"]}}\n");
    g_assert_cmpstr(rsp, ==, "{\"return\": {}}");
    run_exchanges(qts, x, G_N_ELEMENTS(x));
    qtest_quit(qts);
}

/* ---- a raw client for the reconnection tests ---- */

static int connect_unix(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert(fd >= 0);
    strcpy(un.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    return fd;
}

/* Reads one line within @ms; NULL if nothing complete arrived. */
static char *read_line_within(int fd, int ms)
{
    GString *s = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() / 1000 + ms;
    char c;

    for (;;) {
        gint64 left = deadline - g_get_monotonic_time() / 1000;
        struct pollfd p = { .fd = fd, .events = POLLIN };

        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            g_string_free(s, true);
            return NULL;
        }
        if (read(fd, &c, 1) != 1) {
            g_string_free(s, true);
            return NULL;
        }
        if (c == '\n') {
            return g_string_free(s, false);
        }
        g_string_append_c(s, c);
    }
}

static void send_str(int fd, const char *s)
{
    g_assert_cmpint(write(fd, s, strlen(s)), ==, (ssize_t)strlen(s));
}

static void test_reconnect(void)
{
    g_autofree char *path = g_strdup_printf("%s/extra-%d.qmp",
                                            qtest_tmpdir(), getpid());
    QTestState *qts = qtest_init_opts(NULL, "-M none -S -qmp unix:%s,"
                                      "server=on,wait=off", path);
    int a = connect_unix(path), b;
    g_autofree char *ga = read_line_within(a, 10000);
    g_autofree char *gb = NULL, *rb = NULL, *ra = NULL, *gc = NULL;

    g_assert_nonnull(ga);
    g_assert_true(g_str_has_prefix(ga, "{\"QMP\":"));
    send_str(a, "{\"execute\":\"qmp_capabilities\"}\n");
    ra = read_line_within(a, 10000);
    g_assert_cmpstr(ra, ==, "{\"return\": {}}\r");
    /* A second client waits in the backlog: no greeting yet. */
    b = connect_unix(path);
    g_assert_null(read_line_within(b, 300));
    send_str(b, "{\"execute\":\"qmp_capabilities\"}\n");
    /* Events reach the negotiated client only. */
    qtest_qmp_assert_success(qts, "{'execute': 'cont'}");
    g_free(ra);
    ra = read_line_within(a, 10000);
    g_assert_nonnull(strstr(ra, "\"RESUME\""));
    /* When A leaves, B gets its greeting and the reply it waited for. */
    close(a);
    gb = read_line_within(b, 10000);
    g_assert_nonnull(gb);
    g_assert_true(g_str_has_prefix(gb, "{\"QMP\":"));
    rb = read_line_within(b, 10000);
    g_assert_cmpstr(rb, ==, "{\"return\": {}}\r");
    close(b);
    /* And a third client starts un-negotiated again. */
    a = connect_unix(path);
    gc = read_line_within(a, 10000);
    g_assert_nonnull(gc);
    send_str(a, "{\"execute\":\"query-status\"}\n");
    g_free(ra);
    ra = read_line_within(a, 10000);
    g_assert_nonnull(strstr(ra, "Expecting capabilities negotiation"));
    close(a);
    qtest_quit(qts);
}

static void test_pipelined(void)
{
    QTestState *qts = qtest_init("-M none -S");
    GString *req = g_string_new(NULL);

    /* Far more than the request queue holds: back-pressure, not loss. */
    for (int i = 0; i < 100; i++) {
        g_string_append_printf(req, "{\"execute\":\"query-name\","
                               "\"id\":%d}", i);
    }
    qtest_qmp_send_raw(qts, req->str, req->len);
    for (int i = 0; i < 100; i++) {
        g_autofree char *line = qtest_qmp_receive_line(qts);
        g_autofree char *want = g_strdup_printf("{\"return\": {}, "
                                                "\"id\": %d}", i);

        g_assert_cmpstr(line, ==, want);
    }
    g_string_free(req, true);
    qtest_quit(qts);
}

static void test_pretty(void)
{
    g_autofree char *path = g_strdup_printf("%s/pretty-%d.qmp",
                                            qtest_tmpdir(), getpid());
    QTestState *qts = qtest_init_opts(NULL, "-M none -S -qmp-pretty unix:%s,"
                                      "server=on,wait=off", path);
    int fd = connect_unix(path);
    g_autofree char *l1 = read_line_within(fd, 10000);
    g_autofree char *l2 = read_line_within(fd, 10000);

    g_assert_cmpstr(l1, ==, "{\r");
    g_assert_cmpstr(l2, ==, "    \"QMP\": {\r");
    close(fd);
    qtest_quit(qts);
}

static void test_quit(void)
{
    QTestState *qts = qtest_init("-M none");
    g_autofree char *ev = roundtrip(qts, "{\"execute\":\"quit\",\"id\":\"q\"}"
                                    "{\"execute\":\"query-name\",\"id\":3}\n");
    g_autofree char *rsp = qtest_qmp_receive_line(qts);
    int status;

    /* As in QEMU 7.2: SHUTDOWN before the reply, nothing after it. */
    g_assert_true(g_str_has_suffix(ev, "\"event\": \"SHUTDOWN\", \"data\": "
                                   "{\"guest\": false, \"reason\": "
                                   "\"host-qmp-quit\"}}"));
    g_assert_cmpstr(rsp, ==, "{\"return\": {}, \"id\": \"q\"}");
    status = qtest_wait_exit(qts);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    qtest_kill(qts);
}

static void test_sigterm(void)
{
    QTestOptions o = { .capture_stderr = true };
    QTestState *qts = qtest_init_opts(&o, "-M none");
    g_autoptr(JsonNode) ev = NULL;
    JsonObject *data;
    int status;

    kill(qtest_pid(qts), SIGTERM);
    ev = qtest_qmp_eventwait_ref(qts, "SHUTDOWN");
    data = json_object_get_object_member(json_node_get_object(ev), "data");
    g_assert_false(json_object_get_boolean_member(data, "guest"));
    g_assert_cmpstr(json_object_get_string_member(data, "reason"), ==,
                    "host-signal");
    status = qtest_wait_exit(qts);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_nonnull(strstr(qtest_stderr(qts),
                            "ferry: terminating on signal 15 from pid"));
    qtest_kill(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp/greeting", test_greeting);
    g_test_add_func("/qmp/negotiation", test_negotiation);
    g_test_add_func("/qmp/request-errors", test_request_errors);
    g_test_add_func("/qmp/malformed", test_malformed);
    g_test_add_func("/qmp/nesting-and-binary", test_nesting_and_binary);
    g_test_add_func("/qmp/runstate-events", test_runstate_events);
    g_test_add_func("/qmp/version-name-commands",
                    test_version_name_commands);
    g_test_add_func("/qmp/oob-rules", test_oob_rules);
    g_test_add_func("/qmp/reconnect", test_reconnect);
    g_test_add_func("/qmp/pipelined", test_pipelined);
    g_test_add_func("/qmp/pretty", test_pretty);
    g_test_add_func("/qmp/quit", test_quit);
    g_test_add_func("/qmp/sigterm", test_sigterm);
    return g_test_run();
}
