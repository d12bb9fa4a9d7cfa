/*
 * fuzz-loadvm-pc.c: fuzz target "loadvm-pc" — the loader of fuzz-loadvm.c
 * on "-M pc-lite", whose device sections (the x86 vCPU, the 16550A UART,
 * port 0x92) are what this target is for; everything else, the design
 * note included, is fuzz-loadvm.c's, which this file includes with the
 * machine set.
 *
 * pc-lite needs a boot disk: a one-sector image (a boot sector that
 * halts) is written to a temporary file and added as "-drive
 * file=IMG,format=raw,if=ide" would.  No accelerator runs the vCPU: only
 * its migrated state matters here, and it is loaded as a KVM destination
 * loads it before its first KVM_SET_REGS.
 */
#define FUZZ_MACHINE        "pc-lite"
#define FUZZ_TARGET_NAME    "loadvm-pc"

static void fuzz_machine_prepare(void);

#include "fuzz-loadvm.c"

#include "sysemu/blockdev.h"

static char *fuzz_boot_disk;

static void fuzz_boot_disk_remove(void)
{
    unlink(fuzz_boot_disk);
}

static void fuzz_machine_prepare(void)
{
    /* cli; hlt; jmp $-2, and the boot signature. */
    static const uint8_t code[] = { 0xfa, 0xf4, 0xeb, 0xfd };
    uint8_t sector[512] = { 0 };
    g_autofree char *path = NULL;
    g_autofree char *opt = NULL;
    GError *gerr = NULL;
    Error *err = NULL;
    int fd;

    memcpy(sector, code, sizeof(code));
    sector[510] = 0x55;
    sector[511] = 0xaa;
    fd = g_file_open_tmp("fuzz-loadvm-pc-XXXXXX.img", &path, &gerr);
    if (fd < 0) {
        fuzz_setup_failed("boot disk", gerr->message);
    }
    close(fd);
    if (!g_file_set_contents(path, (const char *)sector, sizeof(sector),
                             &gerr)) {
        fuzz_setup_failed("boot disk", gerr->message);
    }
    opt = g_strdup_printf("file=%s,format=raw,if=ide", path);
    if (!drive_add(opt, &err)) {
        fuzz_setup_failed("boot disk", error_get_pretty(err));
    }
    /* (Read when the machine starts: removed at exit.) */
    fuzz_boot_disk = g_steal_pointer(&path);
    atexit(fuzz_boot_disk_remove);
}
