/*
 * vmstate.h: device state described by tables (VMState), QEMU 7.2 wire
 * format.
 *
 * A device lists its migratable fields in a VMStateDescription; the
 * engine (migration/vmstate.c) walks the table to write the fields
 * back-to-back in declaration order, big-endian, without names or tags,
 * followed by the "subsections" whose needed() hook says so.  The loader
 * walks the same table, gating each field by the version number read from
 * the stream.  The macros below have QEMU's names, arguments and meaning,
 * so device tables written for QEMU compile here unchanged; the macros
 * check at compile time that each member has the type the macro claims.
 *
 * ferry differs from QEMU in three ways, all invisible on the wire:
 *  - failures carry an Error (vmstate_load_state() and VMStateInfo
 *    get/put take Error **errp) and nothing derived from the stream
 *    asserts;
 *  - every element count or buffer size read from the stream (VARRAY
 *    counts, VBUFFER sizes, bitmap lengths) is checked before use against
 *    the destination's limit: .num_max / .size_max when the macro knows
 *    the array's capacity (in-place arrays), otherwise the value the
 *    destination held before the section started loading (pointer
 *    arrays, whose allocation was sized by it), and for VMS_ALLOC
 *    fields VMSTATE_ALLOC_MAX bytes;
 *  - post_save returns int as in QEMU 7.2, and a failing post_save fails
 *    the save.
 */
#ifndef MIGRATION_VMSTATE_H
#define MIGRATION_VMSTATE_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "migration/qemu-file-types.h"

typedef struct JSONWriter JSONWriter;
typedef struct VMStateInfo VMStateInfo;
typedef struct VMStateField VMStateField;
typedef struct VMStateDescription VMStateDescription;

/*
 * How one element travels.  @size is the element size in bytes (for
 * "bitmap" it is the number of bits).  get() returns 0 or -errno and sets
 * @errp on the failures it detects itself (a value that does not match);
 * a short stream may simply leave zeros: the engine checks the file's
 * sticky error after every element and reports the truncation.  put()
 * returns 0 or -errno (with @errp); @vmdesc is only for infos that nest
 * other descriptions.
 */
struct VMStateInfo {
    const char *name;       /* the "type" in the JSON description */
    int (*get)(QEMUFile *f, void *pv, size_t size,
               const VMStateField *field, Error **errp);
    int (*put)(QEMUFile *f, void *pv, size_t size,
               const VMStateField *field, JSONWriter *vmdesc, Error **errp);
};

/* Values as in QEMU; they never travel on the wire. */
enum VMStateFlags {
    VMS_SINGLE            = 0x001,  /* one element (informational) */
    VMS_POINTER           = 0x002,  /* the member is a pointer to the data */
    VMS_ARRAY             = 0x004,  /* .num elements */
    VMS_STRUCT            = 0x008,  /* elements are .vmsd, local version */
    VMS_VARRAY_INT32      = 0x010,  /* count: int32_t at .num_offset */
    VMS_BUFFER            = 0x020,  /* raw bytes (informational) */
    VMS_ARRAY_OF_POINTER  = 0x040,  /* elements are pointers to the data */
    VMS_VARRAY_UINT16     = 0x080,  /* count: uint16_t at .num_offset */
    VMS_VBUFFER           = 0x100,  /* size: int32_t at .size_offset */
    VMS_MULTIPLY          = 0x200,  /* VBUFFER size times .size */
    VMS_VARRAY_UINT8      = 0x400,  /* count: uint8_t at .num_offset */
    VMS_VARRAY_UINT32     = 0x800,  /* count: uint32_t at .num_offset */
    VMS_MUST_EXIST        = 0x1000, /* absent (test false) fails the load */
    VMS_ALLOC             = 0x2000, /* POINTER: allocate on load */
    VMS_MULTIPLY_ELEMENTS = 0x4000, /* VARRAY count times .num */
    VMS_VSTRUCT           = 0x8000, /* STRUCT at .struct_version_id */
    VMS_END               = 0x10000,
};

#define VMS_VARRAY_ANY (VMS_VARRAY_INT32 | VMS_VARRAY_UINT8 | \
                        VMS_VARRAY_UINT16 | VMS_VARRAY_UINT32)

