/*
 * display-test: what the guest shows and what the machine is.
 *
 *  - screendump (QMP) on pc-lite's framebuffer: PPM by default and PNG,
 *    decoded here and compared pixel by pixel with a picture written
 *    through qtest (no vCPU runs: -accel qtest);
 *  - screendump's QEMU 7.2 errors: no console (-M none, -vga none,
 *    -nodefaults), a bad format, head without device, an unknown device,
 *    a file that cannot be created;
 *  - the picture migrated postcopy: source and destination screendumps
 *    compared pixel by pixel, and with the picture;
 *  - the device tree: -machine dumpdtb=FILE exits 0, dtc decodes the file
 *    and its nodes match the command line; the same tree lies in guest
 *    memory at 0x10000.
 */
#include "migration-helpers.h"

#include <png.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FB_ADDR     0xfd000000ull
#define FB_WIDTH    640
#define FB_HEIGHT   480
#define FB_STRIDE   2560
#define FB_PIXELS   (FB_WIDTH * FB_HEIGHT)
#define FDT_ADDR    0x10000

static char *tmp_path(const char *name)
{
    return g_strdup_printf("%s/%s-%d", qtest_tmpdir(), name, getpid());
}

static char *pc_lite_args(const char *extra)
{
    const char *dir = g_getenv("FERRY_BOOTBLOCKS");

    return g_strdup_printf("-M pc-lite -m 64M -serial none "
                           "-drive file=%s/a-b-bootblock.img,format=raw %s",
                           dir ? dir : "tests/migration", extra);
}

static QTestState *pc_lite_start(const char *extra)
{
    g_autofree char *args = pc_lite_args(extra);

    return qtest_init(args);
}

/* A picture: pseudo-random pixels, the unused top byte set too. */
static uint32_t *make_picture(uint32_t seed)
{
    uint32_t *px = g_new(uint32_t, FB_PIXELS);

    fill_pattern((uint8_t *)px, FB_PIXELS * 4, seed);
    return px;
}

static void write_picture(QTestState *qts, const uint32_t *px)
{
    /* Stride == width * 4: one block. */
    for (size_t off = 0; off < FB_PIXELS * 4; off += 256 << 10) {
        qtest_bufwrite(qts, FB_ADDR + off, (const uint8_t *)px + off,
                       MIN(256 << 10, FB_PIXELS * 4 - off));
    }
}

/* RGB bytes of a picture, as a screendump of x8r8g8b8 must show it. */
static uint8_t *picture_rgb(const uint32_t *px)
{
    uint8_t *rgb = g_malloc(FB_PIXELS * 3);

    for (size_t i = 0; i < FB_PIXELS; i++) {
        rgb[3 * i] = px[i] >> 16;
        rgb[3 * i + 1] = px[i] >> 8;
        rgb[3 * i + 2] = px[i];
    }
    return rgb;
}

static JsonNode *screendump(QTestState *qts, const char *file,
                            const char *format)
{
    if (format) {
        return qtest_qmp(qts, "{'execute': 'screendump', 'arguments': "
                         "{'filename': '%s', 'format': '%s'}}", file,
                         format);
    }
    return qtest_qmp(qts, "{'execute': 'screendump', 'arguments': "
                     "{'filename': '%s'}}", file);
}

/* Reads a P6 file with 8-bit samples into RGB bytes. */
static uint8_t *read_ppm(const char *file, int *w, int *h)
{
    g_autofree char *data = NULL;
    gsize len;
    int maxval, n = 0;

    g_assert_true(g_file_get_contents(file, &data, &len, NULL));
    g_assert_cmpint(sscanf(data, "P6\n%d %d\n%d\n%n", w, h, &maxval, &n),
                    ==, 3);
    g_assert_cmpint(n, >, 0);
    g_assert_cmpint(maxval, ==, 255);
    g_assert_cmpuint(len, ==, (gsize)n + (gsize)*w * *h * 3);
    return g_memdup2(data + n, (gsize)*w * *h * 3);
}

static uint8_t *read_png(const char *file, int *w, int *h)
{
    png_image img = { .version = PNG_IMAGE_VERSION };
    uint8_t *rgb;

    g_assert_true(png_image_begin_read_from_file(&img, file));
    /* 8-bit RGB, as QEMU writes it. */
    g_assert_cmpuint(img.format, ==, PNG_FORMAT_RGB);
    *w = img.width;
    *h = img.height;
    rgb = g_malloc(PNG_IMAGE_SIZE(img));
    g_assert_true(png_image_finish_read(&img, NULL, rgb, 0, NULL));
    return rgb;
}

