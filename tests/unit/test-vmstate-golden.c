/*
 * test-vmstate-golden: every field macro against golden bytes.
 *
 * Every description here has a golden test: the saved bytes and JSON
 * description must match exactly, the bytes (followed by a footer byte,
 * as in a real stream) must load back into a fresh struct, every proper
 * prefix of them, and the whole without the footer, must fail to load
 * with a "truncated" message, and no single corrupted byte may make the
 * loader crash, overflow or leak (the suite also runs under ASan).  The
 * golden table also covers the descriptions of test-vmstate-rules.c and
 * QEMU 7.2's "timer" and "globalstate" from test-vmstate.c, which
 * registers the tests.
 */
#include "qemu/osdep.h"
#include "test-vmstate.h"
#include "qemu/bitmap.h"

/* ---- golden cases ---- */

void golden_save(const void *opaque)
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

void golden_truncated(const void *opaque)
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
 * to keep this file readable as a whole; their types are in
 * test-vmstate.h, as the failure paths use them too.
 */

/* -- scalars and fixed arrays -- */

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

const VMStateDescription vmstate_arrays = {
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

const VMStateDescription vmstate_buffers = {
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

/* Only bytes that travel are set, so the loaded copy equals the source. */
static void buffers_fill(void *obj)
{
    FILL_FROM(obj, Buffers, { "abcdef", "hello", { 0, 0, 0xde, 0xad, 0xbe,
                              0xef }, 4, "wxyz", 3, { 1, 2, 3 } });
}

const VMStateDescription vmstate_vbuffers = {
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
void vbuffers_prep(void *obj)
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

void vbuffers_fini(void *obj)
{
    VBuffers *v = obj;

    g_free(v->data);
    g_free(v->adata);
    g_free(v->mdata);
}

/* -- variable arrays -- */

const VMStateDescription vmstate_varrays = {
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
void varrays_prep(void *obj)
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

void varrays_fini(void *obj)
{
    VArrays *v = obj;

    g_free(v->arr32);
    g_free(v->arru);
    g_free(v->arra);
}

/* -- nested structs -- */

static const VMStateDescription vmstate_inner = {
    VMSD("inner", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(x, Inner), VMSTATE_UINT8(y, Inner),
        VMSTATE_END_OF_LIST()
    },
};

#define J_INNER JVSD("inner", 1, JF("x", "uint16", 2) C JF("y", "uint8", 1))

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

static const VMStateDescription vmstate_vinner = {
    VMSD("vinner", 2, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(p, VInner), VMSTATE_UINT32_V(q, VInner, 2),
        VMSTATE_END_OF_LIST()
    },
};

const VMStateDescription vmstate_outer = {
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

void outer_prep(void *obj)
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

void outer_fini(void *obj)
{
    Outer *o = obj;

    g_free(o->ptr);
    g_free(o->ptrs[0]);
}

/* -- the remaining macros, with field_exists and versions -- */

EXISTS(more_has, More, s->has)

const VMStateDescription vmstate_more = {
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

void more_prep(void *obj)
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

void more_fini(void *obj)
{
    More *m = obj;

    g_free(m->sp);
    g_free(m->vpu);
    g_free(m->vpi);
}

/* -- bitmap -- */

const VMStateDescription vmstate_bitmap = {
    VMSD("bitmap", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(nbits, Bitmap), VMSTATE_BITMAP(map, Bitmap, 0, nbits),
        VMSTATE_END_OF_LIST()
    },
};

void bm_prep(void *obj)
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

void bm_fini(void *obj)
{
    g_free(((Bitmap *)obj)->map);
}

/* -- nested and parent subsections -- */

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

/* "dev" and its subsections are in test-vmstate-rules.c. */
#define J_DEV_A JV("dev", 1, JF("a", "uint32", 4))
#define J_DEV_B JVSD("dev/b", 2, JF("b", "uint16", 2))
#define J_DEV_C JVSD("dev/c", 1, JF("c", "uint8", 1))

const Golden goldens[] = {
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

const size_t n_goldens = G_N_ELEMENTS(goldens);

/*
 * Corrupt streams: each byte of the golden bytes replaced by a few
 * telling values (zero, all ones, a sign bit, the subsection marker).
 * Whatever the load decides, it must decide it cleanly: no crash, no
 * overflow, no leak (run under ASan), and an error message on failure.
 */
void golden_corrupt(const void *opaque)
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