/* Section order among non-iterative devices: higher goes first. */
typedef enum {
    MIG_PRI_DEFAULT = 0,
    MIG_PRI_IOMMU,              /* before PCI devices */
    MIG_PRI_PCI_BUS,            /* before the IOMMU */
    MIG_PRI_VIRTIO_MEM,         /* before the IOMMU */
    MIG_PRI_GICV3_ITS,          /* before PCI devices */
    MIG_PRI_GICV3,              /* before the ITS */
    MIG_PRI_MAX,
} MigrationPriority;

struct VMStateField {
    const char *name;
    const char *err_hint;       /* appended to _EQUAL mismatch errors */
    size_t offset;              /* of the member in the parent struct */
    size_t size;                /* element size (VMS_MULTIPLY: factor) */
    size_t start;               /* QEMU shape only; unused, as in 7.2 */
    int num;                    /* ARRAY count / MULTIPLY_ELEMENTS factor */
    size_t num_offset;          /* VARRAY: where the count lives */
    size_t size_offset;         /* VBUFFER: where the int32 size lives */
    const VMStateInfo *info;
    enum VMStateFlags flags;
    const VMStateDescription *vmsd;     /* STRUCT / VSTRUCT */
    int version_id;             /* first version that has the field */
    int struct_version_id;      /* VSTRUCT: version of .vmsd to use */
    bool (*field_exists)(void *opaque, int version_id);
    /*
     * ferry: the destination's capacity for a stream-derived VARRAY
     * count (in elements, after VMS_MULTIPLY_ELEMENTS) or VBUFFER size
     * (in bytes, or bits for "bitmap").  0 = not known statically: see
     * the header comment for the fallback.
     */
    size_t num_max;
    size_t size_max;
};

struct VMStateDescription {
    const char *name;
    int unmigratable;
    int version_id;
    int minimum_version_id;
    MigrationPriority priority;
    /* Hooks return 0 or a negative errno; none has a wire form. */
    int (*pre_load)(void *opaque);
    int (*post_load)(void *opaque, int version_id);
    int (*pre_save)(void *opaque);
    int (*post_save)(void *opaque);     /* runs whenever pre_save passed */
    bool (*needed)(void *opaque);       /* NULL: always needed */
    const VMStateField *fields;         /* ends with VMSTATE_END_OF_LIST */
    const VMStateDescription * const *subsections;  /* NULL-terminated */
};

/* Largest VMS_ALLOC allocation a stream may cause (per field). */
#define VMSTATE_ALLOC_MAX (64u << 20)

/* Sent for a NULL element of an array of pointers ('0'). */
#define VMS_NULLPTR_MARKER 0x30

extern const VMStateInfo vmstate_info_bool;
extern const VMStateInfo vmstate_info_int8;
extern const VMStateInfo vmstate_info_int16;
extern const VMStateInfo vmstate_info_int32;
extern const VMStateInfo vmstate_info_int64;
extern const VMStateInfo vmstate_info_uint8;
extern const VMStateInfo vmstate_info_uint16;
extern const VMStateInfo vmstate_info_uint32;
extern const VMStateInfo vmstate_info_uint64;
extern const VMStateInfo vmstate_info_int32_equal;
extern const VMStateInfo vmstate_info_uint8_equal;
extern const VMStateInfo vmstate_info_uint16_equal;
extern const VMStateInfo vmstate_info_uint32_equal;
/* QEMU names both 64-bit checkers "int64 equal"; they differ in messages. */
extern const VMStateInfo vmstate_info_uint64_equal;
extern const VMStateInfo vmstate_info_int64_equal;
extern const VMStateInfo vmstate_info_int32_le;
extern const VMStateInfo vmstate_info_buffer;
extern const VMStateInfo vmstate_info_unused_buffer;
extern const VMStateInfo vmstate_info_bitmap;
extern const VMStateInfo vmstate_info_nullptr;

/*
 * Saves the fields and needed subsections of @vmsd at its own version.
 * When @vmdesc is non-NULL, also writes the members "vmsd_name",
 * "version", "fields" and (if any subsection was sent) "subsections" into
 * the object currently open in @vmdesc, in QEMU 7.2's shape.  On failure
 * returns -errno with @errp set; every JSON container opened here is
 * closed again, so the caller may still end its object.
 */
int vmstate_save_state(QEMUFile *f, const VMStateDescription *vmsd,
                       void *opaque, JSONWriter *vmdesc, Error **errp);
/* The same, saving as @version_id (fields newer than it are left out). */
int vmstate_save_state_v(QEMUFile *f, const VMStateDescription *vmsd,
                         void *opaque, JSONWriter *vmdesc, int version_id,
                         Error **errp);
