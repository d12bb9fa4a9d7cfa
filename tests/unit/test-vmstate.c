/*
 * test-vmstate: the VMState engine against golden bytes.
 *
 * Every description has a golden test: the saved bytes and JSON
 * description must match exactly, the bytes (followed by a footer byte,
 * as in a real stream) must load back into a fresh struct, every proper
 * prefix of them, and the whole without the footer, must fail to load
 * with a "truncated" message, and no single corrupted byte may make the
 * loader crash, overflow or leak (the suite also runs under ASan).
 * QEMU 7.2's "timer" and "globalstate" are checked against the bytes and
 * the 486-byte description of a real 7.2 migration (spec §2.6, §3.5,
 * §3.6).  Then the failure paths: versions, subsections, checkers,
 * hostile counts and sizes, hooks.
 *
 * This file has the helpers the other parts use, QEMU 7.2's "timer" and
 * "globalstate" with the interop tests, the save failures, the sticky
 * error, and main(), which registers every test path.  The descriptions
 * of the field macros, the golden table and the golden, truncated and
 * corrupt tests are in test-vmstate-golden.c; versions, checkers,
 * subsections, hooks and hostile lengths in test-vmstate-rules.c; what
 * they share in test-vmstate.h.
 *
 * Expected bytes are hex with "quoted" ASCII.  Expected JSON is written
 * with ' for " and built from JF()/JA()/JI()/JS() (one field each) so
 * that it stays readable; the 7.2 text is quoted literally.
 */
#include "qemu/osdep.h"
#include "test-vmstate.h"

/* ---- helpers ---- */

/* "00 0a \"ab\"" -> bytes 00 0a 61 62 */
GByteArray *hex(const char *s)
{
    GByteArray *out = g_byte_array_new();

    while (*s) {
        if (*s == '"') {
            const char *end = strchr(s + 1, '"');

            g_assert_nonnull(end);
            g_byte_array_append(out, (const guint8 *)s + 1, end - s - 1);
            s = end + 1;
        } else if (g_ascii_isxdigit(s[0])) {
            guint8 b;

            g_assert_true(g_ascii_isxdigit(s[1]));
            b = g_ascii_xdigit_value(s[0]) << 4 | g_ascii_xdigit_value(s[1]);
            g_byte_array_append(out, &b, 1);
            s += 2;
        } else {
            g_assert_true(g_ascii_isspace(*s));
            s++;
        }
    }
    return out;
}

