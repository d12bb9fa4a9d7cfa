/*
 * boards.h: machine types and the machine instance.
 *
 * A MachineClass describes a board (-M NAME); machine_run_board_init()
 * creates its RAM (the default "ram" backend from -m, or the backend
 * named by memory-backend=) and calls the board's init.  Only the main
 * thread touches the machine.
 */
#ifndef HW_BOARDS_H
#define HW_BOARDS_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "sysemu/hostmem.h"

typedef struct MachineState MachineState;

typedef struct MachineClass {
    const char *name;
    const char *desc;
    const char *alias;
    bool is_default;
    uint64_t default_ram_size;
    const char *default_ram_id;
    unsigned max_cpus;          /* 0: the machine has no vCPUs */
    bool (*init)(MachineState *ms, Error **errp);
    /* Frees what init made (may be NULL); called by machine_free(). */
    void (*cleanup)(MachineState *ms);
} MachineClass;

struct MachineState {
    const MachineClass *mc;
    uint64_t ram_size;          /* 0: the machine has no RAM */
    bool ram_size_set;          /* -m given */
    char *ram_memdev_id;        /* memory-backend= */
    char *mem_path;             /* -mem-path */
    bool mem_prealloc;          /* -mem-prealloc */
    unsigned smp_cpus;          /* -smp (1 when not given) */
    HostMemoryBackend *ram_backend;
    RAMBlock *ram_block;
    MemoryRegion ram;
    /*
     * -vga std|none (std unless -vga none or -nodefaults without -vga
     * std, as in QEMU); boards without a display ignore it.
     */
    bool vga_std;
    char *dumpdtb;              /* -machine dumpdtb=FILE */
    void *fdt;                  /* the board's device tree, if it has one */
    int fdt_size;
    void *board;                /* the board's own state (init's) */
};

extern MachineState *current_machine;

const MachineClass *machine_find_class(const char *name);
/* Prints "Supported machines are:" and the list, like QEMU's -M help. */
void machine_print_list(FILE *f);
void machine_register_class(const MachineClass *mc);
void machine_register_builtin(void);
void machine_register_none(void);
void machine_register_pc_lite(void);

MachineState *machine_new(const MachineClass *mc);
bool machine_run_board_init(MachineState *ms, Error **errp);
/*
 * -machine dumpdtb=FILE after board init: writes the board's device tree
 * and returns true when the process should now exit 0 (QEMU's
 * "dtb dumped to FILE. Exiting."); false with *@errp if writing failed;
 * false without an error when there is nothing to dump (no dumpdtb=, or
 * a board without a device tree, which QEMU ignores too).
 */
bool machine_dumpdtb(MachineState *ms, Error **errp);
void machine_free(MachineState *ms);

#endif
