/*
 * libqtest.c: process, QMP and qtest plumbing for tests (see libqtest.h).
 */
#include "libqtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct LineReader {
    int fd;
    GString *buf;
} LineReader;

struct QTestState {
    pid_t pid;
    int qtest_fd;
    int qmp_fd;
    LineReader qtest_in;
    LineReader qmp_in;
    GQueue events;          /* JsonNode *, oldest first */
    JsonNode *greeting;
    int stderr_fd;
    GString *stderr_buf;
    int exit_status;
    bool exited;
    char *name;             /* the binary's base name, for messages */
    int expected_exit;      /* qtest_quit(): QTEST_EXIT_ANY, or the code */
};

static GList *live_children;    /* QTestState *; test thread only */
static char *tmpdir;
static unsigned sock_counter;

static void kill_all_children(void)
{
    for (GList *l = live_children; l; l = l->next) {
        QTestState *s = l->data;

        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    g_list_free(live_children);
    live_children = NULL;
    if (tmpdir) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
        int r = system(cmd);
        (void)r;
    }
}

static void drain_stderr(QTestState *s);
static void qtest_fatal(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void qtest_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "libqtest: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    qtest_dump_stderr_all();
    kill_all_children();
    abort();
}

int qtest_timeout(void)
{
    const char *t = getenv("QTEST_TIMEOUT");

    return t && atoi(t) > 0 ? atoi(t) : 60;
}

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

const char *qtest_qemu_binary(void)
{
    const char *b = getenv("QTEST_QEMU_BINARY");

    return b ? b : "/usr/bin/qemu-system-x86_64";
}

bool qtest_have_qemu(void)
{
    if (access(qtest_qemu_binary(), X_OK) != 0) {
        g_autofree char *msg = g_strdup_printf("%s not found (apt install "
                                               "qemu-system-x86)",
                                               qtest_qemu_binary());

        g_test_skip(msg);
        return false;
    }
    return true;
}

const char *qtest_qemu10_binary(void)
{
    const char *b = getenv("QTEST_QEMU10_BINARY");

    return b ? b : "/var/cache/ferry/qemu-system-x86_64-10";
}

bool qtest_have_qemu10(void)
{
    if (access(qtest_qemu10_binary(), X_OK) != 0) {
        g_autofree char *msg = g_strdup_printf(
            "QEMU 10.x not found at %s (scripts/setup-qemu10.sh makes it: "
            "Debian 13's QEMU in a chroot)", qtest_qemu10_binary());

        g_test_skip(msg);
        return false;
    }
    return true;
}

const char *qtest_ferry_binary(void)
{
    const char *b = getenv("QTEST_FERRY_BINARY");

    return b ? b : "./ferry";
}

const char *qtest_tmpdir(void)
{
    if (!tmpdir) {
        GError *err = NULL;

        tmpdir = g_dir_make_tmp("qtest-XXXXXX", &err);
        if (!tmpdir) {
            qtest_fatal("cannot create a temporary directory: %s",
                        err->message);
        }
        atexit(kill_all_children);
        /* A child that exits must not kill us when we write to it. */
        signal(SIGPIPE, SIG_IGN);
    }
    return tmpdir;
}

static int listen_unix(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert(fd >= 0);
    g_assert(strlen(path) < sizeof(un.sun_path));
    strcpy(un.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 ||
        listen(fd, 1) < 0) {
        qtest_fatal("cannot listen on %s: %s", path, strerror(errno));
    }
    return fd;
}

/* Collects whatever the child wrote to stderr so far. */
static void drain_stderr(QTestState *s)
{
    char buf[4096];
    ssize_t n;

    if (s->stderr_fd < 0) {
        return;
    }
    while ((n = read(s->stderr_fd, buf, sizeof(buf))) > 0) {
        g_string_append_len(s->stderr_buf, buf, n);
    }
}

static bool child_exited(QTestState *s)
{
    int status;

    if (s->exited) {
        return true;
    }
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
        s->exited = true;
        s->exit_status = status;
        live_children = g_list_remove(live_children, s);
        return true;
    }
    return false;
}

