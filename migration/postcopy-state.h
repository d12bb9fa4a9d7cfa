/*
 * postcopy-state.h: the destination's postcopy state machine (spec §7.3).
 *
 * Its own small module so that the table can be tested alone; the state
 * itself lives in PostcopyIncoming (postcopy-ram.c), which is the only
 * caller of postcopy_state_change().
 */
#ifndef MIGRATION_POSTCOPY_STATE_H
#define MIGRATION_POSTCOPY_STATE_H

#include "qemu/osdep.h"

/*
 * QEMU's PostcopyState: the numbers appear in QEMU's (and ferry's) error
 * messages, "... in wrong postcopy state (N)".
 */
typedef enum PostcopyState {
    POSTCOPY_INCOMING_NONE = 0,
    POSTCOPY_INCOMING_ADVISE,
    POSTCOPY_INCOMING_DISCARD,
    POSTCOPY_INCOMING_LISTENING,
    POSTCOPY_INCOMING_RUNNING,
    POSTCOPY_INCOMING_END,
    POSTCOPY_INCOMING__MAX
} PostcopyState;

const char *PostcopyState_str(PostcopyState ps);
bool postcopy_state_transition_valid(PostcopyState old, PostcopyState new);
/*
 * The one way to change a postcopy state: succeeds only if *@state is
 * still @old and the table allows @old -> @new; swaps atomically and
 * traces.  A refused change is traced too and leaves *@state alone.
 */
bool postcopy_state_change(int *state, PostcopyState old, PostcopyState new);

#endif
