/*
 * dispatch.h: the QMP command registry and argument checking.
 *
 * A command declares its arguments (name, type, optional) so that every
 * command gets QEMU's exact errors for missing, unexpected and mistyped
 * arguments before its handler runs.  A handler returns the JSON text of
 * its "return" value ("{}" for none) or NULL with *errp set.
 *
 * In-band handlers run in the main thread with the BQL held.  Commands
 * flagged QCO_ALLOW_OOB may also be run out of band ("exec-oob"), in the
 * monitor I/O thread without the BQL; they must be written for that.
 */
#ifndef QAPI_QMP_DISPATCH_H
#define QAPI_QMP_DISPATCH_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <json-glib/json-glib.h>

typedef enum QmpArgType {
    QMP_ARG_STR,
    QMP_ARG_BOOL,
    QMP_ARG_INT,        /* int64 */
    QMP_ARG_UINT,       /* uint64 (the JSON text may exceed int64) */
    QMP_ARG_SIZE,       /* QAPI 'size': a uint64 */
    QMP_ARG_UINT8,
    QMP_ARG_UINT32,
    QMP_ARG_STR_OR_NULL,
    QMP_ARG_NUMBER,     /* any JSON number */
    QMP_ARG_OBJECT,
    QMP_ARG_ARRAY,
    QMP_ARG_ANY,
} QmpArgType;

typedef struct QmpArgSpec {
    const char *name;
    QmpArgType type;
    bool optional;
} QmpArgSpec;

#define QCO_ALLOW_OOB        (1u << 0)
#define QCO_ALLOW_PRECONFIG  (1u << 1)
/* The handler checks its own arguments (object-add: they vary by type). */
#define QCO_ARGS_BY_HANDLER  (1u << 2)

/* @args is never NULL (an empty object when the request had none). */
typedef char *QmpCommandFunc(JsonObject *args, Error **errp);

typedef struct QmpCommand {
    const char *name;
    QmpCommandFunc *fn;
    const QmpArgSpec *args;     /* terminated by { NULL } ; may be NULL */
    unsigned flags;
} QmpCommand;

void qmp_register_command(const QmpCommand *cmd);
/* Registers a NULL-name-terminated table. */
void qmp_register_commands(const QmpCommand *cmds);
const QmpCommand *qmp_find_command(const char *name);
/* Calls @fn for each command in registration order. */
void qmp_for_each_command(void (*fn)(const QmpCommand *cmd, void *opaque),
                          void *opaque);

/* Checks @args against @cmd's declaration. */
bool qmp_check_args(const QmpCommand *cmd, JsonObject *args, Error **errp);

/* Typed access to checked arguments (the has_ form for optional ones). */
const char *qmp_arg_str(JsonObject *args, const char *name);
bool qmp_arg_bool(JsonObject *args, const char *name, bool defval);
int64_t qmp_arg_int(JsonObject *args, const char *name, int64_t defval);
uint64_t qmp_arg_uint(JsonObject *args, const char *name, uint64_t defval);
double qmp_arg_number(JsonObject *args, const char *name, double defval);
bool qmp_arg_has(JsonObject *args, const char *name);

#endif
