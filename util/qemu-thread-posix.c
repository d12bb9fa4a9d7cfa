/*
 * qemu-thread-posix.c: QEMU's thread primitives over pthreads.
 *
 * A failing pthread call on a valid object is a programming error, never a
 * consequence of input, so it aborts with a message.
 */
#include "qemu/osdep.h"
#include "qemu/thread.h"
#include "trace.h"

#include <sys/resource.h>

static void error_exit(int err, const char *msg)
{
    fprintf(stderr, "ferry: %s: %s\n", msg, strerror(err));
    abort();
}

void qemu_mutex_init(QemuMutex *mutex)
{
    int err = pthread_mutex_init(&mutex->lock, NULL);

    if (err) {
        error_exit(err, __func__);
    }
}

void qemu_mutex_destroy(QemuMutex *mutex)
{
    int err = pthread_mutex_destroy(&mutex->lock);

    if (err) {
        error_exit(err, __func__);
    }
}

void qemu_mutex_lock(QemuMutex *mutex)
{
    int err = pthread_mutex_lock(&mutex->lock);

    if (err) {
        error_exit(err, __func__);
    }
}

bool qemu_mutex_trylock(QemuMutex *mutex)
{
    return pthread_mutex_trylock(&mutex->lock) == 0;
}

void qemu_mutex_unlock(QemuMutex *mutex)
{
    int err = pthread_mutex_unlock(&mutex->lock);

    if (err) {
        error_exit(err, __func__);
    }
}

