/*
 * test-error: the Error **errp conventions.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"

static bool fail_with(int code, Error **errp)
{
    error_setg(errp, "failed with %d", code);
    return false;
}

static void test_set_propagate_prepend(void)
{
    Error *err = NULL, *local = NULL;

    g_assert_false(fail_with(3, &local));
    error_propagate_prepend(&err, local, "while %s: ", "testing");
    g_assert_cmpstr(error_get_pretty(err), ==, "while testing: failed with 3");
    g_assert_cmpint(error_get_class(err), ==, ERROR_CLASS_GENERIC_ERROR);
    /* The first error wins; later ones are dropped. */
    local = NULL;
    fail_with(4, &local);
    error_propagate(&err, local);
    g_assert_cmpstr(error_get_pretty(err), ==, "while testing: failed with 3");
    error_free(err);
}

static void test_errno_and_class(void)
{
    Error *err = NULL;

    error_setg_errno(&err, ENOENT, "open %s", "x");
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "open x: No such file or directory");
    error_free(err);
    err = NULL;
    error_set(&err, ERROR_CLASS_COMMAND_NOT_FOUND, "nope");
    g_assert_cmpstr(error_class_name(error_get_class(err)), ==,
                    "CommandNotFound");
    error_free(err);
}

static void test_null_errp(void)
{
    /* A NULL errp means the caller does not care: nothing leaks. */
    g_assert_false(fail_with(1, NULL));
    error_propagate(NULL, NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/error/set-propagate-prepend",
                    test_set_propagate_prepend);
    g_test_add_func("/util/error/errno-and-class", test_errno_and_class);
    g_test_add_func("/util/error/null-errp", test_null_errp);
    return g_test_run();
}
