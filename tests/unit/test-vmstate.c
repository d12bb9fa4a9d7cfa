/*
 * test-vmstate: the VMState engine against golden bytes.
 *
 * Every description here has a golden test: the saved bytes and JSON
 * description must match exactly, the bytes (followed by a footer byte,
 * as in a real stream) must load back into a fresh struct, every proper
 * prefix of them, and the whole without the footer, must fail to load
 * with a "truncated" message, and no single corrupted byte may make the
 * loader crash, overflow or leak (the suite also runs under ASan).
 * QEMU 7.2's "timer" and "globalstate" are checked against the bytes and
 * the 486-byte description of a real 7.2 migration (spec §2.6, §3.5,
 * §3.6).  Then the failure paths: versions, subsections, checkers,
 * hostile counts and sizes, hooks.
 *
 * Expected bytes are hex with "quoted" ASCII.  Expected JSON is written
 * with ' for " and built from JF()/JA()/JI()/JS() (one field each) so
 * that it stays readable; the 7.2 text is quoted literally.
 */
#include "qemu/osdep.h"
#include "migration/vmstate.h"
#include "migration/qemu-file.h"
#include "qapi/qmp/json-writer.h"
#include "qemu/bitmap.h"

#define FOOTER 0x7e     /* what follows a section body on the wire */

/* ---- helpers ---- */

/* "00 0a \"ab\"" -> bytes 00 0a 61 62 */
static GByteArray *hex(const char *s)
{
    GByteArray *out = g_byte_array_new();

    while (*s) {
        if (*s == '"') {
            const char *end = strchr(s + 1, '"');

            g_assert_nonnull(end);
            g_byte_array_append(out, (const guint8 *)s + 1, end - s - 1);
            s = end + 1;
        } else if (g_ascii_isxdigit(s[0])) {
            guint8 b;

            g_assert_true(g_ascii_isxdigit(s[1]));
            b = g_ascii_xdigit_value(s[0]) << 4 | g_ascii_xdigit_value(s[1]);
            g_byte_array_append(out, &b, 1);
            s += 2;
        } else {
            g_assert_true(g_ascii_isspace(*s));
            s++;
        }
    }
    return out;
}

/* 'x' -> "x" */
static char *dq(const char *s)
{
    char *out = g_strdup(s);

    for (char *p = out; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return out;
}

/* The fields of a description, in QEMU 7.2's shape. */
#define C ", "
#define JF(n, t, s) "{'name': '" n "', 'type': '" t "', 'size': " #s "}"
#define JA(n, l, t, s) \
    "{'name': '" n "', 'array_len': " #l ", 'type': '" t "', 'size': " #s "}"
#define JI(n, i, t, s) \
    "{'name': '" n "', 'index': " #i ", 'type': '" t "', 'size': " #s "}"
/* A struct field; @more is "" or an array_len / index member. */
#define JS(n, more, st, s) \
    "{'name': '" n "'" more ", 'type': 'struct', 'struct': " st \
    ", 'size': " #s "}"
#define JV(name, v, fields) \
    "{'vmsd_name': '" name "', 'version': " #v ", 'fields': [" fields "]"
#define JVSD(name, v, fields) JV(name, v, fields) "}"

/*
 * Sets *@obj from a static template, padding included (static storage
 * is zero-filled), so that whole structs can be compared with memcmp.
 */
#define FILL_FROM(obj, type, ...) do {                                  \
        static const type tmpl_ = __VA_ARGS__;                          \
        memcpy((obj), &tmpl_, sizeof(tmpl_));                           \
    } while (0)

/*
 * Saves @obj (as @version, or the vmsd's own when < 0); returns the bytes
 * and, if @json, the description members wrapped in an object.
 */
static GByteArray *save_obj(const VMStateDescription *vmsd, void *obj,
                            int version, char **json)
{
    MigChannel *c = mig_channel_new_writer("test");
    QEMUFile *f = qemu_file_new_output(c);
    JSONWriter *w = json ? json_writer_new(false) : NULL;
    GByteArray *out = g_byte_array_new();
    const uint8_t *data;
    Error *err = NULL;
    size_t len;
    int ret;

    if (w) {
        json_writer_start_object(w, NULL);
    }
    if (version < 0) {
        ret = vmstate_save_state(f, vmsd, obj, w, &err);
    } else {
        ret = vmstate_save_state_v(f, vmsd, obj, w, version, &err);
    }
    if (err) {
        g_error("save failed: %s", error_get_pretty(err));
    }
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(qemu_fclose(f), ==, 0);
    data = mig_channel_buffer_data(c, &len);
    g_byte_array_append(out, data, len);
    mig_channel_unref(c);
    if (w) {
        json_writer_end_object(w);
        *json = json_writer_finish(w);
    }
    return out;
}

typedef struct LoadResult {
    int ret;
    int file_error;         /* the QEMUFile's sticky error afterwards */
    uint64_t consumed;      /* stream offset where the load stopped */
} LoadResult;

static LoadResult load_buf(const VMStateDescription *vmsd, void *obj,
                           const uint8_t *data, size_t len, int version,
                           Error **errp)
{
    MigChannel *c = mig_channel_new_buffer(data, len, "test");
    QEMUFile *f = qemu_file_new_input(c);
    LoadResult r;

    r.ret = vmstate_load_state(f, vmsd, obj, version, errp);
    r.file_error = qemu_file_get_error(f);
    r.consumed = qemu_file_tell(f);
    qemu_fclose(f);
    mig_channel_unref(c);
    return r;
}

/* Loads hex @wire, expecting success and that it stops at the footer. */
static void load_ok(const VMStateDescription *vmsd, void *obj,
                    const char *wire, int version)
{
    g_autoptr(GByteArray) b = hex(wire);
    guint8 footer = FOOTER;
    Error *err = NULL;
    LoadResult r;
    size_t len = b->len;

    g_byte_array_append(b, &footer, 1);
    r = load_buf(vmsd, obj, b->data, b->len, version, &err);
    if (err) {
        g_error("load failed: %s", error_get_pretty(err));
    }
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_cmpuint(r.consumed, ==, len);
}

/*
 * Loads hex @wire (plus a footer), expecting failure @ret with a message
 * containing @msg, and that the failure stuck to the stream.
 */
static void load_fails(const VMStateDescription *vmsd, void *obj,
                       const char *wire, int version, int ret,
                       const char *msg)
{
    g_autoptr(GByteArray) b = hex(wire);
    guint8 footer = FOOTER;
    Error *err = NULL;
    LoadResult r;

    g_byte_array_append(b, &footer, 1);
    r = load_buf(vmsd, obj, b->data, b->len, version, &err);
    g_assert_cmpint(r.ret, ==, ret);
    g_assert_cmpint(r.file_error, ==, r.ret);
    g_assert_nonnull(err);
    if (!strstr(error_get_pretty(err), msg)) {
        g_error("message '%s' lacks '%s'", error_get_pretty(err), msg);
    }
    if (g_test_verbose()) {
        g_test_message("expected failure: %s", error_get_pretty(err));
    }
    error_free(err);
}

/* ---- golden cases ---- */

typedef struct Golden {
    const char *name;
    const VMStateDescription *vmsd;
    size_t obj_size;
    void (*fill)(void *obj);            /* the source's state */
    void (*prep)(void *obj);            /* destination before load */
    void (*check)(const void *src, const void *dst);   /* NULL: memcmp */
    void (*fini)(void *obj);            /* frees what fill/prep/load got */
    const char *wire;                   /* hex */
    const char *json;                   /* members, ' for " */
} Golden;

static void golden_save(const void *opaque)
{
    const Golden *g = opaque;
    g_autofree void *src = g_malloc0(g->obj_size);
    g_autofree void *dst = g_malloc0(g->obj_size);
    g_autoptr(GByteArray) want = hex(g->wire);
    g_autoptr(GByteArray) got = NULL;
    g_autofree char *json = NULL;
    g_autofree char *want_json = dq(g->json);

    g->fill(src);
    got = save_obj(g->vmsd, src, -1, &json);
    g_assert_cmpmem(got->data, got->len, want->data, want->len);
    g_assert_cmpstr(json, ==, want_json);

    if (g->prep) {
        g->prep(dst);
    }
    load_ok(g->vmsd, dst, g->wire, g->vmsd->version_id);
    if (g->check) {
        g->check(src, dst);
    } else {
        g_assert_cmpmem(dst, g->obj_size, src, g->obj_size);
    }
    if (g->fini) {
        g->fini(src);
        g->fini(dst);
    }
}

static void golden_truncated(const void *opaque)
{
    const Golden *g = opaque;
    g_autoptr(GByteArray) wire = hex(g->wire);

    /* Every proper prefix, and the whole without what follows it. */
    for (size_t cut = 0; cut <= wire->len; cut++) {
        g_autofree void *dst = g_malloc0(g->obj_size);
        Error *err = NULL;
        LoadResult r;

        if (g->prep) {
            g->prep(dst);
        }
        r = load_buf(g->vmsd, dst, wire->data, cut, g->vmsd->version_id,
                     &err);
        g_assert_cmpint(r.ret, ==, -ENODATA);
        g_assert_nonnull(err);
        if (!strstr(error_get_pretty(err), "truncated")) {
            g_error("cut %zu: '%s' does not say truncated", cut,
                    error_get_pretty(err));
        }
        error_free(err);
        if (g->fini) {
            g->fini(dst);
        }
    }
}

/*
 * The descriptions under test.  Tables are dense (several fields a line)
 * to keep this file readable as a whole; "needed"/"exists" predicates are
 * one-liners.  VMSD() is the header every description shares.
 */
#define VMSD(nm, v, minv) .name = (nm), .version_id = (v), \
                          .minimum_version_id = (minv)
#define PRED(fn, type, expr) \
    static bool fn(void *opaque) { type *s = opaque; return (expr); }
#define EXISTS(fn, type, expr) \
    static bool fn(void *opaque, int version_id) \
    { type *s = opaque; return (expr); }

/* -- scalars, versions, checkers, fixed arrays -- */

typedef struct Scalars {
    bool b; int8_t i8; int16_t i16; int32_t i32; int64_t i64;
    uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64;
} Scalars;

