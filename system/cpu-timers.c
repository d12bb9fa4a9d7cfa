/*
 * cpu-timers.c: the virtual clock that stops with the VM, and its
 * "timer" section.
 *
 * While the VM runs, clock = host monotonic + cpu_clock_offset; when it
 * stops, the current value is frozen into cpu_clock_offset (and the
 * same for the tick counter), so time does not advance while paused — or
 * while the VM travels to another host.  Protected by the BQL (run-state
 * changes and migration's device save/load hold it).
 */
#include "qemu/osdep.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/runstate.h"
#include "sysemu/qtest.h"
#include "migration/vmstate.h"
#include "migration/register.h"
#include "trace.h"

typedef struct TimersState {
    int64_t cpu_ticks_prev;
    int64_t cpu_ticks_offset;
    int64_t cpu_clock_offset;
    bool enabled;                   /* VM running */
} TimersState;

static TimersState timers_state;

static int64_t host_ticks(void)
{
    return get_clock();
}

int64_t cpu_get_clock(void)
{
    if (qtest_enabled()) {
        return qtest_get_virtual_clock();
    }
    return timers_state.enabled ? get_clock() + timers_state.cpu_clock_offset
                                : timers_state.cpu_clock_offset;
}

int64_t cpu_get_ticks(void)
{
    int64_t t = timers_state.cpu_ticks_offset;

    if (timers_state.enabled) {
        t += host_ticks();
    }
    /* Never go backwards, even if the host clock did. */
    if (t < timers_state.cpu_ticks_prev) {
        t = timers_state.cpu_ticks_prev;
    }
    timers_state.cpu_ticks_prev = t;
    return t;
}

static void cpu_enable_ticks(void)
{
    if (!timers_state.enabled) {
        timers_state.cpu_ticks_offset -= host_ticks();
        timers_state.cpu_clock_offset -= get_clock();
        timers_state.enabled = true;
    }
}

static void cpu_disable_ticks(void)
{
    if (timers_state.enabled) {
        timers_state.cpu_ticks_offset += host_ticks();
        timers_state.cpu_clock_offset += get_clock();
        timers_state.enabled = false;
    }
}

static void cpu_timers_vm_state(void *opaque, bool running, RunState st)
{
    if (running) {
        cpu_enable_ticks();
    } else {
        cpu_disable_ticks();
    }
    trace_cpu_timers_state(running, timers_state.cpu_clock_offset);
}

static const VMStateDescription vmstate_timers = {
    .name = "timer",
    .version_id = 2,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_INT64(cpu_ticks_offset, TimersState),
        VMSTATE_UNUSED(8),
        VMSTATE_INT64_V(cpu_clock_offset, TimersState, 2),
        VMSTATE_END_OF_LIST()
    },
};

void cpu_timers_init(void)
{
    vmstate_register(0, &vmstate_timers, &timers_state);
    qemu_add_vm_change_state_handler(cpu_timers_vm_state, NULL);
}
