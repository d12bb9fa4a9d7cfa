/*
 * loader.h: the generic loader device (-device loader,...), as QEMU's:
 *
 *   -device loader,file=FILE,addr=ADDR      copy FILE (raw) to guest RAM
 *   -device loader,addr=ADDR,data=V,data-len=N[,data-be=on]
 *                                           store an N-byte value
 *
 * Applied at machine reset, before the VM first runs.  Interop tests use
 * it to fill a QEMU 7.2 guest's RAM without a CPU, and ferry the same way.
 */
#ifndef HW_LOADER_H
#define HW_LOADER_H

#include "qemu/osdep.h"
#include "qemu/option.h"

bool generic_loader_create(QemuOpts *opts, Error **errp);
/* Loads everything created so far (machine reset). */
bool generic_loader_reset(Error **errp);

#endif
