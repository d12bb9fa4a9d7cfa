/*
 * test-vmstate-x86: the x86 vCPU state ("cpu" section) on the wire.
 *
 * The expected bytes are built here field by field from the layout that
 * target/i386/machine.c documents, independently of the VMState tables,
 * so a change to either shows up.  Then: the bytes load back into a fresh
 * state, every proper prefix fails as truncated, and values no CPU state
 * can have (MSR bits beyond the list, halted > 1) are refused.
 */
#include "qemu/osdep.h"
#include "test-vmstate.h"
#include "target/i386/cpu.h"

static void put8(GByteArray *b, uint8_t v)
{
    g_byte_array_append(b, &v, 1);
}

static void put16(GByteArray *b, uint16_t v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void put32(GByteArray *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v);
}

static void put64(GByteArray *b, uint64_t v)
{
    put32(b, v >> 32);
    put32(b, v);
}

static void put_seg(GByteArray *b, const SegmentCache *s)
{
    put32(b, s->selector);
    put64(b, s->base);
    put32(b, s->limit);
    put32(b, s->flags);
}

/* A state with a different value in every field. */
static void env_fill(CPUX86State *env)
{
    SegmentCache *segs[] = {
        &env->segs[0], &env->segs[1], &env->segs[2], &env->segs[3],
        &env->segs[4], &env->segs[5], &env->ldt, &env->tr, &env->gdt,
        &env->idt,
    };
    uint64_t v = 0x0101010101010101ULL;

    memset(env, 0, sizeof(*env));
    for (int i = 0; i < 16; i++) {
        env->regs[i] = v * (i + 1);
    }
    env->rip = 0x7c42;
    env->rflags = 0x246;
    for (size_t i = 0; i < G_N_ELEMENTS(segs); i++) {
        segs[i]->selector = 0x10 + i;
        segs[i]->base = 0x1000 * (i + 1);
        segs[i]->limit = 0xffff0 + i;
        segs[i]->flags = DESC_P_MASK | DESC_S_MASK | (i << DESC_TYPE_SHIFT);
    }
    for (int i = 0; i < 5; i++) {
        env->cr[i] = 0x80000011 + i;
    }
    env->cr8 = 8;
    env->efer = 0x500;
    env->apic_base = 0xfee00900;
    for (size_t i = 0; i < sizeof(env->fpregs); i++) {
        env->fpregs[i] = i;
    }
    env->fcw = 0x37f;
    env->fsw = 0x1234;
    env->ftwx = 0x56;
    env->fop = 0x789;
    env->fpip = 0xabcdef;
    env->fpdp = 0xfedcba;
    for (size_t i = 0; i < sizeof(env->xmm); i++) {
        env->xmm[i] = 255 - i;
    }
    env->mxcsr = 0x1f80;
    env->msr_present = 0x0fff;
    for (int i = 0; i < X86_NR_MSRS; i++) {
        env->msrs[i] = 0x100000000ULL * (i + 1) + i;
    }
    for (int i = 0; i < 4; i++) {
        env->dr[i] = 0xd0 + i;
    }
    env->dr6 = 0xffff0ff0;
    env->dr7 = 0x400;
    env->exception_injected = 1;
    env->exception_nr = 14;
    env->exception_has_error_code = 1;
    env->exception_error_code = 0x2;
    env->interrupt_injected = 1;
    env->interrupt_nr = 0x20;
    env->interrupt_soft = 0;
    env->interrupt_shadow = 1;
    env->nmi_injected = 0;
    env->nmi_pending = 1;
    env->nmi_masked = 1;
    env->sipi_vector = 0x9a;
    env->halted = 1;
}

static GByteArray *env_wire(const CPUX86State *env)
{
    GByteArray *b = g_byte_array_new();
    const SegmentCache *segs[] = {
        &env->segs[R_ES], &env->segs[R_CS], &env->segs[R_SS],
        &env->segs[R_DS], &env->segs[R_FS], &env->segs[R_GS], &env->ldt,
        &env->tr, &env->gdt, &env->idt,
    };

    for (int i = 0; i < 16; i++) {
        put64(b, env->regs[i]);
    }
    put64(b, env->rip);
    put64(b, env->rflags);
    for (size_t i = 0; i < G_N_ELEMENTS(segs); i++) {
        put_seg(b, segs[i]);
    }
    for (int i = 0; i < 5; i++) {
        put64(b, env->cr[i]);
    }
    put64(b, env->cr8);
    put64(b, env->efer);
    put64(b, env->apic_base);
    g_byte_array_append(b, env->fpregs, sizeof(env->fpregs));
    put16(b, env->fcw);
    put16(b, env->fsw);
    put8(b, env->ftwx);
    put16(b, env->fop);
    put64(b, env->fpip);
    put64(b, env->fpdp);
    g_byte_array_append(b, env->xmm, sizeof(env->xmm));
    put32(b, env->mxcsr);
    put32(b, env->msr_present);
    for (int i = 0; i < X86_NR_MSRS; i++) {
        put64(b, env->msrs[i]);
    }
    for (int i = 0; i < 4; i++) {
        put64(b, env->dr[i]);
    }
    put64(b, env->dr6);
    put64(b, env->dr7);
    put8(b, env->exception_injected);
    put8(b, env->exception_nr);
    put8(b, env->exception_has_error_code);
    put32(b, env->exception_error_code);
    put8(b, env->interrupt_injected);
    put8(b, env->interrupt_nr);
    put8(b, env->interrupt_soft);
    put8(b, env->interrupt_shadow);
    put8(b, env->nmi_injected);
    put8(b, env->nmi_pending);
    put8(b, env->nmi_masked);
    put32(b, env->sipi_vector);
    put8(b, env->halted);
    return b;
}

