/*
 * kvm-accel-ops.c: KVM's part of the vCPU threads (system/vcpu-threads.c
 * runs them): running guest code is kvm_cpu_exec(), and a kick sets
 * kvm_run->immediate_exit from the signal handler, so that KVM_RUN
 * returns -EINTR whether the signal lands before or during the ioctl.
 */
#include "qemu/osdep.h"
#include "sysemu/kvm.h"
#include "sysemu/vcpu-threads.h"
#include "qemu/atomic.h"
#include <linux/kvm.h>

static VCPUExecResult kvm_vcpu_exec(CPUState *cpu)
{
    switch (kvm_cpu_exec(cpu)) {
    case KVM_EXIT_RESULT_CONTINUE:
        return VCPU_EXEC_CONTINUE;
    case KVM_EXIT_RESULT_IDLE:
        return VCPU_EXEC_IDLE;
    default:
        return VCPU_EXEC_ERROR;
    }
}

static void kvm_vcpu_kicked(CPUState *cpu)
{
    if (cpu->kvm_run) {
        qatomic_set(&cpu->kvm_run->immediate_exit, 1);
    }
}

static const VCPUThreadOps kvm_vcpu_ops = {
    .name = "kvm",
    .thread_name = "KVM",
    .exec = kvm_vcpu_exec,
    .kicked = kvm_vcpu_kicked,
};

bool kvm_accel_ops_init(Error **errp)
{
    return kvm_accel_init(errp) && vcpu_threads_init(&kvm_vcpu_ops, errp);
}

bool kvm_start_vcpu(CPUState *cpu, Error **errp)
{
    if (!kvm_init_vcpu(cpu, errp)) {
        return false;
    }
    vcpu_thread_start(cpu);
    return true;
}
