/*
 * screendump.c: QMP "screendump" — a console's surface to a PPM or PNG
 * file, with QEMU 7.2's arguments, defaults and error messages.
 *
 *   screendump filename=F [device=D [head=N]] [format=ppm|png]
 *
 * Without a device, console 0 is dumped ("There is no console to take a
 * screendump from" when the machine has none: -M none, -vga none); a
 * head without a device is refused.  ferry's display devices have no
 * qdev id, so any device= names none ("Device 'D' not found", class
 * DeviceNotFound), as a QEMU device without id= would.  PPM (P6) is the
 * default; PNG is 8-bit RGB through libpng.  A file that could not be
 * written completely is removed.
 *
 * Both writers convert one line at a time into a packed 24-bit RGB line
 * with pixman (QEMU's "linebuf"), so any surface format works.  The
 * surface is read where it lies, in guest memory: no vCPU has to run for
 * a dump, and qtest writes show up at once.
 */
#include "qemu/osdep.h"
#include "ui/console.h"
#include "qemu/tsan.h"
#include "qapi/qmp/dispatch.h"
#include "trace.h"
#include <png.h>
#include <setjmp.h>

/* Bytes R, G, B in memory order, whatever the host's byte order. */
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
#define LINEBUF_FORMAT  PIXMAN_b8g8r8
#else
#define LINEBUF_FORMAT  PIXMAN_r8g8b8
#endif

static pixman_image_t *linebuf_create(int width)
{
    return pixman_image_create_bits(LINEBUF_FORMAT, width, 1, NULL, 0);
}

/* Converts line @y of @image into @linebuf. */
static void linebuf_fill(pixman_image_t *linebuf, pixman_image_t *image,
                         int width, int y)
{
    /* (The pixels are the guest's: racy with its vCPUs by design.) */
    TSAN_GUEST_RAM_BEGIN();
    pixman_image_composite(PIXMAN_OP_SRC, image, NULL, linebuf,
                           0, y, 0, 0, 0, 0, width, 1);
    TSAN_GUEST_RAM_END();
}

static bool write_all(int fd, const void *buf, size_t len, Error **errp)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error_setg_errno(errp, n < 0 ? errno : EIO,
                             "Unable to write to file");
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

bool ppm_save(int fd, pixman_image_t *image, Error **errp)
{
    int width = pixman_image_get_width(image);
    int height = pixman_image_get_height(image);
    g_autofree char *header = g_strdup_printf("P6\n%d %d\n%d\n", width,
                                              height, 255);
    pixman_image_t *linebuf = linebuf_create(width);
    bool ok = write_all(fd, header, strlen(header), errp);

    trace_ppm_save(fd, image);
    for (int y = 0; ok && y < height; y++) {
        linebuf_fill(linebuf, image, width, y);
        ok = write_all(fd, pixman_image_get_data(linebuf), width * 3, errp);
    }
    pixman_image_unref(linebuf);
    if (close(fd) < 0 && ok) {
        error_setg_errno(errp, errno, "Unable to write to file");
        ok = false;
    }
    return ok;
}

/* libpng reports errors by longjmp; the message is kept for the Error. */
typedef struct PngErr {
    jmp_buf jmp;
    char msg[128];
} PngErr;

static void png_error_fn(png_structp png, png_const_charp msg)
{
    PngErr *e = png_get_error_ptr(png);

    g_strlcpy(e->msg, msg, sizeof(e->msg));
    longjmp(e->jmp, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
}

/* Writes the rows; false (with pe->msg) if libpng failed. */
static bool png_write_rows_of(png_structp png, png_infop info, PngErr *pe,
                            pixman_image_t *image, pixman_image_t *linebuf)
{
    int width = pixman_image_get_width(image);
    int height = pixman_image_get_height(image);

    if (setjmp(pe->jmp)) {
        return false;
    }
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_BASE,
                 PNG_FILTER_TYPE_BASE);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        linebuf_fill(linebuf, image, width, y);
        png_write_row(png, (png_bytep)pixman_image_get_data(linebuf));
    }
    png_write_end(png, NULL);
    return true;
}