/*
 * Loads what vmstate_save_state() wrote at @version_id (the version read
 * from the section header).  Returns 0, or -errno with @errp set and the
 * error recorded on @f (the stream is out of sync after a failure);
 * a short stream fails with -ENODATA and a "truncated" message.
 */
int vmstate_load_state(QEMUFile *f, const VMStateDescription *vmsd,
                       void *opaque, int version_id, Error **errp);
/* False when @vmsd has a needed() hook that says no. */
bool vmstate_section_needed(const VMStateDescription *vmsd, void *opaque);

/* ---- compile-time type checks (as QEMU's, but as sizeof tricks) ---- */

#define typeof_field(type, field) __typeof__(((type *)0)->field)

/* 0 when t1 and t2 are compatible types; a compile error otherwise. */
#define vmstate_type_check(t1, t2) \
    (sizeof(char[1 - 2 * !__builtin_types_compatible_p(t1, t2)]) - 1)

#define vmstate_offset_value(_state, _field, _type)                     \
    (offsetof(_state, _field) +                                         \
     vmstate_type_check(_type, typeof_field(_state, _field)))

#define vmstate_offset_pointer(_state, _field, _type)                   \
    (offsetof(_state, _field) +                                         \
     vmstate_type_check(_type *, typeof_field(_state, _field)))

#define vmstate_offset_array(_state, _field, _type, _num)               \
    (offsetof(_state, _field) +                                         \
     vmstate_type_check(_type[_num], typeof_field(_state, _field)))

/* Number of _type elements the array member _field can hold. */
#define vmstate_array_capacity(_state, _field, _type)                   \
    (sizeof(typeof_field(_state, _field)) / sizeof(_type))

/* An in-place array of _type, of any length. */
#define vmstate_offset_varray(_state, _field, _type)                    \
    vmstate_offset_array(_state, _field, _type,                         \
                         vmstate_array_capacity(_state, _field, _type))

#define vmstate_offset_buffer(_state, _field)                           \
    vmstate_offset_array(_state, _field, uint8_t,                       \
                         sizeof(typeof_field(_state, _field)))

/* ---- scalars ---- */

