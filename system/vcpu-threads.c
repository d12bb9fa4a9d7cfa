/*
 * vcpu-threads.c: vCPU threads, and pausing/resuming them, for every
 * accelerator that runs guest code (sysemu/vcpu-threads.h).
 *
 * Each vCPU has a thread that holds the BQL except inside the
 * accelerator's exec():
 *
 *        created ──► parked (stopped) ◄──────────────┐
 *                        │ resume_all_vcpus           │ stop seen
 *                        ▼                            │
 *                    running: ops->exec() ────────────┘
 *                        │ HLT / error
 *                        ▼
 *                    idle (halted) until paused
 *
 * pause_all_vcpus() (BQL held) sets cpu->stop and kicks: the kick sets
 * exit_request and sends SIG_IPI to the thread, whose handler lets the
 * accelerator leave guest code however it is blocked (KVM: its
 * immediate_exit flag, for a signal that lands before KVM_RUN; the
 * interpreter: abandoning an instruction stuck on a postcopy page).  The
 * thread then parks and the caller, waiting on pause_cond with the BQL
 * released, sees every vCPU stopped.  Nothing here sleeps on a timer.
 */
#include "qemu/osdep.h"
#include "sysemu/vcpu-threads.h"
#include "sysemu/cpus.h"
#include "sysemu/runstate.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "trace.h"
#include <signal.h>

#define SIG_IPI SIGUSR1

static const VCPUThreadOps *vcpu_ops;  /* set once, main thread */
static QemuCond pause_cond;             /* with the BQL */
static QemuCond created_cond;           /* with the BQL: a thread is up */
static __thread CPUState *current_cpu;

static void ipi_handler(int sig)
{
    CPUState *cpu = current_cpu;

    if (cpu && vcpu_ops->kicked) {
        vcpu_ops->kicked(cpu);
    }
}

static void cpu_kick(CPUState *cpu)
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

static void vcpu_stop_on_error(void *opaque)
{
    vm_stop(RUN_STATE_INTERNAL_ERROR);
}

static void *vcpu_thread_fn(void *arg)
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
    trace_vcpu_thread(vcpu_ops->name, cpu->cpu_index, cpu->thread_id);
    qemu_cond_broadcast(&created_cond);

    while (!cpu->exit_thread) {
        if (!cpu_thread_is_idle(cpu) && !cpu->stop) {
            VCPUExecResult r = vcpu_ops->exec(cpu);

            if (r == VCPU_EXEC_ERROR) {
                /* Run no more guest code; the main loop stops the VM. */
                cpu->halted = true;
                main_loop_call(vcpu_stop_on_error, NULL);
            }
            if (r == VCPU_EXEC_CONTINUE) {
                continue;
            }
            /* (A kick that raced with the exit: the flags below decide.) */
            qatomic_set(&cpu->exit_request, 0);
        }
        while (cpu_thread_is_idle(cpu)) {
            bql_cond_wait(&cpu->halt_cond);
        }
        if (cpu->stop) {
            cpu->stop = false;
            cpu->stopped = true;
            qatomic_set(&cpu->exit_request, 0);
            trace_vcpu_parked(vcpu_ops->name, cpu->cpu_index);
            qemu_cond_broadcast(&pause_cond);
        }
    }
    bql_unlock();
    current_cpu = NULL;
    return NULL;
}

void vcpu_thread_start(CPUState *cpu)
{
    g_autofree char *name = g_strdup_printf("CPU %d/%s", cpu->cpu_index,
                                            vcpu_ops->thread_name);

    qemu_cond_init(&cpu->halt_cond);
    cpu->stopped = true;
    qemu_thread_create(&cpu->thread, name, vcpu_thread_fn, cpu,
                       QEMU_THREAD_JOINABLE);
    while (!cpu->created) {
        bql_cond_wait(&created_cond);
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

static void vcpus_pause_all(void)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        if (!cpu->stopped) {
            cpu->stop = true;
            cpu_kick(cpu);
            qemu_cond_broadcast(&cpu->halt_cond);
        }
    }
    while (!all_vcpus_paused()) {
        bql_cond_wait(&pause_cond);
    }
    trace_vcpus_paused(vcpu_ops->name, qemu_cpu_count());
}

static void vcpus_resume_all(void)
{
    trace_vcpus_resumed(vcpu_ops->name, qemu_cpu_count());
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        cpu->stop = false;
        cpu->stopped = false;
        qemu_cond_broadcast(&cpu->halt_cond);
    }
}

static int vcpus_count(void)
{
    return qemu_cpu_count();
}

/* Postcopy blocktime: the userfaultfd names the faulting thread. */
static int vcpu_index_from_tid(uint32_t tid)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        if ((uint32_t)qemu_get_cpu(i)->thread_id == tid) {
            return i;
        }
    }
    return -1;
}

static void vcpus_destroy(void)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        if (!cpu->created) {
            continue;
        }
        cpu->exit_thread = true;
        cpu_kick(cpu);
        qemu_cond_broadcast(&cpu->halt_cond);
        bql_unlock();
        qemu_thread_join(&cpu->thread);
        bql_lock();
        cpu->created = false;
        if (vcpu_ops->destroy) {
            vcpu_ops->destroy(cpu);
        }
    }
}

bool vcpu_threads_init(const VCPUThreadOps *ops, Error **errp)
{
    static AccelOpsClass accel_ops = {
        .pause_all_vcpus = vcpus_pause_all,
        .resume_all_vcpus = vcpus_resume_all,
        .vcpu_count = vcpus_count,
        .vcpu_index_from_tid = vcpu_index_from_tid,
        .destroy_vcpus = vcpus_destroy,
    };
    struct sigaction sa = { .sa_handler = ipi_handler };

    /* No SA_RESTART: the signal must interrupt KVM_RUN, a page fault. */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIG_IPI, &sa, NULL) < 0) {
        error_setg_errno(errp, errno, "%s: cannot install the vCPU kick "
                         "handler", ops->name);
        return false;
    }
    vcpu_ops = ops;
    qemu_cond_init(&pause_cond);
    qemu_cond_init(&created_cond);
    accel_ops.name = ops->name;
    cpus_register_accel(&accel_ops);
    return true;
}
