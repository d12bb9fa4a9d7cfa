/*
 * bitmap.c: range operations and searches on unsigned-long bitmaps.
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"

void bitmap_set(unsigned long *map, size_t start, size_t nr)
{
    size_t end = start + nr;

    while (start < end && start % BITS_PER_LONG) {
        set_bit(start++, map);
    }
    while (end - start >= BITS_PER_LONG) {
        map[BIT_WORD(start)] = ~0UL;
        start += BITS_PER_LONG;
    }
    while (start < end) {
        set_bit(start++, map);
    }
}

void bitmap_set_atomic(unsigned long *map, size_t start, size_t nr)
{
    size_t end = start + nr;

    while (start < end && start % BITS_PER_LONG) {
        set_bit_atomic(start++, map);
    }
    while (end - start >= BITS_PER_LONG) {
        qatomic_or(&map[BIT_WORD(start)], ~0UL);
        start += BITS_PER_LONG;
    }
    while (start < end) {
        set_bit_atomic(start++, map);
    }
}

void bitmap_clear(unsigned long *map, size_t start, size_t nr)
{
    size_t end = start + nr;

    while (start < end && start % BITS_PER_LONG) {
        clear_bit(start++, map);
    }
    while (end - start >= BITS_PER_LONG) {
        map[BIT_WORD(start)] = 0;
        start += BITS_PER_LONG;
    }
    while (start < end) {
        clear_bit(start++, map);
    }
}

bool bitmap_test_and_clear_atomic(unsigned long *map, size_t start, size_t nr)
{
    size_t end = start + nr;
    bool dirty = false;

    while (start < end && start % BITS_PER_LONG) {
        dirty |= test_and_clear_bit_atomic(start++, map);
    }
    while (end - start >= BITS_PER_LONG) {
        dirty |= qatomic_xchg(&map[BIT_WORD(start)], 0UL) != 0;
        start += BITS_PER_LONG;
    }
    while (start < end) {
        dirty |= test_and_clear_bit_atomic(start++, map);
    }
    return dirty;
}

void bitmap_zero(unsigned long *map, size_t nbits)
{
    memset(map, 0, BITS_TO_LONGS(nbits) * sizeof(unsigned long));
}

void bitmap_fill(unsigned long *map, size_t nbits)
{
    bitmap_zero(map, nbits);
    bitmap_set(map, 0, nbits);
}

bool bitmap_empty(const unsigned long *map, size_t nbits)
{
    return find_next_bit(map, nbits, 0) == nbits;
}

bool bitmap_full(const unsigned long *map, size_t nbits)
{
    return find_next_zero_bit(map, nbits, 0) == nbits;
}

size_t bitmap_count_one(const unsigned long *map, size_t nbits)
{
    size_t i, n = 0, words = nbits / BITS_PER_LONG;

    for (i = 0; i < words; i++) {
        n += __builtin_popcountl(map[i]);
    }
    if (nbits % BITS_PER_LONG) {
        unsigned long last = map[words] &
                             (BIT_MASK(nbits % BITS_PER_LONG) - 1);
        n += __builtin_popcountl(last);
    }
    return n;
}

size_t bitmap_count_one_with_offset(const unsigned long *map, size_t offset,
                                    size_t nbits)
{
    size_t n = 0, i = offset, end = offset + nbits;

    while (i < end && i % BITS_PER_LONG) {
        n += test_bit(i++, map);
    }
    while (end - i >= BITS_PER_LONG) {
        n += __builtin_popcountl(map[BIT_WORD(i)]);
        i += BITS_PER_LONG;
    }
    while (i < end) {
        n += test_bit(i++, map);
    }
    return n;
}

static size_t find_next(const unsigned long *addr, size_t size,
                        size_t offset, unsigned long invert)
{
    size_t idx;
    unsigned long word;

    if (offset >= size) {
        return size;
    }
    idx = BIT_WORD(offset);
    word = (qatomic_read(&addr[idx]) ^ invert) &
           (~0UL << (offset % BITS_PER_LONG));
    for (;;) {
        if (word) {
            size_t bit = idx * BITS_PER_LONG + __builtin_ctzl(word);
            return bit < size ? bit : size;
        }
        idx++;
        if (idx * BITS_PER_LONG >= size) {
            return size;
        }
        word = qatomic_read(&addr[idx]) ^ invert;
    }
}

size_t find_next_bit(const unsigned long *addr, size_t size, size_t offset)
{
    return find_next(addr, size, offset, 0);
}

size_t find_next_zero_bit(const unsigned long *addr, size_t size,
                          size_t offset)
{
    return find_next(addr, size, offset, ~0UL);
}

void bitmap_to_le_bytes(uint8_t *dst, const unsigned long *src, size_t nbits)
{
    size_t nbytes = DIV_ROUND_UP(nbits, 8), i;

    memset(dst, 0, nbytes);
    for (i = 0; i < nbits; i++) {
        if (test_bit(i, src)) {
            dst[i / 8] |= 1u << (i % 8);
        }
    }
}

void bitmap_from_le_bytes(unsigned long *dst, const uint8_t *src,
                          size_t nbits)
{
    size_t i;

    bitmap_zero(dst, nbits);
    for (i = 0; i < nbits; i++) {
        if (src[i / 8] & (1u << (i % 8))) {
            set_bit(i, dst);
        }
    }
}
