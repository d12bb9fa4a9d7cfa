/*
 * hostmem.c: memory backends.
 *
 * Property names, defaults and error messages follow QEMU 7.2, because
 * users' command lines carry over: memory-backend-ram (anonymous memory,
 * share=off by default), memory-backend-memfd (share=on by default,
 * hugetlb/hugetlbsize/seal), memory-backend-file (mem-path, share=off by
 * default, hugetlbfs detected from the mount).  Backends live for the whole
 * process; the list is touched only by the main thread at start-up.
 */
#include "qemu/osdep.h"
#include "sysemu/hostmem.h"
#include "qemu/cutils.h"
#include "qom/object_interfaces.h"
#include "trace.h"

static GPtrArray *backends;
static unsigned default_prealloc_threads = 1;   /* -smp, set at start-up */
/* -mem-prealloc: prealloc=on for every backend too, as in QEMU. */
static bool default_prealloc;

void host_memory_backend_set_machine_opts(bool mem_merge,
                                          bool dump_guest_core,
                                          unsigned smp_cpus,
                                          bool mem_prealloc)
{
    qemu_ram_set_machine_opts(mem_merge, dump_guest_core);
    default_prealloc_threads = MAX(smp_cpus, 1);
    default_prealloc = mem_prealloc;
}

/* merge= and dump= of a backend (and of the default RAM). */
static void backend_advise(RAMBlock *rb, bool merge, bool dump)
{
    (void)madvise(rb->host, rb->max_length, merge ? MADV_MERGEABLE
                                                  : MADV_UNMERGEABLE);
    (void)madvise(rb->host, rb->max_length, dump ? MADV_DODUMP
                                                 : MADV_DONTDUMP);
}

/* QOM's uint32 property prealloc-threads: 1..UINT32_MAX. */
static bool get_threads_prop(QemuOpts *opts, const char *type,
                             unsigned *out, Error **errp)
{
    uint64_t v;

    if (!qemu_opt_get_number(opts, "prealloc-threads",
                             default_prealloc_threads, &v, errp)) {
        return false;
    }
    if (v > UINT32_MAX) {
        error_setg(errp, "Parameter 'prealloc-threads' expects uint32_t");
        return false;
    }
    if (v == 0) {
        error_setg(errp, "property 'prealloc-threads' of %s doesn't take "
                   "value '0'", type);
        return false;
    }
    *out = v;
    return true;
}

static const char *const backend_types[] = {
    "memory-backend-ram", "memory-backend-memfd", "memory-backend-file",
};

bool host_memory_backend_is_type(const char *qom_type)
{
    for (size_t i = 0; i < ARRAY_SIZE(backend_types); i++) {
        if (g_str_equal(qom_type, backend_types[i])) {
            return true;
        }
    }
    return false;
}

HostMemoryBackend *host_memory_backend_find(const char *id)
{
    for (guint i = 0; backends && i < backends->len; i++) {
        HostMemoryBackend *b = backends->pdata[i];

        if (g_str_equal(b->id, id)) {
            return b;
        }
    }
    return NULL;
}

static bool get_bool_prop(QemuOpts *opts, const char *name, bool defval,
                          bool *out, Error **errp)
{
    return qemu_opt_get_bool(opts, name, defval, out, errp);
}

/* QOM's size property: its own message for a malformed value. */
static bool get_size_prop(QemuOpts *opts, const char *name, uint64_t *out,
                          Error **errp)
{
    const char *v = qemu_opt_get(opts, name);

    *out = 0;
    if (v && qemu_strtosz(v, NULL, out) != 0) {
        error_setg(errp, "Parameter '%s' expects a size value", name);
        return false;
    }
    return true;
}

static HostMemoryBackend *backend_new(const char *type, const char *id)
{
    HostMemoryBackend *b = g_new0(HostMemoryBackend, 1);

    b->type = g_strdup(type);
    b->id = g_strdup(id);
    return b;
}

static void backend_free(HostMemoryBackend *b)
{
    if (b) {
        qemu_ram_free(b->ram_block);
        g_free(b->type);
        g_free(b->id);
        g_free(b);
    }
}

static void backend_register(HostMemoryBackend *b)
{
    if (!backends) {
        backends = g_ptr_array_new();
    }
    g_ptr_array_add(backends, b);
    trace_host_memory_backend_create(b->type, b->id, b->size, b->share);
}

