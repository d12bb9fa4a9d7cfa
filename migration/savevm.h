/*
 * savevm.h: the savevm stream — sections, commands, header and the
 * handler registry (private to migration/).
 */
#ifndef MIGRATION_SAVEVM_H
#define MIGRATION_SAVEVM_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu-file.h"

#define QEMU_VM_FILE_MAGIC           0x5145564d
#define QEMU_VM_FILE_VERSION_COMPAT  0x00000002
#define QEMU_VM_FILE_VERSION         0x00000003

#define QEMU_VM_EOF                  0x00
#define QEMU_VM_SECTION_START        0x01
#define QEMU_VM_SECTION_PART         0x02
#define QEMU_VM_SECTION_END          0x03
#define QEMU_VM_SECTION_FULL         0x04
#define QEMU_VM_SUBSECTION           0x05
#define QEMU_VM_VMDESCRIPTION        0x06
#define QEMU_VM_CONFIGURATION        0x07
#define QEMU_VM_COMMAND              0x08
#define QEMU_VM_SECTION_FOOTER       0x7e

/*
 * MIG_CMD_*: 7.2 knows 1..10.  11 (SWITCHOVER_START) came in 10.0: ferry
 * accepts it from a newer source and sends it only when the
 * send-switchover-start property is on (off by default, as 7.2 rejects it).
 */
enum MigCmd {
    MIG_CMD_INVALID = 0,
    MIG_CMD_OPEN_RETURN_PATH,
    MIG_CMD_PING,
    MIG_CMD_POSTCOPY_ADVISE,
    MIG_CMD_POSTCOPY_LISTEN,
    MIG_CMD_POSTCOPY_RUN,
    MIG_CMD_POSTCOPY_RAM_DISCARD,
    MIG_CMD_PACKAGED,
    MIG_CMD_ENABLE_COLO,
    MIG_CMD_POSTCOPY_RESUME,
    MIG_CMD_RECV_BITMAP,
    MIG_CMD_SWITCHOVER_START,
    MIG_CMD_MAX
};

/*
 * Largest PACKAGED blob accepted.  It holds the device state only (RAM
 * never: loadvm.c), a few KiB for ferry's machines; QEMU 7.2 allows
 * 4 GiB and buffers it whole, older QEMUs capped it at 16 MiB, as ferry
 * does: a stream cannot make the destination buffer more.
 */
#define MAX_VM_CMD_PACKAGED_SIZE (16u << 20)

const char *mig_cmd_name(unsigned cmd);

/* ---- source ---- */
void qemu_savevm_state_header(QEMUFile *f);
int qemu_savevm_state_setup(QEMUFile *f, Error **errp);
/* Returns 1 when every iterative handler has sent everything. */
typedef struct SaveStateEntry SaveStateEntry;

int qemu_savevm_state_iterate(QEMUFile *f, bool postcopy, Error **errp);
/*
 * The header / footer of a SECTION_PART of @se written outside
 * qemu_savevm_state_iterate() (postcopy pages sent by the return-path
 * thread).  The caller serialises the writers of @f.
 */
void qemu_savevm_section_part_begin(QEMUFile *f, SaveStateEntry *se);
void qemu_savevm_section_part_end(QEMUFile *f, SaveStateEntry *se);
void qemu_savevm_state_pending(uint64_t threshold, uint64_t *must_precopy,
                               uint64_t *can_postcopy);
/*
 * END sections of the iterative handlers (unless @in_postcopy), FULL
 * sections of the devices, and — unless @in_postcopy — EOF and the JSON
 * description.  VM stopped, BQL held.
 */
int qemu_savevm_state_complete_precopy(QEMUFile *f, bool in_postcopy,
                                       Error **errp);
int qemu_savevm_state_complete_postcopy(QEMUFile *f, Error **errp);
void qemu_savevm_state_cleanup(void);
bool qemu_savevm_state_has_postcopy(void);

void qemu_savevm_command_send(QEMUFile *f, enum MigCmd cmd, uint16_t len,
                              const uint8_t *data);
void qemu_savevm_send_open_return_path(QEMUFile *f);
void qemu_savevm_send_ping(QEMUFile *f, uint32_t value);
void qemu_savevm_send_postcopy_advise(QEMUFile *f);
void qemu_savevm_send_postcopy_listen(QEMUFile *f);
void qemu_savevm_send_postcopy_run(QEMUFile *f);
void qemu_savevm_send_switchover_start(QEMUFile *f);
void qemu_savevm_send_recv_bitmap(QEMUFile *f, const char *idstr);
void qemu_savevm_send_postcopy_resume(QEMUFile *f);
/* PACKAGED: the command, then the blob. */
void qemu_savevm_send_packaged(QEMUFile *f, const uint8_t *buf, size_t len);

/* ---- destination (the loader itself is in loadvm.h) ---- */

/*
 * One "configuration/..." subsection (name already consumed): uuid,
 * capabilities, target-page-bits.  Unknown ones are errors (-ENOENT in
 * QEMU), since a source must not send what the destination cannot check.
 */
bool config_load_subsection(QEMUFile *f, const char *name, Error **errp);

/* Returned by the loop when POSTCOPY_RUN ends a (nested) load. */
#define LOADVM_QUIT 1

/* Registry internals shared by savevm.c and loadvm.c. */
SaveStateEntry *savevm_find_se(const char *idstr, uint32_t instance_id);
const char *savevm_se_idstr(SaveStateEntry *se);
int savevm_load_se(QEMUFile *f, SaveStateEntry *se, int version_id,
                   Error **errp);
int savevm_se_version(SaveStateEntry *se);
/* Whether @se goes on in postcopy (RAM: the postcopy-ram capability). */
bool savevm_se_has_postcopy(SaveStateEntry *se);
void savevm_foreach_se(void (*fn)(SaveStateEntry *se, void *opaque),
                       void *opaque);
int savevm_load_setup(QEMUFile *f, Error **errp);
void savevm_foreach_load_cleanup(void);

#endif