void qemu_cond_init(QemuCond *cond)
{
    pthread_condattr_t attr;
    int err;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    err = pthread_cond_init(&cond->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (err) {
        error_exit(err, __func__);
    }
}

void qemu_cond_destroy(QemuCond *cond)
{
    int err = pthread_cond_destroy(&cond->cond);

    if (err) {
        error_exit(err, __func__);
    }
}

void qemu_cond_signal(QemuCond *cond)
{
    pthread_cond_signal(&cond->cond);
}

void qemu_cond_broadcast(QemuCond *cond)
{
    pthread_cond_broadcast(&cond->cond);
}

void qemu_cond_wait(QemuCond *cond, QemuMutex *mutex)
{
    int err = pthread_cond_wait(&cond->cond, &mutex->lock);

    if (err) {
        error_exit(err, __func__);
    }
}

bool qemu_cond_timedwait(QemuCond *cond, QemuMutex *mutex, int ms)
{
    struct timespec ts;
    int err;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    err = pthread_cond_timedwait(&cond->cond, &mutex->lock, &ts);
    if (err && err != ETIMEDOUT) {
        error_exit(err, __func__);
    }
    return err != ETIMEDOUT;
}

void qemu_sem_init(QemuSemaphore *sem, unsigned int init)
{
    qemu_mutex_init(&sem->mutex);
    qemu_cond_init(&sem->cond);
    sem->count = init;
}

void qemu_sem_destroy(QemuSemaphore *sem)
{
    qemu_cond_destroy(&sem->cond);
    qemu_mutex_destroy(&sem->mutex);
}

void qemu_sem_post(QemuSemaphore *sem)
{
    qemu_mutex_lock(&sem->mutex);
    sem->count++;
    qemu_cond_signal(&sem->cond);
    qemu_mutex_unlock(&sem->mutex);
}

void qemu_sem_wait(QemuSemaphore *sem)
{
    qemu_mutex_lock(&sem->mutex);
    while (sem->count == 0) {
        qemu_cond_wait(&sem->cond, &sem->mutex);
    }
    sem->count--;
    qemu_mutex_unlock(&sem->mutex);
}

int qemu_sem_timedwait(QemuSemaphore *sem, int ms)
{
    int64_t deadline = get_clock() + (int64_t)ms * 1000000;
    int ret = 0;

    qemu_mutex_lock(&sem->mutex);
    while (sem->count == 0) {
        int64_t left = (deadline - get_clock()) / 1000000;

        if (left <= 0 || !qemu_cond_timedwait(&sem->cond, &sem->mutex,
                                              (int)left)) {
            if (sem->count == 0) {
                ret = -1;
                break;
            }
        }
    }
    if (ret == 0) {
        sem->count--;
    }
    qemu_mutex_unlock(&sem->mutex);
    return ret;
}

void qemu_event_init(QemuEvent *ev, bool init)
{
    qemu_mutex_init(&ev->mutex);
    qemu_cond_init(&ev->cond);
    ev->set = init;
}

void qemu_event_destroy(QemuEvent *ev)
{
    qemu_cond_destroy(&ev->cond);
    qemu_mutex_destroy(&ev->mutex);
}

void qemu_event_set(QemuEvent *ev)
{
    qemu_mutex_lock(&ev->mutex);
    ev->set = true;
    qemu_cond_broadcast(&ev->cond);
    qemu_mutex_unlock(&ev->mutex);
}

void qemu_event_reset(QemuEvent *ev)
{
    qemu_mutex_lock(&ev->mutex);
    ev->set = false;
    qemu_mutex_unlock(&ev->mutex);
}

void qemu_event_wait(QemuEvent *ev)
{
    qemu_mutex_lock(&ev->mutex);
    while (!ev->set) {
        qemu_cond_wait(&ev->cond, &ev->mutex);
    }
    qemu_mutex_unlock(&ev->mutex);
}

bool qemu_event_timedwait(QemuEvent *ev, int ms)
{
    int64_t deadline = get_clock() + (int64_t)ms * 1000000;
    bool set;

    qemu_mutex_lock(&ev->mutex);
    while (!ev->set) {
        int64_t left = (deadline - get_clock()) / 1000000;

        if (left <= 0) {
            break;
        }
        qemu_cond_timedwait(&ev->cond, &ev->mutex, (int)left);
    }
    set = ev->set;
    qemu_mutex_unlock(&ev->mutex);
    return set;
}

typedef struct ThreadStart {
    void *(*fn)(void *);
    void *arg;
    char *name;
} ThreadStart;

static void *thread_start(void *opaque)
{
    ThreadStart *ts = opaque;
    void *(*fn)(void *) = ts->fn;
    void *arg = ts->arg;

    if (ts->name) {
        /* Linux limits thread names to 15 characters. */
        char name[16];

        g_strlcpy(name, ts->name, sizeof(name));
        pthread_setname_np(pthread_self(), name);
    }
    g_free(ts->name);
    g_free(ts);
    return fn(arg);
}

void qemu_thread_create(QemuThread *thread, const char *name,
                        void *(*start_routine)(void *), void *arg, int mode)
{
    ThreadStart *ts = g_new0(ThreadStart, 1);
    pthread_attr_t attr;
    sigset_t set, oldset;
    int err;

    ts->fn = start_routine;
    ts->arg = arg;
    ts->name = g_strdup(name);
    pthread_attr_init(&attr);
    if (mode == QEMU_THREAD_DETACHED) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    }
    /* New threads start with all signals blocked; only main handles them. */
    sigfillset(&set);
    pthread_sigmask(SIG_SETMASK, &set, &oldset);
    err = pthread_create(&thread->thread, &attr, thread_start, ts);
    pthread_sigmask(SIG_SETMASK, &oldset, NULL);
    pthread_attr_destroy(&attr);
    if (err) {
        error_exit(err, __func__);
    }
}

void *qemu_thread_join(QemuThread *thread)
{
    void *ret;
    int err = pthread_join(thread->thread, &ret);

    if (err) {
        error_exit(err, __func__);
    }
    return ret;
}

bool qemu_thread_is_self(QemuThread *thread)
{
    return pthread_equal(pthread_self(), thread->thread);
}

void qemu_thread_get_self(QemuThread *thread)
{
    thread->thread = pthread_self();
}

int qemu_thread_set_class(QemuThreadClass cls)
{
    int tid = qemu_get_thread_id();
    int nice = cls == QEMU_THREAD_BULK ? QEMU_THREAD_BULK_NICE : 0;
    int ret = 0;

    /* On Linux a thread id names one thread to setpriority(). */
    if (setpriority(PRIO_PROCESS, tid, nice) < 0) {
        ret = -errno;
    }
    trace_qemu_thread_set_class(tid, nice, ret);
    return ret;
}
