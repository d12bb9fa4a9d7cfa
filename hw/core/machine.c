/*
 * machine.c: the machine type registry and common board initialisation.
 */
#include "qemu/osdep.h"
#include "hw/boards.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "trace.h"

MachineState *current_machine;

static GPtrArray *machine_classes;

void machine_register_class(const MachineClass *mc)
{
    if (!machine_classes) {
        machine_classes = g_ptr_array_new();
    }
    g_ptr_array_add(machine_classes, (gpointer)mc);
}

const MachineClass *machine_find_class(const char *name)
{
    for (guint i = 0; machine_classes && i < machine_classes->len; i++) {
        const MachineClass *mc = machine_classes->pdata[i];

        if (g_str_equal(mc->name, name) ||
            (mc->alias && g_str_equal(mc->alias, name))) {
            return mc;
        }
    }
    return NULL;
}

void machine_print_list(FILE *f)
{
    fprintf(f, "Supported machines are:\n");
    for (guint i = 0; machine_classes && i < machine_classes->len; i++) {
        const MachineClass *mc = machine_classes->pdata[i];

        fprintf(f, "%-20s %s%s\n", mc->name, mc->desc,
                mc->is_default ? " (default)" : "");
    }
}

void machine_register_builtin(void)
{
    machine_register_none();
    machine_register_pc_lite();
}

MachineState *machine_new(const MachineClass *mc)
{
    MachineState *ms = g_new0(MachineState, 1);

    ms->mc = mc;
    ms->ram_size = mc->default_ram_size;
    ms->smp_cpus = 1;
    ms->vga_std = true;
    return ms;
}

/*
 * RAM set-up, QEMU 7.2's rules: with memory-backend=ID the backend is the
 * RAM and its size must equal -m when -m is given; otherwise -m creates a
 * backend named after the machine's default_ram_id ("ram").
 */
static bool machine_create_ram(MachineState *ms, Error **errp)
{
    if (ms->ram_memdev_id) {
        HostMemoryBackend *b = host_memory_backend_find(ms->ram_memdev_id);

        if (!b) {
            error_setg(errp, "Memory backend '%s' not found",
                       ms->ram_memdev_id);
            return false;
        }
        if (ms->ram_size_set && b->size != ms->ram_size) {
            error_setg(errp, "Machine memory size does not match the size "
                       "of the memory backend");
            return false;
        }
        if (b->used) {
            error_setg(errp, "memory backend %s can't be used multiple times.",
                       b->id);
            return false;
        }
        b->used = true;
        ms->ram_size = b->size;
        ms->ram_backend = b;
    } else if (ms->ram_size) {
        ms->ram_backend = host_memory_backend_create_default(
            ms->mc->default_ram_id ? ms->mc->default_ram_id : "ram",
            ms->ram_size, ms->mem_path, ms->mem_prealloc, errp);
        if (!ms->ram_backend) {
            return false;
        }
        ms->ram_backend->used = true;
    }
    if (ms->ram_backend) {
        ms->ram_block = ms->ram_backend->ram_block;
        memory_region_init_ram_from_block(&ms->ram, ms->ram_block->idstr,
                                          ms->ram_block);
    }
    return true;
}

bool machine_run_board_init(MachineState *ms, Error **errp)
{
    if (!machine_create_ram(ms, errp)) {
        return false;
    }
    trace_machine_init(ms->mc->name, ms->ram_size);
    current_machine = ms;
    return ms->mc->init(ms, errp);
}

bool machine_dumpdtb(MachineState *ms, Error **errp)
{
    g_autoptr(GError) gerr = NULL;

    if (!ms->dumpdtb || !ms->fdt) {
        return false;
    }
    if (!g_file_set_contents(ms->dumpdtb, ms->fdt, ms->fdt_size, &gerr)) {
        error_setg(errp, "qemu_fdt_dumpdtb: Failed dumping dtb to %s",
                   ms->dumpdtb);
        return false;
    }
    trace_machine_dumpdtb(ms->dumpdtb, ms->fdt_size);
    info_report("dtb dumped to %s. Exiting.", ms->dumpdtb);
    return true;
}

void machine_free(MachineState *ms)
{
    if (!ms) {
        return;
    }
    /* Unmapped first: the board's cleanup frees its regions. */
    address_space_unmap_all(&address_space_memory);
    address_space_unmap_all(&address_space_io);
    if (ms->mc->cleanup) {
        ms->mc->cleanup(ms);
    }
    g_free(ms->ram.name);
    g_free(ms->ram_memdev_id);
    g_free(ms->mem_path);
    g_free(ms->dumpdtb);
    g_free(ms->fdt);
    if (current_machine == ms) {
        current_machine = NULL;
    }
    g_free(ms);
}
