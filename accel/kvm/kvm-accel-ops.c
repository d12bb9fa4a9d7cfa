/*
 * kvm-accel-ops.c: vCPU threads for KVM, and pausing/resuming them.
 *
 * Each vCPU has a thread ("CPU N/KVM") that holds the BQL except inside
 * KVM_RUN.  Its life:
 *
 *        created ──► parked (stopped) ◄──────────────┐
 *                        │ resume_all_vcpus           │ stop seen
 *                        ▼                            │
 *                    running: kvm_cpu_exec() ─────────┘
 *                        │ HLT / error
 *                        ▼
 *                    idle (halted) until paused
 *
 * pause_all_vcpus() (BQL held) sets cpu->stop and kicks: the kick sets
 * exit_request and sends SIG_IPI to the thread, whose handler sets
 * kvm_run->immediate_exit, so KVM_RUN returns -EINTR whether the signal
 * lands before or during the ioctl.  The thread then parks and the caller,
 * waiting on qemu_pause_cond with the BQL released, sees every vCPU
 * stopped.  Nothing here sleeps on a timer.
 */
#include "qemu/osdep.h"
#include "sysemu/kvm.h"
#include "sysemu/cpus.h"
#include "sysemu/runstate.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "trace.h"
#include <linux/kvm.h>
#include <signal.h>

#define SIG_IPI SIGUSR1

static QemuCond qemu_pause_cond;        /* with the BQL */
static QemuCond qemu_cpu_cond;          /* with the BQL: a thread is up */
static __thread CPUState *current_cpu;

static void kvm_ipi_handler(int sig)
{
    CPUState *cpu = current_cpu;

    if (cpu && cpu->kvm_run) {
        qatomic_set(&cpu->kvm_run->immediate_exit, 1);
    }
}

static void kvm_cpu_kick(CPUState *cpu)
{
    qatomic_set(&cpu->exit_request, 1);
    if (cpu->created) {
        pthread_kill(cpu->thread.thread, SIG_IPI);
    }
}

static bool cpu_thread_is_idle(CPUState *cpu)
{
    if (cpu->stop || cpu->exit_thread) {
        return false;
    }
    return cpu->stopped || cpu->halted;
}

static void kvm_vcpu_stop_on_error(void *opaque)
{
    vm_stop(RUN_STATE_INTERNAL_ERROR);
}

static void *kvm_vcpu_thread_fn(void *arg)
{
    CPUState *cpu = arg;
    sigset_t set;

    current_cpu = cpu;
    sigemptyset(&set);
    sigaddset(&set, SIG_IPI);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    bql_lock();
    cpu->thread_id = qemu_get_thread_id();
    cpu->created = true;
    trace_kvm_vcpu_thread(cpu->cpu_index, cpu->thread_id);
    qemu_cond_broadcast(&qemu_cpu_cond);

    while (!cpu->exit_thread) {
        if (!cpu_thread_is_idle(cpu) && !cpu->stop) {
            KVMExitResult r = kvm_cpu_exec(cpu);

            if (r == KVM_EXIT_RESULT_ERROR) {
                /* Stay out of KVM_RUN; the main loop stops the VM. */
                cpu->halted = true;
                main_loop_call(kvm_vcpu_stop_on_error, NULL);
            }
            if (r == KVM_EXIT_RESULT_CONTINUE) {
                continue;
            }
        }
        while (cpu_thread_is_idle(cpu)) {
            bql_cond_wait(&cpu->halt_cond);
        }
        if (cpu->stop) {
            cpu->stop = false;
            cpu->stopped = true;
            qatomic_set(&cpu->exit_request, 0);
            trace_kvm_vcpu_parked(cpu->cpu_index);
            qemu_cond_broadcast(&qemu_pause_cond);
        }
    }
    bql_unlock();
    current_cpu = NULL;
    return NULL;
}

static void kvm_start_vcpu_thread(CPUState *cpu)
{
    g_autofree char *name = g_strdup_printf("CPU %d/KVM", cpu->cpu_index);

    qemu_cond_init(&cpu->halt_cond);
    cpu->stopped = true;
    qemu_thread_create(&cpu->thread, name, kvm_vcpu_thread_fn, cpu,
                       QEMU_THREAD_JOINABLE);
    while (!cpu->created) {
        bql_cond_wait(&qemu_cpu_cond);
    }
}

static bool all_vcpus_paused(void)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        if (!qemu_get_cpu(i)->stopped) {
            return false;
        }
    }
    return true;
}

static void kvm_pause_all_vcpus(void)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        if (!cpu->stopped) {
            cpu->stop = true;
            kvm_cpu_kick(cpu);
            qemu_cond_broadcast(&cpu->halt_cond);
        }
    }
    while (!all_vcpus_paused()) {
        bql_cond_wait(&qemu_pause_cond);
    }
    trace_kvm_pause_all(qemu_cpu_count());
}

static void kvm_resume_all_vcpus(void)
{
    trace_kvm_resume_all(qemu_cpu_count());
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        cpu->stop = false;
        cpu->stopped = false;
        qemu_cond_broadcast(&cpu->halt_cond);
    }
}

static int kvm_vcpu_count(void)
{
    return qemu_cpu_count();
}

static int kvm_vcpu_index_from_tid(uint32_t tid)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        if ((uint32_t)qemu_get_cpu(i)->thread_id == tid) {
            return i;
        }
    }
    return -1;
}

static void kvm_destroy_vcpus(void)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        if (!cpu->created) {
            continue;
        }
        cpu->exit_thread = true;
        kvm_cpu_kick(cpu);
        qemu_cond_broadcast(&cpu->halt_cond);
        bql_unlock();
        qemu_thread_join(&cpu->thread);
        bql_lock();
        cpu->created = false;
    }
}

static const AccelOpsClass kvm_accel_ops = {
    .name = "kvm",
    .pause_all_vcpus = kvm_pause_all_vcpus,
    .resume_all_vcpus = kvm_resume_all_vcpus,
    .vcpu_count = kvm_vcpu_count,
    .vcpu_index_from_tid = kvm_vcpu_index_from_tid,
    .destroy_vcpus = kvm_destroy_vcpus,
};

bool kvm_accel_ops_init(Error **errp)
{
    struct sigaction sa = { .sa_handler = kvm_ipi_handler };

    if (!kvm_accel_init(errp)) {
        return false;
    }
    /* No SA_RESTART: the signal must interrupt KVM_RUN. */
    sigemptyset(&sa.sa_mask);
    sigaction(SIG_IPI, &sa, NULL);
    qemu_cond_init(&qemu_pause_cond);
    qemu_cond_init(&qemu_cpu_cond);
    cpus_register_accel(&kvm_accel_ops);
    return true;
}

bool kvm_start_vcpu(CPUState *cpu, Error **errp)
{
    if (!kvm_init_vcpu(cpu, errp)) {
        return false;
    }
    kvm_start_vcpu_thread(cpu);
    return true;
}
