/*
 * blockdev.h: -drive, as far as ferry uses it.
 *
 * ferry has no block layer: a drive is a raw image file whose first
 * sector a board may read at init (pc-lite boots from it).  The option
 * takes QEMU's spelling so existing command lines work; anything ferry
 * cannot honour (another format, an interface it has no controller for)
 * is an error, never silently ignored.  Main thread only.
 */
#ifndef SYSEMU_BLOCKDEV_H
#define SYSEMU_BLOCKDEV_H

#include "qemu/osdep.h"
#include "qapi/error.h"

typedef struct DriveInfo {
    char *id;
    char *file;
    char *interface;            /* "ide" (the default) or "none" */
    unsigned index;
    bool read_only;
} DriveInfo;

/* Parses one -drive argument and records the drive. */
bool drive_add(const char *optstr, Error **errp);
/* The drive with @index on the ide bus (the boot disk is index 0). */
DriveInfo *drive_get_ide(unsigned index);
/* Reads @len bytes at @offset of @dinfo's image. */
bool drive_read(DriveInfo *dinfo, uint64_t offset, void *buf, size_t len,
                Error **errp);
void drive_cleanup_all(void);

#endif
