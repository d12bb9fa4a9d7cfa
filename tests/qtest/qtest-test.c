/*
 * qtest-test: guest memory through a real qtest connection, for every RAM
 * backend, checked byte for byte (also through QMP pmemsave); bad requests
 * answered with FAIL without harming the session; a server-mode qtest
 * socket that survives its client; the qtest virtual clock.
 */
#include "libqtest.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void fill_random(uint8_t *buf, size_t n, uint32_t seed)
{
    GRand *r = g_rand_new_with_seed(seed);

    for (size_t i = 0; i < n; i++) {
        buf[i] = g_rand_int(r);
    }
    g_rand_free(r);
}

static void test_scalars(void)
{
    QTestState *qts = qtest_init("-M none -m 64M");

    qtest_writeb(qts, 0x1000, 0x12);
    g_assert_cmphex(qtest_readb(qts, 0x1000), ==, 0x12);
    qtest_writew(qts, 0x1002, 0x3456);
    qtest_writel(qts, 0x1004, 0x89abcdef);
    qtest_writeq(qts, 0x1008, 0x0123456789abcdefULL);
    g_assert_cmphex(qtest_readw(qts, 0x1002), ==, 0x3456);
    g_assert_cmphex(qtest_readl(qts, 0x1004), ==, 0x89abcdef);
    g_assert_cmphex(qtest_readq(qts, 0x1008), ==, 0x0123456789abcdefULL);
    g_assert_cmphex(qtest_readq(qts, 0x1000), ==, 0x89abcdef34560012ULL);
    /* Past the end of RAM: reads 0, writes vanish. */
    qtest_writeq(qts, 0x4000000, ~0ULL);
    g_assert_cmphex(qtest_readq(qts, 0x4000000), ==, 0);
    qtest_quit(qts);
}

/* Writes @n random bytes at @addr with every method and reads them back. */
static void check_bulk(QTestState *qts, uint64_t addr, size_t n)
{
    g_autofree uint8_t *data = g_malloc(n);
    g_autofree uint8_t *back = g_malloc(n);

    fill_random(data, n, 42);
    qtest_bufwrite(qts, addr, data, n);
    qtest_memread(qts, addr, back, n);
    g_assert_cmpmem(data, n, back, n);
    fill_random(data, n, 43);
    qtest_memwrite(qts, addr, data, n);
    qtest_bufread(qts, addr, back, n);
    g_assert_cmpmem(data, n, back, n);
    qtest_memset(qts, addr + 1, 0x5a, n - 2);
    qtest_bufread(qts, addr, back, n);
    g_assert_cmphex(back[0], ==, data[0]);
    g_assert_cmphex(back[1], ==, 0x5a);
    g_assert_cmphex(back[n - 2], ==, 0x5a);
    g_assert_cmphex(back[n - 1], ==, data[n - 1]);
}

/* pmemsave of [addr, addr+n) must equal what qtest reads. */
static void check_pmemsave(QTestState *qts, uint64_t addr, size_t n)
{
    g_autofree char *file = g_strdup_printf("%s/pmem-%d.bin", qtest_tmpdir(),
                                            getpid());
    g_autofree uint8_t *back = g_malloc(n);
    g_autofree char *contents = NULL;
    gsize len = 0;

    qtest_bufread(qts, addr, back, n);
    qtest_qmp_assert_success(qts, "{'execute': 'pmemsave', 'arguments': "
                             "{'val': %" G_GUINT64_FORMAT ", 'size': %zu, "
                             "'filename': '%s'}}", addr, n, file);
    g_assert_true(g_file_get_contents(file, &contents, &len, NULL));
    g_assert_cmpmem(contents, len, back, n);
    unlink(file);
}

static void test_bulk_default_ram(void)
{
    QTestState *qts = qtest_init("-M none -m 64M");

    check_bulk(qts, 0x100000, 1 << 20);
    check_pmemsave(qts, 0xff000, 1 << 20);
    qtest_quit(qts);
}

typedef struct BackendCase {
    const char *name;
    const char *object;     /* "@TMP@" stands for the test's temp dir */
} BackendCase;

