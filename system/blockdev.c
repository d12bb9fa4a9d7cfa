/*
 * blockdev.c: -drive file=IMG,format=raw[,if=ide|none][,index=N]...
 */
#include "qemu/osdep.h"
#include "sysemu/blockdev.h"
#include "qemu/option.h"
#include "qemu/error-report.h"
#include "trace.h"

static GPtrArray *drives;

static void drive_free(gpointer p)
{
    DriveInfo *d = p;

    g_free(d->id);
    g_free(d->file);
    g_free(d->interface);
    g_free(d);
}

bool drive_add(const char *optstr, Error **errp)
{
    g_autoptr(QemuOpts) o = qemu_opts_parse(optstr, NULL, errp);
    const char *file, *format, *iface, *media;
    uint64_t index = UINT64_MAX;
    DriveInfo *d;
    bool ro;

    if (!o) {
        return false;
    }
    file = qemu_opt_get(o, "file");
    format = qemu_opt_get(o, "format");
    iface = qemu_opt_get(o, "if");
    media = qemu_opt_get(o, "media");
    qemu_opt_get(o, "id");
    qemu_opt_get(o, "cache");
    if (!qemu_opt_get_number(o, "index", UINT64_MAX, &index, errp) ||
        !qemu_opt_get_bool(o, "readonly", false, &ro, errp) ||
        !qemu_opts_check_unused(o, "Invalid parameter '%s'", errp)) {
        return false;
    }
    if (!file) {
        error_setg(errp, "a drive without file= gives ferry nothing to "
                   "boot (ferry has no removable media)");
        return false;
    }
    if (format && !g_str_equal(format, "raw")) {
        error_setg(errp, "'%s' invalid format (ferry reads raw images "
                   "only)", format);
        return false;
    }
    if (!format) {
        warn_report("Image format was not specified for '%s'; ferry reads "
                    "it as raw. Specify format=raw to silence this.", file);
    }
    if (iface && !g_str_equal(iface, "ide") && !g_str_equal(iface, "none")) {
        error_setg(errp, "unsupported bus type '%s' (ferry: ide or none)",
                   iface);
        return false;
    }
    if (media && !g_str_equal(media, "disk")) {
        error_setg(errp, "'%s' invalid media (ferry: disk)", media);
        return false;
    }
    if (!drives) {
        drives = g_ptr_array_new_with_free_func(drive_free);
    }
    if (index == UINT64_MAX) {
        /* Like QEMU: the first free index on the bus. */
        index = 0;
        for (guint i = 0; i < drives->len; i++) {
            DriveInfo *o2 = drives->pdata[i];

            if (g_str_equal(o2->interface, iface ? iface : "ide") &&
                o2->index >= index) {
                index = o2->index + 1;
            }
        }
    } else if (index > 3) {
        error_setg(errp, "index (%" PRIu64 ") must be between 0 and 3",
                   index);
        return false;
    }
    if (drive_get_ide(index) && (!iface || g_str_equal(iface, "ide"))) {
        error_setg(errp, "drive with bus=%u, unit=%u (index=%" PRIu64 ") "
                   "exists", (unsigned)index / 2, (unsigned)index % 2, index);
        return false;
    }
    d = g_new0(DriveInfo, 1);
    d->id = g_strdup(qemu_opt_get(o, "id"));
    d->file = g_strdup(file);
    d->interface = g_strdup(iface ? iface : "ide");
    d->index = index;
    d->read_only = ro;
    g_ptr_array_add(drives, d);
    trace_drive_add(d->file, d->interface, d->index);
    return true;
}

DriveInfo *drive_get_ide(unsigned index)
{
    for (guint i = 0; drives && i < drives->len; i++) {
        DriveInfo *d = drives->pdata[i];

        if (g_str_equal(d->interface, "ide") && d->index == index) {
            return d;
        }
    }
    return NULL;
}

bool drive_read(DriveInfo *d, uint64_t offset, void *buf, size_t len,
                Error **errp)
{
    int fd = open(d->file, O_RDONLY | O_CLOEXEC);
    size_t done = 0;

    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not open '%s'", d->file);
        return false;
    }
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done,
                          offset + done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error_setg_errno(errp, errno, "Could not read '%s'", d->file);
            close(fd);
            return false;
        }
        if (n == 0) {
            error_setg(errp, "'%s' is shorter than %" PRIu64 " bytes",
                       d->file, offset + len);
            close(fd);
            return false;
        }
        done += n;
    }
    close(fd);
    return true;
}

void drive_cleanup_all(void)
{
    g_clear_pointer(&drives, g_ptr_array_unref);
}
