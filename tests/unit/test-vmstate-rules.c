/*
 * test-vmstate-rules: the VMState engine's rules and failure paths.
 *
 * Versions (saving and loading older ones, unsupported ones,
 * field_exists), the checkers (*_EQUAL, INT32_LE), subsections (unknown,
 * another parent's, versions, "needed"), pre/post save/load hooks (their
 * order, and each one failing), hostile counts and sizes (that must be
 * refused, not trusted), and VMSTATE_VALIDATE.  The descriptions here
 * have golden tests too, in test-vmstate-golden.c; test-vmstate.c
 * registers the tests.
 */
#include "qemu/osdep.h"
#include "test-vmstate.h"

/*
 * The descriptions under test.  Tables are dense (several fields a line);
 * their types are in test-vmstate.h, as the golden table needs them.
 */

/* -- versions, checkers -- */

const VMStateDescription vmstate_versioned = {
    VMSD("versioned", 3, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8_V(a, Versioned, 1), VMSTATE_UINT16_V(b, Versioned, 2),
        VMSTATE_UINT32_V(c, Versioned, 3), VMSTATE_UINT64_V(d, Versioned, 3),
        VMSTATE_INT8_V(e, Versioned, 2), VMSTATE_INT16_V(g, Versioned, 2),
        VMSTATE_INT32_V(h, Versioned, 3), VMSTATE_INT64_V(i, Versioned, 3),
        VMSTATE_BOOL_V(j, Versioned, 2), VMSTATE_END_OF_LIST()
    },
};

void versioned_fill(void *obj)
{
    FILL_FROM(obj, Versioned, { 0x11, 0x2222, 0x33333333,
                                0x4444444444444444ULL, -1, -2, -3, -4,
                                true });
}

const VMStateDescription vmstate_equal = {
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

void equal_fill(void *obj)
{
    FILL_FROM(obj, Equal, { -7, 8, 0x1616, 0x32323232, -64,
                            0x6464646464646464ULL, 7, 0 });
}

/* The destination agrees on the checked values and allows le <= 100. */
void equal_prep(void *obj)
{
    equal_fill(obj);
    ((Equal *)obj)->le = 100;
}

/* -- validate -- */

EXISTS(validated_ok, Validated, s->v <= 10)

const VMStateDescription vmstate_validated = {
    VMSD("validated", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(v, Validated),
        VMSTATE_VALIDATE("v in range", validated_ok),
        VMSTATE_END_OF_LIST()
    },
};

void validated_fill(void *obj)
{
    ((Validated *)obj)->v = 5;
}

/* -- subsections -- */

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

const VMStateDescription vmstate_dev = {
    VMSD("dev", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(a, Dev), VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *[]) {
        &vmstate_dev_b, &vmstate_dev_c, NULL
    },
};

void dev_fill_all(void *obj)
{
    FILL_FROM(obj, Dev, { 1, 2, 3 });
}

void dev_fill_none(void *obj)
{
    FILL_FROM(obj, Dev, { 1, 0, 0 });
}

void dev_fill_c(void *obj)
{
    FILL_FROM(obj, Dev, { 1, 0, 3 });
}

/* -- hooks -- */

GString *hook_log;

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

const VMStateDescription vmstate_hooked = {
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

void hooked_fill(void *obj)
{
    FILL_FROM(obj, Hooked, { .v = 9, .s = 1 });
}

/* -- field_exists -- */

EXISTS(optional_has_x, Optional, s->has_x)

static bool optional_always(void *opaque, int version_id)
{
    return version_id >= 1;
}

/* y's predicate wins over its (future) version_id. */
const VMStateDescription vmstate_optional = {
    VMSD("optional", 1, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(has_x, Optional),
        VMSTATE_UINT32_TEST(x, Optional, optional_has_x),
        VMSTATE_SINGLE_TEST(y, Optional, optional_always, 9,
                            vmstate_info_uint32, uint32_t),
        VMSTATE_END_OF_LIST()
    },
};

void optional_fill(void *obj)
{
    FILL_FROM(obj, Optional, { true, 5, 6 });
}

/* ---- versions and field_exists ---- */

void test_version_save_old(void)
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

void test_version_load_old(void)
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

void test_version_unsupported(void)
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
void test_version_field_exists(void)
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

void test_equal_mismatch(void)
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

void test_equal_int32_le(void)
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

void test_subsection_unknown(void)
{
    Dev d = { 0 };

    load_fails(&vmstate_dev, &d, "00000001 05 05 \"dev/x\" 00000001 00",
               1, -ENOENT, "vmstate 'dev': unknown subsection 'dev/x'");
    /* Starts with the parent's name: it is claimed, and unknown. */
    load_fails(&vmstate_dev, &d, "00000001 05 06 \"device\" 00000001",
               1, -ENOENT, "unknown subsection 'device'");
}

/* Not ours: stop quietly, leaving it for whoever comes next. */
void test_subsection_other_parent(void)
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

void test_subsection_versions(void)
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

void test_section_needed(void)
{
    Dev d = { 0 };

    g_assert_true(vmstate_section_needed(&vmstate_dev, &d));
    g_assert_false(vmstate_section_needed(&vmstate_dev_b, &d));
    d.b = 1;
    g_assert_true(vmstate_section_needed(&vmstate_dev_b, &d));
}

/* ---- hooks ---- */

void test_hooks_order(void)
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

void test_hooks_fail(void)
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

#define OUTER_HEAD "0101 01 1001 11 1002 12 1003 13 00000020 00000021 " \
                   "3003 33 00000040 5005 55"

typedef struct HostileCase {
    const char *wire;
    int ret;
    const char *msg;
} HostileCase;

void test_hostile_vbuffer(void)
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

void test_hostile_varray(void)
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

void test_hostile_inplace(void)
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

void test_validate_fail(void)
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
