/*
 * test-qemu-opts: "key=value,..." parsing with QemuOpts' rules.
 */
#include "qemu/osdep.h"
#include "qemu/option.h"

static void test_implied_and_escape(void)
{
    g_autoptr(QemuOpts) o = qemu_opts_parse("none,memory-backend=m0",
                                            "type", &error_abort);

    g_assert_cmpstr(qemu_opt_get(o, "type"), ==, "none");
    g_assert_cmpstr(qemu_opt_get(o, "memory-backend"), ==, "m0");
    qemu_opts_free(g_steal_pointer(&o));

    o = qemu_opts_parse("file,path=/tmp/a,,b,append", "backend",
                        &error_abort);
    g_assert_cmpstr(qemu_opt_get(o, "path"), ==, "/tmp/a,b");
    g_assert_cmpstr(qemu_opt_get(o, "append"), ==, "on");
}

static void test_last_wins_and_unused(void)
{
    g_autoptr(QemuOpts) o = qemu_opts_parse("size=1M,size=2M,bogus=1", NULL,
                                            &error_abort);
    uint64_t sz;
    Error *err = NULL;

    g_assert_true(qemu_opt_get_size(o, "size", 0, &sz, &error_abort));
    g_assert_cmpuint(sz, ==, 2 << 20);
    g_assert_false(qemu_opts_check_unused(o, "Invalid parameter '%s'",
                                          &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'bogus'");
    error_free(err);
}

static void test_bad_values(void)
{
    g_autoptr(QemuOpts) o = qemu_opts_parse("size=1Q,share=maybe", NULL,
                                            &error_abort);
    uint64_t sz;
    bool b;
    Error *err = NULL;

    g_assert_false(qemu_opt_get_size(o, "size", 0, &sz, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'size' expects a non-negative number "
                    "below 2^64");
    error_free(err);
    err = NULL;
    g_assert_false(qemu_opt_get_bool(o, "share", false, &b, &err));
    error_free(err);
}

static void test_empty_key(void)
{
    Error *err = NULL;

    g_assert_null(qemu_opts_parse("=x", NULL, &err));
    g_assert_nonnull(err);
    error_free(err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/qemu-opts/implied-and-escape",
                    test_implied_and_escape);
    g_test_add_func("/util/qemu-opts/last-wins-and-unused",
                    test_last_wins_and_unused);
    g_test_add_func("/util/qemu-opts/bad-values", test_bad_values);
    g_test_add_func("/util/qemu-opts/empty-key", test_empty_key);
    return g_test_run();
}
