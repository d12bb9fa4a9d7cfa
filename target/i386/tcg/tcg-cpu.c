/*
 * tcg-cpu.c: the interpreter as an accelerator's target — running slices
 * of guest instructions, kicks, the migration hooks and the report of a
 * vCPU that cannot go on.
 *
 * A slice runs up to X86_SLICE instructions with the BQL dropped, reading
 * cpu->exit_request before each one.  It ends early on HLT, on an error,
 * or when a kick's signal abandons an instruction asleep on a postcopy
 * page: the signal handler siglongjmps back here, but only while the
 * thread is inside a guest RAM access (X86TCGState.in_ram), where the
 * instruction has committed nothing (x86-interp.h), never while it holds
 * a lock or is in device code.  Pages written during the slice are marked
 * dirty before the slice returns, on either path.
 *
 * The architectural state is CPUX86State itself, so migration needs no
 * register copying: pre_save only stores the running TSC into its MSR
 * slot, and post_load turns it back into an offset, which is what KVM's
 * get/put do with MSR 0x10, so a guest moves between a KVM ferry and an
 * interpreter ferry in both directions.
 *
 * Stopping with an internal error (unknown instruction, unsupported
 * feature) prints QEMU's kind of report — what happened, the registers,
 * the bytes at CS:EIP — and the accelerator then stops the VM in
 * "internal-error".
 */
#include "x86-interp.h"
#include "sysemu/tcg.h"
#include "sysemu/runstate.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/tsan.h"
#include "trace.h"

#define X86_SLICE (1 << 22)

bool tcg_arch_init_vcpu(CPUState *cs, Error **errp)
{
    X86CPU *cpu = X86_CPU(cs);
    X86TCGState *t = g_new0(X86TCGState, 1);

    t->cpu = cpu;
    t->env = &cpu->env;
    if (!x86_mem_init(t, errp)) {
        g_free(t);
        return false;
    }
    t->tsc_offset = -get_clock();       /* the TSC starts at 0 */
    cpu->tcg = t;
    return true;
}

void tcg_arch_destroy_vcpu(CPUState *cs)
{
    X86CPU *cpu = X86_CPU(cs);
    X86TCGState *t = cpu->tcg;

    if (t) {
        x86_mem_fini(t);
        g_free(t->error);
        g_free(t);
        cpu->tcg = NULL;
    }
}

void tcg_arch_cpu_kicked(CPUState *cs)
{
    X86TCGState *t = X86_CPU(cs)->tcg;

    if (t && t->jmp_valid && t->in_ram && qatomic_read(&cs->exit_request)) {
        t->jmp_valid = false;
        siglongjmp(t->kick_jmp, 1);
    }
}

/* ---- the report ---- */

static void dump_seg(GString *s, const char *name, const SegmentCache *sc)
{
    g_string_append_printf(s, "%-3s=%04x %08x %08x %08x\n", name,
                           sc->selector & 0xffff, (uint32_t)sc->base,
                           sc->limit, sc->flags);
}

void x86_tcg_dump_state(X86TCGState *t, GString *s)
{
    static const char *const seg_names[X86_NR_SEGS] = {
        "ES", "CS", "SS", "DS", "FS", "GS",
    };
    CPUX86State *env = t->env;
    uint32_t fl = env->rflags;
    uint32_t lin = x86_lin(env, R_CS, (uint32_t)env->rip);

    g_string_append_printf(s, "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n",
                           (uint32_t)env->regs[R_EAX],
                           (uint32_t)env->regs[R_EBX],
                           (uint32_t)env->regs[R_ECX],
                           (uint32_t)env->regs[R_EDX]);
    g_string_append_printf(s, "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n",
                           (uint32_t)env->regs[R_ESI],
                           (uint32_t)env->regs[R_EDI],
                           (uint32_t)env->regs[R_EBP],
                           (uint32_t)env->regs[R_ESP]);
    g_string_append_printf(s, "EIP=%08x EFL=%08x [%c%c%c%c%c%c%c] CPL=%d "
                           "A20=1 HLT=%d\n", (uint32_t)env->rip, fl,
                           fl & DF_MASK ? 'D' : '-', fl & CC_O ? 'O' : '-',
                           fl & CC_S ? 'S' : '-', fl & CC_Z ? 'Z' : '-',
                           fl & CC_A ? 'A' : '-', fl & CC_P ? 'P' : '-',
                           fl & CC_C ? 'C' : '-',
                           (env->cr[0] & CR0_PE) ?
                           (env->segs[R_CS].flags >> DESC_DPL_SHIFT) & 3 : 0,
                           t->cpu->parent_obj.halted);
    for (int i = 0; i < X86_NR_SEGS; i++) {
        dump_seg(s, seg_names[i], &env->segs[i]);
    }
    dump_seg(s, "LDT", &env->ldt);
    dump_seg(s, "TR", &env->tr);
    g_string_append_printf(s, "GDT=     %08x %08x\n", (uint32_t)env->gdt.base,
                           env->gdt.limit);
    g_string_append_printf(s, "IDT=     %08x %08x\n", (uint32_t)env->idt.base,
                           env->idt.limit);
    g_string_append_printf(s, "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n",
                           (uint32_t)env->cr[0], (uint32_t)env->cr[2],
                           (uint32_t)env->cr[3], (uint32_t)env->cr[4]);
    g_string_append(s, "Code=");
    for (int i = -16; i < 16; i++) {
        uint8_t b = x86_ld(t, lin + i, 1);

        g_string_append_printf(s, i == 0 ? "<%02x> " : "%02x ", b);
    }
    g_string_truncate(s, s->len - 1);
}

