/*
 * system.c: the two-byte opcodes and everything that touches the
 * machine rather than data — segment loads, far transfers, interrupts
 * and exceptions, descriptor tables, control and debug registers, MSRs,
 * CPUID, the TSC, port I/O and HLT.
 *
 * Modes: real mode (CR0.PE clear: a segment's base is its selector * 16,
 * limit and attributes stay, so "unreal" mode works as on hardware) and
 * 32-bit protected mode at CPL 0 with GDT/LDT descriptors.  Not modelled,
 * and refused with an internal error rather than emulated wrongly:
 * paging (CR0.PG), virtual-8086 mode, task switches, call gates and
 * privilege changes.  Exceptions go through the IVT or IDT (16/32-bit
 * interrupt and trap gates); an exception while delivering one becomes
 * #DF, and a fault delivering #DF shuts down (a triple fault, which on
 * pc-lite ends ferry as QEMU -no-reboot would, like KVM's shutdown exit).
 *
 * Segment loads, far jumps and calls read and validate the descriptor
 * (setting its accessed bit, a memory write) before committing anything,
 * which keeps them within the commit rule of x86-interp.h.
 */
#include "x86-interp.h"
#include "exec/memory.h"
#include "qemu/main-loop.h"
#include "trace.h"

static bool protected_mode(CPUX86State *env)
{
    return env->cr[0] & CR0_PE;
}

static int cpl(CPUX86State *env)
{
    return protected_mode(env) ?
           (env->segs[R_CS].flags >> DESC_DPL_SHIFT) & 3 : 0;
}

/* ---- segments ---- */

/*
 * The descriptor of @sel for segment register @seg (R_CS for far
 * transfers), validated; on failure raises the exception and returns
 * false with *@st set.  Sets the descriptor's accessed bit in memory.
 */
static bool seg_lookup(X86Dec *d, int seg, uint16_t sel, SegmentCache *out,
                       X86Status *st)
{
    CPUX86State *env = d->env;
    const SegmentCache *table = sel & 4 ? &env->ldt : &env->gdt;
    uint32_t idx = sel & ~7u, lo, hi, type, limit;
    int vec = EXCP_GP;

    if (!protected_mode(env)) {
        *out = env->segs[seg];
        out->selector = sel;
        out->base = (uint32_t)sel << 4;
        return true;
    }
    if ((sel & ~3u) == 0) {
        if (seg == R_CS || seg == R_SS) {
            goto fault;
        }
        *out = (SegmentCache) { .selector = sel };
        return true;
    }
    if (idx + 7 > table->limit || ((sel & 4) && !table->flags)) {
        goto fault;
    }
    lo = x86_ld(d->t, (uint32_t)table->base + idx, 4);
    hi = x86_ld(d->t, (uint32_t)table->base + idx + 4, 4);
    type = (hi >> 8) & 0xf;
    if (!(hi & DESC_S_MASK)) {
        goto fault;                     /* system descriptor */
    }
    if (seg == R_CS ? !(type & 8) :
        seg == R_SS ? (type & 8) || !(type & 2) :
        (type & 0xa) == 8) {            /* execute-only code */
        goto fault;
    }
    if (!(hi & DESC_P_MASK)) {
        vec = seg == R_SS ? 12 : 11;    /* #SS, #NP */
        goto fault;
    }
    if (!(type & 1)) {
        hi |= 1u << 8;                  /* accessed */
        x86_st(d->t, (uint32_t)table->base + idx + 4, hi, 4);
    }
    limit = (lo & 0xffff) | (hi & 0xf0000);
    if (hi & DESC_G_MASK) {
        limit = (limit << 12) | 0xfff;
    }
    out->selector = sel;
    out->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
    out->limit = limit;
    out->flags = hi & 0x00f0ff00u;
    return true;

fault:
    trace_x86_tcg_seg_fault(seg, sel, vec);
    *st = x86_interrupt(d, vec, true, sel & ~3u, d->ip);
    return false;
}

static void seg_commit(CPUX86State *env, int seg, const SegmentCache *sc)
{
    env->segs[seg] = *sc;
    trace_x86_tcg_seg_load(seg, sc->selector, sc->base, sc->limit,
                           sc->flags);
}

