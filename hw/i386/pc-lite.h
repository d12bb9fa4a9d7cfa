/*
 * pc-lite.h: what pc-lite's files share (private to hw/i386).
 *
 * The guest physical map of pc-lite:
 *
 *   0x00000000 .. RAM size      pc.ram (at most 3 GiB: it never reaches
 *                               the framebuffer)
 *     0x7c00                    the boot sector
 *     0x10000 .. 0x1ffff        the flattened device tree (PC_LITE_FDT_ADDR)
 *   0xfd000000 .. +16 MiB       vga.vram, the linear framebuffer (-vga std)
 */
#ifndef HW_I386_PC_LITE_H
#define HW_I386_PC_LITE_H

#include "hw/boards.h"

#define PC_LITE_MAX_RAM     (3ULL << 30)
#define PC_LITE_FDT_ADDR    0x10000
#define PC_LITE_FDT_MAX     0x10000
#define PC_LITE_UART_BASE   0x3f8
#define PC_LITE_UART_CLOCK  1843200     /* a PC's 1.8432 MHz crystal */

/*
 * Builds pc-lite's device tree for @ms (with the framebuffer node when
 * @framebuffer); checked with fdt_check_full().  Returns it (g_free) and
 * its size, or NULL with *@errp set.
 */
void *pc_lite_build_fdt(const MachineState *ms, bool framebuffer, int *size,
                        Error **errp);

#endif
