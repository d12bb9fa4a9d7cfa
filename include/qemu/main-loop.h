/*
 * main-loop.h: the main loop and the big QEMU lock (BQL).
 *
 * The main thread runs a GMainLoop on the default GMainContext and holds
 * the BQL at all times except while it is blocked in poll().  Everything
 * that changes machine-wide state (run state, RAM layout, QMP in-band
 * commands, qtest) runs there, under the BQL.  Other threads that need to
 * touch such state either take the BQL or hand a callback to the main loop
 * with main_loop_call().
 */
#ifndef QEMU_MAIN_LOOP_H
#define QEMU_MAIN_LOOP_H

#include "qemu/osdep.h"
#include "qemu/thread.h"

void bql_lock(void);
void bql_unlock(void);
bool bql_locked(void);
/* Waits on @cond with the BQL released meanwhile (held before and after). */
void bql_cond_wait(QemuCond *cond);

/* Sets up the main context; must run in the main thread before anything. */
void qemu_main_loop_init(void);
GMainContext *qemu_get_main_context(void);

/* Runs until main_loop_quit(); returns with the BQL held. */
void qemu_main_loop_run(void);
void qemu_main_loop_quit(void);

/*
 * Queues @cb(@opaque) to run once in the main thread with the BQL held.
 * Callable from any thread; callbacks run in the order they were queued.
 */
void main_loop_call(void (*cb)(void *opaque), void *opaque);

#endif
