/*
 * vmstate-types.c: the VMStateInfo implementations — how each basic type
 * travels inside vmstate data (spec §3.1).
 *
 * Design note
 *
 * Every integer is big-endian, at its own width; bool is one byte.  A
 * get() may read past the end of the stream: the QEMUFile then returns
 * zeros and records a sticky truncation error, which the engine checks
 * after every element and reports instead of the zeros.  The checkers
 * ("... equal", "int32 le") look at the file's error before they judge
 * the value, so a short stream is never mistaken for a mismatch and
 * never modifies the destination.
 *
 * The "name" of each info is what appears as "type" in the JSON
 * description, so the strings are QEMU's, including its oddities: both
 * 64-bit checkers are called "int64 equal", and "unused_buffer" has an
 * underscore where "int32 equal" has a space.
 */
#include "qemu/osdep.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qemu-file.h"

/* ---- bool ---- */

static int get_bool(QEMUFile *f, void *pv, size_t size,
                    const VMStateField *field, Error **errp)
{
    /* QEMU reads any non-zero byte as true. */
    *(bool *)pv = qemu_get_byte(f) != 0;
    return 0;
}

static int put_bool(QEMUFile *f, void *pv, size_t size,
                    const VMStateField *field, JSONWriter *vmdesc,
                    Error **errp)
{
    qemu_put_byte(f, *(bool *)pv ? 1 : 0);
    return 0;
}

const VMStateInfo vmstate_info_bool = {
    .name = "bool",
    .get = get_bool,
    .put = put_bool,
};

/* ---- plain integers ---- */

/*
 * One get/put pair per integer type: @rd and @wr are the QEMUFile
 * accessors of the right width and signedness.
 */
#define VMSTATE_INT_INFO(tname, ctype, rd, wr)                          \
    static int get_##tname(QEMUFile *f, void *pv, size_t size,          \
                           const VMStateField *field, Error **errp)     \
    {                                                                   \
        *(ctype *)pv = (ctype)rd(f);                                    \
        return 0;                                                       \
    }                                                                   \
    static int put_##tname(QEMUFile *f, void *pv, size_t size,          \
                           const VMStateField *field,                   \
                           JSONWriter *vmdesc, Error **errp)            \
    {                                                                   \
        wr(f, *(ctype *)pv);                                            \
        return 0;                                                       \
    }                                                                   \
    const VMStateInfo vmstate_info_##tname = {                          \
        .name = #tname,                                                 \
        .get = get_##tname,                                             \
        .put = put_##tname,                                             \
    }

VMSTATE_INT_INFO(int8, int8_t, qemu_get_sbyte, qemu_put_sbyte);
VMSTATE_INT_INFO(int16, int16_t, qemu_get_sbe16, qemu_put_sbe16);
VMSTATE_INT_INFO(int32, int32_t, qemu_get_sbe32, qemu_put_sbe32);
VMSTATE_INT_INFO(int64, int64_t, qemu_get_sbe64, qemu_put_sbe64);
VMSTATE_INT_INFO(uint8, uint8_t, qemu_get_byte, qemu_put_byte);
VMSTATE_INT_INFO(uint16, uint16_t, qemu_get_be16, qemu_put_be16);
VMSTATE_INT_INFO(uint32, uint32_t, qemu_get_be32, qemu_put_be32);
VMSTATE_INT_INFO(uint64, uint64_t, qemu_get_be64, qemu_put_be64);

/* ---- checkers ---- */

/*
 * Sent like the plain type.  On load the value must equal what the
 * destination already has (a property both sides must agree on: a
 * register count, a configured size); the destination keeps its value.
 */
#define VMSTATE_EQUAL_INFO(tname, label, ctype, rd, putfn, fmt)           \
    static int get_##tname(QEMUFile *f, void *pv, size_t size,          \
                           const VMStateField *field, Error **errp)     \
    {                                                                   \
        ctype v = (ctype)rd(f);                                         \
        ctype cur = *(ctype *)pv;                                       \
                                                                        \
        if (qemu_file_get_error(f)) {                                   \
            return qemu_file_get_error_obj(f, errp);                    \
        }                                                               \
        if (v == cur) {                                                 \
            return 0;                                                   \
        }                                                               \
        error_setg(errp, "received value %" fmt ", expected %" fmt,     \
                   v, cur);                                             \
        if (field && field->err_hint) {                                 \
            error_append_hint(errp, "%s\n", field->err_hint);           \
        }                                                               \
        return -EINVAL;                                                 \
    }                                                                   \
    const VMStateInfo vmstate_info_##tname = {                          \
        .name = label,                                                  \
        .get = get_##tname,                                             \
        .put = putfn,                                                   \
    }

VMSTATE_EQUAL_INFO(int32_equal, "int32 equal", int32_t, qemu_get_sbe32,
                   put_int32, PRId32);
VMSTATE_EQUAL_INFO(uint8_equal, "uint8 equal", uint8_t, qemu_get_byte,
                   put_uint8, PRIu8);
VMSTATE_EQUAL_INFO(uint16_equal, "uint16 equal", uint16_t, qemu_get_be16,
                   put_uint16, PRIu16);
VMSTATE_EQUAL_INFO(uint32_equal, "uint32 equal", uint32_t, qemu_get_be32,
                   put_uint32, PRIu32);
