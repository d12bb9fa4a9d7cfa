/*
 * vmstate.c: the VMState engine — saves and loads device state described
 * by VMStateDescription tables, in QEMU 7.2's wire format, and writes the
 * JSON description ("VMDESCRIPTION") of what it saved.
 *
 * Design note
 *
 * The wire carries no names, tags or lengths (spec §3): a section body is
 * the fields of the table in order, each array element after the other,
 * a nested struct expanded in place and followed by its own subsections,
 * then the table's subsections.  Both sides must therefore walk the same
 * table with the same version number, and the only thing that can tell a
 * loader where it is in the stream is this walk.  So the loader is
 * strict: any failure (a short stream, a checker field that does not
 * match, a count beyond what the destination can hold) stops the load,
 * names the vmsd and field, and is recorded as the stream's sticky error,
 * because nothing after it can be parsed.
 *
 * Lengths from the stream.  A VARRAY count or VBUFFER size is an ordinary
 * field loaded a moment earlier, i.e. stream data.  QEMU trusts it (and
 * asks device authors to add VMSTATE_VALIDATE); ferry checks it before it
 * indexes, allocates or reads: against .num_max/.size_max when the macro
 * knew the capacity, against VMSTATE_ALLOC_MAX for VMS_ALLOC, and
 * otherwise against the value the destination held before this struct
 * started loading.  That last bound is the "limit snapshot": when a
 * struct (not a subsection: subsections share their parent's opaque) is
 * entered, after its pre_load, the engine records the geometry of every
 * unbounded VARRAY/VBUFFER field of the struct and of its subsections.
 * Pointer arrays were allocated by the device for that count, so a larger
 * one from the stream would overflow them.  (QEMU devices spell the same
 * rule with VMSTATE_INT32_POSITIVE_LE before such an array.)
 *
 * The description mirrors QEMU 7.2 exactly, quirks included: an array of
 * "compressible" elements is described once, with "array_len" and the
 * size of its first element; other arrays get one entry per element with
 * "index"; a field name that occurs twice in a table becomes "name[k]";
 * a VMS_STRUCT element nests its description under "struct" but a
 * VMS_VSTRUCT element writes it straight into the field's object.  Every
 * JSON container opened is closed on every path, so a failed save leaves
 * the writer balanced for the caller.
 */
#include "qemu/osdep.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qapi/qmp/json-writer.h"
#include "qemu-file.h"
#include "trace.h"

#ifndef QEMU_VM_SUBSECTION
#define QEMU_VM_SUBSECTION 0x05     /* spec §2.2; also in savevm.h */
#endif

/* Subsections may nest; tables are static, but bound the walk anyway. */
#define VMSTATE_MAX_SUBSECTION_DEPTH 32

/* Element count and element size of one field, as used right now. */
typedef struct FieldGeom {
    uint64_t n_elems;
    uint64_t size;
} FieldGeom;

/* A destination limit recorded before loading (see the design note). */
typedef struct VMStateLimit {
    const void *opaque;
    const VMStateField *field;
    FieldGeom geom;
} VMStateLimit;

/* State of one vmstate_load_state() call. */
typedef struct VMStateLoadCtx {
    GArray *limits;         /* VMStateLimit; innermost struct's last */
} VMStateLoadCtx;

static int vmstate_save_vmsd(QEMUFile *f, const VMStateDescription *vmsd,
                             void *opaque, JSONWriter *vmdesc,
                             int version_id, Error **errp);
static int vmstate_load_vmsd(VMStateLoadCtx *ctx, QEMUFile *f,
                             const VMStateDescription *vmsd, void *opaque,
                             int64_t version_id, bool is_subsection,
                             Error **errp);

bool vmstate_section_needed(const VMStateDescription *vmsd, void *opaque)
{
    return !vmsd->needed || vmsd->needed(opaque);
}

/* Hooks return 0 or -errno; treat any other non-zero as -EINVAL. */
static int hook_errno(int ret)
{
    return ret < 0 ? ret : -EINVAL;
}

static bool field_present(const VMStateField *field, void *opaque,
                          int version_id)
{
    if (field->field_exists) {
        return field->field_exists(opaque, version_id);
    }
    return field->version_id <= version_id;
}