static const BackendCase backend_cases[] = {
    { "ram", "memory-backend-ram,id=m0,size=64M" },
    { "ram-shared", "memory-backend-ram,id=m0,size=64M,share=on" },
    { "memfd", "memory-backend-memfd,id=m0,size=64M" },
    { "memfd-private", "memory-backend-memfd,id=m0,size=64M,share=off" },
    { "file", "memory-backend-file,id=m0,size=64M,mem-path=@TMP@/ramfile,"
              "share=on" },
    { "file-dir", "memory-backend-file,id=m0,size=64M,mem-path=@TMP@" },
};

static void test_backend(const void *opaque)
{
    const BackendCase *c = opaque;
    g_auto(GStrv) parts = g_strsplit(c->object, "@TMP@", -1);
    g_autofree char *obj = g_strjoinv(qtest_tmpdir(), parts);
    QTestState *qts = qtest_init_opts(NULL, "-machine none,memory-backend=m0 "
                                      "-object %s", obj);
    g_autoptr(JsonNode) rsp = qtest_qmp(qts,
        "{'execute': 'query-memory-size-summary'}");

    g_assert_cmpint(json_object_get_int_member(qmp_rsp_return(rsp),
                                               "base-memory"), ==, 64 << 20);
    check_bulk(qts, 0x3f00000, 1 << 20);
    check_pmemsave(qts, 0x3f80000, 0x80000);
    qtest_quit(qts);
}

static const char *find_hugetlbfs(void)
{
    static char path[256];
    g_autofree char *mounts = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/mounts", &mounts, NULL, NULL)) {
        return NULL;
    }
    lines = g_strsplit(mounts, "\n", -1);
    for (char **l = lines; *l; l++) {
        char dev[64], mnt[256], type[64];

        if (sscanf(*l, "%63s %255s %63s", dev, mnt, type) == 3 &&
            !strcmp(type, "hugetlbfs") && access(mnt, W_OK) == 0) {
            g_strlcpy(path, mnt, sizeof(path));
            return path;
        }
    }
    return NULL;
}

static bool free_huge_pages(unsigned need)
{
    g_autofree char *s = NULL;

    if (!g_file_get_contents("/sys/kernel/mm/hugepages/hugepages-2048kB/"
                             "free_hugepages", &s, NULL, NULL)) {
        return false;
    }
    return strtoul(s, NULL, 10) >= need;
}

static void test_hugetlbfs_file(void)
{
    const char *mnt = find_hugetlbfs();
    QTestState *qts;

    if (!mnt) {
        g_test_skip("no writable hugetlbfs mount");
        return;
    }
    if (!free_huge_pages(8)) {
        g_test_skip("fewer than 8 free 2 MiB huge pages");
        return;
    }
    qts = qtest_init_opts(NULL, "-machine none,memory-backend=m0 -object "
                          "memory-backend-file,id=m0,size=16M,mem-path=%s,"
                          "share=on", mnt);
    check_bulk(qts, 0x100000, 1 << 20);
    check_pmemsave(qts, 0, 4 << 20);
    qtest_quit(qts);
}

static void test_hugetlb_memfd(void)
{
    QTestState *qts;

    if (!free_huge_pages(8)) {
        g_test_skip("fewer than 8 free 2 MiB huge pages");
        return;
    }
    qts = qtest_init("-machine none,memory-backend=m0 -object "
                     "memory-backend-memfd,id=m0,size=16M,hugetlb=on,"
                     "hugetlbsize=2M");
    check_bulk(qts, 0x100000, 1 << 20);
    qtest_quit(qts);
}

