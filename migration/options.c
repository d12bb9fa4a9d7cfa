/*
 * options.c: migration capabilities, parameters and properties.
 *
 * QMP handlers run in the main thread with the BQL; migration threads
 * read the values without it.  Capabilities are frozen while a migration
 * runs, so plain reads are safe; the parameters that may change during a
 * migration are read and written with atomics.
 *
 * ferry reports every capability and parameter QEMU 7.2 has, with the
 * same names, defaults and range errors, and refuses to *enable* what it
 * does not implement, rather than pretending.
 */
#include "qemu/osdep.h"
#include "options.h"
#include "qapi/qmp/dispatch.h"
#include "qapi/qmp/json-writer.h"
#include "qapi/qmp/qjson.h"
#include "qemu/atomic.h"
#include "qemu/cpu-latency.h"
#include "qemu/cutils.h"
#include "qemu/thread.h"
#include "trace.h"

static const char *const capability_names[MIGRATION_CAPABILITY__MAX] = {
    "xbzrle", "rdma-pin-all", "auto-converge", "zero-blocks", "compress",
    "events", "postcopy-ram", "x-colo", "release-ram", "block",
    "return-path", "pause-before-switchover", "multifd", "dirty-bitmaps",
    "postcopy-blocktime", "late-block-activate", "x-ignore-shared",
    "validate-uuid", "background-snapshot", "zero-copy-send",
    "postcopy-preempt",
};

/* What ferry implements; enabling anything else is refused. */
static const bool capability_supported[MIGRATION_CAPABILITY__MAX] = {
    [MIGRATION_CAPABILITY_EVENTS] = true,
    [MIGRATION_CAPABILITY_RETURN_PATH] = true,
    [MIGRATION_CAPABILITY_PAUSE_BEFORE_SWITCHOVER] = true,
    [MIGRATION_CAPABILITY_LATE_BLOCK_ACTIVATE] = true,  /* no block devs */
    [MIGRATION_CAPABILITY_VALIDATE_UUID] = true,
    [MIGRATION_CAPABILITY_POSTCOPY_RAM] = true,
    [MIGRATION_CAPABILITY_POSTCOPY_BLOCKTIME] = true,
    [MIGRATION_CAPABILITY_POSTCOPY_PREEMPT] = true,
    [MIGRATION_CAPABILITY_MULTIFD] = true,
};

static const MigrateOptionsHooks *hooks;
static bool capabilities[MIGRATION_CAPABILITY__MAX];
static MigrationParameters params;
/*
 * A running migration reads the bandwidths, the downtime limit and the
 * TLS strings from its own threads while QMP may change them: params_lock
 * covers those
 * reads and every change of params (the main thread's own reads of the
 * rest need no lock: only the main thread writes).
 */
static QemuMutex params_lock;
static MigrationProperties props;

const char *MigrationCapability_str(MigrationCapability cap)
{
    return cap < MIGRATION_CAPABILITY__MAX ? capability_names[cap] : "";
}

MigrationCapability MigrationCapability_parse(const char *name)
{
    for (int i = 0; i < MIGRATION_CAPABILITY__MAX; i++) {
        if (g_str_equal(capability_names[i], name)) {
            return i;
        }
    }
    return MIGRATION_CAPABILITY__MAX;
}

void migrate_options_init(const MigrateOptionsHooks *h)
{
    hooks = h;
    qemu_mutex_init(&params_lock);
    params = (MigrationParameters) {
        .announce_initial = 50,
        .announce_max = 550,
        .announce_rounds = 5,
        .announce_step = 100,
        .compress_level = 1,
        .compress_threads = 8,
        .compress_wait_thread = true,
        .decompress_threads = 2,
        .throttle_trigger_threshold = 50,
        .cpu_throttle_initial = 20,
        .cpu_throttle_increment = 10,
        .tls_creds = g_strdup(""),
        .tls_hostname = g_strdup(""),
        /* NULL: never set (no authz); "" names the empty id (QEMU 7.2). */
        .tls_authz = NULL,
        .max_bandwidth = 128 << 20,
        .downtime_limit = 300,
        .x_checkpoint_delay = 20000,
        .multifd_channels = 2,
        .xbzrle_cache_size = 64 << 20,
        .max_cpu_throttle = 99,
        .multifd_compression = g_strdup("none"),
        .multifd_zlib_level = 1,
        .multifd_zstd_level = 1,
    };
    props = (MigrationProperties) {
        .store_global_state = true,
        .send_configuration = true,
        .send_section_footer = true,
        .send_switchover_start = false,
        .preempt_pre_7_2 = true,
        .postcopy_cpu_latency = -1,
        .link_timeout_ms = 30000,
        .multifd_flush_after_each_section = true,
    };
}

