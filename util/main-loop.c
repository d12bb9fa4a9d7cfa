/*
 * main-loop.c: the BQL and the main GMainContext.
 *
 * The BQL is released only inside the main context's poll function, so
 * every source dispatched by the main loop runs with it held, exactly as
 * QEMU's main loop does.  Other threads take it with bql_lock() when they
 * must touch machine state.
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qemu/atomic.h"
#include "trace.h"

static QemuMutex bql;
static __thread bool bql_held;
static GMainLoop *main_loop;
static GMainContext *main_ctx;

void bql_lock(void)
{
    assert(!bql_held);
    qemu_mutex_lock(&bql);
    bql_held = true;
}

void bql_unlock(void)
{
    assert(bql_held);
    bql_held = false;
    qemu_mutex_unlock(&bql);
}

bool bql_locked(void)
{
    return bql_held;
}

void bql_cond_wait(QemuCond *cond)
{
    assert(bql_held);
    bql_held = false;
    qemu_cond_wait(cond, &bql);
    bql_held = true;
}

static gint main_loop_poll(GPollFD *ufds, guint nfds, gint timeout)
{
    gint ret;

    if (timeout == 0) {
        return g_poll(ufds, nfds, 0);
    }
    bql_unlock();
    ret = g_poll(ufds, nfds, timeout);
    bql_lock();
    return ret;
}

void qemu_main_loop_init(void)
{
    qemu_mutex_init(&bql);
    main_ctx = g_main_context_default();
    g_main_context_set_poll_func(main_ctx, main_loop_poll);
    main_loop = g_main_loop_new(main_ctx, false);
    bql_lock();
}

GMainContext *qemu_get_main_context(void)
{
    return main_ctx;
}

void qemu_main_loop_run(void)
{
    g_main_loop_run(main_loop);
}

void qemu_main_loop_quit(void)
{
    g_main_loop_quit(main_loop);
}

typedef struct MainLoopCall {
    void (*cb)(void *opaque);
    void *opaque;
    /*
     * Set (release) once the call is filled in, read (acquire) before it
     * runs.  GLib's context lock already orders the two, but with a lock
     * ThreadSanitizer cannot see (a futex): this makes the hand-over, and
     * everything the calling thread did before it, visible to TSan too.
     */
    bool ready;
} MainLoopCall;

static gboolean main_loop_call_dispatch(gpointer data)
{
    MainLoopCall *c = data;

    /* (Always true: the acquire is what matters.) */
    (void)qatomic_load_acquire(&c->ready);
    c->cb(c->opaque);
    return G_SOURCE_REMOVE;
}

void main_loop_call(void (*cb)(void *opaque), void *opaque)
{
    MainLoopCall *c = g_new(MainLoopCall, 1);
    GSource *src = g_idle_source_new();

    trace_main_loop_call((void *)cb, opaque);
    c->cb = cb;
    c->opaque = opaque;
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, main_loop_call_dispatch, c, g_free);
    /* (After everything allocated for it, the source included.) */
    qatomic_store_release(&c->ready, true);
    g_source_attach(src, main_ctx);
    g_source_unref(src);
}