static int accept_deadline(QTestState *s, int lfd, const char *what)
{
    int64_t deadline = now_ms() + qtest_timeout() * 1000LL;

    for (;;) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        int r = poll(&p, 1, 50);

        if (r > 0) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

            if (fd >= 0) {
                return fd;
            }
        }
        if (child_exited(s)) {
            drain_stderr(s);
            qtest_fatal("process exited (status 0x%x) before connecting "
                        "its %s socket; stderr:\n%s", s->exit_status, what,
                        s->stderr_buf->str);
        }
        if (now_ms() > deadline) {
            qtest_fatal("timed out waiting for the %s connection", what);
        }
    }
}

/* Reads one '\n'-terminated line (without "\r\n"); NULL at EOF. */
static char *read_line(QTestState *s, LineReader *r, const char *what)
{
    int64_t deadline = now_ms() + qtest_timeout() * 1000LL;

    for (;;) {
        char *nl = memchr(r->buf->str, '\n', r->buf->len);

        if (nl) {
            size_t len = nl - r->buf->str;
            char *line = g_strndup(r->buf->str, len);

            g_string_erase(r->buf, 0, len + 1);
            if (len && line[len - 1] == '\r') {
                line[len - 1] = '\0';
            }
            return line;
        }
        struct pollfd p = { .fd = r->fd, .events = POLLIN };
        int rc = poll(&p, 1, 100);

        if (rc > 0) {
            char buf[65536];
            ssize_t n = read(r->fd, buf, sizeof(buf));

            if (n > 0) {
                g_string_append_len(r->buf, buf, n);
                continue;
            }
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                return NULL;
            }
        }
        if (now_ms() > deadline) {
            qtest_fatal("timed out reading from %s", what);
        }
    }
}

static void write_all(int fd, const char *data, size_t len, const char *what)
{
    while (len) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            qtest_fatal("write to %s failed: %s", what, strerror(errno));
        }
        data += n;
        len -= n;
    }
}

QTestState *qtest_init(const char *extra_args)
{
    return qtest_init_opts(NULL, "%s", extra_args ? extra_args : "");
}

