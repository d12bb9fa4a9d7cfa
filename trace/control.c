/*
 * control.c: the registry of trace events and -trace option handling.
 *
 * Groups are registered by constructors before main() runs, so the group
 * array is written only then and read-only afterwards; per-event state is
 * an atomic word that any thread may flip.
 */
#include "qemu/osdep.h"
#include "trace/control.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/log.h"

typedef struct TraceEventGroup {
    TraceEvent *events;
    size_t n;
} TraceEventGroup;

static TraceEventGroup *groups;
static size_t ngroups;


void trace_event_register_group(TraceEvent *events, size_t n)
{
    groups = g_renew(TraceEventGroup, groups, ngroups + 1);
    groups[ngroups].events = events;
    groups[ngroups].n = n;
    ngroups++;
}

void trace_event_iter_init(TraceEventIter *iter, const char *pattern)
{
    iter->group = 0;
    iter->event = 0;
    iter->pattern = pattern;
}

TraceEvent *trace_event_iter_next(TraceEventIter *iter)
{
    while (iter->group < ngroups) {
        TraceEventGroup *g = &groups[iter->group];

        while (iter->event < g->n) {
            TraceEvent *ev = &g->events[iter->event++];

            if (!iter->pattern ||
                g_pattern_match_simple(iter->pattern, ev->name)) {
                return ev;
            }
        }
        iter->group++;
        iter->event = 0;
    }
    return NULL;
}

TraceEvent *trace_event_name(const char *name)
{
    TraceEventIter iter;
    TraceEvent *ev;

    trace_event_iter_init(&iter, NULL);
    while ((ev = trace_event_iter_next(&iter))) {
        if (g_str_equal(ev->name, name)) {
            return ev;
        }
    }
    return NULL;
}

bool trace_event_is_pattern(const char *str)
{
    return strpbrk(str, "*?") != NULL;
}

void trace_event_set_state(TraceEvent *ev, bool state)
{
    qatomic_set(ev->dstate, state ? 1 : 0);
}

int trace_enable_events(const char *line)
{
    bool enable = true;
    const char *pattern = line;
    TraceEventIter iter;
    TraceEvent *ev;
    int n = 0;

    if (*pattern == '-') {
        enable = false;
        pattern++;
    }
    trace_event_iter_init(&iter, pattern);
    while ((ev = trace_event_iter_next(&iter))) {
        trace_event_set_state(ev, enable);
        n++;
    }
    if (n == 0 && !trace_event_is_pattern(pattern)) {
        warn_report("trace event '%s' does not exist", pattern);
    }
    return n;
}

bool trace_init_events(const char *fname, Error **errp)
{
    g_autofree char *contents = NULL;
    g_autoptr(GError) gerr = NULL;
    g_auto(GStrv) lines = NULL;

    int fd = open(fname, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        error_setg_errno(errp, errno, "could not open trace events file "
                         "'%s'", fname);
        return false;
    }
    close(fd);
    if (!g_file_get_contents(fname, &contents, NULL, &gerr)) {
        error_setg(errp, "could not read trace events file '%s': %s", fname,
                   gerr->message);
        return false;
    }
    lines = g_strsplit(contents, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_strstrip(*l);
        if (**l && **l != '#') {
            trace_enable_events(*l);
        }
    }
    return true;
}

void trace_list_events(FILE *f)
{
    TraceEventIter iter;
    TraceEvent *ev;

    trace_event_iter_init(&iter, NULL);
    while ((ev = trace_event_iter_next(&iter))) {
        fprintf(f, "%s\n", ev->name);
    }
}

bool trace_opt_parse(const char *optarg, Error **errp)
{
    GString *cur = g_string_new(NULL);
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
    bool ok = true;

    /* Split at single commas; ",," is a literal comma (QemuOpts rules). */
    for (const char *p = optarg; ; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',' || *p == '\0') {
            g_ptr_array_add(items, g_string_free(cur, false));
            cur = g_string_new(NULL);
            if (*p == '\0') {
                break;
            }
        } else {
            g_string_append_c(cur, *p);
        }
    }
    g_string_free(cur, true);

    for (guint i = 0; i < items->len && ok; i++) {
        const char *item = items->pdata[i];
        const char *eq = strchr(item, '=');

        if (!eq) {
            if (i != 0) {
                error_setg(errp, "Invalid parameter '%s'", item);
                ok = false;
            } else if (g_str_equal(item, "help")) {
                trace_list_events(stdout);
                exit(0);
            } else if (*item) {
                trace_enable_events(item);
            }
        } else if (g_str_has_prefix(item, "enable=")) {
            trace_enable_events(eq + 1);
        } else if (g_str_has_prefix(item, "events=")) {
            ok = trace_init_events(eq + 1, errp);
        } else if (g_str_has_prefix(item, "file=")) {
            ok = qemu_set_log_filename(eq + 1, errp);
        } else {
            g_autofree char *key = g_strndup(item, eq - item);
            error_setg(errp, "Invalid parameter '%s'", key);
            ok = false;
        }
    }
    g_ptr_array_free(items, true);
    return ok;
}
