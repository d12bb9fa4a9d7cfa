/*
 * cpu-timers.h: the guest's virtual clock and the "timer" section.
 *
 * QEMU_CLOCK_VIRTUAL runs with the VM: it is the host monotonic clock
 * plus an offset while the VM runs, and frozen while it is stopped.
 * Under the qtest accelerator it moves only when qtest says so.  The
 * offsets travel in the "timer" section (spec §3.5), whose layout is
 * QEMU 7.2's: be64 cpu_ticks_offset, 8 unused bytes, be64
 * cpu_clock_offset.
 */
#ifndef SYSEMU_CPU_TIMERS_H
#define SYSEMU_CPU_TIMERS_H

#include "qemu/osdep.h"

void cpu_timers_init(void);
/* Guest virtual time in ns. */
int64_t cpu_get_clock(void);
/* Guest TSC-like tick counter (host ticks while running). */
int64_t cpu_get_ticks(void);

#endif
