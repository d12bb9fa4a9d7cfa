/*
 * test-qtest-cmd: the qtest request handler, reply by reply, against the
 * replies QEMU 7.2 gives (and FAIL where QEMU would abort).
 */
#include "qemu/osdep.h"
#include "sysemu/qtest.h"
#include "exec/memory.h"

static RAMBlock *rb;
static MemoryRegion ram;

static void check(const char *req, const char *expect)
{
    g_autofree char *rsp = qtest_process_line(req, strlen(req));
    g_autofree char *want = g_strconcat(expect, "\n", NULL);
    g_autofree char *a = g_strescape(req, NULL);
    g_autofree char *b = g_strescape(rsp, NULL);

    g_test_message("%s -> %s", a, b);
    g_assert_cmpstr(rsp, ==, want);
}

static void check_prefix(const char *req, const char *prefix)
{
    g_autofree char *rsp = qtest_process_line(req, strlen(req));
    g_autofree char *a = g_strescape(req, NULL);
    g_autofree char *b = g_strescape(rsp, NULL);

    g_test_message("%s -> %s", a, b);
    g_assert_true(g_str_has_prefix(rsp, prefix));
}

static void test_scalar(void)
{
    check("writeb 0x1000 0x12", "OK");
    check("readb 0x1000", "OK 0x0000000000000012");
    check("readq 0x1000", "OK 0x0000000000000012");
    check("writew 0x1000 0x3456", "OK");
    check("readb 0x1001", "OK 0x0000000000000034");
    check("writeq 0x1000 0x0123456789abcdef", "OK");
    check("readl 0x1004", "OK 0x0000000001234567");
    check("read 0x1000 8", "OK 0xefcdab8967452301");
    /* Values wider than the access are truncated. */
    check("writeb 0x1000 0x1ff", "OK");
    check("readq 0x1000", "OK 0x0123456789abcdff");
    check("writel 0x1000 -1", "OK");
    check("readq 0x1000", "OK 0x01234567ffffffff");
    /* Octal, decimal, '+'. */
    check("writeb 010000 017", "OK");
    check("readb +4096", "OK 0x000000000000000f");
    /* Unassigned memory. */
    check("writeb 0x10000000 0x12", "OK");
    check("readq 0x10000000", "OK 0x0000000000000000");
    /* Extra arguments are ignored. */
    check("readb 0x1000 5", "OK 0x000000000000000f");
}

static void test_bulk(void)
{
    check("write 0x2000 4 0x11223344", "OK");
    check("read 0x2000 5", "OK 0x1122334400");
    check("b64read 0x2000 4", "OK ESIzRA==");
    check("b64read 0x2000 0", "OK ");
    check("b64write 0x2000 4 qrvM3Q==", "OK");
    check("read 0x2000 4", "OK 0xaabbccdd");
    check("memset 0x2000 4 0xab", "OK");
    check("memset 0x2000 0 0x55", "OK");
    check("read 0x2000 4", "OK 0xabababab");
    /* QEMU's write quirks: data padded, lone nibble dropped, bad hex. */
    check("write 0x2000 4 0x0102", "OK");
    check("read 0x2000 4", "OK 0x01020000");
    check("write 0x2000 2 0x123", "OK");
    check("read 0x2000 2", "OK 0x1200");
    check("write 0x2000 2 0xzz11", "OK");
    check("read 0x2000 2", "OK 0xff11");
    check("write 0x2000 2 ab1234", "OK");
    check("read 0x2000 2", "OK 0x1234");
    check("write 0x2000 1 0x", "ERR invalid argument size");
    check("b64write 0x2000 1 AQ", "ERR invalid argument size");
    /* b64write shorter than SIZE: zero-filled (QEMU: heap garbage). */
    check("b64write 0x2000 4 AQID", "OK");
    check("read 0x2000 4", "OK 0x01020300");
}

static void test_ports_and_misc(void)
{
    check("inb 0x80", "OK 0x00ff");
    check("inw 0x80", "OK 0xffff");
    check("inl 0xfffe", "OK 0xffff");
    check("outb 0x80 0x12", "OK");
    check("endianness", "OK little");
    check("endianness foo", "OK little");
    check("irq_intercept_in /machine", "FAIL Unknown device");
    check("module_load x y", "FAIL");
    check("foo bar", "FAIL Unknown command 'foo'");
    check("READB 0x1000", "FAIL Unknown command 'READB'");
    check("   ", "FAIL Unknown command ''");
    check("endianness\r", "FAIL Unknown command 'endianness\r'");
    /* Without -accel qtest the clock commands do not exist, as in QEMU. */
    check("clock_step 10", "FAIL Unknown command 'clock_step'");
}

static void test_no_crash(void)
{
    /* Every one of these aborts QEMU 7.2; ferry answers FAIL. */
    static const char *const bad[] = {
        "", "readb", "writeb 0x1000", "read 0x1000", "read 0x1000 0",
        "read 0x1000 -1", "b64read 0 -1", "memset 0 1",
        "write 0x1000 1", "b64write 0x1000 1", "readb foo",
        "readb 0x1000junk", "readb 0x1000\r", "readb  0x1000", "readb 08",
        "readb 0x10000000000000000", "inb 0x10000", "inb -1",
        "outb 0x10000 1", "outb 0x80 foo", "inb", "outb 0x80",
        "irq_intercept_in", "module_load x",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        check_prefix(bad[i], "FAIL ");
    }
    /* QEMU runs out of memory here; ferry fills the whole address space. */
    check("memset 0 -1 0", "OK");
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_host_page();
    rb = qemu_ram_alloc_anon("ram", 64 << 20, false, &error_abort);
    memory_region_init_ram_from_block(&ram, "ram", rb);
    address_space_map_region(&address_space_memory, 0, &ram, &error_abort);
    g_test_add_func("/accel/qtest/scalar", test_scalar);
    g_test_add_func("/accel/qtest/bulk", test_bulk);
    g_test_add_func("/accel/qtest/ports-and-misc", test_ports_and_misc);
    g_test_add_func("/accel/qtest/no-crash", test_no_crash);
    ret = g_test_run();
    address_space_unmap_all(&address_space_memory);
    g_free(ram.name);
    qemu_ram_free(rb);
    return ret;
}