#define VMSTATE_SINGLE_FULL(_field, _state, _test, _version, _info,    \
                            _type, _err_hint) {                         \
    .name         = (#_field),                                          \
    .err_hint     = (_err_hint),                                        \
    .version_id   = (_version),                                         \
    .field_exists = (_test),                                            \
    .size         = sizeof(_type),                                      \
    .info         = &(_info),                                           \
    .flags        = VMS_SINGLE,                                         \
    .offset       = vmstate_offset_value(_state, _field, _type),        \
}

#define VMSTATE_SINGLE_TEST(_field, _state, _test, _version, _info, _type) \
    VMSTATE_SINGLE_FULL(_field, _state, _test, _version, _info, _type, NULL)

#define VMSTATE_SINGLE(_field, _state, _version, _info, _type)         \
    VMSTATE_SINGLE_TEST(_field, _state, NULL, _version, _info, _type)

#define VMSTATE_BOOL_V(_f, _s, _v)                                      \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_bool, bool)
#define VMSTATE_INT8_V(_f, _s, _v)                                      \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_int8, int8_t)
#define VMSTATE_INT16_V(_f, _s, _v)                                     \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_int16, int16_t)
#define VMSTATE_INT32_V(_f, _s, _v)                                     \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_int32, int32_t)
#define VMSTATE_INT64_V(_f, _s, _v)                                     \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_int64, int64_t)
#define VMSTATE_UINT8_V(_f, _s, _v)                                     \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_uint8, uint8_t)
#define VMSTATE_UINT16_V(_f, _s, _v)                                    \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_uint16, uint16_t)
#define VMSTATE_UINT32_V(_f, _s, _v)                                    \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_uint32, uint32_t)
#define VMSTATE_UINT64_V(_f, _s, _v)                                    \
    VMSTATE_SINGLE(_f, _s, _v, vmstate_info_uint64, uint64_t)

#define VMSTATE_BOOL(_f, _s)    VMSTATE_BOOL_V(_f, _s, 0)
#define VMSTATE_INT8(_f, _s)    VMSTATE_INT8_V(_f, _s, 0)
#define VMSTATE_INT16(_f, _s)   VMSTATE_INT16_V(_f, _s, 0)
#define VMSTATE_INT32(_f, _s)   VMSTATE_INT32_V(_f, _s, 0)
#define VMSTATE_INT64(_f, _s)   VMSTATE_INT64_V(_f, _s, 0)
#define VMSTATE_UINT8(_f, _s)   VMSTATE_UINT8_V(_f, _s, 0)
#define VMSTATE_UINT16(_f, _s)  VMSTATE_UINT16_V(_f, _s, 0)
#define VMSTATE_UINT32(_f, _s)  VMSTATE_UINT32_V(_f, _s, 0)
#define VMSTATE_UINT64(_f, _s)  VMSTATE_UINT64_V(_f, _s, 0)

#define VMSTATE_BOOL_TEST(_f, _s, _t)                                   \
    VMSTATE_SINGLE_TEST(_f, _s, _t, 0, vmstate_info_bool, bool)
#define VMSTATE_UINT8_TEST(_f, _s, _t)                                  \
    VMSTATE_SINGLE_TEST(_f, _s, _t, 0, vmstate_info_uint8, uint8_t)
#define VMSTATE_UINT16_TEST(_f, _s, _t)                                 \
    VMSTATE_SINGLE_TEST(_f, _s, _t, 0, vmstate_info_uint16, uint16_t)
#define VMSTATE_UINT32_TEST(_f, _s, _t)                                 \
    VMSTATE_SINGLE_TEST(_f, _s, _t, 0, vmstate_info_uint32, uint32_t)
#define VMSTATE_INT32_TEST(_f, _s, _t)                                  \
    VMSTATE_SINGLE_TEST(_f, _s, _t, 0, vmstate_info_int32, int32_t)
#define VMSTATE_UINT64_TEST(_f, _s, _t)                                 \
    VMSTATE_SINGLE_TEST(_f, _s, _t, 0, vmstate_info_uint64, uint64_t)

/*
 * Checkers: sent like the plain type; the load fails unless the value
 * received equals the destination's current one (which is kept).
 */
#define VMSTATE_INT32_EQUAL(_f, _s)                                     \
    VMSTATE_SINGLE(_f, _s, 0, vmstate_info_int32_equal, int32_t)
#define VMSTATE_UINT8_EQUAL(_f, _s, _err_hint)                          \
    VMSTATE_SINGLE_FULL(_f, _s, NULL, 0, vmstate_info_uint8_equal,      \
                        uint8_t, _err_hint)
#define VMSTATE_UINT16_EQUAL(_f, _s, _err_hint)                         \
    VMSTATE_SINGLE_FULL(_f, _s, NULL, 0, vmstate_info_uint16_equal,     \
                        uint16_t, _err_hint)
#define VMSTATE_UINT16_EQUAL_V(_f, _s, _v, _err_hint)                   \
    VMSTATE_SINGLE_FULL(_f, _s, NULL, _v, vmstate_info_uint16_equal,    \
                        uint16_t, _err_hint)
#define VMSTATE_UINT32_EQUAL(_f, _s, _err_hint)                         \
    VMSTATE_SINGLE_FULL(_f, _s, NULL, 0, vmstate_info_uint32_equal,     \
                        uint32_t, _err_hint)
#define VMSTATE_UINT32_EQUAL_V(_f, _s, _v, _err_hint)                   \
    VMSTATE_SINGLE_FULL(_f, _s, NULL, _v, vmstate_info_uint32_equal,    \
                        uint32_t, _err_hint)
#define VMSTATE_UINT64_EQUAL(_f, _s, _err_hint)                         \
    VMSTATE_SINGLE_FULL(_f, _s, NULL, 0, vmstate_info_uint64_equal,     \
                        uint64_t, _err_hint)
#define VMSTATE_INT64_EQUAL(_f, _s, _err_hint)                          \
    VMSTATE_SINGLE_FULL(_f, _s, NULL, 0, vmstate_info_int64_equal,      \
                        int64_t, _err_hint)

/* The load fails unless 0 <= received <= current; stores the received. */
#define VMSTATE_INT32_POSITIVE_LE(_f, _s)                               \
    VMSTATE_SINGLE(_f, _s, 0, vmstate_info_int32_le, int32_t)
/* The pre-2.4 spelling of the same. */
#define VMSTATE_INT32_LE(_f, _s) VMSTATE_INT32_POSITIVE_LE(_f, _s)

/* ---- fixed arrays ---- */

#define VMSTATE_ARRAY_TEST(_field, _state, _num, _test, _info, _type) {\
    .name         = (#_field),                                          \
    .field_exists = (_test),                                            \
    .num          = (_num),                                             \
    .info         = &(_info),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_ARRAY,                                          \
    .offset       = vmstate_offset_array(_state, _field, _type, _num),  \
}

#define VMSTATE_ARRAY(_field, _state, _num, _version, _info, _type) {  \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .num          = (_num),                                             \
    .info         = &(_info),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_ARRAY,                                          \
    .offset       = vmstate_offset_array(_state, _field, _type, _num),  \
}

