/*
 * console.c: the registry of graphic consoles and their surfaces.
 *
 * QEMU's console.c also multiplexes text consoles, keyboards and display
 * listeners; ferry has no display window, so what is left is what a
 * screendump needs: a numbered list of consoles, each with the surface
 * its device last gave it.  Main thread only (see console.h).
 */
#include "qemu/osdep.h"
#include "ui/console.h"
#include "trace.h"

struct QemuConsole {
    unsigned int index;
    char *name;
    const GraphicHwOps *ops;
    void *opaque;
    DisplaySurface *surface;
};

/* Created and read by the main thread only. */
static GPtrArray *consoles;

DisplaySurface *qemu_create_displaysurface_from(int width, int height,
                                                pixman_format_code_t format,
                                                int stride, uint8_t *data)
{
    DisplaySurface *s = g_new0(DisplaySurface, 1);

    s->image = pixman_image_create_bits(format, width, height,
                                        (uint32_t *)data, stride);
    g_assert(s->image);     /* only fails on bad sizes, which are ours */
    trace_displaysurface_create_from(s, width, height, format);
    return s;
}

void qemu_free_displaysurface(DisplaySurface *surface)
{
    if (!surface) {
        return;
    }
    trace_displaysurface_free(surface);
    pixman_image_unref(surface->image);
    g_free(surface);
}

QemuConsole *graphic_console_init(const char *name, const GraphicHwOps *ops,
                                  void *opaque)
{
    QemuConsole *con = g_new0(QemuConsole, 1);

    if (!consoles) {
        consoles = g_ptr_array_new();
    }
    con->index = consoles->len;
    con->name = g_strdup(name);
    con->ops = ops;
    con->opaque = opaque;
    g_ptr_array_add(consoles, con);
    trace_console_gfx_new(con->index, name);
    return con;
}

void graphic_console_close(QemuConsole *con)
{
    if (!con) {
        return;
    }
    trace_console_gfx_close(con->index, con->name);
    g_ptr_array_remove(consoles, con);
    /* Later consoles move down, as if created without this one. */
    for (guint i = 0; i < consoles->len; i++) {
        ((QemuConsole *)consoles->pdata[i])->index = i;
    }
    qemu_free_displaysurface(con->surface);
    g_free(con->name);
    g_free(con);
}

void dpy_gfx_replace_surface(QemuConsole *con, DisplaySurface *surface)
{
    DisplaySurface *old = con->surface;

    trace_displaysurface_replace(con->index, old, surface);
    con->surface = surface;
    qemu_free_displaysurface(old);
}

QemuConsole *qemu_console_lookup_by_index(unsigned int index)
{
    if (!consoles || index >= consoles->len) {
        return NULL;
    }
    return consoles->pdata[index];
}

DisplaySurface *qemu_console_surface(QemuConsole *con)
{
    return con->surface;
}

const char *qemu_console_get_name(QemuConsole *con)
{
    return con->name;
}

void graphic_hw_update(QemuConsole *con)
{
    if (con->ops && con->ops->gfx_update) {
        con->ops->gfx_update(con->opaque);
    }
}
