/*
 * loadvm.c: the destination side of the savevm stream.
 *
 * Everything read from the stream is validated before use (spec §2-§5):
 * magic and version, the configuration, section types, section and
 * instance lookup, versions, footers, command numbers and lengths.  Any
 * failure stops the load with an error that names what was being read and
 * the stream offset, e.g.
 *   "section 'timer' (id 0) at offset 147492: missing section footer"
 * and the stream error stays sticky, so nothing after it is trusted.
 *
 * Runs in the incoming thread; device state is loaded with the BQL held
 * (device post_load hooks may touch machine state), RAM without it.
 */
#include "qemu/osdep.h"
#include "loadvm.h"
#include "savevm.h"
#include "migration.h"
#include "options.h"
#include "postcopy-ram.h"
#include "return-path.h"
#include "migration/vmstate.h"
#include "qemu/main-loop.h"
#include "sysemu/sysemu.h"
#include "hw/boards.h"
#include "trace.h"

typedef struct LoadStateEntry {
    SaveStateEntry *se;
    uint32_t section_id;        /* the source's id */
    int version_id;
} LoadStateEntry;

/* Fixed payload lengths; -1 = variable (checked by the handler). */
static const int mig_cmd_len[MIG_CMD_MAX] = {
    [MIG_CMD_INVALID] = -1,
    [MIG_CMD_OPEN_RETURN_PATH] = 0,
    [MIG_CMD_PING] = 4,
    [MIG_CMD_POSTCOPY_ADVISE] = -1,
    [MIG_CMD_POSTCOPY_LISTEN] = 0,
    [MIG_CMD_POSTCOPY_RUN] = 0,
    [MIG_CMD_POSTCOPY_RAM_DISCARD] = -1,
    [MIG_CMD_PACKAGED] = 4,
    [MIG_CMD_ENABLE_COLO] = 0,
    [MIG_CMD_POSTCOPY_RESUME] = 0,
    [MIG_CMD_RECV_BITMAP] = -1,
    [MIG_CMD_SWITCHOVER_START] = 0,
};

static int load_fail(QEMUFile *f, Error **errp, int ret, const char *fmt,
                     ...) G_GNUC_PRINTF(4, 5);
/* Records a parse error on the stream (sticky) and in *errp. */
static int load_fail(QEMUFile *f, Error **errp, int ret, const char *fmt,
                     ...)
{
    va_list ap;
    g_autofree char *msg = NULL;
    Error *err = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(&err, "%s", msg);
    qemu_file_set_error_obj(f, ret, error_copy(err));
    error_propagate(errp, err);
    return ret;
}

/* If the stream failed (truncation, I/O), reports that with @what. */
static int check_stream(QEMUFile *f, Error **errp, const char *what)
{
    Error *err = NULL;
    int ret = qemu_file_get_error_obj(f, &err);

    if (ret) {
        error_propagate_prepend(errp, err, "%s: ", what);
    }
    return ret;
}

/*
 * What each loop accepts (spec §5.6, §5.10).  LISTEN hands the main
 * channel to the listen thread while the incoming thread still loads the
 * package from memory: from then on the main channel carries only what a
 * running VM may still receive (RAM, PINGs, a recovery's handshake), and
 * device state travels only in the package, which holds no RAM (its RAM
 * records would share the main channel's temporary host page with the
 * listen thread).
 */
typedef struct LoadvmPhaseRules {
    const char *where;          /* for messages */
    uint32_t commands;          /* 1u << MIG_CMD_... */
    bool device_sections;       /* sections without postcopy (devices) */
    bool ram_starts;            /* START/FULL of the postcopy one (RAM) */
    bool ram_parts;             /* PART/END of it */
} LoadvmPhaseRules;

#define CMD(c) (1u << MIG_CMD_##c)

/* A PACKAGED blob is read (and its buffer grown) this much at a time. */
#define PACKAGED_CHUNK (1u << 20)