/* 'x' -> "x" */
char *dq(const char *s)
{
    char *out = g_strdup(s);

    for (char *p = out; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return out;
}

/*
 * Saves @obj (as @version, or the vmsd's own when < 0); returns the bytes
 * and, if @json, the description members wrapped in an object.
 */
GByteArray *save_obj(const VMStateDescription *vmsd, void *obj,
                     int version, char **json)
{
    MigChannel *c = mig_channel_new_writer("test");
    QEMUFile *f = qemu_file_new_output(c);
    JSONWriter *w = json ? json_writer_new(false) : NULL;
    GByteArray *out = g_byte_array_new();
    const uint8_t *data;
    Error *err = NULL;
    size_t len;
    int ret;

    if (w) {
        json_writer_start_object(w, NULL);
    }
    if (version < 0) {
        ret = vmstate_save_state(f, vmsd, obj, w, &err);
    } else {
        ret = vmstate_save_state_v(f, vmsd, obj, w, version, &err);
    }
    if (err) {
        g_error("save failed: %s", error_get_pretty(err));
    }
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(qemu_fclose(f), ==, 0);
    data = mig_channel_buffer_data(c, &len);
    g_byte_array_append(out, data, len);
    mig_channel_unref(c);
    if (w) {
        json_writer_end_object(w);
        *json = json_writer_finish(w);
    }
    return out;
}

LoadResult load_buf(const VMStateDescription *vmsd, void *obj,
                    const uint8_t *data, size_t len, int version,
                    Error **errp)
{
    MigChannel *c = mig_channel_new_buffer(data, len, "test");
    QEMUFile *f = qemu_file_new_input(c);
    LoadResult r;

    r.ret = vmstate_load_state(f, vmsd, obj, version, errp);
    r.file_error = qemu_file_get_error(f);
    r.consumed = qemu_file_tell(f);
    qemu_fclose(f);
    mig_channel_unref(c);
    return r;
}

/* Loads hex @wire, expecting success and that it stops at the footer. */
void load_ok(const VMStateDescription *vmsd, void *obj,
             const char *wire, int version)
{
    g_autoptr(GByteArray) b = hex(wire);
    guint8 footer = FOOTER;
    Error *err = NULL;
    LoadResult r;
    size_t len = b->len;

    g_byte_array_append(b, &footer, 1);
    r = load_buf(vmsd, obj, b->data, b->len, version, &err);
    if (err) {
        g_error("load failed: %s", error_get_pretty(err));
    }
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_cmpuint(r.consumed, ==, len);
}

/*
 * Loads hex @wire (plus a footer), expecting failure @ret with a message
 * containing @msg, and that the failure stuck to the stream.
 */
void load_fails(const VMStateDescription *vmsd, void *obj,
                const char *wire, int version, int ret,
                const char *msg)
{
    g_autoptr(GByteArray) b = hex(wire);
    guint8 footer = FOOTER;
    Error *err = NULL;
    LoadResult r;

    g_byte_array_append(b, &footer, 1);
    r = load_buf(vmsd, obj, b->data, b->len, version, &err);
    g_assert_cmpint(r.ret, ==, ret);
    g_assert_cmpint(r.file_error, ==, r.ret);
    g_assert_nonnull(err);
    if (!strstr(error_get_pretty(err), msg)) {
        g_error("message '%s' lacks '%s'", error_get_pretty(err), msg);
    }
    if (g_test_verbose()) {
        g_test_message("expected failure: %s", error_get_pretty(err));
    }
    error_free(err);
}

/* ---- QEMU 7.2's "timer" and "globalstate" (spec §3.5, §3.6) ---- */

PRED(icount_needed, TimersState, s->icount_enabled)

static const VMStateDescription vmstate_icount = {
    VMSD("timer/icount", 1, 1),
    .needed = icount_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_INT64(qemu_icount_bias, TimersState),
        VMSTATE_INT64(qemu_icount, TimersState),
        VMSTATE_END_OF_LIST()
    },
};

const VMStateDescription vmstate_timers = {
    VMSD("timer", 2, 1),
    .fields = (const VMStateField[]) {
        VMSTATE_INT64(cpu_ticks_offset, TimersState),
        VMSTATE_UNUSED(8),
        VMSTATE_INT64_V(cpu_clock_offset, TimersState, 2),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription *[]) {
        &vmstate_icount, NULL
    },
};

/* The values of the 7.2 capture. */
void timers_fill(void *obj)
{
    FILL_FROM(obj, TimersState, { 0x0a09a8f0, 0x0504d472 });
}

static int globalstate_pre_save(void *opaque)
{
    GlobalState *s = opaque;

    s->size = strnlen((char *)s->runstate, sizeof(s->runstate)) + 1;
    return 0;
}

/* Both the size and the NUL come from the stream: check them. */
static int globalstate_post_load(void *opaque, int version_id)
{
    GlobalState *s = opaque;

    if (s->size == 0 || s->size > sizeof(s->runstate) ||
        s->runstate[s->size - 1] != 0) {
        return -EINVAL;
    }
    return 0;
}

const VMStateDescription vmstate_globalstate = {
    VMSD("globalstate", 1, 1),
    .pre_save = globalstate_pre_save,
    .post_load = globalstate_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(size, GlobalState),
        VMSTATE_BUFFER(runstate, GlobalState),
        VMSTATE_END_OF_LIST()
    },
};

void globalstate_fill(void *obj)
{
    FILL_FROM(obj, GlobalState, { 8, "running" });
}

/* ---- QEMU 7.2 interop ---- */

