/*
 * qemu-file-types.h: reading and writing the migration stream, the part
 * of the QEMUFile API that device code uses.
 *
 * Every multi-byte integer on the wire is big-endian.  Errors are sticky:
 * after the first failure every put is dropped and every get returns 0,
 * and qemu_file_get_error() reports the first error; callers check it at
 * natural boundaries rather than after every call.
 */
#ifndef MIGRATION_QEMU_FILE_TYPES_H
#define MIGRATION_QEMU_FILE_TYPES_H

#include "qemu/osdep.h"

typedef struct QEMUFile QEMUFile;

void qemu_put_byte(QEMUFile *f, int v);
void qemu_put_be16(QEMUFile *f, unsigned int v);
void qemu_put_be32(QEMUFile *f, unsigned int v);
void qemu_put_be64(QEMUFile *f, uint64_t v);
void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size);
/* Writes @size zero bytes. */
void qemu_put_zeroes(QEMUFile *f, size_t size);

int qemu_get_byte(QEMUFile *f);
unsigned int qemu_get_be16(QEMUFile *f);
unsigned int qemu_get_be32(QEMUFile *f);
uint64_t qemu_get_be64(QEMUFile *f);
/* Returns the number of bytes read (< size only after an error). */
size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size);
/* Skips @size bytes. */
void qemu_file_skip(QEMUFile *f, size_t size);

static inline void qemu_put_sbyte(QEMUFile *f, int8_t v)
{
    qemu_put_byte(f, (uint8_t)v);
}
static inline void qemu_put_sbe16(QEMUFile *f, int16_t v)
{
    qemu_put_be16(f, (uint16_t)v);
}
static inline void qemu_put_sbe32(QEMUFile *f, int32_t v)
{
    qemu_put_be32(f, (uint32_t)v);
}
static inline void qemu_put_sbe64(QEMUFile *f, int64_t v)
{
    qemu_put_be64(f, (uint64_t)v);
}
static inline int8_t qemu_get_sbyte(QEMUFile *f)
{
    return (int8_t)qemu_get_byte(f);
}
static inline int16_t qemu_get_sbe16(QEMUFile *f)
{
    return (int16_t)qemu_get_be16(f);
}
static inline int32_t qemu_get_sbe32(QEMUFile *f)
{
    return (int32_t)qemu_get_be32(f);
}
static inline int64_t qemu_get_sbe64(QEMUFile *f)
{
    return (int64_t)qemu_get_be64(f);
}

/* 0, or the first error (-errno) seen on @f. */
int qemu_file_get_error(QEMUFile *f);
/* Records @ret (-errno) as the error unless one is already recorded. */
void qemu_file_set_error(QEMUFile *f, int ret);
/*
 * Records an error with a message (taking ownership of @err) unless one is
 * recorded already.  The message is what the migration reports.
 */
void qemu_file_set_error_obj(QEMUFile *f, int ret, struct Error *err);

/* Offset of the next byte to read (or write) in the stream. */
uint64_t qemu_file_tell(QEMUFile *f);

#endif
