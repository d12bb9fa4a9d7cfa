/*
 * postcopy-state.c: the destination's postcopy state table.
 *
 *   NONE ──ADVISE──> ADVISE ──DISCARD──> DISCARD
 *                      │                    │
 *                      └──LISTEN──> LISTENING <──LISTEN──┘
 *                                      │
 *                                     RUN
 *                                      v
 *                                   RUNNING ──(listen thread ends)──> END
 *
 *   ADVISE, DISCARD ──> END    the migration ended before LISTEN: it
 *                              finished in precopy, or failed
 *   LISTENING ──> END          the package failed to load (fatal: the VM
 *                              never ran here)
 *
 * A link that breaks after RUN does not change this state: the pause
 * and the recovery are statuses of the migration (postcopy-paused,
 * postcopy-recover, migration.c's table), while the postcopy machinery
 * stays RUNNING underneath, ready to go on.  END is final; the next
 * incoming migration gets a new PostcopyIncoming, starting at NONE.
 */
#include "qemu/osdep.h"
#include "postcopy-state.h"
#include "qemu/atomic.h"
#include "trace.h"

static const char *const state_names[POSTCOPY_INCOMING__MAX] = {
    "none", "advise", "discard", "listening", "running", "end",
};

#define S(x) (1u << POSTCOPY_INCOMING_##x)
static const uint32_t state_next[POSTCOPY_INCOMING__MAX] = {
    [POSTCOPY_INCOMING_NONE] = S(ADVISE),
    [POSTCOPY_INCOMING_ADVISE] = S(DISCARD) | S(LISTENING) | S(END),
    [POSTCOPY_INCOMING_DISCARD] = S(LISTENING) | S(END),
    [POSTCOPY_INCOMING_LISTENING] = S(RUNNING) | S(END),
    [POSTCOPY_INCOMING_RUNNING] = S(END),
    [POSTCOPY_INCOMING_END] = 0,
};
#undef S

const char *PostcopyState_str(PostcopyState ps)
{
    return ps < POSTCOPY_INCOMING__MAX ? state_names[ps] : "invalid";
}

bool postcopy_state_transition_valid(PostcopyState old, PostcopyState new)
{
    return old < POSTCOPY_INCOMING__MAX && new < POSTCOPY_INCOMING__MAX &&
           (state_next[old] & (1u << new));
}

bool postcopy_state_change(int *state, PostcopyState old, PostcopyState new)
{
    if (!postcopy_state_transition_valid(old, new)) {
        trace_postcopy_state_refused(PostcopyState_str(old),
                                     PostcopyState_str(new));
        return false;
    }
    if (qatomic_cmpxchg(state, (int)old, (int)new) != (int)old) {
        trace_postcopy_state_refused(PostcopyState_str(old),
                                     PostcopyState_str(new));
        return false;
    }
    trace_postcopy_state_change(PostcopyState_str(old),
                                PostcopyState_str(new));
    return true;
}
