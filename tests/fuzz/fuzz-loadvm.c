/*
 * fuzz-loadvm.c: fuzz target "loadvm" — arbitrary bytes into the incoming
 * loader of a destination with postcopy-ram on.
 *
 * Design note
 *
 * fuzz_loadvm_init() builds, once, what "ferry -M none -m 64M -incoming
 * defer" has when a stream arrives, with the capabilities events and
 * postcopy-ram on: the main loop and BQL, the "timer" section
 * (cpu_timers_init), migration (ram, globalstate), the "none" machine with
 * 64 MiB of RAM and run state inmigrate — in qemu_init()'s order, so
 * section ids and instance ids are the real ones.  No socket, monitor or
 * signal handler is started.
 *
 * Each input becomes a read-only memory channel and a QEMUFile, set as
 * the incoming state's from_src_file (OPEN_RETURN_PATH opens its return
 * path on the same channel, whose writes then fail, as on a dead link);
 * the status goes none -> active as in incoming_process(), and
 * qemu_loadvm_state() runs in this thread without the BQL, as in the
 * incoming thread.  A postcopy stream goes on as in a real destination:
 * ADVISE, DISCARD, the package in this thread, LISTEN starting the real
 * listen thread on the rest of the input, RUN — with the postcopy code in
 * harness mode (postcopy_incoming_set_harness(): pages placed by a copy
 * instead of UFFDIO_COPY, no userfaultfd, no page requests, RUN does not
 * start the VM).  Once the incoming thread's part is done the harness
 * waits, without polling, until the listen thread has finished or has
 * paused (the input ended after RUN: an I/O error), and then ends the
 * paused migration as the process's exit would (postcopy_incoming_
 * shutdown()).  Afterwards the destination is put back: load_cleanup
 * hooks, the loader's tables, the return path and the main file, the
 * postcopy state, the globalstate "received" flag and buffer, and the
 * incoming state's status and counters.  Guest RAM keeps what the input
 * wrote: its content does not steer the parser.
 *
 * Nothing is caught.  An abort, assert, ASan or UBSan report is a finding
 * (ferry's rule: nothing from the stream may abort).  On top of memory
 * safety the target checks the rules that make inputs independent and
 * errors usable, and reports a finding when one is broken: a failure comes
 * with an Error and a success without one; the loader leaves the run
 * state and the BQL as it found them; every postcopy thread has ended.
 *
 * FERRY_FUZZ_TRACE=PATTERN enables trace events (as -trace PATTERN).
 */
#include "qemu/osdep.h"
#include "fuzz.h"
#include "qapi/error.h"
#include "qapi/qmp-event.h"
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
#include "migration/options.h"

#define FUZZ_RAM_SIZE       (64ull << 20)

/*
 * The machine the stream is loaded into.  fuzz-loadvm-pc.c defines these
 * for pc-lite (device sections: the vCPU, the UART, port 0x92) and
 * includes this file.
 */
#ifndef FUZZ_MACHINE
#define FUZZ_MACHINE        "none"
#define FUZZ_TARGET_NAME    "loadvm"
/* What the machine needs before it is created (pc-lite: a boot disk). */
static void fuzz_machine_prepare(void)
{
}
#endif
/* Where the native stream's non-zero pages go (the captures' pattern). */
#define FUZZ_PATTERN_ADDR   0x100000
#define FUZZ_PATTERN_PAGES  16

/* What the listen thread hands over, and what wakes the harness. */
typedef struct FuzzListen {
    QemuEvent wake;             /* ->finished, or a MIGRATION event */
    bool finished;              /* atomic */
    Error *err;                 /* its result, once finished */
} FuzzListen;

static FuzzListen fuzz_listen;

static void fuzz_set_caps(void)
{
    g_autoptr(JsonNode) node = json_from_string(
        "{\"capabilities\": ["
        "{\"capability\": \"events\", \"state\": true},"
        "{\"capability\": \"postcopy-ram\", \"state\": true}]}", NULL);
    Error *err = NULL;
    char *ret;

    ret = qmp_migrate_set_capabilities(json_node_get_object(node), &err);
    if (err) {
        fuzz_setup_failed("capabilities", error_get_pretty(err));
    }
    g_free(ret);
}

/*
 * An input for two channels, postcopy-preempt on: the magic, the main
 * channel's length (be32), its stream, then the preempt channel's, handed
 * over before the load starts (QEMU 7.2's order).  Any other input is the
 * main channel's alone, with postcopy-preempt off.
 */
#define FUZZ_TWO_CHANNELS "FZP2"

static void fuzz_set_preempt(bool on)
{
    static bool preempt;
    g_autofree char *json = NULL;
    g_autoptr(JsonNode) node = NULL;
    Error *err = NULL;

    if (on == preempt) {
        return;
    }
    json = g_strdup_printf("{\"capabilities\": [{\"capability\": "
                           "\"postcopy-preempt\", \"state\": %s}]}",
                           on ? "true" : "false");
    node = json_from_string(json, NULL);
    g_free(qmp_migrate_set_capabilities(json_node_get_object(node), &err));
    if (err) {
        fuzz_setup_failed("postcopy-preempt", error_get_pretty(err));
    }
    preempt = on;
}

