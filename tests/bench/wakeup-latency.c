/*
 * wakeup-latency: what one thread wake-up costs on this machine.
 *
 * Two threads bounce a byte over a pair of pipes; each round trip is two
 * wake-ups.  Measured with both threads on one CPU, on two CPUs, and on
 * two CPUs while a PM QoS request of 0 us is held (what
 * -global migration.x-postcopy-cpu-latency=0 does during postcopy).
 * Between round trips the caller idles 500 us, so that an idle CPU may
 * enter its idle state, as it does between postcopy faults.
 *
 * A benchmark, not a test: prints p50 / p90 / p99 per setting, exits 0
 * (2 on bad arguments).  Usage: wakeup-latency [ROUND_TRIPS]
 */
#include "qemu/osdep.h"
#include "qemu/cpu-latency.h"

#include <pthread.h>
#include <sched.h>

static int ping[2], pong[2];
static int echo_cpu;

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
        fprintf(stderr, "wakeup-latency: cannot run on CPU %d\n", cpu);
        exit(1);
    }
}

static void *echo_thread(void *opaque)
{
    char c;

    pin(echo_cpu);
    while (read(ping[0], &c, 1) == 1 && c) {
        if (write(pong[1], &c, 1) != 1) {
            break;
        }
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void measure(const char *what, int cpu_a, int cpu_b, int n)
{
    g_autofree double *us = g_new(double, n);
    pthread_t th;
    char c = 1;

    echo_cpu = cpu_b;
    pin(cpu_a);
    if (pipe(ping) || pipe(pong) ||
        pthread_create(&th, NULL, echo_thread, NULL)) {
        perror("wakeup-latency");
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        int64_t t0 = g_get_monotonic_time();
        struct timespec idle = { 0, 500 * 1000 };

        if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) {
            perror("wakeup-latency");
            exit(1);
        }
        us[i] = g_get_monotonic_time() - t0;
        /* Pacing, not waiting for anything: let the CPUs go idle. */
        nanosleep(&idle, NULL);
    }
    c = 0;
    if (write(ping[1], &c, 1) != 1) {
        perror("wakeup-latency");
    }
    pthread_join(th, NULL);
    close(ping[0]);
    close(ping[1]);
    close(pong[0]);
    close(pong[1]);
    qsort(us, n, sizeof(us[0]), cmp_double);
    printf("%-34s round trip p50 %7.1f  p90 %7.1f  p99 %7.1f us\n", what,
           us[n / 2], us[n * 9 / 10], us[n * 99 / 100]);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    Error *err = NULL;
    int qos;

    if (argc > 2 || n < 100) {
        fprintf(stderr, "usage: wakeup-latency [ROUND_TRIPS >= 100]\n");
        return 2;
    }
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        measure("one CPU", 0, 0, n);
        printf("(one CPU online: nothing to compare)\n");
        return 0;
    }
    measure("one CPU", 0, 0, n);
    measure("two CPUs", 0, 1, n);
    qos = qemu_cpu_latency_request(0, &err);
    if (qos < 0) {
        printf("%-34s skipped: %s\n", "two CPUs, cpu-latency 0",
               error_get_pretty(err));
        error_free(err);
        return 0;
    }
    measure("two CPUs, cpu-latency 0", 0, 1, n);
    qemu_cpu_latency_release(qos);
    return 0;
}