#define VMSTATE_BOOL_ARRAY_V(_f, _s, _n, _v)                            \
    VMSTATE_ARRAY(_f, _s, _n, _v, vmstate_info_bool, bool)
#define VMSTATE_UINT8_ARRAY_V(_f, _s, _n, _v)                           \
    VMSTATE_ARRAY(_f, _s, _n, _v, vmstate_info_uint8, uint8_t)
#define VMSTATE_UINT16_ARRAY_V(_f, _s, _n, _v)                          \
    VMSTATE_ARRAY(_f, _s, _n, _v, vmstate_info_uint16, uint16_t)
#define VMSTATE_UINT32_ARRAY_V(_f, _s, _n, _v)                          \
    VMSTATE_ARRAY(_f, _s, _n, _v, vmstate_info_uint32, uint32_t)
#define VMSTATE_UINT64_ARRAY_V(_f, _s, _n, _v)                          \
    VMSTATE_ARRAY(_f, _s, _n, _v, vmstate_info_uint64, uint64_t)
#define VMSTATE_INT16_ARRAY_V(_f, _s, _n, _v)                           \
    VMSTATE_ARRAY(_f, _s, _n, _v, vmstate_info_int16, int16_t)
#define VMSTATE_INT32_ARRAY_V(_f, _s, _n, _v)                           \
    VMSTATE_ARRAY(_f, _s, _n, _v, vmstate_info_int32, int32_t)
#define VMSTATE_INT64_ARRAY_V(_f, _s, _n, _v)                           \
    VMSTATE_ARRAY(_f, _s, _n, _v, vmstate_info_int64, int64_t)

#define VMSTATE_BOOL_ARRAY(_f, _s, _n)   VMSTATE_BOOL_ARRAY_V(_f, _s, _n, 0)
#define VMSTATE_UINT8_ARRAY(_f, _s, _n)  VMSTATE_UINT8_ARRAY_V(_f, _s, _n, 0)
#define VMSTATE_UINT16_ARRAY(_f, _s, _n) VMSTATE_UINT16_ARRAY_V(_f, _s, _n, 0)
#define VMSTATE_UINT32_ARRAY(_f, _s, _n) VMSTATE_UINT32_ARRAY_V(_f, _s, _n, 0)
#define VMSTATE_UINT64_ARRAY(_f, _s, _n) VMSTATE_UINT64_ARRAY_V(_f, _s, _n, 0)
#define VMSTATE_INT16_ARRAY(_f, _s, _n)  VMSTATE_INT16_ARRAY_V(_f, _s, _n, 0)
#define VMSTATE_INT32_ARRAY(_f, _s, _n)  VMSTATE_INT32_ARRAY_V(_f, _s, _n, 0)
#define VMSTATE_INT64_ARRAY(_f, _s, _n)  VMSTATE_INT64_ARRAY_V(_f, _s, _n, 0)

/* ---- variable arrays ---- */

/* The member is a pointer to _type; the count lives in _field_num. */
#define VMSTATE_VARRAY_INT32(_field, _state, _field_num, _version,      \
                             _info, _type) {                            \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .num_offset   = vmstate_offset_value(_state, _field_num, int32_t),  \
    .info         = &(_info),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_VARRAY_INT32 | VMS_POINTER,                     \
    .offset       = vmstate_offset_pointer(_state, _field, _type),      \
}

#define VMSTATE_VARRAY_UINT32(_field, _state, _field_num, _version,     \
                              _info, _type) {                           \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .num_offset   = vmstate_offset_value(_state, _field_num, uint32_t), \
    .info         = &(_info),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_VARRAY_UINT32 | VMS_POINTER,                    \
    .offset       = vmstate_offset_pointer(_state, _field, _type),      \
}

