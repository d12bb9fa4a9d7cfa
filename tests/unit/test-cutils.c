/*
 * test-cutils: number and size parsing must match QEMU's, because users'
 * command lines and qtest scripts depend on every corner of it.
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"

static void test_strtou64(void)
{
    uint64_t v;
    const char *end;

    g_assert_cmpint(qemu_strtou64("0x1000", NULL, 0, &v), ==, 0);
    g_assert_cmphex(v, ==, 0x1000);
    g_assert_cmpint(qemu_strtou64("010", NULL, 0, &v), ==, 0);
    g_assert_cmpuint(v, ==, 8);
    g_assert_cmpint(qemu_strtou64("+4096", NULL, 0, &v), ==, 0);
    g_assert_cmpuint(v, ==, 4096);
    /* strtoull semantics: a minus sign wraps modulo 2^64. */
    g_assert_cmpint(qemu_strtou64("-1", NULL, 0, &v), ==, 0);
    g_assert_cmphex(v, ==, UINT64_MAX);
    g_assert_cmpint(qemu_strtou64("18446744073709551615", NULL, 0, &v), ==,
                    0);
    g_assert_cmphex(v, ==, UINT64_MAX);
    g_assert_cmpint(qemu_strtou64("18446744073709551616", NULL, 0, &v), ==,
                    -ERANGE);
    g_assert_cmpint(qemu_strtou64("0x1000junk", NULL, 0, &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtou64("0x1000junk", &end, 0, &v), ==, 0);
    g_assert_cmpstr(end, ==, "junk");
    g_assert_cmpint(qemu_strtou64("", NULL, 0, &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtou64("foo", NULL, 0, &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtou64("08", NULL, 0, &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtou64("0x", NULL, 0, &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtou64(NULL, NULL, 0, &v), ==, -EINVAL);
}

static void test_strtoi(void)
{
    int v;
    int64_t v64;

    g_assert_cmpint(qemu_strtoi("-12", NULL, 10, &v), ==, 0);
    g_assert_cmpint(v, ==, -12);
    g_assert_cmpint(qemu_strtoi("4294967296", NULL, 10, &v), ==, -ERANGE);
    g_assert_cmpint(qemu_strtoi64("-9223372036854775808", NULL, 0, &v64),
                    ==, 0);
    g_assert_cmpint(v64, ==, INT64_MIN);
}

typedef struct SizeCase {
    const char *in;
    int ret;
    uint64_t val;
} SizeCase;

static void test_strtosz(void)
{
    static const SizeCase cases[] = {
        { "0", 0, 0 },
        { "4096", 0, 4096 },
        { "64M", 0, 64 << 20 },
        { "64m", 0, 64 << 20 },
        { "1G", 0, 1ULL << 30 },
        { "1.5G", 0, 3ULL << 29 },
        { "2k", 0, 2048 },
        { "12B", 0, 12 },
        { "0x1000", 0, 0x1000 },
        { "1E", 0, 1ULL << 60 },
        { "16E", -ERANGE, 0 },
        { "1Q", -EINVAL, 0 },
        { "abc", -EINVAL, 0 },
        { "-1", -EINVAL, 0 },
        { "0x1M", -EINVAL, 0 },
        { "1.5", -EINVAL, 0 },       /* a fraction of a byte */
        { "1.5e3", -EINVAL, 0 },     /* no exponents, as QEMU */
        { "0.9E9M", -EINVAL, 0 },
        { "1.5E", 0, 3ULL << 59 },   /* E: the suffix, not an exponent */
        { "", -EINVAL, 0 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t v = 0;
        int ret = qemu_strtosz(cases[i].in, NULL, &v);

        g_test_message("%s", cases[i].in);
        g_assert_cmpint(ret, ==, cases[i].ret);
        if (ret == 0) {
            g_assert_cmpuint(v, ==, cases[i].val);
        }
    }
}

/* A fraction that rounds to 1.0 as a double stays below one unit. */
static void test_strtosz_fraction_rounding(void)
{
    uint64_t v = 0;

    g_assert_cmpint(qemu_strtosz("0.99999999999999999999M", NULL, &v), ==,
                    0);
    g_assert_cmpuint(v, <, 1 << 20);
    g_assert_cmpuint(v, >=, (1 << 20) - 1);
}

static void test_strtosz_mib(void)
{
    uint64_t v;

    /* -m's default unit is MiB. */
    g_assert_cmpint(qemu_strtosz_MiB("256", NULL, &v), ==, 0);
    g_assert_cmpuint(v, ==, 256 << 20);
    g_assert_cmpint(qemu_strtosz_MiB("1.5", NULL, &v), ==, 0);
    g_assert_cmpuint(v, ==, 3 << 19);
    g_assert_cmpint(qemu_strtosz_MiB("4G", NULL, &v), ==, 0);
    g_assert_cmpuint(v, ==, 4ULL << 30);
}

static void test_bool_parse(void)
{
    bool b = false;
    Error *err = NULL;

    g_assert_true(qapi_bool_parse("x", "on", &b, NULL) && b);
    g_assert_true(qapi_bool_parse("x", "off", &b, NULL) && !b);
    g_assert_true(qapi_bool_parse("x", "yes", &b, NULL) && b);
    g_assert_false(qapi_bool_parse("x", "maybe", &b, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'x' expects 'on' or 'off'");
    error_free(err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/cutils/strtou64", test_strtou64);
    g_test_add_func("/util/cutils/strtoi", test_strtoi);
    g_test_add_func("/util/cutils/strtosz", test_strtosz);
    g_test_add_func("/util/cutils/strtosz-mib", test_strtosz_mib);
    g_test_add_func("/util/cutils/strtosz-fraction-rounding",
                    test_strtosz_fraction_rounding);
    g_test_add_func("/util/cutils/bool-parse", test_bool_parse);
    return g_test_run();
}