X86Status x86_load_seg(X86Dec *d, int seg, uint16_t sel)
{
    SegmentCache sc;
    X86Status st;

    if (!seg_lookup(d, seg, sel, &sc, &st)) {
        return st;
    }
    seg_commit(d->env, seg, &sc);
    return X86_NEXT;
}

/*
 * The code segment of a far transfer.  CS in real mode keeps its
 * attributes (only base and selector move).  In protected mode the
 * transfer must stay at the current privilege level.
 */
static bool code_lookup(X86Dec *d, uint16_t sel, SegmentCache *sc,
                        X86Status *st)
{
    CPUX86State *env = d->env;
    int dpl;

    if (!seg_lookup(d, R_CS, sel, sc, st)) {
        return false;
    }
    if (!protected_mode(env)) {
        return true;
    }
    dpl = (sc->flags >> DESC_DPL_SHIFT) & 3;
    if ((sel & 3) > cpl(env) ||
        (!(sc->flags & (4u << DESC_TYPE_SHIFT)) && dpl != cpl(env))) {
        d->t->error = g_strdup_printf("far transfer to selector 0x%04x "
                                      "changes privilege (not supported)",
                                      sel);
        *st = X86_ERROR;
        return false;
    }
    return true;
}

static void jump_commit(X86Dec *d, const SegmentCache *cs, uint32_t off)
{
    CPUX86State *env = d->env;

    seg_commit(env, R_CS, cs);
    env->rip = cs->flags & DESC_B_MASK ? off : (off & 0xffff);
    trace_x86_tcg_far_jump(cs->selector, (uint32_t)env->rip,
                           !!(cs->flags & DESC_B_MASK));
}

X86Status x86_far_jump(X86Dec *d, uint16_t sel, uint32_t off)
{
    SegmentCache cs;
    X86Status st;

    if (!code_lookup(d, sel, &cs, &st)) {
        return st;
    }
    jump_commit(d, &cs, off);
    return X86_NEXT;
}

X86Status x86_far_call(X86Dec *d, uint16_t sel, uint32_t off)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env);
    SegmentCache cs;
    X86Status st;

    if (!code_lookup(d, sel, &cs, &st)) {
        return st;
    }
    x86_push_at(d, &sp, env->segs[R_CS].selector, d->opsize);
    x86_push_at(d, &sp, d->next_ip, d->opsize);
    x86_set_sp(env, sp);
    jump_commit(d, &cs, off);
    return X86_NEXT;
}

X86Status x86_far_ret(X86Dec *d, uint16_t extra, bool iret)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env), ip, fl = 0, mask;
    uint16_t sel;
    SegmentCache cs;
    X86Status st;

    ip = x86_pop_at(d, &sp, d->opsize);
    sel = x86_pop_at(d, &sp, d->opsize);
    if (iret) {
        fl = x86_pop_at(d, &sp, d->opsize);
        if (protected_mode(env) && ((env->rflags & NT_MASK) ||
                                    (d->opsize == 4 && (fl & 0x20000)))) {
            d->t->error = g_strdup("IRET to another task or to virtual-8086 "
                                   "mode (not supported)");
            return X86_ERROR;
        }
    }
    if (!code_lookup(d, sel, &cs, &st)) {
        return st;
    }
    x86_set_sp(env, sp + extra);
    if (iret) {
        mask = CC_ALL | TF_MASK | IF_MASK | DF_MASK | IOPL_MASK | NT_MASK;
        if (d->opsize == 4) {
            mask |= AC_MASK | ID_MASK;
        } else {
            mask &= 0xffff;
        }
        env->rflags = (((uint32_t)env->rflags & ~mask) | (fl & mask)) | 2;
    }
    jump_commit(d, &cs, ip);
    return X86_NEXT;
}

/* ---- interrupts and exceptions ---- */

