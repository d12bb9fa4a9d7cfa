/*
 * test-bitmap: range operations, searches, atomic harvest and the
 * little-endian wire form used by RECV_BITMAP.
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"

static void test_set_clear_find(void)
{
    const size_t n = 1000;
    g_autofree unsigned long *map = bitmap_new(n);

    g_assert_true(bitmap_empty(map, n));
    g_assert_cmpuint(find_first_bit(map, n), ==, n);
    bitmap_set(map, 3, 130);
    g_assert_cmpuint(bitmap_count_one(map, n), ==, 130);
    g_assert_cmpuint(find_first_bit(map, n), ==, 3);
    g_assert_cmpuint(find_next_zero_bit(map, n, 3), ==, 133);
    g_assert_cmpuint(find_next_bit(map, n, 133), ==, n);
    bitmap_clear(map, 64, 64);
    g_assert_cmpuint(bitmap_count_one(map, n), ==, 66);
    g_assert_cmpuint(find_next_bit(map, n, 64), ==, 128);
    g_assert_cmpuint(bitmap_count_one_with_offset(map, 60, 10), ==, 4);
    bitmap_fill(map, n);
    g_assert_true(bitmap_full(map, n));
    g_assert_cmpuint(bitmap_count_one(map, n), ==, n);
}

static void test_atomic_harvest(void)
{
    const size_t n = 300;
    g_autofree unsigned long *map = bitmap_new(n);

    bitmap_set_atomic(map, 10, 200);
    g_assert_true(bitmap_test_and_clear_atomic(map, 0, 50));
    g_assert_cmpuint(bitmap_count_one(map, n), ==, 160);
    g_assert_false(bitmap_test_and_clear_atomic(map, 0, 50));
    g_assert_true(test_and_set_bit_atomic(100, map));
    g_assert_false(test_and_set_bit_atomic(299, map));
}

static void test_le_bytes(void)
{
    const size_t n = 70;
    g_autofree unsigned long *map = bitmap_new(n);
    g_autofree unsigned long *back = bitmap_new(n);
    uint8_t bytes[9];

    set_bit(0, map);
    set_bit(9, map);
    set_bit(69, map);
    bitmap_to_le_bytes(bytes, map, n);
    g_assert_cmphex(bytes[0], ==, 0x01);
    g_assert_cmphex(bytes[1], ==, 0x02);
    g_assert_cmphex(bytes[8], ==, 0x20);
    bitmap_from_le_bytes(back, bytes, n);
    g_assert_cmpmem(map, BITS_TO_LONGS(n) * sizeof(long), back,
                    BITS_TO_LONGS(n) * sizeof(long));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/bitmap/set-clear-find", test_set_clear_find);
    g_test_add_func("/util/bitmap/atomic-harvest", test_atomic_harvest);
    g_test_add_func("/util/bitmap/le-bytes", test_le_bytes);
    return g_test_run();
}