static void test_bad_requests(void)
{
    static const char *const bad[] = {
        "", "readb", "readb foo", "readb 0x1000junk", "read 0x1000 0",
        "read 0x1000 -1", "b64read 0 -1", "inb 0x10000", "write 0x1000 1",
        "irq_intercept_in /machine", "bogus command",
    };
    QTestState *qts = qtest_init("-M none -m 16M");

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *rsp = qtest_raw(qts, "%s", bad[i]);

        g_test_message("%s -> %s", bad[i], rsp);
        g_assert_true(g_str_has_prefix(rsp, "FAIL"));
    }
    /* The session, and the process, carry on. */
    qtest_writeb(qts, 0x10, 0x77);
    g_assert_cmphex(qtest_readb(qts, 0x10), ==, 0x77);
    qtest_quit(qts);
}

static int connect_unix(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert(fd >= 0);
    strcpy(un.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    return fd;
}

static char *request(int fd, const char *req)
{
    GString *s = g_string_new(NULL);
    char c;

    g_assert_cmpint(write(fd, req, strlen(req)), ==, (ssize_t)strlen(req));
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        g_assert_cmpint(poll(&p, 1, qtest_timeout() * 1000), ==, 1);
        g_assert_cmpint(read(fd, &c, 1), ==, 1);
        if (c == '\n') {
            return g_string_free(s, false);
        }
        g_string_append_c(s, c);
    }
}

static void test_server_socket(void)
{
    g_autofree char *path = g_strdup_printf("%s/qt-%d.sock", qtest_tmpdir(),
                                            getpid());
    QTestOptions o = { .no_qtest = true };
    QTestState *qts = qtest_init_opts(&o, "-M none -m 16M -qtest unix:%s,"
                                      "server=on,wait=off", path);
    int fd = connect_unix(path);
    g_autofree char *r1 = NULL, *r2 = NULL, *r3 = NULL;

    r1 = request(fd, "writeb 0x100 0x42\n");
    g_assert_cmpstr(r1, ==, "OK");
    /* A partial line is dropped with its client ... */
    g_assert_cmpint(write(fd, "writeb 0x100 0x", 15), ==, 15);
    close(fd);
    /* ... and the next client starts clean, memory intact. */
    fd = connect_unix(path);
    r2 = request(fd, "readb 0x100\n");
    g_assert_cmpstr(r2, ==, "OK 0x0000000000000042");
    r3 = request(fd, "clock_step 1000\n");
    g_assert_true(g_str_has_prefix(r3, "OK "));
    close(fd);
    qtest_quit(qts);
}

static void test_clock(void)
{
    QTestState *qts = qtest_init("-M none -accel qtest");
    g_autofree char *a = qtest_raw(qts, "clock_set 5000");
    g_autofree char *b = qtest_raw(qts, "clock_step 250");
    g_autofree char *c = qtest_raw(qts, "clock_step");

    g_autofree char *d = qtest_raw(qts, "clock_set 100");
    g_autofree char *e = qtest_raw(qts, "clock_step -5");
    g_autofree char *f = qtest_raw(qts, "clock_step 9223372036854775807");

    g_assert_cmpstr(a, ==, "OK 5000");
    g_assert_cmpstr(b, ==, "OK 5250");
    g_assert_cmpstr(c, ==, "OK 5250");
    /* Never backwards, as in QEMU; never past 2^63 - 1 ns. */
    g_assert_cmpstr(d, ==, "OK 5250");
    g_assert_cmpstr(e, ==, "OK 5250");
    g_assert_true(g_str_has_prefix(f, "FAIL "));
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qtest/scalars", test_scalars);
    g_test_add_func("/qtest/bulk/default-ram", test_bulk_default_ram);
    for (size_t i = 0; i < G_N_ELEMENTS(backend_cases); i++) {
        g_autofree char *p = g_strdup_printf("/qtest/bulk/backend/%s",
                                             backend_cases[i].name);
        g_test_add_data_func(p, &backend_cases[i], test_backend);
    }
    g_test_add_func("/qtest/bulk/hugetlbfs-file", test_hugetlbfs_file);
    g_test_add_func("/qtest/bulk/hugetlb-memfd", test_hugetlb_memfd);
    g_test_add_func("/qtest/bad-requests", test_bad_requests);
    g_test_add_func("/qtest/server-socket", test_server_socket);
    g_test_add_func("/qtest/clock", test_clock);
    return g_test_run();
}