/*
 * As above, but the loader allocates the array (g_malloc'd, at most
 * VMSTATE_ALLOC_MAX bytes) and stores it over the pointer, as QEMU does:
 * a destination whose pointer owns memory must free it in pre_load.
 */
#define VMSTATE_VARRAY_UINT32_ALLOC(_field, _state, _field_num,         \
                                    _version, _info, _type) {           \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .num_offset   = vmstate_offset_value(_state, _field_num, uint32_t), \
    .info         = &(_info),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_VARRAY_UINT32 | VMS_POINTER | VMS_ALLOC,        \
    .offset       = vmstate_offset_pointer(_state, _field, _type),      \
}

/* In-place array of _type holding _field_num * _multiply elements. */
#define VMSTATE_VARRAY_MULTIPLY(_field, _state, _field_num, _multiply,  \
                                _info, _type) {                         \
    .name         = (#_field),                                          \
    .num_offset   = vmstate_offset_value(_state, _field_num, uint32_t), \
    .num          = (_multiply),                                        \
    .info         = &(_info),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_VARRAY_UINT32 | VMS_MULTIPLY_ELEMENTS,          \
    .offset       = vmstate_offset_varray(_state, _field, _type),       \
    .num_max      = vmstate_array_capacity(_state, _field, _type),      \
}

/* ---- buffers ---- */

/* Bytes [_start, _size) of the uint8_t array _field. */
#define VMSTATE_STATIC_BUFFER(_field, _state, _version, _test, _start,  \
                              _size) {                                  \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .field_exists = (_test),                                            \
    .size         = (_size) - (_start),                                 \
    .info         = &vmstate_info_buffer,                               \
    .flags        = VMS_BUFFER,                                         \
    .offset       = vmstate_offset_buffer(_state, _field) + (_start),   \
}

#define VMSTATE_BUFFER_V(_f, _s, _v)                                    \
    VMSTATE_STATIC_BUFFER(_f, _s, _v, NULL, 0, sizeof(typeof_field(_s, _f)))
#define VMSTATE_BUFFER(_f, _s)          VMSTATE_BUFFER_V(_f, _s, 0)
#define VMSTATE_BUFFER_TEST(_f, _s, _t)                                 \
    VMSTATE_STATIC_BUFFER(_f, _s, 0, _t, 0, sizeof(typeof_field(_s, _f)))
/* The first _size bytes of the array. */
#define VMSTATE_PARTIAL_BUFFER(_f, _s, _size)                           \
    VMSTATE_STATIC_BUFFER(_f, _s, 0, NULL, 0, _size)

/* In-place uint8_t array; the int32_t _field_size says how many bytes. */
#define VMSTATE_PARTIAL_VBUFFER(_field, _state, _field_size) {          \
    .name         = (#_field),                                          \
    .size_offset  = vmstate_offset_value(_state, _field_size, int32_t), \
    .info         = &vmstate_info_buffer,                               \
    .flags        = VMS_VBUFFER,                                        \
    .offset       = vmstate_offset_buffer(_state, _field),              \
    .size_max     = sizeof(typeof_field(_state, _field)),               \
}

#define VMSTATE_PARTIAL_VBUFFER_UINT32(_field, _state, _field_size) {   \
    .name         = (#_field),                                          \
    .size_offset  = vmstate_offset_value(_state, _field_size, uint32_t),\
    .info         = &vmstate_info_buffer,                               \
    .flags        = VMS_VBUFFER,                                        \
    .offset       = vmstate_offset_buffer(_state, _field),              \
    .size_max     = sizeof(typeof_field(_state, _field)),               \
}

/* The member points to a buffer of _field_size (uint32_t) bytes. */
#define VMSTATE_VBUFFER_UINT32(_field, _state, _version, _test,         \
                               _field_size) {                           \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .field_exists = (_test),                                            \
    .size_offset  = vmstate_offset_value(_state, _field_size, uint32_t),\
    .info         = &vmstate_info_buffer,                               \
    .flags        = VMS_VBUFFER | VMS_POINTER,                          \
    .offset       = offsetof(_state, _field),                           \
}

/* As above, but allocated by the loader (see VMSTATE_VARRAY_UINT32_ALLOC). */
#define VMSTATE_VBUFFER_ALLOC_UINT32(_field, _state, _version, _test,   \
                                     _field_size) {                     \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .field_exists = (_test),                                            \
    .size_offset  = vmstate_offset_value(_state, _field_size, uint32_t),\
    .info         = &vmstate_info_buffer,                               \
    .flags        = VMS_VBUFFER | VMS_POINTER | VMS_ALLOC,              \
    .offset       = offsetof(_state, _field),                           \
}

