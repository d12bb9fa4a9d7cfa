/*
 * runstate.h: the VM run state (QMP "status") and shutdown requests.
 *
 * The run state changes only in the main thread under the BQL.  Every
 * change goes through runstate_set(), which checks it against the table of
 * allowed transitions (QEMU's) and traces it.  Transitions requested on
 * behalf of a migration stream use runstate_transition_valid() first, so a
 * hostile stream can fail the migration but never trip the check.
 */
#ifndef SYSEMU_RUNSTATE_H
#define SYSEMU_RUNSTATE_H

#include "qemu/osdep.h"
#include "qapi/error.h"

/* In QAPI order, so that the enum matches QEMU's RunState. */
typedef enum RunState {
    RUN_STATE_DEBUG,
    RUN_STATE_INMIGRATE,
    RUN_STATE_INTERNAL_ERROR,
    RUN_STATE_IO_ERROR,
    RUN_STATE_PAUSED,
    RUN_STATE_POSTMIGRATE,
    RUN_STATE_PRELAUNCH,
    RUN_STATE_FINISH_MIGRATE,
    RUN_STATE_RESTORE_VM,
    RUN_STATE_RUNNING,
    RUN_STATE_SAVE_VM,
    RUN_STATE_SHUTDOWN,
    RUN_STATE_SUSPENDED,
    RUN_STATE_WATCHDOG,
    RUN_STATE_GUEST_PANICKED,
    RUN_STATE_COLO,
    RUN_STATE__MAX
} RunState;

const char *RunState_str(RunState state);
/* Returns RUN_STATE__MAX for an unknown name. */
RunState RunState_parse(const char *name);

RunState runstate_get(void);
bool runstate_check(RunState state);
bool runstate_is_running(void);
bool runstate_needs_reset(void);
bool runstate_transition_valid(RunState from, RunState to);
/* Aborts on a transition missing from the table: that is a ferry bug. */
void runstate_set(RunState new_state);

/* Autostart: cleared by -S, and by "stop" while waiting for migration. */
extern bool autostart;

typedef void VMChangeStateHandler(void *opaque, bool running, RunState st);
typedef struct VMChangeStateEntry VMChangeStateEntry;
VMChangeStateEntry *qemu_add_vm_change_state_handler(VMChangeStateHandler *cb,
                                                     void *opaque);
void qemu_del_vm_change_state_handler(VMChangeStateEntry *e);
/* Runs the handlers: in registration order when starting, reverse when
 * stopping (so that later layers stop first). */
void vm_state_notify(bool running, RunState state);

/* Start/stop the VM (main thread, BQL).  Events: RESUME / STOP. */
void vm_start(void);
int vm_prepare_start(void);
int vm_stop(RunState state);
/* Stops the VM at exit, without a STOP event (QEMU's vm_shutdown). */
void vm_shutdown(void);
/* Stop, or change the state of an already stopped VM. */
int vm_stop_force_state(RunState state);

typedef enum ShutdownCause {
    SHUTDOWN_CAUSE_NONE,
    SHUTDOWN_CAUSE_HOST_ERROR,
    SHUTDOWN_CAUSE_HOST_QMP_QUIT,
    SHUTDOWN_CAUSE_HOST_QMP_SYSTEM_RESET,
    SHUTDOWN_CAUSE_HOST_SIGNAL,
    SHUTDOWN_CAUSE_HOST_UI,
    SHUTDOWN_CAUSE_GUEST_SHUTDOWN,
    SHUTDOWN_CAUSE_GUEST_RESET,
    SHUTDOWN_CAUSE_GUEST_PANIC,
    SHUTDOWN_CAUSE_SUBSYSTEM_RESET,
    SHUTDOWN_CAUSE_SNAPSHOT_LOAD,
    SHUTDOWN_CAUSE__MAX
} ShutdownCause;

const char *ShutdownCause_str(ShutdownCause cause);

/*
 * Asks the main loop to shut down; thread- and signal-safe.  The main loop
 * emits SHUTDOWN and returns from qemu_main_loop_run().  @exit_status is
 * the process exit code (0 for quit/signal, 1 for a failed incoming
 * migration, as QEMU does).
 */
void qemu_system_shutdown_request(ShutdownCause cause);
void qemu_system_shutdown_request_with_status(ShutdownCause cause,
                                              int exit_status);
void qemu_system_shutdown_setup(void);
/* Leaves the main loop and exits with @status, without a SHUTDOWN event
 * (a failed incoming migration, as QEMU's exit(1)). */
void qemu_system_exit_request(int status);
/* True once a shutdown was requested (QMP stops answering then). */
bool qemu_system_shutdown_pending(void);
int qemu_system_exit_status(void);

#endif
