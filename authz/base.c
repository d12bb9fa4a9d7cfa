/*
 * base.c: what every authz object shares, and the check by id that
 * tls-authz uses.
 *
 * Design: QEMU's QAuthZ is an abstract QOM class; here it is a small
 * header (include/authz/base.h) at the start of each authz object, with
 * the type's operations and an atomic reference count, so that the
 * registry can own objects of any authz type and a TLS handshake in a
 * migration thread can check one while the main thread deletes it.
 * An object found by id is an authz object when its registered type is
 * one of the types this file registered (pointer identity, no names to
 * keep in step).  The messages are QEMU 7.2's.
 */
#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "authz/base.h"
#include "qom/object_interfaces.h"
#include "trace.h"

static const UserCreatableType *const qauthz_types[] = {
    &qauthz_simple_type,
};

void qauthz_init(QAuthZ *authz, const QAuthZOps *ops, const char *id)
{
    authz->ops = ops;
    authz->refcnt = 1;
    authz->id = g_strdup(id);
}

void qauthz_ref_obj(void *obj)
{
    QAuthZ *authz = obj;

    qatomic_inc(&authz->refcnt);
}

void qauthz_unref_obj(void *obj)
{
    QAuthZ *authz = obj;

    if (authz && qatomic_fetch_sub(&authz->refcnt, 1) == 1) {
        g_free(authz->id);
        authz->ops->finalize(authz);
    }
}

static bool qauthz_is_type(const UserCreatableType *type)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qauthz_types); i++) {
        if (type == qauthz_types[i]) {
            return true;
        }
    }
    return false;
}

bool qauthz_is_allowed_by_id(const char *authzid, const char *identity,
                             Error **errp)
{
    const UserCreatableType *type = NULL;
    void *obj = user_creatable_find_ref(authzid, &type);
    QAuthZ *authz;
    bool allowed;

    if (!obj) {
        error_setg(errp, "Cannot find QAuthZ object ID %s", authzid);
        return false;
    }
    if (!qauthz_is_type(type)) {
        if (type->unref) {
            type->unref(obj);
        }
        error_setg(errp, "Object '%s' is not a QAuthZ subclass", authzid);
        return false;
    }
    authz = obj;
    allowed = authz->ops->is_allowed(authz, identity, errp);
    trace_qauthz_is_allowed(authz, authzid, identity, allowed);
    qauthz_unref_obj(authz);
    return allowed;
}

void qauthz_register_types(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qauthz_types); i++) {
        user_creatable_register_type(qauthz_types[i]);
    }
}
