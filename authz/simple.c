/*
 * simple.c: authz-simple, which allows exactly one identity.
 *
 *   -object authz-simple,id=ID,identity=NAME
 *
 * Design: as QEMU 7.2, the identity is compared as a plain string with
 * what the TLS layer presents (the client certificate's DN as GnuTLS
 * renders it, e.g. "O=ferry tests,CN=client.example"): no DN parsing,
 * no case folding, so what users copy from QEMU setups means the same.
 * The identity is immutable once made, so checks from other threads
 * need no lock.
 */
#include "qemu/osdep.h"
#include "authz/base.h"
#include "qom/object_interfaces.h"
#include "trace.h"

typedef struct QAuthZSimple {
    QAuthZ parent;
    char *identity;
} QAuthZSimple;

static bool qauthz_simple_is_allowed(QAuthZ *authz, const char *identity,
                                     Error **errp)
{
    QAuthZSimple *s = (QAuthZSimple *)authz;

    trace_qauthz_simple_is_allowed(s, s->identity, identity);
    return g_str_equal(identity, s->identity);
}

static void qauthz_simple_finalize(QAuthZ *authz)
{
    QAuthZSimple *s = (QAuthZSimple *)authz;

    g_free(s->identity);
    g_free(s);
}

static const QAuthZOps qauthz_simple_ops = {
    .is_allowed = qauthz_simple_is_allowed,
    .finalize = qauthz_simple_finalize,
};

static void *qauthz_simple_create(const char *id, QemuOpts *opts,
                                  Error **errp)
{
    const char *identity = qemu_opt_get(opts, "identity");
    QAuthZSimple *s;

    /*
     * (The real QEMU 7.2 refuses a missing identity as a missing
     * parameter of the QAPI type, before its own "must be set" check
     * could run; "" is accepted.)
     */
    if (!identity) {
        error_setg(errp, "Parameter 'identity' is missing");
        return NULL;
    }
    s = g_new0(QAuthZSimple, 1);
    qauthz_init(&s->parent, &qauthz_simple_ops, id);
    s->identity = g_strdup(identity);
    trace_qauthz_simple_create(s, id, identity);
    return s;
}

static const QmpArgSpec qauthz_simple_props[] = {
    { "identity", QMP_ARG_STR, true },
    { NULL }
};

const UserCreatableType qauthz_simple_type = {
    .name = "authz-simple",
    .props = qauthz_simple_props,
    .create = qauthz_simple_create,
    .ref = qauthz_ref_obj,
    .unref = qauthz_unref_obj,
};