/* Every event (a status change) may be the pause the harness waits for. */
static void fuzz_event(const char *event, const char *message)
{
    qemu_event_set(&fuzz_listen.wake);
}

/* qemu_init() for "-M none -m 64M -incoming defer", minus the I/O. */
static void fuzz_setup_destination(void)
{
    qemu_init_host_page();
    fuzz_setup_trace();
    qemu_event_init(&fuzz_listen.wake, false);
    qapi_event_set_emitter(fuzz_event);
    qemu_main_loop_init();          /* takes the BQL */
    machine_register_builtin();
    cpu_timers_init();              /* registration order = wire order */
    migration_init();

    fuzz_machine_prepare();
    fuzz_set_caps();
    fuzz_machine_create(FUZZ_MACHINE, FUZZ_RAM_SIZE);
    runstate_set(RUN_STATE_INMIGRATE);
    /* The loader runs as the incoming thread does: BQL not held. */
    bql_unlock();
}

/* ---- the postcopy code's hooks: incoming.c's, and the harness's end */

/* The listen thread's last act: the result, and wake the harness. */
static void fuzz_listen_finished(void *opaque, Error *err)
{
    savevm_foreach_load_cleanup();
    fuzz_listen.err = err;
    qatomic_set(&fuzz_listen.finished, true);
    qemu_event_set(&fuzz_listen.wake);
}

static const PostcopyIncomingOps fuzz_postcopy_ops = {
    .load_main = migration_incoming_load_main,
    .load_preempt = migration_incoming_load_preempt,
    .link_reset = migration_incoming_link_reset,
    .finished = fuzz_listen_finished,
};

/*
 * The incoming thread's part is done (the package loaded or failed):
 * waits for the listen thread to finish, or to pause, which it ends as
 * an exit would.  Returns the migration's result.
 */
static int fuzz_wait_listen(MigrationIncomingState *mis, int ret,
                            Error **errp)
{
    PostcopyIncoming *pc = mis->postcopy;
    Error *err = NULL;

    if (ret < 0) {
        error_propagate(&err, *errp);
        *errp = NULL;
    }
    /* As incoming_thread(): it takes the error (a failed package). */
    postcopy_incoming_package_done(pc, err);
    for (;;) {
        qemu_event_reset(&fuzz_listen.wake);
        if (qatomic_read(&fuzz_listen.finished)) {
            break;
        }
        if (qatomic_read(&mis->state) == MIGRATION_STATUS_POSTCOPY_PAUSED) {
            /* (Calls ->finished before it returns.) */
            postcopy_incoming_shutdown(pc);
            break;
        }
        qemu_event_wait(&fuzz_listen.wake);
    }
    postcopy_incoming_join(pc);
    qatomic_set(&fuzz_listen.finished, false);
    if (fuzz_listen.err) {
        error_propagate(errp, fuzz_listen.err);
        fuzz_listen.err = NULL;
        return -EIO;
    }
    return 0;
}

static void fuzz_check_rules(int ret, Error *err)
{
    if (ret < 0 && !err) {
        fuzz_finding("load failed (%d) without setting an Error", ret);
    }
    if (ret >= 0 && err) {
        fuzz_finding("an Error although the load did not fail: %s",
                     error_get_pretty(err));
    }
    if (!runstate_check(RUN_STATE_INMIGRATE)) {
        fuzz_finding("the loader changed the run state to %s",
                     RunState_str(runstate_get()));
    }
    if (bql_locked()) {
        fuzz_finding("the loader returned with the BQL held");
    }
}

/* Undoes everything a load may have changed (see the design note). */
static void fuzz_reset_incoming(MigrationIncomingState *mis)
{
    qemu_loadvm_state_cleanup(mis);
    /* (Closed already if the link "broke" after RUN.) */
    migration_incoming_close_channels(mis);
    /* Every postcopy thread has ended: it asserts so. */
    postcopy_incoming_free(mis->postcopy);
    mis->postcopy = NULL;
    global_state_reset_received();
    global_state_store_running_state(RUN_STATE_RUNNING);
    qatomic_set(&mis->pages_received, 0);
    qatomic_set(&mis->keepalive_ms, 0);
    /* (Whatever it reached: failed, completed, postcopy-paused...) */
    qatomic_set(&mis->state, MIGRATION_STATUS_NONE);
    migration_incoming_set_error(mis, NULL);
}