/*
 * Why the vCPU stops, QEMU-style (built without the BQL: reading the code
 * bytes may need it); the caller reports it and stops the VM.
 */
static GString *report_stop(X86TCGState *t, X86Status st)
{
    CPUX86State *env = t->env;
    GString *s = g_string_new(NULL);
    uint32_t lin = x86_lin(env, R_CS, (uint32_t)env->rip);
    uint8_t bytes[4];

    for (int i = 0; i < 4; i++) {
        bytes[i] = x86_ld(t, lin + i, 1);
    }
    if (st == X86_UNKNOWN) {
        trace_x86_tcg_unknown(t->cpu->parent_obj.cpu_index,
                              env->segs[R_CS].selector, (uint32_t)env->rip,
                              bytes[0], bytes[1], bytes[2], bytes[3]);
        g_string_append_printf(s, "TCG: vCPU %d: unknown instruction at "
                               "%04x:%08x (%02x %02x %02x %02x); "
                               "stopping the VM\n",
                               t->cpu->parent_obj.cpu_index,
                               env->segs[R_CS].selector & 0xffff,
                               (uint32_t)env->rip, bytes[0], bytes[1],
                               bytes[2], bytes[3]);
    } else {
        trace_x86_tcg_error(t->cpu->parent_obj.cpu_index,
                            env->segs[R_CS].selector, (uint32_t)env->rip,
                            t->error ? t->error : "");
        g_string_append_printf(s, "TCG: vCPU %d: %s at %04x:%08x; stopping "
                               "the VM\n", t->cpu->parent_obj.cpu_index,
                               t->error ? t->error : "internal error",
                               env->segs[R_CS].selector & 0xffff,
                               (uint32_t)env->rip);
    }
    g_clear_pointer(&t->error, g_free);
    x86_tcg_dump_state(t, s);
    return s;
}

/* ---- slices ---- */

static __attribute__((noinline)) X86Status run_slice(X86TCGState *t,
                                                     CPUState *cs)
{
    X86Status st = X86_NEXT;

    for (int n = 0; n < X86_SLICE; n++) {
        if (qatomic_read(&cs->exit_request)) {
            break;
        }
        st = x86_step(t);
        if (st != X86_NEXT) {
            break;
        }
    }
    return st;
}

/* After a slice that ran to its end (BQL not held on entry, held after). */
static TCGExecResult finish_slice(X86TCGState *t, CPUState *cs, X86Status st)
{
    g_autoptr(GString) report = NULL;

    x86_dirty_flush(t);
    if (st == X86_UNKNOWN || st == X86_ERROR) {
        report = report_stop(t, st);
    }
    bql_lock();
    if (report) {
        error_report("%s", report->str);
    }
    trace_x86_tcg_exec_exit(cs->cpu_index, st, (uint32_t)t->env->rip,
                            t->insns);
    switch (st) {
    case X86_NEXT:
    case X86_BREAK:
        return qatomic_read(&cs->exit_request) ? TCG_EXIT_RESULT_IDLE :
               TCG_EXIT_RESULT_CONTINUE;
    case X86_HALT:
        cs->halted = true;
        return TCG_EXIT_RESULT_IDLE;
    case X86_SHUTDOWN:
        /* A triple fault; ferry has no reset, so as QEMU -no-reboot. */
        cs->halted = true;
        qemu_system_shutdown_request(SHUTDOWN_CAUSE_GUEST_RESET);
        return TCG_EXIT_RESULT_IDLE;
    default:
        return TCG_EXIT_RESULT_ERROR;
    }
}

TCGExecResult tcg_arch_cpu_exec(CPUState *cs)
{
    X86TCGState *t = X86_CPU(cs)->tcg;
    X86Status st;

    cs->vcpu_dirty = false;
    bql_unlock();
    if (sigsetjmp(t->kick_jmp, 1)) {
        /* Kicked out of a RAM access: the instruction runs again later. */
        t->in_ram = 0;
        TSAN_GUEST_RAM_END();
        x86_dirty_flush(t);
        trace_x86_tcg_abandoned(cs->cpu_index, (uint32_t)t->env->rip);
        bql_lock();
        return TCG_EXIT_RESULT_IDLE;
    }
    t->jmp_valid = true;
    /* (Guest RAM is shared with migration and devices by design.) */
    TSAN_GUEST_RAM_BEGIN();
    st = run_slice(t, cs);
    TSAN_GUEST_RAM_END();
    t->jmp_valid = false;
    return finish_slice(t, cs, st);
}

/* ---- migration ---- */

void x86_tcg_cpu_sync_state(X86CPU *cpu)
{
    X86TCGState *t = cpu->tcg;

    if (t) {
        cpu->env.msrs[0] = x86_tsc_read(t);
        cpu->env.msr_present |= 1u;
    }
}

void x86_tcg_cpu_post_load(X86CPU *cpu)
{
    X86TCGState *t = cpu->tcg;

    if (t && (cpu->env.msr_present & 1u)) {
        t->tsc_offset = (int64_t)cpu->env.msrs[0] - get_clock();
    }
}
