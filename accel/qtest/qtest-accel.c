/*
 * qtest-accel.c: the qtest accelerator.
 *
 * It runs no guest code.  Its virtual clock (QEMU_CLOCK_VIRTUAL under
 * -accel qtest) stands still except when a qtest client moves it with
 * clock_step / clock_set.  It is ferry's default accelerator.
 */
#include "qemu/osdep.h"
#include "sysemu/qtest.h"
#include "sysemu/cpus.h"
#include "qemu/atomic.h"
#include "trace.h"

static bool qtest_accel_active;
static int64_t qtest_clock_ns;

static const AccelOpsClass qtest_accel_ops = {
    .name = "qtest",
};

bool qtest_enabled(void)
{
    return qtest_accel_active;
}

void qtest_accel_init(void)
{
    qtest_accel_active = true;
    cpus_register_accel(&qtest_accel_ops);
}

int64_t qtest_get_virtual_clock(void)
{
    return qatomic_read(&qtest_clock_ns);
}

void qtest_set_virtual_clock(int64_t ns)
{
    trace_qtest_clock_set(ns);
    qatomic_set(&qtest_clock_ns, ns);
}