static const VMStateDescription vmstate_scalars = {
    VMSD("scalars", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(b, Scalars), VMSTATE_INT8(i8, Scalars),
        VMSTATE_INT16(i16, Scalars), VMSTATE_INT32(i32, Scalars),
        VMSTATE_INT64(i64, Scalars), VMSTATE_UINT8(u8, Scalars),
        VMSTATE_UINT16(u16, Scalars), VMSTATE_UINT32(u32, Scalars),
        VMSTATE_UINT64(u64, Scalars), VMSTATE_END_OF_LIST()
    },
};

static void scalars_fill(void *obj)
{
    FILL_FROM(obj, Scalars, { true, -2, -3, -4, -5, 0xa5, 0x1234,
                              0x89abcdef, 0x0123456789abcdefULL });
}

typedef struct Versioned {
    uint8_t a; uint16_t b; uint32_t c; uint64_t d;
    int8_t e; int16_t g; int32_t h; int64_t i; bool j;
} Versioned;

static const VMStateDescription vmstate_versioned = {
    VMSD("versioned", 3, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8_V(a, Versioned, 1), VMSTATE_UINT16_V(b, Versioned, 2),
        VMSTATE_UINT32_V(c, Versioned, 3), VMSTATE_UINT64_V(d, Versioned, 3),
        VMSTATE_INT8_V(e, Versioned, 2), VMSTATE_INT16_V(g, Versioned, 2),
        VMSTATE_INT32_V(h, Versioned, 3), VMSTATE_INT64_V(i, Versioned, 3),
        VMSTATE_BOOL_V(j, Versioned, 2), VMSTATE_END_OF_LIST()
    },
};

static void versioned_fill(void *obj)
{
    FILL_FROM(obj, Versioned, { 0x11, 0x2222, 0x33333333,
                                0x4444444444444444ULL, -1, -2, -3, -4,
                                true });
}

typedef struct Equal {
    int32_t i32; uint8_t u8; uint16_t u16; uint32_t u32;
    int64_t i64; uint64_t u64; int32_t le; int32_t le2;
} Equal;

static const VMStateDescription vmstate_equal = {
    VMSD("equal", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_INT32_EQUAL(i32, Equal),
        VMSTATE_UINT8_EQUAL(u8, Equal, NULL),
        VMSTATE_UINT16_EQUAL(u16, Equal, NULL),
        VMSTATE_UINT32_EQUAL(u32, Equal, "check the u32 property"),
        VMSTATE_INT64_EQUAL(i64, Equal, NULL),
        VMSTATE_UINT64_EQUAL(u64, Equal, NULL),
        VMSTATE_INT32_LE(le, Equal), VMSTATE_INT32_POSITIVE_LE(le2, Equal),
        VMSTATE_END_OF_LIST()
    },
};

#define EQUAL_WIRE "fffffff9 08 1616 32323232 ffffffffffffffc0 " \
                   "6464646464646464 00000007 00000000"

static void equal_fill(void *obj)
{
    FILL_FROM(obj, Equal, { -7, 8, 0x1616, 0x32323232, -64,
                            0x6464646464646464ULL, 7, 0 });
}

/* The destination agrees on the checked values and allows le <= 100. */
static void equal_prep(void *obj)
{
    equal_fill(obj);
    ((Equal *)obj)->le = 100;
}

typedef struct Arrays {
    uint8_t a8[5]; uint16_t a16[3]; uint32_t a32[2]; uint64_t a64[2];
    int32_t i32[3]; int16_t i16[2]; int64_t i64[1]; bool bools[3];
    uint8_t v8[2]; uint16_t v16[2]; uint32_t v32[2]; uint64_t v64[2];
    int32_t vi32[2];
} Arrays;

static const VMStateDescription vmstate_arrays = {
    VMSD("arrays", 2, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8_ARRAY(a8, Arrays, 5),
        VMSTATE_UINT16_ARRAY(a16, Arrays, 3),
        VMSTATE_UINT32_ARRAY(a32, Arrays, 2),
        VMSTATE_UINT64_ARRAY(a64, Arrays, 2),
        VMSTATE_INT32_ARRAY(i32, Arrays, 3),
        VMSTATE_INT16_ARRAY(i16, Arrays, 2),
        VMSTATE_INT64_ARRAY(i64, Arrays, 1),
        VMSTATE_BOOL_ARRAY(bools, Arrays, 3),
        VMSTATE_UINT8_ARRAY_V(v8, Arrays, 2, 2),
        VMSTATE_UINT16_ARRAY_V(v16, Arrays, 2, 2),
        VMSTATE_UINT32_ARRAY_V(v32, Arrays, 2, 2),
        VMSTATE_UINT64_ARRAY_V(v64, Arrays, 2, 2),
        VMSTATE_INT32_ARRAY_V(vi32, Arrays, 2, 2),
        VMSTATE_END_OF_LIST()
    },
};

/* Up to bools: what a version-1 stream carries. */
#define ARRAYS_WIRE_V1 \
    "0102030405 010203040506 0102030405060708 " \
    "0000000000000001 8000000000000000 ffffffff 00000000 00000001 " \
    "fffe 0002 fffffffffffffff7 010001"

static void arrays_fill(void *obj)
{
    FILL_FROM(obj, Arrays, {
        { 1, 2, 3, 4, 5 }, { 0x0102, 0x0304, 0x0506 },
        { 0x01020304, 0x05060708 }, { 1, 0x8000000000000000ULL },
        { -1, 0, 1 }, { -2, 2 }, { -9 }, { true, false, true },
        { 0xaa, 0xbb }, { 0xcccc, 0xdddd }, { 0xeeeeeeee, 0x0f0f0f0f },
        { 0x1111111111111111ULL, 0x2222222222222222ULL }, { -16, 16 },
    });
}

/* -- buffers: in place, behind pointers, allocated -- */

typedef struct Buffers {
    uint8_t buf[6]; uint8_t part[8]; uint8_t stat[8];
    int32_t vlen; uint8_t vbuf[10]; uint32_t vlen32; uint8_t vbuf32[10];
} Buffers;

static const VMStateDescription vmstate_buffers = {
    VMSD("buffers", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_BUFFER(buf, Buffers), VMSTATE_UNUSED(3),
        VMSTATE_PARTIAL_BUFFER(part, Buffers, 5), VMSTATE_UNUSED_V(1, 2),
        VMSTATE_STATIC_BUFFER(stat, Buffers, 0, NULL, 2, 6),
        VMSTATE_INT32(vlen, Buffers),
        VMSTATE_PARTIAL_VBUFFER(vbuf, Buffers, vlen),
        VMSTATE_UINT32(vlen32, Buffers),
        VMSTATE_PARTIAL_VBUFFER_UINT32(vbuf32, Buffers, vlen32),
        VMSTATE_END_OF_LIST()
    },
};

#define BUFFERS_HEAD "\"abcdef\" 000000 \"hello\" 0000 deadbeef"

/* Only bytes that travel are set, so the loaded copy equals the source. */
static void buffers_fill(void *obj)
{
    FILL_FROM(obj, Buffers, { "abcdef", "hello", { 0, 0, 0xde, 0xad, 0xbe,
                              0xef }, 4, "wxyz", 3, { 1, 2, 3 } });
}

typedef struct VBuffers {
    uint32_t len; uint8_t *data;
    uint32_t alen; uint8_t *adata;
    uint32_t mlen; uint8_t *mdata;
} VBuffers;

static const VMStateDescription vmstate_vbuffers = {
    VMSD("vbuffers", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(len, VBuffers),
        VMSTATE_VBUFFER_UINT32(data, VBuffers, 0, NULL, len),
        VMSTATE_UINT32(alen, VBuffers),
        VMSTATE_VBUFFER_ALLOC_UINT32(adata, VBuffers, 0, NULL, alen),
        VMSTATE_UINT32(mlen, VBuffers),
        VMSTATE_VBUFFER_MULTIPLY(mdata, VBuffers, 0, NULL, mlen, 4),
        VMSTATE_END_OF_LIST()
    },
};

