/*
 * vga-lfb.h: the linear framebuffer of "-vga std" on pc-lite.
 *
 * What a guest sees: 640x480 pixels, 32 bits each (x8r8g8b8: the 32-bit
 * little-endian value 0x00RRGGBB), 2560 bytes a line, at guest physical
 * VGA_LFB_ADDR — the address where QEMU's firmware puts the standard
 * VGA's framebuffer BAR.  The mode is fixed: there are no registers, so
 * there is no device state to migrate, only the video RAM, a RAMBlock
 * named "vga.vram" (16 MiB, as QEMU's standard VGA) that migrates like
 * all guest RAM, precopy and postcopy.
 */
#ifndef HW_DISPLAY_VGA_LFB_H
#define HW_DISPLAY_VGA_LFB_H

#include "qemu/osdep.h"
#include "exec/memory.h"
#include "ui/console.h"

#define VGA_LFB_ADDR        0xfd000000ULL
#define VGA_LFB_WIDTH       640
#define VGA_LFB_HEIGHT      480
#define VGA_LFB_BPP         32
#define VGA_LFB_STRIDE      (VGA_LFB_WIDTH * VGA_LFB_BPP / 8)
#define VGA_LFB_FORMAT      "x8r8g8b8"  /* simple-framebuffer's name */
#define VGA_VRAM_SIZE       (16ULL << 20)
#define VGA_VRAM_NAME       "vga.vram"

typedef struct VGALfbState {
    RAMBlock *vram;
    MemoryRegion mr;
    QemuConsole *con;
} VGALfbState;

/* Creates the video RAM, maps it at @base of @as, registers a console. */
VGALfbState *vga_lfb_init(AddressSpace *as, hwaddr base, Error **errp);
/* Frees what vga_lfb_init() made; every thread using guest RAM is gone. */
void vga_lfb_fini(VGALfbState *s);

#endif
