/*
 * test-memory: address-space accesses — RAM, I/O callbacks, unassigned
 * space and wrap-around at 2^64, with QEMU's results.
 */
#include "qemu/osdep.h"
#include "exec/memory.h"

static RAMBlock *rb;
static MemoryRegion ram;

static void setup_ram(void)
{
    rb = qemu_ram_alloc_anon("t-ram", 1 << 20, false, &error_abort);
    memory_region_init_ram_from_block(&ram, "t-ram", rb);
    g_assert_true(address_space_map_region(&address_space_memory, 0, &ram,
                                           &error_abort));
}

static void teardown_ram(void)
{
    address_space_unmap_all(&address_space_memory);
    g_free(ram.name);
    qemu_ram_free(rb);
}

static void test_ram_and_unassigned(void)
{
    uint8_t buf[8];

    setup_ram();
    address_space_stn_le(&address_space_memory, 0x1000, 0x0123456789abcdefULL,
                         8);
    g_assert_cmphex(address_space_ldn_le(&address_space_memory, 0x1000, 8),
                    ==, 0x0123456789abcdefULL);
    g_assert_cmphex(address_space_ldn_le(&address_space_memory, 0x1004, 2),
                    ==, 0x4567);
    /* Crossing the end of RAM: the RAM part, then zeroes. */
    address_space_stn_le(&address_space_memory, 0xffff8,
                         0x1122334455667788ULL, 8);
    g_assert_cmphex(address_space_ldn_le(&address_space_memory, 0xffffc, 8),
                    ==, 0x11223344ULL);
    /* Outside RAM: reads 0, writes dropped, reported as decode errors. */
    g_assert_cmpint(address_space_write(&address_space_memory, 0x200000,
                                        "x", 1), ==, MEMTX_DECODE_ERROR);
    g_assert_cmphex(address_space_ldn_le(&address_space_memory, 0x200000, 8),
                    ==, 0);
    /* Wrap-around: 0xfffffffffffffffc..ff unassigned, then address 0. */
    address_space_stn_le(&address_space_memory, 0, 0x8877665544332211ULL, 8);
    g_assert_cmphex(address_space_ldn_le(&address_space_memory,
                                         0xfffffffffffffffcULL, 8),
                    ==, 0x4433221100000000ULL);
    address_space_stn_le(&address_space_memory, 0xfffffffffffffffeULL,
                         0xaabbccdd, 4);
    address_space_read(&address_space_memory, 0, buf, 8);
    g_assert_cmphex(buf[0], ==, 0xbb);
    g_assert_cmphex(buf[1], ==, 0xaa);
    g_assert_cmphex(buf[2], ==, 0x33);
    teardown_ram();
}

static uint64_t last_write, last_size;

static uint64_t io_read(void *opaque, hwaddr addr, unsigned size)
{
    return 0x1000 + addr * 0x10 + size;
}

static void io_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    last_write = val;
    last_size = size;
}

static const MemoryRegionOps io_ops = { io_read, io_write };

static void test_io_ports(void)
{
    MemoryRegion io;

    memory_region_init_io(&io, "t-io", &io_ops, NULL, 8);
    g_assert_true(address_space_map_region(&address_space_io, 0x3f8, &io,
                                           &error_abort));
    g_assert_cmphex(address_space_ldn_le(&address_space_io, 0x3f9, 1), ==,
                    0x11);
    g_assert_cmphex(address_space_ldn_le(&address_space_io, 0x3fa, 2), ==,
                    0x1022);
    address_space_stn_le(&address_space_io, 0x3f8, 0xbeef, 2);
    g_assert_cmphex(last_write, ==, 0xbeef);
    g_assert_cmpuint(last_size, ==, 2);
    /* Unassigned ports read all-ones inside 64 KiB, zero beyond. */
    g_assert_cmphex(address_space_ldn_le(&address_space_io, 0x80, 1), ==,
                    0xff);
    g_assert_cmphex(address_space_ldn_le(&address_space_io, 0xfffe, 4), ==,
                    0xffff);
    address_space_unmap_all(&address_space_io);
    g_free(io.name);
}

static void test_overlap_rejected(void)
{
    Error *err = NULL;
    MemoryRegion other;

    setup_ram();
    memory_region_init_io(&other, "t-overlap", &io_ops, NULL, 0x1000);
    g_assert_false(address_space_map_region(&address_space_memory, 0x8000,
                                            &other, &err));
    g_assert_nonnull(err);
    error_free(err);
    g_free(other.name);
    teardown_ram();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_host_page();
    g_test_add_func("/system/memory/ram-and-unassigned",
                    test_ram_and_unassigned);
    g_test_add_func("/system/memory/io-ports", test_io_ports);
    g_test_add_func("/system/memory/overlap-rejected",
                    test_overlap_rejected);
    return g_test_run();
}