static void vbuffers_fill(void *obj)
{
    VBuffers *v = obj;

    FILL_FROM(obj, VBuffers, { 4, NULL, 3, NULL, 2, NULL });
    v->data = g_memdup2("abcd", 4);
    v->adata = g_memdup2("xyz", 3);
    v->mdata = g_memdup2("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
}

/* The destination sized data and mdata as the source; adata is loaded. */
static void vbuffers_prep(void *obj)
{
    VBuffers *v = obj;

    FILL_FROM(obj, VBuffers, { 4, NULL, 0, NULL, 2, NULL });
    v->data = g_malloc0(4);
    v->mdata = g_malloc0(8);
}

static void vbuffers_check(const void *src, const void *dst)
{
    const VBuffers *s = src, *d = dst;

    g_assert_cmpmem(d->data, d->len, s->data, s->len);
    g_assert_cmpmem(d->adata, d->alen, s->adata, s->alen);
    g_assert_cmpmem(d->mdata, d->mlen * 4, s->mdata, s->mlen * 4);
}

static void vbuffers_fini(void *obj)
{
    VBuffers *v = obj;

    g_free(v->data);
    g_free(v->adata);
    g_free(v->mdata);
}

/* -- variable arrays -- */

typedef struct VArrays {
    int32_t n32; int32_t *arr32;
    uint32_t nu; uint16_t *arru;
    uint32_t na; uint64_t *arra;
    uint32_t nm; uint8_t mult[12];
} VArrays;

static const VMStateDescription vmstate_varrays = {
    VMSD("varrays", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(n32, VArrays),
        VMSTATE_VARRAY_INT32(arr32, VArrays, n32, 0, vmstate_info_int32,
                             int32_t),
        VMSTATE_UINT32(nu, VArrays),
        VMSTATE_VARRAY_UINT32(arru, VArrays, nu, 0, vmstate_info_uint16,
                              uint16_t),
        VMSTATE_UINT32(na, VArrays),
        VMSTATE_VARRAY_UINT32_ALLOC(arra, VArrays, na, 0,
                                    vmstate_info_uint64, uint64_t),
        VMSTATE_UINT32(nm, VArrays),
        VMSTATE_VARRAY_MULTIPLY(mult, VArrays, nm, 3, vmstate_info_uint8,
                                uint8_t),
        VMSTATE_END_OF_LIST()
    },
};

#define VARRAYS_HEAD "00000002 ffffffff 00000001 00000003 0001 0002 0003"

static void varrays_fill(void *obj)
{
    static const int32_t a32[] = { -1, 1 };
    static const uint16_t au[] = { 1, 2, 3 };
    static const uint64_t aa[] = { 0x0102030405060708ULL, 9 };
    VArrays *v = obj;

    FILL_FROM(obj, VArrays, { 2, NULL, 3, NULL, 2, NULL, 2,
                              { 1, 2, 3, 4, 5, 6 } });
    v->arr32 = g_memdup2(a32, sizeof(a32));
    v->arru = g_memdup2(au, sizeof(au));
    v->arra = g_memdup2(aa, sizeof(aa));
}

/* The destination sized its pointer arrays as the source did. */
static void varrays_prep(void *obj)
{
    VArrays *v = obj;

    FILL_FROM(obj, VArrays, { 2, NULL, 3, NULL, 0, NULL, 0, { 0 } });
    v->arr32 = g_new0(int32_t, 2);
    v->arru = g_new0(uint16_t, 3);
}

static void varrays_check(const void *src, const void *dst)
{
    const VArrays *s = src, *d = dst;

    g_assert_cmpmem(d->arr32, d->n32 * 4, s->arr32, s->n32 * 4);
    g_assert_cmpmem(d->arru, d->nu * 2, s->arru, s->nu * 2);
    g_assert_cmpmem(d->arra, d->na * 8, s->arra, s->na * 8);
    g_assert_cmpmem(d->mult, 12, s->mult, 12);
    g_assert_cmpuint(d->nm, ==, s->nm);
}

static void varrays_fini(void *obj)
{
    VArrays *v = obj;

    g_free(v->arr32);
    g_free(v->arru);
    g_free(v->arra);
}

/* -- nested structs -- */

typedef struct Inner {
    uint16_t x;
    uint8_t y;
} Inner;

static const VMStateDescription vmstate_inner = {
    VMSD("inner", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(x, Inner), VMSTATE_UINT8(y, Inner),
        VMSTATE_END_OF_LIST()
    },
};

#define J_INNER JVSD("inner", 1, JF("x", "uint16", 2) C JF("y", "uint8", 1))

typedef struct InnerSub {
    uint32_t w;
    uint32_t z;
} InnerSub;

PRED(innersub_extra_needed, InnerSub, s->z != 0)

static const VMStateDescription vmstate_innersub_extra = {
    VMSD("innersub/extra", 1, 1),
    .needed = innersub_extra_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(z, InnerSub), VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_innersub = {
    VMSD("innersub", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(w, InnerSub), VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *[]) {
        &vmstate_innersub_extra, NULL
    },
};

typedef struct VInner {
    uint32_t p;
    uint32_t q;
} VInner;

static const VMStateDescription vmstate_vinner = {
    VMSD("vinner", 2, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(p, VInner), VMSTATE_UINT32_V(q, VInner, 2),
        VMSTATE_END_OF_LIST()
    },
};

typedef struct Outer {
    Inner one; Inner many[3]; InnerSub subs[2]; Inner *ptr; VInner vs;
    Inner *ptrs[2]; uint32_t nv; Inner varr[4];
} Outer;

static const VMStateDescription vmstate_outer = {
    VMSD("outer", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(one, Outer, 0, vmstate_inner, Inner),
        VMSTATE_STRUCT_ARRAY(many, Outer, 3, 0, vmstate_inner, Inner),
        VMSTATE_STRUCT_ARRAY(subs, Outer, 2, 0, vmstate_innersub, InnerSub),
        VMSTATE_STRUCT_POINTER(ptr, Outer, vmstate_inner, Inner),
        VMSTATE_VSTRUCT(vs, Outer, vmstate_vinner, VInner, 1),
        VMSTATE_ARRAY_OF_POINTER_TO_STRUCT(ptrs, Outer, 2, 0, vmstate_inner,
                                           Inner),
        VMSTATE_UINT32(nv, Outer),
        VMSTATE_STRUCT_VARRAY_UINT32(varr, Outer, nv, 0, vmstate_inner,
                                     Inner),
        VMSTATE_END_OF_LIST()
    },
};

#define OUTER_HEAD "0101 01 1001 11 1002 12 1003 13 00000020 00000021 " \
                   "3003 33 00000040 5005 55"

static void outer_fill(void *obj)
{
    static const Inner ptr = { 0x3003, 0x33 }, ptrs0 = { 0x5005, 0x55 };
    Outer *o = obj;

    FILL_FROM(obj, Outer, {
        .one = { 0x0101, 0x01 },
        .many = { { 0x1001, 0x11 }, { 0x1002, 0x12 }, { 0x1003, 0x13 } },
        .subs = { { 0x20, 0 }, { 0x21, 0x22 } },
        .vs = { 0x40, 0x41 },
        .nv = 2,
        .varr = { { 0x6006, 0x66 }, { 0x7007, 0x77 } },
    });
    o->ptr = g_memdup2(&ptr, sizeof(ptr));
    o->ptrs[0] = g_memdup2(&ptrs0, sizeof(ptrs0));
}

static void outer_prep(void *obj)
{
    Outer *o = obj;

    FILL_FROM(obj, Outer, { .nv = 0 });
    o->ptr = g_new0(Inner, 1);
    o->ptrs[0] = g_new0(Inner, 1);
}

static void outer_check(const void *src, const void *dst)
{
    Outer s, d;

    memcpy(&s, src, sizeof(s));
    memcpy(&d, dst, sizeof(d));
    g_assert_cmpmem(d.ptr, sizeof(Inner), s.ptr, sizeof(Inner));
    g_assert_cmpmem(d.ptrs[0], sizeof(Inner), s.ptrs[0], sizeof(Inner));
    g_assert_null(d.ptrs[1]);
    /* vs was sent as struct version 1: q does not travel. */
    g_assert_cmphex(d.vs.q, ==, 0);
    s.ptr = d.ptr = s.ptrs[0] = d.ptrs[0] = NULL;
    s.vs.q = 0;
    g_assert_cmpmem(&d, sizeof(d), &s, sizeof(s));
}

static void outer_fini(void *obj)
{
    Outer *o = obj;

    g_free(o->ptr);
    g_free(o->ptrs[0]);
}

/* -- the remaining macros, with field_exists and versions -- */

typedef struct More {
    bool has; uint8_t t8; uint16_t t16; int32_t ti32; uint64_t t64;
    bool tb; uint16_t e16; uint32_t e32; uint16_t at[2]; uint8_t bv[3];
    uint8_t bt[2]; Inner st; VInner vt; Inner *sp; Inner sa[2];
    uint8_t n8; Inner v8[3]; int32_t ni; Inner vi[3];
    uint32_t npu; Inner *vpu; int32_t npi; Inner *vpi;
    int64_t a64[2]; int16_t a16[2]; bool ab[2];
} More;

EXISTS(more_has, More, s->has)

static const VMStateDescription vmstate_more = {
    VMSD("more", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(has, More), VMSTATE_UINT8_TEST(t8, More, more_has),
        VMSTATE_UINT16_TEST(t16, More, more_has),
        VMSTATE_INT32_TEST(ti32, More, more_has),
        VMSTATE_UINT64_TEST(t64, More, more_has),
        VMSTATE_BOOL_TEST(tb, More, more_has),
        VMSTATE_UINT16_EQUAL_V(e16, More, 1, NULL),
        VMSTATE_UINT32_EQUAL_V(e32, More, 1, NULL),
        VMSTATE_ARRAY_TEST(at, More, 2, more_has, vmstate_info_uint16,
                           uint16_t),
        VMSTATE_BUFFER_V(bv, More, 1), VMSTATE_BUFFER_TEST(bt, More, more_has),
        VMSTATE_UNUSED_TEST(more_has, 2), VMSTATE_UNUSED_BUFFER(NULL, 1, 1),
        VMSTATE_STRUCT_TEST(st, More, more_has, 0, vmstate_inner, Inner),
        VMSTATE_VSTRUCT_V(vt, More, 1, vmstate_vinner, VInner, 2),
        VMSTATE_STRUCT_POINTER_V(sp, More, 1, vmstate_inner, Inner),
        VMSTATE_STRUCT_ARRAY_TEST(sa, More, 2, more_has, 0, vmstate_inner,
                                  Inner),
        VMSTATE_UINT8(n8, More),
        VMSTATE_STRUCT_VARRAY_UINT8(v8, More, n8, 0, vmstate_inner, Inner),
        VMSTATE_INT32(ni, More),
        VMSTATE_STRUCT_VARRAY_INT32(vi, More, ni, 0, vmstate_inner, Inner),
        VMSTATE_UINT32(npu, More),
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(vpu, More, npu, vmstate_inner,
                                             Inner),
        VMSTATE_INT32(npi, More),
        VMSTATE_STRUCT_VARRAY_POINTER_INT32(vpi, More, npi, vmstate_inner,
                                            Inner),
        VMSTATE_INT64_ARRAY_V(a64, More, 2, 1),
        VMSTATE_INT16_ARRAY_V(a16, More, 2, 1),
        VMSTATE_BOOL_ARRAY_V(ab, More, 2, 1),
        VMSTATE_END_OF_LIST()
    },
};

static void more_fill(void *obj)
{
    static const Inner sp = { 0x7171, 0x72 }, vpi = { 0xb1b1, 0xb2 };
    static const Inner vpu[] = { { 0xa1a1, 0xa2 }, { 0xa3a3, 0xa4 } };
    More *m = obj;

    FILL_FROM(obj, More, {
        true, 8, 0x16, -32, 0x64, true, 0x0e16, 0x0e32, { 0x0a01, 0x0a02 },
        "xyz", "pq", { 0x5151, 0x52 }, { 0x61, 0x62 }, NULL,
        { { 0x8181, 0x82 }, { 0x8383, 0x84 } },
        1, { { 0x9191, 0x92 } }, 0, { { 0 } }, 2, NULL, 1, NULL,
        { -1, 2 }, { -1, 3 }, { true, false },
    });
    m->sp = g_memdup2(&sp, sizeof(sp));
    m->vpu = g_memdup2(vpu, sizeof(vpu));
    m->vpi = g_memdup2(&vpi, sizeof(vpi));
}

static void more_prep(void *obj)
{
    More *m = obj;

    FILL_FROM(obj, More, { .e16 = 0x0e16, .e32 = 0x0e32, .npu = 2,
                           .npi = 1 });
    m->sp = g_new0(Inner, 1);
    m->vpu = g_new0(Inner, 2);
    m->vpi = g_new0(Inner, 1);
}

static void more_check(const void *src, const void *dst)
{
    More s, d;

    memcpy(&s, src, sizeof(s));
    memcpy(&d, dst, sizeof(d));
    g_assert_cmpmem(d.sp, sizeof(Inner), s.sp, sizeof(Inner));
    g_assert_cmpmem(d.vpu, 2 * sizeof(Inner), s.vpu, 2 * sizeof(Inner));
    g_assert_cmpmem(d.vpi, sizeof(Inner), s.vpi, sizeof(Inner));
    s.sp = d.sp = s.vpu = d.vpu = s.vpi = d.vpi = NULL;
    g_assert_cmpmem(&d, sizeof(d), &s, sizeof(s));
}

static void more_fini(void *obj)
{
    More *m = obj;

    g_free(m->sp);
    g_free(m->vpu);
    g_free(m->vpi);
}

/* -- bitmap, validate -- */

typedef struct Bitmap {
    int32_t nbits;
    unsigned long *map;
} Bitmap;

static const VMStateDescription vmstate_bitmap = {
    VMSD("bitmap", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(nbits, Bitmap), VMSTATE_BITMAP(map, Bitmap, 0, nbits),
        VMSTATE_END_OF_LIST()
    },
};

static void bm_prep(void *obj)
{
    Bitmap *b = obj;

    b->nbits = 100;
    b->map = bitmap_new(100);
}

static void bm_fill(void *obj)
{
    Bitmap *b = obj;

    bm_prep(obj);
    set_bit(0, b->map);
    set_bit(63, b->map);
    set_bit(64, b->map);
    set_bit(99, b->map);
}

static void bm_check(const void *src, const void *dst)
{
    const Bitmap *s = src, *d = dst;

    g_assert_cmpint(d->nbits, ==, 100);
    g_assert_cmpmem(d->map, 16, s->map, 16);
}

static void bm_fini(void *obj)
{
    g_free(((Bitmap *)obj)->map);
}

typedef struct Validated {
    uint32_t v;
} Validated;

EXISTS(validated_ok, Validated, s->v <= 10)

static const VMStateDescription vmstate_validated = {
    VMSD("validated", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(v, Validated),
        VMSTATE_VALIDATE("v in range", validated_ok),
        VMSTATE_END_OF_LIST()
    },
};

static void validated_fill(void *obj)
{
    ((Validated *)obj)->v = 5;
}

/* -- subsections -- */

typedef struct Dev {
    uint32_t a;
    uint16_t b;
    uint8_t c;
} Dev;

PRED(dev_b_needed, Dev, s->b != 0)
PRED(dev_c_needed, Dev, s->c != 0)

static const VMStateDescription vmstate_dev_b = {
    VMSD("dev/b", 2, 1),
    .needed = dev_b_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(b, Dev), VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_dev_c = {
    VMSD("dev/c", 1, 1),
    .needed = dev_c_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(c, Dev), VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_dev = {
    VMSD("dev", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(a, Dev), VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *[]) {
        &vmstate_dev_b, &vmstate_dev_c, NULL
    },
};

static void dev_fill_all(void *obj)
{
    FILL_FROM(obj, Dev, { 1, 2, 3 });
}

static void dev_fill_none(void *obj)
{
    FILL_FROM(obj, Dev, { 1, 0, 0 });
}

static void dev_fill_c(void *obj)
{
    FILL_FROM(obj, Dev, { 1, 0, 3 });
}

#define J_DEV_A JV("dev", 1, JF("a", "uint32", 4))
#define J_DEV_B JVSD("dev/b", 2, JF("b", "uint16", 2))
#define J_DEV_C JVSD("dev/c", 1, JF("c", "uint8", 1))

/* -- hooks -- */

typedef struct Hooked {
    uint32_t v;
    uint8_t s;
    int fail;           /* which hook fails: 1..4 parent, 5..8 sub */
} Hooked;

static GString *hook_log;

static int hook(Hooked *h, int which, const char *what, int version)
{
    if (!hook_log) {
        hook_log = g_string_new(NULL);
    }
    g_string_append(hook_log, what);
    if (version >= 0) {
        g_string_append_printf(hook_log, " v%d", version);
    }
    g_string_append_c(hook_log, ';');
    return h->fail == which ? -EIO : 0;
}

#define HOOK(fn, which, what)                                           \
    static int fn(void *o) { return hook(o, which, what, -1); }
#define HOOK_V(fn, which, what)                                         \
    static int fn(void *o, int v) { return hook(o, which, what, v); }
HOOK(hooked_pre_save, 1, "pre_save")
HOOK(hooked_post_save, 2, "post_save")
HOOK(hooked_pre_load, 3, "pre_load")
HOOK_V(hooked_post_load, 4, "post_load")
HOOK(hooked_sub_pre_save, 5, "sub pre_save")
HOOK(hooked_sub_post_save, 6, "sub post_save")
HOOK(hooked_sub_pre_load, 7, "sub pre_load")
HOOK_V(hooked_sub_post_load, 8, "sub post_load")
PRED(hooked_sub_needed, Hooked, s->s != 0)

static const VMStateDescription vmstate_hooked_sub = {
    VMSD("hooks/sub", 1, 1),
    .needed = hooked_sub_needed,
    .pre_save = hooked_sub_pre_save, .post_save = hooked_sub_post_save,
    .pre_load = hooked_sub_pre_load, .post_load = hooked_sub_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(s, Hooked), VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_hooked = {
    VMSD("hooks", 2, 1),
    .pre_save = hooked_pre_save, .post_save = hooked_post_save,
    .pre_load = hooked_pre_load, .post_load = hooked_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(v, Hooked), VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *[]) {
        &vmstate_hooked_sub, NULL
    },
};

#define HOOKS_WIRE "00000009 05 09 \"hooks/sub\" 00000001 01"

static void hooked_fill(void *obj)
{
    FILL_FROM(obj, Hooked, { .v = 9, .s = 1 });
}

/* -- QEMU 7.2's "timer" and "globalstate" (spec §3.5, §3.6) -- */

typedef struct TimersState {
    int64_t cpu_ticks_offset;
    int64_t cpu_clock_offset;
    int64_t qemu_icount_bias;
    int64_t qemu_icount;
    bool icount_enabled;
} TimersState;

PRED(icount_needed, TimersState, s->icount_enabled)

static const VMStateDescription vmstate_icount = {
    VMSD("timer/icount", 1, 1),
    .needed = icount_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_INT64(qemu_icount_bias, TimersState),
        VMSTATE_INT64(qemu_icount, TimersState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_timers = {
    VMSD("timer", 2, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_INT64(cpu_ticks_offset, TimersState),
        VMSTATE_UNUSED(8),
        VMSTATE_INT64_V(cpu_clock_offset, TimersState, 2),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *[]) {
        &vmstate_icount, NULL
    },
};

/* The values of the 7.2 capture. */
static void timers_fill(void *obj)
{
    FILL_FROM(obj, TimersState, { 0x0a09a8f0, 0x0504d472 });
}

typedef struct GlobalState {
    uint32_t size;
    uint8_t runstate[100];
} GlobalState;

static int globalstate_pre_save(void *opaque)
{
    GlobalState *s = opaque;

    s->size = strnlen((char *)s->runstate, sizeof(s->runstate)) + 1;
    return 0;
}

/* Both the size and the NUL come from the stream: check them. */
static int globalstate_post_load(void *opaque, int version_id)
{
    GlobalState *s = opaque;

    if (s->size == 0 || s->size > sizeof(s->runstate) ||
        s->runstate[s->size - 1] != 0) {
        return -EINVAL;
    }
    return 0;
}

static const VMStateDescription vmstate_globalstate = {
    VMSD("globalstate", 1, 1),
    .pre_save = globalstate_pre_save,
    .post_load = globalstate_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(size, GlobalState),
        VMSTATE_BUFFER(runstate, GlobalState),
        VMSTATE_END_OF_LIST()
    },
};

static void globalstate_fill(void *obj)
{
    FILL_FROM(obj, GlobalState, { 8, "running" });
}

#define TIMER_WIRE "000000000a09a8f0 0000000000000000 000000000504d472"
/* "running", NUL-padded to 100 bytes: 7 + 93. */
#define ZEROS31 "00000000000000000000000000000000000000000000000000000000000000"
#define GLOBALSTATE_RUNSTATE "\"running\" " ZEROS31 ZEROS31 ZEROS31
#define GLOBALSTATE_WIRE "00000008 " GLOBALSTATE_RUNSTATE

/* -- field_exists; a nested struct's subsection, then its parent's -- */

typedef struct Optional {
    bool has_x;
    uint32_t x;
    uint32_t y;
} Optional;

EXISTS(optional_has_x, Optional, s->has_x)

static bool optional_always(void *opaque, int version_id)
{
    return version_id >= 1;
}

/* y's predicate wins over its (future) version_id. */
static const VMStateDescription vmstate_optional = {
    VMSD("optional", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(has_x, Optional),
        VMSTATE_UINT32_TEST(x, Optional, optional_has_x),
        VMSTATE_SINGLE_TEST(y, Optional, optional_always, 9,
                            vmstate_info_uint32, uint32_t),
        VMSTATE_END_OF_LIST()
    },
};

static void optional_fill(void *obj)
{
    FILL_FROM(obj, Optional, { true, 5, 6 });
}

/* A struct's subsection, then its parent's: each loop takes its own. */
typedef struct Parent {
    InnerSub in;
    uint8_t t;
} Parent;

PRED(parent_t_needed, Parent, s->t != 0)

static const VMStateDescription vmstate_parent_t = {
    VMSD("parent/t", 1, 1),
    .needed = parent_t_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(t, Parent),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_parent = {
    VMSD("parent", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(in, Parent, 0, vmstate_innersub, InnerSub),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *[]) {
        &vmstate_parent_t,
        NULL
    },
};

static void parent_fill(void *obj)
{
    FILL_FROM(obj, Parent, { { 1, 2 }, 3 });
}

/* -- the table -- */

static const Golden goldens[] = {
    {
        "scalars", &vmstate_scalars, sizeof(Scalars), scalars_fill,
        .wire = "01 fe fffd fffffffc fffffffffffffffb a5 1234 89abcdef "
                "0123456789abcdef",
        .json = JVSD("scalars", 1, JF("b", "bool", 1) C JF("i8", "int8", 1)
                     C JF("i16", "int16", 2) C JF("i32", "int32", 4)
                     C JF("i64", "int64", 8) C JF("u8", "uint8", 1)
                     C JF("u16", "uint16", 2) C JF("u32", "uint32", 4)
                     C JF("u64", "uint64", 8)),
    }, {
        "versioned", &vmstate_versioned, sizeof(Versioned), versioned_fill,
        .wire = "11 2222 33333333 4444444444444444 ff fffe fffffffd "
                "fffffffffffffffc 01",
        .json = JVSD("versioned", 3, JF("a", "uint8", 1)
                     C JF("b", "uint16", 2) C JF("c", "uint32", 4)
                     C JF("d", "uint64", 8) C JF("e", "int8", 1)
                     C JF("g", "int16", 2) C JF("h", "int32", 4)
                     C JF("i", "int64", 8) C JF("j", "bool", 1)),
    }, {
        "equal", &vmstate_equal, sizeof(Equal), equal_fill, equal_prep,
        .wire = EQUAL_WIRE,
        .json = JVSD("equal", 1, JF("i32", "int32 equal", 4)
                     C JF("u8", "uint8 equal", 1)
                     C JF("u16", "uint16 equal", 2)
                     C JF("u32", "uint32 equal", 4)
                     C JF("i64", "int64 equal", 8)
                     C JF("u64", "int64 equal", 8)
                     C JF("le", "int32 le", 4) C JF("le2", "int32 le", 4)),
    }, {
        "arrays", &vmstate_arrays, sizeof(Arrays), arrays_fill,
        .wire = ARRAYS_WIRE_V1 " aabb ccccdddd eeeeeeee0f0f0f0f "
                "1111111111111111 2222222222222222 fffffff0 00000010",
        .json = JVSD("arrays", 2, JA("a8", 5, "uint8", 1)
                     C JA("a16", 3, "uint16", 2) C JA("a32", 2, "uint32", 4)
                     C JA("a64", 2, "uint64", 8) C JA("i32", 3, "int32", 4)
                     C JA("i16", 2, "int16", 2) C JF("i64", "int64", 8)
                     C JA("bools", 3, "bool", 1) C JA("v8", 2, "uint8", 1)
                     C JA("v16", 2, "uint16", 2) C JA("v32", 2, "uint32", 4)
                     C JA("v64", 2, "uint64", 8)
                     C JA("vi32", 2, "int32", 4)),
    }, {
        "buffers", &vmstate_buffers, sizeof(Buffers), buffers_fill,
        .wire = BUFFERS_HEAD " 00000004 \"wxyz\" 00000003 010203",
        .json = JVSD("buffers", 1, JF("buf", "buffer", 6)
                     C JF("unused[0]", "unused_buffer", 3)
                     C JF("part", "buffer", 5)
                     C JF("unused[1]", "unused_buffer", 2)
                     C JF("stat", "buffer", 4) C JF("vlen", "int32", 4)
                     C JF("vbuf", "buffer", 4) C JF("vlen32", "uint32", 4)
                     C JF("vbuf32", "buffer", 3)),
    }, {
        "vbuffers", &vmstate_vbuffers, sizeof(VBuffers), vbuffers_fill,
        vbuffers_prep, vbuffers_check, vbuffers_fini,
        .wire = "00000004 \"abcd\" 00000003 \"xyz\" 00000002 "
                "0102030405060708",
        .json = JVSD("vbuffers", 1, JF("len", "uint32", 4)
                     C JF("data", "buffer", 4) C JF("alen", "uint32", 4)
                     C JF("adata", "buffer", 3) C JF("mlen", "uint32", 4)
                     C JF("mdata", "buffer", 8)),
    }, {
        "varrays", &vmstate_varrays, sizeof(VArrays), varrays_fill,
        varrays_prep, varrays_check, varrays_fini,
        .wire = VARRAYS_HEAD " 00000002 0102030405060708 0000000000000009 "
                "00000002 010203040506",
        .json = JVSD("varrays", 1, JF("n32", "int32", 4)
                     C JA("arr32", 2, "int32", 4) C JF("nu", "uint32", 4)
                     C JA("arru", 3, "uint16", 2) C JF("na", "uint32", 4)
                     C JA("arra", 2, "uint64", 8) C JF("nm", "uint32", 4)
                     C JA("mult", 6, "uint8", 1)),
    }, {
        "structs", &vmstate_outer, sizeof(Outer), outer_fill, outer_prep,
        outer_check, outer_fini,
        /* subs[1] carries its subsection inline; ptrs[1] is NULL: '0'. */
        .wire = "0101 01 1001 11 1002 12 1003 13 00000020 "
                "00000021 05 0e \"innersub/extra\" 00000001 00000022 "
                "3003 33 00000040 5005 55 30 00000002 6006 66 7007 77",
        .json = JVSD("outer", 1, JS("one", "", J_INNER, 3)
            C JS("many", ", 'array_len': 3", J_INNER, 3)
            C JS("subs", ", 'index': 0",
                 JVSD("innersub", 1, JF("w", "uint32", 4)), 4)
            C JS("subs", ", 'index': 1",
                 JV("innersub", 1, JF("w", "uint32", 4))
                 ", 'subsections': ["
                 JVSD("innersub/extra", 1, JF("z", "uint32", 4)) "]}", 28)
            C JS("ptr", "", J_INNER, 3)
            C "{'name': 'vs', 'type': 'vstruct', "
              "'vmsd_name': 'vinner', 'version': 1, 'fields': ["
              JF("p", "uint32", 4) "], 'size': 4}"
            C JS("ptrs", ", 'array_len': 2", J_INNER, 3)
            C JF("nv", "uint32", 4)
            C JS("varr", ", 'array_len': 2", J_INNER, 3)),
    }, {
        "more", &vmstate_more, sizeof(More), more_fill, more_prep,
        more_check, more_fini,
        .wire = "01 08 0016 ffffffe0 0000000000000064 01 0e16 00000e32 "
                "0a01 0a02 \"xyz\" \"pq\" 0000 00 5151 52 "
                "00000061 00000062 7171 72 8181 82 8383 84 01 9191 92 "
                "00000000 00000002 a1a1 a2 a3a3 a4 00000001 b1b1 b2 "
                "ffffffffffffffff 0000000000000002 ffff 0003 01 00",
        /* field_exists makes arrays "index"ed; 0 elements: no entry. */
        .json = JVSD("more", 1, JF("has", "bool", 1) C JF("t8", "uint8", 1)
            C JF("t16", "uint16", 2) C JF("ti32", "int32", 4)
            C JF("t64", "uint64", 8) C JF("tb", "bool", 1)
            C JF("e16", "uint16 equal", 2) C JF("e32", "uint32 equal", 4)
            C JI("at", 0, "uint16", 2) C JI("at", 1, "uint16", 2)
            C JF("bv", "buffer", 3) C JF("bt", "buffer", 2)
            C JF("unused[0]", "unused_buffer", 2)
            C JF("unused[1]", "unused_buffer", 1)
            C JS("st", "", J_INNER, 3)
            C "{'name': 'vt', 'type': 'vstruct', "
              "'vmsd_name': 'vinner', 'version': 2, 'fields': ["
              JF("p", "uint32", 4) C JF("q", "uint32", 4) "], 'size': 8}"
            C JS("sp", "", J_INNER, 3)
            C JS("sa", ", 'index': 0", J_INNER, 3)
            C JS("sa", ", 'index': 1", J_INNER, 3)
            C JF("n8", "uint8", 1) C JS("v8", "", J_INNER, 3)
            C JF("ni", "int32", 4) C JF("npu", "uint32", 4)
            C JS("vpu", ", 'array_len': 2", J_INNER, 3)
            C JF("npi", "int32", 4) C JS("vpi", "", J_INNER, 3)
            C JA("a64", 2, "int64", 8) C JA("a16", 2, "int16", 2)
            C JA("ab", 2, "bool", 1)),
    }, {
        "bitmap", &vmstate_bitmap, sizeof(Bitmap), bm_fill, bm_prep,
        bm_check, bm_fini,
        .wire = "00000064 8000000000000001 0000000800000001",
        .json = JVSD("bitmap", 1, JF("nbits", "int32", 4)
                     C JF("map", "bitmap", 16)),
    }, {
        "validate", &vmstate_validated, sizeof(Validated), validated_fill,
        .wire = "00000005",
        .json = JVSD("validated", 1, JF("v", "uint32", 4)),
    }, {
        "subsections-all", &vmstate_dev, sizeof(Dev), dev_fill_all,
        .wire = "00000001 05 05 \"dev/b\" 00000002 0002 "
                "05 05 \"dev/c\" 00000001 03",
        .json = J_DEV_A ", 'subsections': [" J_DEV_B C J_DEV_C "]}",
    }, {
        "subsections-none", &vmstate_dev, sizeof(Dev), dev_fill_none,
        .wire = "00000001",
        .json = J_DEV_A "}",
    }, {
        "subsections-second", &vmstate_dev, sizeof(Dev), dev_fill_c,
        .wire = "00000001 05 05 \"dev/c\" 00000001 03",
        .json = J_DEV_A ", 'subsections': [" J_DEV_C "]}",
    }, {
        "hooks", &vmstate_hooked, sizeof(Hooked), hooked_fill,
        .wire = HOOKS_WIRE,
        .json = JV("hooks", 2, JF("v", "uint32", 4)) ", 'subsections': ["
                JVSD("hooks/sub", 1, JF("s", "uint8", 1)) "]}",
    }, {
        "optional", &vmstate_optional, sizeof(Optional), optional_fill,
        .wire = "01 00000005 00000006",
        .json = JVSD("optional", 1, JF("has_x", "bool", 1)
                     C JF("x", "uint32", 4) C JF("y", "uint32", 4)),
    }, {
        /* Each subsection loop takes its own and leaves the other's. */
        "nested-then-parent", &vmstate_parent, sizeof(Parent), parent_fill,
        .wire = "00000001 05 0e \"innersub/extra\" 00000001 00000002 "
                "05 08 \"parent/t\" 00000001 03",
        .json = JV("parent", 1, JS("in", "",
                   JV("innersub", 1, JF("w", "uint32", 4))
                   ", 'subsections': ["
                   JVSD("innersub/extra", 1, JF("z", "uint32", 4)) "]}", 28))
                ", 'subsections': [" JVSD("parent/t", 1, JF("t", "uint8", 1))
                "]}",
    }, {
        "timer", &vmstate_timers, sizeof(TimersState), timers_fill,
        .wire = TIMER_WIRE,
        .json = JVSD("timer", 2, JF("cpu_ticks_offset", "int64", 8)
                     C JF("unused", "unused_buffer", 8)
                     C JF("cpu_clock_offset", "int64", 8)),
    }, {
        "globalstate", &vmstate_globalstate, sizeof(GlobalState),
        globalstate_fill,
        .wire = GLOBALSTATE_WIRE,
        .json = JVSD("globalstate", 1, JF("size", "uint32", 4)
                     C JF("runstate", "buffer", 100)),
    },
};

/*
 * Corrupt streams: each byte of the golden bytes replaced by a few
 * telling values (zero, all ones, a sign bit, the subsection marker).
 * Whatever the load decides, it must decide it cleanly: no crash, no
 * overflow, no leak (run under ASan), and an error message on failure.
 */
static void golden_corrupt(const void *opaque)
{
    static const guint8 values[] = { 0x00, 0xff, 0x80, 0x05 };
    const Golden *g = opaque;
    g_autoptr(GByteArray) wire = hex(g->wire);
    guint8 footer = FOOTER;

    g_byte_array_append(wire, &footer, 1);
    for (size_t pos = 0; pos + 1 < wire->len; pos++) {
        guint8 orig = wire->data[pos];

        for (size_t v = 0; v < G_N_ELEMENTS(values); v++) {
            g_autofree void *dst = g_malloc0(g->obj_size);
            Error *err = NULL;
            LoadResult r;

            wire->data[pos] = values[v];
            if (g->prep) {
                g->prep(dst);
            }
            r = load_buf(g->vmsd, dst, wire->data, wire->len,
                         g->vmsd->version_id, &err);
            g_assert_true((r.ret == 0) == (err == NULL));
            g_assert_cmpint(r.ret, <=, 0);
            error_free(err);
            if (g->fini) {
                g->fini(dst);
            }
        }
        wire->data[pos] = orig;
    }
}

/* ---- QEMU 7.2 interop ---- */

/* The description of a real 7.2 `-M none` migration (spec §2.6). */
static const char qemu72_vmdesc[] =
    "{\"page_size\": 4096, \"devices\": [{\"name\": \"timer\", "
    "\"instance_id\": 0, \"vmsd_name\": \"timer\", \"version\": 2, "
    "\"fields\": [{\"name\": \"cpu_ticks_offset\", \"type\": \"int64\", "
    "\"size\": 8}, {\"name\": \"unused\", \"type\": \"unused_buffer\", "
    "\"size\": 8}, {\"name\": \"cpu_clock_offset\", \"type\": \"int64\", "
    "\"size\": 8}]}, {\"name\": \"globalstate\", \"instance_id\": 0, "
    "\"vmsd_name\": \"globalstate\", \"version\": 1, \"fields\": "
    "[{\"name\": \"size\", \"type\": \"uint32\", \"size\": 4}, "
    "{\"name\": \"runstate\", \"type\": \"buffer\", \"size\": 100}]}]}";

/* Wraps the devices as savevm does and compares with 7.2's text. */
static void test_qemu72_vmdesc(void)
{
    TimersState timers = { 0 };
    GlobalState gs = { .runstate = "running" };     /* pre_save: size */
    const VMStateDescription *vmsds[] = { &vmstate_timers,
                                          &vmstate_globalstate };
    void *opaques[] = { &timers, &gs };
    MigChannel *c = mig_channel_new_writer("test");
    QEMUFile *f = qemu_file_new_output(c);
    JSONWriter *w = json_writer_new(false);
    g_autofree char *json = NULL;
    g_autoptr(GByteArray) want = hex(TIMER_WIRE " " GLOBALSTATE_WIRE);
    const uint8_t *data;
    size_t len;

    timers_fill(&timers);
    json_writer_start_object(w, NULL);
    json_writer_int64(w, "page_size", 4096);
    json_writer_start_list(w, "devices");
    for (size_t i = 0; i < G_N_ELEMENTS(vmsds); i++) {
        Error *err = NULL;

        g_assert_true(vmstate_section_needed(vmsds[i], opaques[i]));
        json_writer_start_object(w, NULL);
        json_writer_str(w, "name", vmsds[i]->name);
        json_writer_int64(w, "instance_id", 0);
        g_assert_cmpint(vmstate_save_state(f, vmsds[i], opaques[i], w, &err),
                        ==, 0);
        g_assert_null(err);
        json_writer_end_object(w);
    }
    json_writer_end_list(w);
    json_writer_end_object(w);
    json = json_writer_finish(w);
    g_assert_cmpuint(strlen(qemu72_vmdesc), ==, 486);
    g_assert_cmpstr(json, ==, qemu72_vmdesc);

    /* The two payloads back to back, as in the capture. */
    g_assert_cmpint(qemu_fclose(f), ==, 0);
    data = mig_channel_buffer_data(c, &len);
    g_assert_cmpuint(want->len, ==, 24 + 104);
    g_assert_cmpmem(data, len, want->data, want->len);
    mig_channel_unref(c);
}

/*
 * Loads the FULL sections of the real capture, if the spec's captures
 * are at hand (FERRY_SPEC_CAPTURES or /work/shared/spec/captures).
 */
static void test_qemu72_capture(void)
{
    const char *dir = g_getenv("FERRY_SPEC_CAPTURES");
    g_autofree char *path = g_build_filename(dir ? dir :
                                             "/work/shared/spec/captures",
                                             "precopy-none-64M.bin", NULL);
    g_autofree gchar *buf = NULL;
    gsize len;
    static const struct {
        const char *hdr;    /* idstr, instance 0, version */
        size_t payload;
    } secs[] = {
        { "\x05" "timer" "\0\0\0\0" "\0\0\0\x02", 24 },
        { "\x0b" "globalstate" "\0\0\0\0" "\0\0\0\x01", 104 },
    };
    TimersState t = { 0 };
    GlobalState gs = { 0 };

    if (!g_file_get_contents(path, &buf, &len, NULL)) {
        g_test_skip("capture not available (set FERRY_SPEC_CAPTURES)");
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(secs); i++) {
        size_t hlen = 1 + (unsigned char)secs[i].hdr[0] + 8;
        const char *p = memmem(buf, len, secs[i].hdr, hlen);
        Error *err = NULL;
        LoadResult r;

        g_assert_nonnull(p);
        p += hlen;
        /* The loader must stop exactly at the section footer. */
        r = load_buf(i ? &vmstate_globalstate : &vmstate_timers,
                     i ? (void *)&gs : (void *)&t, (const uint8_t *)p,
                     buf + len - p, i ? 1 : 2, &err);
        g_assert_null(err);
        g_assert_cmpint(r.ret, ==, 0);
        g_assert_cmpuint(r.consumed, ==, secs[i].payload);
        g_assert_cmphex((uint8_t)p[secs[i].payload], ==, FOOTER);
    }
    g_assert_cmphex(t.cpu_ticks_offset, ==, 0x0a09a8f0);
    g_assert_cmphex(t.cpu_clock_offset, ==, 0x0504d472);
    g_assert_cmpstr((char *)gs.runstate, ==, "running");
    g_assert_cmpuint(gs.size, ==, 8);
    /* And the description after EOF: 06, be32 486, the text. */
    g_assert_cmpmem(buf + len - 486, 486, qemu72_vmdesc, 486);
    g_assert_cmpmem(buf + len - 491, 5, "\x06\x00\x00\x01\xe6", 5);
}

/* A 7.2 "timer" section body loads; version 1 streams lack one field. */
static void test_qemu72_timer_versions(void)
{
    TimersState t = { .cpu_clock_offset = 42 };
    g_autoptr(GByteArray) v1 = NULL;

    load_ok(&vmstate_timers, &t, "0000000000000007 0000000000000000", 1);
    g_assert_cmpint(t.cpu_ticks_offset, ==, 7);
    g_assert_cmpint(t.cpu_clock_offset, ==, 42);

    timers_fill(&t);
    v1 = save_obj(&vmstate_timers, &t, 1, NULL);
    g_assert_cmpuint(v1->len, ==, 16);

    load_fails(&vmstate_timers, &t, TIMER_WIRE, 3, -EINVAL,
               "vmstate 'timer': unsupported version 3 (accepted 1..2)");
    load_fails(&vmstate_timers, &t, TIMER_WIRE, 0, -EINVAL,
               "unsupported version 0");
    /* The message the brief asks for, with its offset. */
    load_fails(&vmstate_timers, &t, "000000000a09a8f0 0000000000000000 0000",
               2, -ENODATA, "vmstate 'timer' field 'cpu_clock_offset': "
               "stream truncated at offset 19");
}

static void test_qemu72_globalstate_post_load(void)
{
    GlobalState gs = { 0 };

    /* size says the NUL is at byte 3, where 'n' is. */
    load_fails(&vmstate_globalstate, &gs, "00000004 " GLOBALSTATE_RUNSTATE,
               1, -EINVAL, "vmstate 'globalstate': post_load failed");
}

/* ---- versions and field_exists ---- */

static void test_version_save_old(void)
{
    Versioned v;
    g_autoptr(GByteArray) v1 = NULL;
    g_autoptr(GByteArray) v2 = NULL;
    g_autoptr(GByteArray) want = hex("11 2222 ff fffe 01");
    g_autofree char *json = NULL;
    g_autofree char *want_json = dq(JVSD("versioned", 1,
                                         JF("a", "uint8", 1)));

    versioned_fill(&v);
    v1 = save_obj(&vmstate_versioned, &v, 1, &json);
    g_assert_cmpuint(v1->len, ==, 1);
    g_assert_cmpuint(v1->data[0], ==, 0x11);
    g_assert_cmpstr(json, ==, want_json);
    v2 = save_obj(&vmstate_versioned, &v, 2, NULL);
    g_assert_cmpmem(v2->data, v2->len, want->data, want->len);
}

static void test_version_load_old(void)
{
    Versioned v = { .c = 0xc, .d = 0xd, .h = 0x4, .i = 0x1 };
    Arrays a = { 0 };

    load_ok(&vmstate_versioned, &v, "11 2222 ff fffe 01", 2);
    g_assert_cmphex(v.a, ==, 0x11);
    g_assert_cmphex(v.b, ==, 0x2222);
    g_assert_cmpint(v.e, ==, -1);
    g_assert_cmpint(v.g, ==, -2);
    g_assert_true(v.j);
    /* Fields newer than the stream keep the destination's values. */
    g_assert_cmphex(v.c, ==, 0xc);
    g_assert_cmphex(v.d, ==, 0xd);
    g_assert_cmpint(v.h, ==, 4);
    g_assert_cmpint(v.i, ==, 1);
    load_ok(&vmstate_versioned, &v, "22", 1);
    g_assert_cmphex(v.a, ==, 0x22);
    g_assert_cmphex(v.b, ==, 0x2222);

    /* Arrays at version 1: the _V arrays are absent. */
    load_ok(&vmstate_arrays, &a, ARRAYS_WIRE_V1, 1);
    g_assert_cmpuint(a.bools[2], ==, true);
    g_assert_cmpuint(a.v8[0], ==, 0);
}

static void test_version_unsupported(void)
{
    Versioned v = { 0 };

    load_fails(&vmstate_versioned, &v, "", 4, -EINVAL,
               "vmstate 'versioned': unsupported version 4 "
               "(accepted 1..3)");
    load_fails(&vmstate_versioned, &v, "", 0, -EINVAL,
               "unsupported version 0 (accepted 1..3)");
    load_fails(&vmstate_versioned, &v, "", -1, -EINVAL,
               "unsupported version -1");
}

/* The golden case has x; without it, x neither travels nor loads. */
static void test_version_field_exists(void)
{
    Optional o = { .has_x = false, .x = 5, .y = 6 };
    g_autoptr(GByteArray) got = save_obj(&vmstate_optional, &o, -1, NULL);
    g_autoptr(GByteArray) want = hex("00 00000006");
    Optional d = { .x = 77 };

    g_assert_cmpmem(got->data, got->len, want->data, want->len);
    /* The predicate sees the has_x just loaded. */
    load_ok(&vmstate_optional, &d, "00 00000006", 1);
    g_assert_false(d.has_x);
    g_assert_cmpuint(d.x, ==, 77);
    g_assert_cmpuint(d.y, ==, 6);
}

/* ---- checkers ---- */

static void test_equal_mismatch(void)
{
    static const char *const msgs[] = {
        "vmstate 'equal' field 'i32': received value -7, expected 1",
        "vmstate 'equal' field 'u8': received value 8, expected 1",
        "vmstate 'equal' field 'u16': received value 5654, expected 1",
        "vmstate 'equal' field 'u32': received value 842150450, expected 1",
        "vmstate 'equal' field 'i64': received value -64, expected 1",
        ("vmstate 'equal' field 'u64': received value 7234017283807667300, "
         "expected 1"),
    };

    for (size_t i = 0; i < G_N_ELEMENTS(msgs); i++) {
        Equal e, before;

        equal_prep(&e);
        switch (i) {
        case 0: e.i32 = 1; break;
        case 1: e.u8 = 1; break;
        case 2: e.u16 = 1; break;
        case 3: e.u32 = 1; break;
        case 4: e.i64 = 1; break;
        default: e.u64 = 1; break;
        }
        memcpy(&before, &e, sizeof(e));
        load_fails(&vmstate_equal, &e, EQUAL_WIRE, 1, -EINVAL, msgs[i]);
        /* A checker never changes the destination's value. */
        g_assert_cmpmem(&e, offsetof(Equal, le), &before,
                        offsetof(Equal, le));
    }
}

static void test_equal_int32_le(void)
{
    Equal e;

    equal_prep(&e);
    e.le = 6;
    load_fails(&vmstate_equal, &e, EQUAL_WIRE, 1, -EINVAL,
               "field 'le': received value 7, expected a value between "
               "0 and 6");
    g_assert_cmpint(e.le, ==, 6);
    equal_prep(&e);
    load_fails(&vmstate_equal, &e, "fffffff9 08 1616 32323232 "
               "ffffffffffffffc0 6464646464646464 ffffffff 00000000",
               1, -EINVAL, "field 'le': received value -1");
    equal_prep(&e);
    e.le = 7;
    load_ok(&vmstate_equal, &e, EQUAL_WIRE, 1);
    g_assert_cmpint(e.le, ==, 7);
}

/* ---- subsections ---- */

static void test_subsection_unknown(void)
{
    Dev d = { 0 };

    load_fails(&vmstate_dev, &d, "00000001 05 05 \"dev/x\" 00000001 00",
               1, -ENOENT, "vmstate 'dev': unknown subsection 'dev/x'");
    /* Starts with the parent's name: it is claimed, and unknown. */
    load_fails(&vmstate_dev, &d, "00000001 05 06 \"device\" 00000001",
               1, -ENOENT, "unknown subsection 'device'");
}

/* Not ours: stop quietly, leaving it for whoever comes next. */
static void test_subsection_other_parent(void)
{
    static const char *const wires[] = {
        "00000001 05 05 \"foo/b\" 00000001 0002 7e",
        "00000001 05 03 \"dev\" 7e",    /* too short to be "dev/..." */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(wires); i++) {
        g_autoptr(GByteArray) b = hex(wires[i]);
        Dev d = { 0 };
        Error *err = NULL;
        LoadResult r = load_buf(&vmstate_dev, &d, b->data, b->len, 1, &err);

        g_assert_null(err);
        g_assert_cmpint(r.ret, ==, 0);
        g_assert_cmpuint(r.consumed, ==, 4);
        g_assert_cmpuint(d.a, ==, 1);
    }
}

static void test_subsection_versions(void)
{
    Dev d = { 0 };

    load_fails(&vmstate_dev, &d, "00000001 05 05 \"dev/b\" 00000003 0002",
               1, -EINVAL, "vmstate 'dev/b': unsupported version 3 "
               "(accepted 1..2)");
    load_fails(&vmstate_dev, &d, "00000001 05 05 \"dev/b\" 00000000 0002",
               1, -EINVAL, "unsupported version 0");
    load_fails(&vmstate_dev, &d, "00000001 05 05 \"dev/b\" ffffffff 0002",
               1, -EINVAL, "unsupported version 4294967295");
    /* An older version within range loads; so does any order. */
    load_ok(&vmstate_dev, &d, "00000001 05 05 \"dev/c\" 00000001 03 "
            "05 05 \"dev/b\" 00000001 0005", 1);
    g_assert_cmpuint(d.b, ==, 5);
    g_assert_cmpuint(d.c, ==, 3);
}

/* ---- hooks ---- */

static void test_hooks_order(void)
{
    Hooked h = { .v = 9, .s = 1 }, d = { 0 };
    g_autoptr(GByteArray) b = NULL;

    if (hook_log) {
        g_string_truncate(hook_log, 0);
    }
    b = save_obj(&vmstate_hooked, &h, -1, NULL);
    g_assert_cmpstr(hook_log->str, ==, "pre_save;sub pre_save;"
                    "sub post_save;post_save;");
    g_string_truncate(hook_log, 0);
    load_ok(&vmstate_hooked, &d, HOOKS_WIRE, 2);
    g_assert_cmpstr(hook_log->str, ==, "pre_load;sub pre_load;"
                    "sub post_load v1;post_load v2;");
    g_assert_cmpuint(d.v, ==, 9);
    g_assert_cmpuint(d.s, ==, 1);
}

static void test_hooks_fail(void)
{
    static const char *const msgs[] = {
        [1] = "vmstate 'hooks': pre_save failed: Input/output error",
        [2] = "vmstate 'hooks': post_save failed",
        [3] = "vmstate 'hooks': pre_load failed: Input/output error",
        [4] = "vmstate 'hooks': post_load failed",
        [5] = "vmstate 'hooks/sub': pre_save failed",
        [6] = "vmstate 'hooks/sub': post_save failed",
        [7] = "vmstate 'hooks/sub': pre_load failed",
        [8] = "vmstate 'hooks/sub': post_load failed",
    };

    for (int which = 1; which <= 8; which++) {
        Hooked h = { .v = 9, .s = 1, .fail = which };
        MigChannel *c = mig_channel_new_writer("test");
        QEMUFile *f = qemu_file_new_output(c);
        JSONWriter *w = json_writer_new(false);
        bool save_hook = which <= 2 || (which >= 5 && which <= 6);
        Error *err = NULL;
        int ret;

        json_writer_start_object(w, NULL);
        ret = vmstate_save_state(f, &vmstate_hooked, &h, w, &err);
        /* Whatever failed, the writer is balanced for the caller. */
        json_writer_end_object(w);
        g_free(json_writer_finish(w));
        qemu_fclose(f);
        mig_channel_unref(c);
        if (save_hook) {
            g_assert_cmpint(ret, ==, -EIO);
            g_assert_nonnull(strstr(error_get_pretty(err), msgs[which]));
            error_free(err);
        } else {
            g_assert_cmpint(ret, ==, 0);
            load_fails(&vmstate_hooked, &h, HOOKS_WIRE, 2, -EIO,
                       msgs[which]);
        }
    }
}

/* ---- hostile lengths ---- */

typedef struct HostileCase {
    const char *wire;
    int ret;
    const char *msg;
} HostileCase;

static void test_hostile_vbuffer(void)
{
    static const HostileCase cases[] = {
        { "00000005 \"abcde\"", -EINVAL, "vmstate 'vbuffers' field 'data': "
          "buffer size 5 exceeds the destination's 4" },
        { "80000000", -EINVAL,
          "field 'data': negative buffer size -2147483648" },
        /* VMS_ALLOC sizes are bounded by the allocation limit. */
        { "00000004 \"abcd\" 7fffffff", -EINVAL, "field 'adata': "
          "1 x 2147483647 bytes exceed the allocation limit" },
        { "00000004 \"abcd\" ffffffff", -EINVAL,
          "field 'adata': negative buffer size -1" },
        /* Allowed, but the stream ends: truncated, and nothing leaks. */
        { "00000004 \"abcd\" 00100000 0102", -ENODATA,
          "field 'adata': stream truncated" },
        { "00000004 \"abcd\" 00000001 00 00000003", -EINVAL,
          "field 'mdata': buffer size 12 exceeds the destination's 8" },
    };
    VBuffers v;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        vbuffers_prep(&v);
        load_fails(&vmstate_vbuffers, &v, cases[i].wire, 1, cases[i].ret,
                   cases[i].msg);
        vbuffers_fini(&v);
    }
    /* A smaller buffer than the destination's is fine. */
    vbuffers_prep(&v);
    load_ok(&vmstate_vbuffers, &v, "00000002 \"ab\" 00000000 00000001 "
            "01020304", 1);
    g_assert_cmpmem(v.data, v.len, "ab", 2);
    g_assert_null(v.adata);
    vbuffers_fini(&v);
}

static void test_hostile_varray(void)
{
    static const HostileCase cases[] = {
        { "00000003", -EINVAL, "vmstate 'varrays' field 'arr32': "
          "element count 3 exceeds the destination's 2" },
        { "ffffffff", -EINVAL, "field 'arr32': negative element count -1" },
        { "00000002 ffffffff 00000001 ffffffff", -EINVAL,
          "field 'arru': element count 4294967295 exceeds the "
          "destination's 3" },
        { VARRAYS_HEAD " 10000000", -EINVAL, "field 'arra': 268435456 "
          "x 8 bytes exceed the allocation limit" },
        { VARRAYS_HEAD " 00000000 00000005", -EINVAL, "field 'mult': "
          "element count 15 exceeds the destination's capacity of 12" },
        { VARRAYS_HEAD " 00100000 0000000000000001", -ENODATA,
          "field 'arra' element 1: stream truncated" },
    };
    VArrays v;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        varrays_prep(&v);
        load_fails(&vmstate_varrays, &v, cases[i].wire, 1, cases[i].ret,
                   cases[i].msg);
        varrays_fini(&v);
    }
}

static void test_hostile_inplace(void)
{
    Buffers b = { 0 };
    Outer o;
    More m;
    Bitmap bm;

    load_fails(&vmstate_buffers, &b, BUFFERS_HEAD " 0000000b", 1, -EINVAL,
               "field 'vbuf': buffer size 11 exceeds the destination's "
               "capacity of 10");
    load_fails(&vmstate_buffers, &b, BUFFERS_HEAD " ffffff00", 1, -EINVAL,
               "field 'vbuf': negative buffer size -256");
    load_fails(&vmstate_buffers, &b, BUFFERS_HEAD " 00000000 0000000b", 1,
               -EINVAL, "field 'vbuf32': buffer size 11 exceeds");

    outer_prep(&o);
    load_fails(&vmstate_outer, &o, OUTER_HEAD " 30 00000005", 1, -EINVAL,
               "field 'varr': element count 5 exceeds the destination's "
               "capacity of 4");
    /* The source has an element where the destination has NULL. */
    load_fails(&vmstate_outer, &o, OUTER_HEAD " 6006 66", 1, -EINVAL,
               "field 'ptrs' element 1: received 0x60 where the "
               "null-pointer marker 0x30 was expected");
    outer_fini(&o);

    more_prep(&m);
    load_fails(&vmstate_more, &m, "00 0e16 00000e32 \"xyz\" 00 "
               "00000061 00000062 7171 72 04", 1, -EINVAL,
               "field 'v8': element count 4 exceeds the destination's "
               "capacity of 3");
    more_fini(&m);

    bm_prep(&bm);
    load_fails(&vmstate_bitmap, &bm, "000000c8", 1, -EINVAL,
               "field 'map': buffer size 200 exceeds the destination's 100");
    bm_fini(&bm);
}

static void test_validate_fail(void)
{
    Validated v = { 11 };
    MigChannel *c = mig_channel_new_writer("test");
    QEMUFile *f = qemu_file_new_output(c);
    Error *err = NULL;

    load_fails(&vmstate_validated, &v, "0000000b", 1, -EINVAL,
               "vmstate 'validated' field 'v in range': validation failed");
    g_assert_cmpint(vmstate_save_state(f, &vmstate_validated, &v, NULL,
                                       &err), ==, -EINVAL);
    g_assert_nonnull(strstr(error_get_pretty(err), "validation failed"));
    error_free(err);
    qemu_fclose(f);
    mig_channel_unref(c);
}

/* ---- save failures ---- */

static int put_fail(QEMUFile *f, void *pv, size_t size,
                    const VMStateField *field, JSONWriter *vmdesc,
                    Error **errp)
{
    error_setg(errp, "device refused");
    return -EIO;
}

static const VMStateInfo info_fail = { .name = "fail", .put = put_fail };

typedef struct Failing {
    uint32_t ok;
    uint32_t bad;
} Failing;

static const VMStateDescription vmstate_failing = {
    .name = "failing",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(ok, Failing),
        VMSTATE_SINGLE(bad, Failing, 0, info_fail, uint32_t),
        VMSTATE_END_OF_LIST()
    },
};

typedef struct FailingOuter {
    Failing arr[2];
} FailingOuter;

static const VMStateDescription vmstate_failing_outer = {
    .name = "failing-outer",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(arr, FailingOuter, 2, 0, vmstate_failing,
                             Failing),
        VMSTATE_END_OF_LIST()
    },
};

/* Saving fails mid-way; the caller can still close its JSON objects. */
static void test_json_balanced_on_error(void)
{
    FailingOuter fo = { { { 1, 2 }, { 3, 4 } } };
    Outer o = { 0 };
    MigChannel *c = mig_channel_new_writer("test");
    QEMUFile *f = qemu_file_new_output(c);
    JSONWriter *w = json_writer_new(false);
    g_autofree char *json = NULL;
    Error *err = NULL;

    json_writer_start_object(w, NULL);
    json_writer_start_list(w, "devices");
    json_writer_start_object(w, NULL);
    g_assert_cmpint(vmstate_save_state(f, &vmstate_failing_outer, &fo, w,
                                       &err), ==, -EIO);
    json_writer_end_object(w);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "vmstate 'failing-outer' field 'arr': vmstate 'failing' "
                    "field 'bad': device refused");
    error_free(err);
    err = NULL;

    /* A NULL struct pointer is a device bug, reported, not a crash. */
    json_writer_start_object(w, NULL);
    g_assert_cmpint(vmstate_save_state(f, &vmstate_outer, &o, w, &err),
                    ==, -EINVAL);
    json_writer_end_object(w);
    g_assert_nonnull(strstr(error_get_pretty(err), "field 'ptr': NULL"));
    error_free(err);

    json_writer_end_list(w);
    json_writer_end_object(w);
    json = json_writer_finish(w);
    g_assert_nonnull(json);
    qemu_fclose(f);
    mig_channel_unref(c);
}

/* ---- misc ---- */

static void test_section_needed(void)
{
    Dev d = { 0 };

    g_assert_true(vmstate_section_needed(&vmstate_dev, &d));
    g_assert_false(vmstate_section_needed(&vmstate_dev_b, &d));
    d.b = 1;
    g_assert_true(vmstate_section_needed(&vmstate_dev_b, &d));
}

/* After a failure the stream stays failed. */
static void test_sticky_error(void)
{
    g_autoptr(GByteArray) b = hex("00000001 05 05 \"dev/x\" 00000001 00 "
                                  "00000002 7e");
    MigChannel *c = mig_channel_new_buffer(b->data, b->len, "test");
    QEMUFile *f = qemu_file_new_input(c);
    Dev d = { 0 };
    Error *err = NULL;

    g_assert_cmpint(vmstate_load_state(f, &vmstate_dev, &d, 1, &err), ==,
                    -ENOENT);
    error_free(err);
    err = NULL;
    g_assert_cmpint(qemu_file_get_error(f), ==, -ENOENT);
    g_assert_cmpint(vmstate_load_state(f, &vmstate_dev, &d, 1, &err), ==,
                    -ENOENT);
    g_assert_nonnull(strstr(error_get_pretty(err), "unknown subsection"));
    error_free(err);
    qemu_fclose(f);
    mig_channel_unref(c);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *path;
        void (*fn)(void);
    } tests[] = {
        { "qemu-7.2/vmdesc", test_qemu72_vmdesc },
        { "qemu-7.2/capture", test_qemu72_capture },
        { "qemu-7.2/timer-versions", test_qemu72_timer_versions },
        { "qemu-7.2/globalstate-post-load",
          test_qemu72_globalstate_post_load },
        { "version/save-old", test_version_save_old },
        { "version/load-old", test_version_load_old },
        { "version/unsupported", test_version_unsupported },
        { "version/field-exists", test_version_field_exists },
        { "equal/mismatch", test_equal_mismatch },
        { "equal/int32-le", test_equal_int32_le },
        { "subsection/unknown", test_subsection_unknown },
        { "subsection/other-parent", test_subsection_other_parent },
        { "subsection/versions", test_subsection_versions },
        { "hooks/order", test_hooks_order },
        { "hooks/fail", test_hooks_fail },
        { "hostile/vbuffer", test_hostile_vbuffer },
        { "hostile/varray", test_hostile_varray },
        { "hostile/inplace", test_hostile_inplace },
        { "validate/fail", test_validate_fail },
        { "json/balanced-on-error", test_json_balanced_on_error },
        { "section-needed", test_section_needed },
        { "sticky-error", test_sticky_error },
    };
    int ret;

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(goldens); i++) {
        g_autofree char *save = g_strdup_printf(
            "/migration/vmstate/golden/%s", goldens[i].name);
        g_autofree char *trunc = g_strdup_printf(
            "/migration/vmstate/truncated/%s", goldens[i].name);
        g_autofree char *corrupt = g_strdup_printf(
            "/migration/vmstate/corrupt/%s", goldens[i].name);

        g_test_add_data_func(save, &goldens[i], golden_save);
        g_test_add_data_func(trunc, &goldens[i], golden_truncated);
        g_test_add_data_func(corrupt, &goldens[i], golden_corrupt);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(tests); i++) {
        g_autofree char *path = g_strdup_printf("/migration/vmstate/%s",
                                                tests[i].path);

        g_test_add_func(path, tests[i].fn);
    }
    ret = g_test_run();
    if (hook_log) {
        g_string_free(hook_log, true);
    }
    return ret;
}
