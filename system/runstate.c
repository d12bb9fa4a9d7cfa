/*
 * runstate.c: the run state machine, VM change-state handlers and
 * shutdown requests.
 *
 * All state here is owned by the main thread and protected by the BQL,
 * except the pending shutdown request, which signal handlers and other
 * threads set atomically and the main loop consumes.
 */
#include "qemu/osdep.h"
#include "sysemu/runstate.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "qemu/error-report.h"
#include "qapi/qmp-event.h"
#include "trace.h"
#include <glib-unix.h>

static const char *const runstate_names[RUN_STATE__MAX] = {
    [RUN_STATE_DEBUG] = "debug",
    [RUN_STATE_INMIGRATE] = "inmigrate",
    [RUN_STATE_INTERNAL_ERROR] = "internal-error",
    [RUN_STATE_IO_ERROR] = "io-error",
    [RUN_STATE_PAUSED] = "paused",
    [RUN_STATE_POSTMIGRATE] = "postmigrate",
    [RUN_STATE_PRELAUNCH] = "prelaunch",
    [RUN_STATE_FINISH_MIGRATE] = "finish-migrate",
    [RUN_STATE_RESTORE_VM] = "restore-vm",
    [RUN_STATE_RUNNING] = "running",
    [RUN_STATE_SAVE_VM] = "save-vm",
    [RUN_STATE_SHUTDOWN] = "shutdown",
    [RUN_STATE_SUSPENDED] = "suspended",
    [RUN_STATE_WATCHDOG] = "watchdog",
    [RUN_STATE_GUEST_PANICKED] = "guest-panicked",
    [RUN_STATE_COLO] = "colo",
};

const char *RunState_str(RunState state)
{
    return state < RUN_STATE__MAX ? runstate_names[state] : "invalid";
}

RunState RunState_parse(const char *name)
{
    for (int i = 0; i < RUN_STATE__MAX; i++) {
        if (g_str_equal(runstate_names[i], name)) {
            return i;
        }
    }
    return RUN_STATE__MAX;
}

/*
 * Allowed transitions, QEMU 7.2's table.  Reading a row: from @from the VM
 * may go to each @to listed.
 */
typedef struct {
    RunState from, to;
} RunStateTransition;