/* Pixel by pixel, saying where the first difference is. */
static void assert_same_pixels(const uint8_t *got, const uint8_t *want,
                               const char *what)
{
    for (size_t i = 0; i < FB_PIXELS; i++) {
        if (memcmp(got + 3 * i, want + 3 * i, 3)) {
            g_test_message("%s: pixel (%zu, %zu) is %02x%02x%02x, expected "
                           "%02x%02x%02x", what, i % FB_WIDTH, i / FB_WIDTH,
                           got[3 * i], got[3 * i + 1], got[3 * i + 2],
                           want[3 * i], want[3 * i + 1], want[3 * i + 2]);
            g_assert_not_reached();
        }
    }
}

/* A screendump of @qts in @format, decoded to RGB bytes. */
static uint8_t *dump_rgb(QTestState *qts, const char *format)
{
    g_autofree char *file = tmp_path(format ? format : "default");
    g_autoptr(JsonNode) rsp = screendump(qts, file, format);
    uint8_t *rgb;
    int w, h;

    qmp_rsp_return(rsp);
    rgb = format && g_str_equal(format, "png") ? read_png(file, &w, &h)
                                               : read_ppm(file, &w, &h);
    g_assert_cmpint(w, ==, FB_WIDTH);
    g_assert_cmpint(h, ==, FB_HEIGHT);
    unlink(file);
    return rgb;
}

static void test_screendump_formats(void)
{
    QTestState *qts = pc_lite_start("");
    g_autofree uint32_t *px = make_picture(7);
    g_autofree uint8_t *want = picture_rgb(px);
    g_autofree uint8_t *blank = g_malloc0(FB_PIXELS * 3);
    g_autofree uint8_t *before = dump_rgb(qts, NULL);
    g_autofree uint8_t *ppm = NULL, *ppm2 = NULL, *png = NULL;

    /* A fresh framebuffer is black. */
    assert_same_pixels(before, blank, "fresh");
    write_picture(qts, px);
    ppm = dump_rgb(qts, NULL);
    assert_same_pixels(ppm, want, "ppm (default)");
    ppm2 = dump_rgb(qts, "ppm");
    assert_same_pixels(ppm2, want, "format=ppm");
    png = dump_rgb(qts, "png");
    assert_same_pixels(png, want, "format=png");
    /* And the guest reads back what it wrote (it is RAM). */
    g_assert_cmphex(qtest_readl(qts, FB_ADDR + 4 * 1234), ==, px[1234]);
    qtest_quit(qts);
}

static void assert_error(JsonNode *rsp, const char *cls, const char *desc)
{
    g_assert_cmpstr(qmp_rsp_error_class(rsp), ==, cls);
    g_assert_cmpstr(qmp_rsp_error_desc(rsp), ==, desc);
    json_node_unref(rsp);
}

static void check_no_console(const char *args)
{
    g_autofree char *file = tmp_path("none.ppm");
    QTestState *qts = qtest_init(args);

    assert_error(screendump(qts, file, NULL), "GenericError",
                 "There is no console to take a screendump from");
    g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));
    qtest_quit(qts);
}

static void test_screendump_no_console(void)
{
    g_autofree char *vga_none = pc_lite_args("-vga none");
    g_autofree char *nodefaults = pc_lite_args("-nodefaults");

    check_no_console("-M none -m 16M");
    check_no_console(vga_none);
    check_no_console(nodefaults);
}

static void test_screendump_errors(void)
{
    QTestState *qts = pc_lite_start("-nodefaults -vga std");
    g_autofree char *file = tmp_path("err.ppm");
    g_autofree char *bad = g_strdup_printf("%s/no-such-dir/x.ppm",
                                           qtest_tmpdir());
    g_autofree char *bad_msg = g_strdup_printf(
        "failed to open file '%s': No such file or directory", bad);

    assert_error(qtest_qmp(qts, "{'execute': 'screendump', 'arguments': "
                           "{'filename': '%s', 'format': 'bmp'}}", file),
                 "GenericError",
                 "Parameter 'format' does not accept value 'bmp'");
    assert_error(qtest_qmp(qts, "{'execute': 'screendump', 'arguments': "
                           "{'filename': '%s', 'head': 0}}", file),
                 "GenericError",
                 "'head' must be specified together with 'device'");
    assert_error(qtest_qmp(qts, "{'execute': 'screendump', 'arguments': "
                           "{'filename': '%s', 'device': 'vga0'}}", file),
                 "DeviceNotFound", "Device 'vga0' not found");
    assert_error(qtest_qmp(qts, "{'execute': 'screendump'}"),
                 "GenericError", "Parameter 'filename' is missing");
    assert_error(screendump(qts, bad, NULL), "GenericError", bad_msg);
    g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));
    qtest_quit(qts);
}

