/*
 * kvm.c: x86 specifics of KVM — VM set-up, CPUID, and copying the vCPU
 * state (CPUX86State) to and from the kernel.
 *
 * Get/put run while the vCPU is out of KVM_RUN, with the BQL held: on the
 * source when migration saves the "cpu" section (the VM is stopped), on
 * the destination when the section is loaded (the vCPU is still parked),
 * and at board init for the boot state.  KVM serialises vCPU ioctls
 * itself, so they may come from any thread.
 *
 * Order of the puts matters: special registers (mode) before general
 * ones, XSAVE after the legacy FPU (it is the superset), MSRs after EFER,
 * events last.
 */
#include "qemu/osdep.h"
#include "target/i386/cpu.h"
#include "sysemu/kvm.h"
#include "qemu/error-report.h"
#include "trace.h"
#include <linux/kvm.h>
#include <sys/ioctl.h>

/* Where KVM may put its real-mode TSS and identity map (as QEMU). */
#define KVM_TSS_ADDR            0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR   0xfeffc000ULL

#define KVM_MAX_CPUID_ENTRIES 100

/* Which of x86_cpu_msrs[] this host's KVM can save and restore. */
static uint32_t kvm_msr_supported;
static bool kvm_has_xsave;
static bool kvm_has_xcrs;
static bool kvm_has_debugregs;
static struct kvm_cpuid2 *kvm_cpuid;

static bool kvm_arch_probe_msrs(Error **errp)
{
    struct kvm_msr_list probe = { .nmsrs = 0 };
    g_autofree struct kvm_msr_list *list = NULL;
    int ret = ioctl(kvm_get_fd(), KVM_GET_MSR_INDEX_LIST, &probe);

    if (ret < 0 && errno != E2BIG) {
        error_setg_errno(errp, errno, "KVM: cannot list MSRs");
        return false;
    }
    list = g_malloc0(sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
    list->nmsrs = probe.nmsrs;
    if (ioctl(kvm_get_fd(), KVM_GET_MSR_INDEX_LIST, list) < 0) {
        error_setg_errno(errp, errno, "KVM: cannot list MSRs");
        return false;
    }
    for (uint32_t i = 0; i < list->nmsrs; i++) {
        for (int k = 0; k < X86_NR_MSRS; k++) {
            if (list->indices[i] == x86_cpu_msrs[k]) {
                kvm_msr_supported |= 1u << k;
            }
        }
    }
    /* The TSC is always there, listed or not. */
    kvm_msr_supported |= 1u << 0;
    return true;
}

bool kvm_arch_init(Error **errp)
{
    int ret;

    if (kvm_check_extension(KVM_CAP_SET_TSS_ADDR)) {
        uint64_t identity = KVM_IDENTITY_MAP_ADDR;

        if (kvm_check_extension(KVM_CAP_SET_IDENTITY_MAP_ADDR)) {
            ret = kvm_vm_ioctl(KVM_SET_IDENTITY_MAP_ADDR, &identity);
            if (ret < 0) {
                error_setg_errno(errp, -ret, "KVM: cannot set the identity "
                                 "map address");
                return false;
            }
        }
        ret = kvm_vm_ioctl(KVM_SET_TSS_ADDR, (void *)(uintptr_t)KVM_TSS_ADDR);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM: cannot set the TSS address");
            return false;
        }
    }
    kvm_has_xsave = kvm_check_extension(KVM_CAP_XSAVE);
    kvm_has_xcrs = kvm_check_extension(KVM_CAP_XCRS);
    kvm_has_debugregs = kvm_check_extension(KVM_CAP_DEBUGREGS);
    if (!kvm_arch_probe_msrs(errp)) {
        return false;
    }
    kvm_cpuid = g_malloc0(sizeof(*kvm_cpuid) + KVM_MAX_CPUID_ENTRIES *
                          sizeof(struct kvm_cpuid_entry2));
    kvm_cpuid->nent = KVM_MAX_CPUID_ENTRIES;
    if (ioctl(kvm_get_fd(), KVM_GET_SUPPORTED_CPUID, kvm_cpuid) < 0) {
        error_setg_errno(errp, errno, "KVM: cannot read the supported CPUID");
        return false;
    }
    trace_kvm_arch_init(kvm_has_xsave, kvm_has_xcrs, kvm_msr_supported,
                        kvm_cpuid->nent);
    return true;
}

