/*
 * fuzz-libfuzzer.c: libFuzzer's entry points over fuzz_target (fuzz.h).
 */
#include "qemu/osdep.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static bool done;

    if (!done) {
        fuzz_target.init();
        done = true;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_target.run(data, size, NULL);
    return 0;
}