/* Pointer to _field_size * _multiply bytes. */
#define VMSTATE_VBUFFER_MULTIPLY(_field, _state, _version, _test,       \
                                 _field_size, _multiply) {              \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .field_exists = (_test),                                            \
    .size_offset  = vmstate_offset_value(_state, _field_size, uint32_t),\
    .size         = (_multiply),                                        \
    .info         = &vmstate_info_buffer,                               \
    .flags        = VMS_VBUFFER | VMS_POINTER | VMS_MULTIPLY,           \
    .offset       = offsetof(_state, _field),                           \
}

/* _size bytes no longer used: zeros on save, skipped on load. */
#define VMSTATE_UNUSED_BUFFER(_test, _version, _size) {                 \
    .name         = "unused",                                           \
    .field_exists = (_test),                                            \
    .version_id   = (_version),                                         \
    .size         = (_size),                                            \
    .info         = &vmstate_info_unused_buffer,                        \
    .flags        = VMS_BUFFER,                                         \
}
#define VMSTATE_UNUSED_V(_v, _size)  VMSTATE_UNUSED_BUFFER(NULL, _v, _size)
#define VMSTATE_UNUSED(_size)        VMSTATE_UNUSED_V(0, _size)
#define VMSTATE_UNUSED_TEST(_test, _size)                               \
    VMSTATE_UNUSED_BUFFER(_test, 0, _size)

/*
 * The member is an unsigned long * bitmap of _field_size (int32_t) bits,
 * sent as ceil(bits / 64) be64 words.
 */
#define VMSTATE_BITMAP(_field, _state, _version, _field_size) {         \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .size_offset  = vmstate_offset_value(_state, _field_size, int32_t), \
    .info         = &vmstate_info_bitmap,                               \
    .flags        = VMS_VBUFFER | VMS_POINTER,                          \
    .offset       = offsetof(_state, _field),                           \
}

/* ---- nested structures ---- */

#define VMSTATE_STRUCT_TEST(_field, _state, _test, _version, _vmsd,     \
                            _type) {                                    \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .field_exists = (_test),                                            \
    .vmsd         = &(_vmsd),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_STRUCT,                                         \
    .offset       = vmstate_offset_value(_state, _field, _type),        \
}
#define VMSTATE_STRUCT(_field, _state, _version, _vmsd, _type)         \
    VMSTATE_STRUCT_TEST(_field, _state, NULL, _version, _vmsd, _type)

/* Like VMSTATE_STRUCT, sent as version _struct_version of _vmsd. */
#define VMSTATE_VSTRUCT_TEST(_field, _state, _test, _version, _vmsd,    \
                             _type, _struct_version) {                  \
    .name              = (#_field),                                     \
    .version_id        = (_version),                                    \
    .struct_version_id = (_struct_version),                             \
    .field_exists      = (_test),                                       \
    .vmsd              = &(_vmsd),                                      \
    .size              = sizeof(_type),                                 \
    .flags             = VMS_VSTRUCT,                                   \
    .offset            = vmstate_offset_value(_state, _field, _type),   \
}
#define VMSTATE_VSTRUCT(_f, _s, _vmsd, _type, _sv)                      \
    VMSTATE_VSTRUCT_TEST(_f, _s, NULL, 0, _vmsd, _type, _sv)
#define VMSTATE_VSTRUCT_V(_f, _s, _v, _vmsd, _type, _sv)                \
    VMSTATE_VSTRUCT_TEST(_f, _s, NULL, _v, _vmsd, _type, _sv)

#define VMSTATE_STRUCT_POINTER_V(_field, _state, _version, _vmsd,       \
                                 _type) {                               \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .vmsd         = &(_vmsd),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_STRUCT | VMS_POINTER,                           \
    .offset       = vmstate_offset_pointer(_state, _field, _type),      \
}
#define VMSTATE_STRUCT_POINTER(_f, _s, _vmsd, _type)                    \
    VMSTATE_STRUCT_POINTER_V(_f, _s, 0, _vmsd, _type)

