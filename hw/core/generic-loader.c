/*
 * generic-loader.c: -device loader (see include/hw/loader.h).
 *
 * ferry loads only raw images: QEMU's loader tries ELF, uImage and Intel
 * HEX first, which matters for firmware, not for filling RAM.  A file that
 * does not fit in guest RAM at ADDR is an error, as in QEMU.
 */
#include "qemu/osdep.h"
#include "hw/loader.h"
#include "exec/memory.h"
#include "qemu/cutils.h"
#include "trace.h"

typedef struct GenericLoader {
    char *file;
    uint64_t addr;
    uint64_t data;
    uint64_t data_len;
    bool data_be;
} GenericLoader;

static GPtrArray *loaders;

bool generic_loader_create(QemuOpts *opts, Error **errp)
{
    GenericLoader *l = g_new0(GenericLoader, 1);
    bool has_data = qemu_opt_has(opts, "data");
    uint64_t cpu_num;

    if (!qemu_opt_get_number(opts, "addr", 0, &l->addr, errp) ||
        !qemu_opt_get_number(opts, "data", 0, &l->data, errp) ||
        !qemu_opt_get_number(opts, "data-len", 0, &l->data_len, errp) ||
        !qemu_opt_get_bool(opts, "data-be", false, &l->data_be, errp) ||
        !qemu_opt_get_number(opts, "cpu-num", 0, &cpu_num, errp)) {
        goto fail;
    }
    l->file = g_strdup(qemu_opt_get(opts, "file"));
    qemu_opt_get(opts, "driver");
    qemu_opt_get(opts, "id");
    qemu_opt_get(opts, "force-raw");
    if (!qemu_opts_check_unused(opts, "Property 'loader.%s' not found",
                                errp)) {
        goto fail;
    }
    if (has_data == (l->file != NULL)) {
        error_setg(errp, "please include valid arguments");
        goto fail;
    }
    if (has_data && (l->data_len == 0 || l->data_len > 8)) {
        error_setg(errp, "data-len cannot be 0 or greater than 8 bytes");
        goto fail;
    }
    if (!qemu_opt_has(opts, "addr")) {
        error_setg(errp, "please include valid arguments");
        goto fail;
    }
    if (!loaders) {
        loaders = g_ptr_array_new();
    }
    g_ptr_array_add(loaders, l);
    return true;

fail:
    g_free(l->file);
    g_free(l);
    return false;
}

static bool load_file(GenericLoader *l, Error **errp)
{
    g_autofree char *contents = NULL;
    g_autoptr(GError) gerr = NULL;
    gsize len = 0;
    ram_addr_t off;
    hwaddr avail;

    if (!g_file_get_contents(l->file, &contents, &len, &gerr)) {
        error_setg(errp, "Cannot load specified image %s: %s", l->file,
                   gerr->message);
        return false;
    }
    /* The whole image must land in RAM. */
    if (len && (!address_space_translate_ram(&address_space_memory, l->addr,
                                             &off, &avail) ||
                avail < len)) {
        error_setg(errp, "Cannot load specified image %s (does not fit in "
                   "RAM at 0x%" PRIx64 ")", l->file, l->addr);
        return false;
    }
    address_space_write(&address_space_memory, l->addr, contents, len);
    trace_generic_loader_file(l->file, l->addr, len);
    return true;
}

bool generic_loader_reset(Error **errp)
{
    for (guint i = 0; loaders && i < loaders->len; i++) {
        GenericLoader *l = loaders->pdata[i];

        if (l->file) {
            if (!load_file(l, errp)) {
                return false;
            }
        } else {
            uint8_t b[8];

            for (unsigned k = 0; k < l->data_len; k++) {
                unsigned shift = l->data_be ? 8 * (l->data_len - 1 - k)
                                            : 8 * k;
                b[k] = l->data >> shift;
            }
            address_space_write(&address_space_memory, l->addr, b,
                                l->data_len);
        }
    }
    return true;
}
