/*
 * authz/base.h: authorization objects, for tls-authz.
 *
 *   -object authz-simple,id=ID,identity=NAME
 *
 * authz-simple allows exactly one identity (for TLS: the client
 * certificate's distinguished name as GnuTLS renders it), compared as a
 * string, as QEMU 7.2 does.
 */
#ifndef AUTHZ_BASE_H
#define AUTHZ_BASE_H

#include "qemu/osdep.h"
#include "qapi/error.h"

/* Registers authz-simple (start-up, main thread). */
void qauthz_register_types(void);

/*
 * Whether the authz object @authzid allows @identity.  No such object:
 * false with QEMU's "Cannot find QAuthZ object ID ID"; denied: false with
 * *errp unset (the caller words the refusal).  Any thread.
 */
bool qauthz_is_allowed_by_id(const char *authzid, const char *identity,
                             Error **errp);

/*
 * For authz types (authz/simple.c).  Every authz object starts with a
 * QAuthZ: the type's operations, an atomic reference count (the
 * registry holds one, a check in progress another) and the id.
 */
typedef struct QAuthZ QAuthZ;
typedef struct QAuthZOps {
    /* false with *errp unset: denied; false with *errp set: failed */
    bool (*is_allowed)(QAuthZ *authz, const char *identity, Error **errp);
    /* Frees the object (its id is already freed) */
    void (*finalize)(QAuthZ *authz);
} QAuthZOps;
struct QAuthZ {
    const QAuthZOps *ops;
    int refcnt;
    char *id;
};

/* Fills the header: one reference, owned by the caller. */
void qauthz_init(QAuthZ *authz, const QAuthZOps *ops, const char *id);
/* UserCreatableType.ref / .unref for every authz type. */
void qauthz_ref_obj(void *obj);
void qauthz_unref_obj(void *obj);

/* The authz types, registered by qauthz_register_types(). */
struct UserCreatableType;
extern const struct UserCreatableType qauthz_simple_type;

#endif
