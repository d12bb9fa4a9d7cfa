/*
 * kvm.h: the KVM accelerator.
 *
 * -accel kvm opens /dev/kvm and creates one VM.  Every RAM region mapped
 * into the system address space becomes a KVM memory slot (a memory
 * listener); while migration's global dirty log is on, the slots carry
 * KVM_MEM_LOG_DIRTY_PAGES and each sync folds KVM_GET_DIRTY_LOG into the
 * RAMBlocks' dirty logs.  Each vCPU runs in its own thread (vcpu-threads.c);
 * port and MMIO exits are dispatched to the address spaces under the BQL.
 *
 * Under postcopy nothing special is needed: a vCPU that touches a page not
 * yet placed faults inside the kernel on the userfaultfd-registered memory
 * and sleeps there until UFFDIO_COPY/ZEROPAGE wakes it.
 */
#ifndef SYSEMU_KVM_H
#define SYSEMU_KVM_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/core/cpu.h"

bool kvm_enabled(void);

/*
 * -accel kvm: opens /dev/kvm, creates the VM and registers the vCPU ops;
 * a clear error if KVM is unusable.
 */
bool kvm_accel_ops_init(Error **errp);
bool kvm_accel_init(Error **errp);
/* Why KVM cannot be used here, or NULL if /dev/kvm opens (for tests). */
char *kvm_probe_unavailable(void);

/* Creates the KVM vCPU of @cpu and starts its (parked) thread. */
bool kvm_start_vcpu(CPUState *cpu, Error **errp);
bool kvm_init_vcpu(CPUState *cpu, Error **errp);

/* Copies registers between KVM and the arch state (vCPU not running). */
bool kvm_cpu_synchronize_state(CPUState *cpu, Error **errp);
bool kvm_cpu_synchronize_post_load(CPUState *cpu, Error **errp);

/* ---- used by accel/kvm internally ---- */

typedef enum KVMExitResult {
    KVM_EXIT_RESULT_CONTINUE,   /* run the guest again */
    KVM_EXIT_RESULT_IDLE,       /* halted, stopped or kicked: go idle */
    KVM_EXIT_RESULT_ERROR,      /* the guest cannot continue */
} KVMExitResult;

KVMExitResult kvm_cpu_exec(CPUState *cpu);
int kvm_vm_ioctl(int type, ...);
int kvm_vcpu_ioctl(CPUState *cpu, int type, ...);
int kvm_check_extension(unsigned int ext);
int kvm_get_fd(void);

/* ---- provided by the target (target/i386/kvm.c) ---- */

bool kvm_arch_init(Error **errp);
bool kvm_arch_init_vcpu(CPUState *cpu, Error **errp);
bool kvm_arch_get_registers(CPUState *cpu, Error **errp);
bool kvm_arch_put_registers(CPUState *cpu, Error **errp);

#endif