static X86Status deliver(X86Dec *d, int vec, bool has_err, uint32_t err,
                         uint32_t next, bool *bad)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env), fl = env->rflags;
    SegmentCache cs;
    X86Status st;

    *bad = false;
    if (!protected_mode(env)) {
        uint32_t entry;

        if ((uint32_t)vec * 4 + 3 > env->idt.limit) {
            *bad = true;
            return X86_NEXT;
        }
        entry = x86_ld(d->t, (uint32_t)env->idt.base + vec * 4, 4);
        x86_push_at(d, &sp, fl, 2);
        x86_push_at(d, &sp, env->segs[R_CS].selector, 2);
        x86_push_at(d, &sp, next, 2);
        x86_set_sp(env, sp);
        env->rflags = fl & ~(IF_MASK | TF_MASK | AC_MASK);
        cs = env->segs[R_CS];
        cs.selector = entry >> 16;
        cs.base = (entry >> 16) << 4;
        seg_commit(env, R_CS, &cs);
        env->rip = entry & 0xffff;
        return X86_NEXT;
    } else {
        uint32_t lo, hi, type, off;
        int size;

        if ((uint32_t)vec * 8 + 7 > env->idt.limit) {
            *bad = true;
            return X86_NEXT;
        }
        lo = x86_ld(d->t, (uint32_t)env->idt.base + vec * 8, 4);
        hi = x86_ld(d->t, (uint32_t)env->idt.base + vec * 8 + 4, 4);
        type = (hi >> 8) & 0x1f;
        if (!(hi & DESC_P_MASK) ||
            (type != 0x06 && type != 0x07 && type != 0x0e && type != 0x0f)) {
            *bad = true;                /* (task gates are not supported) */
            return X86_NEXT;
        }
        size = type & 8 ? 4 : 2;
        off = size == 4 ? (lo & 0xffff) | (hi & 0xffff0000u) : lo & 0xffff;
        if (!code_lookup(d, lo >> 16, &cs, &st)) {
            return st;
        }
        x86_push_at(d, &sp, fl, size);
        x86_push_at(d, &sp, env->segs[R_CS].selector, size);
        x86_push_at(d, &sp, next, size);
        if (has_err) {
            x86_push_at(d, &sp, err, size);
        }
        x86_set_sp(env, sp);
        fl &= ~(TF_MASK | NT_MASK | 0x10000u);
        if (!(type & 1)) {
            fl &= ~IF_MASK;             /* interrupt gate */
        }
        env->rflags = fl | 2;
        jump_commit(d, &cs, off);
        return X86_NEXT;
    }
}

X86Status x86_interrupt(X86Dec *d, int vec, bool has_err, uint32_t err,
                        uint32_t next)
{
    X86Status st;
    bool bad;

    trace_x86_tcg_interrupt(vec, err, d->env->segs[R_CS].selector, d->ip);
    /*
     * A fault while delivering (a bad gate, a bad code selector in it)
     * nests: at the second level it is delivered as #DF, at the third it
     * is a triple fault, whatever the guest's tables say, so a hostile
     * IDT cannot make this recurse without end.
     */
    if (d->exc_depth >= 2 || (d->exc_depth == 1 && vec == EXCP_DF)) {
        goto triple;
    }
    if (d->exc_depth == 1) {
        vec = EXCP_DF;
        has_err = true;
        err = 0;
    }
    d->exc_depth++;
    st = deliver(d, vec, has_err && protected_mode(d->env), err, next, &bad);
    if (bad && vec != EXCP_DF) {
        /* The vector could not be delivered: #DF, as on hardware. */
        st = deliver(d, EXCP_DF, protected_mode(d->env), 0, d->ip, &bad);
    }
    d->exc_depth--;
    if (bad) {
        goto triple;
    }
    return st;

triple:
    trace_x86_tcg_triple_fault(d->t->cpu->parent_obj.cpu_index);
    return X86_SHUTDOWN;
}

/* ---- ports ---- */

uint32_t x86_port_in(X86Dec *d, uint16_t port, int size)
{
    uint32_t v;

    bql_lock();
    v = address_space_ldn_le(&address_space_io, port, size);
    bql_unlock();
    trace_x86_tcg_io(port, size, false, v);
    return v;
}

