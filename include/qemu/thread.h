/*
 * thread.h: mutexes, condition variables, semaphores, events and threads,
 * with QEMU's names over POSIX threads.
 *
 * QemuEvent is a manual-reset event: qemu_event_set() wakes every waiter
 * and stays set until qemu_event_reset().  QemuSemaphore counts.
 * Every wait has a _timedwait form taking milliseconds, so code can wait
 * for another thread with a deadline and never needs to sleep.
 */
#ifndef QEMU_THREAD_H
#define QEMU_THREAD_H

#include "qemu/osdep.h"
#include <pthread.h>

typedef struct QemuMutex {
    pthread_mutex_t lock;
} QemuMutex;

typedef struct QemuCond {
    pthread_cond_t cond;
} QemuCond;

typedef struct QemuSemaphore {
    QemuMutex mutex;
    QemuCond cond;
    unsigned int count;
} QemuSemaphore;

typedef struct QemuEvent {
    QemuMutex mutex;
    QemuCond cond;
    bool set;
} QemuEvent;

typedef struct QemuThread {
    pthread_t thread;
} QemuThread;

#define QEMU_THREAD_JOINABLE 0
#define QEMU_THREAD_DETACHED 1

void qemu_mutex_init(QemuMutex *mutex);
void qemu_mutex_destroy(QemuMutex *mutex);
void qemu_mutex_lock(QemuMutex *mutex);
bool qemu_mutex_trylock(QemuMutex *mutex);
void qemu_mutex_unlock(QemuMutex *mutex);

void qemu_cond_init(QemuCond *cond);
void qemu_cond_destroy(QemuCond *cond);
void qemu_cond_signal(QemuCond *cond);
void qemu_cond_broadcast(QemuCond *cond);
void qemu_cond_wait(QemuCond *cond, QemuMutex *mutex);
/* Returns false on timeout. */
bool qemu_cond_timedwait(QemuCond *cond, QemuMutex *mutex, int ms);

void qemu_sem_init(QemuSemaphore *sem, unsigned int init);
void qemu_sem_destroy(QemuSemaphore *sem);
void qemu_sem_post(QemuSemaphore *sem);
void qemu_sem_wait(QemuSemaphore *sem);
/* Returns 0, or -1 on timeout. */
int qemu_sem_timedwait(QemuSemaphore *sem, int ms);

void qemu_event_init(QemuEvent *ev, bool init);
void qemu_event_destroy(QemuEvent *ev);
void qemu_event_set(QemuEvent *ev);
void qemu_event_reset(QemuEvent *ev);
void qemu_event_wait(QemuEvent *ev);
bool qemu_event_timedwait(QemuEvent *ev, int ms);

void qemu_thread_create(QemuThread *thread, const char *name,
                        void *(*start_routine)(void *), void *arg, int mode);
void *qemu_thread_join(QemuThread *thread);
bool qemu_thread_is_self(QemuThread *thread);
void qemu_thread_get_self(QemuThread *thread);

/*
 * Scheduling class of the calling thread, for background work that runs
 * beside work with a deadline (postcopy: the push of the rest of RAM
 * beside the threads that serve a waiting vCPU's page).
 *
 * BULK: SCHED_OTHER at nice QEMU_THREAD_BULK_NICE, so that every normal
 *   thread that wakes up on a busy CPU gets it first.  Always allowed.
 * NORMAL: nice 0 again; from BULK that needs CAP_SYS_NICE (RLIMIT_NICE),
 *   without it the thread stays at its nice.
 *
 * (Real-time classes were measured and made things worse: the kernel
 * places a woken real-time thread on an idle CPU, which must first wake
 * up, where a normal thread would have run next to its waker.)
 *
 * Returns 0 or a negative errno; traced either way.
 */
typedef enum QemuThreadClass {
    QEMU_THREAD_NORMAL,
    QEMU_THREAD_BULK,
} QemuThreadClass;

#define QEMU_THREAD_BULK_NICE 10

int qemu_thread_set_class(QemuThreadClass cls);

/* Scoped lock: QEMU_LOCK_GUARD(&m) unlocks at the end of the scope. */
static inline QemuMutex *qemu_lock_guard_lock(QemuMutex *m)
{
    qemu_mutex_lock(m);
    return m;
}
static inline void qemu_lock_guard_unlock(QemuMutex **m)
{
    if (*m) {
        qemu_mutex_unlock(*m);
    }
}
#define QEMU_LOCK_GUARD_CAT2(a, b) a##b
#define QEMU_LOCK_GUARD_CAT(a, b) QEMU_LOCK_GUARD_CAT2(a, b)
#define QEMU_LOCK_GUARD(m)                                              \
    QemuMutex *QEMU_LOCK_GUARD_CAT(qemu_lockguard_, __LINE__)           \
        __attribute__((cleanup(qemu_lock_guard_unlock), unused)) =      \
        qemu_lock_guard_lock(m)

#endif
