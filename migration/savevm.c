/*
 * savevm.c: the handler registry and the source side of the savevm
 * stream — header, configuration, iterative sections, device sections,
 * commands, EOF and the JSON description (spec §2, §5).
 *
 * Registration happens in the main thread at start-up; once a migration
 * runs the list is only read (by the migration thread, or the incoming
 * thread on a destination).
 */
#include "qemu/osdep.h"
#include "savevm.h"
#include "migration.h"
#include "options.h"
#include "migration/register.h"
#include "migration/vmstate.h"
#include "qapi/qmp/json-writer.h"
#include "exec/ramblock.h"
#include "sysemu/sysemu.h"
#include "hw/boards.h"
#include "qemu/main-loop.h"
#include "trace.h"

struct SaveStateEntry {
    char idstr[256];
    uint32_t instance_id;
    int version_id;
    uint32_t section_id;        /* our id on the wire (source) */
    const SaveVMHandlers *ops;
    const VMStateDescription *vmsd;
    void *opaque;
    bool is_ram;
};

static GPtrArray *savevm_handlers;      /* SaveStateEntry *, stream order */
static uint32_t next_section_id;

static const char *const mig_cmd_names[MIG_CMD_MAX] = {
    [MIG_CMD_INVALID] = "INVALID",
    [MIG_CMD_OPEN_RETURN_PATH] = "OPEN_RETURN_PATH",
    [MIG_CMD_PING] = "PING",
    [MIG_CMD_POSTCOPY_ADVISE] = "POSTCOPY_ADVISE",
    [MIG_CMD_POSTCOPY_LISTEN] = "POSTCOPY_LISTEN",
    [MIG_CMD_POSTCOPY_RUN] = "POSTCOPY_RUN",
    [MIG_CMD_POSTCOPY_RAM_DISCARD] = "POSTCOPY_RAM_DISCARD",
    [MIG_CMD_PACKAGED] = "PACKAGED",
    [MIG_CMD_ENABLE_COLO] = "ENABLE_COLO",
    [MIG_CMD_POSTCOPY_RESUME] = "POSTCOPY_RESUME",
    [MIG_CMD_RECV_BITMAP] = "RECV_BITMAP",
    [MIG_CMD_SWITCHOVER_START] = "SWITCHOVER_START",
};

const char *mig_cmd_name(unsigned cmd)
{
    return cmd < MIG_CMD_MAX ? mig_cmd_names[cmd] : "UNKNOWN";
}

/* ---- registry ---- */

static uint32_t next_instance_id(const char *idstr)
{
    uint32_t id = 0;

    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (g_str_equal(se->idstr, idstr) && se->instance_id >= id) {
            id = se->instance_id + 1;
        }
    }
    return id;
}

static int savevm_priority(SaveStateEntry *se)
{
    return se->vmsd ? se->vmsd->priority : MIG_PRI_DEFAULT;
}

/* Higher priority first, then registration order (stable). */
static void savevm_insert(SaveStateEntry *se)
{
    guint i;

    if (!savevm_handlers) {
        savevm_handlers = g_ptr_array_new_with_free_func(g_free);
    }
    for (i = 0; i < savevm_handlers->len; i++) {
        if (savevm_priority(savevm_handlers->pdata[i]) <
            savevm_priority(se)) {
            break;
        }
    }
    g_ptr_array_insert(savevm_handlers, i, se);
    trace_savevm_register(se->idstr, se->instance_id, se->section_id);
}

static SaveStateEntry *se_new(const char *idstr, uint32_t instance_id,
                              int version_id)
{
    SaveStateEntry *se = g_new0(SaveStateEntry, 1);

    g_strlcpy(se->idstr, idstr, sizeof(se->idstr));
    se->instance_id = instance_id == VMSTATE_INSTANCE_ID_ANY
                      ? next_instance_id(idstr) : instance_id;
    se->version_id = version_id;
    se->section_id = next_section_id++;
    return se;
}

int register_savevm_live(const char *idstr, uint32_t instance_id,
                         int version_id, const SaveVMHandlers *ops,
                         void *opaque)
{
    SaveStateEntry *se = se_new(idstr, instance_id, version_id);

    se->ops = ops;
    se->opaque = opaque;
    se->is_ram = g_str_equal(idstr, "ram");
    savevm_insert(se);
    return 0;
}

