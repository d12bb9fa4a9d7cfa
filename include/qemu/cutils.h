/*
 * cutils.h: string-to-number conversions with QEMU's semantics.
 *
 * The qemu_strto*() family returns 0 or -errno (-EINVAL for no digits or,
 * when @endptr is NULL, trailing garbage; -ERANGE for overflow) and never
 * touches errno.  @base follows strtol(): 0 means auto-detect 0x/0 prefixes.
 */
#ifndef QEMU_CUTILS_H
#define QEMU_CUTILS_H

#include "qemu/osdep.h"
#include "qapi/error.h"

int qemu_strtoi(const char *nptr, const char **endptr, int base, int *result);
int qemu_strtoui(const char *nptr, const char **endptr, int base,
                 unsigned int *result);
int qemu_strtoi64(const char *nptr, const char **endptr, int base,
                  int64_t *result);
int qemu_strtou64(const char *nptr, const char **endptr, int base,
                  uint64_t *result);
int qemu_strtod_finite(const char *nptr, const char **endptr, double *result);

/*
 * Sizes: "4096", "64M", "1.5G", "0x1000"; suffixes B K M G T P E in either
 * case.  qemu_strtosz() defaults to bytes, qemu_strtosz_MiB() to MiB (what
 * -m uses).  Fractions need a suffix or the default unit; hex may not have a
 * fraction.  Results >= 2^64 give -ERANGE.
 */
int qemu_strtosz(const char *nptr, const char **end, uint64_t *result);
int qemu_strtosz_MiB(const char *nptr, const char **end, uint64_t *result);

/* "on"/"yes"/"true"/"y" and "off"/"no"/"false"/"n", as QEMU's bool props. */
bool qapi_bool_parse(const char *name, const char *value, bool *obj,
                     Error **errp);

/* Human-readable size, e.g. "64 MiB" (caller frees). */
char *size_to_str(uint64_t val);

#endif
