/*
 * global_state.c: the "globalstate" section — the source's run state,
 * carried so the destination can end up in the same one (spec §3.6).
 *
 * The source stores its run state just before stopping the VM for
 * switchover (so it is normally "running"); the destination applies it
 * after a precopy load.  7.2 layout: be32 size (strlen + 1), then the
 * NUL-padded name in 100 bytes.  Section sent when store-global-state is
 * on (always, in 7.2's "needed" rule for that property).
 */
#include "qemu/osdep.h"
#include "migration/global_state.h"
#include "migration/vmstate.h"
#include "migration/register.h"
#include "options.h"
#include "trace.h"

typedef struct GlobalState {
    uint32_t size;
    uint8_t runstate[100];
    RunState state;
    bool received;
} GlobalState;

static GlobalState global_state;

void global_state_store(void)
{
    global_state_store_running_state(runstate_get());
}

void global_state_store_running_state(RunState state)
{
    const char *name = RunState_str(state);

    memset(global_state.runstate, 0, sizeof(global_state.runstate));
    g_strlcpy((char *)global_state.runstate, name,
              sizeof(global_state.runstate));
    global_state.size = strlen(name) + 1;
}

bool global_state_received(void)
{
    return global_state.received;
}

RunState global_state_get_runstate(void)
{
    return global_state.state;
}

void global_state_reset_received(void)
{
    global_state.received = false;
}

static int global_state_post_load(void *opaque, int version_id)
{
    GlobalState *s = opaque;
    size_t len = strnlen((char *)s->runstate, sizeof(s->runstate));
    RunState r;

    /* Everything here came from the stream: check before trusting it. */
    if (len == sizeof(s->runstate)) {
        trace_global_state_bad("runstate not NUL-terminated");
        return -EINVAL;
    }
    r = RunState_parse((char *)s->runstate);
    if (r == RUN_STATE__MAX) {
        trace_global_state_bad((char *)s->runstate);
        return -EINVAL;
    }
    s->state = r;
    s->received = true;
    trace_global_state_post_load((char *)s->runstate);
    return 0;
}

static int global_state_pre_save(void *opaque)
{
    GlobalState *s = opaque;

    trace_global_state_pre_save((char *)s->runstate);
    s->size = strnlen((char *)s->runstate, sizeof(s->runstate)) + 1;
    return 0;
}

static bool global_state_needed(void *opaque)
{
    GlobalState *s = opaque;
    const char *rs = (const char *)s->runstate;

    if (migrate_props()->store_global_state) {
        return true;
    }
    /* Without the property, only an unusual state is worth sending. */
    return strcmp(rs, "running") && strcmp(rs, "paused");
}

static const VMStateDescription vmstate_globalstate = {
    .name = "globalstate",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = global_state_post_load,
    .pre_save = global_state_pre_save,
    .needed = global_state_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(size, GlobalState),
        VMSTATE_BUFFER(runstate, GlobalState),
        VMSTATE_END_OF_LIST()
    },
};

void register_global_state(void)
{
    /* Until the first store, the state says "running" (as in QEMU). */
    global_state_store_running_state(RUN_STATE_RUNNING);
    vmstate_register(0, &vmstate_globalstate, &global_state);
}
