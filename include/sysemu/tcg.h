/*
 * tcg.h: the interpreter accelerator, "-accel tcg".
 *
 * QEMU's users spell its software CPU "-accel tcg", and scripts that start
 * a pair with "-accel kvm -accel tcg" expect the first accelerator that can
 * start to win.  ferry answers the same spelling with an x86 instruction
 * interpreter (target/i386/tcg/): no code generation, one decoded
 * instruction at a time.  What the generic part (accel/tcg/) provides is
 * the vCPU thread and its life cycle, identical to KVM's: a "CPU N/TCG"
 * thread that holds the BQL except while it executes guest instructions,
 * parks on pause, and is kicked by a flag plus a signal.
 *
 * Guest stores go through the memory API's RAMBlocks (a host-pointer fast
 * path that marks the migration dirty log), port and MMIO accesses reach
 * the devices under the BQL, and a load or store to a page postcopy has
 * not placed yet faults on the userfaultfd in the vCPU thread, exactly as a
 * KVM vCPU does, so blocktime sees it.
 */
#ifndef SYSEMU_TCG_H
#define SYSEMU_TCG_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/core/cpu.h"

bool tcg_enabled(void);

/* -accel tcg: registers the vCPU ops; cannot fail on a supported host. */
bool tcg_accel_ops_init(Error **errp);

/* Creates the interpreter state of @cpu and starts its (parked) thread. */
bool tcg_start_vcpu(CPUState *cpu, Error **errp);

/* ---- between accel/tcg and the target ---- */

typedef enum TCGExecResult {
    TCG_EXIT_RESULT_CONTINUE,   /* run again (budget used up) */
    TCG_EXIT_RESULT_IDLE,       /* halted, kicked or stopped: go idle */
    TCG_EXIT_RESULT_ERROR,      /* the guest cannot continue */
} TCGExecResult;

/* Provided by the target (target/i386/tcg/tcg-cpu.c). */
bool tcg_arch_init_vcpu(CPUState *cpu, Error **errp);
void tcg_arch_destroy_vcpu(CPUState *cpu);
/*
 * Runs guest instructions until the budget is used, the vCPU halts or
 * fails, or cpu->exit_request is set.  Called by the vCPU thread with the
 * BQL held; drops it while executing.
 */
TCGExecResult tcg_arch_cpu_exec(CPUState *cpu);
/*
 * Called from the kick signal's handler in the vCPU thread: a vCPU asleep
 * on a postcopy page (inside a guest RAM access) abandons the instruction,
 * which has committed nothing yet, and returns from tcg_arch_cpu_exec().
 */
void tcg_arch_cpu_kicked(CPUState *cpu);

#endif
