/*
 * cpus.c: starting and stopping the VM.
 *
 * vm_start()/vm_stop() are the only ways the VM starts or stops; they keep
 * the run state, the vCPUs, the change-state handlers and the STOP/RESUME
 * events consistent, in QEMU's order.  Main thread, BQL held.
 */
#include "qemu/osdep.h"
#include "sysemu/cpus.h"
#include "sysemu/runstate.h"
#include "qemu/main-loop.h"
#include "qapi/qmp-event.h"
#include "trace.h"

static const AccelOpsClass *cpus_accel;

void cpus_register_accel(const AccelOpsClass *ops)
{
    cpus_accel = ops;
}

const AccelOpsClass *cpus_get_accel(void)
{
    return cpus_accel;
}

void pause_all_vcpus(void)
{
    if (cpus_accel && cpus_accel->pause_all_vcpus) {
        cpus_accel->pause_all_vcpus();
    }
}

void resume_all_vcpus(void)
{
    if (cpus_accel && cpus_accel->resume_all_vcpus) {
        cpus_accel->resume_all_vcpus();
    }
}

int cpus_vcpu_count(void)
{
    if (cpus_accel && cpus_accel->vcpu_count) {
        return cpus_accel->vcpu_count();
    }
    return 0;
}

int cpus_vcpu_index_from_tid(uint32_t tid)
{
    if (tid && cpus_accel && cpus_accel->vcpu_index_from_tid) {
        return cpus_accel->vcpu_index_from_tid(tid);
    }
    return -1;
}

void cpus_destroy_vcpus(void)
{
    if (cpus_accel && cpus_accel->destroy_vcpus) {
        cpus_accel->destroy_vcpus();
    }
}

static int do_vm_stop(RunState state, bool send_stop)
{
    assert(bql_locked());
    if (runstate_is_running()) {
        trace_vm_stop(RunState_str(state));
        runstate_set(state);
        pause_all_vcpus();
        vm_state_notify(false, state);
        if (send_stop) {
            qapi_event_send_stop();
        }
    }
    return 0;
}

int vm_stop(RunState state)
{
    return do_vm_stop(state, true);
}

void vm_shutdown(void)
{
    do_vm_stop(RUN_STATE_SHUTDOWN, false);
}

int vm_stop_force_state(RunState state)
{
    if (runstate_is_running()) {
        return vm_stop(state);
    }
    runstate_set(state);
    return 0;
}

/* Returns -1 (and emits nothing, as QEMU 7.2) if already running. */
int vm_prepare_start(void)
{
    assert(bql_locked());
    if (runstate_is_running()) {
        return -1;
    }
    qapi_event_send_resume();
    trace_vm_start();
    runstate_set(RUN_STATE_RUNNING);
    vm_state_notify(true, RUN_STATE_RUNNING);
    return 0;
}

void vm_start(void)
{
    if (vm_prepare_start() == 0) {
        resume_all_vcpus();
    }
}
