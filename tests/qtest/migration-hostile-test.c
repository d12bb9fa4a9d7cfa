/*
 * migration-hostile-test: streams no correct source writes, crafted to
 * hit what a read of the loader suggested was wrong (issue 12), each
 * loaded by a real ferry destination.
 *
 * - After LISTEN the main channel belongs to the listen thread, with the
 *   VM running: device state there (a section, another package) fails the
 *   migration with a message naming the section or command and its
 *   offset; so does RAM inside the package (it would share the main
 *   channel's temporary host page with the listen thread) and anything
 *   before LISTEN in the package.  After RUN these are protocol errors:
 *   the destination fails, it does not pause.
 * - A package larger than 16 MiB is refused before anything is buffered.
 * - A flood of sections under new ids (20 MiB of them) is refused at the
 *   second id of one section: the loader's tables never grow beyond one
 *   entry per registered section, so the stream costs linear time.
 * - A huge page assembled from the same target page twice is refused
 *   (the other target page would have been left unwritten).
 *
 * The streams are the QEMU 7.2 postcopy captures, edited.
 */
#include "migration-helpers.h"

#include <string.h>
#include <unistd.h>

static char *tmp_path(const char *name)
{
    return g_strdup_printf("%s/%s-%d", qtest_tmpdir(), name, getpid());
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, v >> 32);
    put_be32(p + 4, v);
}

/* The capture @name, or NULL (skipped) if missing or no userfaultfd. */
static GByteArray *load_capture(const char *name)
{
    g_autofree char *path = capture_path(name);
    gchar *data;
    gsize len;

    if (!path || !have_userfaultfd()) {
        return NULL;
    }
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_byte_array_new_take((guint8 *)data, len);
}

static size_t find(GByteArray *s, size_t from, const char *what, size_t n)
{
    const uint8_t *at = memmem(s->data + from, s->len - from, what, n);

    g_assert_nonnull(at);
    return at - s->data;
}

/* Offset of the PACKAGED command (08 0007 0004 be32 len). */
static size_t packaged_at(GByteArray *s)
{
    return find(s, 0, "\x08\x00\x07\x00\x04", 5);
}

/* Offset just after PING 4, the first element after the package. */
static size_t after_ping4(GByteArray *s)
{
    size_t pkg = packaged_at(s);
    size_t end = pkg + 9 + get_be32(s->data + pkg + 5);

    g_assert_cmpmem(s->data + end, 9, "\x08\x00\x02\x00\x04\x00\x00\x00\x04",
                    9);
    return end + 9;
}

static void insert(GByteArray *s, size_t off, const void *b, size_t n)
{
    g_autoptr(GByteArray) tail = g_byte_array_new();

    g_byte_array_append(tail, s->data + off, s->len - off);
    g_byte_array_set_size(s, off);
    g_byte_array_append(s, b, n);
    g_byte_array_append(s, tail->data, tail->len);
}

/* Inserts @n bytes at @off, inside the package's blob (which grows). */
static void package_insert(GByteArray *s, size_t off, const void *b,
                           size_t n)
{
    size_t pkg = packaged_at(s);

    put_be32(s->data + pkg + 5, get_be32(s->data + pkg + 5) + n);
    insert(s, off, b, n);
}

/*
 * The "timer" section of the package (SECTION_FULL, id, "timer", ...,
 * footer), copied: a device's state as a source sends it.
 */
static GByteArray *timer_section(GByteArray *s, uint32_t *id)
{
    size_t name = find(s, packaged_at(s), "\x05timer", 6);
    size_t start = name - 5;
    size_t footer;
    GByteArray *sec = g_byte_array_new();

    g_assert_cmphex(s->data[start], ==, 0x04);          /* FULL */
    *id = get_be32(s->data + start + 1);
    /* The footer: 0x7e and the id again. */
    for (footer = name + 6;; footer++) {
        if (s->data[footer] == 0x7e && get_be32(s->data + footer + 1) == *id) {
            break;
        }
    }
    g_byte_array_append(sec, s->data + start, footer + 5 - start);
    return sec;
}

/* Loads @s; it must fail (status 1) with @expect in its message. */
static void expect_refused(GByteArray *s, const char *name,
                           const char *args, const char *expect)
{
    g_autofree char *file = tmp_path(name);
    g_autofree char *err = NULL;

    g_assert_true(g_file_set_contents(file, (const char *)s->data, s->len,
                                      NULL));
    g_assert_cmpint(load_postcopy_stream(file, args, &err), ==, 1);
    g_test_message("%s", err);
    g_assert_nonnull(strstr(err, "load of migration failed"));
    g_assert_nonnull(strstr(err, expect));
    /* A protocol error after RUN fails: it never pauses. */
    g_assert_null(strstr(err, "paused"));
    unlink(file);
}

static void test_device_after_listen(void)
{
    g_autoptr(GByteArray) s = load_capture("postcopy/main.src-to-dst.bin");
    g_autoptr(GByteArray) sec = NULL;
    uint32_t id;

    if (!s) {
        return;
    }
    sec = timer_section(s, &id);
    insert(s, after_ping4(s), sec->data, sec->len);
    expect_refused(s, "device-after-listen", "-M none -m 64M",
                   "a device's section on the main channel after "
                   "POSTCOPY_LISTEN");
}

static void test_package_after_listen(void)
{
    g_autoptr(GByteArray) s = load_capture("postcopy/main.src-to-dst.bin");
    static const uint8_t pkg[] = { 0x08, 0x00, 0x07, 0x00, 0x04,
                                   0x00, 0x00, 0x00, 0x00 };

    if (!s) {
        return;
    }
    insert(s, after_ping4(s), pkg, sizeof(pkg));
    expect_refused(s, "package-after-listen", "-M none -m 64M",
                   "PACKAGED on the main channel after POSTCOPY_LISTEN");
}