/* The description of a real 7.2 `-M none` migration (spec §2.6). */
static const char qemu72_vmdesc[] =
    "{\"page_size\": 4096, \"devices\": [{\"name\": \"timer\", "
    "\"instance_id\": 0, \"vmsd_name\": \"timer\", \"version\": 2, "
    "\"fields\": [{\"name\": \"cpu_ticks_offset\", \"type\": \"int64\", "
    "\"size\": 8}, {\"name\": \"unused\", \"type\": \"unused_buffer\", "
    "\"size\": 8}, {\"name\": \"cpu_clock_offset\", \"type\": \"int64\", "
    "\"size\": 8}]}, {\"name\": \"globalstate\", \"instance_id\": 0, "
    "\"vmsd_name\": \"globalstate\", \"version\": 1, \"fields\": "
    "[{\"name\": \"size\", \"type\": \"uint32\", \"size\": 4}, "
    "{\"name\": \"runstate\", \"type\": \"buffer\", \"size\": 100}]}]}";

/* Wraps the devices as savevm does and compares with 7.2's text. */
static void test_qemu72_vmdesc(void)
{
    TimersState timers = { 0 };
    GlobalState gs = { .runstate = "running" };     /* pre_save: size */
    const VMStateDescription *vmsds[] = { &vmstate_timers,
                                          &vmstate_globalstate };
    void *opaques[] = { &timers, &gs };
    MigChannel *c = mig_channel_new_writer("test");
    QEMUFile *f = qemu_file_new_output(c);
    JSONWriter *w = json_writer_new(false);
    g_autofree char *json = NULL;
    g_autoptr(GByteArray) want = hex(TIMER_WIRE " " GLOBALSTATE_WIRE);
    const uint8_t *data;
    size_t len;

    timers_fill(&timers);
    json_writer_start_object(w, NULL);
    json_writer_int64(w, "page_size", 4096);
    json_writer_start_list(w, "devices");
    for (size_t i = 0; i < G_N_ELEMENTS(vmsds); i++) {
        Error *err = NULL;

        g_assert_true(vmstate_section_needed(vmsds[i], opaques[i]));
        json_writer_start_object(w, NULL);
        json_writer_str(w, "name", vmsds[i]->name);
        json_writer_int64(w, "instance_id", 0);
        g_assert_cmpint(vmstate_save_state(f, vmsds[i], opaques[i], w, &err),
                        ==, 0);
        g_assert_null(err);
        json_writer_end_object(w);
    }
    json_writer_end_list(w);
    json_writer_end_object(w);
    json = json_writer_finish(w);
    g_assert_cmpuint(strlen(qemu72_vmdesc), ==, 486);
    g_assert_cmpstr(json, ==, qemu72_vmdesc);

    /* The two payloads back to back, as in the capture. */
    g_assert_cmpint(qemu_fclose(f), ==, 0);
    data = mig_channel_buffer_data(c, &len);
    g_assert_cmpuint(want->len, ==, 24 + 104);
    g_assert_cmpmem(data, len, want->data, want->len);
    mig_channel_unref(c);
}

/*
 * Loads the FULL sections of the real capture, if the spec's captures
 * are at hand ($FERRY_CAPTURES, set by meson).
 */
static void test_qemu72_capture(void)
{
    const char *dir = g_getenv("FERRY_CAPTURES");
    g_autofree char *path = g_build_filename(dir ? dir : ".",
                                             "precopy-none-64M.bin", NULL);
    g_autofree gchar *buf = NULL;
    gsize len;
    static const struct {
        const char *hdr;    /* idstr, instance 0, version */
        size_t payload;
    } secs[] = {
        { "\x05" "timer" "\0\0\0\0" "\0\0\0\x02", 24 },
        { "\x0b" "globalstate" "\0\0\0\0" "\0\0\0\x01", 104 },
    };
    TimersState t = { 0 };
    GlobalState gs = { 0 };

    if (!g_file_get_contents(path, &buf, &len, NULL)) {
        g_test_skip("capture not available (set FERRY_CAPTURES)");
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(secs); i++) {
        size_t hlen = 1 + (unsigned char)secs[i].hdr[0] + 8;
        const char *p = memmem(buf, len, secs[i].hdr, hlen);
        Error *err = NULL;
        LoadResult r;

        g_assert_nonnull(p);
        p += hlen;
        /* The loader must stop exactly at the section footer. */
        r = load_buf(i ? &vmstate_globalstate : &vmstate_timers,
                     i ? (void *)&gs : (void *)&t, (const uint8_t *)p,
                     buf + len - p, i ? 1 : 2, &err);
        g_assert_null(err);
        g_assert_cmpint(r.ret, ==, 0);
        g_assert_cmpuint(r.consumed, ==, secs[i].payload);
        g_assert_cmphex((uint8_t)p[secs[i].payload], ==, FOOTER);
    }
    g_assert_cmphex(t.cpu_ticks_offset, ==, 0x0a09a8f0);
    g_assert_cmphex(t.cpu_clock_offset, ==, 0x0504d472);
    g_assert_cmpstr((char *)gs.runstate, ==, "running");
    g_assert_cmpuint(gs.size, ==, 8);
    /* And the description after EOF: 06, be32 486, the text. */
    g_assert_cmpmem(buf + len - 486, 486, qemu72_vmdesc, 486);
    g_assert_cmpmem(buf + len - 491, 5, "\x06\x00\x00\x01\xe6", 5);
}

