/*
 * object_interfaces.c: the registry of user-creatable objects, and the
 * object-add / object-del commands.
 *
 * One table maps ids to objects, whatever their type, so an id names one
 * object as in QEMU (where they all live under /objects).  The command
 * line and QMP reach the same create(): QMP arguments are checked first
 * against the type's declared properties with the dispatcher's own
 * checker (the exact messages QEMU's input visitor gives for unexpected
 * or mistyped members), then flattened into QemuOpts.
 *
 * Locking: the main thread adds and deletes; other threads look objects
 * up (a migration thread its TLS credentials, a handshake its authz
 * object).  registry.lock protects the table, and a lookup takes a
 * reference before the lock is dropped, so an object-del meanwhile only
 * drops the registry's reference.
 */
#include "qemu/osdep.h"
#include "qom/object_interfaces.h"
#include "qapi/qmp/qjson.h"
#include "qemu/thread.h"
#include "trace.h"

typedef struct UserObject {
    char *id;
    const UserCreatableType *type;
    void *obj;
} UserObject;

static struct {
    QemuMutex lock;
    GPtrArray *types;           /* of const UserCreatableType *; main thread */
    GHashTable *objects;        /* id -> UserObject *; under lock */
} registry;

static void user_object_free(gpointer p)
{
    UserObject *uo = p;

    if (uo->type->unref) {
        uo->type->unref(uo->obj);
    }
    g_free(uo->id);
    g_free(uo);
}

static void registry_init(void)
{
    if (!registry.types) {
        qemu_mutex_init(&registry.lock);
        registry.types = g_ptr_array_new();
        registry.objects = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                 NULL, user_object_free);
    }
}

void user_creatable_register_type(const UserCreatableType *type)
{
    registry_init();
    g_ptr_array_add(registry.types, (gpointer)type);
}

const UserCreatableType *user_creatable_find_type(const char *name)
{
    for (guint i = 0; registry.types && i < registry.types->len; i++) {
        const UserCreatableType *t = registry.types->pdata[i];

        if (g_str_equal(t->name, name)) {
            return t;
        }
    }
    return NULL;
}

void user_creatable_foreach_type(void (*fn)(const UserCreatableType *t,
                                            void *opaque), void *opaque)
{
    for (guint i = 0; registry.types && i < registry.types->len; i++) {
        fn(registry.types->pdata[i], opaque);
    }
}

/* QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. */
static bool id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

static bool user_creatable_exists(const char *id)
{
    QEMU_LOCK_GUARD(&registry.lock);
    return g_hash_table_contains(registry.objects, id);
}

/*
 * Makes the object (the type, the id and its uniqueness are checked) and
 * enters it in the table.  A taken id is refused as QEMU words it, which
 * differs between the command line and QMP (@from_qmp).
 */
static bool user_creatable_add(const UserCreatableType *t, const char *id,
                               QemuOpts *opts, bool from_qmp, Error **errp)
{
    UserObject *uo;
    void *obj;

    if (!id_wellformed(id)) {
        error_setg(errp, "Parameter 'id' expects an identifier");
        return false;
    }
    if (user_creatable_exists(id)) {
        if (from_qmp) {
            error_setg(errp, "attempt to add duplicate property '%s' to "
                       "object (type 'container')", id);
        } else {
            error_setg(errp, "Duplicate ID '%s' for object", id);
        }
        return false;
    }
    qemu_opt_get(opts, "qom-type");     /* (consumed here) */
    qemu_opt_get(opts, "id");
    obj = t->create(id, opts, errp);
    if (!obj) {
        return false;
    }
    if (!qemu_opts_check_unused(opts, "Invalid parameter '%s'", errp)) {
        if (t->unref) {
            t->unref(obj);
        }
        return false;
    }
    uo = g_new0(UserObject, 1);
    uo->id = g_strdup(id);
    uo->type = t;
    uo->obj = obj;
    qemu_mutex_lock(&registry.lock);
    g_hash_table_insert(registry.objects, uo->id, uo);
    qemu_mutex_unlock(&registry.lock);
    trace_user_creatable_add(t->name, id);
    return true;
}

static const UserCreatableType *type_for(const char *name, Error **errp)
{
    const UserCreatableType *t = name ? user_creatable_find_type(name) : NULL;

    if (!name) {
        error_setg(errp, "Parameter 'qom-type' is missing");
    } else if (!t) {
        error_setg(errp, "Parameter 'qom-type' does not accept value '%s'",
                   name);
    }
    return t;
}

bool user_creatable_add_opts(QemuOpts *opts, Error **errp)
{
    const UserCreatableType *t;
    const char *id;

    registry_init();
    t = type_for(qemu_opt_get(opts, "qom-type"), errp);
    if (!t) {
        return false;
    }
    id = qemu_opt_get(opts, "id");
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        return false;
    }
    return user_creatable_add(t, id, opts, false, errp);
}

