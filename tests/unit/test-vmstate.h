/*
 * test-vmstate.h: what the three parts of test-vmstate share.
 *
 * Private to tests/unit/test-vmstate*.c.  test-vmstate.c has the save
 * and load helpers, QEMU 7.2's "timer" and "globalstate", and main(),
 * which registers every test path; test-vmstate-golden.c has the
 * descriptions of the field macros, the golden table and the golden,
 * truncated and corrupt tests; test-vmstate-rules.c has the descriptions
 * of versions, checkers, subsections and hooks, and the failure-path
 * tests.  A description's type is here when another part needs it: the
 * golden table takes every type's size, the failure paths their fields.
 */
#ifndef TESTS_UNIT_TEST_VMSTATE_H
#define TESTS_UNIT_TEST_VMSTATE_H

#include "qemu/osdep.h"
#include "migration/vmstate.h"
#include "migration/qemu-file.h"
#include "qapi/qmp/json-writer.h"

#define FOOTER 0x7e     /* what follows a section body on the wire */

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
 * VMSD() is the header every description shares; "needed"/"exists"
 * predicates are one-liners.
 */
#define VMSD(nm, v, minv) .name = (nm), .version_id = (v), \
                          .minimum_version_id = (minv)
#define PRED(fn, type, expr) \
    static bool fn(void *opaque) { type *s = opaque; return (expr); }
#define EXISTS(fn, type, expr) \
    static bool fn(void *opaque, int version_id) \
    { type *s = opaque; return (expr); }

/* ---- helpers (test-vmstate.c) ---- */

/* "00 0a \"ab\"" -> bytes 00 0a 61 62 */
GByteArray *hex(const char *s);

/* 'x' -> "x" */
char *dq(const char *s);

/*
 * Saves @obj (as @version, or the vmsd's own when < 0); returns the bytes
 * and, if @json, the description members wrapped in an object.
 */
GByteArray *save_obj(const VMStateDescription *vmsd, void *obj,
                     int version, char **json);

typedef struct LoadResult {
    int ret;
    int file_error;         /* the QEMUFile's sticky error afterwards */
    uint64_t consumed;      /* stream offset where the load stopped */
} LoadResult;

LoadResult load_buf(const VMStateDescription *vmsd, void *obj,
                    const uint8_t *data, size_t len, int version,
                    Error **errp);

/* Loads hex @wire, expecting success and that it stops at the footer. */
void load_ok(const VMStateDescription *vmsd, void *obj,
             const char *wire, int version);

/*
 * Loads hex @wire (plus a footer), expecting failure @ret with a message
 * containing @msg, and that the failure stuck to the stream.
 */
void load_fails(const VMStateDescription *vmsd, void *obj,
                const char *wire, int version, int ret,
                const char *msg);

/* ---- the x86 "cpu" section (test-vmstate-x86.c) ---- */

void x86_vmstate_add_tests(void);

/* ---- golden cases (test-vmstate-golden.c) ---- */

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

extern const Golden goldens[];
extern const size_t n_goldens;

void golden_save(const void *opaque);
void golden_truncated(const void *opaque);
void golden_corrupt(const void *opaque);

/* -- the field macros' descriptions (test-vmstate-golden.c) -- */

typedef struct Arrays {
    uint8_t a8[5]; uint16_t a16[3]; uint32_t a32[2]; uint64_t a64[2];
    int32_t i32[3]; int16_t i16[2]; int64_t i64[1]; bool bools[3];
    uint8_t v8[2]; uint16_t v16[2]; uint32_t v32[2]; uint64_t v64[2];
    int32_t vi32[2];
} Arrays;
extern const VMStateDescription vmstate_arrays;
/* Up to bools: what a version-1 stream carries. */
#define ARRAYS_WIRE_V1 \
    "0102030405 010203040506 0102030405060708 " \
    "0000000000000001 8000000000000000 ffffffff 00000000 00000001 " \
    "fffe 0002 fffffffffffffff7 010001"

typedef struct Buffers {
    uint8_t buf[6]; uint8_t part[8]; uint8_t stat[8];
    int32_t vlen; uint8_t vbuf[10]; uint32_t vlen32; uint8_t vbuf32[10];
} Buffers;
extern const VMStateDescription vmstate_buffers;
#define BUFFERS_HEAD "\"abcdef\" 000000 \"hello\" 0000 deadbeef"

typedef struct VBuffers {
    uint32_t len; uint8_t *data;
    uint32_t alen; uint8_t *adata;
    uint32_t mlen; uint8_t *mdata;
} VBuffers;
extern const VMStateDescription vmstate_vbuffers;
void vbuffers_prep(void *obj);
void vbuffers_fini(void *obj);

typedef struct VArrays {
    int32_t n32; int32_t *arr32;
    uint32_t nu; uint16_t *arru;
    uint32_t na; uint64_t *arra;
    uint32_t nm; uint8_t mult[12];
} VArrays;
extern const VMStateDescription vmstate_varrays;
#define VARRAYS_HEAD "00000002 ffffffff 00000001 00000003 0001 0002 0003"
void varrays_prep(void *obj);
void varrays_fini(void *obj);

