/*
 * fuzz-common.c: what every fuzz target shares (fuzz.h), linked into
 * both the libFuzzer and the standalone executables.
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "qapi/error.h"
#include "trace/control.h"
#include "hw/boards.h"

void fuzz_finding(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fuzz-%s: FINDING: ", fuzz_target.name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

void fuzz_setup_failed(const char *what, const char *why)
{
    fprintf(stderr, "fuzz-%s: set-up failed: %s: %s\n", fuzz_target.name,
            what, why ? why : "unknown error");
    exit(1);
}

MachineState *fuzz_machine_create(const char *type, uint64_t ram_size)
{
    const MachineClass *mc = machine_find_class(type);
    g_autofree char *what = NULL;
    MachineState *ms;
    Error *err = NULL;

    if (!mc) {
        fuzz_setup_failed("machine", type);
    }
    ms = machine_new(mc);
    ms->ram_size = ram_size;
    ms->ram_size_set = true;
    if (!machine_run_board_init(ms, &err)) {
        what = g_strdup_printf("machine %s with %" PRIu64 " MiB", type,
                               ram_size >> 20);
        fuzz_setup_failed(what, error_get_pretty(err));
    }
    return ms;
}

void fuzz_setup_trace(void)
{
    const char *pattern = g_getenv("FERRY_FUZZ_TRACE");
    Error *err = NULL;

    if (pattern && !trace_opt_parse(pattern, &err)) {
        fuzz_setup_failed("FERRY_FUZZ_TRACE", error_get_pretty(err));
    }
}
