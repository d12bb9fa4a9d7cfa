/*
 * fuzz.h: the loadvm fuzz target's entry points (private to tests/fuzz).
 *
 * fuzz-loadvm.c implements the libFuzzer interface; the same object is
 * linked either with libFuzzer (-fsanitize=fuzzer, clang only) or with
 * standalone-main.c, which replays seed files and deterministic
 * mutations of them (the "fuzz-smoke" test of every build).
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include "qemu/osdep.h"
#include "qapi/error.h"

/* libFuzzer's interface: one-time set-up, then one call per input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Loads @data as an incoming stream and puts the destination back as it
 * was.  Returns what qemu_loadvm_state() returned (0: the stream loaded);
 * on failure *@errp says why.  Aborts if the loader broke the Error
 * convention (a failure without an error, or an error on success).
 */
int fuzz_loadvm_run(const uint8_t *data, size_t size, Error **errp);

/*
 * A complete precopy stream saved by this process's own source side
 * (header, return-path commands, ram, timer, globalstate, EOF and the
 * JSON description), with a few non-zero pages so that it carries PAGE
 * records as well as ZERO ones.  It must load with fuzz_loadvm_run();
 * the caller frees it.  Call after LLVMFuzzerInitialize().
 */
uint8_t *fuzz_loadvm_native_stream(size_t *len, Error **errp);

#endif
