/*
 * fuzz-loadvm.c: libFuzzer target — arbitrary bytes into the incoming
 * loader.
 *
 * Design note
 *
 * LLVMFuzzerInitialize() builds, once, what "ferry -M none -m 64M
 * -incoming defer" has when a stream arrives: the main loop and BQL, the
 * "timer" section (cpu_timers_init), migration (ram, globalstate), the
 * "none" machine with 64 MiB of RAM and run state inmigrate — in
 * qemu_init()'s order, so section ids and instance ids are the real ones.
 * No thread, socket, monitor or signal handler is started.
 *
 * Each input becomes a read-only memory channel and a QEMUFile, set as
 * the incoming state's from_src_file (OPEN_RETURN_PATH opens its return
 * path on the same channel, whose writes then fail, as on a dead link),
 * and qemu_loadvm_state() runs in this thread without the BQL, as in the
 * incoming thread (device sections take it themselves).  Afterwards the
 * destination is put back: load_cleanup hooks, the loader's handler list,
 * the return path and the main file, the postcopy state, the globalstate
 * "received" flag and buffer, and the incoming state's counters.  Guest
 * RAM keeps what the input wrote: its content does not steer the parser.
 *
 * Nothing is caught.  An abort, assert, ASan or UBSan report is a finding
 * (ferry's rule: nothing from the stream may abort).  On top of memory
 * safety the target checks the rules that make inputs independent and
 * errors usable, and aborts when one is broken: a failure comes with an
 * Error and a success without one; the loader leaves the run state, the
 * incoming status and the BQL as it found them.
 *
 * FERRY_FUZZ_TRACE=PATTERN enables trace events (as -trace PATTERN).
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "migration/migration.h"
#include "migration/incoming.h"
#include "migration/loadvm.h"
#include "migration/savevm.h"
#include "migration/return-path.h"
#include "migration/misc.h"
#include "migration/postcopy-ram.h"
#include "migration/qemu-file.h"
#include "migration/channel.h"
#include "migration/global_state.h"
#include "hw/boards.h"
#include "exec/memory.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "sysemu/runstate.h"
#include "sysemu/cpu-timers.h"
#include "trace/control.h"

#define FUZZ_RAM_SIZE       (64ull << 20)
/* Where the native stream's non-zero pages go (the captures' pattern). */
#define FUZZ_PATTERN_ADDR   0x100000
#define FUZZ_PATTERN_PAGES  16

static bool fuzz_initialised;

static void fuzz_setup_failed(const char *what, Error *err) QEMU_NORETURN;
static void fuzz_setup_failed(const char *what, Error *err)
{
    /* A harness problem, not a finding: say so and stop. */
    fprintf(stderr, "fuzz-loadvm: set-up failed: %s: %s\n", what,
            err ? error_get_pretty(err) : "unknown error");
    exit(1);
}

static void fuzz_setup_trace(void)
{
    const char *pattern = g_getenv("FERRY_FUZZ_TRACE");
    Error *err = NULL;

    if (pattern && !trace_opt_parse(pattern, &err)) {
        fuzz_setup_failed("FERRY_FUZZ_TRACE", err);
    }
}

/* qemu_init() for "-M none -m 64M -incoming defer", minus the I/O. */
static void fuzz_setup_destination(void)
{
    const MachineClass *mc;
    MachineState *ms;
    Error *err = NULL;

    qemu_init_host_page();
    fuzz_setup_trace();
    qemu_main_loop_init();          /* takes the BQL */
    machine_register_builtin();
    cpu_timers_init();              /* registration order = wire order */
    migration_init();

    mc = machine_find_class("none");
    if (!mc) {
        fuzz_setup_failed("machine", NULL);
    }
    ms = machine_new(mc);
    ms->ram_size = FUZZ_RAM_SIZE;
    ms->ram_size_set = true;
    if (!machine_run_board_init(ms, &err)) {
        fuzz_setup_failed("machine 'none' with 64 MiB", err);
    }
    runstate_set(RUN_STATE_INMIGRATE);
    /* The loader runs as the incoming thread does: BQL not held. */
    bql_unlock();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (!fuzz_initialised) {
        fuzz_setup_destination();
        fuzz_initialised = true;
    }
    return 0;
}

static void fuzz_broken_rule(const char *rule, int ret, Error *err)
    QEMU_NORETURN;