bool kvm_arch_init_vcpu(CPUState *cs, Error **errp)
{
    g_autofree struct kvm_cpuid2 *cpuid =
        g_memdup2(kvm_cpuid, sizeof(*kvm_cpuid) + kvm_cpuid->nent *
                  sizeof(struct kvm_cpuid_entry2));
    int ret;

    /* The APIC ID of CPUID leaf 1 and 0xb is the vCPU index. */
    for (uint32_t i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

        if (e->function == 1) {
            e->ebx = (e->ebx & 0x00ffffff) | ((uint32_t)cs->cpu_index << 24);
        } else if (e->function == 0xb) {
            e->edx = cs->cpu_index;
        }
    }
    ret = kvm_vcpu_ioctl(cs, KVM_SET_CPUID2, cpuid);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM: cannot set the CPUID of vCPU %d",
                         cs->cpu_index);
        return false;
    }
    X86_CPU(cs)->env.has_xsave = kvm_has_xsave;
    return true;
}

/* ---- segments ---- */

static void seg_from_kvm(SegmentCache *sc, const struct kvm_segment *ks)
{
    sc->selector = ks->selector;
    sc->base = ks->base;
    sc->limit = ks->limit;
    sc->flags = ks->unusable ? 0 :
        ((uint32_t)ks->type << DESC_TYPE_SHIFT) |
        (ks->s ? DESC_S_MASK : 0) |
        ((uint32_t)ks->dpl << DESC_DPL_SHIFT) |
        (ks->present ? DESC_P_MASK : 0) |
        (ks->avl ? DESC_AVL_MASK : 0) |
        (ks->l ? DESC_L_MASK : 0) |
        (ks->db ? DESC_B_MASK : 0) |
        (ks->g ? DESC_G_MASK : 0);
}

static void seg_to_kvm(struct kvm_segment *ks, const SegmentCache *sc)
{
    uint32_t f = sc->flags;

    memset(ks, 0, sizeof(*ks));
    ks->selector = sc->selector;
    ks->base = sc->base;
    ks->limit = sc->limit;
    ks->type = (f >> DESC_TYPE_SHIFT) & 15;
    ks->s = !!(f & DESC_S_MASK);
    ks->dpl = (f >> DESC_DPL_SHIFT) & 3;
    ks->present = !!(f & DESC_P_MASK);
    ks->avl = !!(f & DESC_AVL_MASK);
    ks->l = !!(f & DESC_L_MASK);
    ks->db = !!(f & DESC_B_MASK);
    ks->g = !!(f & DESC_G_MASK);
    ks->unusable = !ks->present;
}

/* ---- get ---- */

static bool kvm_get_regs(CPUState *cs, CPUX86State *env, Error **errp)
{
    struct kvm_regs r;
    struct kvm_sregs sr;
    int ret = kvm_vcpu_ioctl(cs, KVM_GET_REGS, &r);

    if (ret == 0) {
        ret = kvm_vcpu_ioctl(cs, KVM_GET_SREGS, &sr);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM: cannot read the registers of "
                         "vCPU %d", cs->cpu_index);
        return false;
    }
    uint64_t gpr[16] = {
        r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
    };
    memcpy(env->regs, gpr, sizeof(gpr));
    env->rip = r.rip;
    env->rflags = r.rflags;

    seg_from_kvm(&env->segs[R_ES], &sr.es);
    seg_from_kvm(&env->segs[R_CS], &sr.cs);
    seg_from_kvm(&env->segs[R_SS], &sr.ss);
    seg_from_kvm(&env->segs[R_DS], &sr.ds);
    seg_from_kvm(&env->segs[R_FS], &sr.fs);
    seg_from_kvm(&env->segs[R_GS], &sr.gs);
    seg_from_kvm(&env->ldt, &sr.ldt);
    seg_from_kvm(&env->tr, &sr.tr);
    memset(&env->gdt, 0, sizeof(env->gdt));
    memset(&env->idt, 0, sizeof(env->idt));
    env->gdt.base = sr.gdt.base;
    env->gdt.limit = sr.gdt.limit;
    env->idt.base = sr.idt.base;
    env->idt.limit = sr.idt.limit;
    env->cr[0] = sr.cr0;
    env->cr[2] = sr.cr2;
    env->cr[3] = sr.cr3;
    env->cr[4] = sr.cr4;
    env->cr8 = sr.cr8;
    env->efer = sr.efer;
    env->apic_base = sr.apic_base;
    return true;
}

