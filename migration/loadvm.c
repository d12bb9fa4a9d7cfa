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

/* Entries are never freed while a load runs, so the pointer stays valid. */
static LoadStateEntry *find_loaded(MigrationIncomingState *mis,
                                   uint32_t section_id)
{
    QEMU_LOCK_GUARD(&mis->loadvm_lock);
    for (guint i = 0; i < mis->loadvm_handlers->len; i++) {
        LoadStateEntry *le = mis->loadvm_handlers->pdata[i];

        if (le->section_id == section_id) {
            return le;
        }
    }
    return NULL;
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
                                     uint8_t type, uint64_t start,
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
    le = find_loaded(mis, section_id);
    if (le && le->se != se) {
        return load_fail(f, errp, -EINVAL, "section '%s' at offset %" PRIu64
                         ": section id %u already names '%s'", idstr, start,
                         section_id, savevm_se_idstr(le->se));
    }
    if (!le) {
        le = g_new0(LoadStateEntry, 1);
        le->se = se;
        le->section_id = section_id;
        qemu_mutex_lock(&mis->loadvm_lock);
        g_ptr_array_add(mis->loadvm_handlers, le);
        qemu_mutex_unlock(&mis->loadvm_lock);
    }
    le->version_id = version_id;
    (void)type;
    return load_section_body(f, le, start, errp);
}

static int loadvm_section_part_end(QEMUFile *f, MigrationIncomingState *mis,
                                   uint64_t start, Error **errp)
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
    return load_section_body(f, le, start, errp);
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
    /*
     * A package only makes sense as the postcopy switch: after ADVISE,
     * and never inside another package (which would let a tiny stream
     * nest thousands of buffers deep).
     */
    if (qatomic_read(&mis->package)) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": PACKAGED "
                         "inside a PACKAGED blob", start);
    }
    if (!postcopy_incoming_advised(mis->postcopy)) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": PACKAGED "
                         "without POSTCOPY_ADVISE", start);
    }
    if (length > MAX_VM_CMD_PACKAGED_SIZE) {
        return load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": PACKAGED "
                         "blob of %u bytes is larger than %u", start, length,
                         MAX_VM_CMD_PACKAGED_SIZE);
    }
    blob = g_try_malloc(length ? length : 1);
    if (!blob) {
        return load_fail(f, errp, -ENOMEM, "offset %" PRIu64 ": no memory "
                         "for a PACKAGED blob of %u bytes", start, length);
    }
    if (qemu_get_buffer(f, blob, length) != length) {
        check_stream(f, errp, "reading the PACKAGED blob");
        return -EIO;
    }
    trace_loadvm_packaged(length);
    ioc = mig_channel_new_buffer(blob, length, "packaged");
    pf = qemu_file_new_input(ioc);
    mig_channel_unref(ioc);
    /* Errors inside name their offset in the whole stream. */
    qemu_file_set_base_offset(pf, qemu_file_tell(f) - length);
    qatomic_set(&mis->package, pf);
    ret = qemu_loadvm_state_main(pf, mis, errp);
    qatomic_set(&mis->package, NULL);
    if (ret == 0) {
        /* The blob must end with RUN (which makes the loop quit). */
        ret = load_fail(f, errp, -EINVAL, "offset %" PRIu64 ": PACKAGED blob "
                        "ended without POSTCOPY_RUN", start);
    }
    qemu_fclose(pf);
    if (ret < 0) {
        qemu_file_set_error(f, ret);
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
                                  uint64_t start, Error **errp)
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
                           Error **errp)
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
            ret = loadvm_section_start_full(f, mis, type, start, errp);
            break;
        case QEMU_VM_SECTION_PART:
        case QEMU_VM_SECTION_END:
            ret = loadvm_section_part_end(f, mis, start, errp);
            break;
        case QEMU_VM_COMMAND:
            ret = loadvm_process_command(f, mis, start, errp);
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
    ret = qemu_loadvm_state_main(f, mis, errp);
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
    g_ptr_array_set_size(mis->loadvm_handlers, 0);
}