static const LoadvmPhaseRules loadvm_rules[] = {
    [LOADVM_PHASE_MAIN] = {
        .where = "outside the PACKAGED blob",
        .commands = CMD(OPEN_RETURN_PATH) | CMD(PING) |
                    CMD(POSTCOPY_ADVISE) | CMD(POSTCOPY_RAM_DISCARD) |
                    CMD(PACKAGED) | CMD(ENABLE_COLO) |
                    CMD(POSTCOPY_RESUME) | CMD(RECV_BITMAP) |
                    CMD(SWITCHOVER_START),
        .device_sections = true, .ram_starts = true, .ram_parts = true,
    },
    [LOADVM_PHASE_PACKAGE] = {
        .where = "inside the PACKAGED blob",
        .commands = CMD(PING) | CMD(POSTCOPY_LISTEN) | CMD(POSTCOPY_RUN),
        .device_sections = true,
    },
    [LOADVM_PHASE_LISTEN] = {
        .where = "on the main channel after POSTCOPY_LISTEN",
        .commands = CMD(PING) | CMD(POSTCOPY_RESUME) | CMD(RECV_BITMAP),
        .ram_parts = true,
    },
};

/* Entries are never freed while a load runs, so the pointer stays valid. */
static LoadStateEntry *find_loaded(MigrationIncomingState *mis,
                                   uint32_t section_id)
{
    QEMU_LOCK_GUARD(&mis->loadvm_lock);
    return g_hash_table_lookup(mis->loadvm_by_id,
                               GUINT_TO_POINTER(section_id));
}

/*
 * Whether @se's sections may come in @phase (@start_full: START or
 * FULL); fails the load otherwise.
 */
static int check_section_phase(QEMUFile *f, MigrationIncomingState *mis,
                               LoadvmPhase phase, SaveStateEntry *se,
                               uint32_t section_id, bool start_full,
                               uint64_t off, Error **errp)
{
    const LoadvmPhaseRules *r = &loadvm_rules[phase];
    bool ram = savevm_se_has_postcopy(se);
    bool ok = !ram ? r->device_sections
                   : start_full ? r->ram_starts : r->ram_parts;

    if (ok && phase == LOADVM_PHASE_PACKAGE &&
        !postcopy_incoming_listening(mis->postcopy)) {
        return load_fail(f, errp, -EINVAL, "section '%s' (id %u) at offset "
                         "%" PRIu64 ": before POSTCOPY_LISTEN, which must "
                         "start the PACKAGED blob", savevm_se_idstr(se),
                         section_id, off);
    }
    if (ok) {
        return 0;
    }
    return load_fail(f, errp, -EINVAL, "section '%s' (id %u) at offset %"
                     PRIu64 ": %s section %s", savevm_se_idstr(se),
                     section_id, off,
                     ram ? (start_full ? "a RAM start" : "RAM")
                         : "a device's",
                     r->where);
}

static int check_section_footer(QEMUFile *f, LoadStateEntry *le,
                                Error **errp)
{
    uint64_t off = qemu_file_tell(f);
    uint8_t mark;
    uint32_t id;

    if (!migrate_props()->send_section_footer) {
        return 0;
    }
    mark = qemu_get_byte(f);
    id = qemu_get_be32(f);
    if (check_stream(f, errp, "reading a section footer")) {
        return -EIO;
    }
    if (mark != QEMU_VM_SECTION_FOOTER) {
        return load_fail(f, errp, -EINVAL, "section '%s' (id %u) at offset "
                         "%" PRIu64 ": missing section footer (found byte "
                         "0x%02x)", savevm_se_idstr(le->se), le->section_id,
                         off, mark);
    }
    if (id != le->section_id) {
        return load_fail(f, errp, -EINVAL, "section '%s' at offset %" PRIu64
                         ": mismatched section id in footer - read 0x%x "
                         "expected 0x%x", savevm_se_idstr(le->se), off, id,
                         le->section_id);
    }
    return 0;
}