QTestState *qtest_init_opts(const QTestOptions *opts, const char *fmt, ...)
{
    static const QTestOptions defaults;
    QTestState *s = g_new0(QTestState, 1);
    g_autofree char *extra = NULL;
    g_autofree char *qtest_path = NULL, *qmp_path = NULL, *cmd = NULL;
    g_auto(GStrv) argv = NULL;
    GError *err = NULL;
    int qtest_lfd = -1, qmp_lfd, errpipe[2] = { -1, -1 };
    va_list ap;
    unsigned n = sock_counter++;

    opts = opts ? opts : &defaults;
    va_start(ap, fmt);
    extra = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    qtest_path = g_strdup_printf("%s/qtest-%u.sock", qtest_tmpdir(), n);
    qmp_path = g_strdup_printf("%s/qtest-%u.qmp", qtest_tmpdir(), n);
    if (!opts->no_qtest) {
        qtest_lfd = listen_unix(qtest_path);
    }
    qmp_lfd = listen_unix(qmp_path);
    cmd = g_strdup_printf("%s %s%s%s -chardev socket,path=%s,id=char0 "
                          "-mon chardev=char0,mode=control %s",
                          opts->binary ? opts->binary : qtest_ferry_binary(),
                          opts->no_qtest ? "" : "-qtest unix:",
                          opts->no_qtest ? "" : qtest_path,
                          opts->no_qtest ? "" : " -qtest-log none",
                          qmp_path, extra);
    if (!g_shell_parse_argv(cmd, NULL, &argv, &err)) {
        qtest_fatal("bad command line '%s': %s", cmd, err->message);
    }
    if (opts->capture_stderr && pipe2(errpipe, O_CLOEXEC) < 0) {
        qtest_fatal("pipe: %s", strerror(errno));
    }
    g_test_message("starting: %s", cmd);
    s->pid = fork();
    if (s->pid < 0) {
        qtest_fatal("fork: %s", strerror(errno));
    }
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (errpipe[1] >= 0) {
            dup2(errpipe[1], STDERR_FILENO);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    live_children = g_list_prepend(live_children, s);
    s->name = g_path_get_basename(argv[0]);
    s->stderr_buf = g_string_new(NULL);
    s->stderr_fd = errpipe[0];
    if (errpipe[1] >= 0) {
        close(errpipe[1]);
        fcntl(s->stderr_fd, F_SETFL, O_NONBLOCK);
    }
    g_queue_init(&s->events);

    s->qtest_fd = -1;
    if (!opts->no_qtest) {
        s->qtest_fd = accept_deadline(s, qtest_lfd, "qtest");
        close(qtest_lfd);
        unlink(qtest_path);
    }
    s->qmp_fd = accept_deadline(s, qmp_lfd, "QMP");
    close(qmp_lfd);
    unlink(qmp_path);
    s->qtest_in = (LineReader){ .fd = s->qtest_fd, .buf = g_string_new(NULL) };
    s->qmp_in = (LineReader){ .fd = s->qmp_fd, .buf = g_string_new(NULL) };

    if (!opts->no_qmp_handshake) {
        g_autofree char *line = read_line(s, &s->qmp_in, "QMP greeting");
        JsonNode *rsp;

        if (!line) {
            qtest_fatal("QMP closed before the greeting");
        }
        s->greeting = json_from_string(line, &err);
        if (!s->greeting) {
            qtest_fatal("bad QMP greeting '%s'", line);
        }
        rsp = opts->qmp_oob
              ? qtest_qmp(s, "{'execute': 'qmp_capabilities', "
                          "'arguments': {'enable': ['oob']}}")
              : qtest_qmp(s, "{'execute': 'qmp_capabilities'}");
        qmp_rsp_return(rsp);
        json_node_unref(rsp);
    }
    return s;
}

pid_t qtest_pid(QTestState *s)
{
    return s->pid;
}

const char *qtest_stderr(QTestState *s)
{
    drain_stderr(s);
    return s->stderr_buf->str;
}

static void qtest_free(QTestState *s)
{
    if (s->qtest_fd >= 0) {
        close(s->qtest_fd);
    }
    if (s->qmp_fd >= 0) {
        close(s->qmp_fd);
    }
    if (s->stderr_fd >= 0) {
        close(s->stderr_fd);
    }
    g_string_free(s->qtest_in.buf, true);
    g_string_free(s->qmp_in.buf, true);
    g_string_free(s->stderr_buf, true);
    g_free(s->name);
    g_queue_clear_full(&s->events, (GDestroyNotify)json_node_unref);
    if (s->greeting) {
        json_node_unref(s->greeting);
    }
    g_free(s);
}

/*
 * Waits until the child exits or @deadline_ms passes, sleeping in poll()
 * on a pidfd (the kernel wakes us at the exit; no fixed delays).
 */
static bool wait_child_deadline(QTestState *s, int64_t deadline_ms)
{
    int pidfd = syscall(SYS_pidfd_open, s->pid, 0);

    while (!child_exited(s)) {
        int64_t left = deadline_ms - now_ms();
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        if (left <= 0) {
            break;
        }
        if (pidfd < 0) {
            /* No pidfd support: fall back to a bounded poll interval. */
            poll(NULL, 0, MIN(left, 10));
        } else {
            poll(&p, 1, (int)MIN(left, 1000));
        }
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
    return child_exited(s);
}

int qtest_wait_exit(QTestState *s)
{
    if (!wait_child_deadline(s, now_ms() + qtest_timeout() * 1000LL)) {
        qtest_fatal("timed out waiting for pid %d to exit", s->pid);
    }
    drain_stderr(s);
    return s->exit_status;
}

void qtest_kill(QTestState *s)
{
    if (!child_exited(s)) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &s->exit_status, 0);
        s->exited = true;
        live_children = g_list_remove(live_children, s);
    }
    qtest_free(s);
}