/*
 * A table that names no way to encode its elements is a bug in the
 * device; report it rather than crash on it.  (VMSTATE_VALIDATE has no
 * elements and needs neither.)
 */
static bool field_usable(const VMStateField *field, Error **errp)
{
    if ((field->flags & (VMS_STRUCT | VMS_VSTRUCT)) ? !field->vmsd
                                                    : !field->info) {
        error_setg(errp, "the table gives no %s for this field",
                   field->flags & (VMS_STRUCT | VMS_VSTRUCT) ? "vmsd"
                                                             : "VMStateInfo");
        return false;
    }
    return true;
}

/* ---- geometry ---- */

static int64_t field_varray_count(void *opaque, const VMStateField *field)
{
    void *p = (char *)opaque + field->num_offset;

    if (field->flags & VMS_VARRAY_INT32) {
        return *(int32_t *)p;
    } else if (field->flags & VMS_VARRAY_UINT32) {
        return *(uint32_t *)p;
    } else if (field->flags & VMS_VARRAY_UINT16) {
        return *(uint16_t *)p;
    }
    return *(uint8_t *)p;
}

/*
 * The element count and size of @field in @opaque now.  On load they may
 * come from the stream: negative or overflowing values fail here, limits
 * are checked by load_check_limits().
 */
static bool field_geometry(void *opaque, const VMStateField *field,
                           FieldGeom *g, Error **errp)
{
    int64_t n = 1;
    uint64_t size = field->size;

    if (field->flags & VMS_ARRAY) {
        n = field->num;
    } else if (field->flags & VMS_VARRAY_ANY) {
        n = field_varray_count(opaque, field);
    }
    if (n < 0) {
        error_setg(errp, "negative element count %" PRId64, n);
        return false;
    }
    g->n_elems = n;
    if ((field->flags & VMS_MULTIPLY_ELEMENTS) &&
        (field->num < 0 ||
         __builtin_mul_overflow(g->n_elems, (uint64_t)field->num,
                                &g->n_elems))) {
        error_setg(errp, "element count %" PRId64 " x %d is out of range",
                   n, field->num);
        return false;
    }
    if (field->flags & VMS_VBUFFER) {
        /* The size member is read as int32 whatever its declared type. */
        int32_t v = *(int32_t *)((char *)opaque + field->size_offset);

        if (v < 0) {
            error_setg(errp, "negative buffer size %" PRId32, v);
            return false;
        }
        size = (uint32_t)v;
        if ((field->flags & VMS_MULTIPLY) &&
            __builtin_mul_overflow(size, (uint64_t)field->size, &size)) {
            error_setg(errp, "buffer size %" PRId32 " x %zu is out of range",
                       v, field->size);
            return false;
        }
    }
    g->size = size;
    return true;
}

/* ---- load limits (see the design note) ---- */

/* Has a length from the stream but no static bound for it? */
static bool field_needs_snapshot(const VMStateField *field)
{
    if (field->flags & VMS_ALLOC) {
        return false;
    }
    return ((field->flags & VMS_VARRAY_ANY) && !field->num_max) ||
           ((field->flags & VMS_VBUFFER) && !field->size_max);
}

static void capture_limits(VMStateLoadCtx *ctx,
                           const VMStateDescription *vmsd, void *opaque,
                           unsigned depth)
{
    const VMStateDescription *const *sub;

    for (const VMStateField *field = vmsd->fields; field && field->name;
         field++) {
        VMStateLimit l = { .opaque = opaque, .field = field };

        if (!field_needs_snapshot(field)) {
            continue;
        }
        /* A destination that holds nonsense holds nothing. */
        if (!field_geometry(opaque, field, &l.geom, NULL)) {
            l.geom.n_elems = l.geom.size = 0;
        }
        g_array_append_val(ctx->limits, l);
    }
    for (sub = vmsd->subsections; sub && *sub; sub++) {
        if (depth < VMSTATE_MAX_SUBSECTION_DEPTH) {
            capture_limits(ctx, *sub, opaque, depth + 1);
        }
    }
}

