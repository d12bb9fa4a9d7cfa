/*
 * option.h: "key=value,key=value" option strings, QemuOpts style.
 *
 * Rules (those of QEMU's QemuOpts, which users' scripts rely on):
 *   - items are separated by ',', and ",," is a literal comma in a value;
 *   - "key" alone means key=on ("nokey" is *not* special here);
 *   - the first item may omit "key=" when the option has an implied key
 *     ("-M none,..." is "type=none,...", "-m 64M" is "size=64M");
 *   - a key given twice keeps the last value.
 */
#ifndef QEMU_OPTION_H
#define QEMU_OPTION_H

#include "qemu/osdep.h"
#include "qapi/error.h"

typedef struct QemuOpt {
    char *name;
    char *str;
    bool used;
} QemuOpt;

typedef struct QemuOpts {
    GPtrArray *opts;        /* of QemuOpt *, in command-line order */
} QemuOpts;

QemuOpts *qemu_opts_parse(const char *params, const char *implied_key,
                          Error **errp);
/* An empty set, filled with qemu_opt_set() (options made by code). */
QemuOpts *qemu_opts_new(void);
void qemu_opt_set(QemuOpts *opts, const char *name, const char *value);
void qemu_opts_free(QemuOpts *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuOpts, qemu_opts_free)

/* The last value of @name (marking it used), or NULL. */
const char *qemu_opt_get(QemuOpts *opts, const char *name);
bool qemu_opt_has(QemuOpts *opts, const char *name);
bool qemu_opt_get_bool(QemuOpts *opts, const char *name, bool defval,
                       bool *result, Error **errp);
bool qemu_opt_get_size(QemuOpts *opts, const char *name, uint64_t defval,
                       uint64_t *result, Error **errp);
bool qemu_opt_get_number(QemuOpts *opts, const char *name, uint64_t defval,
                         uint64_t *result, Error **errp);

/*
 * Fails with "@fmt" (printf with %s = the key) for the first key that no
 * qemu_opt_get*() call consumed, e.g. "Invalid parameter '%s'".
 */
bool qemu_opts_check_unused(QemuOpts *opts, const char *fmt, Error **errp);

#endif
