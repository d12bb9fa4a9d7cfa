/*
 * null-machine.c: "-M none", the empty machine.
 *
 * Like QEMU 7.2's: no CPU and no devices, only RAM (when -m or
 * memory-backend= gives some) mapped at guest physical address 0.  Its
 * migration stream carries exactly the sections configuration ("none"),
 * ram, timer and globalstate, which is what makes ferry <-> QEMU interop
 * possible.
 */
#include "qemu/osdep.h"
#include "hw/boards.h"

static bool machine_none_init(MachineState *ms, Error **errp)
{
    if (ms->ram_block) {
        return address_space_map_region(&address_space_memory, 0, &ms->ram,
                                        errp);
    }
    return true;
}

static const MachineClass machine_none_class = {
    .name = "none",
    .desc = "empty machine",
    .default_ram_size = 0,
    .default_ram_id = "ram",
    .init = machine_none_init,
};

void machine_register_none(void)
{
    machine_register_class(&machine_none_class);
}
