/*
 * cpu-common.c: the machine's list of vCPUs.
 *
 * Filled by the board at init (main thread, before any vCPU thread runs)
 * and read-only afterwards, so readers take no lock.
 */
#include "qemu/osdep.h"
#include "hw/core/cpu.h"

static GPtrArray *cpus;

void qemu_cpu_add(CPUState *cpu)
{
    if (!cpus) {
        cpus = g_ptr_array_new();
    }
    cpu->cpu_index = cpus->len;
    g_ptr_array_add(cpus, cpu);
}

CPUState *qemu_get_cpu(int index)
{
    return cpus && index >= 0 && (guint)index < cpus->len
           ? cpus->pdata[index] : NULL;
}

int qemu_cpu_count(void)
{
    return cpus ? cpus->len : 0;
}
