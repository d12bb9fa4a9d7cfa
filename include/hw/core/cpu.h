/*
 * cpu.h: the accelerator-independent part of a vCPU.
 *
 * A CPUState is created by the board (pc-lite creates one per -smp CPU)
 * and run by the accelerator's vCPU thread.  The architecture state lives
 * next to it in the target's CPU object (X86CPU), which embeds a CPUState
 * as its first member.
 *
 * Locking: the fields marked "BQL" are read and written with the BQL held;
 * the vCPU thread drops the BQL only around KVM_RUN.  exit_request is set
 * by any thread and read by the vCPU thread (atomics).
 */
#ifndef HW_CORE_CPU_H
#define HW_CORE_CPU_H

#include "qemu/osdep.h"
#include "qemu/thread.h"

struct kvm_run;

typedef struct CPUState CPUState;

struct CPUState {
    int cpu_index;
    QemuThread thread;
    QemuCond halt_cond;         /* the vCPU thread waits here while idle */
    int thread_id;              /* host TID; set before created */

    bool created;               /* BQL: the thread is up */
    bool stop;                  /* BQL: a pause was requested */
    bool stopped;               /* BQL: the thread is parked */
    bool exit_thread;           /* BQL: leave the thread at cleanup */
    /*
     * BQL: the guest executed HLT and nothing can wake it.  pc-lite has
     * no interrupt controller, so a halted vCPU stays halted; the flag
     * migrates with the CPU state.
     */
    bool halted;
    /* BQL: the registers in the arch state are newer than KVM's. */
    bool vcpu_dirty;
    int exit_request;           /* atomic: leave KVM_RUN at once */

    int kvm_fd;
    struct kvm_run *kvm_run;
    size_t kvm_run_size;
};

/* All vCPUs of the machine, in index order (set up at board init). */
CPUState *qemu_get_cpu(int index);
int qemu_cpu_count(void);
void qemu_cpu_add(CPUState *cpu);

#endif
