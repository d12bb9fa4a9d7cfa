/*
 * bitmap.h: arrays of unsigned long used as bit sets (dirty logs, received
 * maps).  Bit n lives in word n / BITS_PER_LONG at position n % BITS_PER_LONG,
 * the layout QEMU and Linux use.  The *_atomic variants may race with each
 * other and with plain readers; the rest need external serialisation.
 */
#ifndef QEMU_BITMAP_H
#define QEMU_BITMAP_H

#include "qemu/osdep.h"
#include "qemu/atomic.h"

#define BITS_PER_BYTE      8
#define BITS_PER_LONG      (sizeof(unsigned long) * BITS_PER_BYTE)
#define BITS_TO_LONGS(nr)  DIV_ROUND_UP(nr, BITS_PER_LONG)
#define BIT_WORD(nr)       ((nr) / BITS_PER_LONG)
#define BIT_MASK(nr)       (1UL << ((nr) % BITS_PER_LONG))

static inline unsigned long *bitmap_new(size_t nbits)
{
    return g_new0(unsigned long, BITS_TO_LONGS(nbits));
}

static inline void set_bit(size_t nr, unsigned long *addr)
{
    addr[BIT_WORD(nr)] |= BIT_MASK(nr);
}

static inline void clear_bit(size_t nr, unsigned long *addr)
{
    addr[BIT_WORD(nr)] &= ~BIT_MASK(nr);
}

static inline bool test_bit(size_t nr, const unsigned long *addr)
{
    return (qatomic_read(&addr[BIT_WORD(nr)]) & BIT_MASK(nr)) != 0;
}

static inline void set_bit_atomic(size_t nr, unsigned long *addr)
{
    qatomic_or(&addr[BIT_WORD(nr)], BIT_MASK(nr));
}

static inline void clear_bit_atomic(size_t nr, unsigned long *addr)
{
    qatomic_and(&addr[BIT_WORD(nr)], ~BIT_MASK(nr));
}

/* Returns the old value of the bit. */
static inline bool test_and_clear_bit(size_t nr, unsigned long *addr)
{
    unsigned long old = addr[BIT_WORD(nr)];

    addr[BIT_WORD(nr)] = old & ~BIT_MASK(nr);
    return (old & BIT_MASK(nr)) != 0;
}

static inline bool test_and_set_bit_atomic(size_t nr, unsigned long *addr)
{
    return (qatomic_fetch_or(&addr[BIT_WORD(nr)], BIT_MASK(nr)) &
            BIT_MASK(nr)) != 0;
}

static inline bool test_and_clear_bit_atomic(size_t nr, unsigned long *addr)
{
    return (qatomic_fetch_and(&addr[BIT_WORD(nr)], ~BIT_MASK(nr)) &
            BIT_MASK(nr)) != 0;
}

void bitmap_set(unsigned long *map, size_t start, size_t nr);
void bitmap_set_atomic(unsigned long *map, size_t start, size_t nr);
void bitmap_clear(unsigned long *map, size_t start, size_t nr);
void bitmap_fill(unsigned long *map, size_t nbits);
void bitmap_zero(unsigned long *map, size_t nbits);
bool bitmap_empty(const unsigned long *map, size_t nbits);
bool bitmap_full(const unsigned long *map, size_t nbits);
size_t bitmap_count_one(const unsigned long *map, size_t nbits);
size_t bitmap_count_one_with_offset(const unsigned long *map, size_t offset,
                                    size_t nbits);
/* Clears [start, start+nr) atomically and returns whether any bit was set. */
bool bitmap_test_and_clear_atomic(unsigned long *map, size_t start, size_t nr);

/* First set / clear bit at or after @offset, or @size if there is none. */
size_t find_next_bit(const unsigned long *addr, size_t size, size_t offset);
size_t find_next_zero_bit(const unsigned long *addr, size_t size,
                          size_t offset);
static inline size_t find_first_bit(const unsigned long *addr, size_t size)
{
    return find_next_bit(addr, size, 0);
}

/*
 * Little-endian byte-stream form used on the wire by RECV_BITMAP: bit i of
 * byte j is bit 8j+i.  @dst/@src hold DIV_ROUND_UP(nbits, 8) bytes.
 */
void bitmap_to_le_bytes(uint8_t *dst, const unsigned long *src, size_t nbits);
void bitmap_from_le_bytes(unsigned long *dst, const uint8_t *src,
                          size_t nbits);

#endif