static const VMStateLimit *find_limit(VMStateLoadCtx *ctx,
                                      const void *opaque,
                                      const VMStateField *field)
{
    for (guint i = ctx->limits->len; i-- > 0;) {
        const VMStateLimit *l = &g_array_index(ctx->limits, VMStateLimit, i);

        if (l->opaque == opaque && l->field == field) {
            return l;
        }
    }
    return NULL;
}

static bool load_check_limits(VMStateLoadCtx *ctx, void *opaque,
                              const VMStateField *field, const FieldGeom *g,
                              Error **errp)
{
    uint64_t total;

    if (field->num_max && g->n_elems > field->num_max) {
        error_setg(errp, "element count %" PRIu64 " exceeds the "
                   "destination's capacity of %zu", g->n_elems,
                   field->num_max);
        return false;
    }
    if (field->size_max && g->size > field->size_max) {
        error_setg(errp, "buffer size %" PRIu64 " exceeds the destination's "
                   "capacity of %zu", g->size, field->size_max);
        return false;
    }
    if (field_needs_snapshot(field)) {
        const VMStateLimit *l = find_limit(ctx, opaque, field);
        uint64_t max_n = l ? l->geom.n_elems : 0;
        uint64_t max_size = l ? l->geom.size : 0;

        if (g->n_elems > max_n) {
            error_setg(errp, "element count %" PRIu64 " exceeds the "
                       "destination's %" PRIu64, g->n_elems, max_n);
            return false;
        }
        if (g->size > max_size) {
            error_setg(errp, "buffer size %" PRIu64 " exceeds the "
                       "destination's %" PRIu64, g->size, max_size);
            return false;
        }
    }
    if (__builtin_mul_overflow(g->n_elems, g->size, &total) ||
        ((field->flags & VMS_ALLOC) &&
         (total > VMSTATE_ALLOC_MAX || g->n_elems > VMSTATE_ALLOC_MAX))) {
        error_setg(errp, "%" PRIu64 " x %" PRIu64 " bytes exceed the "
                   "allocation limit of %u bytes", g->n_elems, g->size,
                   VMSTATE_ALLOC_MAX);
        return false;
    }
    return true;
}

/* ---- JSON description ---- */

/* The name, suffixed "[k]" if it occurs more than once in the table. */
static char *desc_field_name(const VMStateDescription *vmsd,
                             const VMStateField *field)
{
    int count = 0, rank = 0;

    for (const VMStateField *f = vmsd->fields; f->name; f++) {
        if (strcmp(f->name, field->name) == 0) {
            if (f == field) {
                rank = count;
            }
            count++;
        }
    }
    if (count > 1) {
        return g_strdup_printf("%s[%d]", field->name, rank);
    }
    return g_strdup(field->name);
}

static const char *desc_type_name(const VMStateField *field)
{
    if (field->flags & VMS_STRUCT) {
        return "struct";
    } else if (field->flags & VMS_VSTRUCT) {
        return "vstruct";
    } else if (field->info && field->info->name) {
        return field->info->name;
    }
    return "unknown";
}

/*
 * Elements of this field all have the same shape, so QEMU describes only
 * the first one (with "array_len").  Anything with a field_exists hook or
 * subsections may differ between elements.  (VMS_VSTRUCT is not looked
 * into: QEMU 7.2 does not either.)
 */
static bool desc_can_compress(const VMStateField *field)
{
    if (field->field_exists) {
        return false;
    }
    if ((field->flags & VMS_STRUCT) && field->vmsd) {
        for (const VMStateField *f = field->vmsd->fields; f && f->name;
             f++) {
            if (!desc_can_compress(f)) {
                return false;
            }
        }
        if (field->vmsd->subsections) {
            return false;
        }
    }
    return true;
}