static void test_x86_env_wire(void)
{
    g_autofree CPUX86State *src = g_new0(CPUX86State, 1);
    g_autofree CPUX86State *dst = g_new0(CPUX86State, 1);
    g_autoptr(GByteArray) want = NULL;
    g_autoptr(GByteArray) got = NULL;
    g_autofree char *json = NULL;
    Error *err = NULL;
    LoadResult r;

    env_fill(src);
    want = env_wire(src);
    got = save_obj(&vmstate_x86_env, src, -1, &json);
    g_assert_cmpmem(got->data, got->len, want->data, want->len);
    g_assert_nonnull(strstr(json, "\"vmsd_name\": \"cpu/env\""));

    /* Loading turns XSAVE off: only the subsection turns it on. */
    dst->has_xsave = true;
    put8(want, FOOTER);
    r = load_buf(&vmstate_x86_env, dst, want->data, want->len, 1, &err);
    g_assert_null(err);
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_cmpuint(r.consumed, ==, want->len - 1);
    g_assert_cmpmem(dst, sizeof(*dst), src, sizeof(*src));
}

static void test_x86_env_truncated(void)
{
    g_autofree CPUX86State *src = g_new0(CPUX86State, 1);
    g_autoptr(GByteArray) wire = NULL;

    env_fill(src);
    wire = env_wire(src);
    /* Every proper prefix, and the whole without what follows it. */
    for (size_t cut = 0; cut <= wire->len; cut++) {
        g_autofree CPUX86State *dst = g_new0(CPUX86State, 1);
        Error *err = NULL;
        LoadResult r = load_buf(&vmstate_x86_env, dst, wire->data, cut, 1,
                                &err);

        g_assert_cmpint(r.ret, <, 0);
        g_assert_nonnull(err);
        if (!strstr(error_get_pretty(err), "truncated")) {
            g_error("cut %zu: '%s' does not say truncated", cut,
                    error_get_pretty(err));
        }
        error_free(err);
    }
}

/* Values a CPU cannot have fail the load instead of reaching KVM. */
static void refuse(CPUX86State *bad)
{
    g_autoptr(GByteArray) wire = env_wire(bad);
    g_autofree CPUX86State *dst = g_new0(CPUX86State, 1);
    Error *err = NULL;
    LoadResult r;

    put8(wire, FOOTER);
    r = load_buf(&vmstate_x86_env, dst, wire->data, wire->len, 1,
                            &err);

    g_assert_cmpint(r.ret, <, 0);
    g_assert_nonnull(err);
    g_test_message("refused: %s", error_get_pretty(err));
    error_free(err);
}

static void test_x86_env_refused(void)
{
    g_autofree CPUX86State *env = g_new0(CPUX86State, 1);

    env_fill(env);
    env->msr_present = 1u << X86_NR_MSRS;       /* beyond the list */
    refuse(env);
    env_fill(env);
    env->halted = 2;
    refuse(env);
}

static void x86_xsave_fill(X86CPU *cpu)
{
    memset(cpu, 0, sizeof(*cpu));
    cpu->env.has_xsave = true;
    for (size_t i = 0; i < X86_XSAVE_BYTES; i++) {
        cpu->env.xsave[i] = i * 7;
    }
    cpu->env.xcr0 = 7;
}

static void test_x86_xsave_wire(void)
{
    g_autofree X86CPU *src = g_new0(X86CPU, 1);
    g_autofree X86CPU *dst = g_new0(X86CPU, 1);
    g_autoptr(GByteArray) want = g_byte_array_new();
    g_autoptr(GByteArray) got = NULL;
    Error *err = NULL;
    LoadResult r;

    x86_xsave_fill(src);
    g_byte_array_append(want, src->env.xsave, X86_XSAVE_BYTES);
    put64(want, src->env.xcr0);
    got = save_obj(&vmstate_x86_xsave, src, -1, NULL);
    g_assert_cmpmem(got->data, got->len, want->data, want->len);
    put8(want, FOOTER);
    r = load_buf(&vmstate_x86_xsave, dst, want->data, want->len, 1, &err);
    g_assert_null(err);
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_true(dst->env.has_xsave);
    g_assert_cmpmem(dst->env.xsave, X86_XSAVE_BYTES, src->env.xsave,
                    X86_XSAVE_BYTES);
    g_assert_cmphex(dst->env.xcr0, ==, 7);
    for (size_t cut = 0; cut < want->len; cut += 97) {
        r = load_buf(&vmstate_x86_xsave, dst, want->data, cut, 1, &err);
        g_assert_cmpint(r.ret, <, 0);
        g_assert_nonnull(strstr(error_get_pretty(err), "truncated"));
        g_clear_pointer(&err, error_free);
    }
}

void x86_vmstate_add_tests(void)
{
    g_test_add_func("/migration/vmstate/x86-cpu/env-wire",
                    test_x86_env_wire);
    g_test_add_func("/migration/vmstate/x86-cpu/env-truncated",
                    test_x86_env_truncated);
    g_test_add_func("/migration/vmstate/x86-cpu/env-refused",
                    test_x86_env_refused);
    g_test_add_func("/migration/vmstate/x86-cpu/xsave-wire",
                    test_x86_xsave_wire);
}