void qtest_set_expected_exit(QTestState *s, int code)
{
    s->expected_exit = code;
}

/* What a sanitizer prints when it finds something (stderr captured). */
static const char *sanitizer_report(const char *err)
{
    static const char *const marks[] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
        "WARNING: ThreadSanitizer", "runtime error: ",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(marks); i++) {
        if (strstr(err, marks[i])) {
            return marks[i];
        }
    }
    return NULL;
}

/*
 * How the process ended, checked: it exited (no signal) with the
 * expected code, and said nothing a sanitizer says.  A sanitizer that
 * finds something makes the process's exit code non-zero (CI sets
 * exitcode=86 for ASan and UBSan; TSan's is 66), so this catches a
 * report at exit even when stderr is not captured.
 */
static void check_exit(QTestState *s, bool timed_out)
{
    const char *mark;

    drain_stderr(s);
    mark = sanitizer_report(s->stderr_buf->str);
    if (timed_out) {
        g_test_fail_printf("%s (pid %d) did not exit within %d s of SIGTERM",
                           s->name, s->pid, qtest_timeout());
    } else if (WIFSIGNALED(s->exit_status)) {
        g_test_fail_printf("%s (pid %d) was killed by signal %d%s", s->name,
                           s->pid, WTERMSIG(s->exit_status),
                           WCOREDUMP(s->exit_status) ? " (core dumped)" : "");
    } else if (s->expected_exit != QTEST_EXIT_ANY &&
               WEXITSTATUS(s->exit_status) != s->expected_exit) {
        g_test_fail_printf("%s (pid %d) exited with status %d, expected %d",
                           s->name, s->pid, WEXITSTATUS(s->exit_status),
                           s->expected_exit);
    } else if (mark) {
        g_test_fail_printf("%s (pid %d): a sanitizer report (%s)", s->name,
                           s->pid, mark);
    } else {
        return;
    }
    if (s->stderr_buf->len) {
        fprintf(stderr, "---- stderr of %s (pid %d) ----\n%s\n----\n",
                s->name, s->pid, s->stderr_buf->str);
    }
}

void qtest_quit(QTestState *s)
{
    bool timed_out;

    if (!child_exited(s)) {
        kill(s->pid, SIGTERM);
    }
    timed_out = !wait_child_deadline(s, now_ms() +
                                        qtest_timeout() * 1000LL);
    if (timed_out) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &s->exit_status, 0);
        s->exited = true;
        live_children = g_list_remove(live_children, s);
    }
    check_exit(s, timed_out);
    qtest_free(s);
}

void qtest_dump_stderr_all(void)
{
    for (GList *l = live_children; l; l = l->next) {
        QTestState *s = l->data;

        drain_stderr(s);
        if (s->stderr_buf->len) {
            fprintf(stderr, "---- stderr of %s (pid %d) so far ----\n%s\n"
                    "----\n", s->name, s->pid, s->stderr_buf->str);
        }
    }
}

/* ---- QMP ---- */

static JsonNode *parse_or_die(const char *line)
{
    GError *err = NULL;
    JsonNode *n = json_from_string(line, &err);

    if (!n) {
        qtest_fatal("bad JSON from QMP '%s': %s", line,
                    err ? err->message : "empty");
    }
    return n;
}

void qtest_qmp_send_raw(QTestState *s, const char *data, size_t len)
{
    write_all(s->qmp_fd, data, len, "QMP");
}

char *qtest_qmp_receive_line(QTestState *s)
{
    char *line = read_line(s, &s->qmp_in, "QMP");

    if (!line) {
        qtest_fatal("QMP connection closed");
    }
    return line;
}

static bool is_event(JsonNode *n)
{
    return JSON_NODE_HOLDS_OBJECT(n) &&
           json_object_has_member(json_node_get_object(n), "event");
}

JsonNode *qtest_qmp_receive(QTestState *s)
{
    for (;;) {
        g_autofree char *line = qtest_qmp_receive_line(s);
        JsonNode *n = parse_or_die(line);

        if (!is_event(n)) {
            return n;
        }
        g_queue_push_tail(&s->events, n);
    }
}