typedef struct Inner {
    uint16_t x;
    uint8_t y;
} Inner;

typedef struct InnerSub {
    uint32_t w;
    uint32_t z;
} InnerSub;

typedef struct VInner {
    uint32_t p;
    uint32_t q;
} VInner;

typedef struct Outer {
    Inner one; Inner many[3]; InnerSub subs[2]; Inner *ptr; VInner vs;
    Inner *ptrs[2]; uint32_t nv; Inner varr[4];
} Outer;
extern const VMStateDescription vmstate_outer;
void outer_prep(void *obj);
void outer_fini(void *obj);

typedef struct More {
    bool has; uint8_t t8; uint16_t t16; int32_t ti32; uint64_t t64;
    bool tb; uint16_t e16; uint32_t e32; uint16_t at[2]; uint8_t bv[3];
    uint8_t bt[2]; Inner st; VInner vt; Inner *sp; Inner sa[2];
    uint8_t n8; Inner v8[3]; int32_t ni; Inner vi[3];
    uint32_t npu; Inner *vpu; int32_t npi; Inner *vpi;
    int64_t a64[2]; int16_t a16[2]; bool ab[2];
} More;
extern const VMStateDescription vmstate_more;
void more_prep(void *obj);
void more_fini(void *obj);

typedef struct Bitmap {
    int32_t nbits;
    unsigned long *map;
} Bitmap;
extern const VMStateDescription vmstate_bitmap;
void bm_prep(void *obj);
void bm_fini(void *obj);

/* -- versions, checkers, subsections, hooks (test-vmstate-rules.c) -- */

typedef struct Versioned {
    uint8_t a; uint16_t b; uint32_t c; uint64_t d;
    int8_t e; int16_t g; int32_t h; int64_t i; bool j;
} Versioned;
extern const VMStateDescription vmstate_versioned;
void versioned_fill(void *obj);

typedef struct Equal {
    int32_t i32; uint8_t u8; uint16_t u16; uint32_t u32;
    int64_t i64; uint64_t u64; int32_t le; int32_t le2;
} Equal;
extern const VMStateDescription vmstate_equal;
#define EQUAL_WIRE "fffffff9 08 1616 32323232 ffffffffffffffc0 " \
                   "6464646464646464 00000007 00000000"
void equal_fill(void *obj);
void equal_prep(void *obj);

typedef struct Validated {
    uint32_t v;
} Validated;
extern const VMStateDescription vmstate_validated;
void validated_fill(void *obj);

typedef struct Dev {
    uint32_t a;
    uint16_t b;
    uint8_t c;
} Dev;
extern const VMStateDescription vmstate_dev;
void dev_fill_all(void *obj);
void dev_fill_none(void *obj);
void dev_fill_c(void *obj);

typedef struct Hooked {
    uint32_t v;
    uint8_t s;
    int fail;           /* which hook fails: 1..4 parent, 5..8 sub */
} Hooked;
extern const VMStateDescription vmstate_hooked;
/* What the hooks did, in order; main() frees it. */
extern GString *hook_log;
#define HOOKS_WIRE "00000009 05 09 \"hooks/sub\" 00000001 01"
void hooked_fill(void *obj);

typedef struct Optional {
    bool has_x;
    uint32_t x;
    uint32_t y;
} Optional;
extern const VMStateDescription vmstate_optional;
void optional_fill(void *obj);

/* -- QEMU 7.2's "timer" and "globalstate" (test-vmstate.c) -- */

typedef struct TimersState {
    int64_t cpu_ticks_offset;
    int64_t cpu_clock_offset;
    int64_t qemu_icount_bias;
    int64_t qemu_icount;
    bool icount_enabled;
} TimersState;
extern const VMStateDescription vmstate_timers;

typedef struct GlobalState {
    uint32_t size;
    uint8_t runstate[100];
} GlobalState;
extern const VMStateDescription vmstate_globalstate;
#define TIMER_WIRE "000000000a09a8f0 0000000000000000 000000000504d472"
/* "running", NUL-padded to 100 bytes: 7 + 93. */
#define ZEROS31 "00000000000000000000000000000000000000000000000000000000000000"
#define GLOBALSTATE_RUNSTATE "\"running\" " ZEROS31 ZEROS31 ZEROS31
#define GLOBALSTATE_WIRE "00000008 " GLOBALSTATE_RUNSTATE
void timers_fill(void *obj);
void globalstate_fill(void *obj);

/* ---- the failure paths main() registers (test-vmstate-rules.c) ---- */

void test_version_save_old(void);
void test_version_load_old(void);
void test_version_unsupported(void);
void test_version_field_exists(void);
void test_equal_mismatch(void);
void test_equal_int32_le(void);
void test_subsection_unknown(void);
void test_subsection_other_parent(void);
void test_subsection_versions(void);
void test_section_needed(void);
void test_hooks_order(void);
void test_hooks_fail(void);
void test_hostile_vbuffer(void);
void test_hostile_varray(void);
void test_hostile_inplace(void);
void test_validate_fail(void);

#endif