static int load_section_body(QEMUFile *f, LoadStateEntry *le,
                             uint64_t start, Error **errp)
{
    Error *err = NULL;
    int ret;

    trace_loadvm_section(savevm_se_idstr(le->se), le->section_id, start);
    ret = savevm_load_se(f, le->se, le->version_id, &err);
    if (ret < 0 || qemu_file_get_error(f)) {
        if (!err) {
            qemu_file_get_error_obj(f, &err);
        }
        error_propagate_prepend(errp, err, "section '%s' (id %u) at offset "
                                "%" PRIu64 ": ", savevm_se_idstr(le->se),
                                le->section_id, start);
        if (!qemu_file_get_error(f)) {
            qemu_file_set_error(f, ret < 0 ? ret : -EINVAL);
        }
        return ret < 0 ? ret : -EINVAL;
    }
    return check_section_footer(f, le, errp);
}

static int loadvm_section_start_full(QEMUFile *f, MigrationIncomingState *mis,
                                     LoadvmPhase phase, uint64_t start,
                                     Error **errp)
{
    char idstr[256];
    uint32_t section_id, instance_id;
    int version_id;
    SaveStateEntry *se;
    LoadStateEntry *le;

    section_id = qemu_get_be32(f);
    if (!qemu_get_counted_string(f, idstr)) {
        if (check_stream(f, errp, "reading a section name")) {
            return -EIO;
        }
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": unable to "
                         "read ID string for section %u", start, section_id);
    }
    instance_id = qemu_get_be32(f);
    version_id = qemu_get_be32(f);
    if (check_stream(f, errp, "reading a section header")) {
        return -EIO;
    }
    se = savevm_find_se(idstr, instance_id);
    if (!se) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": Unknown "
                         "savevm section or instance '%s' %u. Make sure "
                         "that your current VM setup matches your saved VM "
                         "setup", start, idstr, instance_id);
    }
    if (version_id > savevm_se_version(se) || version_id < 0) {
        return load_fail(f, errp, -EINVAL, "section '%s' at offset %" PRIu64
                         ": unsupported version %d (local version %d)",
                         idstr, start, version_id, savevm_se_version(se));
    }
    if (check_section_phase(f, mis, phase, se, section_id, true, start,
                            errp)) {
        return -EINVAL;
    }
    qemu_mutex_lock(&mis->loadvm_lock);
    le = g_hash_table_lookup(mis->loadvm_by_id, GUINT_TO_POINTER(section_id));
    if (!le) {
        le = g_hash_table_lookup(mis->loadvm_by_se, se);
        if (le) {
            /* (One id per section: the tables stay as small as the VM.) */
            qemu_mutex_unlock(&mis->loadvm_lock);
            return load_fail(f, errp, -EINVAL, "section '%s' at offset %"
                             PRIu64 ": section id %u, but it came as id %u "
                             "before", idstr, start, section_id,
                             le->section_id);
        }
        le = g_new0(LoadStateEntry, 1);
        le->se = se;
        le->section_id = section_id;
        g_hash_table_insert(mis->loadvm_by_id, GUINT_TO_POINTER(section_id),
                            le);
        g_hash_table_insert(mis->loadvm_by_se, se, le);
    }
    qemu_mutex_unlock(&mis->loadvm_lock);
    if (le->se != se) {
        return load_fail(f, errp, -EINVAL, "section '%s' at offset %" PRIu64
                         ": section id %u already names '%s'", idstr, start,
                         section_id, savevm_se_idstr(le->se));
    }
    le->version_id = version_id;
    return load_section_body(f, le, start, errp);
}

static int loadvm_section_part_end(QEMUFile *f, MigrationIncomingState *mis,
                                   LoadvmPhase phase, uint64_t start,
                                   Error **errp)
{
    uint32_t section_id = qemu_get_be32(f);
    LoadStateEntry *le;

    if (check_stream(f, errp, "reading a section header")) {
        return -EIO;
    }
    le = find_loaded(mis, section_id);
    if (!le) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": Unknown "
                         "savevm section %u", start, section_id);
    }
    if (check_section_phase(f, mis, phase, le->se, section_id, false, start,
                            errp)) {
        return -EINVAL;
    }
    return load_section_body(f, le, start, errp);
}

/*
 * Reads a PACKAGED blob of @length bytes.  The buffer grows with what
 * arrives, so a length that lies costs no more than the bytes sent.
 */