void unregister_savevm(const char *idstr, void *opaque)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (g_str_equal(se->idstr, idstr) && se->opaque == opaque) {
            g_ptr_array_remove_index(savevm_handlers, i);
            return;
        }
    }
}

int vmstate_register(uint32_t instance_id, const VMStateDescription *vmsd,
                     void *opaque)
{
    SaveStateEntry *se = se_new(vmsd->name, instance_id, vmsd->version_id);

    se->vmsd = vmsd;
    se->opaque = opaque;
    savevm_insert(se);
    return 0;
}

void vmstate_unregister(const VMStateDescription *vmsd, void *opaque)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (se->vmsd == vmsd && se->opaque == opaque) {
            g_ptr_array_remove_index(savevm_handlers, i);
            return;
        }
    }
}

SaveStateEntry *savevm_find_se(const char *idstr, uint32_t instance_id)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (g_str_equal(se->idstr, idstr) && se->instance_id == instance_id) {
            return se;
        }
    }
    return NULL;
}

const char *savevm_se_idstr(SaveStateEntry *se)
{
    return se->idstr;
}

int savevm_se_version(SaveStateEntry *se)
{
    return se->version_id;
}

bool savevm_se_has_postcopy(SaveStateEntry *se)
{
    return se->ops && se->ops->has_postcopy &&
           se->ops->has_postcopy(se->opaque);
}

void savevm_foreach_se(void (*fn)(SaveStateEntry *se, void *opaque),
                       void *opaque)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        fn(savevm_handlers->pdata[i], opaque);
    }
}

int savevm_load_se(QEMUFile *f, SaveStateEntry *se, int version_id,
                   Error **errp)
{
    if (se->vmsd) {
        /* Device hooks may touch machine state: hold the BQL. */
        bool locked = bql_locked();
        int ret;

        if (!locked) {
            bql_lock();
        }
        ret = vmstate_load_state(f, se->vmsd, se->opaque, version_id, errp);
        if (!locked) {
            bql_unlock();
        }
        return ret;
    }
    if (!se->ops || !se->ops->load_state) {
        error_setg(errp, "section '%s' cannot be loaded", se->idstr);
        return -EINVAL;
    }
    return se->ops->load_state(f, se->opaque, version_id, errp);
}

void savevm_foreach_load_cleanup(void)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (se->ops && se->ops->load_cleanup) {
            se->ops->load_cleanup(se->opaque);
        }
    }
}

int savevm_load_setup(QEMUFile *f, Error **errp)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (se->ops && se->ops->load_setup &&
            se->ops->load_setup(f, se->opaque, errp) < 0) {
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- source ---- */

static void save_section_header(QEMUFile *f, SaveStateEntry *se,
                                uint8_t type)
{
    trace_savevm_section_start(se->idstr, se->section_id, type);
    qemu_put_byte(f, type);
    qemu_put_be32(f, se->section_id);
    if (type == QEMU_VM_SECTION_START || type == QEMU_VM_SECTION_FULL) {
        qemu_put_counted_string(f, se->idstr);
        qemu_put_be32(f, se->instance_id);
        qemu_put_be32(f, se->version_id);
    }
}

static void save_section_footer(QEMUFile *f, SaveStateEntry *se)
{
    if (migrate_props()->send_section_footer) {
        qemu_put_byte(f, QEMU_VM_SECTION_FOOTER);
        qemu_put_be32(f, se->section_id);
    }
    trace_savevm_section_end(se->idstr, se->section_id);
}

void qemu_savevm_section_part_begin(QEMUFile *f, SaveStateEntry *se)
{
    save_section_header(f, se, QEMU_VM_SECTION_PART);
}

void qemu_savevm_section_part_end(QEMUFile *f, SaveStateEntry *se)
{
    save_section_footer(f, se);
}

static bool se_is_live(SaveStateEntry *se)
{
    return se->ops && se->ops->save_setup &&
           (!se->ops->is_active || se->ops->is_active(se->opaque));
}

/*
 * The configuration "section" (spec §2.5): machine name, then the
 * capabilities subsection when a validated capability (7.2: only
 * x-ignore-shared) is on, and the uuid subsection when validate-uuid is.
 * ferry cannot enable x-ignore-shared, so only the uuid may appear.
 */
static void save_configuration(QEMUFile *f)
{
    const char *name = current_machine ? current_machine->mc->name : "none";

    qemu_put_byte(f, QEMU_VM_CONFIGURATION);
    qemu_put_be32(f, strlen(name));
    qemu_put_buffer(f, (const uint8_t *)name, strlen(name));
    if (qemu_uuid_set && migrate_validate_uuid()) {
        qemu_put_byte(f, QEMU_VM_SUBSECTION);
        qemu_put_counted_string(f, "configuration/uuid");
        qemu_put_be32(f, 1);
        qemu_put_buffer(f, qemu_uuid, 16);
    }
}

static char *uuid_str(const uint8_t *u)
{
    return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                           "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
                           u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                           u[12], u[13], u[14], u[15]);
}