static void desc_field_start(JSONWriter *vmdesc,
                             const VMStateDescription *vmsd,
                             const VMStateField *field, bool compress,
                             uint64_t i, uint64_t n_elems)
{
    g_autofree char *name = NULL;

    if (!vmdesc) {
        return;
    }
    name = desc_field_name(vmsd, field);
    json_writer_start_object(vmdesc, NULL);
    json_writer_str(vmdesc, "name", name);
    if (n_elems > 1) {
        if (compress) {
            json_writer_int64(vmdesc, "array_len", n_elems);
        } else {
            json_writer_int64(vmdesc, "index", i);
        }
    }
    json_writer_str(vmdesc, "type", desc_type_name(field));
    if (field->flags & VMS_STRUCT) {
        json_writer_start_object(vmdesc, "struct");
    }
}

static void desc_field_end(JSONWriter *vmdesc, const VMStateField *field,
                           uint64_t written)
{
    if (!vmdesc) {
        return;
    }
    if (field->flags & VMS_STRUCT) {
        json_writer_end_object(vmdesc);
    }
    json_writer_int64(vmdesc, "size", written);
    json_writer_end_object(vmdesc);
}

/* ---- save ---- */

static int vmstate_save_field(QEMUFile *f, const VMStateDescription *vmsd,
                              const VMStateField *field, void *opaque,
                              JSONWriter *vmdesc, Error **errp)
{
    JSONWriter *desc = vmdesc;
    Error *local = NULL;
    bool compress = vmdesc && desc_can_compress(field);
    FieldGeom g = { 0 };
    char *base;
    int ret = 0;

    if (!field_geometry(opaque, field, &g, &local) ||
        (g.n_elems && !field_usable(field, &local))) {
        ret = -EINVAL;
        goto fail;
    }
    trace_vmstate_save_field(vmsd->name, field->name, g.n_elems);
    base = (char *)opaque + field->offset;
    if (field->flags & VMS_POINTER) {
        base = *(char **)base;
        if (!base && g.n_elems && g.size) {
            error_setg(&local, "NULL pointer to %" PRIu64 " elements",
                       g.n_elems);
            ret = -EINVAL;
            goto fail;
        }
    }
    for (uint64_t i = 0; i < g.n_elems; i++) {
        void *elem = base + g.size * i;
        uint64_t before;

        if (field->flags & VMS_ARRAY_OF_POINTER) {
            elem = *(void **)elem;
        }
        desc_field_start(desc, vmsd, field, compress, i, g.n_elems);
        before = qemu_file_total_transferred(f);
        if (!elem && g.size) {
            /* Only an array of pointers gets here: send a placeholder. */
            ret = vmstate_info_nullptr.put(f, elem, g.size, field, NULL,
                                           &local);
        } else if (field->flags & VMS_STRUCT) {
            ret = vmstate_save_vmsd(f, field->vmsd, elem, desc,
                                    field->vmsd->version_id, &local);
        } else if (field->flags & VMS_VSTRUCT) {
            ret = vmstate_save_vmsd(f, field->vmsd, elem, desc,
                                    field->struct_version_id, &local);
        } else {
            ret = field->info->put(f, elem, g.size, field, desc, &local);
        }
        desc_field_end(desc, field, qemu_file_total_transferred(f) - before);
        if (ret) {
            ret = hook_errno(ret);
            goto fail;
        }
        if (compress) {
            desc = NULL;    /* the first element described them all */
        }
    }
    return 0;

fail:
    if (!local) {
        error_setg(&local, "save failed: %s", g_strerror(-ret));
    }
    error_propagate_prepend(errp, local, "vmstate '%s' field '%s': ",
                            vmsd->name, field->name);
    return ret;
}

