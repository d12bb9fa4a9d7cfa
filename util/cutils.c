/*
 * cutils.c: number and size parsing with QEMU's exact semantics, because
 * users' command lines and qtest scripts depend on them.
 */
#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include <math.h>

/* Common tail: decide between -EINVAL for garbage and success. */
static int check_strtox_error(const char *nptr, const char *ep,
                              const char **endptr, int libc_errno)
{
    if (endptr) {
        *endptr = ep;
    }
    if (libc_errno == 0 && ep == nptr) {
        return -EINVAL;             /* no digits at all */
    }
    if (!endptr && *ep) {
        return -EINVAL;             /* trailing garbage */
    }
    return -libc_errno;
}

int qemu_strtoi64(const char *nptr, const char **endptr, int base,
                  int64_t *result)
{
    char *ep;

    if (!nptr) {
        if (endptr) {
            *endptr = nptr;
        }
        return -EINVAL;
    }
    errno = 0;
    *result = strtoll(nptr, &ep, base);
    return check_strtox_error(nptr, ep, endptr, errno);
}

/*
 * Like strtoull(), "-1" converts to UINT64_MAX; unlike it, a negative number
 * whose magnitude overflows is -ERANGE rather than silently wrapped.
 */
int qemu_strtou64(const char *nptr, const char **endptr, int base,
                  uint64_t *result)
{
    char *ep;

    if (!nptr) {
        if (endptr) {
            *endptr = nptr;
        }
        return -EINVAL;
    }
    errno = 0;
    *result = strtoull(nptr, &ep, base);
    if (errno == ERANGE) {
        *result = UINT64_MAX;
    }
    return check_strtox_error(nptr, ep, endptr, errno);
}

int qemu_strtoi(const char *nptr, const char **endptr, int base, int *result)
{
    int64_t v;
    int ret = qemu_strtoi64(nptr, endptr, base, &v);

    if (ret == 0 && (v < INT_MIN || v > INT_MAX)) {
        *result = v < 0 ? INT_MIN : INT_MAX;
        return -ERANGE;
    }
    if (ret == -ERANGE) {
        *result = v < 0 ? INT_MIN : INT_MAX;
        return ret;
    }
    *result = v;
    return ret;
}

int qemu_strtoui(const char *nptr, const char **endptr, int base,
                 unsigned int *result)
{
    uint64_t v;
    int ret = qemu_strtou64(nptr, endptr, base, &v);

    if (ret == 0 && v > UINT_MAX) {
        /* Allow "-1" style wrap only within 32 bits, as strtoul would. */
        if ((int64_t)v >= INT32_MIN && (int64_t)v < 0) {
            *result = (unsigned int)v;
            return 0;
        }
        *result = UINT_MAX;
        return -ERANGE;
    }
    *result = v;
    return ret;
}

int qemu_strtod_finite(const char *nptr, const char **endptr, double *result)
{
    char *ep;
    int ret;

    errno = 0;
    *result = strtod(nptr, &ep);
    ret = check_strtox_error(nptr, ep, endptr, errno);
    if (ret == 0 && !isfinite(*result)) {
        if (endptr) {
            *endptr = nptr;
        }
        *result = 0;
        return -EINVAL;
    }
    return ret;
}

static int64_t suffix_mul(char suffix, int64_t unit)
{
    switch (g_ascii_toupper(suffix)) {
    case 'B':
        return 1;
    case 'K':
        return unit;
    case 'M':
        return unit * unit;
    case 'G':
        return unit * unit * unit;
    case 'T':
        return unit * unit * unit * unit;
    case 'P':
        return unit * unit * unit * unit * unit;
    case 'E':
        return unit * unit * unit * unit * unit * unit;
    }
    return -1;
}

