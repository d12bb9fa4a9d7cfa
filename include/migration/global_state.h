/*
 * global_state.h: the run state carried by the "globalstate" section.
 */
#ifndef MIGRATION_GLOBAL_STATE_H
#define MIGRATION_GLOBAL_STATE_H

#include "qemu/osdep.h"
#include "sysemu/runstate.h"

void register_global_state(void);
/* Source: records the current run state (before stopping the VM). */
void global_state_store(void);
void global_state_store_running_state(RunState state);
/* Destination: what the stream said, if it said anything. */
bool global_state_received(void);
RunState global_state_get_runstate(void);
void global_state_reset_received(void);

#endif