static int vmstate_subsection_save(QEMUFile *f,
                                   const VMStateDescription *vmsd,
                                   void *opaque, JSONWriter *vmdesc,
                                   Error **errp)
{
    const VMStateDescription *const *sub;
    bool listed = false;
    int ret = 0;

    for (sub = vmsd->subsections; !ret && sub && *sub; sub++) {
        const VMStateDescription *s = *sub;
        size_t len = strlen(s->name);

        if (!vmstate_section_needed(s, opaque)) {
            continue;
        }
        trace_vmstate_subsection_save(vmsd->name, s->name);
        if (len > 255) {
            error_setg(errp, "vmstate '%s': subsection name '%s' is longer "
                       "than 255 bytes", vmsd->name, s->name);
            ret = -EINVAL;
            break;
        }
        if (vmdesc) {
            /* The list appears only when a subsection is sent. */
            if (!listed) {
                json_writer_start_list(vmdesc, "subsections");
                listed = true;
            }
            json_writer_start_object(vmdesc, NULL);
        }
        qemu_put_byte(f, QEMU_VM_SUBSECTION);
        qemu_put_byte(f, len);
        qemu_put_buffer(f, (const uint8_t *)s->name, len);
        qemu_put_be32(f, s->version_id);
        ret = vmstate_save_vmsd(f, s, opaque, vmdesc, s->version_id, errp);
        if (vmdesc) {
            json_writer_end_object(vmdesc);
        }
    }
    if (listed) {
        json_writer_end_list(vmdesc);
    }
    return ret;
}

static int vmstate_save_vmsd(QEMUFile *f, const VMStateDescription *vmsd,
                             void *opaque, JSONWriter *vmdesc,
                             int version_id, Error **errp)
{
    int ret = 0;

    trace_vmstate_save_vmsd(vmsd->name, version_id);
    if (vmsd->pre_save) {
        ret = vmsd->pre_save(opaque);
        trace_vmstate_save_vmsd_pre_save(vmsd->name, ret);
        if (ret) {
            ret = hook_errno(ret);
            error_setg(errp, "vmstate '%s': pre_save failed: %s",
                       vmsd->name, g_strerror(-ret));
            return ret;
        }
    }
    if (vmdesc) {
        json_writer_str(vmdesc, "vmsd_name", vmsd->name);
        json_writer_int64(vmdesc, "version", version_id);
        json_writer_start_list(vmdesc, "fields");
    }
    for (const VMStateField *field = vmsd->fields;
         !ret && field && field->name; field++) {
        if (field_present(field, opaque, version_id)) {
            ret = vmstate_save_field(f, vmsd, field, opaque, vmdesc, errp);
        } else if (field->flags & VMS_MUST_EXIST) {
            /* The device's own state is invalid: refuse to send it. */
            error_setg(errp, "vmstate '%s' field '%s': validation failed",
                       vmsd->name, field->name);
            ret = -EINVAL;
        }
    }
    if (vmdesc) {
        json_writer_end_list(vmdesc);
    }
    if (!ret) {
        ret = vmstate_subsection_save(f, vmsd, opaque, vmdesc, errp);
    }
    /* post_save undoes pre_save, so it runs even after a failure. */
    if (vmsd->post_save) {
        int ps = vmsd->post_save(opaque);

        if (ps && !ret) {
            ret = hook_errno(ps);
            error_setg(errp, "vmstate '%s': post_save failed: %s",
                       vmsd->name, g_strerror(-ret));
        }
    }
    return ret;
}

int vmstate_save_state_v(QEMUFile *f, const VMStateDescription *vmsd,
                         void *opaque, JSONWriter *vmdesc, int version_id,
                         Error **errp)
{
    return vmstate_save_vmsd(f, vmsd, opaque, vmdesc, version_id, errp);
}

int vmstate_save_state(QEMUFile *f, const VMStateDescription *vmsd,
                       void *opaque, JSONWriter *vmdesc, Error **errp)
{
    return vmstate_save_vmsd(f, vmsd, opaque, vmdesc, vmsd->version_id,
                             errp);
}

/* ---- load ---- */

