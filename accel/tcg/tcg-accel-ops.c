/*
 * tcg-accel-ops.c: the interpreter's part of the vCPU threads
 * (system/vcpu-threads.c runs them, with KVM's life cycle, so that
 * run-state code, migration and tests cannot tell the two apart):
 * running guest code is tcg_arch_cpu_exec(), which reads exit_request
 * before every instruction.  The kick's signal matters only when the
 * thread sleeps in the kernel on a postcopy page that has not arrived (a
 * userfaultfd fault, which a signal interrupts but the retried access
 * would re-enter): tcg_arch_cpu_kicked() makes the interpreter abandon
 * the instruction, which has committed nothing at that point, so the
 * vCPU parks and "stop" or "quit" works even when the source is gone.
 */
#include "qemu/osdep.h"
#include "sysemu/tcg.h"
#include "sysemu/vcpu-threads.h"
#include "trace.h"

static bool tcg_allowed;                /* set once, main thread */

bool tcg_enabled(void)
{
    return tcg_allowed;
}

static VCPUExecResult tcg_vcpu_exec(CPUState *cpu)
{
    switch (tcg_arch_cpu_exec(cpu)) {
    case TCG_EXIT_RESULT_CONTINUE:
        return VCPU_EXEC_CONTINUE;
    case TCG_EXIT_RESULT_IDLE:
        return VCPU_EXEC_IDLE;
    default:
        return VCPU_EXEC_ERROR;
    }
}

static const VCPUThreadOps tcg_vcpu_ops = {
    .name = "tcg",
    .thread_name = "TCG",
    .exec = tcg_vcpu_exec,
    .kicked = tcg_arch_cpu_kicked,
    .destroy = tcg_arch_destroy_vcpu,
};

bool tcg_accel_ops_init(Error **errp)
{
    if (!vcpu_threads_init(&tcg_vcpu_ops, errp)) {
        return false;
    }
    tcg_allowed = true;
    trace_tcg_accel_init();
    return true;
}

bool tcg_start_vcpu(CPUState *cpu, Error **errp)
{
    if (!tcg_arch_init_vcpu(cpu, errp)) {
        return false;
    }
    vcpu_thread_start(cpu);
    return true;
}