static int fuzz_loadvm_run(const uint8_t *data, size_t size, Error **errp)
{
    MigrationIncomingState *mis = migration_incoming_get_current();
    const uint8_t *preempt = NULL;
    size_t preempt_size = 0;
    MigChannel *ioc;
    Error *err = NULL;
    int ret;

    if (size >= 8 && !memcmp(data, FUZZ_TWO_CHANNELS, 4)) {
        size_t main_size = MIN((size_t)data[4] << 24 | data[5] << 16 |
                               data[6] << 8 | data[7], size - 8);

        preempt = data + 8 + main_size;
        preempt_size = size - 8 - main_size;
        data += 8;
        size = main_size;
    }
    fuzz_set_preempt(preempt);
    /* As incoming_process() and incoming_thread() do. */
    ioc = mig_channel_new_buffer(data, size, "fuzz-input");
    mis->from_src_file = qemu_file_new_input(ioc);
    mig_channel_unref(ioc);
    postcopy_incoming_free(mis->postcopy);
    mis->postcopy = postcopy_incoming_new(mis, &fuzz_postcopy_ops, mis);
    postcopy_incoming_set_harness(mis->postcopy);
    if (preempt) {
        ioc = mig_channel_new_buffer(preempt, preempt_size, "fuzz-preempt");
        postcopy_incoming_preempt_channel(mis->postcopy,
                                          qemu_file_new_input(ioc));
        mig_channel_unref(ioc);
    }
    migrate_set_state(&mis->state, MIGRATION_STATUS_NONE,
                      MIGRATION_STATUS_ACTIVE);
    global_state_reset_received();
    ret = qemu_loadvm_state(mis->from_src_file, mis, &err);
    if (postcopy_incoming_listen_started(mis->postcopy)) {
        ret = fuzz_wait_listen(mis, ret, &err);
    } else {
        postcopy_incoming_load_ended(mis->postcopy);
        savevm_foreach_load_cleanup();
    }
    fuzz_check_rules(ret, err);
    fuzz_reset_incoming(mis);
    error_propagate(errp, err);
    return ret;
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

static uint8_t *fuzz_loadvm_native_stream(size_t *len, Error **errp)
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

static void fuzz_loadvm_init(void)
{
    fuzz_setup_destination();
}

static int fuzz_loadvm_target_run(const uint8_t *data, size_t size,
                                  char **why)
{
    Error *err = NULL;
    int ret = fuzz_loadvm_run(data, size, &err);

    if (err && why) {
        *why = g_strdup(error_get_pretty(err));
    }
    error_free(err);
    return ret < 0;
}

/*
 * With $FERRY_CAPTURES (the default test suite sets it): QEMU 7.2's
 * postcopy streams, which must load to the end — the harness reaches
 * LISTEN, RUN, the listen thread and, with both channels, the preempt
 * thread.  -M none only (the captures' machine).
 */
static void fuzz_loadvm_capture_seeds(FuzzSeedFn add, void *opaque)
{
    const char *dir = g_getenv("FERRY_CAPTURES");
    g_autofree char *plain_path = NULL, *main_path = NULL;
    g_autofree char *preempt_path = NULL;
    g_autofree char *plain = NULL, *main_data = NULL, *preempt = NULL;
    gsize plain_len, main_len, preempt_len;

    if (!dir || strcmp(FUZZ_MACHINE, "none")) {
        return;
    }
    plain_path = g_build_filename(dir, "postcopy", "main.src-to-dst.bin",
                                  NULL);
    main_path = g_build_filename(dir, "postcopy-preempt",
                                 "main.src-to-dst.bin", NULL);
    preempt_path = g_build_filename(dir, "postcopy-preempt",
                                    "preempt.src-to-dst.bin", NULL);
    if (g_file_get_contents(plain_path, &plain, &plain_len, NULL)) {
        add("capture-postcopy", (uint8_t *)plain, plain_len, opaque);
    }
    if (g_file_get_contents(main_path, &main_data, &main_len, NULL) &&
        g_file_get_contents(preempt_path, &preempt, &preempt_len, NULL)) {
        g_autoptr(GByteArray) both = g_byte_array_new();
        uint8_t len[4] = { main_len >> 24, main_len >> 16, main_len >> 8,
                           main_len };

        g_byte_array_append(both, (const uint8_t *)FUZZ_TWO_CHANNELS, 4);
        g_byte_array_append(both, len, 4);
        g_byte_array_append(both, (uint8_t *)main_data, main_len);
        g_byte_array_append(both, (uint8_t *)preempt, preempt_len);
        add("capture-postcopy-preempt", both->data, both->len, opaque);
    }
}

static void fuzz_loadvm_seeds(FuzzSeedFn add, void *opaque)
{
    Error *err = NULL;
    size_t len = 0;
    g_autofree uint8_t *data = fuzz_loadvm_native_stream(&len, &err);

    if (!data) {
        fuzz_setup_failed("saving the native stream", error_get_pretty(err));
    }
    add("native", data, len, opaque);
    fuzz_loadvm_capture_seeds(add, opaque);
}

const FuzzTarget fuzz_target = {
    .name = FUZZ_TARGET_NAME,
    .init = fuzz_loadvm_init,
    .run = fuzz_loadvm_target_run,
    .make_seeds = fuzz_loadvm_seeds,
};