static void test_screendump_listed(void)
{
    QTestState *qts = qtest_init("-M none -m 16M");
    g_autoptr(JsonNode) rsp = qtest_qmp(qts, "{'execute': "
                                        "'query-commands'}");
    JsonArray *cmds = json_node_get_array(
        json_object_get_member(json_node_get_object(rsp), "return"));
    bool found = false;

    for (guint i = 0; i < json_array_get_length(cmds); i++) {
        JsonObject *c = json_array_get_object_element(cmds, i);

        found |= g_str_equal(json_object_get_string_member(c, "name"),
                             "screendump");
    }
    g_assert_true(found);
    qtest_quit(qts);
}

/*
 * The picture crosses in postcopy: the switch comes at once, so the
 * video RAM's pages arrive in the postcopy phase (pushed or requested).
 */
static void test_screen_postcopy(void)
{
    g_autofree char *sock = tmp_path("disp.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *incoming = g_strdup_printf("-incoming %s", uri);
    g_autofree uint32_t *px = make_picture(11);
    g_autofree uint8_t *want = picture_rgb(px);
    g_autofree uint8_t *src_rgb = NULL, *dst_rgb = NULL;
    g_autoptr(JsonNode) info = NULL;
    QTestState *src, *dst;
    JsonObject *ram;

    if (!have_userfaultfd()) {
        return;
    }
    src = pc_lite_start("-name source");
    dst = pc_lite_start(incoming);
    write_picture(src, px);
    for (int i = 0; i < 2; i++) {
        QTestState *q = i ? dst : src;

        migrate_set_capability(q, "events", true);
        migrate_set_capability(q, "postcopy-ram", true);
    }
    migrate_set_parameter_int(src, "max-bandwidth", 8 << 20);
    migrate_qmp(src, uri);
    qtest_qmp_assert_success(src, "{'execute': 'migrate-start-postcopy'}");
    wait_for_migration_complete(src);
    wait_for_migration_complete(dst);
    info = migrate_query(src);
    ram = json_object_get_object_member(qmp_rsp_return(info), "ram");
    g_assert_cmpint(json_object_get_int_member(ram, "postcopy-bytes"), >, 0);

    src_rgb = dump_rgb(src, NULL);
    dst_rgb = dump_rgb(dst, "png");
    assert_same_pixels(dst_rgb, src_rgb, "destination vs source");
    assert_same_pixels(dst_rgb, want, "destination vs picture");
    qtest_quit(src);
    qtest_quit(dst);
}

/* Both ends must agree on -vga: vga.vram is a RAMBlock of the stream. */
static void test_screen_vga_mismatch(void)
{
    g_autofree char *sock = tmp_path("vga-mismatch.sock");
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *dst_args = NULL;
    g_autofree char *st = NULL;
    QTestOptions opts = { .capture_stderr = true };
    QTestState *src, *dst;

    src = pc_lite_start("-name source");
    dst_args = pc_lite_args("-vga none -incoming");
    dst = qtest_init_opts(&opts, "%s %s", dst_args, uri);
    /* Slowly: the source must not have sent it all when the peer leaves. */
    migrate_set_parameter_int(src, "max-bandwidth", 1 << 20);
    migrate_qmp(src, uri);
    g_assert_cmpint(qtest_wait_exit(dst), !=, 0);
    qtest_set_expected_exit(dst, 1);
    g_assert_nonnull(strstr(qtest_stderr(dst),
                            "Unknown ramblock \"vga.vram\", cannot accept "
                            "migration"));
    wait_for_migration_fail(src, false);
    st = qtest_runstate(src);
    g_assert_cmpstr(st, ==, "running");
    qtest_quit(dst);
    qtest_quit(src);
}

/* Runs ferry to its end; returns its exit status, stderr in *@err. */
static int run_ferry(const char *args, char **err)
{
    g_autofree char *cmd = g_strdup_printf("%s %s", qtest_ferry_binary(),
                                           args);
    g_auto(GStrv) argv = NULL;
    int status;

    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, err, &status, NULL));
    return status;
}

static char *dtb_to_dts(const char *dtb)
{
    g_autofree char *cmd = g_strdup_printf("dtc -q -I dtb -O dts %s", dtb);
    char *out = NULL;
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, NULL, &status,
                                            NULL));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    return out;
}

static void assert_has(const char *dts, const char *text)
{
    if (!strstr(dts, text)) {
        g_test_message("no \"%s\" in:\n%s", text, dts);
        g_assert_not_reached();
    }
}

