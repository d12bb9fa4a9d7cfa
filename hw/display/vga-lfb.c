/*
 * vga-lfb.c: pc-lite's "-vga std" — a linear framebuffer in its own
 * RAMBlock, shown on a graphic console (see vga-lfb.h for the mode).
 *
 * Design note: QEMU's std VGA draws the guest's video RAM into a surface
 * on each display refresh.  Here the mode never changes and its format is
 * one pixman reads directly, so the console's surface is a pixman image
 * over the RAMBlock's host memory itself: a screendump sees every write
 * at once (vCPU, qtest, or an incoming migration placing pages) without
 * a refresh timer or a vCPU.  That relies on the host being little-endian
 * like the guest (pixman formats are host-endian 32-bit values).
 *
 * The video RAM is ordinary guest RAM to everyone else: KVM maps it as a
 * memory slot (so the guest's writes are in the dirty log), migration
 * sends it as the RAMBlock "vga.vram", and on a postcopy destination it
 * is registered with userfaultfd like the rest.
 */
#include "qemu/osdep.h"
#include "hw/display/vga-lfb.h"
#include "trace.h"

G_STATIC_ASSERT(VGA_LFB_STRIDE * VGA_LFB_HEIGHT <= VGA_VRAM_SIZE);
G_STATIC_ASSERT(G_BYTE_ORDER == G_LITTLE_ENDIAN);

VGALfbState *vga_lfb_init(AddressSpace *as, hwaddr base, Error **errp)
{
    VGALfbState *s = g_new0(VGALfbState, 1);
    DisplaySurface *surface;

    s->vram = qemu_ram_alloc_anon(VGA_VRAM_NAME, VGA_VRAM_SIZE, false, errp);
    if (!s->vram) {
        goto err_free;
    }
    memory_region_init_ram_from_block(&s->mr, VGA_VRAM_NAME, s->vram);
    if (!address_space_map_region(as, base, &s->mr, errp)) {
        goto err_ram;
    }
    s->con = graphic_console_init("VGA", NULL, s);
    surface = qemu_create_displaysurface_from(VGA_LFB_WIDTH, VGA_LFB_HEIGHT,
                                              PIXMAN_x8r8g8b8,
                                              VGA_LFB_STRIDE, s->vram->host);
    dpy_gfx_replace_surface(s->con, surface);
    trace_vga_lfb_init(base, VGA_LFB_WIDTH, VGA_LFB_HEIGHT, VGA_LFB_STRIDE);
    return s;

err_ram:
    g_free(s->mr.name);
    qemu_ram_free(s->vram);
err_free:
    g_free(s);
    return NULL;
}

void vga_lfb_fini(VGALfbState *s)
{
    if (!s) {
        return;
    }
    trace_vga_lfb_fini();
    graphic_console_close(s->con);
    /* (The address space map is cleared by machine_free().) */
    g_free(s->mr.name);
    qemu_ram_free(s->vram);
    g_free(s);
}