bool migrate_set_global_property(const char *name, const char *value,
                                 Error **errp)
{
    static const struct {
        const char *name;
        bool *field;
    } bool_props[] = {
        { "store-global-state", &props.store_global_state },
        { "send-configuration", &props.send_configuration },
        { "send-section-footer", &props.send_section_footer },
        { "send-switchover-start", &props.send_switchover_start },
        { "x-preempt-pre-7-2", &props.preempt_pre_7_2 },
        { "multifd-flush-after-each-section",
          &props.multifd_flush_after_each_section },
        { "x-multifd", &capabilities[MIGRATION_CAPABILITY_MULTIFD] },
    };
    /* (Start-up, before any other thread: no lock.) */
    static const struct {
        const char *name;
        int64_t *field;
        int64_t min, max;
    } int_props[] = {
        { "multifd-channels", &params.multifd_channels, 1, 255 },
        { "multifd-zlib-level", &params.multifd_zlib_level, 0, 9 },
        { "multifd-zstd-level", &params.multifd_zstd_level, 0, 20 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(bool_props); i++) {
        if (g_str_equal(bool_props[i].name, name)) {
            return qapi_bool_parse(name, value, bool_props[i].field, errp);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(int_props); i++) {
        int64_t v;

        if (!g_str_equal(int_props[i].name, name)) {
            continue;
        }
        if (qemu_strtoi64(value, NULL, 0, &v) < 0 || v < int_props[i].min ||
            v > int_props[i].max) {
            error_setg(errp, "Parameter '%s' expects a value between %"
                       PRId64 " and %" PRId64, name, int_props[i].min,
                       int_props[i].max);
            return false;
        }
        *int_props[i].field = v;
        return true;
    }
    if (g_str_equal(name, "multifd-compression")) {
        if (strcmp(value, "none") && strcmp(value, "zlib") &&
            strcmp(value, "zstd")) {
            error_setg(errp, "Parameter 'multifd-compression' does not "
                       "accept value '%s'", value);
            return false;
        }
        g_free(params.multifd_compression);
        params.multifd_compression = g_strdup(value);
        return true;
    }
    if (g_str_equal(name, "tls-creds") || g_str_equal(name, "tls-hostname") ||
        g_str_equal(name, "tls-authz")) {
        char **field = g_str_equal(name, "tls-creds") ? &params.tls_creds :
                       g_str_equal(name, "tls-hostname") ?
                       &params.tls_hostname : &params.tls_authz;

        /* (Start-up, before any other thread.) */
        g_free(*field);
        *field = g_strdup(value);
        return true;
    }
    if (g_str_equal(name, "x-postcopy-cpu-latency")) {
        int us;

        if (qemu_strtoi(value, NULL, 10, &us) < 0 || us < -1 ||
            us > CPU_LATENCY_MAX_US) {
            error_setg(errp, "Parameter 'x-postcopy-cpu-latency' expects "
                       "microseconds from 0 to %d, or -1 for none",
                       CPU_LATENCY_MAX_US);
            return false;
        }
        props.postcopy_cpu_latency = us;
        return true;
    }
    if (g_str_equal(name, "x-link-timeout")) {
        int64_t ms;

        if (qemu_strtoi64(value, NULL, 10, &ms) < 0 || ms < 0 ||
            ms > 24 * 3600 * 1000) {
            error_setg(errp, "Parameter 'x-link-timeout' expects "
                       "milliseconds from 0 (off) to 86400000");
            return false;
        }
        props.link_timeout_ms = ms;
        return true;
    }
    error_setg(errp, "can't apply global migration.%s=%s: Property "
               "'migration.%s' not found", name, value, name);
    return false;
}

/*
 * The TLS parameters are read by the threads that connect and accept
 * (when a channel is made, as QEMU does), while QMP may change them.
 */
char *migrate_tls_creds(void)
{
    QEMU_LOCK_GUARD(&params_lock);
    return *params.tls_creds ? g_strdup(params.tls_creds) : NULL;
}

char *migrate_tls_hostname(void)
{
    QEMU_LOCK_GUARD(&params_lock);
    return *params.tls_hostname ? g_strdup(params.tls_hostname) : NULL;
}

char *migrate_tls_authz(void)
{
    QEMU_LOCK_GUARD(&params_lock);
    return g_strdup(params.tls_authz);
}

bool migrate_cap_enabled(MigrationCapability cap)
{
    return capabilities[cap];
}

bool migrate_events(void)
{
    return capabilities[MIGRATION_CAPABILITY_EVENTS];
}

bool migrate_postcopy_ram(void)
{
    return capabilities[MIGRATION_CAPABILITY_POSTCOPY_RAM];
}

bool migrate_return_path(void)
{
    return capabilities[MIGRATION_CAPABILITY_RETURN_PATH] ||
           capabilities[MIGRATION_CAPABILITY_POSTCOPY_RAM];
}

bool migrate_validate_uuid(void)
{
    return capabilities[MIGRATION_CAPABILITY_VALIDATE_UUID];
}

bool migrate_pause_before_switchover(void)
{
    return capabilities[MIGRATION_CAPABILITY_PAUSE_BEFORE_SWITCHOVER];
}

bool migrate_postcopy_blocktime(void)
{
    return capabilities[MIGRATION_CAPABILITY_POSTCOPY_BLOCKTIME];
}

bool migrate_postcopy_preempt(void)
{
    return capabilities[MIGRATION_CAPABILITY_POSTCOPY_PREEMPT];
}

bool migrate_multifd(void)
{
    return capabilities[MIGRATION_CAPABILITY_MULTIFD];
}

/* (Parameters that only change while no migration runs: no lock.) */
int migrate_multifd_channels(void)
{
    return params.multifd_channels;
}

char *migrate_multifd_compression(void)
{
    QEMU_LOCK_GUARD(&params_lock);
    return g_strdup(params.multifd_compression);
}

int migrate_multifd_level(const char *method)
{
    QEMU_LOCK_GUARD(&params_lock);
    return g_str_equal(method, "zstd") ? params.multifd_zstd_level :
           params.multifd_zlib_level;
}

uint64_t migrate_max_bandwidth(void)
{
    QEMU_LOCK_GUARD(&params_lock);
    return params.max_bandwidth;
}

uint64_t migrate_max_postcopy_bandwidth(void)
{
    QEMU_LOCK_GUARD(&params_lock);
    return params.max_postcopy_bandwidth;
}

int64_t migrate_link_timeout(void)
{
    return props.link_timeout_ms;
}

uint64_t migrate_downtime_limit(void)
{
    QEMU_LOCK_GUARD(&params_lock);
    return params.downtime_limit;
}

const MigrationProperties *migrate_props(void)
{
    return &props;
}

/* ---- QMP: capabilities ---- */

const QmpArgSpec qmp_migrate_set_capabilities_args[] = {
    { "capabilities", QMP_ARG_ARRAY, false },
    { NULL }
};

/* QEMU 7.2's cross checks on the new set. */
static bool caps_check(const bool *old, const bool *new, Error **errp)
{
    if (new[MIGRATION_CAPABILITY_POSTCOPY_PREEMPT] &&
        !new[MIGRATION_CAPABILITY_POSTCOPY_RAM]) {
        error_setg(errp, "Postcopy preempt requires postcopy-ram");
        return false;
    }
    /*
     * QEMU 7.2 accepts the pair and aborts when postcopy ends; 10.x
     * refuses it, with this message.
     */
    if (new[MIGRATION_CAPABILITY_POSTCOPY_RAM] &&
        new[MIGRATION_CAPABILITY_MULTIFD]) {
        error_setg(errp, "Postcopy is not yet compatible with multifd");
        return false;
    }
    if (new[MIGRATION_CAPABILITY_POSTCOPY_RAM] &&
        new[MIGRATION_CAPABILITY_X_IGNORE_SHARED]) {
        error_setg(errp, "Postcopy is not compatible with ignore-shared");
        return false;
    }
    for (int i = 0; i < MIGRATION_CAPABILITY__MAX; i++) {
        if (new[i] && !old[i] && !capability_supported[i]) {
            error_setg(errp, "Capability '%s' is not supported by ferry",
                       capability_names[i]);
            return false;
        }
    }
    return true;
}

char *qmp_migrate_set_capabilities(JsonObject *args, Error **errp)
{
    JsonArray *arr = json_object_get_array_member(args, "capabilities");
    bool new[MIGRATION_CAPABILITY__MAX];

    if (!hooks->caps_change_allowed(NULL, errp)) {
        return NULL;
    }
    memcpy(new, capabilities, sizeof(new));
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonNode *n = json_array_get_element(arr, i);
        g_autoptr(GList) members = NULL;
        JsonObject *o;
        JsonNode *cap, *state;
        MigrationCapability c;

        /* QEMU's visitor: capability, then state, then leftovers. */
        if (!JSON_NODE_HOLDS_OBJECT(n)) {
            error_setg(errp, "Invalid parameter type for 'capabilities[%u]',"
                       " expected: object", i);
            return NULL;
        }
        o = json_node_get_object(n);
        cap = json_object_get_member(o, "capability");
        state = json_object_get_member(o, "state");
        if (!cap) {
            error_setg(errp, "Parameter 'capabilities[%u].capability' is "
                       "missing", i);
            return NULL;
        }
        if (!qjson_node_is_string(cap)) {
            error_setg(errp, "Invalid parameter type for "
                       "'capabilities[%u].capability', expected: string", i);
            return NULL;
        }
        c = MigrationCapability_parse(json_node_get_string(cap));
        if (c == MIGRATION_CAPABILITY__MAX) {
            error_setg(errp, "Parameter 'capability' does not accept value "
                       "'%s'", json_node_get_string(cap));
            return NULL;
        }
        if (!state) {
            error_setg(errp, "Parameter 'capabilities[%u].state' is missing",
                       i);
            return NULL;
        }
        if (!qjson_node_is_bool(state)) {
            error_setg(errp, "Invalid parameter type for "
                       "'capabilities[%u].state', expected: boolean", i);
            return NULL;
        }
        members = json_object_get_members(o);
        for (GList *l = members; l; l = l->next) {
            if (strcmp(l->data, "capability") && strcmp(l->data, "state")) {
                error_setg(errp, "Parameter 'capabilities[%u].%s' is "
                           "unexpected", i, (const char *)l->data);
                return NULL;
            }
        }
        new[c] = json_node_get_boolean(state);
    }
    if (!caps_check(capabilities, new, errp)) {
        return NULL;
    }
    if (!hooks->caps_change_allowed(new, errp)) {
        return NULL;
    }
    for (int i = 0; i < MIGRATION_CAPABILITY__MAX; i++) {
        if (new[i] != capabilities[i]) {
            trace_migrate_set_capability(capability_names[i], new[i]);
        }
    }
    memcpy(capabilities, new, sizeof(new));
    return g_strdup("{}");
}

char *qmp_query_migrate_capabilities(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    json_writer_start_list(w, NULL);
    for (int i = 0; i < MIGRATION_CAPABILITY__MAX; i++) {
        json_writer_start_object(w, NULL);
        json_writer_str(w, "capability", capability_names[i]);
        json_writer_bool(w, "state", capabilities[i]);
        json_writer_end_object(w);
    }
    json_writer_end_list(w);
    return json_writer_finish(w);
}

/* ---- QMP: parameters ---- */

/* QEMU 7.2's MigrationParameters member types. */
const QmpArgSpec qmp_migrate_set_parameters_args[] = {
    { "announce-initial", QMP_ARG_SIZE, true },
    { "announce-max", QMP_ARG_SIZE, true },
    { "announce-rounds", QMP_ARG_SIZE, true },
    { "announce-step", QMP_ARG_SIZE, true },
    { "compress-level", QMP_ARG_UINT8, true },
    { "compress-threads", QMP_ARG_UINT8, true },
    { "compress-wait-thread", QMP_ARG_BOOL, true },
    { "decompress-threads", QMP_ARG_UINT8, true },
    { "throttle-trigger-threshold", QMP_ARG_UINT8, true },
    { "cpu-throttle-initial", QMP_ARG_UINT8, true },
    { "cpu-throttle-increment", QMP_ARG_UINT8, true },
    { "cpu-throttle-tailslow", QMP_ARG_BOOL, true },
    { "tls-creds", QMP_ARG_STR_OR_NULL, true },
    { "tls-hostname", QMP_ARG_STR_OR_NULL, true },
    { "tls-authz", QMP_ARG_STR_OR_NULL, true },
    { "max-bandwidth", QMP_ARG_SIZE, true },
    { "downtime-limit", QMP_ARG_UINT, true },
    { "x-checkpoint-delay", QMP_ARG_UINT32, true },
    { "block-incremental", QMP_ARG_BOOL, true },
    { "multifd-channels", QMP_ARG_UINT8, true },
    { "xbzrle-cache-size", QMP_ARG_SIZE, true },
    { "max-postcopy-bandwidth", QMP_ARG_SIZE, true },
    { "max-cpu-throttle", QMP_ARG_UINT8, true },
    { "multifd-compression", QMP_ARG_STR, true },
    { "multifd-zlib-level", QMP_ARG_UINT8, true },
    { "multifd-zstd-level", QMP_ARG_UINT8, true },
    { "block-bitmap-mapping", QMP_ARG_ARRAY, true },
    { NULL }
};

/* Range checks with QEMU 7.2's messages (its typos included). */
static bool params_check(const MigrationParameters *n, Error **errp)
{
    if (n->compress_level > 9) {
        error_setg(errp, "Parameter 'compress_level' expects a value "
                   "between 0 and 9");
    } else if (n->compress_threads < 1) {
        error_setg(errp, "Parameter 'compress_threads' expects a value "
                   "between 1 and 255");
    } else if (n->decompress_threads < 1) {
        error_setg(errp, "Parameter 'decompress_threads' expects a value "
                   "between 1 and 255");
    } else if (n->throttle_trigger_threshold < 1 ||
               n->throttle_trigger_threshold > 100) {
        error_setg(errp, "Parameter 'throttle_trigger_threshold' expects an "
                   "integer in the range of 1 to 100");
    } else if (n->cpu_throttle_initial < 1 || n->cpu_throttle_initial > 99) {
        error_setg(errp, "Parameter 'cpu_throttle_initial' expects an "
                   "integer in the range of 1 to 99");
    } else if (n->cpu_throttle_increment < 1 ||
               n->cpu_throttle_increment > 99) {
        error_setg(errp, "Parameter 'cpu_throttle_increment' expects an "
                   "integer in the range of 1 to 99");
    } else if (n->downtime_limit > 2000000) {
        error_setg(errp, "Parameter 'downtime_limit' expects an integer in "
                   "the range of 0 to (2000 * 1000) ms");
    } else if (n->multifd_channels < 1) {
        error_setg(errp, "Parameter 'multifd_channels' expects a value "
                   "between 1 and 255");
    } else if (n->multifd_zlib_level > 9) {
        /* (7.2 takes the level and silently keeps the old one; 10.x.) */
        error_setg(errp, "Parameter 'multifd_zlib_level' expects a value "
                   "between 0 and 9");
    } else if (n->multifd_zstd_level > 20) {
        error_setg(errp, "Parameter 'multifd_zstd_level' expects a value "
                   "between 0 and 20");
    } else if (n->xbzrle_cache_size < TARGET_PAGE_SIZE ||
               !QEMU_IS_POW2(n->xbzrle_cache_size)) {
        error_setg(errp, "Parameter 'xbzrle_cache_size' expects a power of "
                   "two no less than the target page size");
    } else if (n->max_cpu_throttle < n->cpu_throttle_initial ||
               n->max_cpu_throttle > 99) {
        error_setg(errp, "Parameter 'max_cpu_throttle' expects an integer "
                   "in the range of cpu_throttle_initial to 99");
    } else if (n->announce_initial > 100000) {
        error_setg(errp, "Parameter 'announce_initial' expects a value "
                   "between 0 and 100000");
    } else if (n->announce_max > 100000) {
        error_setg(errp, "Parameter 'announce_max' expects a value between "
                   "0 and 100000");
    } else if (n->announce_rounds > 1000) {
        error_setg(errp, "Parameter 'announce_rounds' expects a value "
                   "between 0 and 1000");
    } else if (n->announce_step < 1 || n->announce_step > 10000) {
        error_setg(errp, "Parameter 'announce_step' expects a value between "
                   "0 and 10000");
    } else {
        return true;
    }
    return false;
}

/* A string or null (null means the empty string, as in QEMU). */
static bool get_str_or_null(JsonObject *args, const char *name, char **dst,
                            Error **errp)
{
    JsonNode *n = json_object_get_member(args, name);

    if (!n) {
        return true;
    }
    if (JSON_NODE_HOLDS_NULL(n)) {
        g_free(*dst);
        *dst = g_strdup("");
        return true;
    }
    if (!qjson_node_is_string(n)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: string",
                   name);
        return false;
    }
    g_free(*dst);
    *dst = g_strdup(json_node_get_string(n));
    return true;
}

