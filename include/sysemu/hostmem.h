/*
 * hostmem.h: host memory backends (-object memory-backend-ram|memfd|file).
 *
 * A backend owns one RAMBlock named after its id, allocated when the
 * object is created, as QEMU does.  Boards take a backend by id
 * (-machine memory-backend=ID) or create the default one ("ram") from -m.
 */
#ifndef SYSEMU_HOSTMEM_H
#define SYSEMU_HOSTMEM_H

#include "qemu/osdep.h"
#include "qemu/option.h"
#include "exec/ramblock.h"

typedef struct HostMemoryBackend {
    char *id;
    char *type;             /* "memory-backend-ram", ... */
    uint64_t size;
    bool share;
    bool prealloc;
    bool used;              /* claimed by a board */
    RAMBlock *ram_block;
} HostMemoryBackend;

/* Creates and allocates a backend from -object options (qom-type first). */
HostMemoryBackend *host_memory_backend_create(QemuOpts *opts, Error **errp);
/* Creates the default RAM of a board, QEMU's "create_default_memdev". */
HostMemoryBackend *host_memory_backend_create_default(const char *id,
                                                      uint64_t size,
                                                      const char *mem_path,
                                                      bool prealloc,
                                                      Error **errp);
HostMemoryBackend *host_memory_backend_find(const char *id);
/*
 * -machine mem-merge / dump-guest-core, -smp and -mem-prealloc: the
 * defaults of merge, dump, prealloc-threads and prealloc (and of every
 * RAM block's advice).  Called at start-up before any backend is created.
 */
void host_memory_backend_set_machine_opts(bool mem_merge,
                                          bool dump_guest_core,
                                          unsigned smp_cpus,
                                          bool mem_prealloc);
bool host_memory_backend_is_type(const char *qom_type);
/* Registers the three types as user-creatable (command line only). */
void host_memory_backend_register_types(void);
void host_memory_backend_free_all(void);

#endif