static uint8_t *read_package(QEMUFile *f, uint32_t length, Error **errp)
{
    g_autofree uint8_t *blob = g_malloc(MIN(length, PACKAGED_CHUNK) + 1);
    size_t size = MIN(length, PACKAGED_CHUNK);
    size_t got = 0;

    while (got < length) {
        size_t want = MIN(length - got, PACKAGED_CHUNK);

        if (got + want > size) {
            size = MIN((size_t)length, MAX(size * 2, got + want));
            blob = g_realloc(blob, size);
        }
        if (qemu_get_buffer(f, blob + got, want) != want) {
            check_stream(f, errp, "reading the PACKAGED blob");
            return NULL;
        }
        got += want;
    }
    trace_loadvm_packaged(length);
    return g_steal_pointer(&blob);
}

/* PACKAGED: read the blob, then run the same loop over it. */
static int loadvm_handle_packaged(QEMUFile *f, MigrationIncomingState *mis,
                                  uint64_t start, Error **errp)
{
    uint32_t length = qemu_get_be32(f);
    g_autofree uint8_t *blob = NULL;
    MigChannel *ioc;
    QEMUFile *pf;
    int ret;

    if (check_stream(f, errp, "reading PACKAGED")) {
        return -EIO;
    }
    /* (Never nested: the package's own loop refuses PACKAGED.) */
    if (!postcopy_incoming_advised(mis->postcopy)) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": PACKAGED "
                         "without POSTCOPY_ADVISE", start);
    }
    if (length > MAX_VM_CMD_PACKAGED_SIZE) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": PACKAGED "
                         "blob of %u bytes is larger than %u", start, length,
                         MAX_VM_CMD_PACKAGED_SIZE);
    }
    blob = read_package(f, length, errp);
    if (!blob) {
        return -EIO;
    }
    ioc = mig_channel_new_buffer(blob, length, "packaged");
    pf = qemu_file_new_input(ioc);
    mig_channel_unref(ioc);
    /* Errors inside name their offset in the whole stream. */
    qemu_file_set_base_offset(pf, qemu_file_tell(f) - length);
    ret = qemu_loadvm_state_main(pf, mis, LOADVM_PHASE_PACKAGE, errp);
    if (ret == 0) {
        /* The blob must end with RUN (which makes the loop quit). */
        ret = load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": PACKAGED blob "
                        "ended without POSTCOPY_RUN", start);
    }
    qemu_fclose(pf);
    if (ret < 0) {
        /*
         * With its message: after LISTEN the listen thread reads the main
         * channel too, and may report this error first.
         */
        qemu_file_set_error_obj(f, ret, errp && *errp ? error_copy(*errp)
                                                      : NULL);
    }
    return ret;
}

/*
 * A ferry source's keepalive PING: it promises one every @interval (in
 * 10 ms), so from now on a silence much longer than that is a dead link,
 * even before postcopy (a QEMU source may stay silent for as long as an
 * operator keeps it in pre-switchover, so without the promise only
 * postcopy watches the silence).  x-link-timeout 0 turns it off.
 */
static void loadvm_keepalive(QEMUFile *f, MigrationIncomingState *mis,
                             uint32_t interval)
{
    int64_t t = migrate_link_timeout();
    int64_t ms = (int64_t)interval * 10;

    if (!t || qatomic_read(&mis->keepalive_ms) == ms) {
        return;
    }
    qatomic_set(&mis->keepalive_ms, ms);
    trace_loadvm_keepalive(ms, MAX(t, 4 * ms));
    mig_channel_set_timeouts(qemu_file_get_ioc(f), MAX(t, 4 * ms), -1);
}