void x86_port_out(X86Dec *d, uint16_t port, uint32_t v, int size)
{
    trace_x86_tcg_io(port, size, true, v);
    bql_lock();
    address_space_stn_le(&address_space_io, port, v, size);
    bql_unlock();
}

X86Status x86_exec_system(X86Dec *d)
{
    CPUX86State *env = d->env;
    int size = d->op & 1 ? d->opsize : 1;
    uint16_t port = d->op & 8 ? (uint16_t)env->regs[R_EDX] :
                    (uint8_t)d->imm;

    switch (d->op) {
    case 0xe4:
    case 0xe5:
    case 0xec:
    case 0xed:
        x86_reg_write(env, R_EAX, size, x86_port_in(d, port, size));
        break;
    case 0xe6:
    case 0xe7:
    case 0xee:
    case 0xef:
        x86_port_out(d, port, x86_reg_read(env, R_EAX, size), size);
        break;
    default:                            /* 0xf4: HLT */
        env->rip = d->next_ip;
        trace_x86_tcg_hlt(d->t->cpu->parent_obj.cpu_index,
                          (uint32_t)env->rip);
        return X86_HALT;
    }
    env->rip = d->next_ip;
    return X86_NEXT;
}

/* ---- CPUID, TSC, MSRs ---- */

uint64_t x86_tsc_read(X86TCGState *t)
{
    return (uint64_t)(get_clock() + t->tsc_offset);
}

/* @r: EAX, EBX, ECX, EDX. */
void x86_cpuid(CPUX86State *env, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    static const char brand[48] = "ferry x86 interpreter (-accel tcg)";
    X86CPU *cpu = container_of(env, X86CPU, env);

    memset(r, 0, 4 * sizeof(uint32_t));
    switch (leaf) {
    case 0:
        r[0] = 1;
        memcpy(&r[1], "Genu", 4);        /* EBX EDX ECX: "GenuineIntel" */
        memcpy(&r[3], "ineI", 4);
        memcpy(&r[2], "ntel", 4);
        break;
    case 1:
        r[0] = 0x663;                   /* family 6, model 6, stepping 3 */
        r[1] = (uint32_t)cpu->parent_obj.cpu_index << 24 | 1u << 16 |
               8u << 8;
        r[3] = 1u << 4 | 1u << 5 | 1u << 15;    /* TSC, MSR, CMOV */
        break;
    case 0x80000000:
        r[0] = 0x80000004;
        break;
    case 0x80000002 ... 0x80000004:
        memcpy(r, brand + 16 * (leaf - 0x80000002), 16);
        break;
    default:
        break;
    }
}

static int msr_index(uint32_t msr)
{
    for (int k = 0; k < X86_NR_MSRS; k++) {
        if (x86_cpu_msrs[k] == msr) {
            return k;
        }
    }
    return -1;
}

static X86Status exec_msr(X86Dec *d, bool write)
{
    CPUX86State *env = d->env;
    uint32_t msr = env->regs[R_ECX];
    uint64_t v = (uint64_t)(uint32_t)env->regs[R_EDX] << 32 |
                 (uint32_t)env->regs[R_EAX];
    int k = msr_index(msr);

    trace_x86_tcg_msr(msr, write, v);
    if (msr == 0x10) {                  /* TSC */
        if (write) {
            d->t->tsc_offset = (int64_t)v - get_clock();
        } else {
            v = x86_tsc_read(d->t);
        }
    } else if (msr == 0xc0000080) {     /* EFER: no long mode here */
        if (write && (v & ~1ull)) {
            return x86_interrupt(d, EXCP_GP, true, 0, d->ip);
        }
        if (write) {
            env->efer = v;
        } else {
            v = env->efer;
        }
    } else if (msr == 0x1b) {           /* APIC_BASE */
        if (write) {
            env->apic_base = v;
        } else {
            v = env->apic_base;
        }
    } else if (k >= 0) {
        if (write) {
            env->msrs[k] = v;
            env->msr_present |= 1u << k;
        } else {
            v = env->msr_present & (1u << k) ? env->msrs[k] : 0;
        }
    } else {
        return x86_interrupt(d, EXCP_GP, true, 0, d->ip);
    }
    if (!write) {
        x86_reg_write(env, R_EAX, 4, (uint32_t)v);
        x86_reg_write(env, R_EDX, 4, v >> 32);
    }
    env->rip = d->next_ip;
    return X86_NEXT;
}

