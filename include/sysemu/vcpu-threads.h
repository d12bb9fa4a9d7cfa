/*
 * vcpu-threads.h: the vCPU thread life cycle that every accelerator
 * running guest code shares (KVM, ferry's interpreter), as QEMU's
 * cpus.c does for its accelerators.
 *
 * An accelerator says how to run guest code and how to react to a kick;
 * system/vcpu-threads.c does the rest: one thread per vCPU ("CPU N/KVM",
 * "CPU N/TCG") that holds the BQL except while guest code runs, parking
 * and resuming under pause_all_vcpus() / resume_all_vcpus(), the kick
 * (exit_request, then SIG_IPI to the thread), postcopy blocktime's
 * thread-id lookup, and the end of the threads at exit.
 */
#ifndef SYSEMU_VCPU_THREADS_H
#define SYSEMU_VCPU_THREADS_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/core/cpu.h"

typedef enum VCPUExecResult {
    VCPU_EXEC_CONTINUE,     /* run guest code again */
    VCPU_EXEC_IDLE,         /* halted, kicked or stopped: see the flags */
    VCPU_EXEC_ERROR,        /* the guest cannot go on: the VM stops */
} VCPUExecResult;

typedef struct VCPUThreadOps {
    const char *name;           /* "kvm", "tcg" */
    const char *thread_name;    /* "KVM": threads are "CPU N/KVM" */
    /* Runs guest code; BQL held on entry and on return. */
    VCPUExecResult (*exec)(CPUState *cpu);
    /*
     * The kick's signal arrived on @cpu's own thread (a signal handler:
     * async-signal-safe only).  May be NULL.
     */
    void (*kicked)(CPUState *cpu);
    /* After @cpu's thread ended (exit).  May be NULL. */
    void (*destroy)(CPUState *cpu);
} VCPUThreadOps;

/*
 * Makes @ops the accelerator of this process (once, at start-up): its
 * kick handler and the pause/resume operations of sysemu/cpus.h.
 */
bool vcpu_threads_init(const VCPUThreadOps *ops, Error **errp);
/* Starts @cpu's thread, parked; returns once it runs.  BQL held. */
void vcpu_thread_start(CPUState *cpu);

#endif
