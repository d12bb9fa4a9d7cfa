/*
 * test-runstate: the transition table and vm_start/vm_stop bookkeeping.
 */
#include "qemu/osdep.h"
#include "sysemu/runstate.h"
#include "qemu/main-loop.h"
#include "qapi/qmp-event.h"

static GPtrArray *events;
static GPtrArray *notes;

static void record_event(const char *event, const char *message)
{
    g_ptr_array_add(events, g_strdup(event));
}

static void note(void *opaque, bool running, RunState st)
{
    g_ptr_array_add(notes, g_strdup_printf("%s:%d:%s", (char *)opaque,
                                           running, RunState_str(st)));
}

static void test_table(void)
{
    g_assert_true(runstate_transition_valid(RUN_STATE_PRELAUNCH,
                                            RUN_STATE_INMIGRATE));
    g_assert_true(runstate_transition_valid(RUN_STATE_INMIGRATE,
                                            RUN_STATE_POSTMIGRATE));
    g_assert_true(runstate_transition_valid(RUN_STATE_FINISH_MIGRATE,
                                            RUN_STATE_POSTMIGRATE));
    g_assert_false(runstate_transition_valid(RUN_STATE_INMIGRATE,
                                             RUN_STATE_DEBUG));
    g_assert_false(runstate_transition_valid(RUN_STATE_SAVE_VM,
                                             RUN_STATE_PAUSED));
    g_assert_cmpint(RunState_parse("postmigrate"), ==,
                    RUN_STATE_POSTMIGRATE);
    g_assert_cmpint(RunState_parse("bogus"), ==, RUN_STATE__MAX);
    g_assert_cmpstr(RunState_str(RUN_STATE_FINISH_MIGRATE), ==,
                    "finish-migrate");
}

static void test_start_stop(void)
{
    VMChangeStateEntry *a = qemu_add_vm_change_state_handler(note, "a");
    VMChangeStateEntry *b = qemu_add_vm_change_state_handler(note, "b");

    g_assert_true(runstate_check(RUN_STATE_PRELAUNCH));
    vm_start();
    g_assert_true(runstate_is_running());
    vm_stop(RUN_STATE_PAUSED);
    g_assert_true(runstate_check(RUN_STATE_PAUSED));
    /* Stopping a stopped VM changes nothing and emits nothing. */
    vm_stop(RUN_STATE_PAUSED);
    vm_start();
    /* Starting a running VM is silent, as in QEMU 7.2. */
    vm_start();
    g_assert_cmpuint(events->len, ==, 3);
    g_assert_cmpstr(events->pdata[0], ==, "RESUME");
    g_assert_cmpstr(events->pdata[1], ==, "STOP");
    g_assert_cmpstr(events->pdata[2], ==, "RESUME");
    /* Handlers: registration order when starting, reverse when stopping. */
    g_assert_cmpuint(notes->len, ==, 6);
    g_assert_cmpstr(notes->pdata[0], ==, "a:1:running");
    g_assert_cmpstr(notes->pdata[1], ==, "b:1:running");
    g_assert_cmpstr(notes->pdata[2], ==, "b:0:paused");
    g_assert_cmpstr(notes->pdata[3], ==, "a:0:paused");
    vm_stop_force_state(RUN_STATE_FINISH_MIGRATE);
    vm_stop_force_state(RUN_STATE_POSTMIGRATE);
    g_assert_true(runstate_check(RUN_STATE_POSTMIGRATE));
    qemu_del_vm_change_state_handler(a);
    qemu_del_vm_change_state_handler(b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_main_loop_init();
    events = g_ptr_array_new_with_free_func(g_free);
    notes = g_ptr_array_new_with_free_func(g_free);
    qapi_event_set_emitter(record_event);
    g_test_add_func("/system/runstate/table", test_table);
    g_test_add_func("/system/runstate/start-stop", test_start_stop);
    return g_test_run();
}
