/*
 * bufferiszero.h: fast "is this memory all zero" test (zero pages).
 */
#ifndef QEMU_BUFFERISZERO_H
#define QEMU_BUFFERISZERO_H

#include "qemu/osdep.h"

/* True if @len bytes at @buf are all zero; @len may be anything. */
bool buffer_is_zero(const void *buf, size_t len);

#endif
