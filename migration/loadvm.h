/*
 * loadvm.h: the destination's savevm stream loader (loadvm.c).
 */
#ifndef MIGRATION_LOADVM_H
#define MIGRATION_LOADVM_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu-file.h"

typedef struct MigrationIncomingState MigrationIncomingState;

/* Where the section/command loop runs: each accepts its own elements. */
typedef enum LoadvmPhase {
    LOADVM_PHASE_MAIN,      /* the main channel, up to the package */
    LOADVM_PHASE_PACKAGE,   /* the PACKAGED blob: LISTEN, devices, RUN */
    LOADVM_PHASE_LISTEN,    /* the main channel after LISTEN: RAM */
} LoadvmPhase;

/* Header, configuration, sections and commands to EOF, VMDESCRIPTION. */
int qemu_loadvm_state(QEMUFile *f, MigrationIncomingState *mis,
                      Error **errp);
/*
 * The section/command loop only (PACKAGED blobs, and the main channel
 * after LISTEN): 0 at EOF, LOADVM_QUIT after POSTCOPY_RUN, < 0 on an
 * error, which is also recorded on @f.  What @phase does not accept
 * fails the load.
 */
int qemu_loadvm_state_main(QEMUFile *f, MigrationIncomingState *mis,
                           LoadvmPhase phase, Error **errp);
void qemu_loadvm_state_cleanup(MigrationIncomingState *mis);

#endif