/* ---- control registers and descriptor tables ---- */

static X86Status write_cr(X86Dec *d, int n, uint32_t v)
{
    CPUX86State *env = d->env;

    trace_x86_tcg_cr_write(n, env->cr[n], v);
    if (n == 0) {
        if (v & CR0_PG) {
            d->t->error = g_strdup_printf("paging (CR0 = 0x%08x) is not "
                                          "supported by the interpreter", v);
            return X86_ERROR;
        }
        v |= 0x10;                      /* ET is hard-wired */
        if ((v ^ env->cr[0]) & CR0_PE) {
            trace_x86_tcg_mode(v & CR0_PE ? "protected" : "real");
        }
    }
    env->cr[n] = v;
    return X86_NEXT;
}

static X86Status exec_group7(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t lin = x86_lin(env, d->ea_seg, d->ea);
    SegmentCache *table = d->reg & 1 ? &env->idt : &env->gdt;
    X86Status st;

    switch (d->reg) {
    case 0:
    case 1:                             /* SGDT, SIDT */
        if (!d->ea_mem) {
            return x86_unknown(d);
        }
        x86_st(d->t, lin + 2, (uint32_t)table->base, 4);
        x86_st(d->t, lin, table->limit, 2);
        break;
    case 2:
    case 3: {                           /* LGDT, LIDT */
        uint32_t limit, base;

        if (!d->ea_mem) {
            return x86_unknown(d);
        }
        limit = x86_ld(d->t, lin, 2);
        base = x86_ld(d->t, lin + 2, 4);
        if (d->opsize == 2) {
            base &= 0xffffff;
        }
        table->base = base;
        table->limit = limit;
        trace_x86_tcg_load_table(d->reg == 2 ? "GDT" : "IDT", base, limit);
        break;
    }
    case 4:                             /* SMSW */
        x86_rm_write(d, d->ea_mem ? 2 : d->opsize, (uint32_t)env->cr[0]);
        break;
    case 6: {                           /* LMSW: can set PE, not clear it */
        uint32_t v = x86_rm_read(d, 2) & 0xf;

        st = write_cr(d, 0, ((uint32_t)env->cr[0] & ~0xeu) | v |
                      ((uint32_t)env->cr[0] & CR0_PE));
        if (st != X86_NEXT) {
            return st;
        }
        break;
    }
    case 7:                             /* INVLPG: no TLB */
        if (!d->ea_mem) {
            return x86_unknown(d);
        }
        break;
    default:
        return x86_unknown(d);
    }
    env->rip = d->next_ip;
    return X86_NEXT;
}

static X86Status exec_mov_cr_dr(X86Dec *d)
{
    CPUX86State *env = d->env;
    bool to_reg = !(d->op & 2);
    int n = d->reg;
    X86Status st;

    if (d->op & 1) {                    /* debug registers */
        uint64_t *dr = n < 4 ? &env->dr[n] : (n & 1) ? &env->dr7 : &env->dr6;

        if (n == 4 || n == 5) {
            if (env->cr[4] & 0x8) {     /* CR4.DE: #UD */
                return x86_unknown(d);
            }
        }
        if (to_reg) {
            x86_reg_write(env, d->rm, 4, (uint32_t)*dr);
        } else {
            *dr = x86_reg_read(env, d->rm, 4);
        }
    } else {
        if (n == 1 || n > 4) {
            return x86_unknown(d);
        }
        if (to_reg) {
            x86_reg_write(env, d->rm, 4, (uint32_t)env->cr[n]);
        } else {
            st = write_cr(d, n, x86_reg_read(env, d->rm, 4));
            if (st != X86_NEXT) {
                return st;
            }
        }
    }
    env->rip = d->next_ip;
    return X86_NEXT;
}

/* ---- the 0F xx opcodes ---- */

