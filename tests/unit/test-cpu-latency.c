/*
 * test-cpu-latency: PM QoS CPU wake-up latency requests.
 *
 * Out-of-range values are refused before the device is touched.  Where
 * /dev/cpu_dma_latency is writable, a request shows in the kernel's target
 * (which reads back as the smallest request held), a second one stacks on
 * it, and each release gives the previous target back.
 */
#include "qemu/osdep.h"
#include "qemu/cpu-latency.h"

#include <fcntl.h>

static int32_t target_now(void)
{
    int32_t v = -1;
    int fd = open(CPU_LATENCY_DEVICE, O_RDONLY | O_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(read(fd, &v, sizeof(v)), ==, sizeof(v));
    close(fd);
    return v;
}

static void test_out_of_range(void)
{
    Error *err = NULL;

    g_assert_cmpint(qemu_cpu_latency_request(-1, &err), ==, -1);
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, "CPU wake-up latency -1 us is "
                    "out of range (0 to 2000000000)");
    error_free(err);
    err = NULL;
    g_assert_cmpint(qemu_cpu_latency_request(CPU_LATENCY_MAX_US + 1, &err),
                    ==, -1);
    g_assert_nonnull(err);
    error_free(err);
    /* Releasing "no request" is allowed. */
    qemu_cpu_latency_release(-1);
}

static void test_hold_and_release(void)
{
    Error *err = NULL;
    int32_t base;
    int a, b;

    if (access(CPU_LATENCY_DEVICE, W_OK) < 0) {
        g_test_skip(CPU_LATENCY_DEVICE " is not writable here");
        return;
    }
    base = target_now();
    if (base <= 25) {
        g_test_skip("something else already holds 25 us or less");
        return;
    }
    a = qemu_cpu_latency_request(25, &err);
    g_assert_null(err);
    g_assert_cmpint(a, >=, 0);
    g_assert_cmpint(target_now(), ==, 25);
    b = qemu_cpu_latency_request(3, &err);
    g_assert_null(err);
    g_assert_cmpint(target_now(), ==, 3);
    qemu_cpu_latency_release(b);
    g_assert_cmpint(target_now(), ==, 25);
    qemu_cpu_latency_release(a);
    g_assert_cmpint(target_now(), ==, base);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cpu-latency/out-of-range", test_out_of_range);
    g_test_add_func("/cpu-latency/hold-and-release", test_hold_and_release);
    return g_test_run();
}