/* The capabilities QEMU 7.2 validates through the configuration. */
static const MigrationCapability validated_caps[] = {
    MIGRATION_CAPABILITY_X_IGNORE_SHARED,
};

static bool config_load_caps(QEMUFile *f, Error **errp)
{
    uint32_t count = qemu_get_be32(f);
    bool seen[ARRAY_SIZE(validated_caps)] = { false };

    if (count > MIGRATION_CAPABILITY__MAX) {
        error_setg(errp, "configuration: %u capabilities is too many", count);
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        char name[256];
        MigrationCapability c;
        bool known = false;

        if (!qemu_get_counted_string(f, name)) {
            error_setg(errp, "configuration: truncated capability list");
            return false;
        }
        c = MigrationCapability_parse(name);
        for (size_t k = 0; k < ARRAY_SIZE(validated_caps); k++) {
            if (validated_caps[k] == c) {
                seen[k] = known = true;
            }
        }
        if (!known) {
            error_setg(errp, "Received unknown capability %s", name);
            return false;
        }
    }
    for (size_t k = 0; k < ARRAY_SIZE(validated_caps); k++) {
        if (seen[k] != migrate_cap_enabled(validated_caps[k])) {
            error_setg(errp, "Capability %s is %s, but received capability "
                       "is %s", MigrationCapability_str(validated_caps[k]),
                       seen[k] ? "off" : "on", seen[k] ? "on" : "off");
            return false;
        }
    }
    return true;
}

bool config_load_subsection(QEMUFile *f, const char *name, Error **errp)
{
    uint32_t version = qemu_get_be32(f);

    trace_savevm_config_subsection(name, version);
    if (version != 1) {
        error_setg(errp, "configuration subsection '%s': unsupported "
                   "version %u", name, version);
        return false;
    }
    if (g_str_equal(name, "configuration/uuid")) {
        uint8_t uuid[16];

        qemu_get_buffer(f, uuid, sizeof(uuid));
        if (qemu_file_get_error(f)) {
            error_setg(errp, "configuration: truncated uuid");
            return false;
        }
        if (!qemu_uuid_set) {
            /* QEMU: only a warning when the destination has no uuid. */
            return true;
        }
        if (memcmp(uuid, qemu_uuid, 16) != 0) {
            g_autofree char *a = uuid_str(uuid);
            g_autofree char *b = uuid_str(qemu_uuid);

            error_setg(errp, "UUID received is '%s' and local is '%s'", a,
                       b);
            return false;
        }
        return true;
    }
    if (g_str_equal(name, "configuration/capabilities")) {
        return config_load_caps(f, errp);
    }
    if (g_str_equal(name, "configuration/target-page-bits")) {
        uint32_t bits = qemu_get_be32(f);

        if (bits != TARGET_PAGE_BITS) {
            error_setg(errp, "Received TARGET_PAGE_BITS is %u but local is "
                       "%d", bits, TARGET_PAGE_BITS);
            return false;
        }
        return true;
    }
    error_setg(errp, "configuration: unknown subsection '%s'", name);
    return false;
}

void qemu_savevm_state_header(QEMUFile *f)
{
    trace_savevm_state_header();
    qemu_put_be32(f, QEMU_VM_FILE_MAGIC);
    qemu_put_be32(f, QEMU_VM_FILE_VERSION);
    if (migrate_props()->send_configuration) {
        save_configuration(f);
    }
}

int qemu_savevm_state_setup(QEMUFile *f, Error **errp)
{
    trace_savevm_state_setup();
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];
        int ret;

        if (!se_is_live(se)) {
            continue;
        }
        save_section_header(f, se, QEMU_VM_SECTION_START);
        ret = se->ops->save_setup(f, se->opaque, errp);
        save_section_footer(f, se);
        if (ret < 0) {
            error_prepend(errp, "setup of '%s' failed: ", se->idstr);
            return ret;
        }
    }
    return qemu_file_get_error_obj(f, errp) ? -EIO : 0;
}

