/*
 * tcg-accel-ops.c: vCPU threads for the interpreter, and pausing/resuming
 * them.
 *
 * The life cycle is KVM's (accel/kvm/kvm-accel-ops.c), so that run-state
 * code, migration and tests cannot tell the two apart.  Each vCPU has a
 * thread ("CPU N/TCG") that holds the BQL except while the interpreter
 * executes guest instructions:
 *
 *        created ──► parked (stopped) ◄──────────────┐
 *                        │ resume_all_vcpus           │ stop seen
 *                        ▼                            │
 *                    running: tcg_arch_cpu_exec() ────┘
 *                        │ HLT / error
 *                        ▼
 *                    idle (halted) until paused
 *
 * pause_all_vcpus() (BQL held) sets cpu->stop and kicks: the kick sets
 * exit_request, which the interpreter reads before every instruction,
 * and sends SIG_IPI.  The signal matters only when the thread sleeps in
 * the kernel on a postcopy page that has not arrived (a userfaultfd
 * fault, which a signal interrupts but the retried access would re-enter):
 * its handler makes the interpreter abandon the instruction, which has
 * committed nothing at that point, so the vCPU parks and "stop" or "quit"
 * works even when the source is gone.  Nothing here sleeps on a timer.
 */
#include "qemu/osdep.h"
#include "sysemu/tcg.h"
#include "sysemu/cpus.h"
#include "sysemu/runstate.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "trace.h"
#include <signal.h>

#define SIG_IPI SIGUSR1

static bool tcg_allowed;                /* set once, main thread */
static QemuCond tcg_pause_cond;         /* with the BQL */
static QemuCond tcg_cpu_cond;           /* with the BQL: a thread is up */
static __thread CPUState *tcg_current_cpu;

bool tcg_enabled(void)
{
    return tcg_allowed;
}

static void tcg_ipi_handler(int sig)
{
    CPUState *cpu = tcg_current_cpu;

    if (cpu) {
        tcg_arch_cpu_kicked(cpu);
    }
}

static void tcg_cpu_kick(CPUState *cpu)
{
    qatomic_set(&cpu->exit_request, 1);
    if (cpu->created) {
        pthread_kill(cpu->thread.thread, SIG_IPI);
    }
}

static bool tcg_cpu_thread_is_idle(CPUState *cpu)
{
    if (cpu->stop || cpu->exit_thread) {
        return false;
    }
    return cpu->stopped || cpu->halted;
}

static void tcg_vcpu_stop_on_error(void *opaque)
{
    vm_stop(RUN_STATE_INTERNAL_ERROR);
}

static void *tcg_vcpu_thread_fn(void *arg)
{
    CPUState *cpu = arg;
    sigset_t set;

    tcg_current_cpu = cpu;
    sigemptyset(&set);
    sigaddset(&set, SIG_IPI);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    bql_lock();
    cpu->thread_id = qemu_get_thread_id();
    cpu->created = true;
    trace_tcg_vcpu_thread(cpu->cpu_index, cpu->thread_id);
    qemu_cond_broadcast(&tcg_cpu_cond);

    while (!cpu->exit_thread) {
        if (!tcg_cpu_thread_is_idle(cpu) && !cpu->stop) {
            TCGExecResult r = tcg_arch_cpu_exec(cpu);

            if (r == TCG_EXIT_RESULT_ERROR) {
                /* Execute nothing more; the main loop stops the VM. */
                cpu->halted = true;
                main_loop_call(tcg_vcpu_stop_on_error, NULL);
            }
            if (r == TCG_EXIT_RESULT_CONTINUE) {
                continue;
            }
            qatomic_set(&cpu->exit_request, 0);
        }
        while (tcg_cpu_thread_is_idle(cpu)) {
            bql_cond_wait(&cpu->halt_cond);
        }
        if (cpu->stop) {
            cpu->stop = false;
            cpu->stopped = true;
            qatomic_set(&cpu->exit_request, 0);
            trace_tcg_vcpu_parked(cpu->cpu_index);
            qemu_cond_broadcast(&tcg_pause_cond);
        }
    }
    bql_unlock();
    tcg_current_cpu = NULL;
    return NULL;
}

static void tcg_start_vcpu_thread(CPUState *cpu)
{
    g_autofree char *name = g_strdup_printf("CPU %d/TCG", cpu->cpu_index);

    qemu_cond_init(&cpu->halt_cond);
    cpu->stopped = true;
    qemu_thread_create(&cpu->thread, name, tcg_vcpu_thread_fn, cpu,
                       QEMU_THREAD_JOINABLE);
    while (!cpu->created) {
        bql_cond_wait(&tcg_cpu_cond);
    }
}

static bool tcg_all_vcpus_paused(void)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        if (!qemu_get_cpu(i)->stopped) {
            return false;
        }
    }
    return true;
}

static void tcg_pause_all_vcpus(void)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        if (!cpu->stopped) {
            cpu->stop = true;
            tcg_cpu_kick(cpu);
            qemu_cond_broadcast(&cpu->halt_cond);
        }
    }
    while (!tcg_all_vcpus_paused()) {
        bql_cond_wait(&tcg_pause_cond);
    }
    trace_tcg_pause_all(qemu_cpu_count());
}

static void tcg_resume_all_vcpus(void)
{
    trace_tcg_resume_all(qemu_cpu_count());
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        cpu->stop = false;
        cpu->stopped = false;
        qemu_cond_broadcast(&cpu->halt_cond);
    }
}

static int tcg_vcpu_count(void)
{
    return qemu_cpu_count();
}

/* Postcopy blocktime: the userfaultfd names the faulting thread. */
static int tcg_vcpu_index_from_tid(uint32_t tid)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        if ((uint32_t)qemu_get_cpu(i)->thread_id == tid) {
            return i;
        }
    }
    return -1;
}

static void tcg_destroy_vcpus(void)
{
    for (int i = 0; i < qemu_cpu_count(); i++) {
        CPUState *cpu = qemu_get_cpu(i);

        if (!cpu->created) {
            continue;
        }
        cpu->exit_thread = true;
        tcg_cpu_kick(cpu);
        qemu_cond_broadcast(&cpu->halt_cond);
        bql_unlock();
        qemu_thread_join(&cpu->thread);
        bql_lock();
        cpu->created = false;
        tcg_arch_destroy_vcpu(cpu);
    }
}

static const AccelOpsClass tcg_accel_ops = {
    .name = "tcg",
    .pause_all_vcpus = tcg_pause_all_vcpus,
    .resume_all_vcpus = tcg_resume_all_vcpus,
    .vcpu_count = tcg_vcpu_count,
    .vcpu_index_from_tid = tcg_vcpu_index_from_tid,
    .destroy_vcpus = tcg_destroy_vcpus,
};

bool tcg_accel_ops_init(Error **errp)
{
    struct sigaction sa = { .sa_handler = tcg_ipi_handler };

    /* No SA_RESTART: the signal must interrupt a userfaultfd wait. */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIG_IPI, &sa, NULL) < 0) {
        error_setg_errno(errp, errno, "TCG: cannot install the vCPU kick "
                         "handler");
        return false;
    }
    qemu_cond_init(&tcg_pause_cond);
    qemu_cond_init(&tcg_cpu_cond);
    tcg_allowed = true;
    cpus_register_accel(&tcg_accel_ops);
    trace_tcg_accel_init();
    return true;
}

bool tcg_start_vcpu(CPUState *cpu, Error **errp)
{
    if (!tcg_arch_init_vcpu(cpu, errp)) {
        return false;
    }
    tcg_start_vcpu_thread(cpu);
    return true;
}