static X86Status exec_bt(X86Dec *d, int op, uint32_t bit, bool from_reg)
{
    CPUX86State *env = d->env;
    uint32_t fl = env->rflags, v, r;
    int size = d->opsize;

    if (d->ea_mem && from_reg) {
        /* A register bit offset reaches beyond the operand (signed). */
        int32_t off = x86_sext(bit, size);
        uint32_t save = d->ea;

        d->ea += (uint32_t)((off >> (size == 4 ? 5 : 4)) * size);
        if (d->addrsize == 2) {
            d->ea &= 0xffff;
        }
        v = x86_rm_read(d, size);
        r = x86_bt(op, v, bit, size, &fl);
        if (op != BT_BT) {
            x86_rm_write(d, size, r);
        }
        d->ea = save;
    } else {
        v = x86_rm_read(d, size);
        r = x86_bt(op, v, bit, size, &fl);
        if (op != BT_BT) {
            x86_rm_write(d, size, r);
        }
    }
    env->rflags = fl | 2;
    env->rip = d->next_ip;
    return X86_NEXT;
}

static X86Status exec_cmpxchg_xadd(X86Dec *d)
{
    CPUX86State *env = d->env;
    int size = d->op & 1 ? d->opsize : 1;
    uint32_t fl = env->rflags, v = x86_rm_read(d, size);

    if ((d->op & 0xfe) == 0xb0) {       /* CMPXCHG */
        uint32_t a = x86_reg_read(env, R_EAX, size);

        x86_alu(ALU_CMP, a, v, size, &fl);
        if (fl & CC_Z) {
            x86_rm_write(d, size, x86_reg_read(env, d->reg, size));
        } else {
            x86_rm_write(d, size, v);   /* always writes, as hardware */
            x86_reg_write(env, R_EAX, size, v);
        }
    } else {                            /* XADD */
        uint32_t r = x86_alu(ALU_ADD, v, x86_reg_read(env, d->reg, size),
                             size, &fl);

        x86_rm_write(d, size, r);
        x86_reg_write(env, d->reg, size, v);
    }
    env->rflags = fl | 2;
    env->rip = d->next_ip;
    return X86_NEXT;
}

static X86Status exec_push_pop_fsgs(X86Dec *d, int seg, bool pop)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env);
    X86Status st;

    if (!pop) {
        x86_push_at(d, &sp, env->segs[seg].selector, d->opsize);
    } else {
        st = x86_load_seg(d, seg, x86_pop_at(d, &sp, d->opsize));
        if (st != X86_NEXT) {
            return st;
        }
    }
    x86_set_sp(env, sp);
    env->rip = d->next_ip;
    return X86_NEXT;
}

