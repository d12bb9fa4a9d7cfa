/*
 * qemu-option.c: parsing of "key=value,..." option strings.
 */
#include "qemu/osdep.h"
#include "qemu/option.h"
#include "qemu/cutils.h"

static void qemu_opt_free(gpointer p)
{
    QemuOpt *opt = p;

    g_free(opt->name);
    g_free(opt->str);
    g_free(opt);
}

/*
 * Copies one item of @p (up to an unescaped @delim or the end) into @out,
 * turning ",," into ','.  Returns the position after the item.
 */
static const char *get_item(const char *p, char delim, GString *out)
{
    g_string_truncate(out, 0);
    while (*p) {
        if (*p == ',') {
            if (p[1] != ',') {
                break;
            }
            p++;
        } else if (*p == delim) {
            break;
        }
        g_string_append_c(out, *p++);
    }
    return p;
}

QemuOpts *qemu_opts_new(void)
{
    QemuOpts *opts = g_new0(QemuOpts, 1);

    opts->opts = g_ptr_array_new_with_free_func(qemu_opt_free);
    return opts;
}

void qemu_opt_set(QemuOpts *opts, const char *name, const char *value)
{
    QemuOpt *opt = g_new0(QemuOpt, 1);

    opt->name = g_strdup(name);
    opt->str = g_strdup(value);
    g_ptr_array_add(opts->opts, opt);
}

QemuOpts *qemu_opts_parse(const char *params, const char *implied_key,
                          Error **errp)
{
    g_autoptr(QemuOpts) opts = qemu_opts_new();
    g_autoptr(GString) key = g_string_new(NULL);
    g_autoptr(GString) val = g_string_new(NULL);
    const char *p = params;
    bool first = true;

    while (*p) {
        const char *after_key = get_item(p, '=', key);

        if (*after_key == '=') {
            p = get_item(after_key + 1, ',', val);
        } else if (first && implied_key) {
            /* "-M none" style: the whole item is the implied key's value. */
            p = get_item(p, ',', val);
            g_string_assign(key, implied_key);
        } else {
            p = after_key;
            g_string_assign(val, "on");
        }
        if (key->len == 0) {
            error_setg(errp, "Invalid parameter ''");
            return NULL;
        }
        qemu_opt_set(opts, key->str, val->str);
        first = false;
        if (*p == ',') {
            p++;
        }
    }
    return g_steal_pointer(&opts);
}

void qemu_opts_free(QemuOpts *opts)
{
    if (opts) {
        if (opts->opts) {
            g_ptr_array_free(opts->opts, true);
        }
        g_free(opts);
    }
}

static QemuOpt *find_last(QemuOpts *opts, const char *name)
{
    QemuOpt *found = NULL;

    for (guint i = 0; i < opts->opts->len; i++) {
        QemuOpt *opt = opts->opts->pdata[i];

        if (g_str_equal(opt->name, name)) {
            opt->used = true;
            found = opt;
        }
    }
    return found;
}

const char *qemu_opt_get(QemuOpts *opts, const char *name)
{
    QemuOpt *opt = find_last(opts, name);

    return opt ? opt->str : NULL;
}

bool qemu_opt_has(QemuOpts *opts, const char *name)
{
    return qemu_opt_get(opts, name) != NULL;
}

bool qemu_opt_get_bool(QemuOpts *opts, const char *name, bool defval,
                       bool *result, Error **errp)
{
    const char *v = qemu_opt_get(opts, name);

    if (!v) {
        *result = defval;
        return true;
    }
    return qapi_bool_parse(name, v, result, errp);
}

bool qemu_opt_get_size(QemuOpts *opts, const char *name, uint64_t defval,
                       uint64_t *result, Error **errp)
{
    const char *v = qemu_opt_get(opts, name);
    int ret;

    if (!v) {
        *result = defval;
        return true;
    }
    ret = qemu_strtosz(v, NULL, result);
    if (ret == -ERANGE) {
        error_setg(errp, "Value '%s' is too large for parameter '%s'",
                   v, name);
        return false;
    }
    if (ret) {
        error_setg(errp, "Parameter '%s' expects a non-negative number "
                   "below 2^64", name);
        return false;
    }
    return true;
}

bool qemu_opt_get_number(QemuOpts *opts, const char *name, uint64_t defval,
                         uint64_t *result, Error **errp)
{
    const char *v = qemu_opt_get(opts, name);

    if (!v) {
        *result = defval;
        return true;
    }
    if (qemu_strtou64(v, NULL, 0, result) != 0) {
        error_setg(errp, "Parameter '%s' expects a number", name);
        return false;
    }
    return true;
}

bool qemu_opts_check_unused(QemuOpts *opts, const char *fmt, Error **errp)
{
    for (guint i = 0; i < opts->opts->len; i++) {
        QemuOpt *opt = opts->opts->pdata[i];

        if (!opt->used) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            error_setg(errp, fmt, opt->name);
#pragma GCC diagnostic pop
            return false;
        }
    }
    return true;
}