static void test_ram_in_package(void)
{
    g_autoptr(GByteArray) s = load_capture("postcopy/main.src-to-dst.bin");
    size_t listen;
    uint8_t ram[18];
    uint32_t ram_id;

    if (!s) {
        return;
    }
    /* The "ram" section's id, from its SECTION_START. */
    ram_id = get_be32(s->data + find(s, 0, "\x03ram", 4) - 4);
    /* After LISTEN: SECTION_PART ram, EOS, footer. */
    listen = find(s, packaged_at(s), "\x08\x00\x04\x00\x00", 5) + 5;
    ram[0] = 0x02;
    put_be32(ram + 1, ram_id);
    memcpy(ram + 5, "\x00\x00\x00\x00\x00\x00\x00\x10", 8);
    ram[13] = 0x7e;
    put_be32(ram + 14, ram_id);
    package_insert(s, listen, ram, sizeof(ram));
    expect_refused(s, "ram-in-package", "-M none -m 64M",
                   "RAM section inside the PACKAGED blob");
}

static void test_device_before_listen(void)
{
    g_autoptr(GByteArray) s = load_capture("postcopy/main.src-to-dst.bin");
    g_autoptr(GByteArray) sec = NULL;
    uint32_t id;

    if (!s) {
        return;
    }
    sec = timer_section(s, &id);
    package_insert(s, packaged_at(s) + 9, sec->data, sec->len);
    expect_refused(s, "device-before-listen", "-M none -m 64M",
                   "before POSTCOPY_LISTEN, which must start the PACKAGED");
}

static void test_package_too_big(void)
{
    g_autoptr(GByteArray) s = load_capture("postcopy/main.src-to-dst.bin");

    if (!s) {
        return;
    }
    put_be32(s->data + packaged_at(s) + 5, (16u << 20) + 1);
    expect_refused(s, "package-too-big", "-M none -m 64M",
                   "PACKAGED blob of 16777217 bytes is larger than 16777216");
}

/*
 * The capture up to its first section (header, configuration), then the
 * package's timer section again and again, each under a new id, for
 * 20 MiB.
 */
static void test_section_id_flood(void)
{
    g_autoptr(GByteArray) s = load_capture("postcopy/main.src-to-dst.bin");
    g_autoptr(GByteArray) sec = NULL;
    g_autoptr(GByteArray) flood = g_byte_array_new();
    size_t first;
    uint32_t id;

    if (!s) {
        return;
    }
    sec = timer_section(s, &id);
    first = find(s, 0, "\x03ram", 4) - 5;       /* SECTION_START ram */
    g_byte_array_append(flood, s->data, first);
    for (uint32_t n = 1000; flood->len < (20u << 20); n++) {
        put_be32(sec->data + 1, n);
        put_be32(sec->data + sec->len - 4, n);
        g_byte_array_append(flood, sec->data, sec->len);
    }
    expect_refused(flood, "section-id-flood", "-M none -m 64M",
                   "section 'timer' at offset");
}

/*
 * The hugetlb capture: its first postcopy host page (2 MiB, 512 target
 * pages sent in order) with the second record's address turned into the
 * first's, so the same target page comes twice and one never comes.
 */
static size_t record_len(const uint8_t *p)
{
    uint8_t flags = p[7];
    size_t n = 8;

    if (!(flags & 0x20)) {                  /* no CONTINUE: a name */
        n += 1 + p[8];
    }
    if (flags & 0x02) {                     /* ZERO: the fill byte */
        n += 1;
    } else if (flags & 0x08) {              /* PAGE */
        n += 4096;
    }
    return n;
}

static void test_huge_page_piece_twice(void)
{
    g_autoptr(GByteArray) s = NULL;
    size_t rec;

    if (!free_huge_pages(32)) {
        g_test_skip("fewer than 32 free 2 MiB huge pages "
                    "(scripts/setup-hugepages.sh reserves them)");
        return;
    }
    s = load_capture("postcopy-hugetlb/main.src-to-dst.bin");
    if (!s) {
        return;
    }
    /* The first SECTION_PART after PING 4: type, id, then records. */
    rec = after_ping4(s);
    g_assert_cmphex(s->data[rec], ==, 0x02);
    rec += 5;
    g_assert_cmphex(s->data[rec + 7] & 0x0a, !=, 0);
    {
        size_t next = rec + record_len(s->data + rec);
        uint64_t first = get_be64(s->data + rec);
        uint64_t second = get_be64(s->data + next);

        /* The first record's address with the second's flags. */
        put_be64(s->data + next, (first & ~0xfffull) | (second & 0xfff));
    }
    expect_refused(s, "huge-page-piece-twice",
                   "-machine none,memory-backend=m0 -object "
                   "memory-backend-memfd,id=m0,size=64M,hugetlb=on,"
                   "hugetlbsize=2M", "came twice for host page");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/hostile/device-after-listen",
                    test_device_after_listen);
    g_test_add_func("/migration/hostile/package-after-listen",
                    test_package_after_listen);
    g_test_add_func("/migration/hostile/ram-in-package",
                    test_ram_in_package);
    g_test_add_func("/migration/hostile/device-before-listen",
                    test_device_before_listen);
    g_test_add_func("/migration/hostile/package-too-big",
                    test_package_too_big);
    g_test_add_func("/migration/hostile/section-id-flood",
                    test_section_id_flood);
    g_test_add_func("/migration/hostile/huge-page-piece-twice",
                    test_huge_page_piece_twice);
    return g_test_run();
}