X86Status x86_step_0f(X86Dec *d)
{
    CPUX86State *env = d->env;
    int op = d->op & 0xff, size = d->opsize;
    uint32_t fl = env->rflags, r[4];

    switch (op) {
    case 0x01:
        return exec_group7(d);
    case 0x06:                          /* CLTS */
        env->cr[0] &= ~0x8ull;
        break;
    case 0x08:
    case 0x09:                          /* INVD, WBINVD: no caches */
    case 0x1f:                          /* NOP Ev */
        break;
    case 0x20 ... 0x23:
        return exec_mov_cr_dr(d);
    case 0x30:
        return exec_msr(d, true);
    case 0x31: {
        uint64_t tsc = x86_tsc_read(d->t);

        x86_reg_write(env, R_EAX, 4, (uint32_t)tsc);
        x86_reg_write(env, R_EDX, 4, tsc >> 32);
        break;
    }
    case 0x32:
        return exec_msr(d, false);
    case 0x40 ... 0x4f: {
        uint32_t v = x86_rm_read(d, size);

        if (x86_cond(op & 15, fl)) {
            x86_reg_write(env, d->reg, size, v);
        } else if (size == 4) {
            x86_reg_write(env, d->reg, 4, x86_reg_read(env, d->reg, 4));
        }
        break;
    }
    case 0x80 ... 0x8f:
        if (x86_cond(op & 15, fl)) {
            uint32_t ip = d->next_ip + d->imm;

            env->rip = size == 2 ? (ip & 0xffff) : ip;
            return X86_NEXT;
        }
        break;
    case 0x90 ... 0x9f:
        x86_rm_write(d, 1, x86_cond(op & 15, fl));
        break;
    case 0xa0:
        return exec_push_pop_fsgs(d, R_FS, false);
    case 0xa1:
        return exec_push_pop_fsgs(d, R_FS, true);
    case 0xa8:
        return exec_push_pop_fsgs(d, R_GS, false);
    case 0xa9:
        return exec_push_pop_fsgs(d, R_GS, true);
    case 0xa2:
        x86_cpuid(env, env->regs[R_EAX], env->regs[R_ECX], r);
        trace_x86_tcg_cpuid((uint32_t)env->regs[R_EAX], r[0], r[1], r[2],
                            r[3]);
        x86_reg_write(env, R_EAX, 4, r[0]);
        x86_reg_write(env, R_EBX, 4, r[1]);
        x86_reg_write(env, R_ECX, 4, r[2]);
        x86_reg_write(env, R_EDX, 4, r[3]);
        break;
    case 0xa3:
    case 0xab:
    case 0xb3:
    case 0xbb:
        return exec_bt(d, (op >> 3) & 3, x86_reg_read(env, d->reg, size),
                       true);
    case 0xba:
        if (d->reg < 4) {
            return x86_unknown(d);
        }
        return exec_bt(d, d->reg - 4, d->imm & 0xff, false);
    case 0xa4:
    case 0xa5:
    case 0xac:
    case 0xad: {
        uint32_t count = op & 1 ? (uint8_t)env->regs[R_ECX] : d->imm & 0xff;
        uint32_t v = x86_shiftd(op >= 0xac, x86_rm_read(d, size),
                                x86_reg_read(env, d->reg, size), count,
                                size, &fl);

        if (count & 0x1f) {
            x86_rm_write(d, size, v);
            env->rflags = fl | 2;
        }
        break;
    }
    case 0xaf:
        x86_reg_write(env, d->reg, size,
                      x86_imul_trunc(x86_reg_read(env, d->reg, size),
                                     x86_rm_read(d, size), size, &fl));
        env->rflags = fl | 2;
        break;
    case 0xb0:
    case 0xb1:
    case 0xc0:
    case 0xc1:
        return exec_cmpxchg_xadd(d);
    case 0xb2:
    case 0xb4:
    case 0xb5: {
        int seg = op == 0xb2 ? R_SS : op == 0xb4 ? R_FS : R_GS;
        uint32_t lin, off;
        X86Status st;

        if (!d->ea_mem) {
            return x86_unknown(d);
        }
        lin = x86_lin(env, d->ea_seg, d->ea);
        off = x86_ld(d->t, lin, size);
        st = x86_load_seg(d, seg, x86_ld(d->t, lin + size, 2));
        if (st != X86_NEXT) {
            return st;
        }
        x86_reg_write(env, d->reg, size, off);
        break;
    }
    case 0xb6:
    case 0xb7:
    case 0xbe:
    case 0xbf: {
        int from = op & 1 ? 2 : 1;
        uint32_t v = x86_rm_read(d, from);

        if (op >= 0xbe) {
            v = (uint32_t)x86_sext(v, from);
        }
        x86_reg_write(env, d->reg, size, v);
        break;
    }
    case 0xbc:
    case 0xbd:
        x86_reg_write(env, d->reg, size,
                      x86_bsf_bsr(op == 0xbd, x86_rm_read(d, size),
                                  x86_reg_read(env, d->reg, size), size,
                                  &fl));
        env->rflags = fl | 2;
        break;
    case 0xc8 ... 0xcf:
        if (size == 2) {
            return x86_unknown(d);      /* undefined on hardware */
        }
        x86_reg_write(env, op & 7, 4,
                      __builtin_bswap32(x86_reg_read(env, op & 7, 4)));
        break;
    default:
        return x86_unknown(d);
    }
    env->rip = d->next_ip;
    return X86_NEXT;
}