static void fuzz_broken_rule(const char *rule, int ret, Error *err)
{
    fprintf(stderr, "fuzz-loadvm: FINDING: %s (qemu_loadvm_state returned "
            "%d, error: %s)\n", rule, ret,
            err ? error_get_pretty(err) : "none");
    abort();
}

/* What every load must leave as it found it, and the Error convention. */
static void fuzz_check_rules(MigrationIncomingState *mis, int ret,
                             Error *err)
{
    if (ret < 0 && !err) {
        fuzz_broken_rule("load failed without setting an Error", ret, err);
    }
    if (ret >= 0 && err) {
        fuzz_broken_rule("Error set although the load did not fail", ret,
                         err);
    }
    if (!runstate_check(RUN_STATE_INMIGRATE)) {
        fuzz_broken_rule("the loader changed the run state", ret, err);
    }
    if (qatomic_read(&mis->state) != MIGRATION_STATUS_NONE) {
        fuzz_broken_rule("the loader changed the incoming status", ret, err);
    }
    if (bql_locked()) {
        fuzz_broken_rule("the loader returned with the BQL held", ret, err);
    }
}

/* Undoes everything a load may have changed (see the design note). */
static void fuzz_reset_incoming(MigrationIncomingState *mis)
{
    qemu_loadvm_state_cleanup(mis);
    rp_writer_detach(mis->rp);          /* (its writes failed: read-only) */
    qemu_fclose(mis->from_src_file);
    mis->from_src_file = NULL;
    /* A new PostcopyIncoming for the next input (state NONE). */
    postcopy_incoming_free(mis->postcopy);
    mis->postcopy = NULL;
    global_state_reset_received();
    global_state_store_running_state(RUN_STATE_RUNNING);
    mis->pages_received = 0;
    migration_incoming_set_error(mis, NULL);
}

int fuzz_loadvm_run(const uint8_t *data, size_t size, Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    MigChannel *ioc = mig_channel_new_buffer(data, size, "fuzz-input");
    Error *err = NULL;
    int ret;

    /* As incoming_process() and incoming_thread() do. */
    mis->from_src_file = qemu_file_new_input(ioc);
    mig_channel_unref(ioc);
    migration_incoming_prepare(mis);
    global_state_reset_received();
    ret = qemu_loadvm_state(mis->from_src_file, mis, &err);
    savevm_foreach_load_cleanup();

    fuzz_check_rules(mis, ret, err);
    fuzz_reset_incoming(mis);
    error_propagate(errp, err);
    return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Error *err = NULL;

    fuzz_loadvm_run(data, size, &err);
    error_free(err);
    return 0;
}

/* A few pages of pattern, so the native stream has PAGE records. */
static void fuzz_fill_pattern(void)
{
    uint8_t page[TARGET_PAGE_SIZE];

    for (unsigned p = 0; p < FUZZ_PATTERN_PAGES; p++) {
        for (unsigned i = 0; i < sizeof(page); i++) {
            page[i] = (uint8_t)(i * 7 + p * 13 + 1);
        }
        cpu_physical_memory_write(FUZZ_PATTERN_ADDR + p * TARGET_PAGE_SIZE,
                                  page, sizeof(page));
    }
}

/* The source side of a precopy, as outgoing.c runs it, into @f. */
static int fuzz_save_precopy(QEMUFile *f, Error **errp)
{
    int ret;

    qemu_savevm_state_header(f);
    qemu_savevm_send_open_return_path(f);
    qemu_savevm_send_ping(f, 1);
    ret = qemu_savevm_state_setup(f, errp);
    while (ret == 0) {
        ret = qemu_savevm_state_iterate(f, false, errp);
    }
    if (ret > 0) {
        ret = qemu_savevm_state_complete_precopy(f, false, errp);
    }
    qemu_savevm_state_cleanup();
    return ret;
}

uint8_t *fuzz_loadvm_native_stream(size_t *len, Error **errp)
{
    MigChannel *ioc = mig_channel_new_writer("fuzz-native");
    QEMUFile *f = qemu_file_new_output(ioc);
    uint8_t *copy = NULL;
    int ret;

    bql_lock();
    fuzz_fill_pattern();
    ret = fuzz_save_precopy(f, errp);
    bql_unlock();
    if (ret == 0) {
        const uint8_t *data;

        qemu_fflush(f);
        data = mig_channel_buffer_data(ioc, len);
        copy = g_malloc(*len ? *len : 1);
        memcpy(copy, data, *len);
    }
    qemu_fclose(f);
    mig_channel_unref(ioc);
    return copy;
}
