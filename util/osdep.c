/*
 * osdep.c: small portability helpers (page size, thread ids, clocks, fds).
 */
#include "qemu/osdep.h"
#include <sys/syscall.h>

size_t qemu_real_host_page_size = 4096;

void qemu_init_host_page(void)
{
    long sz = sysconf(_SC_PAGESIZE);

    if (sz > 0) {
        qemu_real_host_page_size = sz;
    }
}

int qemu_get_thread_id(void)
{
    return syscall(SYS_gettid);
}

int64_t get_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t get_clock_realtime(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool qemu_set_nonblock(int fd, bool nonblock)
{
    int f = fcntl(fd, F_GETFL);

    if (f < 0) {
        return false;
    }
    f = nonblock ? (f | O_NONBLOCK) : (f & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, f) == 0;
}

bool qemu_set_cloexec(int fd)
{
    int f = fcntl(fd, F_GETFD);

    return f >= 0 && fcntl(fd, F_SETFD, f | FD_CLOEXEC) == 0;
}

/* Sizes are remembered in a header page so that free needs no size. */
void *qemu_memalign_pages(size_t size)
{
    size_t ps = qemu_real_host_page_size;
    size_t total = ROUND_UP(size, ps) + ps;
    uint8_t *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        g_error("failed to map %zu bytes", total);
    }
    *(size_t *)p = total;
    return p + ps;
}

void qemu_free_pages(void *ptr)
{
    if (ptr) {
        uint8_t *p = (uint8_t *)ptr - qemu_real_host_page_size;

        munmap(p, *(size_t *)p);
    }
}