JsonNode *qtest_qmp(QTestState *s, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *req = NULL;
    GString *norm;

    va_start(ap, fmt);
    req = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* Like QEMU's libqtest, accept 'single quotes' for readability. */
    norm = g_string_new(NULL);
    for (const char *p = req; *p; p++) {
        g_string_append_c(norm, *p == '\'' ? '"' : *p);
    }
    g_string_append_c(norm, '\n');
    write_all(s->qmp_fd, norm->str, norm->len, "QMP");
    g_string_free(norm, true);
    return qtest_qmp_receive(s);
}

JsonNode *qtest_qmp_fds(QTestState *s, const int *fds, size_t nfds,
                        const char *fmt, ...)
{
    va_list ap;
    g_autofree char *req = NULL;
    union {
        struct cmsghdr hdr;
        char space[CMSG_SPACE(16 * sizeof(int))];
    } ctl;
    struct iovec iov;
    struct msghdr msg = { 0 };
    struct cmsghdr *c;

    g_assert(nfds > 0 && nfds <= 16);
    va_start(ap, fmt);
    req = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    for (char *p = req; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    /* The fds ride on the first byte; the rest follows normally. */
    iov.iov_base = req;
    iov.iov_len = 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = &ctl;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    if (sendmsg(s->qmp_fd, &msg, 0) != 1) {
        qtest_fatal("sendmsg with fds failed: %s", strerror(errno));
    }
    write_all(s->qmp_fd, req + 1, strlen(req + 1), "QMP");
    write_all(s->qmp_fd, "\n", 1, "QMP");
    return qtest_qmp_receive(s);
}

static bool write_all_try(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= n;
    }
    return true;
}

JsonNode *qtest_qmp_try_greeting(QTestState *s)
{
    g_autofree char *line = read_line(s, &s->qmp_in, "QMP greeting");

    return line ? parse_or_die(line) : NULL;
}

