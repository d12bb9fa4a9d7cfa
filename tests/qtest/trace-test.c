/*
 * trace-test: ferry's tracing, from the command line and from QMP.
 *
 * Covers what a user relies on when debugging a migration: -trace with
 * patterns and with an events file (where a leading '-' disables), the
 * log backend writing "name fmt" lines to the -D file, -msg timestamp=on
 * turning them into "PID@SECONDS.MICROS:name fmt", the QMP commands
 * trace-event-get-state/set-state, and, in a build with the dtrace
 * backend, the USDT probes (provider "ferry") that perf/bpftrace attach to.
 *
 * Every check reads the -D file after ferry has exited, so all the lines
 * it will ever write are there (the log backend flushes each line).
 */
#include "libqtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PRELAUNCH_TO_RUNNING \
    "runstate_set current_run_state 6 (prelaunch) new_state 9 (running)"
#define RUNNING_TO_PAUSED \
    "runstate_set current_run_state 9 (running) new_state 4 (paused)"
#define PAUSED_TO_RUNNING \
    "runstate_set current_run_state 4 (paused) new_state 9 (running)"

/* @name inside the private directory of this test run (caller frees). */
static char *tmp_path(const char *name)
{
    return g_build_filename(qtest_tmpdir(), name, NULL);
}

/* Starts ferry with @args plus "-D @log" (@log is shell-quoted here). */
static QTestState *start_logging(const char *args, const char *log)
{
    g_autofree char *qlog = g_shell_quote(log);
    g_autofree char *cmd = g_strdup_printf("-M none %s -D %s", args, qlog);

    return qtest_init(cmd);
}

/* QMP quit; ferry must exit 0 by itself. */
static void quit_via_qmp(QTestState *s)
{
    int status;

    qtest_qmp_assert_success(s, "{'execute': 'quit'}");
    status = qtest_wait_exit(s);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    qtest_quit(s);
}

/* The lines of @path, which is then removed. */
static GStrv read_log_lines(const char *path)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        g_error("cannot read the trace log: %s", err->message);
    }
    g_test_message("trace log %s:\n%s", path, text);
    g_assert_cmpint(unlink(path), ==, 0);
    /* Every line is '\n'-terminated, so the last piece is empty. */
    g_assert_true(text[0] == '\0' || g_str_has_suffix(text, "\n"));
    if (text[0]) {
        text[strlen(text) - 1] = '\0';
    }
    return text[0] ? g_strsplit(text, "\n", -1) : g_new0(char *, 1);
}

/* Index of the first line equal to @line, or -1. */
static int find_line(GStrv lines, const char *line)
{
    for (int i = 0; lines[i]; i++) {
        if (g_str_equal(lines[i], line)) {
            return i;
        }
    }
    return -1;
}

/* Number of lines for event @name ("name" alone or "name ..."). */
static int count_event(GStrv lines, const char *name)
{
    size_t n = strlen(name);
    int count = 0;

    for (int i = 0; lines[i]; i++) {
        if (!strncmp(lines[i], name, n) &&
            (lines[i][n] == ' ' || lines[i][n] == '\0')) {
            count++;
        }
    }
    return count;
}

/* ---- -trace PATTERN -D FILE ---- */

static void test_pattern_to_logfile(void)
{
    g_autofree char *log = tmp_path("pattern.log");
    g_auto(GStrv) lines = NULL;
    QTestState *s = start_logging("-S -trace 'runstate_*'", log);
    int run, pause;

    qtest_qmp_assert_success(s, "{'execute': 'cont'}");
    qtest_qmp_assert_success(s, "{'execute': 'stop'}");
    quit_via_qmp(s);

    lines = read_log_lines(log);
    run = find_line(lines, PRELAUNCH_TO_RUNNING);
    pause = find_line(lines, RUNNING_TO_PAUSED);
    g_assert_cmpint(run, >=, 0);
    g_assert_cmpint(pause, >, run);
    /* The pattern matched runstate_set only: no other event is on. */
    g_assert_cmpint(count_event(lines, "runstate_set"), ==,
                    g_strv_length(lines));
}

/* ---- -trace events=FILE ---- */

static void test_events_file(void)
{
    g_autofree char *events = tmp_path("events");
    g_autofree char *log = tmp_path("events.log");
    g_autofree char *qevents = g_shell_quote(events);
    g_autofree char *args = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) lines = NULL;
    QTestState *s;

    /* Lines apply in order: the '-' line turns runstate_set back off. */
    if (!g_file_set_contents(events, "# a comment\n\nvm_start\n"
                             "runstate_*\n-runstate_set\n", -1, &err)) {
        g_error("cannot write %s: %s", events, err->message);
    }
    args = g_strdup_printf("-S -trace events=%s", qevents);
    s = start_logging(args, log);
    qtest_qmp_assert_success(s, "{'execute': 'cont'}");
    quit_via_qmp(s);
    g_assert_cmpint(unlink(events), ==, 0);

    lines = read_log_lines(log);
    g_assert_cmpint(count_event(lines, "vm_start"), ==, 1);
    g_assert_cmpint(count_event(lines, "runstate_set"), ==, 0);
    g_assert_cmpint(g_strv_length(lines), ==, 1);
}