#define GET_INT(field, name) \
    n.field = qmp_arg_int(args, name, n.field)
#define GET_UINT(field, name) \
    n.field = qmp_arg_uint(args, name, n.field)
#define GET_BOOL(field, name) \
    n.field = qmp_arg_bool(args, name, n.field)

char *qmp_migrate_set_parameters(JsonObject *args, Error **errp)
{
    MigrationParameters n = params;
    const char *comp;

    n.tls_creds = g_strdup(params.tls_creds);
    n.tls_hostname = g_strdup(params.tls_hostname);
    n.tls_authz = g_strdup(params.tls_authz);
    n.multifd_compression = g_strdup(params.multifd_compression);
    GET_UINT(announce_initial, "announce-initial");
    GET_UINT(announce_max, "announce-max");
    GET_UINT(announce_rounds, "announce-rounds");
    GET_UINT(announce_step, "announce-step");
    GET_INT(compress_level, "compress-level");
    GET_INT(compress_threads, "compress-threads");
    GET_BOOL(compress_wait_thread, "compress-wait-thread");
    GET_INT(decompress_threads, "decompress-threads");
    GET_INT(throttle_trigger_threshold, "throttle-trigger-threshold");
    GET_INT(cpu_throttle_initial, "cpu-throttle-initial");
    GET_INT(cpu_throttle_increment, "cpu-throttle-increment");
    GET_BOOL(cpu_throttle_tailslow, "cpu-throttle-tailslow");
    GET_UINT(max_bandwidth, "max-bandwidth");
    GET_UINT(downtime_limit, "downtime-limit");
    GET_INT(x_checkpoint_delay, "x-checkpoint-delay");
    GET_BOOL(block_incremental, "block-incremental");
    GET_INT(multifd_channels, "multifd-channels");
    GET_UINT(xbzrle_cache_size, "xbzrle-cache-size");
    GET_UINT(max_postcopy_bandwidth, "max-postcopy-bandwidth");
    GET_INT(max_cpu_throttle, "max-cpu-throttle");
    GET_INT(multifd_zlib_level, "multifd-zlib-level");
    GET_INT(multifd_zstd_level, "multifd-zstd-level");
    comp = qmp_arg_str(args, "multifd-compression");
    if (comp && strcmp(comp, "none") && strcmp(comp, "zlib") &&
        strcmp(comp, "zstd")) {
        error_setg(errp, "Parameter 'multifd-compression' does not accept "
                   "value '%s'", comp);
        goto fail;
    }
    if (comp) {
        g_free(n.multifd_compression);
        n.multifd_compression = g_strdup(comp);
    }
    if (!get_str_or_null(args, "tls-creds", &n.tls_creds, errp) ||
        !get_str_or_null(args, "tls-hostname", &n.tls_hostname, errp) ||
        !get_str_or_null(args, "tls-authz", &n.tls_authz, errp)) {
        goto fail;
    }
    if (qmp_arg_has(args, "block-bitmap-mapping")) {
        error_setg(errp, "block-bitmap-mapping needs block devices, which "
                   "ferry does not have");
        goto fail;
    }
    if (!params_check(&n, errp)) {
        goto fail;
    }
    /*
     * (Bandwidths, the downtime limit and the TLS strings: a running
     * migration reads them; the old strings are freed once swapped out.)
     */
    qemu_mutex_lock(&params_lock);
    {
        MigrationParameters old = params;

        params = n;
        n = old;
    }
    qemu_mutex_unlock(&params_lock);
    g_free(n.tls_creds);
    g_free(n.tls_hostname);
    g_free(n.tls_authz);
    g_free(n.multifd_compression);
    trace_migrate_set_parameters(params.max_bandwidth, params.downtime_limit,
                                 params.max_postcopy_bandwidth);
    hooks->params_changed();
    return g_strdup("{}");

fail:
    g_free(n.tls_creds);
    g_free(n.tls_hostname);
    g_free(n.tls_authz);
    g_free(n.multifd_compression);
    return NULL;
}

