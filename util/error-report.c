/*
 * error-report.c: messages for humans, prefixed like QEMU's.
 *
 * The "location" is set by the command-line parser while it handles one
 * option, so errors raised deep inside option handling still name the
 * option the user typed.  It is a plain global because only the main
 * thread parses the command line, before any other thread exists.
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"

bool message_with_timestamp;
static char *progname;
static char *cur_loc;

void error_set_progname(const char *argv0)
{
    g_free(progname);
    progname = g_path_get_basename(argv0);
}

const char *error_get_progname(void)
{
    return progname ? progname : "ferry";
}

void loc_set_cmdline(const char *opt, const char *arg)
{
    g_free(cur_loc);
    cur_loc = arg ? g_strdup_printf("%s %s", opt, arg) : g_strdup(opt);
}

void loc_clear(void)
{
    g_clear_pointer(&cur_loc, g_free);
}

G_GNUC_PRINTF(2, 0)
static void vreport(const char *kind, const char *fmt, va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    g_autofree char *ts = NULL;
    g_autofree char *line = NULL;

    if (message_with_timestamp) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *t = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");

        ts = g_strdup_printf("%s.%06dZ ", t, g_date_time_get_microsecond(now));
    }
    /*
     * One write so that concurrent reporters do not interleave lines;
     * plain heap strings (not a GString, whose slice allocator hides
     * the hand-over of its memory between threads from ThreadSanitizer).
     */
    line = g_strdup_printf("%s%s: %s%s%s%s\n", ts ? ts : "",
                           error_get_progname(), cur_loc ? cur_loc : "",
                           cur_loc ? ": " : "", kind ? kind : "", msg);
    fputs(line, stderr);
    fflush(stderr);
}

void error_vreport(const char *fmt, va_list ap)
{
    vreport(NULL, fmt, ap);
}

void error_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(NULL, fmt, ap);
    va_end(ap);
}

void warn_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport("warning: ", fmt, ap);
    va_end(ap);
}

void info_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport("info: ", fmt, ap);
    va_end(ap);
}
