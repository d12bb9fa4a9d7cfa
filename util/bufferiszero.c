/*
 * bufferiszero.c: zero-page detection.
 *
 * Migration asks this of every page it sends, so it must be fast on both
 * outcomes: random data fails on the first words, and a zero page is
 * scanned at memory speed by OR-ing 64-byte blocks (which compilers turn
 * into vector code) and testing once per block.
 */
#include "qemu/osdep.h"
#include "qemu/bufferiszero.h"

bool buffer_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    const uint64_t *w;
    size_t n;

    /* Unaligned head, byte by byte. */
    while (len && ((uintptr_t)p & 7)) {
        if (*p++) {
            return false;
        }
        len--;
    }
    w = (const uint64_t *)p;
    /* Fast rejection of the common non-zero case. */
    if (len >= 32 && (w[0] | w[1] | w[2] | w[3])) {
        return false;
    }
    for (n = len / 64; n; n--, w += 8) {
        uint64_t t = w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7];

        if (t) {
            return false;
        }
    }
    p = (const unsigned char *)w;
    for (len &= 63; len; len--) {
        if (*p++) {
            return false;
        }
    }
    return true;
}