static int vmstate_load_field(VMStateLoadCtx *ctx, QEMUFile *f,
                              const VMStateDescription *vmsd,
                              const VMStateField *field, void *opaque,
                              Error **errp)
{
    Error *local = NULL;
    bool in_loop = false;       /* name the element in messages */
    uint64_t i = 0;
    FieldGeom g = { 0 };
    char *base;
    int ret = 0;

    if (!field_geometry(opaque, field, &g, &local) ||
        ((field->flags & (VMS_VARRAY_ANY | VMS_VBUFFER)) &&
         !load_check_limits(ctx, opaque, field, &g, &local)) ||
        (g.n_elems && !field_usable(field, &local))) {
        ret = -EINVAL;
        goto fail;
    }
    base = (char *)opaque + field->offset;
    if (field->flags & VMS_POINTER) {
        /*
         * As in QEMU, VMS_ALLOC overwrites the pointer: a destination
         * that owns memory there must free it in pre_load.
         */
        uint64_t total = g.n_elems * g.size;  /* static, or checked above */

        if ((field->flags & VMS_ALLOC) && total != 0) {
            /* Bounded, but still the stream's choice: fail, don't abort. */
            void *mem = g_try_malloc(total);

            if (!mem) {
                error_setg(&local, "cannot allocate %" PRIu64 " bytes",
                           total);
                ret = -ENOMEM;
                goto fail;
            }
            *(void **)base = mem;
        }
        base = *(char **)base;
        if (!base && g.n_elems && g.size) {
            error_setg(&local, "the destination has no memory for %" PRIu64
                       " elements (NULL pointer)", g.n_elems);
            ret = -EINVAL;
            goto fail;
        }
    }
    in_loop = g.n_elems > 1;
    for (i = 0; i < g.n_elems; i++) {
        void *elem = base + g.size * i;
        bool nested = false;

        if (field->flags & VMS_ARRAY_OF_POINTER) {
            elem = *(void **)elem;
        }
        if (!elem && g.size) {
            ret = vmstate_info_nullptr.get(f, elem, g.size, field, &local);
        } else if (field->flags & (VMS_STRUCT | VMS_VSTRUCT)) {
            /* A nested struct has no version on the wire. */
            int v = field->flags & VMS_STRUCT ? field->vmsd->version_id
                                              : field->struct_version_id;

            nested = true;
            ret = vmstate_load_vmsd(ctx, f, field->vmsd, elem, v, false,
                                    &local);
        } else {
            ret = field->info->get(f, elem, g.size, field, &local);
        }
        /*
         * A short stream makes get() read zeros: report the truncation,
         * not whatever the zeros looked like.  A nested load already
         * said where it stopped.
         */
        if (!nested && qemu_file_get_error(f)) {
            error_free(local);
            local = NULL;
            ret = qemu_file_get_error_obj(f, &local);
        }
        if (ret < 0) {
            goto fail;
        }
        /* A get() that set an error but reported success: ignore it. */
        error_free(local);
        local = NULL;
    }
    return 0;

fail:
    trace_vmstate_load_field_error(vmsd->name, field->name, ret);
    if (!local) {
        error_setg(&local, "load failed: %s", g_strerror(-ret));
    }
    if (in_loop) {
        error_propagate_prepend(errp, local, "vmstate '%s' field '%s' "
                                "element %" PRIu64 ": ", vmsd->name,
                                field->name, i);
    } else {
        error_propagate_prepend(errp, local, "vmstate '%s' field '%s': ",
                                vmsd->name, field->name);
    }
    return ret;
}

static const VMStateDescription *
vmstate_find_subsection(const VMStateDescription *vmsd, const uint8_t *name,
                        size_t len)
{
    for (const VMStateDescription *const *sub = vmsd->subsections; sub && *sub;
         sub++) {
        if (strlen((*sub)->name) == len &&
            memcmp((*sub)->name, name, len) == 0) {
            return *sub;
        }
    }
    return NULL;
}

/*
 * Spec §3.4: loads subsections for as long as the next bytes look like
 * one of ours.  Anything else ends the loop quietly — it may be the
 * parent's subsection or the section footer — except a name that claims
 * to belong to @vmsd but is unknown here, which is an error: the source
 * sent state this destination would silently drop.
 */
