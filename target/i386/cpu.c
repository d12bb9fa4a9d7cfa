/*
 * cpu.c: creating x86 vCPUs, their boot state, and the "cpu" section.
 *
 * The section's hooks keep KVM and CPUX86State in step: pre_save reads
 * the registers from KVM (the VM is stopped by then), post_load writes
 * them back (the vCPU is still parked: on the destination vCPUs start
 * only when the VM starts).  A failure on either side fails the migration
 * with the reason on stderr; it never touches the source's running state.
 */
#include "qemu/osdep.h"
#include "target/i386/cpu.h"
#include "sysemu/kvm.h"
#include "sysemu/tcg.h"
#include "migration/vmstate.h"
#include "migration/register.h"
#include "qemu/error-report.h"
#include "trace.h"

const uint32_t x86_cpu_msrs[X86_NR_MSRS] = {
    0x00000010,     /* TSC (always first: see kvm_arch_probe_msrs) */
    0x00000174,     /* SYSENTER_CS */
    0x00000175,     /* SYSENTER_ESP */
    0x00000176,     /* SYSENTER_EIP */
    0x00000277,     /* PAT */
    0x000001a0,     /* MISC_ENABLE */
    0xc0000081,     /* STAR */
    0xc0000082,     /* LSTAR */
    0xc0000083,     /* CSTAR */
    0xc0000084,     /* FMASK */
    0xc0000102,     /* KERNEL_GS_BASE */
    0xc0000103,     /* TSC_AUX */
};

static int x86_cpu_pre_save(void *opaque)
{
    X86CPU *cpu = opaque;
    Error *err = NULL;

    if (kvm_enabled() && !kvm_cpu_synchronize_state(&cpu->parent_obj,
                                                    &err)) {
        error_report_err(err);
        return -EIO;
    }
    if (tcg_enabled()) {
        x86_tcg_cpu_sync_state(cpu);
    }
    cpu->env.halted = cpu->parent_obj.halted;
    trace_x86_cpu_save(cpu->parent_obj.cpu_index, cpu->env.rip);
    return 0;
}

static int x86_cpu_post_load(void *opaque, int version_id)
{
    X86CPU *cpu = opaque;
    Error *err = NULL;

    trace_x86_cpu_load(cpu->parent_obj.cpu_index, cpu->env.rip);
    if (kvm_enabled() && !kvm_cpu_synchronize_post_load(&cpu->parent_obj,
                                                        &err)) {
        error_report_err(err);
        return -EIO;
    }
    if (tcg_enabled()) {
        x86_tcg_cpu_post_load(cpu);
    }
    cpu->parent_obj.halted = cpu->env.halted;
    return 0;
}

static const VMStateDescription vmstate_x86_cpu = {
    .name = "cpu",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = x86_cpu_pre_save,
    .post_load = x86_cpu_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT(env, X86CPU, 1, vmstate_x86_env, CPUX86State),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_x86_xsave,
        NULL
    },
};

static void seg_real_mode(SegmentCache *sc, uint32_t type)
{
    sc->selector = 0;
    sc->base = 0;
    sc->limit = 0xffff;
    sc->flags = (type << DESC_TYPE_SHIFT) | DESC_S_MASK | DESC_P_MASK;
}

void x86_cpu_reset_boot_sector(X86CPU *cpu, uint8_t boot_drive)
{
    CPUX86State *env = &cpu->env;
    bool has_xsave = env->has_xsave;

    memset(env, 0, sizeof(*env));
    env->has_xsave = has_xsave;
    env->regs[2] = boot_drive;              /* DL */
    env->regs[4] = 0x7c00;                  /* SP, below the sector */
    env->rip = 0x7c00;
    env->rflags = 0x2;                      /* IF clear */
    for (int i = 0; i < X86_NR_SEGS; i++) {
        seg_real_mode(&env->segs[i], 3);    /* data, read/write, accessed */
    }
    seg_real_mode(&env->segs[R_CS], 11);    /* code, exec/read, accessed */
    env->ldt.limit = 0xffff;
    env->ldt.flags = (2u << DESC_TYPE_SHIFT) | DESC_P_MASK;
    env->tr.limit = 0xffff;
    env->tr.flags = (11u << DESC_TYPE_SHIFT) | DESC_P_MASK;
    env->gdt.limit = 0xffff;
    env->idt.limit = 0x3ff;                 /* the real-mode vector table */
    env->cr[0] = 0x10;                      /* ET; caches on, as a BIOS */
    env->apic_base = 0xfee00000 | (1u << 11) |
                     (cpu->parent_obj.cpu_index == 0 ? (1u << 8) : 0);
    env->fcw = 0x37f;
    env->mxcsr = 0x1f80;
    env->xcr0 = has_xsave ? 1 : 0;          /* x87 only */
    env->dr6 = 0xffff0ff0;
    env->dr7 = 0x400;
    env->msrs[4] = 0x0007040600070406ULL;   /* PAT power-on value */
    env->msr_present = 1u << 4;
    if (has_xsave) {
        /* An XSAVE image of the reset x87/SSE state. */
        memset(env->xsave, 0, sizeof(env->xsave));
        memcpy(env->xsave, &env->fcw, 2);
        memcpy(env->xsave + 24, &env->mxcsr, 4);
        env->xsave[512] = 1;                /* XSTATE_BV: x87 */
    }
    cpu->parent_obj.halted = false;
    cpu->parent_obj.vcpu_dirty = true;
    trace_x86_cpu_reset(cpu->parent_obj.cpu_index, env->rip);
}

X86CPU *x86_cpu_new(Error **errp)
{
    X86CPU *cpu = g_new0(X86CPU, 1);
    CPUState *cs = &cpu->parent_obj;

    cs->kvm_fd = -1;
    qemu_cpu_add(cs);
    if (kvm_enabled() && !kvm_start_vcpu(cs, errp)) {
        return NULL;
    }
    if (tcg_enabled() && !tcg_start_vcpu(cs, errp)) {
        return NULL;
    }
    vmstate_register(cs->cpu_index, &vmstate_x86_cpu, cpu);
    return cpu;
}