/* A checked JSON scalar as a -object value (booleans "on"/"off"). */
static char *json_to_opt(JsonNode *n)
{
    if (qjson_node_is_bool(n)) {
        return g_strdup(json_node_get_boolean(n) ? "on" : "off");
    }
    if (qjson_node_is_string(n)) {
        return g_strdup(json_node_get_string(n));
    }
    if (qjson_node_is_int(n)) {
        return g_strdup_printf("%" PRId64, json_node_get_int(n));
    }
    if (qjson_node_is_number(n)) {
        return g_strdup_printf("%.17g", json_node_get_double(n));
    }
    return NULL;
}

bool user_creatable_add_qmp(JsonObject *args, Error **errp)
{
    static const QmpArgSpec base[] = {
        { "qom-type", QMP_ARG_STR, false },
        { "id", QMP_ARG_STR, false },
    };
    g_autoptr(GArray) specs = g_array_new(true, true, sizeof(QmpArgSpec));
    g_autoptr(QemuOpts) opts = qemu_opts_new();
    g_autoptr(GList) members = NULL;
    const UserCreatableType *t;
    QmpCommand cmd = { .name = "object-add" };

    registry_init();
    t = type_for(qmp_arg_str(args, "qom-type"), errp);
    if (!t) {
        return false;
    }
    if (t->cmdline_only) {
        error_setg(errp, "object-add: ferry makes '%s' objects only on the "
                   "command line (-object)", t->name);
        return false;
    }
    g_array_append_vals(specs, base, G_N_ELEMENTS(base));
    for (const QmpArgSpec *s = t->props; s && s->name; s++) {
        g_array_append_val(specs, *s);
    }
    cmd.args = (const QmpArgSpec *)specs->data;
    if (!qmp_check_args(&cmd, args, errp)) {
        return false;
    }
    members = json_object_get_members(args);
    for (GList *l = members; l; l = l->next) {
        g_autofree char *v =
            json_to_opt(json_object_get_member(args, l->data));

        if (v) {
            qemu_opt_set(opts, l->data, v);
        }
    }
    return user_creatable_add(t, qmp_arg_str(args, "id"), opts, true, errp);
}

bool user_creatable_del(const char *id, Error **errp)
{
    UserObject *uo;

    registry_init();
    qemu_mutex_lock(&registry.lock);
    uo = g_hash_table_lookup(registry.objects, id);
    if (!uo) {
        qemu_mutex_unlock(&registry.lock);
        error_setg(errp, "object '%s' not found", id);
        return false;
    }
    if (uo->type->can_be_deleted && !uo->type->can_be_deleted(uo->obj)) {
        qemu_mutex_unlock(&registry.lock);
        error_setg(errp, "object '%s' is in use, can not be deleted", id);
        return false;
    }
    trace_user_creatable_del(uo->type->name, id);
    g_hash_table_remove(registry.objects, id);
    qemu_mutex_unlock(&registry.lock);
    return true;
}

void *user_creatable_find_ref(const char *id, const UserCreatableType **type)
{
    UserObject *uo;

    registry_init();
    QEMU_LOCK_GUARD(&registry.lock);
    uo = g_hash_table_lookup(registry.objects, id);
    if (!uo) {
        return NULL;
    }
    if (uo->type->ref) {
        uo->type->ref(uo->obj);
    }
    if (type) {
        *type = uo->type;
    }
    return uo->obj;
}

void user_creatable_cleanup(void)
{
    if (registry.objects) {
        qemu_mutex_lock(&registry.lock);
        g_hash_table_remove_all(registry.objects);
        qemu_mutex_unlock(&registry.lock);
    }
}

/* ---- QMP ------------------------------------------------------------ */

static char *qmp_object_add(JsonObject *args, Error **errp)
{
    return user_creatable_add_qmp(args, errp) ? g_strdup("{}") : NULL;
}

static char *qmp_object_del(JsonObject *args, Error **errp)
{
    return user_creatable_del(qmp_arg_str(args, "id"), errp)
           ? g_strdup("{}") : NULL;
}

static const QmpArgSpec object_del_args[] = {
    { "id", QMP_ARG_STR, false },
    { NULL }
};

/* object-add checks its arguments itself: they depend on qom-type. */
static const QmpCommand object_commands[] = {
    { "object-add", qmp_object_add, NULL,
      QCO_ALLOW_PRECONFIG | QCO_ARGS_BY_HANDLER },
    { "object-del", qmp_object_del, object_del_args, QCO_ALLOW_PRECONFIG },
    { NULL }
};

void qmp_register_object_commands(void)
{
    qmp_register_commands(object_commands);
}