static const RunStateTransition runstate_transitions_def[] = {
    { RUN_STATE_PRELAUNCH, RUN_STATE_INMIGRATE },

    { RUN_STATE_DEBUG, RUN_STATE_RUNNING },
    { RUN_STATE_DEBUG, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_DEBUG, RUN_STATE_PRELAUNCH },

    { RUN_STATE_INMIGRATE, RUN_STATE_INTERNAL_ERROR },
    { RUN_STATE_INMIGRATE, RUN_STATE_IO_ERROR },
    { RUN_STATE_INMIGRATE, RUN_STATE_PAUSED },
    { RUN_STATE_INMIGRATE, RUN_STATE_RUNNING },
    { RUN_STATE_INMIGRATE, RUN_STATE_SHUTDOWN },
    { RUN_STATE_INMIGRATE, RUN_STATE_SUSPENDED },
    { RUN_STATE_INMIGRATE, RUN_STATE_WATCHDOG },
    { RUN_STATE_INMIGRATE, RUN_STATE_GUEST_PANICKED },
    { RUN_STATE_INMIGRATE, RUN_STATE_PRELAUNCH },
    { RUN_STATE_INMIGRATE, RUN_STATE_POSTMIGRATE },
    { RUN_STATE_INMIGRATE, RUN_STATE_COLO },

    { RUN_STATE_INTERNAL_ERROR, RUN_STATE_PAUSED },
    { RUN_STATE_INTERNAL_ERROR, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_INTERNAL_ERROR, RUN_STATE_PRELAUNCH },

    { RUN_STATE_IO_ERROR, RUN_STATE_RUNNING },
    { RUN_STATE_IO_ERROR, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_IO_ERROR, RUN_STATE_PRELAUNCH },

    { RUN_STATE_PAUSED, RUN_STATE_RUNNING },
    { RUN_STATE_PAUSED, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_PAUSED, RUN_STATE_POSTMIGRATE },
    { RUN_STATE_PAUSED, RUN_STATE_PRELAUNCH },
    { RUN_STATE_PAUSED, RUN_STATE_COLO },

    { RUN_STATE_POSTMIGRATE, RUN_STATE_RUNNING },
    { RUN_STATE_POSTMIGRATE, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_POSTMIGRATE, RUN_STATE_PRELAUNCH },

    { RUN_STATE_PRELAUNCH, RUN_STATE_RUNNING },
    { RUN_STATE_PRELAUNCH, RUN_STATE_FINISH_MIGRATE },

    { RUN_STATE_FINISH_MIGRATE, RUN_STATE_RUNNING },
    { RUN_STATE_FINISH_MIGRATE, RUN_STATE_PAUSED },
    { RUN_STATE_FINISH_MIGRATE, RUN_STATE_POSTMIGRATE },
    { RUN_STATE_FINISH_MIGRATE, RUN_STATE_PRELAUNCH },
    { RUN_STATE_FINISH_MIGRATE, RUN_STATE_COLO },

    { RUN_STATE_RESTORE_VM, RUN_STATE_RUNNING },
    { RUN_STATE_RESTORE_VM, RUN_STATE_PRELAUNCH },

    { RUN_STATE_COLO, RUN_STATE_RUNNING },
    { RUN_STATE_COLO, RUN_STATE_PRELAUNCH },
    { RUN_STATE_COLO, RUN_STATE_SHUTDOWN },

    { RUN_STATE_RUNNING, RUN_STATE_DEBUG },
    { RUN_STATE_RUNNING, RUN_STATE_INTERNAL_ERROR },
    { RUN_STATE_RUNNING, RUN_STATE_IO_ERROR },
    { RUN_STATE_RUNNING, RUN_STATE_PAUSED },
    { RUN_STATE_RUNNING, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_RUNNING, RUN_STATE_RESTORE_VM },
    { RUN_STATE_RUNNING, RUN_STATE_SAVE_VM },
    { RUN_STATE_RUNNING, RUN_STATE_SHUTDOWN },
    { RUN_STATE_RUNNING, RUN_STATE_WATCHDOG },
    { RUN_STATE_RUNNING, RUN_STATE_GUEST_PANICKED },
    { RUN_STATE_RUNNING, RUN_STATE_COLO },

    { RUN_STATE_SAVE_VM, RUN_STATE_RUNNING },

    { RUN_STATE_SHUTDOWN, RUN_STATE_PAUSED },
    { RUN_STATE_SHUTDOWN, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_SHUTDOWN, RUN_STATE_PRELAUNCH },
    { RUN_STATE_SHUTDOWN, RUN_STATE_COLO },

    { RUN_STATE_DEBUG, RUN_STATE_SUSPENDED },
    { RUN_STATE_RUNNING, RUN_STATE_SUSPENDED },
    { RUN_STATE_SUSPENDED, RUN_STATE_RUNNING },
    { RUN_STATE_SUSPENDED, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_SUSPENDED, RUN_STATE_PRELAUNCH },
    { RUN_STATE_SUSPENDED, RUN_STATE_COLO },

    { RUN_STATE_WATCHDOG, RUN_STATE_RUNNING },
    { RUN_STATE_WATCHDOG, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_WATCHDOG, RUN_STATE_PRELAUNCH },
    { RUN_STATE_WATCHDOG, RUN_STATE_COLO },

    { RUN_STATE_GUEST_PANICKED, RUN_STATE_RUNNING },
    { RUN_STATE_GUEST_PANICKED, RUN_STATE_FINISH_MIGRATE },
    { RUN_STATE_GUEST_PANICKED, RUN_STATE_PRELAUNCH },
};

static RunState current_run_state = RUN_STATE_PRELAUNCH;
bool autostart = true;

bool runstate_transition_valid(RunState from, RunState to)
{
    if (from == to) {
        return true;
    }
    for (size_t i = 0; i < ARRAY_SIZE(runstate_transitions_def); i++) {
        if (runstate_transitions_def[i].from == from &&
            runstate_transitions_def[i].to == to) {
            return true;
        }
    }
    return false;
}

