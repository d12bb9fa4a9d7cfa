/*
 * fuzz.h: what a fuzz target provides (private to tests/fuzz).
 *
 * Each fuzz-<name>.c defines one FuzzTarget, fuzz_target.  The same
 * object is linked twice: with fuzz-libfuzzer.c and libFuzzer
 * (-fsanitize=fuzzer, clang only: the executable fuzz-<name>), and with
 * standalone-main.c, which any compiler builds and which replays seed
 * files, corpora and deterministic mutations of them as a TAP test
 * (fuzz-<name>-replay, in the default test suites).
 *
 * Rules for a target: nothing is caught — an abort, an assertion or a
 * sanitizer report is a finding, and so is a broken rule the target
 * checks itself (it then calls fuzz_finding()).  Every input starts from
 * the same state: whatever an input changed is put back before the next.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include "qemu/osdep.h"

/* A seed the target makes itself (e.g. a stream ferry saves). */
typedef void (*FuzzSeedFn)(const char *name, const uint8_t *data,
                           size_t len, void *opaque);

typedef struct FuzzTarget {
    const char *name;
    /* Once, before any input; exits (status 1) if the set-up fails. */
    void (*init)(void);
    /*
     * Runs one input: 0 if it was accepted as a whole (a stream loaded,
     * every command answered without an error...), 1 if it was refused
     * cleanly, with *@why (if @why is not NULL) saying why.
     */
    int (*run)(const uint8_t *data, size_t size, char **why);
    /* Optional: seeds every one of which run() must accept. */
    void (*make_seeds)(FuzzSeedFn add, void *opaque);
} FuzzTarget;

extern const FuzzTarget fuzz_target;

/* libFuzzer's interface (fuzz-libfuzzer.c). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken rule: prints "<target>: FINDING: <what>" and aborts. */
void fuzz_finding(const char *fmt, ...) G_GNUC_PRINTF(1, 2) QEMU_NORETURN;

/* FERRY_FUZZ_TRACE=PATTERN enables trace events (as -trace PATTERN). */
void fuzz_setup_trace(void);

/*
 * "-M @type -m @ram_size", as qemu_init() creates it (after the machine
 * types are registered); exits (set-up failure) if it cannot be made.
 */
struct MachineState *fuzz_machine_create(const char *type,
                                         uint64_t ram_size);

/* A harness problem (not a finding): prints it and exits 1. */
void fuzz_setup_failed(const char *what, const char *why) QEMU_NORETURN;

#endif