JsonNode *qtest_qmp_try(QTestState *s, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *req = NULL;
    g_autofree char *line = NULL;

    va_start(ap, fmt);
    req = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    for (char *p = req; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    line = g_strconcat(req, "\n", NULL);
    if (!write_all_try(s->qmp_fd, line, strlen(line))) {
        return NULL;
    }
    for (;;) {
        g_autofree char *rsp = read_line(s, &s->qmp_in, "QMP");
        JsonNode *n;

        if (!rsp) {
            return NULL;
        }
        n = parse_or_die(rsp);
        if (!is_event(n)) {
            return n;
        }
        g_queue_push_tail(&s->events, n);
    }
}

static const char *event_name(JsonNode *n)
{
    return json_object_get_string_member(json_node_get_object(n), "event");
}

JsonNode *qtest_qmp_event_ref(QTestState *s, const char *event)
{
    for (GList *l = s->events.head; l; l = l->next) {
        if (g_str_equal(event_name(l->data), event)) {
            JsonNode *n = l->data;

            g_queue_delete_link(&s->events, l);
            return n;
        }
    }
    return NULL;
}

JsonNode *qtest_qmp_eventwait_ref(QTestState *s, const char *event)
{
    JsonNode *n = qtest_qmp_event_ref(s, event);

    while (!n) {
        g_autofree char *line = read_line(s, &s->qmp_in, "QMP event");
        JsonNode *m;

        if (!line) {
            qtest_fatal("QMP closed while waiting for event %s", event);
        }
        m = parse_or_die(line);
        if (is_event(m) && g_str_equal(event_name(m), event)) {
            n = m;
        } else if (is_event(m)) {
            g_queue_push_tail(&s->events, m);
        } else {
            qtest_fatal("unexpected QMP response while waiting for %s: %s",
                        event, line);
        }
    }
    return n;
}

void qtest_qmp_eventwait(QTestState *s, const char *event)
{
    json_node_unref(qtest_qmp_eventwait_ref(s, event));
}

JsonNode *qtest_qmp_greeting(QTestState *s)
{
    return s->greeting;
}

JsonObject *qmp_rsp_return(JsonNode *rsp)
{
    JsonObject *o;
    JsonNode *ret;

    g_assert(JSON_NODE_HOLDS_OBJECT(rsp));
    o = json_node_get_object(rsp);
    if (!json_object_has_member(o, "return")) {
        g_autofree char *text = json_to_string(rsp, false);
        qtest_fatal("QMP command failed: %s", text);
    }
    ret = json_object_get_member(o, "return");
    return JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
}

const char *qmp_rsp_error_class(JsonNode *rsp)
{
    JsonObject *o = json_node_get_object(rsp);

    if (!json_object_has_member(o, "error")) {
        return NULL;
    }
    return json_object_get_string_member(
        json_object_get_object_member(o, "error"), "class");
}

const char *qmp_rsp_error_desc(JsonNode *rsp)
{
    JsonObject *o = json_node_get_object(rsp);

    if (!json_object_has_member(o, "error")) {
        return NULL;
    }
    return json_object_get_string_member(
        json_object_get_object_member(o, "error"), "desc");
}

void qtest_qmp_assert_success(QTestState *s, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *req = NULL;
    JsonNode *rsp;

    va_start(ap, fmt);
    req = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    rsp = qtest_qmp(s, "%s", req);
    qmp_rsp_return(rsp);
    json_node_unref(rsp);
}

char *qtest_runstate(QTestState *s)
{
    JsonNode *rsp = qtest_qmp(s, "{'execute': 'query-status'}");
    char *st = g_strdup(json_object_get_string_member(qmp_rsp_return(rsp),
                                                      "status"));

    json_node_unref(rsp);
    return st;
}

/* ---- qtest ---- */

char *qtest_raw(QTestState *s, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *req = NULL;
    g_autofree char *line = NULL;

    g_assert(s->qtest_fd >= 0);
    va_start(ap, fmt);
    req = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = g_strconcat(req, "\n", NULL);
    write_all(s->qtest_fd, line, strlen(line), "qtest");
    for (;;) {
        char *rsp = read_line(s, &s->qtest_in, "qtest");

        if (!rsp) {
            qtest_fatal("qtest connection closed (request '%s')", req);
        }
        if (g_str_has_prefix(rsp, "IRQ ")) {
            g_free(rsp);
            continue;
        }
        return rsp;
    }
}

static uint64_t qtest_read_scalar(QTestState *s, const char *cmd,
                                  uint64_t addr)
{
    g_autofree char *rsp = qtest_raw(s, "%s 0x%" G_GINT64_MODIFIER "x", cmd,
                                     (guint64)addr);
    uint64_t v;

    if (!g_str_has_prefix(rsp, "OK 0x")) {
        qtest_fatal("%s 0x%" G_GINT64_MODIFIER "x: unexpected reply '%s'",
                    cmd, (guint64)addr, rsp);
    }
    v = g_ascii_strtoull(rsp + 5, NULL, 16);
    return v;
}

static void qtest_write_scalar(QTestState *s, const char *cmd,
                               uint64_t addr, uint64_t v)
{
    g_autofree char *rsp = qtest_raw(s, "%s 0x%" G_GINT64_MODIFIER "x 0x%"
                                     G_GINT64_MODIFIER "x", cmd,
                                     (guint64)addr, (guint64)v);

    if (strcmp(rsp, "OK")) {
        qtest_fatal("%s: unexpected reply '%s'", cmd, rsp);
    }
}

uint8_t qtest_readb(QTestState *s, uint64_t a)
{
    return qtest_read_scalar(s, "readb", a);
}
uint16_t qtest_readw(QTestState *s, uint64_t a)
{
    return qtest_read_scalar(s, "readw", a);
}
uint32_t qtest_readl(QTestState *s, uint64_t a)
{
    return qtest_read_scalar(s, "readl", a);
}
uint64_t qtest_readq(QTestState *s, uint64_t a)
{
    return qtest_read_scalar(s, "readq", a);
}
void qtest_writeb(QTestState *s, uint64_t a, uint8_t v)
{
    qtest_write_scalar(s, "writeb", a, v);
}
void qtest_writew(QTestState *s, uint64_t a, uint16_t v)
{
    qtest_write_scalar(s, "writew", a, v);
}
void qtest_writel(QTestState *s, uint64_t a, uint32_t v)
{
    qtest_write_scalar(s, "writel", a, v);
}
void qtest_writeq(QTestState *s, uint64_t a, uint64_t v)
{
    qtest_write_scalar(s, "writeq", a, v);
}

void qtest_memread(QTestState *s, uint64_t addr, void *buf, size_t size)
{
    g_autofree char *rsp = qtest_raw(s, "read 0x%" G_GINT64_MODIFIER "x 0x%zx",
                                     (guint64)addr, size);
    uint8_t *out = buf;

    if (!g_str_has_prefix(rsp, "OK 0x") || strlen(rsp) != 5 + 2 * size) {
        qtest_fatal("read: unexpected reply '%.80s'", rsp);
    }
    for (size_t i = 0; i < size; i++) {
        out[i] = g_ascii_xdigit_value(rsp[5 + 2 * i]) << 4 |
                 g_ascii_xdigit_value(rsp[6 + 2 * i]);
    }
}

void qtest_memwrite(QTestState *s, uint64_t addr, const void *buf,
                    size_t size)
{
    const uint8_t *in = buf;
    GString *hex = g_string_sized_new(2 * size + 3);
    g_autofree char *rsp = NULL;

    g_string_append(hex, "0x");
    for (size_t i = 0; i < size; i++) {
        g_string_append_printf(hex, "%02x", in[i]);
    }
    if (size == 0) {
        g_string_append(hex, "00");
    }
    rsp = qtest_raw(s, "write 0x%" G_GINT64_MODIFIER "x 0x%zx %s",
                    (guint64)addr, size, hex->str);
    g_string_free(hex, true);
    if (strcmp(rsp, "OK")) {
        qtest_fatal("write: unexpected reply '%s'", rsp);
    }
}

void qtest_bufread(QTestState *s, uint64_t addr, void *buf, size_t size)
{
    g_autofree char *rsp = qtest_raw(s, "b64read 0x%" G_GINT64_MODIFIER
                                     "x 0x%zx", (guint64)addr, size);
    g_autofree guchar *dec = NULL;
    gsize len = 0;

    if (!g_str_has_prefix(rsp, "OK ")) {
        qtest_fatal("b64read: unexpected reply '%.80s'", rsp);
    }
    dec = g_base64_decode(rsp + 3, &len);
    if (len != size) {
        qtest_fatal("b64read: %zu bytes instead of %zu", (size_t)len, size);
    }
    memcpy(buf, dec, size);
}

void qtest_bufwrite(QTestState *s, uint64_t addr, const void *buf,
                    size_t size)
{
    g_autofree char *enc = g_base64_encode(buf, size);
    g_autofree char *rsp = qtest_raw(s, "b64write 0x%" G_GINT64_MODIFIER
                                     "x 0x%zx %s", (guint64)addr, size, enc);

    if (strcmp(rsp, "OK")) {
        qtest_fatal("b64write: unexpected reply '%s'", rsp);
    }
}

void qtest_memset(QTestState *s, uint64_t addr, uint8_t pattern,
                  size_t size)
{
    g_autofree char *rsp = qtest_raw(s, "memset 0x%" G_GINT64_MODIFIER
                                     "x 0x%zx 0x%02x", (guint64)addr, size,
                                     pattern);

    if (strcmp(rsp, "OK")) {
        qtest_fatal("memset: unexpected reply '%s'", rsp);
    }
}

bool qtest_poll_until(bool (*cond)(void *opaque), void *opaque,
                      int timeout_s)
{
    int64_t deadline = now_ms() + timeout_s * 1000LL;

    while (!cond(opaque)) {
        if (now_ms() > deadline) {
            return false;
        }
        poll(NULL, 0, 10);
    }
    return true;
}