RunState runstate_get(void)
{
    return current_run_state;
}

bool runstate_check(RunState state)
{
    return current_run_state == state;
}

bool runstate_is_running(void)
{
    return runstate_check(RUN_STATE_RUNNING);
}

bool runstate_needs_reset(void)
{
    return runstate_check(RUN_STATE_INTERNAL_ERROR) ||
           runstate_check(RUN_STATE_SHUTDOWN);
}

void runstate_set(RunState new_state)
{
    assert(new_state < RUN_STATE__MAX);
    trace_runstate_set(current_run_state, RunState_str(current_run_state),
                       new_state, RunState_str(new_state));
    if (current_run_state == new_state) {
        return;
    }
    if (!runstate_transition_valid(current_run_state, new_state)) {
        error_report("invalid runstate transition: '%s' -> '%s'",
                     RunState_str(current_run_state),
                     RunState_str(new_state));
        abort();
    }
    current_run_state = new_state;
}

struct VMChangeStateEntry {
    VMChangeStateHandler *cb;
    void *opaque;
};

/* Handlers in registration order; BQL. */
static GPtrArray *vm_change_state_head;

VMChangeStateEntry *qemu_add_vm_change_state_handler(VMChangeStateHandler *cb,
                                                     void *opaque)
{
    VMChangeStateEntry *e = g_new0(VMChangeStateEntry, 1);

    if (!vm_change_state_head) {
        vm_change_state_head = g_ptr_array_new();
    }
    e->cb = cb;
    e->opaque = opaque;
    g_ptr_array_add(vm_change_state_head, e);
    return e;
}

void qemu_del_vm_change_state_handler(VMChangeStateEntry *e)
{
    if (vm_change_state_head) {
        g_ptr_array_remove(vm_change_state_head, e);
    }
    g_free(e);
}

void vm_state_notify(bool running, RunState state)
{
    trace_vm_state_notify(running, state, RunState_str(state));
    if (!vm_change_state_head) {
        return;
    }
    if (running) {
        for (guint i = 0; i < vm_change_state_head->len; i++) {
            VMChangeStateEntry *e = vm_change_state_head->pdata[i];
            e->cb(e->opaque, running, state);
        }
    } else {
        for (guint i = vm_change_state_head->len; i-- > 0;) {
            VMChangeStateEntry *e = vm_change_state_head->pdata[i];
            e->cb(e->opaque, running, state);
        }
    }
}

static const char *const shutdown_cause_names[SHUTDOWN_CAUSE__MAX] = {
    [SHUTDOWN_CAUSE_NONE] = "none",
    [SHUTDOWN_CAUSE_HOST_ERROR] = "host-error",
    [SHUTDOWN_CAUSE_HOST_QMP_QUIT] = "host-qmp-quit",
    [SHUTDOWN_CAUSE_HOST_QMP_SYSTEM_RESET] = "host-qmp-system-reset",
    [SHUTDOWN_CAUSE_HOST_SIGNAL] = "host-signal",
    [SHUTDOWN_CAUSE_HOST_UI] = "host-ui",
    [SHUTDOWN_CAUSE_GUEST_SHUTDOWN] = "guest-shutdown",
    [SHUTDOWN_CAUSE_GUEST_RESET] = "guest-reset",
    [SHUTDOWN_CAUSE_GUEST_PANIC] = "guest-panic",
    [SHUTDOWN_CAUSE_SUBSYSTEM_RESET] = "subsystem-reset",
    [SHUTDOWN_CAUSE_SNAPSHOT_LOAD] = "snapshot-load",
};

const char *ShutdownCause_str(ShutdownCause cause)
{
    return cause < SHUTDOWN_CAUSE__MAX ? shutdown_cause_names[cause] : "none";
}

/*
 * Shutdown requests.  A request from a thread (QMP quit) emits SHUTDOWN
 * at once, so the event reaches clients before the command's reply, as in
 * QEMU; a signal handler can only write to the self-pipe, and the main
 * loop then reports the signal and emits the event.  The main loop quits
 * in both cases.  Written by any thread or signal handler.
 */