int qemu_savevm_state_iterate(QEMUFile *f, bool postcopy, Error **errp)
{
    int all_finished = 1;

    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];
        int ret;

        if (!se_is_live(se) || !se->ops->save_live_iterate) {
            continue;
        }
        /* After the switch only handlers with postcopy support go on. */
        if (postcopy && !(se->ops->has_postcopy &&
                          se->ops->has_postcopy(se->opaque))) {
            continue;
        }
        if (qemu_file_rate_limit(f) &&
            !(se->ops->has_urgent_work &&
              se->ops->has_urgent_work(se->opaque))) {
            return 0;
        }
        save_section_header(f, se, QEMU_VM_SECTION_PART);
        ret = se->ops->save_live_iterate(f, se->opaque, errp);
        save_section_footer(f, se);
        if (ret < 0) {
            error_prepend(errp, "iteration of '%s' failed: ", se->idstr);
            return ret;
        }
        if (ret == 0) {
            /* Finish this one before moving on to the next. */
            all_finished = 0;
            break;
        }
    }
    return all_finished;
}

void qemu_savevm_state_pending(uint64_t threshold, uint64_t *must_precopy,
                               uint64_t *can_postcopy)
{
    *must_precopy = *can_postcopy = 0;
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (se_is_live(se) && se->ops->state_pending) {
            se->ops->state_pending(se->opaque, threshold, must_precopy,
                                   can_postcopy);
        }
    }
}

bool qemu_savevm_state_has_postcopy(void)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (se_is_live(se) && se->ops->has_postcopy &&
            se->ops->has_postcopy(se->opaque)) {
            return true;
        }
    }
    return false;
}

static int complete_iterable(QEMUFile *f, bool in_postcopy, Error **errp)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];
        int ret;

        if (!se_is_live(se) || !se->ops->save_live_complete_precopy) {
            continue;
        }
        /* In postcopy, postcopiable handlers finish later. */
        if (in_postcopy && se->ops->has_postcopy &&
            se->ops->has_postcopy(se->opaque)) {
            continue;
        }
        save_section_header(f, se, QEMU_VM_SECTION_END);
        ret = se->ops->save_live_complete_precopy(f, se->opaque, errp);
        save_section_footer(f, se);
        if (ret < 0) {
            error_prepend(errp, "completion of '%s' failed: ", se->idstr);
            return ret;
        }
    }
    return 0;
}

/* One FULL section, described in @vmdesc. */
static int save_device(QEMUFile *f, SaveStateEntry *se, JSONWriter *vmdesc,
                       Error **errp)
{
    int ret;

    json_writer_start_object(vmdesc, NULL);
    json_writer_str(vmdesc, "name", se->idstr);
    json_writer_int64(vmdesc, "instance_id", se->instance_id);
    save_section_header(f, se, QEMU_VM_SECTION_FULL);
    ret = vmstate_save_state(f, se->vmsd, se->opaque, vmdesc, errp);
    save_section_footer(f, se);
    json_writer_end_object(vmdesc);
    if (ret < 0) {
        error_prepend(errp, "saving '%s' failed: ", se->idstr);
    }
    return ret;
}

int qemu_savevm_state_complete_precopy(QEMUFile *f, bool in_postcopy,
                                       Error **errp)
{
    JSONWriter *vmdesc;
    g_autofree char *json = NULL;
    int ret;

    trace_savevm_state_complete_precopy(in_postcopy);
    if (!in_postcopy) {
        ret = complete_iterable(f, false, errp);
        if (ret < 0) {
            return ret;
        }
    }
    vmdesc = json_writer_new(false);
    json_writer_start_object(vmdesc, NULL);
    json_writer_int64(vmdesc, "page_size", TARGET_PAGE_SIZE);
    json_writer_start_list(vmdesc, "devices");
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (!se->vmsd || !vmstate_section_needed(se->vmsd, se->opaque)) {
            continue;
        }
        ret = save_device(f, se, vmdesc, errp);
        if (ret < 0) {
            json_writer_free(vmdesc);
            return ret;
        }
    }
    json_writer_end_list(vmdesc);
    json_writer_end_object(vmdesc);
    json = json_writer_finish(vmdesc);
    if (!in_postcopy) {
        /* A 7.2 destination waits for the description after EOF. */
        qemu_put_byte(f, QEMU_VM_EOF);
        qemu_put_byte(f, QEMU_VM_VMDESCRIPTION);
        qemu_put_be32(f, strlen(json));
        qemu_put_buffer(f, (const uint8_t *)json, strlen(json));
    }
    qemu_fflush(f);
    return qemu_file_get_error_obj(f, errp) ? -EIO : 0;
}

