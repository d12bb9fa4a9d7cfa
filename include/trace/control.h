/*
 * control.h: run-time control of trace events.
 *
 * Each directory's trace-events file becomes a group of TraceEvents (see
 * scripts/tracetool.py).  An event is enabled when its dstate word is
 * non-zero; the generated trace_NAME() functions test it with a relaxed
 * atomic load, so enabling or disabling from any thread is safe.
 */
#ifndef TRACE_CONTROL_H
#define TRACE_CONTROL_H

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/log.h"
#include "qemu/error-report.h"
#include <sys/time.h>

typedef struct TraceEvent {
    const char *name;
    uint16_t *dstate;
} TraceEvent;


void trace_event_register_group(TraceEvent *events, size_t n);

/* Iteration over all registered events whose name matches @pattern. */
typedef struct TraceEventIter {
    size_t group, event;
    const char *pattern;
} TraceEventIter;

void trace_event_iter_init(TraceEventIter *iter, const char *pattern);
TraceEvent *trace_event_iter_next(TraceEventIter *iter);

TraceEvent *trace_event_name(const char *name);
bool trace_event_is_pattern(const char *str);

static inline bool trace_event_get_state(const TraceEvent *ev)
{
    return qatomic_read(ev->dstate) != 0;
}
void trace_event_set_state(TraceEvent *ev, bool state);

/*
 * Enables (or, with a leading '-', disables) every event matching the glob
 * @line.  Returns the number of events changed; warns when a plain name
 * (not a pattern) names no event.
 */
int trace_enable_events(const char *line);

/* -trace [enable=]PATTERN,events=FILE,file=FILE. */
bool trace_opt_parse(const char *optarg, Error **errp);
/* Reads a file with one pattern per line ('#' comments). */
bool trace_init_events(const char *fname, Error **errp);
/* Prints the list of known events (for "-trace help"). */
void trace_list_events(FILE *f);

#endif
