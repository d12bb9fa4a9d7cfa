/*
 * console.h: graphic consoles and the display surfaces they show.
 *
 * A display device (hw/display) registers a graphic console and gives it
 * a DisplaySurface: a pixman image, usually over the device's video RAM
 * itself, so that what the guest (or qtest) wrote is what the surface
 * shows, with no copy and no refresh timer.  Consoles are numbered in the
 * order they are created; console 0 is the one "screendump" without a
 * device takes, as in QEMU.
 *
 * Threads: consoles are created during machine initialisation and read
 * by the main thread (QMP) afterwards, under the big lock.  The pixels
 * under a surface belong to the guest: vCPUs write them without a lock,
 * so a dump taken while the guest runs may mix two frames, as in QEMU.
 */
#ifndef UI_CONSOLE_H
#define UI_CONSOLE_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <pixman.h>

typedef struct DisplaySurface {
    pixman_image_t *image;      /* owns a reference */
} DisplaySurface;

typedef struct QemuConsole QemuConsole;

typedef struct GraphicHwOps {
    /* Brings the surface up to date before it is read (may be NULL). */
    void (*gfx_update)(void *opaque);
} GraphicHwOps;

/*
 * A surface over @data (not copied, not freed with the surface):
 * @width x @height pixels of @format, @stride bytes a line.
 */
DisplaySurface *qemu_create_displaysurface_from(int width, int height,
                                                pixman_format_code_t format,
                                                int stride, uint8_t *data);
void qemu_free_displaysurface(DisplaySurface *surface);

static inline int surface_width(DisplaySurface *s)
{
    return pixman_image_get_width(s->image);
}

static inline int surface_height(DisplaySurface *s)
{
    return pixman_image_get_height(s->image);
}

static inline int surface_stride(DisplaySurface *s)
{
    return pixman_image_get_stride(s->image);
}

/* Registers a console for device @name; the first one gets index 0. */
QemuConsole *graphic_console_init(const char *name, const GraphicHwOps *ops,
                                  void *opaque);
/* Unregisters @con and frees it with its surface. */
void graphic_console_close(QemuConsole *con);
/* Gives @con a new surface; the old one is freed. */
void dpy_gfx_replace_surface(QemuConsole *con, DisplaySurface *surface);

QemuConsole *qemu_console_lookup_by_index(unsigned int index);
DisplaySurface *qemu_console_surface(QemuConsole *con);
const char *qemu_console_get_name(QemuConsole *con);
void graphic_hw_update(QemuConsole *con);

/*
 * Image files from a pixman image, as QEMU's screendump writes them:
 * PPM (P6, 8-bit RGB) and PNG (8-bit RGB, through libpng).  Both take
 * ownership of @fd and close it.
 */
bool ppm_save(int fd, pixman_image_t *image, Error **errp);
bool png_save(int fd, pixman_image_t *image, Error **errp);

/* QMP: screendump. */
void qmp_register_ui_commands(void);

#endif