static bool kvm_get_fpu(CPUState *cs, CPUX86State *env, Error **errp)
{
    struct kvm_fpu fpu;
    int ret = kvm_vcpu_ioctl(cs, KVM_GET_FPU, &fpu);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM: cannot read the FPU of vCPU %d",
                         cs->cpu_index);
        return false;
    }
    memcpy(env->fpregs, fpu.fpr, sizeof(env->fpregs));
    env->fcw = fpu.fcw;
    env->fsw = fpu.fsw;
    env->ftwx = fpu.ftwx;
    env->fop = fpu.last_opcode;
    env->fpip = fpu.last_ip;
    env->fpdp = fpu.last_dp;
    memcpy(env->xmm, fpu.xmm, sizeof(env->xmm));
    env->mxcsr = fpu.mxcsr;

    if (env->has_xsave) {
        struct kvm_xsave xs;

        ret = kvm_vcpu_ioctl(cs, KVM_GET_XSAVE, &xs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM: cannot read the XSAVE area "
                             "of vCPU %d", cs->cpu_index);
            return false;
        }
        memcpy(env->xsave, xs.region, X86_XSAVE_BYTES);
    }
    if (kvm_has_xcrs) {
        struct kvm_xcrs xcrs;

        ret = kvm_vcpu_ioctl(cs, KVM_GET_XCRS, &xcrs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM: cannot read XCR0 of vCPU %d",
                             cs->cpu_index);
            return false;
        }
        for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++) {
            if (xcrs.xcrs[i].xcr == 0) {
                env->xcr0 = xcrs.xcrs[i].value;
            }
        }
    }
    return true;
}

/* KVM_{GET,SET}_MSRS's argument: the header, then room for every MSR. */
static struct kvm_msrs *kvm_msrs_new(void)
{
    return g_malloc0(sizeof(struct kvm_msrs) +
                     X86_NR_MSRS * sizeof(struct kvm_msr_entry));
}

static bool kvm_get_msrs_events(CPUState *cs, CPUX86State *env, Error **errp)
{
    g_autofree struct kvm_msrs *msrs = kvm_msrs_new();
    struct kvm_vcpu_events ev;
    int idx[X86_NR_MSRS];
    int n = 0, ret;

    for (int k = 0; k < X86_NR_MSRS; k++) {
        if (kvm_msr_supported & (1u << k)) {
            idx[n] = k;
            msrs->entries[n++].index = x86_cpu_msrs[k];
        }
    }
    msrs->nmsrs = n;
    ret = kvm_vcpu_ioctl(cs, KVM_GET_MSRS, msrs);
    if (ret != n) {
        error_setg(errp, "KVM: read %d of %d MSRs of vCPU %d", ret, n,
                   cs->cpu_index);
        return false;
    }
    env->msr_present = 0;
    for (int i = 0; i < n; i++) {
        env->msrs[idx[i]] = msrs->entries[i].data;
        env->msr_present |= 1u << idx[i];
    }

    if (kvm_has_debugregs) {
        struct kvm_debugregs dr;

        ret = kvm_vcpu_ioctl(cs, KVM_GET_DEBUGREGS, &dr);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM: cannot read the debug "
                             "registers of vCPU %d", cs->cpu_index);
            return false;
        }
        memcpy(env->dr, dr.db, sizeof(env->dr));
        env->dr6 = dr.dr6;
        env->dr7 = dr.dr7;
    }

    ret = kvm_vcpu_ioctl(cs, KVM_GET_VCPU_EVENTS, &ev);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM: cannot read the pending events "
                         "of vCPU %d", cs->cpu_index);
        return false;
    }
    env->exception_injected = ev.exception.injected;
    env->exception_nr = ev.exception.nr;
    env->exception_has_error_code = ev.exception.has_error_code;
    env->exception_error_code = ev.exception.error_code;
    env->interrupt_injected = ev.interrupt.injected;
    env->interrupt_nr = ev.interrupt.nr;
    env->interrupt_soft = ev.interrupt.soft;
    env->interrupt_shadow = ev.interrupt.shadow;
    env->nmi_injected = ev.nmi.injected;
    env->nmi_pending = ev.nmi.pending;
    env->nmi_masked = ev.nmi.masked;
    env->sipi_vector = ev.sipi_vector;
    return true;
}

