/*
 * cpus.h: the accelerator's vCPU operations, as seen by the run state code.
 *
 * An accelerator registers its ops at machine init.  The qtest accelerator
 * (ferry's default) has no vCPUs, so all of these are no-ops for it.
 */
#ifndef SYSEMU_CPUS_H
#define SYSEMU_CPUS_H

#include "qemu/osdep.h"

typedef struct AccelOpsClass {
    const char *name;
    void (*pause_all_vcpus)(void);
    void (*resume_all_vcpus)(void);
    /* Number of vCPUs (for per-vCPU statistics); 0 if none. */
    int (*vcpu_count)(void);
    /* The vCPU index run by host thread @tid, or -1 (postcopy blocktime). */
    int (*vcpu_index_from_tid)(uint32_t tid);
    /* Ends the vCPU threads at exit (the VM is already stopped). */
    void (*destroy_vcpus)(void);
} AccelOpsClass;

void cpus_register_accel(const AccelOpsClass *ops);
const AccelOpsClass *cpus_get_accel(void);

void pause_all_vcpus(void);
void resume_all_vcpus(void);
int cpus_vcpu_count(void);
int cpus_vcpu_index_from_tid(uint32_t tid);
void cpus_destroy_vcpus(void);

#endif
