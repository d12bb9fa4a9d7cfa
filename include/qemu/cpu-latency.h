/*
 * cpu-latency.h: ask the kernel to keep CPU wake-ups fast for a while.
 *
 * A request goes through /dev/cpu_dma_latency (Linux PM QoS): while the
 * file stays open, idle CPUs only enter idle states that wake within the
 * requested number of microseconds.  With 0 they poll instead of halting,
 * so waking a thread on an idle CPU costs about a microsecond instead of
 * the idle state's exit latency (tens of microseconds on hardware C-states
 * or a virtual CPU that halts to its hypervisor).
 *
 * The request is system-wide and costs power while held, so callers hold
 * it only for short, latency-critical phases.  It needs write access to
 * the device (root, normally).
 */
#ifndef QEMU_CPU_LATENCY_H
#define QEMU_CPU_LATENCY_H

#include "qapi/error.h"

#define CPU_LATENCY_DEVICE "/dev/cpu_dma_latency"
#define CPU_LATENCY_MAX_US 2000000000

/*
 * Starts a request for wake-ups within @us microseconds (0 ..
 * CPU_LATENCY_MAX_US).  Returns a handle (>= 0) for
 * qemu_cpu_latency_release(), or -1 with @errp set.
 */
int qemu_cpu_latency_request(int us, Error **errp);
/* Ends the request; a negative handle is ignored. */
void qemu_cpu_latency_release(int handle);

#endif