char *qmp_query_migrate_parameters(JsonObject *args, Error **errp)
{
    JSONWriter *w = json_writer_new_qdict(false);

    /* QAPI schema order; the writer puts them in QEMU's output order. */
    json_writer_start_object(w, NULL);
    json_writer_uint64(w, "announce-initial", params.announce_initial);
    json_writer_uint64(w, "announce-max", params.announce_max);
    json_writer_uint64(w, "announce-rounds", params.announce_rounds);
    json_writer_uint64(w, "announce-step", params.announce_step);
    json_writer_int64(w, "compress-level", params.compress_level);
    json_writer_int64(w, "compress-threads", params.compress_threads);
    json_writer_bool(w, "compress-wait-thread", params.compress_wait_thread);
    json_writer_int64(w, "decompress-threads", params.decompress_threads);
    json_writer_int64(w, "throttle-trigger-threshold",
                      params.throttle_trigger_threshold);
    json_writer_int64(w, "cpu-throttle-initial", params.cpu_throttle_initial);
    json_writer_int64(w, "cpu-throttle-increment",
                      params.cpu_throttle_increment);
    json_writer_bool(w, "cpu-throttle-tailslow", params.cpu_throttle_tailslow);
    json_writer_str(w, "tls-creds", params.tls_creds);
    json_writer_str(w, "tls-hostname", params.tls_hostname);
    json_writer_str(w, "tls-authz", params.tls_authz ?: "");
    json_writer_uint64(w, "max-bandwidth", migrate_max_bandwidth());
    json_writer_uint64(w, "downtime-limit", migrate_downtime_limit());
    json_writer_uint64(w, "x-checkpoint-delay", params.x_checkpoint_delay);
    json_writer_bool(w, "block-incremental", params.block_incremental);
    json_writer_int64(w, "multifd-channels", params.multifd_channels);
    json_writer_uint64(w, "xbzrle-cache-size", params.xbzrle_cache_size);
    json_writer_uint64(w, "max-postcopy-bandwidth",
                       migrate_max_postcopy_bandwidth());
    json_writer_int64(w, "max-cpu-throttle", params.max_cpu_throttle);
    json_writer_str(w, "multifd-compression", params.multifd_compression);
    json_writer_int64(w, "multifd-zlib-level", params.multifd_zlib_level);
    json_writer_int64(w, "multifd-zstd-level", params.multifd_zstd_level);
    json_writer_end_object(w);
    return json_writer_finish(w);
}
