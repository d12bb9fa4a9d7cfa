/*
 * test-pagemap: never-populated pages of private anonymous memory, as
 * /proc/self/pagemap tells them, and the window's generation contract.
 */
#include "qemu/osdep.h"
#include "qemu/pagemap.h"

#include <sys/mman.h>

#define NPAGES 8

static void test_populated(void)
{
    size_t ps = qemu_real_host_page_size;
    PagemapWindow w;
    volatile uint8_t *m;
    uint8_t sink;
    uint64_t gen = 1;

    if (access("/proc/self/pagemap", R_OK) < 0) {
        g_test_skip("no /proc/self/pagemap here");
        return;
    }
    m = mmap(NULL, NPAGES * ps, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(m != MAP_FAILED);
    m[1 * ps] = 1;                      /* written */
    m[3 * ps + 17] = 3;
    sink = m[5 * ps];                   /* read: maps the zero page */
    (void)sink;
    pagemap_window_init(&w);
    g_assert_true(pagemap_page_unpopulated(&w, (void *)m, gen));
    g_assert_false(pagemap_page_unpopulated(&w, (void *)(m + ps), gen));
    g_assert_true(pagemap_page_unpopulated(&w, (void *)(m + 2 * ps), gen));
    /* Any address inside the page answers for the page. */
    g_assert_false(pagemap_page_unpopulated(&w, (void *)(m + 3 * ps + 99),
                                            gen));
    g_assert_false(pagemap_page_unpopulated(&w, (void *)(m + 5 * ps), gen));
    g_assert_true(pagemap_page_unpopulated(&w, (void *)(m + 6 * ps), gen));

    /* Written after the window was read: stale until the generation moves. */
    m[6 * ps] = 6;
    g_assert_true(pagemap_page_unpopulated(&w, (void *)(m + 6 * ps), gen));
    gen++;
    g_assert_false(pagemap_page_unpopulated(&w, (void *)(m + 6 * ps), gen));

    /* Discarded pages read as zero again, and say so. */
    g_assert_cmpint(madvise((void *)(m + ps), ps, MADV_DONTNEED), ==, 0);
    gen++;
    g_assert_true(pagemap_page_unpopulated(&w, (void *)(m + ps), gen));
    g_assert_cmpint(m[ps], ==, 0);
    munmap((void *)m, NPAGES * ps);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pagemap/populated", test_populated);
    return g_test_run();
}