static int do_strtosz(const char *nptr, const char **end,
                      const char default_suffix, uint64_t *result)
{
    const char *endptr, *f;
    unsigned char c;
    uint64_t val, valf = 0;
    int64_t mul;
    bool hex = false;
    int ret;

    /* Parse the whole part as decimal first; allow an explicit 0x prefix. */
    ret = qemu_strtou64(nptr, &endptr, 10, &val);
    if (ret) {
        goto out;
    }
    if (memchr(nptr, '-', endptr - nptr) != NULL) {
        endptr = nptr;
        ret = -EINVAL;
        goto out;
    }
    if (val == 0 && (*endptr == 'x' || *endptr == 'X')) {
        ret = qemu_strtou64(nptr, &endptr, 16, &val);
        if (ret) {
            goto out;
        }
        hex = true;
    } else if (*endptr == '.') {
        /* Parse the fraction as a double and scale it by the suffix. */
        double fraction;

        f = endptr;
        ret = qemu_strtod_finite(f, &endptr, &fraction);
        if (ret) {
            goto out;
        }
        if (fraction == 0 && endptr <= f + 1) {
            /* "1." with nothing after it */
            endptr = f + 1;
        } else if (memchr(f, 'e', endptr - f) || memchr(f, 'E', endptr - f)) {
            /* As QEMU: no exponent ("1.5e3" would not be a fraction). */
            endptr = nptr;
            ret = -EINVAL;
            goto out;
        } else if (fraction >= 1.0) {
            /* ".999...9" rounded up to 1: just below it, not 2^64. */
            valf = UINT64_MAX;
        } else {
            valf = (uint64_t)(fraction * 0x1p64);
        }
    }
    c = *endptr;
    mul = suffix_mul(c, 1024);
    if (mul > 0) {
        if (hex) {
            /* 0x1M is ambiguous: QEMU rejects hex with a suffix. */
            ret = -EINVAL;
            goto out;
        }
        endptr++;
    } else {
        mul = suffix_mul(default_suffix, 1024);
        assert(mul > 0);
    }
    if (mul == 1) {
        /* A fraction of a byte makes no sense. */
        if (valf != 0) {
            ret = -EINVAL;
            goto out;
        }
    }
    if (val > UINT64_MAX / mul) {
        ret = -ERANGE;
        goto out;
    }
    val *= mul;
    if (valf) {
        /* val += mul * fraction, computed without losing the high bits. */
        unsigned __int128 frac = (unsigned __int128)valf * (uint64_t)mul;
        uint64_t add = (uint64_t)(frac >> 64);

        if (val > UINT64_MAX - add) {
            ret = -ERANGE;
            goto out;
        }
        val += add;
    }
    *result = val;
    ret = 0;

out:
    if (end) {
        *end = endptr;
    } else if (ret == 0 && *endptr) {
        ret = -EINVAL;
    }
    return ret;
}

int qemu_strtosz(const char *nptr, const char **end, uint64_t *result)
{
    return do_strtosz(nptr, end, 'B', result);
}

int qemu_strtosz_MiB(const char *nptr, const char **end, uint64_t *result)
{
    return do_strtosz(nptr, end, 'M', result);
}

bool qapi_bool_parse(const char *name, const char *value, bool *obj,
                     Error **errp)
{
    if (g_str_equal(value, "on") || g_str_equal(value, "yes") ||
        g_str_equal(value, "true") || g_str_equal(value, "y")) {
        *obj = true;
        return true;
    }
    if (g_str_equal(value, "off") || g_str_equal(value, "no") ||
        g_str_equal(value, "false") || g_str_equal(value, "n")) {
        *obj = false;
        return true;
    }
    error_setg(errp, "Parameter '%s' expects 'on' or 'off'", name);
    return false;
}

char *size_to_str(uint64_t val)
{
    static const char *const suffixes[] = {
        "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
    };
    unsigned i = 0;
    double v = val;

    while (v >= 1024 && i < ARRAY_SIZE(suffixes) - 1) {
        v /= 1024;
        i++;
    }
    return g_strdup_printf("%0.3g %s", v, suffixes[i]);
}
