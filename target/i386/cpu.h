/*
 * cpu.h: the x86 vCPU and the architectural state ferry migrates.
 *
 * CPUX86State holds what a guest needs to keep running after migration:
 * general registers, segments and descriptor tables, control registers
 * and EFER, the x87/SSE state (and the whole XSAVE area where the host
 * has one), the MSRs listed in x86_cpu_msrs[], debug registers and the
 * pending-event state.  The KVM layer (target/i386/kvm.c) copies it to
 * and from the kernel; target/i386/machine.c describes it on the wire as
 * the "cpu" section.
 *
 * The state is only touched with the BQL held while the vCPU is out of
 * KVM_RUN (paused, or in its own thread between runs).
 */
#ifndef TARGET_I386_CPU_H
#define TARGET_I386_CPU_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/core/cpu.h"

enum { R_ES, R_CS, R_SS, R_DS, R_FS, R_GS, X86_NR_SEGS };

/*
 * A segment register's hidden part.  @flags packs the descriptor's
 * attribute bits where a descriptor's second dword has them (type 8-11,
 * S 12, DPL 13-14, P 15, AVL 20, L 21, D/B 22, G 23); a null/unusable
 * segment has flags 0.
 */
typedef struct SegmentCache {
    uint32_t selector;
    uint64_t base;
    uint32_t limit;
    uint32_t flags;
} SegmentCache;

#define DESC_TYPE_SHIFT 8
#define DESC_S_MASK     (1u << 12)
#define DESC_DPL_SHIFT  13
#define DESC_P_MASK     (1u << 15)
#define DESC_AVL_MASK   (1u << 20)
#define DESC_L_MASK     (1u << 21)
#define DESC_B_MASK     (1u << 22)
#define DESC_G_MASK     (1u << 23)

/* The MSRs that travel, in wire order; see x86_cpu_msrs[]. */
#define X86_NR_MSRS 12
extern const uint32_t x86_cpu_msrs[X86_NR_MSRS];

#define X86_XSAVE_BYTES 4096

typedef struct CPUX86State {
    uint64_t regs[16];          /* RAX RCX RDX RBX RSP RBP RSI RDI R8-R15 */
    uint64_t rip;
    uint64_t rflags;
    SegmentCache segs[X86_NR_SEGS];
    SegmentCache ldt;
    SegmentCache tr;
    SegmentCache gdt;           /* base and limit only */
    SegmentCache idt;
    uint64_t cr[5];             /* CR0, unused, CR2, CR3, CR4 */
    uint64_t cr8;
    uint64_t efer;
    uint64_t apic_base;

    /* x87/SSE, FXSAVE layout as KVM_GET_FPU gives it. */
    uint8_t fpregs[8 * 16];     /* ST0-7, 16 bytes each */
    uint16_t fcw;
    uint16_t fsw;
    uint8_t ftwx;               /* abridged tag word */
    uint16_t fop;
    uint64_t fpip;
    uint64_t fpdp;
    uint8_t xmm[16 * 16];       /* XMM0-15 */
    uint32_t mxcsr;

    /* The XSAVE area and XCR0, when the host supports XSAVE. */
    bool has_xsave;
    uint8_t xsave[X86_XSAVE_BYTES];
    uint64_t xcr0;

    /* MSR values; bit i of msr_present says x86_cpu_msrs[i] is valid. */
    uint64_t msrs[X86_NR_MSRS];
    uint32_t msr_present;

    uint64_t dr[4];
    uint64_t dr6;
    uint64_t dr7;

    /* Pending events (struct kvm_vcpu_events). */
    uint8_t exception_injected;
    uint8_t exception_nr;
    uint8_t exception_has_error_code;
    uint32_t exception_error_code;
    uint8_t interrupt_injected;
    uint8_t interrupt_nr;
    uint8_t interrupt_soft;
    uint8_t interrupt_shadow;
    uint8_t nmi_injected;
    uint8_t nmi_pending;
    uint8_t nmi_masked;
    uint32_t sipi_vector;

    uint8_t halted;             /* CPUState.halted on the wire */
} CPUX86State;

typedef struct X86CPU {
    CPUState parent_obj;        /* first: X86_CPU() relies on it */
    CPUX86State env;
    /* The interpreter's per-vCPU state under -accel tcg, else NULL. */
    struct X86TCGState *tcg;
} X86CPU;

static inline X86CPU *X86_CPU(CPUState *cs)
{
    return (X86CPU *)cs;
}

/* Creates vCPU @index (not yet started) and registers its "cpu" section. */
X86CPU *x86_cpu_new(Error **errp);

/*
 * Puts @cpu in the state a PC BIOS leaves when it jumps to a boot sector:
 * real mode, CS:IP 0000:7c00, DL = @boot_drive, interrupts off.
 */
void x86_cpu_reset_boot_sector(X86CPU *cpu, uint8_t boot_drive);

/*
 * The CPUX86State on the wire (target/i386/machine.c); the "cpu" section
 * wraps it with the KVM synchronisation hooks (cpu.c).
 */
extern const struct VMStateDescription vmstate_x86_env;

/*
 * -accel tcg (target/i386/tcg/tcg-cpu.c): the running TSC into its MSR
 * slot before the "cpu" section is saved, and back after it is loaded.
 */
void x86_tcg_cpu_sync_state(X86CPU *cpu);
void x86_tcg_cpu_post_load(X86CPU *cpu);
extern const struct VMStateDescription vmstate_x86_xsave;

#endif
