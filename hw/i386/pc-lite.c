/*
 * pc-lite.c: "-M pc-lite", the smallest PC a boot sector can run on.
 *
 * What a PC BIOS would have done before jumping to a boot sector is done
 * here directly: the first sector of the boot disk (-drive, ide index 0)
 * is copied to 0x7c00, the board's device tree to 0x10000, and the vCPU
 * starts in real mode at 0000:7c00 with DL = 0x80.  The board has:
 *
 *   - RAM ("pc.ram", as QEMU's pc names it) from guest physical 0, flat:
 *     no VGA hole and no BIOS ROM, since nothing here needs them; at most
 *     3 GiB, so it always ends below the framebuffer (larger sizes are
 *     refused rather than split around it: a boot sector could not use
 *     memory above 4 GiB anyway);
 *   - one x86 vCPU (there is no APIC to start others);
 *   - a 16550A UART at 0x3f8 on -serial (the first one);
 *   - system control port A at 0x92 (the fast A20 gate and reset bit);
 *   - with -vga std (the default), a 640x480x32 linear framebuffer at
 *     0xfd000000 in its own RAMBlock "vga.vram" (hw/display/vga-lfb.c);
 *   - a flattened device tree of all this at 0x10000 (pc-lite-fdt.c),
 *     also written out by -machine dumpdtb=FILE.
 *
 * The map is in pc-lite.h.
 *
 * Every other port or address the guest touches reads as unassigned
 * (all-ones for ports, zero for memory), is traced and ignored.  A20
 * gating is not modelled: under KVM the A20 line is always on, which is
 * what every boot sector asks for anyway.
 */
#include "qemu/osdep.h"
#include "hw/boards.h"
#include "hw/char/serial.h"
#include "sysemu/blockdev.h"
#include "sysemu/runstate.h"
#include "target/i386/cpu.h"
#include "migration/vmstate.h"
#include "migration/register.h"
#include "hw/display/vga-lfb.h"
#include "pc-lite.h"
#include "trace.h"

#define BOOT_SECTOR_ADDR    0x7c00
#define BOOT_SECTOR_SIZE    512

typedef struct Port92State {
    MemoryRegion io;
    uint8_t outport;
} Port92State;

static uint64_t port92_read(void *opaque, hwaddr addr, unsigned size)
{
    Port92State *s = opaque;

    return s->outport;
}

static void port92_write(void *opaque, hwaddr addr, uint64_t val,
                         unsigned size)
{
    Port92State *s = opaque;

    trace_port92_write(val);
    s->outport = val & ~1;
    if (val & 1) {
        /* Fast reset; ferry has no reset, so as QEMU -no-reboot. */
        qemu_system_shutdown_request(SHUTDOWN_CAUSE_GUEST_RESET);
    }
}

static const MemoryRegionOps port92_ops = {
    .read = port92_read,
    .write = port92_write,
};

static const VMStateDescription vmstate_port92 = {
    .name = "port92",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(outport, Port92State),
        VMSTATE_END_OF_LIST()
    },
};

static bool pc_lite_load_boot_sector(Error **errp)
{
    DriveInfo *d = drive_get_ide(0);
    uint8_t sector[BOOT_SECTOR_SIZE];

    if (!d) {
        error_setg(errp, "pc-lite needs a boot disk: -drive file=IMG,"
                   "format=raw");
        return false;
    }
    if (!drive_read(d, 0, sector, sizeof(sector), errp)) {
        return false;
    }
    if (sector[510] != 0x55 || sector[511] != 0xaa) {
        error_setg(errp, "'%s' is not a bootable disk (no 0x55AA boot "
                   "signature at byte 510)", d->file);
        return false;
    }
    address_space_write(&address_space_memory, BOOT_SECTOR_ADDR, sector,
                        sizeof(sector));
    trace_pc_lite_boot_sector(d->file);
    return true;
}

typedef struct PcLiteState {
    VGALfbState *vga;           /* NULL with -vga none */
} PcLiteState;

/* The device tree, into guest RAM at PC_LITE_FDT_ADDR. */
static bool pc_lite_load_fdt(MachineState *ms, Error **errp)
{
    PcLiteState *pcs = ms->board;

    if (ms->ram_size < PC_LITE_FDT_ADDR + PC_LITE_FDT_MAX) {
        error_setg(errp, "pc-lite needs at least %u KiB of RAM",
                   (PC_LITE_FDT_ADDR + PC_LITE_FDT_MAX) >> 10);
        return false;
    }
    ms->fdt = pc_lite_build_fdt(ms, pcs->vga != NULL, &ms->fdt_size, errp);
    if (!ms->fdt) {
        return false;
    }
    address_space_write(&address_space_memory, PC_LITE_FDT_ADDR, ms->fdt,
                        ms->fdt_size);
    return true;
}

static bool pc_lite_init(MachineState *ms, Error **errp)
{
    PcLiteState *pcs;
    Port92State *port92;
    X86CPU *cpu;

    if (!ms->ram_block) {
        error_setg(errp, "pc-lite needs RAM (-m)");
        return false;
    }
    if (ms->ram_size > PC_LITE_MAX_RAM) {
        error_setg(errp, "pc-lite supports at most %llu MiB of RAM (it "
                   "must end below the framebuffer at 0x%llx)",
                   PC_LITE_MAX_RAM >> 20, VGA_LFB_ADDR);
        return false;
    }
    if (ms->smp_cpus > 1) {
        error_setg(errp, "Invalid SMP CPUs %u. The max CPUs supported by "
                   "machine 'pc-lite' is 1", ms->smp_cpus);
        return false;
    }
    if (!address_space_map_region(&address_space_memory, 0, &ms->ram,
                                  errp)) {
        return false;
    }
    if (!serial_isa_init(0x3f8, qemu_chr_find("serial0"), errp)) {
        return false;
    }
    port92 = g_new0(Port92State, 1);
    memory_region_init_io(&port92->io, "port92", &port92_ops, port92, 1);
    if (!address_space_map_region(&address_space_io, 0x92, &port92->io,
                                  errp)) {
        return false;
    }
    vmstate_register(VMSTATE_INSTANCE_ID_ANY, &vmstate_port92, port92);
    pcs = g_new0(PcLiteState, 1);
    ms->board = pcs;
    if (ms->vga_std) {
        pcs->vga = vga_lfb_init(&address_space_memory, VGA_LFB_ADDR, errp);
        if (!pcs->vga) {
            return false;
        }
    }
    if (!pc_lite_load_fdt(ms, errp)) {
        return false;
    }
    if (!pc_lite_load_boot_sector(errp)) {
        return false;
    }
    cpu = x86_cpu_new(errp);
    if (!cpu) {
        return false;
    }
    x86_cpu_reset_boot_sector(cpu, 0x80);
    return true;
}

static void pc_lite_cleanup(MachineState *ms)
{
    PcLiteState *pcs = ms->board;

    if (pcs) {
        vga_lfb_fini(pcs->vga);
        g_free(pcs);
        ms->board = NULL;
    }
}

static const MachineClass machine_pc_lite_class = {
    .name = "pc-lite",
    .desc = "minimal PC that boots a 512-byte boot sector",
    .default_ram_size = 128 << 20,
    .default_ram_id = "pc.ram",
    .max_cpus = 1,
    .init = pc_lite_init,
    .cleanup = pc_lite_cleanup,
};

void machine_register_pc_lite(void)
{
    machine_register_class(&machine_pc_lite_class);
}