/* ---- -msg timestamp=on ---- */

static void check_timestamped(const char *line, pid_t pid,
                              gint64 t0, gint64 t1)
{
    g_autoptr(GRegex) re = g_regex_new("^(\\d+)@(\\d+)\\.(\\d{6}):"
                                       "([a-z_]+) ", 0, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;
    g_autofree char *tid = NULL, *sec = NULL;

    if (!g_regex_match(re, line, 0, &m)) {
        g_error("not PID@SECONDS.MICROS:name: '%s'", line);
    }
    /* runstate_set runs in the main thread, whose id is the pid. */
    tid = g_match_info_fetch(m, 1);
    g_assert_cmpint(atoi(tid), ==, pid);
    /* Wall-clock seconds, within the time ferry was running. */
    sec = g_match_info_fetch(m, 2);
    g_assert_cmpint(g_ascii_strtoll(sec, NULL, 10), >=, t0 / G_USEC_PER_SEC);
    g_assert_cmpint(g_ascii_strtoll(sec, NULL, 10), <=, t1 / G_USEC_PER_SEC);
}

static void test_msg_timestamp(void)
{
    g_autofree char *log = tmp_path("timestamp.log");
    g_auto(GStrv) lines = NULL;
    gint64 t0 = g_get_real_time(), t1;
    QTestState *s = start_logging("-S -msg timestamp=on "
                                  "-trace runstate_set", log);
    pid_t pid = qtest_pid(s);
    const char *body;

    qtest_qmp_assert_success(s, "{'execute': 'cont'}");
    quit_via_qmp(s);
    t1 = g_get_real_time();

    lines = read_log_lines(log);
    /* cont, then quit from running: prelaunch->running->shutdown. */
    g_assert_cmpint(g_strv_length(lines), ==, 2);
    for (int i = 0; lines[i]; i++) {
        check_timestamped(lines[i], pid, t0, t1);
    }
    /* After the prefix comes the usual "name fmt" text. */
    body = strchr(lines[0], ':');
    g_assert_nonnull(body);
    g_assert_cmpstr(body + 1, ==, PRELAUNCH_TO_RUNNING);
}

/* ---- QMP trace-event-get-state / trace-event-set-state ---- */

/* The state ("enabled"/"disabled") of the one event called @name. */
static char *event_state(QTestState *s, const char *name)
{
    JsonNode *rsp = qtest_qmp(s, "{'execute': 'trace-event-get-state', "
                              "'arguments': {'name': '%s'}}", name);
    JsonArray *list;
    JsonObject *ev;
    char *state;

    qmp_rsp_return(rsp);
    list = json_object_get_array_member(json_node_get_object(rsp), "return");
    g_assert_cmpuint(json_array_get_length(list), ==, 1);
    ev = json_array_get_object_element(list, 0);
    g_assert_cmpstr(json_object_get_string_member(ev, "name"), ==, name);
    state = g_strdup(json_object_get_string_member(ev, "state"));
    json_node_unref(rsp);
    return state;
}

static void assert_state(QTestState *s, const char *name, const char *state)
{
    g_autofree char *got = event_state(s, name);

    g_assert_cmpstr(got, ==, state);
}

static void assert_unknown_event(QTestState *s, const char *cmd)
{
    JsonNode *rsp = qtest_qmp(s, "{'execute': '%s', 'arguments': "
                              "{'name': 'no_such_event'%s}}", cmd,
                              strstr(cmd, "set") ? ", 'enable': true" : "");

    g_assert_cmpstr(qmp_rsp_error_class(rsp), ==, "GenericError");
    g_assert_nonnull(strstr(qmp_rsp_error_desc(rsp), "no_such_event"));
    json_node_unref(rsp);
}

/* A pattern that matches nothing is not an error; the list is empty. */
static void assert_empty_pattern(QTestState *s)
{
    JsonNode *rsp = qtest_qmp(s, "{'execute': 'trace-event-get-state', "
                              "'arguments': {'name': 'no_such_*'}}");
    JsonArray *list;

    qmp_rsp_return(rsp);
    list = json_object_get_array_member(json_node_get_object(rsp), "return");
    g_assert_cmpuint(json_array_get_length(list), ==, 0);
    json_node_unref(rsp);
}

static void test_qmp_state(void)
{
    g_autofree char *log = tmp_path("qmp.log");
    g_auto(GStrv) lines = NULL;
    QTestState *s = start_logging("", log);

    assert_state(s, "runstate_set", "disabled");
    qtest_qmp_assert_success(s, "{'execute': 'trace-event-set-state', "
                             "'arguments': {'name': 'runstate_*', "
                             "'enable': true}}");
    assert_state(s, "runstate_set", "enabled");
    assert_state(s, "vm_start", "disabled");
    assert_unknown_event(s, "trace-event-get-state");
    assert_unknown_event(s, "trace-event-set-state");
    assert_empty_pattern(s);

    /* Enabled from QMP means traced: this stop is logged ... */
    qtest_qmp_assert_success(s, "{'execute': 'stop'}");
    qtest_qmp_assert_success(s, "{'execute': 'trace-event-set-state', "
                             "'arguments': {'name': 'runstate_set', "
                             "'enable': false}}");
    assert_state(s, "runstate_set", "disabled");
    /* ... and once disabled again, this cont is not. */
    qtest_qmp_assert_success(s, "{'execute': 'cont'}");
    quit_via_qmp(s);

    lines = read_log_lines(log);
    g_assert_cmpint(find_line(lines, RUNNING_TO_PAUSED), >=, 0);
    g_assert_cmpint(find_line(lines, PAUSED_TO_RUNNING), ==, -1);
    g_assert_cmpint(g_strv_length(lines), ==, 1);
}

/* ---- USDT probes (dtrace backend) ---- */

/* Runs "readelf -n" on the binary; NULL if readelf is not installed. */
static char *readelf_notes(void)
{
    g_autofree char *readelf = g_find_program_in_path("readelf");
    const char *argv[] = { readelf, "-n", qtest_ferry_binary(), NULL };
    g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "LC_ALL", "C",
                                         true);
    g_autoptr(GError) err = NULL;
    g_autofree char *errout = NULL;
    char *out = NULL;
    int status;

    if (!readelf) {
        return NULL;
    }
    if (!g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, NULL,
                      NULL, &out, &errout, &status, &err)) {
        g_error("cannot run readelf: %s", err->message);
    }
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    return out;
}