static int vmstate_subsection_load(VMStateLoadCtx *ctx, QEMUFile *f,
                                   const VMStateDescription *vmsd,
                                   void *opaque, Error **errp)
{
    size_t plen = strlen(vmsd->name);

    while (qemu_peek_byte(f, 0) == QEMU_VM_SUBSECTION) {
        const VMStateDescription *sub;
        char name[256];
        uint8_t *p;
        size_t len = qemu_peek_byte(f, 1);
        uint32_t version;
        int ret;

        if (len < plen + 1) {
            trace_vmstate_subsection_load_stop(vmsd->name, "short name");
            break;
        }
        if (qemu_peek_buffer(f, &p, len, 2) != len) {
            trace_vmstate_subsection_load_stop(vmsd->name, "peek failed");
            break;
        }
        if (memcmp(p, vmsd->name, plen) != 0) {
            trace_vmstate_subsection_load_stop(vmsd->name, "other parent");
            break;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        sub = vmstate_find_subsection(vmsd, p, len);
        if (!sub) {
            error_setg(errp, "vmstate '%s': unknown subsection '%s'",
                       vmsd->name, name);
            return -ENOENT;
        }
        qemu_file_skip(f, 2 + len);
        version = qemu_get_be32(f);
        if (qemu_file_get_error(f)) {
            break;      /* reported below */
        }
        trace_vmstate_subsection_load(vmsd->name, name, version);
        ret = vmstate_load_vmsd(ctx, f, sub, opaque, version, true, errp);
        if (ret) {
            return ret;
        }
    }
    /* Peeking past the end of the stream leaves the truncation error. */
    if (qemu_file_get_error(f)) {
        int ret = qemu_file_get_error_obj(f, errp);

        error_prepend(errp, "vmstate '%s': ", vmsd->name);
        return ret;
    }
    return 0;
}

static int vmstate_load_vmsd(VMStateLoadCtx *ctx, QEMUFile *f,
                             const VMStateDescription *vmsd, void *opaque,
                             int64_t version_id, bool is_subsection,
                             Error **errp)
{
    guint mark = ctx->limits->len;
    int ret = 0;

    trace_vmstate_load_vmsd(vmsd->name, version_id);
    if (version_id > vmsd->version_id ||
        version_id < vmsd->minimum_version_id) {
        error_setg(errp, "vmstate '%s': unsupported version %" PRId64
                   " (accepted %d..%d)", vmsd->name, version_id,
                   vmsd->minimum_version_id, vmsd->version_id);
        return -EINVAL;
    }
    if (vmsd->pre_load) {
        ret = vmsd->pre_load(opaque);
        if (ret) {
            ret = hook_errno(ret);
            error_setg(errp, "vmstate '%s': pre_load failed: %s",
                       vmsd->name, g_strerror(-ret));
            return ret;
        }
    }
    if (!is_subsection) {
        capture_limits(ctx, vmsd, opaque, 0);
    }
    for (const VMStateField *field = vmsd->fields; field && field->name;
         field++) {
        bool exists = field_present(field, opaque, version_id);

        trace_vmstate_load_field(vmsd->name, field->name, exists);
        if (exists) {
            ret = vmstate_load_field(ctx, f, vmsd, field, opaque, errp);
        } else if (field->flags & VMS_MUST_EXIST) {
            error_setg(errp, "vmstate '%s' field '%s': validation failed",
                       vmsd->name, field->name);
            ret = -EINVAL;
        }
        if (ret) {
            goto out;
        }
    }
    ret = vmstate_subsection_load(ctx, f, vmsd, opaque, errp);
    if (ret) {
        goto out;
    }
    if (vmsd->post_load) {
        ret = vmsd->post_load(opaque, version_id);
        if (ret) {
            ret = hook_errno(ret);
            error_setg(errp, "vmstate '%s': post_load failed: %s",
                       vmsd->name, g_strerror(-ret));
        }
    }
out:
    g_array_set_size(ctx->limits, mark);
    trace_vmstate_load_vmsd_end(vmsd->name, ret);
    return ret;
}

int vmstate_load_state(QEMUFile *f, const VMStateDescription *vmsd,
                       void *opaque, int version_id, Error **errp)
{
    VMStateLoadCtx ctx;
    Error *local = NULL;
    int ret;

    ctx.limits = g_array_new(false, false, sizeof(VMStateLimit));
    ret = vmstate_load_vmsd(&ctx, f, vmsd, opaque, version_id, false, &local);
    g_array_free(ctx.limits, true);
    if (ret) {
        /* The stream is out of step now: make that stick. */
        qemu_file_set_error_obj(f, ret, error_copy(local));
        error_propagate(errp, local);
    }
    return ret;
}
