/*
 * error.h: the Error object and the Error **errp convention.
 *
 * A function that can fail takes "Error **errp" as its last argument and
 * also returns a value that says whether it failed (bool, pointer, -errno).
 * On failure it sets *errp exactly once (when errp is non-NULL); on success
 * it never touches it.  Only the final consumer reports or frees the error.
 *
 * Callers that cannot handle a failure pass &error_abort (a bug if it ever
 * fires) or, during start-up only, &error_fatal (report and exit(1)).
 * Nothing derived from a migration stream, a socket or the guest may use
 * either of them.
 */
#ifndef QAPI_ERROR_H
#define QAPI_ERROR_H

#include "qemu/osdep.h"

/* QMP error classes, spelled as on the wire. */
typedef enum ErrorClass {
    ERROR_CLASS_GENERIC_ERROR,
    ERROR_CLASS_COMMAND_NOT_FOUND,
    ERROR_CLASS_DEVICE_NOT_ACTIVE,
    ERROR_CLASS_DEVICE_NOT_FOUND,
    ERROR_CLASS_KVM_MISSING_CAP,
    ERROR_CLASS__MAX
} ErrorClass;

typedef struct Error Error;

extern Error *error_abort;
extern Error *error_fatal;

const char *error_class_name(ErrorClass cls);
ErrorClass error_get_class(const Error *err);
const char *error_get_pretty(const Error *err);

void error_setg_internal(Error **errp, const char *src, int line,
                         const char *func, ErrorClass cls,
                         const char *fmt, ...) G_GNUC_PRINTF(6, 7);
void error_setg_errno_internal(Error **errp, const char *src, int line,
                               const char *func, int os_errno,
                               const char *fmt, ...) G_GNUC_PRINTF(6, 7);

#define error_setg(errp, ...) \
    error_setg_internal((errp), __FILE__, __LINE__, __func__, \
                        ERROR_CLASS_GENERIC_ERROR, __VA_ARGS__)
#define error_set(errp, cls, ...) \
    error_setg_internal((errp), __FILE__, __LINE__, __func__, (cls), \
                        __VA_ARGS__)
#define error_setg_errno(errp, os_errno, ...) \
    error_setg_errno_internal((errp), __FILE__, __LINE__, __func__, \
                              (os_errno), __VA_ARGS__)

/* Moves @local_err into *dst_errp (or frees / aborts / exits as needed). */
void error_propagate(Error **dst_errp, Error *local_err);
/* error_propagate() plus a prefix added to the message. */
void error_propagate_prepend(Error **dst_errp, Error *local_err,
                             const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Adds a prefix to an error already set in *errp (no-op when none). */
void error_prepend(Error *const *errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/* Adds a hint printed after the message by error_report_err(). */
void error_append_hint(Error *const *errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

Error *error_copy(const Error *err);
void error_free(Error *err);
/* Frees *errp if set and clears it. */
void error_free_or_abort(Error **errp);

/* Reports @err with error_report() (and its hint), then frees it. */
void error_report_err(Error *err);
void warn_report_err(Error *err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Error, error_free)

#endif