static char *dumpdtb(const char *extra)
{
    g_autofree char *dtb = tmp_path("pc-lite.dtb");
    g_autofree char *machine = g_strdup_printf("-machine dumpdtb=%s %s",
                                               dtb, extra);
    g_autofree char *args = pc_lite_args(machine);
    g_autofree char *err = NULL;
    g_autofree char *msg = g_strdup_printf("dtb dumped to %s. Exiting.",
                                           dtb);

    g_assert_cmpint(run_ferry(args, &err), ==, 0);
    assert_has(err, msg);
    return g_steal_pointer(&dtb);
}

/* A file that cannot be written: QEMU's message, exit 1. */
static void test_dumpdtb_fails(void)
{
    g_autofree char *dtb = g_strdup_printf("%s/no-such-dir/x.dtb",
                                           qtest_tmpdir());
    g_autofree char *machine = g_strdup_printf("-machine dumpdtb=%s", dtb);
    g_autofree char *args = pc_lite_args(machine);
    g_autofree char *err = NULL;
    g_autofree char *msg = g_strdup_printf("qemu_fdt_dumpdtb: Failed "
                                           "dumping dtb to %s", dtb);
    int status = run_ferry(args, &err);

    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    assert_has(err, msg);
}

static void test_dumpdtb(void)
{
    g_autofree char *dtb = NULL, *dts = NULL, *dtb2 = NULL, *dts2 = NULL;
    g_autofree char *blob = NULL, *args = NULL;
    g_autofree uint8_t *mem = NULL;
    g_autofree char *dtc = g_find_program_in_path("dtc");
    QTestState *qts;
    gsize len;

    if (!dtc) {
        g_test_skip("no dtc (apt install device-tree-compiler)");
        return;
    }
    /* -m 64M in pc_lite_args(), overridden: the last -m wins. */
    dtb = dumpdtb("-m 1536M");
    dts = dtb_to_dts(dtb);
    assert_has(dts, "compatible = \"ferry,pc-lite\";");
    assert_has(dts, "memory@0 {");
    assert_has(dts, "device_type = \"memory\";");
    assert_has(dts, "reg = <0x00 0x00 0x00 0x60000000>;");
    assert_has(dts, "cpu@0 {");
    assert_has(dts, "device_type = \"cpu\";");
    assert_has(dts, "serial@i3f8 {");
    assert_has(dts, "compatible = \"ns16550a\";");
    assert_has(dts, "reg = <0x01 0x3f8 0x08>;");
    assert_has(dts, "clock-frequency = <0x1c2000>;");
    assert_has(dts, "stdout-path = \"/isa/serial@i3f8\";");
    assert_has(dts, "framebuffer@fd000000 {");
    assert_has(dts, "compatible = \"simple-framebuffer\";");
    assert_has(dts, "reg = <0x00 0xfd000000 0x00 0x12c000>;");
    assert_has(dts, "width = <0x280>;");
    assert_has(dts, "height = <0x1e0>;");
    assert_has(dts, "stride = <0xa00>;");
    assert_has(dts, "format = \"x8r8g8b8\";");

    /* -vga none: no framebuffer node. */
    dtb2 = dumpdtb("-vga none");
    dts2 = dtb_to_dts(dtb2);
    assert_has(dts2, "reg = <0x00 0x00 0x00 0x4000000>;");
    g_assert_null(strstr(dts2, "framebuffer"));

    /* The same tree is in guest memory at 0x10000. */
    g_assert_true(g_file_get_contents(dtb2, &blob, &len, NULL));
    args = pc_lite_args("-vga none");
    qts = qtest_init(args);
    mem = g_malloc(len);
    qtest_memread(qts, FDT_ADDR, mem, len);
    g_assert_cmpmem(mem, len, blob, len);
    qtest_quit(qts);
    unlink(dtb);
    unlink(dtb2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/display/screendump/formats", test_screendump_formats);
    g_test_add_func("/display/screendump/no-console",
                    test_screendump_no_console);
    g_test_add_func("/display/screendump/errors", test_screendump_errors);
    g_test_add_func("/display/screendump/listed", test_screendump_listed);
    g_test_add_func("/display/screendump/postcopy", test_screen_postcopy);
    g_test_add_func("/display/screendump/vga-mismatch",
                    test_screen_vga_mismatch);
    g_test_add_func("/display/dtb/dumpdtb", test_dumpdtb);
    g_test_add_func("/display/dtb/dumpdtb-fails", test_dumpdtb_fails);
    return g_test_run();
}
