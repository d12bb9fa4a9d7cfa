/*
 * postcopy-ram.c: the destination's postcopy commands.
 *
 * The postcopy state machine (NONE -> ADVISE -> DISCARD -> LISTENING ->
 * RUNNING -> END) decides which command is legal when; a command out of
 * order fails the migration with QEMU's message ("... in wrong postcopy
 * state (N)").  userfaultfd demand paging builds on this.
 */
#include "qemu/osdep.h"
#include "postcopy-ram.h"
#include "migration.h"
#include "options.h"
#include "savevm.h"
#include "qemu/atomic.h"
#include "trace.h"

static int incoming_postcopy_state;     /* PostcopyState, atomic */

PostcopyState postcopy_state_get(void)
{
    return qatomic_read(&incoming_postcopy_state);
}

void postcopy_state_set(PostcopyState state)
{
    trace_postcopy_state_set(postcopy_state_get(), state);
    qatomic_set(&incoming_postcopy_state, state);
}

bool postcopy_incoming_advised(MigrationIncomingState *mis)
{
    PostcopyState ps = postcopy_state_get();

    return ps >= POSTCOPY_INCOMING_ADVISE && ps < POSTCOPY_INCOMING_END;
}

static int fail(QEMUFile *f, Error **errp, int ret, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static int fail(QEMUFile *f, Error **errp, int ret, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(errp, "%s", msg);
    qemu_file_set_error(f, ret);
    return ret;
}

static int handle_advise(QEMUFile *f, MigrationIncomingState *mis,
                         unsigned len, uint64_t start, Error **errp)
{
    PostcopyState ps = postcopy_state_get();

    if (ps != POSTCOPY_INCOMING_NONE) {
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_"
                    "ADVISE in wrong postcopy state (%d)", start, ps);
    }
    switch (len) {
    case 0:
        if (migrate_postcopy_ram()) {
            return fail(f, errp, -EINVAL, "offset %" PRIu64 ": RAM postcopy "
                        "is enabled but have 0 byte advise", start);
        }
        /* Dirty-bitmap postcopy only; ferry has no block dirty bitmaps. */
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": dirty-bitmap "
                    "postcopy is not supported by ferry", start);
    case 16:
        if (!migrate_postcopy_ram()) {
            return fail(f, errp, -EINVAL, "offset %" PRIu64 ": RAM postcopy "
                        "is disabled but have 16 byte advise", start);
        }
        return fail(f, errp, -ENOTSUP, "offset %" PRIu64 ": postcopy RAM "
                    "is not available in this build", start);
    default:
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_"
                    "ADVISE invalid length (%u)", start, len);
    }
}

int postcopy_incoming_command(QEMUFile *f, MigrationIncomingState *mis,
                              unsigned cmd, unsigned len, uint64_t start,
                              Error **errp)
{
    PostcopyState ps = postcopy_state_get();

    switch (cmd) {
    case MIG_CMD_POSTCOPY_ADVISE:
        return handle_advise(f, mis, len, start, errp);
    case MIG_CMD_POSTCOPY_LISTEN:
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_"
                    "LISTEN in wrong postcopy state (%d)", start, ps);
    case MIG_CMD_POSTCOPY_RUN:
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_RUN "
                    "in wrong postcopy state (%d)", start, ps);
    case MIG_CMD_POSTCOPY_RAM_DISCARD:
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": CMD_POSTCOPY_RAM_"
                    "DISCARD in wrong postcopy state (%d)", start, ps);
    case MIG_CMD_POSTCOPY_RESUME:
        /* QEMU only warns about a resume outside recovery. */
        return 0;
    case MIG_CMD_RECV_BITMAP:
    default:
        return fail(f, errp, -EINVAL, "offset %" PRIu64 ": %s outside a "
                    "postcopy recovery", start, mig_cmd_name(cmd));
    }
}
