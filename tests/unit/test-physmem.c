/*
 * test-physmem: RAMBlocks from every backend, discard, and the dirty log.
 */
#include "qemu/osdep.h"
#include "exec/ramblock.h"
#include "exec/memory.h"
#include <sys/vfs.h>
#include <linux/magic.h>

static void check_rw_and_discard(RAMBlock *rb)
{
    const size_t ps = rb->page_size;
    uint8_t zero[64] = { 0 };

    memset(rb->host, 0xa5, 3 * ps);
    g_assert_cmphex(rb->host[ps], ==, 0xa5);
    g_assert_true(ram_block_discard_range(rb, ps, ps, &error_abort));
    /* The discarded page reads back as zeroes, its neighbours do not. */
    g_assert_cmpmem(rb->host + ps, 64, zero, 64);
    g_assert_cmphex(rb->host[0], ==, 0xa5);
    g_assert_cmphex(rb->host[2 * ps], ==, 0xa5);
}

static void test_anon(void)
{
    RAMBlock *rb = qemu_ram_alloc_anon("t-anon", 1 << 20, false,
                                       &error_abort);

    g_assert_cmpuint(rb->used_length, ==, 1 << 20);
    g_assert_cmpuint(rb->page_size, ==, qemu_real_host_page_size);
    g_assert_true(qemu_ram_block_by_name("t-anon") == rb);
    check_rw_and_discard(rb);
    qemu_ram_free(rb);
    g_assert_null(qemu_ram_block_by_name("t-anon"));
}

static void test_anon_shared(void)
{
    RAMBlock *rb = qemu_ram_alloc_anon("t-shared", 1 << 20, true,
                                       &error_abort);

    g_assert_true(qemu_ram_is_shared(rb));
    check_rw_and_discard(rb);
    qemu_ram_free(rb);
}

static void test_memfd(void)
{
    RAMBlock *rb = qemu_ram_alloc_memfd("t-memfd", 1 << 20, true, 0, false,
                                        &error_abort);

    g_assert_cmpint(rb->fd, >=, 0);
    check_rw_and_discard(rb);
    qemu_ram_free(rb);
}

static void test_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("physmem-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "ram", NULL);
    RAMBlock *rb = qemu_ram_alloc_from_path("t-file", 1 << 20, path, true,
                                            false, &error_abort);
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 1 << 20);
    check_rw_and_discard(rb);
    qemu_ram_free(rb);
    /* A directory gets an unlinked temporary file. */
    rb = qemu_ram_alloc_from_path("t-dir", 1 << 20, dir, false, false,
                                  &error_abort);
    check_rw_and_discard(rb);
    qemu_ram_free(rb);
    unlink(path);
    rmdir(dir);
}

static void test_errors(void)
{
    Error *err = NULL;
    RAMBlock *rb = qemu_ram_alloc_anon("t-dup", 4096, false, &error_abort);

    g_assert_null(qemu_ram_alloc_anon("t-dup", 4096, false, &err));
    g_assert_nonnull(err);
    error_free(err);
    err = NULL;
    g_assert_null(qemu_ram_alloc_anon("t-zero", 0, false, &err));
    error_free(err);
    err = NULL;
    g_assert_null(qemu_ram_alloc_from_path("t-nopath", 4096,
                                           "/nonexistent/dir/file", false,
                                           false, &err));
    error_free(err);
    err = NULL;
    g_assert_false(ram_block_discard_range(rb, 1, 4096, &err));
    error_free(err);
    err = NULL;
    g_assert_false(ram_block_discard_range(rb, 0, 8192, &err));
    error_free(err);
    qemu_ram_free(rb);
}

static void test_dirty_log(void)
{
    RAMBlock *rb = qemu_ram_alloc_anon("t-dirty", 64 * 4096, false,
                                       &error_abort);
    MemoryRegion mr;
    g_autofree unsigned long *bmap = bitmap_new(64);
    uint8_t buf[8192] = { 1 };

    memory_region_init_ram_from_block(&mr, "t-dirty", rb);
    g_assert_true(address_space_map_region(&address_space_memory, 0x100000,
                                           &mr, &error_abort));
    /* Logging off: writes leave no trace. */
    address_space_write(&address_space_memory, 0x100000, buf, 1);
    g_assert_cmpuint(ramblock_sync_dirty_log(rb, bmap), ==, 0);

    memory_global_dirty_log_start();
    /* A write that straddles pages 1 and 2 dirties both. */
    address_space_write(&address_space_memory, 0x100000 + 4095, buf, 2);
    address_space_set(&address_space_memory, 0x100000 + 10 * 4096, 7,
                      8192);
    g_assert_cmpuint(ramblock_sync_dirty_log(rb, bmap), ==, 4);
    g_assert_true(test_bit(0, bmap) && test_bit(1, bmap));
    g_assert_true(test_bit(10, bmap) && test_bit(11, bmap));
    g_assert_false(test_bit(2, bmap));
    /* Harvested: a second sync finds nothing new. */
    g_assert_cmpuint(ramblock_sync_dirty_log(rb, bmap), ==, 0);
    /* A page already pending in bmap is not counted twice. */
    address_space_write(&address_space_memory, 0x100000, buf, 1);
    g_assert_cmpuint(ramblock_sync_dirty_log(rb, bmap), ==, 0);
    memory_global_dirty_log_stop();

    address_space_unmap_all(&address_space_memory);
    g_free(mr.name);
    qemu_ram_free(rb);
}

/* A writable hugetlbfs mount from /proc/mounts, or NULL. */
static char *find_hugetlbfs(void)
{
    g_autofree char *mounts = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/mounts", &mounts, NULL, NULL)) {
        return NULL;
    }
    lines = g_strsplit(mounts, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", 4);

        if (g_strv_length(f) >= 3 && g_str_equal(f[2], "hugetlbfs") &&
            access(f[1], W_OK) == 0) {
            return g_strdup(f[1]);
        }
    }
    return NULL;
}

static void test_hugetlbfs(void)
{
    g_autofree char *mnt = find_hugetlbfs();
    struct statfs fs;
    RAMBlock *rb;

    if (!mnt || statfs(mnt, &fs) != 0 || fs.f_type != HUGETLBFS_MAGIC) {
        g_test_skip("no writable hugetlbfs mount");
        return;
    }
    rb = qemu_ram_alloc_from_path("t-huge", fs.f_bsize * 2, mnt, true, false,
                                  &error_abort);
    g_assert_cmpuint(rb->page_size, ==, fs.f_bsize);
    g_assert_true(qemu_ram_is_hugetlb(rb));
    memset(rb->host, 1, fs.f_bsize * 2);
    g_assert_true(ram_block_discard_range(rb, fs.f_bsize, fs.f_bsize,
                                          &error_abort));
    g_assert_cmphex(rb->host[fs.f_bsize], ==, 0);
    qemu_ram_free(rb);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_host_page();
    g_test_add_func("/system/physmem/anon", test_anon);
    g_test_add_func("/system/physmem/anon-shared", test_anon_shared);
    g_test_add_func("/system/physmem/memfd", test_memfd);
    g_test_add_func("/system/physmem/file", test_file);
    g_test_add_func("/system/physmem/errors", test_errors);
    g_test_add_func("/system/physmem/dirty-log", test_dirty_log);
    g_test_add_func("/system/physmem/hugetlbfs", test_hugetlbfs);
    return g_test_run();
}
