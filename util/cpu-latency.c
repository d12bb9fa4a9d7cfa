/*
 * cpu-latency.c: PM QoS CPU wake-up latency requests (see the header).
 */
#include "qemu/osdep.h"
#include "qemu/cpu-latency.h"
#include "trace.h"

#include <fcntl.h>

int qemu_cpu_latency_request(int us, Error **errp)
{
    int32_t value = us;
    int fd;

    if (us < 0 || us > CPU_LATENCY_MAX_US) {
        error_setg(errp, "CPU wake-up latency %d us is out of range "
                   "(0 to %d)", us, CPU_LATENCY_MAX_US);
        return -1;
    }
    fd = open(CPU_LATENCY_DEVICE, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        error_setg_errno(errp, errno, "%s", CPU_LATENCY_DEVICE);
        return -1;
    }
    /* The kernel takes a binary s32; the request lives as long as @fd. */
    if (write(fd, &value, sizeof(value)) != sizeof(value)) {
        error_setg_errno(errp, errno, "%s: cannot request %d us",
                         CPU_LATENCY_DEVICE, us);
        close(fd);
        return -1;
    }
    trace_qemu_cpu_latency_request(us, fd);
    return fd;
}

void qemu_cpu_latency_release(int handle)
{
    if (handle >= 0) {
        close(handle);
        trace_qemu_cpu_latency_release(handle);
    }
}