static int loadvm_process_command(QEMUFile *f, MigrationIncomingState *mis,
                                  LoadvmPhase phase, uint64_t start,
                                  Error **errp)
{
    unsigned cmd = qemu_get_be16(f);
    unsigned len = qemu_get_be16(f);
    uint32_t v;

    if (check_stream(f, errp, "reading a command")) {
        return -EIO;
    }
    trace_loadvm_process_command(mig_cmd_name(cmd), len, start);
    if (cmd == MIG_CMD_INVALID || cmd >= MIG_CMD_MAX) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": MIG_CMD "
                         "0x%x unknown (len 0x%x)", start, cmd, len);
    }
    if (mig_cmd_len[cmd] != -1 && mig_cmd_len[cmd] != (int)len) {
        return load_fail(f, errp, -ERANGE, "offset %" PRIu64 ": %s received "
                         "with bad length - expecting %d, got %u", start,
                         mig_cmd_name(cmd), mig_cmd_len[cmd], len);
    }
    if (!(loadvm_rules[phase].commands & (1u << cmd))) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": %s %s",
                         start, mig_cmd_name(cmd), loadvm_rules[phase].where);
    }
    if (phase == LOADVM_PHASE_PACKAGE && cmd != MIG_CMD_POSTCOPY_LISTEN &&
        !postcopy_incoming_listening(mis->postcopy)) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": %s before "
                         "POSTCOPY_LISTEN, which must start the PACKAGED "
                         "blob", start, mig_cmd_name(cmd));
    }
    switch (cmd) {
    case MIG_CMD_OPEN_RETURN_PATH:
        if (rp_writer_attached(mis->rp)) {
            /* QEMU only warns; so do we. */
            trace_loadvm_rp_already_open();
            return 0;
        }
        /* (Always the main channel's: never inside a package.) */
        rp_writer_attach(mis->rp,
                         qemu_file_get_return_path(mis->from_src_file));
        return 0;
    case MIG_CMD_PING:
        v = qemu_get_be32(f);
        if (check_stream(f, errp, "reading PING")) {
            return -EIO;
        }
        if (!rp_writer_attached(mis->rp)) {
            return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": "
                             "CMD_PING (0x%x) received with no return path",
                             start, v);
        }
        trace_loadvm_ping(v);
        if ((v & ~MIG_KEEPALIVE_INTERVAL_MASK) == MIG_KEEPALIVE_PING) {
            loadvm_keepalive(f, mis, v & MIG_KEEPALIVE_INTERVAL_MASK);
        }
        rp_send_pong(mis->rp, v);
        return 0;
    case MIG_CMD_PACKAGED:
        return loadvm_handle_packaged(f, mis, start, errp);
    case MIG_CMD_SWITCHOVER_START:
        return 0;           /* 10.x: nothing to do for ferry's devices */
    case MIG_CMD_POSTCOPY_ADVISE:
    case MIG_CMD_POSTCOPY_LISTEN:
    case MIG_CMD_POSTCOPY_RUN:
    case MIG_CMD_POSTCOPY_RAM_DISCARD:
    case MIG_CMD_POSTCOPY_RESUME:
    case MIG_CMD_RECV_BITMAP:
        return postcopy_incoming_command(mis->postcopy, f, cmd, len, start,
                                         errp);
    case MIG_CMD_ENABLE_COLO:
    default:
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": %s is not "
                         "supported by ferry", start, mig_cmd_name(cmd));
    }
}

int qemu_loadvm_state_main(QEMUFile *f, MigrationIncomingState *mis,
                           LoadvmPhase phase, Error **errp)
{
    for (;;) {
        uint64_t start = qemu_file_tell(f);
        uint8_t type = qemu_get_byte(f);
        int ret;

        if (check_stream(f, errp, "reading the next element")) {
            return -EIO;
        }
        trace_loadvm_element(type, start);
        switch (type) {
        case QEMU_VM_SECTION_START:
        case QEMU_VM_SECTION_FULL:
            ret = loadvm_section_start_full(f, mis, phase, start, errp);
            break;
        case QEMU_VM_SECTION_PART:
        case QEMU_VM_SECTION_END:
            ret = loadvm_section_part_end(f, mis, phase, start, errp);
            break;
        case QEMU_VM_COMMAND:
            ret = loadvm_process_command(f, mis, phase, start, errp);
            break;
        case QEMU_VM_EOF:
            return 0;
        default:
            ret = load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": Unknown "
                            "savevm section type %d", start, type);
            break;
        }
        if (ret != 0) {
            return ret;     /* < 0 error, LOADVM_QUIT from POSTCOPY_RUN */
        }
    }
}

