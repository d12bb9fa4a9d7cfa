/*
 * register.h: how devices and subsystems join the migration stream.
 *
 * Two kinds of participants, as in QEMU:
 *  - iterative ("live") handlers, registered with register_savevm_live():
 *    RAM is one; they send START, PART and END sections while the VM runs;
 *  - device state described by a VMStateDescription, registered with
 *    vmstate_register(): one FULL section each at switchover.
 * The idstr and instance id name a section on the wire; the order of
 * registration (then the vmsd priority) is the order of the sections.
 * ferry has no qdev tree, so vmstate_register() takes no object: the
 * idstr is the vmsd name, as for QEMU's machine-level devices.
 *
 * Callbacks that can fail take Error **errp; the stream code adds the
 * section name and stream offset to the message.
 */
#ifndef MIGRATION_REGISTER_H
#define MIGRATION_REGISTER_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "migration/qemu-file-types.h"

typedef struct VMStateDescription VMStateDescription;

typedef struct SaveVMHandlers {
    /* Source, migration thread. */
    int (*save_setup)(QEMUFile *f, void *opaque, Error **errp);
    /* One chunk; returns 1 when nothing is left, 0 if more, -errno. */
    int (*save_live_iterate)(QEMUFile *f, void *opaque, Error **errp);
    /* Everything left (VM stopped, BQL held). */
    int (*save_live_complete_precopy)(QEMUFile *f, void *opaque,
                                      Error **errp);
    int (*save_live_complete_postcopy)(QEMUFile *f, void *opaque,
                                       Error **errp);
    /* Bytes still to send: must go before switchover / may go after. */
    void (*state_pending)(void *opaque, uint64_t threshold,
                          uint64_t *must_precopy, uint64_t *can_postcopy);
    bool (*is_active)(void *opaque);
    bool (*has_postcopy)(void *opaque);
    /*
     * Work that must not wait for the rate limit (postcopy page requests):
     * the handler is iterated even when the limit is reached.
     */
    bool (*has_urgent_work)(void *opaque);
    void (*save_cleanup)(void *opaque);

    /* Destination, incoming thread. */
    int (*load_setup)(QEMUFile *f, void *opaque, Error **errp);
    int (*load_state)(QEMUFile *f, void *opaque, int version_id,
                      Error **errp);
    void (*load_cleanup)(void *opaque);
} SaveVMHandlers;

#define VMSTATE_INSTANCE_ID_ANY UINT32_MAX

int register_savevm_live(const char *idstr, uint32_t instance_id,
                         int version_id, const SaveVMHandlers *ops,
                         void *opaque);
void unregister_savevm(const char *idstr, void *opaque);

/* @instance_id VMSTATE_INSTANCE_ID_ANY: the next free one for the name. */
int vmstate_register(uint32_t instance_id, const VMStateDescription *vmsd,
                     void *opaque);
void vmstate_unregister(const VMStateDescription *vmsd, void *opaque);

#endif