VMSTATE_EQUAL_INFO(uint64_equal, "int64 equal", uint64_t, qemu_get_be64,
                   put_uint64, PRIu64);
VMSTATE_EQUAL_INFO(int64_equal, "int64 equal", int64_t, qemu_get_sbe64,
                   put_int64, PRId64);

/*
 * "int32 le": the received value must lie in [0, current]; it then
 * replaces the current one.  Devices put it before a pointer array whose
 * length it gives, so that the array cannot outgrow the destination's.
 */
static int get_int32_le(QEMUFile *f, void *pv, size_t size,
                        const VMStateField *field, Error **errp)
{
    int32_t *cur = pv;
    int32_t v = qemu_get_sbe32(f);

    if (qemu_file_get_error(f)) {
        return qemu_file_get_error_obj(f, errp);
    }
    if (v >= 0 && v <= *cur) {
        *cur = v;
        return 0;
    }
    error_setg(errp, "received value %" PRId32 ", expected a value "
               "between 0 and %" PRId32, v, *cur);
    return -EINVAL;
}

const VMStateInfo vmstate_info_int32_le = {
    .name = "int32 le",
    .get = get_int32_le,
    .put = put_int32,
};

/* ---- byte buffers ---- */

static int get_buffer(QEMUFile *f, void *pv, size_t size,
                      const VMStateField *field, Error **errp)
{
    qemu_get_buffer(f, pv, size);
    return 0;
}

static int put_buffer(QEMUFile *f, void *pv, size_t size,
                      const VMStateField *field, JSONWriter *vmdesc,
                      Error **errp)
{
    qemu_put_buffer(f, pv, size);
    return 0;
}

const VMStateInfo vmstate_info_buffer = {
    .name = "buffer",
    .get = get_buffer,
    .put = put_buffer,
};

/*
 * Room left by a field that no longer exists, kept so that old streams
 * still parse: zeros out, skipped in.  @pv is meaningless here.
 */
static int get_unused_buffer(QEMUFile *f, void *pv, size_t size,
                             const VMStateField *field, Error **errp)
{
    qemu_file_skip(f, size);
    return 0;
}

static int put_unused_buffer(QEMUFile *f, void *pv, size_t size,
                             const VMStateField *field, JSONWriter *vmdesc,
                             Error **errp)
{
    qemu_put_zeroes(f, size);
    return 0;
}

const VMStateInfo vmstate_info_unused_buffer = {
    .name = "unused_buffer",
    .get = get_unused_buffer,
    .put = put_unused_buffer,
};

/* ---- bitmap ---- */

/*
 * @size is the number of bits.  The wire has 64-bit words whatever the
 * host's long: bit k of word w is bit 64w + k.  Bits past @size in the
 * last word travel as they are, as in QEMU.
 */
static int get_bitmap(QEMUFile *f, void *pv, size_t size,
                      const VMStateField *field, Error **errp)
{
    unsigned long *map = pv;
    size_t longs = DIV_ROUND_UP(size, sizeof(unsigned long) * 8);
    size_t idx = 0;

    for (size_t w = 0; w < DIV_ROUND_UP(size, 64); w++) {
        uint64_t word = qemu_get_be64(f);

        map[idx++] = (unsigned long)word;
        if (sizeof(unsigned long) == 4 && idx < longs) {
            map[idx++] = (unsigned long)(word >> 32);
        }
    }
    return 0;
}

static int put_bitmap(QEMUFile *f, void *pv, size_t size,
                      const VMStateField *field, JSONWriter *vmdesc,
                      Error **errp)
{
    const unsigned long *map = pv;
    size_t longs = DIV_ROUND_UP(size, sizeof(unsigned long) * 8);
    size_t idx = 0;

    for (size_t w = 0; w < DIV_ROUND_UP(size, 64); w++) {
        uint64_t word = map[idx++];

        if (sizeof(unsigned long) == 4 && idx < longs) {
            word |= (uint64_t)map[idx++] << 32;
        }
        qemu_put_be64(f, word);
    }
    return 0;
}

const VMStateInfo vmstate_info_bitmap = {
    .name = "bitmap",
    .get = get_bitmap,
    .put = put_bitmap,
};

/* ---- NULL element of an array of pointers ---- */

static int get_nullptr(QEMUFile *f, void *pv, size_t size,
                       const VMStateField *field, Error **errp)
{
    int b = qemu_get_byte(f);

    if (qemu_file_get_error(f)) {
        return qemu_file_get_error_obj(f, errp);
    }
    if (b == VMS_NULLPTR_MARKER) {
        return 0;
    }
    /* The source had an element where the destination has none. */
    error_setg(errp, "received 0x%02x where the null-pointer marker 0x%02x "
               "was expected", b, VMS_NULLPTR_MARKER);
    return -EINVAL;
}

static int put_nullptr(QEMUFile *f, void *pv, size_t size,
                       const VMStateField *field, JSONWriter *vmdesc,
                       Error **errp)
{
    qemu_put_byte(f, VMS_NULLPTR_MARKER);
    return 0;
}

const VMStateInfo vmstate_info_nullptr = {
    .name = "nullptr",
    .get = get_nullptr,
    .put = put_nullptr,
};