/* The configuration (spec §2.5): machine name, then subsections. */
static int load_configuration(QEMUFile *f, Error **errp)
{
    const char *local = current_machine ? current_machine->mc->name : "none";
    uint64_t start = qemu_file_tell(f);
    uint32_t len = qemu_get_be32(f);
    char name[256];

    if (check_stream(f, errp, "reading the configuration")) {
        return -EIO;
    }
    if (len >= sizeof(name)) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": machine "
                         "type name of %u bytes is too long", start, len);
    }
    qemu_get_buffer(f, (uint8_t *)name, len);
    name[len] = '\0';
    if (check_stream(f, errp, "reading the configuration")) {
        return -EIO;
    }
    /* QEMU compares only the received length: a prefix passes. */
    if (strncmp(name, local, len) != 0 || memchr(name, 0, len)) {
        return load_fail(f, errp, -EINVAL, "Machine type received is '%s' "
                         "and local is '%s'", name, local);
    }
    while (qemu_peek_byte(f, 0) == QEMU_VM_SUBSECTION) {
        uint8_t *p;
        uint8_t nlen = qemu_peek_byte(f, 1);
        char sub[256];

        if (nlen < strlen("configuration") + 1 ||
            qemu_peek_buffer(f, &p, nlen, 2) != nlen ||
            strncmp((char *)p, "configuration", 13) != 0) {
            break;
        }
        memcpy(sub, p, nlen);
        sub[nlen] = '\0';
        qemu_file_skip(f, 2 + nlen);
        if (!config_load_subsection(f, sub, errp)) {
            qemu_file_set_error(f, -EINVAL);
            return -EINVAL;
        }
    }
    return check_stream(f, errp, "reading the configuration") ? -EIO : 0;
}

int qemu_loadvm_state(QEMUFile *f, MigrationIncomingState *mis,
                      Error **errp)
{
    uint32_t magic = qemu_get_be32(f);
    uint32_t version = qemu_get_be32(f);
    int ret;

    if (check_stream(f, errp, "reading the stream header")) {
        return -EIO;
    }
    if (magic != QEMU_VM_FILE_MAGIC) {
        return load_fail(f, errp, -EINVAL, "Not a migration stream (magic "
                         "0x%08x)", magic);
    }
    if (version == QEMU_VM_FILE_VERSION_COMPAT) {
        return load_fail(f, errp, -ENOTSUP, "SaveVM v2 format is obsolete "
                         "and don't work anymore");
    }
    if (version != QEMU_VM_FILE_VERSION) {
        return load_fail(f, errp, -ENOTSUP, "Unsupported migration stream "
                         "version %u", version);
    }
    if (migrate_props()->send_configuration) {
        if (qemu_get_byte(f) != QEMU_VM_CONFIGURATION) {
            if (check_stream(f, errp, "reading the configuration")) {
                return -EIO;
            }
            return load_fail(f, errp, -EINVAL, "Configuration section "
                             "missing");
        }
        ret = load_configuration(f, errp);
        if (ret) {
            return ret;
        }
    }
    ret = savevm_load_setup(f, errp);
    if (ret) {
        return ret;
    }
    ret = qemu_loadvm_state_main(f, mis, LOADVM_PHASE_MAIN, errp);
    if (ret < 0 || ret == LOADVM_QUIT) {
        return ret;
    }
    /*
     * A precopy stream ends with the JSON description (spec §2.6).  Read
     * it so the source can finish writing; its absence is only noted.
     */
    if (!postcopy_incoming_advised(mis->postcopy)) {
        uint8_t t = qemu_get_byte(f);

        if (!qemu_file_get_error(f) && t == QEMU_VM_VMDESCRIPTION) {
            uint32_t size = qemu_get_be32(f);

            qemu_file_skip(f, size);
        }
        trace_loadvm_vmdescription(t, qemu_file_get_error(f));
    }
    return 0;
}

void qemu_loadvm_state_cleanup(MigrationIncomingState *mis)
{
    QEMU_LOCK_GUARD(&mis->loadvm_lock);
    g_hash_table_remove_all(mis->loadvm_by_se);
    g_hash_table_remove_all(mis->loadvm_by_id);
}
