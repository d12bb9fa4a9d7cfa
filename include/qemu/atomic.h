/*
 * atomic.h: thin wrappers over the GCC/clang __atomic builtins, spelled the
 * way QEMU spells them so code reads the same in both trees.
 *
 * qatomic_read/set are relaxed accesses that only prevent tearing; the
 * *_acquire/_release forms and the read-modify-write operations are
 * sequentially consistent unless their name says otherwise.
 */
#ifndef QEMU_ATOMIC_H
#define QEMU_ATOMIC_H

#define qatomic_read(ptr)            __atomic_load_n(ptr, __ATOMIC_RELAXED)
#define qatomic_set(ptr, v)          __atomic_store_n(ptr, v, __ATOMIC_RELAXED)
#define qatomic_load_acquire(ptr)    __atomic_load_n(ptr, __ATOMIC_ACQUIRE)
#define qatomic_store_release(ptr, v) __atomic_store_n(ptr, v, __ATOMIC_RELEASE)
#define qatomic_xchg(ptr, v)         __atomic_exchange_n(ptr, v, __ATOMIC_SEQ_CST)
#define qatomic_cmpxchg(ptr, old, new) ({                                  \
        __typeof__(*(ptr)) _old = (old);                                  \
        __atomic_compare_exchange_n(ptr, &_old, new, false,               \
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);  \
        _old; })
#define qatomic_fetch_add(ptr, n)    __atomic_fetch_add(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_sub(ptr, n)    __atomic_fetch_sub(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_or(ptr, n)     __atomic_fetch_or(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_and(ptr, n)    __atomic_fetch_and(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_add(ptr, n)          ((void)__atomic_add_fetch(ptr, n, __ATOMIC_SEQ_CST))
#define qatomic_inc(ptr)             qatomic_add(ptr, 1)
#define qatomic_dec(ptr)             ((void)__atomic_sub_fetch(ptr, 1, __ATOMIC_SEQ_CST))
#define qatomic_or(ptr, n)           ((void)__atomic_or_fetch(ptr, n, __ATOMIC_SEQ_CST))
#define qatomic_and(ptr, n)          ((void)__atomic_and_fetch(ptr, n, __ATOMIC_SEQ_CST))
#define smp_mb()                     __atomic_thread_fence(__ATOMIC_SEQ_CST)

#endif