bool kvm_arch_get_registers(CPUState *cs, Error **errp)
{
    CPUX86State *env = &X86_CPU(cs)->env;

    if (!kvm_get_regs(cs, env, errp) || !kvm_get_fpu(cs, env, errp) ||
        !kvm_get_msrs_events(cs, env, errp)) {
        return false;
    }
    env->halted = cs->halted;
    trace_kvm_arch_get_registers(cs->cpu_index, env->rip, env->cr[0]);
    return true;
}

/* ---- put ---- */

static bool kvm_put_regs(CPUState *cs, CPUX86State *env, Error **errp)
{
    struct kvm_sregs sr;
    struct kvm_regs r = {
        .rax = env->regs[0], .rcx = env->regs[1], .rdx = env->regs[2],
        .rbx = env->regs[3], .rsp = env->regs[4], .rbp = env->regs[5],
        .rsi = env->regs[6], .rdi = env->regs[7], .r8 = env->regs[8],
        .r9 = env->regs[9], .r10 = env->regs[10], .r11 = env->regs[11],
        .r12 = env->regs[12], .r13 = env->regs[13], .r14 = env->regs[14],
        .r15 = env->regs[15], .rip = env->rip, .rflags = env->rflags,
    };
    int ret;

    /* Keep what KVM has that ferry does not model (the interrupt bitmap). */
    ret = kvm_vcpu_ioctl(cs, KVM_GET_SREGS, &sr);
    if (ret == 0) {
        seg_to_kvm(&sr.es, &env->segs[R_ES]);
        seg_to_kvm(&sr.cs, &env->segs[R_CS]);
        seg_to_kvm(&sr.ss, &env->segs[R_SS]);
        seg_to_kvm(&sr.ds, &env->segs[R_DS]);
        seg_to_kvm(&sr.fs, &env->segs[R_FS]);
        seg_to_kvm(&sr.gs, &env->segs[R_GS]);
        seg_to_kvm(&sr.ldt, &env->ldt);
        seg_to_kvm(&sr.tr, &env->tr);
        sr.gdt.base = env->gdt.base;
        sr.gdt.limit = env->gdt.limit;
        sr.idt.base = env->idt.base;
        sr.idt.limit = env->idt.limit;
        sr.cr0 = env->cr[0];
        sr.cr2 = env->cr[2];
        sr.cr3 = env->cr[3];
        sr.cr4 = env->cr[4];
        sr.cr8 = env->cr8;
        sr.efer = env->efer;
        sr.apic_base = env->apic_base;
        memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
        ret = kvm_vcpu_ioctl(cs, KVM_SET_SREGS, &sr);
    }
    if (ret == 0) {
        ret = kvm_vcpu_ioctl(cs, KVM_SET_REGS, &r);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM: cannot set the registers of "
                         "vCPU %d", cs->cpu_index);
        return false;
    }
    return true;
}