bool png_save(int fd, pixman_image_t *image, Error **errp)
{
    pixman_image_t *linebuf;
    png_structp png;
    png_infop info;
    PngErr pe = { 0 };
    FILE *f = fdopen(fd, "wb");
    bool ok;

    trace_png_save(fd, image);
    if (!f) {
        error_setg_errno(errp, errno,
                         "Failed to create file from file descriptor");
        close(fd);
        return false;
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pe, png_error_fn,
                                  png_warning_fn);
    if (!png) {
        error_setg(errp, "PNG creation failed. Unable to write struct");
        fclose(f);
        return false;
    }
    info = png_create_info_struct(png);
    if (!info) {
        error_setg(errp, "PNG creation failed. Unable to write info");
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        return false;
    }
    png_init_io(png, f);
    linebuf = linebuf_create(pixman_image_get_width(image));
    ok = png_write_rows_of(png, info, &pe, image, linebuf);
    png_destroy_write_struct(&png, &info);
    pixman_image_unref(linebuf);
    if (!ok) {
        error_setg(errp, "PNG creation failed. %s", pe.msg);
        fclose(f);
        return false;
    }
    if (fclose(f) != 0) {
        error_setg_errno(errp, errno,
                         "PNG creation failed. Unable to close file");
        return false;
    }
    return true;
}

/* The console "screendump" names, or NULL with QEMU's error. */
static QemuConsole *screendump_console(JsonObject *args, Error **errp)
{
    QemuConsole *con;

    if (qmp_arg_has(args, "device")) {
        /* No ferry display device has an id to find it by. */
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND,
                  "Device '%s' not found", qmp_arg_str(args, "device"));
        return NULL;
    }
    if (qmp_arg_has(args, "head")) {
        error_setg(errp, "'head' must be specified together with 'device'");
        return NULL;
    }
    con = qemu_console_lookup_by_index(0);
    if (!con) {
        error_setg(errp, "There is no console to take a screendump from");
    }
    return con;
}

static char *qmp_screendump(JsonObject *args, Error **errp)
{
    const char *filename = qmp_arg_str(args, "filename");
    const char *format = qmp_arg_has(args, "format")
                         ? qmp_arg_str(args, "format") : "ppm";
    bool png = g_str_equal(format, "png");
    DisplaySurface *surface;
    QemuConsole *con;
    Error *err = NULL;
    bool ok;
    int fd;

    if (!png && !g_str_equal(format, "ppm")) {
        error_setg(errp, "Parameter 'format' does not accept value '%s'",
                   format);
        return NULL;
    }
    con = screendump_console(args, errp);
    if (!con) {
        return NULL;
    }
    graphic_hw_update(con);
    surface = qemu_console_surface(con);
    if (!surface) {
        error_setg(errp, "no surface");
        return NULL;
    }
    trace_screendump(filename, format, 0);
    fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        error_setg(errp, "failed to open file '%s': %s", filename,
                   strerror(errno));
        return NULL;
    }
    ok = png ? png_save(fd, surface->image, &err)
             : ppm_save(fd, surface->image, &err);
    if (!ok) {
        trace_screendump_failed(filename, error_get_pretty(err));
        unlink(filename);
        error_propagate(errp, err);
        return NULL;
    }
    return g_strdup("{}");
}

static const QmpArgSpec screendump_args[] = {
    { "filename", QMP_ARG_STR, false },
    { "device", QMP_ARG_STR, true },
    { "head", QMP_ARG_INT, true },
    { "format", QMP_ARG_STR, true },
    { NULL }
};

static const QmpCommand ui_commands[] = {
    { "screendump", qmp_screendump, screendump_args, 0 },
    { NULL }
};

void qmp_register_ui_commands(void)
{
    qmp_register_commands(ui_commands);
}
