/*
 * compiler.h: compiler attribute shorthands used across the tree.
 */
#ifndef QEMU_COMPILER_H
#define QEMU_COMPILER_H

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define QEMU_NORETURN      __attribute__((noreturn))
#define QEMU_WARN_UNUSED   __attribute__((warn_unused_result))
#define QEMU_PACKED        __attribute__((packed))
#define QEMU_UNUSED        __attribute__((unused))
#define QEMU_FALLTHROUGH   __attribute__((fallthrough))

#define QEMU_BUILD_BUG_ON(x) _Static_assert(!(x), "QEMU_BUILD_BUG_ON(" #x ")")

#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
