/*
 * osdep.h: the first header every ferry source file includes.
 *
 * It pins the feature-test macros (so that every translation unit sees the
 * same libc), pulls in the handful of system and glib headers that nearly
 * every file needs, and defines the small helper macros that QEMU code is
 * written against (QEMU_ALIGN_*, ROUND_UP, MIN/MAX come from glib).
 */
#ifndef QEMU_OSDEP_H
#define QEMU_OSDEP_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "qemu/compiler.h"

/* Guest physical address and RAM-address types, as in QEMU. */
typedef uint64_t hwaddr;
typedef uint64_t ram_addr_t;
#define HWADDR_PRIx PRIx64
#define RAM_ADDR_FMT "%" PRIx64

#define QEMU_IS_ALIGNED(n, m)    (((n) % (m)) == 0)
#define QEMU_ALIGN_DOWN(n, m)    ((n) / (m) * (m))
#define QEMU_ALIGN_UP(n, m)      QEMU_ALIGN_DOWN((n) + (m) - 1, (m))
#define QEMU_IS_POW2(n)          ((n) != 0 && (((n) & ((n) - 1)) == 0))
#define ROUND_UP(n, d)           QEMU_ALIGN_UP(n, d)
#define DIV_ROUND_UP(n, d)       (((n) + (d) - 1) / (d))
#define ARRAY_SIZE(x)            (sizeof(x) / sizeof((x)[0]))

/*
 * The target page: ferry emulates x86, whose TARGET_PAGE_BITS is 12.  The
 * value travels implicitly on the migration wire (RAM record flags live in
 * the bits below it), so it is a compile-time constant here as in QEMU.
 */
#define TARGET_PAGE_BITS 12
#define TARGET_PAGE_SIZE (1u << TARGET_PAGE_BITS)
#define TARGET_PAGE_MASK (~(uint64_t)(TARGET_PAGE_SIZE - 1))

/* The host's base page size, cached at startup by qemu_init_host_page(). */
extern size_t qemu_real_host_page_size;
void qemu_init_host_page(void);

/* Thread id of the caller, as shown in traces and by gdb. */
int qemu_get_thread_id(void);

/* Monotonic and realtime clocks in nanoseconds. */
int64_t get_clock(void);
int64_t get_clock_realtime(void);

/* Page-aligned allocations (mmap'ed; abort only if the host is out of
 * address space, as g_malloc does). */
void *qemu_memalign_pages(size_t size);
void qemu_free_pages(void *p);

/* Sets O_NONBLOCK / FD_CLOEXEC; return false with errno set on failure. */
bool qemu_set_nonblock(int fd, bool nonblock);
bool qemu_set_cloexec(int fd);

#endif /* QEMU_OSDEP_H */
