/*
 * test-migration-states: the two state tables, every pair of states.
 *
 * The allowed transitions are written here a second time, as a list of
 * names, independently of the tables' bit masks: a transition added to or
 * dropped from a table without this list (or the other way round) fails.
 * Every pair not in the list must be refused, and a refused change must
 * leave the state as it was.
 */
#include "qemu/osdep.h"
#include "migration/migration.h"
#include "migration/postcopy-state.h"

static const char *const postcopy_allowed[][2] = {
    { "none", "advise" },
    { "advise", "discard" },
    { "advise", "listening" },
    { "advise", "end" },
    { "discard", "listening" },
    { "discard", "end" },
    { "listening", "running" },
    { "listening", "end" },
    { "running", "end" },
};

static bool postcopy_listed(PostcopyState a, PostcopyState b)
{
    for (size_t i = 0; i < G_N_ELEMENTS(postcopy_allowed); i++) {
        if (g_str_equal(postcopy_allowed[i][0], PostcopyState_str(a)) &&
            g_str_equal(postcopy_allowed[i][1], PostcopyState_str(b))) {
            return true;
        }
    }
    return false;
}

static void test_postcopy_table(void)
{
    unsigned allowed = 0;

    for (int a = 0; a < POSTCOPY_INCOMING__MAX; a++) {
        for (int b = 0; b < POSTCOPY_INCOMING__MAX; b++) {
            bool want = postcopy_listed(a, b);
            int state = a;

            g_test_message("%s -> %s: %s", PostcopyState_str(a),
                           PostcopyState_str(b), want ? "allowed" : "refused");
            g_assert_cmpint(postcopy_state_transition_valid(a, b), ==, want);
            g_assert_cmpint(postcopy_state_change(&state, a, b), ==, want);
            g_assert_cmpint(state, ==, want ? b : a);
            allowed += want;
        }
    }
    /* Every listed transition names real states. */
    g_assert_cmpuint(allowed, ==, G_N_ELEMENTS(postcopy_allowed));
}

/* The numbers QEMU prints in "wrong postcopy state (N)". */
static void test_postcopy_numbers(void)
{
    g_assert_cmpint(POSTCOPY_INCOMING_NONE, ==, 0);
    g_assert_cmpint(POSTCOPY_INCOMING_ADVISE, ==, 1);
    g_assert_cmpint(POSTCOPY_INCOMING_DISCARD, ==, 2);
    g_assert_cmpint(POSTCOPY_INCOMING_LISTENING, ==, 3);
    g_assert_cmpint(POSTCOPY_INCOMING_RUNNING, ==, 4);
    g_assert_cmpint(POSTCOPY_INCOMING_END, ==, 5);
}

/* A change from a state the caller no longer is in is refused too. */
static void test_postcopy_stale(void)
{
    int state = POSTCOPY_INCOMING_LISTENING;

    g_assert_false(postcopy_state_change(&state, POSTCOPY_INCOMING_ADVISE,
                                         POSTCOPY_INCOMING_LISTENING));
    g_assert_cmpint(state, ==, POSTCOPY_INCOMING_LISTENING);
    g_assert_false(postcopy_state_transition_valid(POSTCOPY_INCOMING__MAX,
                                                   POSTCOPY_INCOMING_END));
    g_assert_false(postcopy_state_transition_valid(POSTCOPY_INCOMING_NONE,
                                                   POSTCOPY_INCOMING__MAX));
}

static const char *const status_allowed[][2] = {
    { "none", "setup" }, { "none", "active" }, { "none", "failed" },
    { "setup", "active" }, { "setup", "failed" }, { "setup", "cancelling" },
    { "setup", "wait-unplug" },
    { "wait-unplug", "active" }, { "wait-unplug", "failed" },
    { "wait-unplug", "cancelling" },
    { "active", "completed" }, { "active", "failed" },
    { "active", "cancelling" }, { "active", "pre-switchover" },
    { "active", "device" }, { "active", "postcopy-active" },
    { "pre-switchover", "device" }, { "pre-switchover", "postcopy-active" },
    { "pre-switchover", "failed" }, { "pre-switchover", "cancelling" },
    { "device", "completed" }, { "device", "failed" },
    { "device", "cancelling" },
    { "postcopy-active", "completed" }, { "postcopy-active", "failed" },
    { "postcopy-active", "cancelling" },
    { "postcopy-active", "postcopy-paused" },
    { "postcopy-paused", "postcopy-recover-setup" },
    { "postcopy-paused", "postcopy-recover" },
    { "postcopy-paused", "failed" }, { "postcopy-paused", "cancelling" },
    { "postcopy-recover-setup", "postcopy-recover" },
    { "postcopy-recover-setup", "postcopy-paused" },
    { "postcopy-recover-setup", "failed" },
    { "postcopy-recover-setup", "cancelling" },
    { "postcopy-recover", "postcopy-active" },
    { "postcopy-recover", "postcopy-paused" },
    { "postcopy-recover", "failed" }, { "postcopy-recover", "cancelling" },
    { "cancelling", "cancelled" }, { "cancelling", "failed" },
    { "cancelling", "completed" },
    { "completed", "setup" }, { "failed", "setup" }, { "cancelled", "setup" },
};

static bool status_listed(MigrationStatus a, MigrationStatus b)
{
    for (size_t i = 0; i < G_N_ELEMENTS(status_allowed); i++) {
        if (g_str_equal(status_allowed[i][0], MigrationStatus_str(a)) &&
            g_str_equal(status_allowed[i][1], MigrationStatus_str(b))) {
            return true;
        }
    }
    return false;
}

static void test_status_table(void)
{
    unsigned allowed = 0;

    for (int a = 0; a < MIGRATION_STATUS__MAX; a++) {
        for (int b = 0; b < MIGRATION_STATUS__MAX; b++) {
            bool want = status_listed(a, b);

            g_test_message("%s -> %s: %s", MigrationStatus_str(a),
                           MigrationStatus_str(b),
                           want ? "allowed" : "refused");
            g_assert_cmpint(migration_transition_valid(a, b), ==, want);
            allowed += want;
        }
    }
    g_assert_cmpuint(allowed, ==, G_N_ELEMENTS(status_allowed));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/states/postcopy/table", test_postcopy_table);
    g_test_add_func("/migration/states/postcopy/numbers",
                    test_postcopy_numbers);
    g_test_add_func("/migration/states/postcopy/stale", test_postcopy_stale);
    g_test_add_func("/migration/states/status/table", test_status_table);
    return g_test_run();
}
