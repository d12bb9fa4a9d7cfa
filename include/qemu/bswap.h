/*
 * bswap.h: big-endian loads and stores at any alignment, the names QEMU
 * uses (stl_be_p: store long, big-endian, through a pointer).  The wire
 * formats (return path, multifd packets) are big-endian throughout.
 */
#ifndef QEMU_BSWAP_H
#define QEMU_BSWAP_H

#include <stdint.h>

static inline void stl_be_p(void *ptr, uint32_t v)
{
    uint8_t *p = ptr;

    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static inline void stq_be_p(void *ptr, uint64_t v)
{
    stl_be_p(ptr, v >> 32);
    stl_be_p((uint8_t *)ptr + 4, v);
}

static inline uint32_t ldl_be_p(const void *ptr)
{
    const uint8_t *p = ptr;

    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t ldq_be_p(const void *ptr)
{
    return (uint64_t)ldl_be_p(ptr) << 32 |
           ldl_be_p((const uint8_t *)ptr + 4);
}

#endif