int qemu_savevm_state_complete_postcopy(QEMUFile *f, Error **errp)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];
        int ret;

        if (!se_is_live(se) || !se->ops->save_live_complete_postcopy) {
            continue;
        }
        save_section_header(f, se, QEMU_VM_SECTION_END);
        ret = se->ops->save_live_complete_postcopy(f, se->opaque, errp);
        save_section_footer(f, se);
        if (ret < 0) {
            return ret;
        }
    }
    qemu_put_byte(f, QEMU_VM_EOF);
    qemu_fflush(f);
    return qemu_file_get_error_obj(f, errp) ? -EIO : 0;
}

void qemu_savevm_state_cleanup(void)
{
    for (guint i = 0; savevm_handlers && i < savevm_handlers->len; i++) {
        SaveStateEntry *se = savevm_handlers->pdata[i];

        if (se->ops && se->ops->save_cleanup) {
            se->ops->save_cleanup(se->opaque);
        }
    }
}

/* ---- commands ---- */

void qemu_savevm_command_send(QEMUFile *f, enum MigCmd cmd, uint16_t len,
                              const uint8_t *data)
{
    trace_savevm_command_send(mig_cmd_name(cmd), len);
    qemu_put_byte(f, QEMU_VM_COMMAND);
    qemu_put_be16(f, cmd);
    qemu_put_be16(f, len);
    qemu_put_buffer(f, data, len);
    qemu_fflush(f);
}

void qemu_savevm_send_open_return_path(QEMUFile *f)
{
    qemu_savevm_command_send(f, MIG_CMD_OPEN_RETURN_PATH, 0, NULL);
}

void qemu_savevm_send_ping(QEMUFile *f, uint32_t value)
{
    uint8_t buf[4] = { value >> 24, value >> 16, value >> 8, value };

    qemu_savevm_command_send(f, MIG_CMD_PING, sizeof(buf), buf);
}

void qemu_savevm_send_postcopy_advise(QEMUFile *f)
{
    uint8_t buf[16];
    uint64_t summary = ram_pagesize_summary();
    uint64_t tps = TARGET_PAGE_SIZE;

    for (int i = 0; i < 8; i++) {
        buf[i] = summary >> (56 - 8 * i);
        buf[8 + i] = tps >> (56 - 8 * i);
    }
    qemu_savevm_command_send(f, MIG_CMD_POSTCOPY_ADVISE, sizeof(buf), buf);
}

void qemu_savevm_send_postcopy_listen(QEMUFile *f)
{
    qemu_savevm_command_send(f, MIG_CMD_POSTCOPY_LISTEN, 0, NULL);
}

void qemu_savevm_send_postcopy_run(QEMUFile *f)
{
    qemu_savevm_command_send(f, MIG_CMD_POSTCOPY_RUN, 0, NULL);
}

void qemu_savevm_send_switchover_start(QEMUFile *f)
{
    qemu_savevm_command_send(f, MIG_CMD_SWITCHOVER_START, 0, NULL);
}

/* The recovery handshake (spec §10.2): one per RAM block, then RESUME. */
void qemu_savevm_send_recv_bitmap(QEMUFile *f, const char *idstr)
{
    uint8_t buf[256];
    size_t n = strlen(idstr);

    buf[0] = n;
    memcpy(buf + 1, idstr, n);
    qemu_savevm_command_send(f, MIG_CMD_RECV_BITMAP, n + 1, buf);
}

void qemu_savevm_send_postcopy_resume(QEMUFile *f)
{
    qemu_savevm_command_send(f, MIG_CMD_POSTCOPY_RESUME, 0, NULL);
}

void qemu_savevm_send_packaged(QEMUFile *f, const uint8_t *buf, size_t len)
{
    uint8_t hdr[4] = { len >> 24, len >> 16, len >> 8, len };

    qemu_savevm_command_send(f, MIG_CMD_PACKAGED, sizeof(hdr), hdr);
    qemu_put_buffer(f, buf, len);
    qemu_fflush(f);
}