static bool kvm_put_fpu(CPUState *cs, CPUX86State *env, Error **errp)
{
    struct kvm_fpu fpu = {
        .fcw = env->fcw, .fsw = env->fsw, .ftwx = env->ftwx,
        .last_opcode = env->fop, .last_ip = env->fpip,
        .last_dp = env->fpdp, .mxcsr = env->mxcsr,
    };
    int ret;

    memcpy(fpu.fpr, env->fpregs, sizeof(fpu.fpr));
    memcpy(fpu.xmm, env->xmm, sizeof(fpu.xmm));
    ret = kvm_vcpu_ioctl(cs, KVM_SET_FPU, &fpu);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM: cannot set the FPU of vCPU %d",
                         cs->cpu_index);
        return false;
    }
    if (kvm_has_xcrs && env->xcr0) {
        struct kvm_xcrs xcrs = { .nr_xcrs = 1 };

        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = env->xcr0;
        ret = kvm_vcpu_ioctl(cs, KVM_SET_XCRS, &xcrs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM: cannot set XCR0 0x%" PRIx64
                             " on vCPU %d", env->xcr0, cs->cpu_index);
            return false;
        }
    }
    if (env->has_xsave && kvm_has_xsave) {
        struct kvm_xsave xs;

        memcpy(xs.region, env->xsave, X86_XSAVE_BYTES);
        ret = kvm_vcpu_ioctl(cs, KVM_SET_XSAVE, &xs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM: cannot set the XSAVE area "
                             "of vCPU %d", cs->cpu_index);
            return false;
        }
    }
    return true;
}

static bool kvm_put_msrs_events(CPUState *cs, CPUX86State *env, Error **errp)
{
    g_autofree struct kvm_msrs *msrs = kvm_msrs_new();
    struct kvm_vcpu_events ev = { 0 };
    int n = 0, ret;

    for (int k = 0; k < X86_NR_MSRS; k++) {
        if (!(env->msr_present & (1u << k))) {
            continue;
        }
        if (!(kvm_msr_supported & (1u << k))) {
            if (env->msrs[k]) {
                error_setg(errp, "KVM on this host cannot restore MSR 0x%x "
                           "(value 0x%" PRIx64 ")", x86_cpu_msrs[k],
                           env->msrs[k]);
                return false;
            }
            continue;
        }
        msrs->entries[n].index = x86_cpu_msrs[k];
        msrs->entries[n++].data = env->msrs[k];
    }
    msrs->nmsrs = n;
    ret = kvm_vcpu_ioctl(cs, KVM_SET_MSRS, msrs);
    if (ret != n) {
        error_setg(errp, "KVM: set %d of %d MSRs of vCPU %d (first refused: "
                   "0x%x)", ret, n, cs->cpu_index,
                   ret >= 0 && ret < n ? msrs->entries[ret].index : 0);
        return false;
    }

    if (kvm_has_debugregs) {
        struct kvm_debugregs dr = { .dr6 = env->dr6, .dr7 = env->dr7 };

        memcpy(dr.db, env->dr, sizeof(dr.db));
        ret = kvm_vcpu_ioctl(cs, KVM_SET_DEBUGREGS, &dr);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM: cannot set the debug "
                             "registers of vCPU %d", cs->cpu_index);
            return false;
        }
    }

    ev.exception.injected = env->exception_injected;
    ev.exception.nr = env->exception_nr;
    ev.exception.has_error_code = env->exception_has_error_code;
    ev.exception.error_code = env->exception_error_code;
    ev.interrupt.injected = env->interrupt_injected;
    ev.interrupt.nr = env->interrupt_nr;
    ev.interrupt.soft = env->interrupt_soft;
    ev.interrupt.shadow = env->interrupt_shadow;
    ev.nmi.injected = env->nmi_injected;
    ev.nmi.pending = env->nmi_pending;
    ev.nmi.masked = env->nmi_masked;
    ev.sipi_vector = env->sipi_vector;
    ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
               KVM_VCPUEVENT_VALID_SHADOW;
    ret = kvm_vcpu_ioctl(cs, KVM_SET_VCPU_EVENTS, &ev);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM: cannot set the pending events "
                         "of vCPU %d", cs->cpu_index);
        return false;
    }
    return true;
}

bool kvm_arch_put_registers(CPUState *cs, Error **errp)
{
    CPUX86State *env = &X86_CPU(cs)->env;

    trace_kvm_arch_put_registers(cs->cpu_index, env->rip, env->cr[0]);
    if (!kvm_put_regs(cs, env, errp) || !kvm_put_fpu(cs, env, errp) ||
        !kvm_put_msrs_events(cs, env, errp)) {
        return false;
    }
    cs->halted = env->halted;
    return true;
}
