/*
 * machine.c: the x86 vCPU state on the wire.
 *
 * The "cpu" section (one per vCPU, instance id = vCPU index) is a single
 * CPUX86State, described here as vmstate_x86_env, plus the "cpu/xsave"
 * subsection; cpu.c wraps them with the hooks that fetch the state from KVM before saving and push it back
 * after loading.  This is ferry's own layout, version 1: pc-lite is not a
 * QEMU machine, so its CPU section does not pretend to be QEMU's.
 *
 *   regs[16] rip rflags              u64
 *   es cs ss ds fs gs ldt tr gdt idt segment {selector u32, base u64,
 *                                             limit u32, flags u32}
 *   cr0 cr1 cr2 cr3 cr4 cr8 efer apic_base   u64
 *   fpregs (128 bytes) fcw fsw ftwx fop fpip fpdp xmm (256 bytes) mxcsr
 *   msr_present u32, msrs[12] u64, dr0-3 dr6 dr7 u64
 *   pending events, halted           u8/u32
 *   subsection "cpu/xsave": the 4096-byte XSAVE area and XCR0
 */
#include "qemu/osdep.h"
#include "target/i386/cpu.h"
#include "migration/vmstate.h"

static const VMStateDescription vmstate_segment = {
    .name = "segment",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(selector, SegmentCache),
        VMSTATE_UINT64(base, SegmentCache),
        VMSTATE_UINT32(limit, SegmentCache),
        VMSTATE_UINT32(flags, SegmentCache),
        VMSTATE_END_OF_LIST()
    },
};

static bool xsave_needed(void *opaque)
{
    X86CPU *cpu = opaque;

    return cpu->env.has_xsave;
}

static int xsave_post_load(void *opaque, int version_id)
{
    X86CPU *cpu = opaque;

    cpu->env.has_xsave = true;
    return 0;
}

/* A subsection of "cpu" (subsections hang off the section's own vmsd). */
const VMStateDescription vmstate_x86_xsave = {
    .name = "cpu/xsave",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = xsave_needed,
    .post_load = xsave_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_BUFFER(env.xsave, X86CPU),
        VMSTATE_UINT64(env.xcr0, X86CPU),
        VMSTATE_END_OF_LIST()
    },
};

static int x86_env_pre_load(void *opaque)
{
    CPUX86State *env = opaque;

    /* Only a "cpu/xsave" subsection in the stream turns XSAVE on. */
    env->has_xsave = false;
    env->xcr0 = 0;
    return 0;
}

static int x86_env_post_load(void *opaque, int version_id)
{
    CPUX86State *env = opaque;

    /* A bitmap of 12 MSRs; anything beyond is a corrupt stream. */
    if (env->msr_present >> X86_NR_MSRS) {
        return -EINVAL;
    }
    if (env->halted > 1) {
        return -EINVAL;
    }
    return 0;
}

const VMStateDescription vmstate_x86_env = {
    .name = "cpu/env",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_load = x86_env_pre_load,
    .post_load = x86_env_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64_ARRAY(regs, CPUX86State, 16),
        VMSTATE_UINT64(rip, CPUX86State),
        VMSTATE_UINT64(rflags, CPUX86State),
        VMSTATE_STRUCT_ARRAY(segs, CPUX86State, X86_NR_SEGS, 1,
                             vmstate_segment, SegmentCache),
        VMSTATE_STRUCT(ldt, CPUX86State, 1, vmstate_segment, SegmentCache),
        VMSTATE_STRUCT(tr, CPUX86State, 1, vmstate_segment, SegmentCache),
        VMSTATE_STRUCT(gdt, CPUX86State, 1, vmstate_segment, SegmentCache),
        VMSTATE_STRUCT(idt, CPUX86State, 1, vmstate_segment, SegmentCache),
        VMSTATE_UINT64_ARRAY(cr, CPUX86State, 5),
        VMSTATE_UINT64(cr8, CPUX86State),
        VMSTATE_UINT64(efer, CPUX86State),
        VMSTATE_UINT64(apic_base, CPUX86State),
        VMSTATE_BUFFER(fpregs, CPUX86State),
        VMSTATE_UINT16(fcw, CPUX86State),
        VMSTATE_UINT16(fsw, CPUX86State),
        VMSTATE_UINT8(ftwx, CPUX86State),
        VMSTATE_UINT16(fop, CPUX86State),
        VMSTATE_UINT64(fpip, CPUX86State),
        VMSTATE_UINT64(fpdp, CPUX86State),
        VMSTATE_BUFFER(xmm, CPUX86State),
        VMSTATE_UINT32(mxcsr, CPUX86State),
        VMSTATE_UINT32(msr_present, CPUX86State),
        VMSTATE_UINT64_ARRAY(msrs, CPUX86State, X86_NR_MSRS),
        VMSTATE_UINT64_ARRAY(dr, CPUX86State, 4),
        VMSTATE_UINT64(dr6, CPUX86State),
        VMSTATE_UINT64(dr7, CPUX86State),
        VMSTATE_UINT8(exception_injected, CPUX86State),
        VMSTATE_UINT8(exception_nr, CPUX86State),
        VMSTATE_UINT8(exception_has_error_code, CPUX86State),
        VMSTATE_UINT32(exception_error_code, CPUX86State),
        VMSTATE_UINT8(interrupt_injected, CPUX86State),
        VMSTATE_UINT8(interrupt_nr, CPUX86State),
        VMSTATE_UINT8(interrupt_soft, CPUX86State),
        VMSTATE_UINT8(interrupt_shadow, CPUX86State),
        VMSTATE_UINT8(nmi_injected, CPUX86State),
        VMSTATE_UINT8(nmi_pending, CPUX86State),
        VMSTATE_UINT8(nmi_masked, CPUX86State),
        VMSTATE_UINT32(sipi_vector, CPUX86State),
        VMSTATE_UINT8(halted, CPUX86State),
        VMSTATE_END_OF_LIST()
    },
};
