/*
 * pc-lite-fdt.c: pc-lite describes itself in a flattened device tree.
 *
 * x86 boards usually leave this to ACPI; pc-lite has no firmware, so the
 * tree is how a boot sector learns where its RAM ends (the A/B guest
 * reads /memory's reg) and how a user checks what the command line made
 * (-machine dumpdtb=FILE, then dtc -I dtb -O dts FILE).  The tree:
 *
 *   / { compatible = "ferry,pc-lite"; #address-cells = <2>; #size-cells = <2>;
 *     chosen { stdout-path = "/isa/serial@i3f8"; };
 *     aliases { serial0 = "/isa/serial@i3f8"; };
 *     memory@0 { device_type = "memory"; reg = <0 0 hi lo>; };
 *     cpus { cpu@0 { device_type = "cpu"; reg = <0>; }; };
 *     isa { serial@i3f8 { compatible = "ns16550a"; reg = <1 0x3f8 8>; ... }; };
 *     framebuffer@fd000000 { compatible = "simple-framebuffer"; ... };  (-vga std)
 *   };
 *
 * The UART sits in x86 I/O space, not memory, so it hangs off an "isa"
 * node with the ISA binding's two address cells (1 = I/O space, then the
 * port), as Linux's x86 device trees (ce4100) write it.
 */
#include "qemu/osdep.h"
#include "hw/display/vga-lfb.h"
#include "pc-lite.h"
#include "trace.h"
#include <libfdt.h>

#define UART_PATH   "/isa/serial@i3f8"

/* The first libfdt error wins; later calls are skipped. */
typedef struct FdtBuilder {
    void *fdt;
    int err;
    const char *what;
} FdtBuilder;

static int fb_node(FdtBuilder *b, int parent, const char *name)
{
    int off;

    if (b->err) {
        return -1;
    }
    off = fdt_add_subnode(b->fdt, parent, name);
    if (off < 0) {
        b->err = off;
        b->what = name;
    }
    return off;
}

static void fb_prop(FdtBuilder *b, int node, const char *name,
                    const void *val, int len)
{
    int ret;

    if (b->err) {
        return;
    }
    ret = fdt_setprop(b->fdt, node, name, val, len);
    if (ret < 0) {
        b->err = ret;
        b->what = name;
    }
}

static void fb_str(FdtBuilder *b, int node, const char *name, const char *s)
{
    fb_prop(b, node, name, s, strlen(s) + 1);
}

/* A property of @n 32-bit cells, written big-endian. */
static void fb_cells(FdtBuilder *b, int node, const char *name,
                     const uint32_t *cells, int n)
{
    fdt32_t be[8];

    g_assert(n <= (int)G_N_ELEMENTS(be));
    for (int i = 0; i < n; i++) {
        be[i] = cpu_to_fdt32(cells[i]);
    }
    fb_prop(b, node, name, be, n * sizeof(be[0]));
}

static void fb_u32(FdtBuilder *b, int node, const char *name, uint32_t v)
{
    fb_cells(b, node, name, &v, 1);
}

/* reg = <base size> with two cells each (the root's address/size cells). */
static void fb_reg64(FdtBuilder *b, int node, uint64_t base, uint64_t size)
{
    uint32_t reg[4] = { base >> 32, (uint32_t)base, size >> 32,
                        (uint32_t)size };

    fb_cells(b, node, "reg", reg, 4);
}

static void add_cpus(FdtBuilder *b, const MachineState *ms)
{
    int cpus = fb_node(b, 0, "cpus");

    fb_u32(b, cpus, "#address-cells", 1);
    fb_u32(b, cpus, "#size-cells", 0);
    for (unsigned i = 0; i < ms->smp_cpus; i++) {
        g_autofree char *name = g_strdup_printf("cpu@%u", i);
        int cpu = fb_node(b, cpus, name);

        fb_str(b, cpu, "device_type", "cpu");
        fb_u32(b, cpu, "reg", i);
    }
}

static void add_uart(FdtBuilder *b)
{
    uint32_t reg[3] = { 1, PC_LITE_UART_BASE, 8 };     /* I/O space */
    int isa = fb_node(b, 0, "isa");
    int uart;

    fb_str(b, isa, "compatible", "isa");
    fb_str(b, isa, "device_type", "isa");
    fb_u32(b, isa, "#address-cells", 2);
    fb_u32(b, isa, "#size-cells", 1);
    uart = fb_node(b, isa, "serial@i3f8");
    fb_str(b, uart, "compatible", "ns16550a");
    fb_cells(b, uart, "reg", reg, 3);
    fb_u32(b, uart, "clock-frequency", PC_LITE_UART_CLOCK);
    fb_u32(b, uart, "current-speed", 115200);
}

static void add_framebuffer(FdtBuilder *b)
{
    g_autofree char *name = g_strdup_printf("framebuffer@%llx",
                                            (unsigned long long)VGA_LFB_ADDR);
    int fb = fb_node(b, 0, name);

    fb_str(b, fb, "compatible", "simple-framebuffer");
    fb_reg64(b, fb, VGA_LFB_ADDR, VGA_LFB_STRIDE * VGA_LFB_HEIGHT);
    fb_u32(b, fb, "width", VGA_LFB_WIDTH);
    fb_u32(b, fb, "height", VGA_LFB_HEIGHT);
    fb_u32(b, fb, "stride", VGA_LFB_STRIDE);
    fb_str(b, fb, "format", VGA_LFB_FORMAT);
}

void *pc_lite_build_fdt(const MachineState *ms, bool framebuffer, int *size,
                        Error **errp)
{
    FdtBuilder b = { .fdt = g_malloc0(PC_LITE_FDT_MAX) };
    int node, ret;

    b.err = fdt_create_empty_tree(b.fdt, PC_LITE_FDT_MAX);
    b.what = "the empty tree";
    if (!b.err) {
        fb_str(&b, 0, "compatible", "ferry,pc-lite");
        fb_str(&b, 0, "model", "ferry pc-lite");
        fb_u32(&b, 0, "#address-cells", 2);
        fb_u32(&b, 0, "#size-cells", 2);
        node = fb_node(&b, 0, "chosen");
        fb_str(&b, node, "stdout-path", UART_PATH);
        node = fb_node(&b, 0, "aliases");
        fb_str(&b, node, "serial0", UART_PATH);
        node = fb_node(&b, 0, "memory@0");
        fb_str(&b, node, "device_type", "memory");
        fb_reg64(&b, node, 0, ms->ram_size);
        add_cpus(&b, ms);
        add_uart(&b);
        if (framebuffer) {
            add_framebuffer(&b);
        }
    }
    if (!b.err) {
        b.what = "packing";
        b.err = fdt_pack(b.fdt);
    }
    if (b.err) {
        error_setg(errp, "pc-lite device tree: %s: %s", b.what,
                   fdt_strerror(b.err));
        g_free(b.fdt);
        return NULL;
    }
    *size = fdt_totalsize(b.fdt);
    ret = fdt_check_full(b.fdt, *size);
    if (ret < 0) {
        error_setg(errp, "pc-lite device tree fails fdt_check_full: %s",
                   fdt_strerror(ret));
        g_free(b.fdt);
        return NULL;
    }
    trace_pc_lite_fdt(*size, framebuffer);
    return b.fdt;
}