HostMemoryBackend *host_memory_backend_create(QemuOpts *opts, Error **errp)
{
    const char *type = qemu_opt_get(opts, "qom-type");
    const char *id = qemu_opt_get(opts, "id");
    const char *mem_path = NULL;
    bool hugetlb = false, seal, merge, dump, discard, reserve, canonical;
    uint64_t hugetlbsize = 0, align = 0;
    unsigned threads;
    HostMemoryBackend *b;
    RAMBlock *rb = NULL;

    if (!type || !host_memory_backend_is_type(type)) {
        error_setg(errp, "Parameter 'qom-type' does not accept value '%s'",
                   type ? type : "");
        return NULL;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        return NULL;
    }
    if (host_memory_backend_find(id)) {
        error_setg(errp, "Duplicate ID '%s' for object", id);
        return NULL;
    }
    b = backend_new(type, id);
    if (!qemu_opt_has(opts, "size")) {
        error_setg(errp, "Parameter 'size' is missing");
        goto fail;
    }
    if (!get_size_prop(opts, "size", &b->size, errp) ||
        !get_bool_prop(opts, "share",
                       g_str_equal(type, "memory-backend-memfd"),
                       &b->share, errp) ||
        !get_bool_prop(opts, "prealloc", default_prealloc, &b->prealloc,
                       errp) ||
        !get_threads_prop(opts, type, &threads, errp) ||
        !get_bool_prop(opts, "merge", qemu_ram_mem_merge(), &merge, errp) ||
        !get_bool_prop(opts, "dump", qemu_ram_dump_guest_core(), &dump,
                       errp) ||
        !get_bool_prop(opts, "reserve", true, &reserve, errp) ||
        !get_bool_prop(opts, "x-use-canonical-path-for-ramblock-id",
                       false, &canonical, errp)) {
        goto fail;
    }
    qemu_opt_get(opts, "policy");       /* NUMA hints: no effect here */
    qemu_opt_get(opts, "host-nodes");
    if (g_str_equal(type, "memory-backend-memfd")) {
        if (!get_bool_prop(opts, "hugetlb", false, &hugetlb, errp) ||
            !get_size_prop(opts, "hugetlbsize", &hugetlbsize, errp) ||
            !get_bool_prop(opts, "seal", true, &seal, errp)) {
            goto fail;
        }
        if (hugetlbsize && !hugetlb) {
            /* QEMU accepts it and ignores it; so do we. */
            hugetlbsize = 0;
        }
    } else if (g_str_equal(type, "memory-backend-file")) {
        mem_path = qemu_opt_get(opts, "mem-path");
        if (!get_size_prop(opts, "align", &align, errp) ||
            !get_bool_prop(opts, "discard-data", false, &discard, errp)) {
            goto fail;
        }
        qemu_opt_get(opts, "pmem");
        qemu_opt_get(opts, "readonly");
    }
    if (!qemu_opts_check_unused(opts, "Invalid parameter '%s'", errp)) {
        goto fail;
    }
    if (b->size == 0) {
        error_setg(errp, "property 'size' of %s doesn't take value '0'",
                   type);
        goto fail;
    }
    if (g_str_equal(type, "memory-backend-file") && !mem_path) {
        error_setg(errp, "mem-path property not set");
        goto fail;
    }
    /* (Also under -mem-prealloc, whose prealloc=on QEMU checks the same.) */
    if (b->prealloc && !reserve) {
        error_setg(errp, "'prealloc=on' and 'reserve=off' are incompatible");
        goto fail;
    }
    {
        g_autofree char *name = canonical ? g_strdup_printf("/objects/%s", id)
                                          : g_strdup(id);

        if (g_str_equal(type, "memory-backend-ram")) {
            rb = qemu_ram_alloc_anon(name, b->size, b->share, errp);
        } else if (g_str_equal(type, "memory-backend-memfd")) {
            rb = qemu_ram_alloc_memfd(name, b->size, b->share, hugetlbsize,
                                      hugetlb, errp);
        } else {
            rb = qemu_ram_alloc_from_path(name, b->size, mem_path, b->share,
                                          false, errp);
        }
    }
    if (!rb) {
        goto fail;
    }
    backend_advise(rb, merge, dump);
    if (b->prealloc && !qemu_ram_prealloc(rb, threads, errp)) {
        qemu_ram_free(rb);
        goto fail;
    }
    b->ram_block = rb;
    backend_register(b);
    return b;

fail:
    backend_free(b);
    return NULL;
}

HostMemoryBackend *host_memory_backend_create_default(const char *id,
                                                      uint64_t size,
                                                      const char *mem_path,
                                                      bool prealloc,
                                                      Error **errp)
{
    HostMemoryBackend *b = backend_new(mem_path ? "memory-backend-file"
                                                : "memory-backend-ram", id);
    RAMBlock *rb;

    b->size = size;
    b->prealloc = prealloc;
    rb = mem_path ? qemu_ram_alloc_from_path(id, size, mem_path, false,
                                             false, errp)
                  : qemu_ram_alloc_anon(id, size, false, errp);
    if (rb) {
        /* QEMU's create_default_memdev(): a backend with the defaults. */
        backend_advise(rb, qemu_ram_mem_merge(), qemu_ram_dump_guest_core());
    }
    if (!rb || (prealloc && !qemu_ram_prealloc(rb, default_prealloc_threads,
                                               errp))) {
        qemu_ram_free(rb);
        backend_free(b);
        return NULL;
    }
    b->ram_block = rb;
    backend_register(b);
    return b;
}

void host_memory_backend_free_all(void)
{
    if (!backends) {
        return;
    }
    for (guint i = 0; i < backends->len; i++) {
        backend_free(backends->pdata[i]);
    }
    g_ptr_array_free(backends, true);
    backends = NULL;
}

/*
 * Backends are made at start-up only (their RAM is laid out before the
 * machine) and live as long as the process; the registry knows them so
 * that their ids are taken and object-del refuses them.
 */
static void *backend_create(const char *id, QemuOpts *opts, Error **errp)
{
    return host_memory_backend_create(opts, errp);
}

static bool backend_can_be_deleted(void *obj)
{
    return false;
}

#define BACKEND_TYPE(n) { .name = n, .cmdline_only = true, \
                          .create = backend_create, \
                          .can_be_deleted = backend_can_be_deleted }

static const UserCreatableType backend_user_types[] = {
    BACKEND_TYPE("memory-backend-ram"),
    BACKEND_TYPE("memory-backend-memfd"),
    BACKEND_TYPE("memory-backend-file"),
};

void host_memory_backend_register_types(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(backend_user_types); i++) {
        user_creatable_register_type(&backend_user_types[i]);
    }
}
