/*
 * object_interfaces.h: user-creatable objects (-object, object-add,
 * object-del).
 *
 * ferry has no QOM type tree; what it keeps of QOM is what users see:
 * objects made on the command line or over QMP, each with a type name
 * ("qom-type"), a unique id and flat properties, spelled and checked as
 * QEMU 7.2 does.  A module registers a UserCreatableType; the registry
 * owns the id namespace (one id, one object, whatever its type), the
 * argument checks and the messages.  Properties reach a type as QemuOpts
 * whichever way the object was made: QMP's JSON values are checked
 * against the type's declared property types first (QEMU's messages),
 * then turned into strings (booleans "on"/"off").
 *
 * Objects are reference counted by their type: lookups from other
 * threads (a migration thread looking up its TLS credentials) take a
 * reference under the registry lock, so an object-del while a migration
 * uses the object frees it only once the migration drops it.
 */
#ifndef QOM_OBJECT_INTERFACES_H
#define QOM_OBJECT_INTERFACES_H

#include "qemu/osdep.h"
#include "qemu/option.h"
#include "qapi/qmp/dispatch.h"

typedef struct UserCreatableType {
    const char *name;               /* qom-type */
    /*
     * Properties besides qom-type and id, with their QMP types: object-add
     * refuses others, and mistyped ones, with QEMU's messages.
     */
    const QmpArgSpec *props;
    /* Created only on the command line (refused by object-add). */
    bool cmdline_only;
    /*
     * Makes the object from @opts (which also hold "qom-type" and "id");
     * every property it does not consume is refused by the registry
     * afterwards ("Invalid parameter '%s'") and the object destroyed.
     */
    void *(*create)(const char *id, QemuOpts *opts, Error **errp);
    /* Takes / drops a reference; the registry holds one from creation. */
    void (*ref)(void *obj);
    void (*unref)(void *obj);
    /* Optional: refuse object-del (e.g. a memory backend in use). */
    bool (*can_be_deleted)(void *obj);
} UserCreatableType;

/* At start-up, before any object is made (main thread). */
void user_creatable_register_type(const UserCreatableType *type);
const UserCreatableType *user_creatable_find_type(const char *name);
/* Calls @fn for each registered type, in registration order. */
void user_creatable_foreach_type(void (*fn)(const UserCreatableType *t,
                                            void *opaque), void *opaque);

/* -object: @opts hold qom-type first, id and the properties. */
bool user_creatable_add_opts(QemuOpts *opts, Error **errp);
/* object-add: the arguments object of the QMP command. */
bool user_creatable_add_qmp(JsonObject *args, Error **errp);
/* object-del */
bool user_creatable_del(const char *id, Error **errp);

/*
 * The object named @id with a reference taken (drop it with the type's
 * unref), and its type in *@type; NULL if there is none.  Any thread.
 */
void *user_creatable_find_ref(const char *id,
                              const UserCreatableType **type);
/* At exit: drops the registry's references (main thread). */
void user_creatable_cleanup(void);

/* object-add, object-del (start-up). */
void qmp_register_object_commands(void);

#endif
