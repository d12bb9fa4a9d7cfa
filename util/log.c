/*
 * log.c: the trace/debug log stream.
 *
 * log_file is swapped only by the command-line parser (-D, -trace file=)
 * and at exit, both while no other thread exists, so it needs no lock;
 * stdio's own per-FILE lock keeps concurrent qemu_log() lines whole.
 */
#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qapi/error.h"

static FILE *log_file;

void qemu_log(const char *fmt, ...)
{
    FILE *f = log_file ? log_file : stderr;
    va_list ap;

    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (f != stderr) {
        fflush(f);
    }
}

bool qemu_set_log_filename(const char *filename, Error **errp)
{
    FILE *f;

    if (strstr(filename, "%d")) {
        /* QEMU substitutes the pid for %d in -D file names. */
        g_autofree char *name = g_strdup(filename);
        g_autofree char *pid = g_strdup_printf("%d", getpid());
        char *p = strstr(name, "%d");
        g_autofree char *full = NULL;

        *p = '\0';
        full = g_strconcat(name, pid, p + 2, NULL);
        f = fopen(full, "a");
    } else {
        f = fopen(filename, "a");
    }
    if (!f) {
        error_setg_errno(errp, errno, "Error opening logfile %s", filename);
        return false;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    qemu_log_close();
    log_file = f;
    return true;
}

void qemu_log_close(void)
{
    if (log_file) {
        fclose(log_file);
        log_file = NULL;
    }
}