/* A 7.2 "timer" section body loads; version 1 streams lack one field. */
static void test_qemu72_timer_versions(void)
{
    TimersState t = { .cpu_clock_offset = 42 };
    g_autoptr(GByteArray) v1 = NULL;

    load_ok(&vmstate_timers, &t, "0000000000000007 0000000000000000", 1);
    g_assert_cmpint(t.cpu_ticks_offset, ==, 7);
    g_assert_cmpint(t.cpu_clock_offset, ==, 42);

    timers_fill(&t);
    v1 = save_obj(&vmstate_timers, &t, 1, NULL);
    g_assert_cmpuint(v1->len, ==, 16);

    load_fails(&vmstate_timers, &t, TIMER_WIRE, 3, -EINVAL,
               "vmstate 'timer': unsupported version 3 (accepted 1..2)");
    load_fails(&vmstate_timers, &t, TIMER_WIRE, 0, -EINVAL,
               "unsupported version 0");
    /* The message the brief asks for, with its offset. */
    load_fails(&vmstate_timers, &t, "000000000a09a8f0 0000000000000000 0000",
               2, -ENODATA, "vmstate 'timer' field 'cpu_clock_offset': "
               "stream truncated at offset 19");
}

static void test_qemu72_globalstate_post_load(void)
{
    GlobalState gs = { 0 };

    /* size says the NUL is at byte 3, where 'n' is. */
    load_fails(&vmstate_globalstate, &gs, "00000004 " GLOBALSTATE_RUNSTATE,
               1, -EINVAL, "vmstate 'globalstate': post_load failed");
}

/* ---- save failures ---- */

static int put_fail(QEMUFile *f, void *pv, size_t size,
                    const VMStateField *field, JSONWriter *vmdesc,
                    Error **errp)
{
    error_setg(errp, "device refused");
    return -EIO;
}

static const VMStateInfo info_fail = { .name = "fail", .put = put_fail };

typedef struct Failing {
    uint32_t ok;
    uint32_t bad;
} Failing;

static const VMStateDescription vmstate_failing = {
    .name = "failing",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(ok, Failing),
        VMSTATE_SINGLE(bad, Failing, 0, info_fail, uint32_t),
        VMSTATE_END_OF_LIST()
    },
};

typedef struct FailingOuter {
    Failing arr[2];
} FailingOuter;

static const VMStateDescription vmstate_failing_outer = {
    .name = "failing-outer",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(arr, FailingOuter, 2, 0, vmstate_failing,
                             Failing),
        VMSTATE_END_OF_LIST()
    },
};