#define VMSTATE_STRUCT_ARRAY_TEST(_field, _state, _num, _test, _version,\
                                  _vmsd, _type) {                       \
    .name         = (#_field),                                          \
    .num          = (_num),                                             \
    .field_exists = (_test),                                            \
    .version_id   = (_version),                                         \
    .vmsd         = &(_vmsd),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_STRUCT | VMS_ARRAY,                             \
    .offset       = vmstate_offset_array(_state, _field, _type, _num),  \
}
#define VMSTATE_STRUCT_ARRAY(_f, _s, _n, _v, _vmsd, _type)              \
    VMSTATE_STRUCT_ARRAY_TEST(_f, _s, _n, NULL, _v, _vmsd, _type)

/* In-place struct arrays whose count lives in another member. */
#define VMSTATE_STRUCT_VARRAY_TYPED(_field, _state, _field_num, _ctype, \
                                    _flag, _version, _vmsd, _type) {    \
    .name         = (#_field),                                          \
    .num_offset   = vmstate_offset_value(_state, _field_num, _ctype),   \
    .version_id   = (_version),                                         \
    .vmsd         = &(_vmsd),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_STRUCT | (_flag),                               \
    .offset       = vmstate_offset_varray(_state, _field, _type),       \
    .num_max      = vmstate_array_capacity(_state, _field, _type),      \
}
#define VMSTATE_STRUCT_VARRAY_UINT8(_f, _s, _fn, _v, _vmsd, _type)      \
    VMSTATE_STRUCT_VARRAY_TYPED(_f, _s, _fn, uint8_t, VMS_VARRAY_UINT8, \
                                _v, _vmsd, _type)
#define VMSTATE_STRUCT_VARRAY_UINT32(_f, _s, _fn, _v, _vmsd, _type)     \
    VMSTATE_STRUCT_VARRAY_TYPED(_f, _s, _fn, uint32_t,                  \
                                VMS_VARRAY_UINT32, _v, _vmsd, _type)
#define VMSTATE_STRUCT_VARRAY_INT32(_f, _s, _fn, _v, _vmsd, _type)      \
    VMSTATE_STRUCT_VARRAY_TYPED(_f, _s, _fn, int32_t, VMS_VARRAY_INT32, \
                                _v, _vmsd, _type)

/* The member points to an array of _type; count in _field_num. */
#define VMSTATE_STRUCT_VARRAY_POINTER_UINT32(_field, _state, _field_num,\
                                             _vmsd, _type) {            \
    .name         = (#_field),                                          \
    .num_offset   = vmstate_offset_value(_state, _field_num, uint32_t), \
    .vmsd         = &(_vmsd),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_POINTER | VMS_VARRAY_UINT32 | VMS_STRUCT,       \
    .offset       = vmstate_offset_pointer(_state, _field, _type),      \
}
#define VMSTATE_STRUCT_VARRAY_POINTER_INT32(_field, _state, _field_num, \
                                            _vmsd, _type) {             \
    .name         = (#_field),                                          \
    .num_offset   = vmstate_offset_value(_state, _field_num, int32_t),  \
    .vmsd         = &(_vmsd),                                           \
    .size         = sizeof(_type),                                      \
    .flags        = VMS_POINTER | VMS_VARRAY_INT32 | VMS_STRUCT,        \
    .offset       = vmstate_offset_pointer(_state, _field, _type),      \
}

/*
 * _type *_field[_num]: each element points to a _type; a NULL element
 * travels as the byte VMS_NULLPTR_MARKER.
 */
#define VMSTATE_ARRAY_OF_POINTER_TO_STRUCT(_field, _state, _num,        \
                                           _version, _vmsd, _type) {    \
    .name         = (#_field),                                          \
    .version_id   = (_version),                                         \
    .num          = (_num),                                             \
    .vmsd         = &(_vmsd),                                           \
    .size         = sizeof(_type *),                                    \
    .flags        = VMS_ARRAY | VMS_STRUCT | VMS_ARRAY_OF_POINTER,      \
    .offset       = vmstate_offset_array(_state, _field, _type *, _num),\
}

/* ---- pseudo-fields ---- */

/*
 * No bytes: _test runs on save and load, and the load fails (the save
 * too) when it returns false.
 */
#define VMSTATE_VALIDATE(_name, _test) {                                \
    .name         = (_name),                                            \
    .field_exists = (_test),                                            \
    .flags        = VMS_ARRAY | VMS_MUST_EXIST,                         \
    .num          = 0,                                                  \
}

#define VMSTATE_END_OF_LIST() { .flags = VMS_END }

#endif