/*
 * True if the .note.stapsdt notes in @notes (readelf -n output) hold a
 * probe @provider:@name; *nargs gets the number of its arguments.  Each
 * note reads "Provider: P", "Name: N", "Location: ...", "Arguments: A...".
 */
static bool find_probe(const char *notes, const char *provider,
                       const char *name, int *nargs)
{
    g_auto(GStrv) lines = g_strsplit(notes, "\n", -1);
    g_autofree char *want_prov = g_strconcat("Provider: ", provider, NULL);
    g_autofree char *want_name = g_strconcat("Name: ", name, NULL);
    bool in_sdt = false, prov_ok = false, found = false;

    for (char **l = lines; *l; l++) {
        const char *t = g_strstrip(*l);

        if (g_str_has_prefix(t, "Displaying notes found in: ")) {
            in_sdt = g_str_has_suffix(t, " .note.stapsdt");
            prov_ok = found = false;
        } else if (!in_sdt) {
            continue;
        } else if (g_str_has_prefix(t, "Provider: ")) {
            prov_ok = g_str_equal(t, want_prov);
            found = false;
        } else if (g_str_has_prefix(t, "Name: ")) {
            found = prov_ok && g_str_equal(t, want_name);
        } else if (found && g_str_has_prefix(t, "Arguments:")) {
            g_auto(GStrv) args = g_strsplit(t + strlen("Arguments:"), " ",
                                            -1);

            *nargs = 0;
            for (char **a = args; *a; a++) {
                *nargs += **a != '\0';
            }
            return true;
        }
    }
    return false;
}

static void test_usdt_probes(void)
{
    g_autofree char *notes = readelf_notes();
    int nargs = -1;

    if (!notes) {
        g_test_skip("readelf not installed");
        return;
    }
    if (!strstr(notes, "Displaying notes found in: .note.stapsdt\n")) {
        g_test_skip("built without the dtrace trace backend");
        return;
    }
    g_assert_true(find_probe(notes, "ferry", "runstate_set", &nargs));
    /* The probe carries the event's four arguments (system/trace-events). */
    g_assert_cmpint(nargs, ==, 4);
    g_assert_true(find_probe(notes, "ferry", "vm_start", &nargs));
    g_assert_cmpint(nargs, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/trace/pattern-to-logfile", test_pattern_to_logfile);
    g_test_add_func("/trace/events-file", test_events_file);
    g_test_add_func("/trace/msg-timestamp", test_msg_timestamp);
    g_test_add_func("/trace/qmp-state", test_qmp_state);
    g_test_add_func("/trace/usdt-probes", test_usdt_probes);
    return g_test_run();
}
