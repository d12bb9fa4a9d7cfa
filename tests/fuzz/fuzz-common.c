/*
 * fuzz-common.c: what every fuzz target shares (fuzz.h), linked into
 * both the libFuzzer and the standalone executables.
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "qapi/error.h"
#include "trace/control.h"

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

void fuzz_setup_trace(void)
{
    const char *pattern = g_getenv("FERRY_FUZZ_TRACE");
    Error *err = NULL;

    if (pattern && !trace_opt_parse(pattern, &err)) {
        fuzz_setup_failed("FERRY_FUZZ_TRACE", error_get_pretty(err));
    }
}
