/*
 * userfaultfd.c: the userfaultfd calls postcopy needs, each reporting
 * failures with errno, and the start-up probe.
 */
#include "qemu/osdep.h"
#include "qemu/userfaultfd.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

static int uffd_syscall(int flags)
{
#ifdef __NR_userfaultfd
    return syscall(__NR_userfaultfd, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/*
 * Linux 6.1+ also hands out userfaultfds through /dev/userfaultfd, to
 * whoever may open it, whatever vm.unprivileged_userfaultfd says.
 */
static int uffd_from_device(int flags)
{
#ifdef USERFAULTFD_IOC_NEW
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    int fd;

    if (dev < 0) {
        return -1;
    }
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
    close(dev);
    return fd;
#else
    errno = ENOENT;
    return -1;
#endif
}

static void uffd_explain(Error **errp, int err)
{
    if (err == EPERM) {
        /* QMP shows only the message: say there what to do. */
        error_setg_errno(errp, err, "userfaultfd not available (as a "
                         "non-root user: set vm.unprivileged_userfaultfd=1, "
                         "grant CAP_SYS_PTRACE, or allow access to "
                         "/dev/userfaultfd)");
    } else {
        error_setg_errno(errp, err, "userfaultfd not available");
    }
}

int uffd_open(uint64_t features, uint64_t *got_features, Error **errp)
{
    struct uffdio_api api = { .api = UFFD_API, .features = features };
    int fd = uffd_syscall(O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        int err = errno;

        fd = uffd_from_device(O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            uffd_explain(errp, err);
            return -1;
        }
    }
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        error_setg_errno(errp, errno, "UFFDIO_API failed (features 0x%"
                         PRIx64 ")", (uint64_t)features);
        close(fd);
        return -1;
    }
    if (got_features) {
        *got_features = api.features;
    }
    return fd;
}

bool uffd_register(int uffd, void *addr, uint64_t len, uint64_t *ioctls,
                   Error **errp)
{
    struct uffdio_register reg = {
        .range = { .start = (uintptr_t)addr, .len = len },
        .mode = UFFDIO_REGISTER_MODE_MISSING,
    };

    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
        error_setg_errno(errp, errno, "UFFDIO_REGISTER of %p+0x%" PRIx64
                         " failed", addr, len);
        return false;
    }
    if (ioctls) {
        *ioctls = reg.ioctls;
    }
    return true;
}

bool uffd_unregister(int uffd, void *addr, uint64_t len, Error **errp)
{
    struct uffdio_range r = { .start = (uintptr_t)addr, .len = len };

    if (ioctl(uffd, UFFDIO_UNREGISTER, &r) < 0) {
        error_setg_errno(errp, errno, "UFFDIO_UNREGISTER failed");
        return false;
    }
    return true;
}

int uffd_copy(int uffd, void *dst, const void *src, uint64_t len)
{
    struct uffdio_copy c = {
        .dst = (uintptr_t)dst,
        .src = (uintptr_t)src,
        .len = len,
    };

    while (ioctl(uffd, UFFDIO_COPY, &c) < 0) {
        if (errno != EAGAIN) {
            return -errno;
        }
        /* Partial copy (rare): continue with what is left. */
        if (c.copy > 0) {
            c.dst += c.copy;
            c.src += c.copy;
            c.len -= c.copy;
        }
        c.copy = 0;
    }
    return 0;
}

int uffd_zeropage(int uffd, void *dst, uint64_t len)
{
    struct uffdio_zeropage z = {
        .range = { .start = (uintptr_t)dst, .len = len },
    };

    while (ioctl(uffd, UFFDIO_ZEROPAGE, &z) < 0) {
        if (errno != EAGAIN) {
            return -errno;
        }
        if (z.zeropage > 0) {
            z.range.start += z.zeropage;
            z.range.len -= z.zeropage;
        }
        z.zeropage = 0;
    }
    return 0;
}

int uffd_wake(int uffd, void *addr, uint64_t len)
{
    struct uffdio_range r = { .start = (uintptr_t)addr, .len = len };

    return ioctl(uffd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

bool uffd_probe(bool need_hugetlbfs, UffdCaps *caps, Error **errp)
{
    uint64_t want = (1ULL << _UFFDIO_WAKE) | (1ULL << _UFFDIO_COPY) |
                    (1ULL << _UFFDIO_ZEROPAGE);
    uint64_t features = 0, ioctls = 0;
    size_t ps = qemu_real_host_page_size;
    void *page;
    int fd;

    fd = uffd_open(0, &features, errp);
    if (fd < 0) {
        return false;
    }
    if (need_hugetlbfs && !(features & UFFD_FEATURE_MISSING_HUGETLBFS)) {
        error_setg(errp, "userfaultfd does not support hugetlbfs here");
        close(fd);
        return false;
    }
    page = mmap(NULL, ps, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        error_setg_errno(errp, errno, "userfaultfd probe: mmap failed");
        close(fd);
        return false;
    }
    if (!uffd_register(fd, page, ps, &ioctls, errp)) {
        munmap(page, ps);
        close(fd);
        return false;
    }
    uffd_unregister(fd, page, ps, NULL);
    munmap(page, ps);
    close(fd);
    if ((ioctls & want) != want) {
        error_setg(errp, "userfaultfd lacks WAKE/COPY/ZEROPAGE (ioctls "
                   "0x%" PRIx64 ")", ioctls);
        return false;
    }
    if (caps) {
        caps->features = features;
        caps->ioctls = ioctls;
    }
    return true;
}