static int shutdown_requested;
static int shutdown_exit_status;
static int shutdown_wakeup_fd = -1;
static volatile sig_atomic_t shutdown_signal;
static volatile sig_atomic_t shutdown_signal_pid;

static bool shutdown_cause_is_guest(int cause)
{
    return cause >= SHUTDOWN_CAUSE_GUEST_SHUTDOWN &&
           cause != SHUTDOWN_CAUSE_SUBSYSTEM_RESET &&
           cause != SHUTDOWN_CAUSE_SNAPSHOT_LOAD;
}

/* Name of the process that sent us a signal, for the exit message. */
static char *sender_name(int pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", pid);
    char *contents = NULL;

    if (pid <= 0 || !g_file_get_contents(path, &contents, NULL, NULL)) {
        return g_strdup("unknown");
    }
    return contents;    /* the first NUL ends argv[0] */
}

static gboolean shutdown_fd_ready(gint fd, GIOCondition cond, gpointer data)
{
    uint64_t v;
    int sig;

    while (read(fd, &v, sizeof(v)) > 0) {
        /* drain */
    }
    sig = shutdown_signal;
    if (sig) {
        g_autofree char *who = sender_name(shutdown_signal_pid);

        shutdown_signal = 0;
        error_report("terminating on signal %d from pid %d (%s)", sig,
                     (int)shutdown_signal_pid, who);
        trace_qemu_system_shutdown(ShutdownCause_str(
                                       SHUTDOWN_CAUSE_HOST_SIGNAL));
        qapi_event_send_shutdown(false, "host-signal");
        qatomic_set(&shutdown_requested, SHUTDOWN_CAUSE_HOST_SIGNAL);
    }
    if (qatomic_read(&shutdown_requested) != SHUTDOWN_CAUSE_NONE) {
        qemu_main_loop_quit();
    }
    return G_SOURCE_CONTINUE;
}

static void shutdown_wakeup(void)
{
    static const uint64_t one = 1;

    if (shutdown_wakeup_fd >= 0) {
        ssize_t r = write(shutdown_wakeup_fd, &one, sizeof(one));
        (void)r;
    }
}

static void termsig_handler(int sig, siginfo_t *info, void *ctx)
{
    shutdown_signal_pid = info ? info->si_pid : 0;
    shutdown_signal = sig;
    shutdown_wakeup();
}

void qemu_system_shutdown_setup(void)
{
    struct sigaction act = { 0 };
    int fds[2];

    /* A self-pipe: writing it is async-signal-safe and wakes the loop. */
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        error_report("cannot create shutdown pipe: %s", strerror(errno));
        exit(1);
    }
    shutdown_wakeup_fd = fds[1];
    g_unix_fd_add(fds[0], G_IO_IN, shutdown_fd_ready, NULL);

    act.sa_sigaction = termsig_handler;
    act.sa_flags = SA_SIGINFO;
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGHUP, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
}

void qemu_system_shutdown_request_with_status(ShutdownCause cause,
                                              int exit_status)
{
    trace_qemu_system_shutdown(ShutdownCause_str(cause));
    qatomic_set(&shutdown_exit_status, exit_status);
    if (qatomic_xchg(&shutdown_requested, cause) == SHUTDOWN_CAUSE_NONE) {
        qapi_event_send_shutdown(shutdown_cause_is_guest(cause),
                                 ShutdownCause_str(cause));
    }
    shutdown_wakeup();
}

void qemu_system_shutdown_request(ShutdownCause cause)
{
    qemu_system_shutdown_request_with_status(cause, 0);
}

int qemu_system_exit_status(void)
{
    return qatomic_read(&shutdown_exit_status);
}

void qemu_system_exit_request(int status)
{
    trace_qemu_system_exit(status);
    qatomic_set(&shutdown_exit_status, status);
    qatomic_set(&shutdown_requested, SHUTDOWN_CAUSE_HOST_ERROR);
    shutdown_wakeup();
}

bool qemu_system_shutdown_pending(void)
{
    return qatomic_read(&shutdown_requested) != SHUTDOWN_CAUSE_NONE;
}
