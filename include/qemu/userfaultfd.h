/*
 * userfaultfd.h: a thin, error-reporting wrapper over Linux userfaultfd.
 *
 * Postcopy registers guest RAM in MISSING mode: a thread touching a page
 * that is not there blocks in the kernel, and the fault thread learns the
 * address from the fd; the page is then filled atomically with
 * UFFDIO_COPY (or UFFDIO_ZEROPAGE), which also wakes the blocked thread.
 */
#ifndef QEMU_USERFAULTFD_H
#define QEMU_USERFAULTFD_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <linux/userfaultfd.h>

/* What this host offers (uffd_probe()). */
typedef struct UffdCaps {
    uint64_t features;      /* UFFD_FEATURE_* granted by UFFDIO_API */
    uint64_t ioctls;        /* (1 << _UFFDIO_*) for a registered range */
} UffdCaps;

/*
 * Checks that userfaultfd works here with what postcopy needs: the API,
 * REGISTER/UNREGISTER, and on a registered test page WAKE, COPY and
 * ZEROPAGE; @need_hugetlbfs adds MISSING_HUGETLBFS.  The error says why
 * not (e.g. vm.unprivileged_userfaultfd=0 for a non-root user).
 */
bool uffd_probe(bool need_hugetlbfs, UffdCaps *caps, Error **errp);

/* A non-blocking, close-on-exec userfaultfd with @features enabled. */
int uffd_open(uint64_t features, uint64_t *got_features, Error **errp);
bool uffd_register(int uffd, void *addr, uint64_t len, uint64_t *ioctls,
                   Error **errp);
bool uffd_unregister(int uffd, void *addr, uint64_t len, Error **errp);
/*
 * Fills [dst, dst+len) from @src / with zeroes and wakes waiters.
 * Returns 0, or -errno (-EEXIST: already there).
 */
int uffd_copy(int uffd, void *dst, const void *src, uint64_t len);
int uffd_zeropage(int uffd, void *dst, uint64_t len);
int uffd_wake(int uffd, void *addr, uint64_t len);

#endif