/* Saving fails mid-way; the caller can still close its JSON objects. */
static void test_json_balanced_on_error(void)
{
    FailingOuter fo = { { { 1, 2 }, { 3, 4 } } };
    Outer o = { 0 };
    MigChannel *c = mig_channel_new_writer("test");
    QEMUFile *f = qemu_file_new_output(c);
    JSONWriter *w = json_writer_new(false);
    g_autofree char *json = NULL;
    Error *err = NULL;

    json_writer_start_object(w, NULL);
    json_writer_start_list(w, "devices");
    json_writer_start_object(w, NULL);
    g_assert_cmpint(vmstate_save_state(f, &vmstate_failing_outer, &fo, w,
                                       &err), ==, -EIO);
    json_writer_end_object(w);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "vmstate 'failing-outer' field 'arr': vmstate 'failing' "
                    "field 'bad': device refused");
    error_free(err);
    err = NULL;

    /* A NULL struct pointer is a device bug, reported, not a crash. */
    json_writer_start_object(w, NULL);
    g_assert_cmpint(vmstate_save_state(f, &vmstate_outer, &o, w, &err),
                    ==, -EINVAL);
    json_writer_end_object(w);
    g_assert_nonnull(strstr(error_get_pretty(err), "field 'ptr': NULL"));
    error_free(err);

    json_writer_end_list(w);
    json_writer_end_object(w);
    json = json_writer_finish(w);
    g_assert_nonnull(json);
    qemu_fclose(f);
    mig_channel_unref(c);
}

/* ---- misc ---- */

/* After a failure the stream stays failed. */
static void test_sticky_error(void)
{
    g_autoptr(GByteArray) b = hex("00000001 05 05 \"dev/x\" 00000001 00 "
                                  "00000002 7e");
    MigChannel *c = mig_channel_new_buffer(b->data, b->len, "test");
    QEMUFile *f = qemu_file_new_input(c);
    Dev d = { 0 };
    Error *err = NULL;

    g_assert_cmpint(vmstate_load_state(f, &vmstate_dev, &d, 1, &err), ==,
                    -ENOENT);
    error_free(err);
    err = NULL;
    g_assert_cmpint(qemu_file_get_error(f), ==, -ENOENT);
    g_assert_cmpint(vmstate_load_state(f, &vmstate_dev, &d, 1, &err), ==,
                    -ENOENT);
    g_assert_nonnull(strstr(error_get_pretty(err), "unknown subsection"));
    error_free(err);
    qemu_fclose(f);
    mig_channel_unref(c);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *path;
        void (*fn)(void);
    } tests[] = {
        { "qemu-7.2/vmdesc", test_qemu72_vmdesc },
        { "qemu-7.2/capture", test_qemu72_capture },
        { "qemu-7.2/timer-versions", test_qemu72_timer_versions },
        { "qemu-7.2/globalstate-post-load",
          test_qemu72_globalstate_post_load },
        { "version/save-old", test_version_save_old },
        { "version/load-old", test_version_load_old },
        { "version/unsupported", test_version_unsupported },
        { "version/field-exists", test_version_field_exists },
        { "equal/mismatch", test_equal_mismatch },
        { "equal/int32-le", test_equal_int32_le },
        { "subsection/unknown", test_subsection_unknown },
        { "subsection/other-parent", test_subsection_other_parent },
        { "subsection/versions", test_subsection_versions },
        { "hooks/order", test_hooks_order },
        { "hooks/fail", test_hooks_fail },
        { "hostile/vbuffer", test_hostile_vbuffer },
        { "hostile/varray", test_hostile_varray },
        { "hostile/inplace", test_hostile_inplace },
        { "validate/fail", test_validate_fail },
        { "json/balanced-on-error", test_json_balanced_on_error },
        { "section-needed", test_section_needed },
        { "sticky-error", test_sticky_error },
    };
    int ret;

    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < n_goldens; i++) {
        g_autofree char *save = g_strdup_printf(
            "/migration/vmstate/golden/%s", goldens[i].name);
        g_autofree char *trunc = g_strdup_printf(
            "/migration/vmstate/truncated/%s", goldens[i].name);
        g_autofree char *corrupt = g_strdup_printf(
            "/migration/vmstate/corrupt/%s", goldens[i].name);

        g_test_add_data_func(save, &goldens[i], golden_save);
        g_test_add_data_func(trunc, &goldens[i], golden_truncated);
        g_test_add_data_func(corrupt, &goldens[i], golden_corrupt);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(tests); i++) {
        g_autofree char *path = g_strdup_printf("/migration/vmstate/%s",
                                                tests[i].path);

        g_test_add_func(path, tests[i].fn);
    }
    x86_vmstate_add_tests();
    ret = g_test_run();
    if (hook_log) {
        g_string_free(hook_log, true);
    }
    return ret;
}
