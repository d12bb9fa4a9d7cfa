/*
 * decode.c: the x86 decoder and the one-byte opcodes.
 *
 * x86_step() decodes one instruction completely — prefixes, opcode,
 * ModRM/SIB, displacement, immediates, driven by the attribute tables
 * below — and then executes it.  Decoding only reads guest memory, so it
 * runs inside x86_ram_enter()/leave() as a whole: a kick that arrives
 * while a code fetch sleeps on a postcopy page abandons the instruction
 * before anything happened.
 *
 * Execution follows the commit rule of x86-interp.h: memory first,
 * registers, flags and EIP last.  Operand and address sizes come from
 * CS.D (16-bit code in real mode and in 16-bit segments, 32-bit in flat
 * protected mode), toggled by 0x66/0x67; the stack width from SS.B.
 * Segment limits are not checked (flat segments and real mode are what
 * boot sectors use); documented in docs/system/tcg.rst.
 *
 * Opcodes left out (x87, MMX/SSE, BCD adjust, BOUND, ARPL, ...) are
 * "unknown": the vCPU stops with a register dump and the VM goes to
 * internal-error (tcg-cpu.c).  The supported set is tabled in
 * docs/system/tcg.rst; keep the two in step.
 */
#include "x86-interp.h"

/* Opcode attributes. */
#define F_MODRM 0x01
#define F_IB    0x02    /* imm8, sign-extended into imm (or imm2 after IW) */
#define F_IW    0x04    /* imm16 */
#define F_IZ    0x08    /* imm16 or imm32 by operand size */
#define F_MOFFS 0x10    /* an address-size offset */
#define F_FAR   0x20    /* ptr16:16/32: offset in imm, selector in imm2 */
#define F_SUP    0x80    /* supported */

#define M   (F_SUP | F_MODRM)
#define MB  (F_SUP | F_MODRM | F_IB)
#define MZ  (F_SUP | F_MODRM | F_IZ)
#define B   (F_SUP | F_IB)
#define Z   (F_SUP | F_IZ)
#define V   F_SUP

static const uint8_t opc1[256] = {
    /* ALU ops, push/pop of segment registers. */
    [0x00 ... 0x03] = M, [0x04] = B, [0x05] = Z, [0x06 ... 0x07] = V,
    [0x08 ... 0x0b] = M, [0x0c] = B, [0x0d] = Z, [0x0e] = V,
    [0x10 ... 0x13] = M, [0x14] = B, [0x15] = Z, [0x16 ... 0x17] = V,
    [0x18 ... 0x1b] = M, [0x1c] = B, [0x1d] = Z, [0x1e ... 0x1f] = V,
    [0x20 ... 0x23] = M, [0x24] = B, [0x25] = Z,
    [0x28 ... 0x2b] = M, [0x2c] = B, [0x2d] = Z,
    [0x30 ... 0x33] = M, [0x34] = B, [0x35] = Z,
    [0x38 ... 0x3b] = M, [0x3c] = B, [0x3d] = Z,
    [0x40 ... 0x61] = V,                    /* inc/dec/push/pop, pusha/popa */
    [0x68] = Z, [0x69] = MZ, [0x6a] = B, [0x6b] = MB, [0x6c ... 0x6f] = V,
    [0x70 ... 0x7f] = B,
    [0x80] = MB, [0x81] = MZ, [0x82 ... 0x83] = MB, [0x84 ... 0x8f] = M,
    [0x90 ... 0x99] = V, [0x9a] = F_SUP | F_FAR, [0x9b ... 0x9f] = V,
    [0xa0 ... 0xa3] = F_SUP | F_MOFFS, [0xa4 ... 0xa7] = V, [0xa8] = B,
    [0xa9] = Z, [0xaa ... 0xaf] = V,
    [0xb0 ... 0xb7] = B, [0xb8 ... 0xbf] = Z,
    [0xc0 ... 0xc1] = MB, [0xc2] = F_SUP | F_IW, [0xc3] = V,
    [0xc4 ... 0xc5] = M, [0xc6] = MB, [0xc7] = MZ,
    [0xc8] = F_SUP | F_IW | F_IB, [0xc9] = V, [0xca] = F_SUP | F_IW,
    [0xcb ... 0xcc] = V, [0xcd] = B, [0xce ... 0xcf] = V,
    [0xd0 ... 0xd3] = M, [0xd7] = V,
    [0xe0 ... 0xe7] = B, [0xe8 ... 0xe9] = Z, [0xea] = F_SUP | F_FAR,
    [0xeb] = B, [0xec ... 0xef] = V,
    [0xf4 ... 0xf5] = V, [0xf6 ... 0xf7] = M, [0xf8 ... 0xfd] = V,
    [0xfe ... 0xff] = M,
};

static const uint8_t opc2[256] = {
    [0x01] = M, [0x06] = V, [0x08 ... 0x09] = V, [0x1f] = M,
    [0x20 ... 0x23] = M,
    [0x30 ... 0x32] = V,
    [0x40 ... 0x4f] = M,
    [0x80 ... 0x8f] = Z,
    [0x90 ... 0x9f] = M,
    [0xa0 ... 0xa2] = V, [0xa3] = M, [0xa4] = MB, [0xa5] = M,
    [0xa8 ... 0xa9] = V, [0xab] = M, [0xac] = MB, [0xad] = M, [0xaf] = M,
    [0xb0 ... 0xb7] = M, [0xba] = MB, [0xbb ... 0xbf] = M,
    [0xc0 ... 0xc1] = M, [0xc8 ... 0xcf] = V,
};

#undef M
#undef MB
#undef MZ
#undef B
#undef Z
#undef V

/* ---- fetching ---- */

/*
 * d->p..d->end are the bytes of the current code page that are RAM;
 * d->end_lin is the linear address of d->end (of the next byte when the
 * code is not in RAM, d->p == d->end == NULL).
 */
static void fetch_setup(X86Dec *d, uint32_t lin)
{
    uint8_t *p = x86_ram_ptr(d->t, lin, 1);

    if (p) {
        d->p = p;
        d->end = p + (0x1000 - (lin & 0xfff));
        d->end_lin = (lin | 0xfff) + 1;
    } else {
        d->p = d->end = NULL;
        d->end_lin = lin;
    }
}

static uint8_t fetch8_slow(X86Dec *d)
{
    uint32_t lin = d->end_lin;
    uint8_t *p = x86_ram_ptr(d->t, lin, 1);

    d->len++;
    if (p) {
        d->p = p + 1;
        d->end = p + (0x1000 - (lin & 0xfff));
        d->end_lin = (lin | 0xfff) + 1;
        return *p;
    }
    /* Code in a device (or nowhere): one byte at a time. */
    d->p = d->end = NULL;
    d->end_lin = lin + 1;
    return (uint8_t)x86_ld_slow(d->t, lin, 1);
}

static inline uint8_t fetch8(X86Dec *d)
{
    if (likely(d->p < d->end)) {
        d->len++;
        return *d->p++;
    }
    return fetch8_slow(d);
}

static inline uint32_t fetch16(X86Dec *d)
{
    if (likely(d->end - d->p >= 2)) {
        uint16_t v;

        memcpy(&v, d->p, 2);
        d->p += 2;
        d->len += 2;
        return v;
    }
    return fetch8(d) | (uint32_t)fetch8(d) << 8;
}

static inline uint32_t fetch32(X86Dec *d)
{
    if (likely(d->end - d->p >= 4)) {
        uint32_t v;

        memcpy(&v, d->p, 4);
        d->p += 4;
        d->len += 4;
        return v;
    }
    return fetch16(d) | fetch16(d) << 16;
}

/* ---- ModRM ---- */

static void decode_modrm16(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t ea = 0;
    int seg = R_DS;

    switch (d->rm) {
    case 0:
        ea = env->regs[R_EBX] + env->regs[R_ESI];
        break;
    case 1:
        ea = env->regs[R_EBX] + env->regs[R_EDI];
        break;
    case 2:
        ea = env->regs[R_EBP] + env->regs[R_ESI];
        seg = R_SS;
        break;
    case 3:
        ea = env->regs[R_EBP] + env->regs[R_EDI];
        seg = R_SS;
        break;
    case 4:
        ea = env->regs[R_ESI];
        break;
    case 5:
        ea = env->regs[R_EDI];
        break;
    case 6:
        if (d->mod == 0) {
            ea = fetch16(d);
        } else {
            ea = env->regs[R_EBP];
            seg = R_SS;
        }
        break;
    default:
        ea = env->regs[R_EBX];
        break;
    }
    if (d->mod == 1) {
        ea += (int8_t)fetch8(d);
    } else if (d->mod == 2) {
        ea += fetch16(d);
    }
    d->ea = ea & 0xffff;
    d->ea_seg = d->seg >= 0 ? d->seg : seg;
}

static void decode_modrm32(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t ea = 0;
    int seg = R_DS, base = d->rm;

    if (d->rm == 4) {
        uint8_t sib = fetch8(d);
        int index = (sib >> 3) & 7;

        base = sib & 7;
        if (index != 4) {
            ea = (uint32_t)env->regs[index] << (sib >> 6);
        }
        if (base == 5 && d->mod == 0) {
            ea += fetch32(d);
            base = -1;
        }
    } else if (d->rm == 5 && d->mod == 0) {
        ea = fetch32(d);
        base = -1;
    }
    if (base >= 0) {
        ea += (uint32_t)env->regs[base];
        if (base == R_ESP || base == R_EBP) {
            seg = R_SS;
        }
    }
    if (d->mod == 1) {
        ea += (int8_t)fetch8(d);
    } else if (d->mod == 2) {
        ea += fetch32(d);
    }
    d->ea = ea;
    d->ea_seg = d->seg >= 0 ? d->seg : seg;
}

static void decode_modrm(X86Dec *d)
{
    uint8_t m = fetch8(d);

    d->mod = m >> 6;
    d->reg = (m >> 3) & 7;
    d->rm = m & 7;
    d->ea_mem = d->mod != 3;
    if (!d->ea_mem) {
        return;
    }
    if (d->addrsize == 2) {
        decode_modrm16(d);
    } else {
        decode_modrm32(d);
    }
}

/* Prefixes, opcode, operands; false if the opcode is not supported. */
static bool decode(X86Dec *d)
{
    uint8_t attr, b;
    int prefixes = 0;

    for (;;) {
        b = fetch8(d);
        switch (b) {
        case 0x26:
            d->seg = R_ES;
            break;
        case 0x2e:
            d->seg = R_CS;
            break;
        case 0x36:
            d->seg = R_SS;
            break;
        case 0x3e:
            d->seg = R_DS;
            break;
        case 0x64:
            d->seg = R_FS;
            break;
        case 0x65:
            d->seg = R_GS;
            break;
        case 0x66:
            d->opsize ^= 6;             /* 2 <-> 4 */
            break;
        case 0x67:
            d->addrsize ^= 6;
            break;
        case 0xf0:
            break;                      /* LOCK: one vCPU, nothing to do */
        case 0xf2:
        case 0xf3:
            d->rep = b;
            break;
        default:
            goto opcode;
        }
        if (++prefixes > 14) {
            return false;
        }
    }
opcode:
    if (b == 0x0f) {
        b = fetch8(d);
        d->op = 0x100 | b;
        attr = opc2[b];
    } else {
        d->op = b;
        attr = opc1[b];
    }
    if (!(attr & F_SUP)) {
        return false;
    }
    if (attr & F_MODRM) {
        decode_modrm(d);
    }
    if (attr & F_MOFFS) {
        d->ea = d->addrsize == 4 ? fetch32(d) : fetch16(d);
        d->ea_seg = d->seg >= 0 ? d->seg : R_DS;
        d->ea_mem = true;
    }
    if (attr & (F_IZ | F_FAR)) {
        d->imm = d->opsize == 4 ? fetch32(d) : fetch16(d);
    }
    if (attr & F_FAR) {
        d->imm2 = fetch16(d);
    }
    if (attr & F_IW) {
        d->imm = fetch16(d);
    }
    if (attr & F_IB) {
        uint32_t v = (uint32_t)(int8_t)fetch8(d);

        if (attr & F_IW) {
            d->imm2 = v & 0xff;
        } else {
            d->imm = v;
        }
    }
    /* Group 3's TEST takes an immediate the table cannot know about. */
    if ((b == 0xf6 || b == 0xf7) && d->op < 0x100 && d->reg < 2) {
        d->imm = b == 0xf6 ? (uint32_t)(int8_t)fetch8(d) :
                 d->opsize == 4 ? fetch32(d) : fetch16(d);
    }
    return d->len <= 15;
}

/* ---- operands ---- */

uint32_t x86_rm_read(X86Dec *d, int size)
{
    if (!d->ea_mem) {
        return x86_reg_read(d->env, d->rm, size);
    }
    return x86_ld(d->t, x86_lin(d->env, d->ea_seg, d->ea), size);
}

void x86_rm_write(X86Dec *d, int size, uint32_t v)
{
    if (!d->ea_mem) {
        x86_reg_write(d->env, d->rm, size, v);
    } else {
        x86_st(d->t, x86_lin(d->env, d->ea_seg, d->ea), v, size);
    }
}

uint32_t x86_get_sp(CPUX86State *env)
{
    return x86_stack_size(env) == 4 ? (uint32_t)env->regs[R_ESP] :
           (uint16_t)env->regs[R_ESP];
}

void x86_set_sp(CPUX86State *env, uint32_t sp)
{
    x86_reg_write(env, R_ESP, x86_stack_size(env), sp);
}

void x86_push_at(X86Dec *d, uint32_t *sp, uint32_t v, int size)
{
    CPUX86State *env = d->env;

    *sp -= size;
    if (x86_stack_size(env) == 2) {
        *sp &= 0xffff;
    }
    x86_st(d->t, x86_lin(env, R_SS, *sp), v, size);
}

uint32_t x86_pop_at(X86Dec *d, uint32_t *sp, int size)
{
    CPUX86State *env = d->env;
    uint32_t v = x86_ld(d->t, x86_lin(env, R_SS, *sp), size);

    *sp += size;
    if (x86_stack_size(env) == 2) {
        *sp &= 0xffff;
    }
    return v;
}

X86Status x86_unknown(X86Dec *d)
{
    return X86_UNKNOWN;
}

/* ---- execution ---- */

static inline void set_flags(CPUX86State *env, uint32_t fl)
{
    env->rflags = (fl & ~0x8u) | 0x2;    /* bit 1 is always set */
}

static inline void set_ip(X86Dec *d, uint32_t ip)
{
    d->env->rip = d->opsize == 2 ? (ip & 0xffff) : ip;
}

static inline X86Status done(X86Dec *d)
{
    d->env->rip = d->next_ip;
    return X86_NEXT;
}

static X86Status exec_alu(X86Dec *d, int op, int form)
{
    CPUX86State *env = d->env;
    int size = form & 1 ? d->opsize : 1;
    uint32_t fl = env->rflags, r;

    switch (form) {
    case 0:
    case 1:
        r = x86_alu(op, x86_rm_read(d, size),
                    x86_reg_read(env, d->reg, size), size, &fl);
        if (op != ALU_CMP) {
            x86_rm_write(d, size, r);
        }
        break;
    case 2:
    case 3:
        r = x86_alu(op, x86_reg_read(env, d->reg, size), x86_rm_read(d, size),
                    size, &fl);
        if (op != ALU_CMP) {
            x86_reg_write(env, d->reg, size, r);
        }
        break;
    default:
        r = x86_alu(op, x86_reg_read(env, R_EAX, size), d->imm, size, &fl);
        if (op != ALU_CMP) {
            x86_reg_write(env, R_EAX, size, r);
        }
        break;
    }
    set_flags(env, fl);
    return done(d);
}

static X86Status exec_group1(X86Dec *d)
{
    CPUX86State *env = d->env;
    int size = d->op & 1 ? d->opsize : 1;
    uint32_t fl = env->rflags;
    uint32_t r = x86_alu(d->reg, x86_rm_read(d, size), d->imm, size, &fl);

    if (d->reg != ALU_CMP) {
        x86_rm_write(d, size, r);
    }
    set_flags(env, fl);
    return done(d);
}

static X86Status exec_shift(X86Dec *d, uint32_t count)
{
    CPUX86State *env = d->env;
    int size = d->op & 1 ? d->opsize : 1;
    uint32_t fl = env->rflags;
    uint32_t a = x86_rm_read(d, size);
    uint32_t r = x86_shift(d->reg, a, count, size, &fl);

    if (count & 0x1f) {
        x86_rm_write(d, size, r);
        set_flags(env, fl);
    }
    return done(d);
}

static X86Status exec_group3(X86Dec *d)
{
    CPUX86State *env = d->env;
    int size = d->op & 1 ? d->opsize : 1;
    uint32_t fl = env->rflags, a = x86_rm_read(d, size), lo, hi;

    switch (d->reg) {
    case 0:
    case 1:
        x86_alu(ALU_AND, a, d->imm, size, &fl);
        break;
    case 2:
        x86_rm_write(d, size, ~a);
        return done(d);
    case 3:
        x86_rm_write(d, size, x86_neg(a, size, &fl));
        break;
    case 4:
    case 5:
        x86_mul(d->reg == 5, x86_reg_read(env, R_EAX, size), a, size, &lo,
                &hi, &fl);
        if (size == 1) {
            x86_reg_write(env, R_EAX, 2, lo | hi << 8);
        } else {
            x86_reg_write(env, R_EAX, size, lo);
            x86_reg_write(env, R_EDX, size, hi);
        }
        break;
    default: {
        uint32_t n_hi, n_lo, q, r;

        if (size == 1) {
            n_hi = x86_reg_read(env, 4, 1);     /* AH */
            n_lo = x86_reg_read(env, R_EAX, 1);
        } else {
            n_hi = x86_reg_read(env, R_EDX, size);
            n_lo = x86_reg_read(env, R_EAX, size);
        }
        if (!x86_div(d->reg == 7, n_hi, n_lo, a, size, &q, &r)) {
            return x86_interrupt(d, EXCP_DE, false, 0, d->ip);
        }
        if (size == 1) {
            x86_reg_write(env, R_EAX, 2, q | r << 8);
        } else {
            x86_reg_write(env, R_EAX, size, q);
            x86_reg_write(env, R_EDX, size, r);
        }
        return done(d);
    }
    }
    set_flags(env, fl);
    return done(d);
}

static X86Status exec_jump(X86Dec *d, uint32_t target)
{
    set_ip(d, target);
    return X86_NEXT;
}

static X86Status exec_call_near(X86Dec *d, uint32_t target)
{
    uint32_t sp = x86_get_sp(d->env);

    x86_push_at(d, &sp, d->next_ip, d->opsize);
    x86_set_sp(d->env, sp);
    return exec_jump(d, target);
}

static X86Status exec_far_indirect(X86Dec *d, bool call)
{
    uint32_t lin, off;
    uint16_t sel;

    if (!d->ea_mem) {
        return x86_unknown(d);
    }
    lin = x86_lin(d->env, d->ea_seg, d->ea);
    off = x86_ld(d->t, lin, d->opsize);
    sel = x86_ld(d->t, lin + d->opsize, 2);
    return call ? x86_far_call(d, sel, off) : x86_far_jump(d, sel, off);
}

static X86Status exec_group5(X86Dec *d)
{
    CPUX86State *env = d->env;
    int size = d->op & 1 ? d->opsize : 1;
    uint32_t fl = env->rflags, a, sp;

    if (d->op == 0xfe && d->reg > 1) {
        return x86_unknown(d);
    }
    switch (d->reg) {
    case 0:
    case 1:
        a = x86_rm_read(d, size);
        x86_rm_write(d, size, x86_incdec(d->reg == 1, a, size, &fl));
        set_flags(env, fl);
        return done(d);
    case 2:
        return exec_call_near(d, x86_rm_read(d, d->opsize));
    case 3:
        return exec_far_indirect(d, true);
    case 4:
        return exec_jump(d, x86_rm_read(d, d->opsize));
    case 5:
        return exec_far_indirect(d, false);
    case 6:
        a = x86_rm_read(d, d->opsize);
        sp = x86_get_sp(env);
        x86_push_at(d, &sp, a, d->opsize);
        x86_set_sp(env, sp);
        return done(d);
    default:
        return x86_unknown(d);
    }
}

static X86Status exec_push(X86Dec *d, uint32_t v)
{
    uint32_t sp = x86_get_sp(d->env);

    x86_push_at(d, &sp, v, d->opsize);
    x86_set_sp(d->env, sp);
    return done(d);
}

static X86Status exec_pop_reg(X86Dec *d, int r)
{
    uint32_t sp = x86_get_sp(d->env);
    uint32_t v = x86_pop_at(d, &sp, d->opsize);

    x86_set_sp(d->env, sp);
    x86_reg_write(d->env, r, d->opsize, v);
    return done(d);
}

static X86Status exec_pusha(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env), orig = (uint32_t)env->regs[R_ESP];

    for (int r = R_EAX; r <= R_EDI; r++) {
        x86_push_at(d, &sp, r == R_ESP ? orig :
                    x86_reg_read(env, r, d->opsize), d->opsize);
    }
    x86_set_sp(env, sp);
    return done(d);
}

static X86Status exec_popa(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env), v[8];

    for (int r = R_EDI; r >= R_EAX; r--) {
        v[r] = x86_pop_at(d, &sp, d->opsize);
    }
    for (int r = R_EAX; r <= R_EDI; r++) {
        if (r != R_ESP) {
            x86_reg_write(env, r, d->opsize, v[r]);
        }
    }
    x86_set_sp(env, sp);
    return done(d);
}

static X86Status exec_enter(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env), frame, bp = x86_reg_read(env, R_EBP,
                                                             d->opsize);
    unsigned level = d->imm2 & 0x1f;
    int ss = x86_stack_size(env);

    x86_push_at(d, &sp, bp, d->opsize);
    frame = sp;
    for (unsigned i = 1; i < level; i++) {
        uint32_t bpi = (x86_reg_read(env, R_EBP, ss) - i * d->opsize) &
                       (ss == 4 ? 0xffffffffu : 0xffff);

        x86_push_at(d, &sp, x86_ld(d->t, x86_lin(env, R_SS, bpi),
                                   d->opsize), d->opsize);
    }
    if (level) {
        x86_push_at(d, &sp, frame, d->opsize);
    }
    x86_reg_write(env, R_EBP, d->opsize, frame);
    x86_set_sp(env, sp - d->imm);
    return done(d);
}

static X86Status exec_leave(X86Dec *d)
{
    CPUX86State *env = d->env;
    int ss = x86_stack_size(env);
    uint32_t sp = x86_reg_read(env, R_EBP, ss);
    uint32_t bp = x86_pop_at(d, &sp, d->opsize);

    x86_set_sp(env, sp);
    x86_reg_write(env, R_EBP, d->opsize, bp);
    return done(d);
}

static X86Status exec_ret(X86Dec *d, uint32_t extra)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env);
    uint32_t ip = x86_pop_at(d, &sp, d->opsize);

    x86_set_sp(env, sp + extra);
    set_ip(d, ip);
    return X86_NEXT;
}

/* Loops and JCXZ count in CX or ECX, by address size. */
static X86Status exec_loop(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t c = x86_reg_read(env, R_ECX, d->addrsize), fl = env->rflags;
    bool take;

    if (d->op == 0xe3) {
        take = c == 0;
    } else {
        c = (c - 1) & x86_size_mask(d->addrsize);
        x86_reg_write(env, R_ECX, d->addrsize, c);
        take = c != 0;
        if (d->op == 0xe0) {
            take = take && !(fl & CC_Z);
        } else if (d->op == 0xe1) {
            take = take && (fl & CC_Z);
        }
    }
    return take ? exec_jump(d, d->next_ip + d->imm) : done(d);
}

static X86Status exec_xchg(X86Dec *d, int size)
{
    CPUX86State *env = d->env;
    uint32_t a = x86_rm_read(d, size), b = x86_reg_read(env, d->reg, size);

    x86_rm_write(d, size, b);
    x86_reg_write(env, d->reg, size, a);
    return done(d);
}

static X86Status exec_flags_op(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t fl = env->rflags;

    switch (d->op) {
    case 0xf5:
        fl ^= CC_C;
        break;
    case 0xf8:
        fl &= ~CC_C;
        break;
    case 0xf9:
        fl |= CC_C;
        break;
    case 0xfa:
        fl &= ~IF_MASK;
        break;
    case 0xfb:
        fl |= IF_MASK;
        break;
    case 0xfc:
        fl &= ~DF_MASK;
        break;
    default:
        fl |= DF_MASK;
        break;
    }
    set_flags(env, fl);
    return done(d);
}

static X86Status exec_mov_seg(X86Dec *d)
{
    CPUX86State *env = d->env;
    X86Status st;

    if (d->reg >= X86_NR_SEGS) {
        return x86_unknown(d);
    }
    if (d->op == 0x8c) {
        uint32_t sel = env->segs[d->reg].selector & 0xffff;

        x86_rm_write(d, d->ea_mem ? 2 : d->opsize, sel);
        return done(d);
    }
    if (d->reg == R_CS) {
        return x86_unknown(d);          /* #UD on hardware */
    }
    st = x86_load_seg(d, d->reg, x86_rm_read(d, 2));
    return st == X86_NEXT ? done(d) : st;
}

static X86Status exec_load_far_ptr(X86Dec *d, int seg)
{
    uint32_t lin, off;
    X86Status st;

    if (!d->ea_mem) {
        return x86_unknown(d);
    }
    lin = x86_lin(d->env, d->ea_seg, d->ea);
    off = x86_ld(d->t, lin, d->opsize);
    st = x86_load_seg(d, seg, x86_ld(d->t, lin + d->opsize, 2));
    if (st != X86_NEXT) {
        return st;
    }
    x86_reg_write(d->env, d->reg, d->opsize, off);
    return done(d);
}

static X86Status exec_push_seg(X86Dec *d, int seg)
{
    return exec_push(d, d->env->segs[seg].selector & 0xffff);
}

static X86Status exec_pop_seg(X86Dec *d, int seg)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env);
    uint16_t sel = x86_pop_at(d, &sp, d->opsize);
    X86Status st = x86_load_seg(d, seg, sel);

    if (st != X86_NEXT) {
        return st;
    }
    x86_set_sp(env, sp);
    return done(d);
}

static X86Status exec_popf(X86Dec *d)
{
    CPUX86State *env = d->env;
    uint32_t sp = x86_get_sp(env);
    uint32_t v = x86_pop_at(d, &sp, d->opsize);
    uint32_t mask = CC_ALL | TF_MASK | IF_MASK | DF_MASK | IOPL_MASK |
                    NT_MASK;

    if (d->opsize == 4) {
        mask |= AC_MASK | ID_MASK;
    }
    x86_set_sp(env, sp);
    set_flags(env, ((uint32_t)env->rflags & ~mask) | (v & mask));
    return done(d);
}

X86Status x86_step(X86TCGState *t)
{
    CPUX86State *env = t->env;
    bool code32 = env->segs[R_CS].flags & DESC_B_MASK;
    X86Dec d = {
        .t = t, .env = env, .seg = -1,
        .opsize = code32 ? 4 : 2, .addrsize = code32 ? 4 : 2,
        .ip = (uint32_t)env->rip,
    };
    uint32_t fl;
    bool ok;
    int op, size;

    x86_ram_enter(t);
    fetch_setup(&d, x86_lin(env, R_CS, d.ip));
    ok = decode(&d);
    x86_ram_leave(t);
    d.next_ip = d.ip + d.len;
    if (!code32) {
        d.next_ip &= 0xffff;
    }
    if (!ok) {
        return x86_unknown(&d);
    }
    t->insns++;
    op = d.op;
    if (op >= 0x100) {
        return x86_step_0f(&d);
    }
    if (op < 0x40 && (op & 7) < 6) {
        return exec_alu(&d, op >> 3, op & 7);
    }
    size = op & 1 ? d.opsize : 1;
    switch (op) {
    case 0x06:
        return exec_push_seg(&d, R_ES);
    case 0x07:
        return exec_pop_seg(&d, R_ES);
    case 0x0e:
        return exec_push_seg(&d, R_CS);
    case 0x16:
        return exec_push_seg(&d, R_SS);
    case 0x17:
        return exec_pop_seg(&d, R_SS);
    case 0x1e:
        return exec_push_seg(&d, R_DS);
    case 0x1f:
        return exec_pop_seg(&d, R_DS);
    case 0x40 ... 0x4f:
        fl = env->rflags;
        x86_reg_write(env, op & 7, d.opsize,
                      x86_incdec(op >= 0x48, x86_reg_read(env, op & 7,
                                                          d.opsize),
                                 d.opsize, &fl));
        set_flags(env, fl);
        return done(&d);
    case 0x50 ... 0x57:
        return exec_push(&d, op == 0x54 ? (uint32_t)env->regs[R_ESP] :
                         x86_reg_read(env, op & 7, d.opsize));
    case 0x58 ... 0x5f:
        return exec_pop_reg(&d, op & 7);
    case 0x60:
        return exec_pusha(&d);
    case 0x61:
        return exec_popa(&d);
    case 0x68:
    case 0x6a:
        return exec_push(&d, d.imm);
    case 0x69:
    case 0x6b:
        fl = env->rflags;
        x86_reg_write(env, d.reg, d.opsize,
                      x86_imul_trunc(x86_rm_read(&d, d.opsize), d.imm,
                                     d.opsize, &fl));
        set_flags(env, fl);
        return done(&d);
    case 0x6c ... 0x6f:
    case 0xa4 ... 0xa7:
    case 0xaa ... 0xaf:
        return x86_string_op(&d);
    case 0x70 ... 0x7f:
        return x86_cond(op & 15, env->rflags) ?
               exec_jump(&d, d.next_ip + d.imm) : done(&d);
    case 0x80 ... 0x83:
        return exec_group1(&d);
    case 0x84:
    case 0x85:
        fl = env->rflags;
        x86_alu(ALU_AND, x86_rm_read(&d, size),
                x86_reg_read(env, d.reg, size), size, &fl);
        set_flags(env, fl);
        return done(&d);
    case 0x86:
    case 0x87:
        return exec_xchg(&d, size);
    case 0x88:
    case 0x89:
        x86_rm_write(&d, size, x86_reg_read(env, d.reg, size));
        return done(&d);
    case 0x8a:
    case 0x8b:
        x86_reg_write(env, d.reg, size, x86_rm_read(&d, size));
        return done(&d);
    case 0x8c:
    case 0x8e:
        return exec_mov_seg(&d);
    case 0x8d:
        if (!d.ea_mem) {
            return x86_unknown(&d);
        }
        x86_reg_write(env, d.reg, d.opsize, d.ea);
        return done(&d);
    case 0x8f: {
        uint32_t sp = x86_get_sp(env), v;

        if (d.reg != 0) {
            return x86_unknown(&d);
        }
        v = x86_pop_at(&d, &sp, d.opsize);
        x86_rm_write(&d, d.opsize, v);
        x86_set_sp(env, sp);
        return done(&d);
    }
    case 0x90:
    case 0x9b:                          /* WAIT: no x87 to wait for */
        return done(&d);
    case 0x91 ... 0x97: {
        uint32_t a = x86_reg_read(env, R_EAX, d.opsize);

        x86_reg_write(env, R_EAX, d.opsize, x86_reg_read(env, op & 7,
                                                         d.opsize));
        x86_reg_write(env, op & 7, d.opsize, a);
        return done(&d);
    }
    case 0x98:
        if (d.opsize == 2) {
            x86_reg_write(env, R_EAX, 2, (int8_t)env->regs[R_EAX]);
        } else {
            x86_reg_write(env, R_EAX, 4, (int16_t)env->regs[R_EAX]);
        }
        return done(&d);
    case 0x99:
        x86_reg_write(env, R_EDX, d.opsize,
                      x86_sext(x86_reg_read(env, R_EAX, d.opsize),
                               d.opsize) < 0 ? 0xffffffffu : 0);
        return done(&d);
    case 0x9a:
        return x86_far_call(&d, d.imm2, d.imm);
    case 0x9c:
        return exec_push(&d, d.opsize == 4 ?
                         (uint32_t)env->rflags & 0x00fcffff :
                         (uint16_t)env->rflags);
    case 0x9d:
        return exec_popf(&d);
    case 0x9e:
        fl = env->rflags;
        fl = (fl & ~(CC_S | CC_Z | CC_A | CC_P | CC_C)) |
             (x86_reg_read(env, 4, 1) & (CC_S | CC_Z | CC_A | CC_P | CC_C));
        set_flags(env, fl);
        return done(&d);
    case 0x9f:
        x86_reg_write(env, 4, 1, ((uint32_t)env->rflags & 0xd5) | 2);
        return done(&d);
    case 0xa0 ... 0xa3:
        if (op < 0xa2) {
            x86_reg_write(env, R_EAX, size, x86_rm_read(&d, size));
        } else {
            x86_rm_write(&d, size, x86_reg_read(env, R_EAX, size));
        }
        return done(&d);
    case 0xa8:
    case 0xa9:
        fl = env->rflags;
        x86_alu(ALU_AND, x86_reg_read(env, R_EAX, size), d.imm, size, &fl);
        set_flags(env, fl);
        return done(&d);
    case 0xb0 ... 0xb7:
        x86_reg_write(env, op & 7, 1, d.imm);
        return done(&d);
    case 0xb8 ... 0xbf:
        x86_reg_write(env, op & 7, d.opsize, d.imm);
        return done(&d);
    case 0xc0:
    case 0xc1:
        return exec_shift(&d, d.imm & 0xff);
    case 0xc2:
        return exec_ret(&d, d.imm);
    case 0xc3:
        return exec_ret(&d, 0);
    case 0xc4:
        return exec_load_far_ptr(&d, R_ES);
    case 0xc5:
        return exec_load_far_ptr(&d, R_DS);
    case 0xc6:
    case 0xc7:
        if (d.reg != 0) {
            return x86_unknown(&d);
        }
        x86_rm_write(&d, size, d.imm);
        return done(&d);
    case 0xc8:
        return exec_enter(&d);
    case 0xc9:
        return exec_leave(&d);
    case 0xca:
        return x86_far_ret(&d, d.imm, false);
    case 0xcb:
        return x86_far_ret(&d, 0, false);
    case 0xcc:
        return x86_interrupt(&d, 3, false, 0, d.next_ip);
    case 0xcd:
        return x86_interrupt(&d, d.imm & 0xff, false, 0, d.next_ip);
    case 0xce:
        return env->rflags & CC_O ?
               x86_interrupt(&d, 4, false, 0, d.next_ip) : done(&d);
    case 0xcf:
        return x86_far_ret(&d, 0, true);
    case 0xd0:
    case 0xd1:
        return exec_shift(&d, 1);
    case 0xd2:
    case 0xd3:
        return exec_shift(&d, (uint8_t)env->regs[R_ECX]);
    case 0xd7: {
        uint32_t off = x86_reg_read(env, R_EBX, d.addrsize) +
                       (uint8_t)env->regs[R_EAX];

        if (d.addrsize == 2) {
            off &= 0xffff;
        }
        x86_reg_write(env, R_EAX, 1,
                      x86_ld(t, x86_lin(env, d.seg >= 0 ? d.seg : R_DS, off),
                             1));
        return done(&d);
    }
    case 0xe0 ... 0xe3:
        return exec_loop(&d);
    case 0xe8:
        return exec_call_near(&d, d.next_ip + d.imm);
    case 0xe9:
    case 0xeb:
        return exec_jump(&d, d.next_ip + d.imm);
    case 0xea:
        return x86_far_jump(&d, d.imm2, d.imm);
    case 0xe4 ... 0xe7:
    case 0xec ... 0xef:
    case 0xf4:
        return x86_exec_system(&d);
    case 0xf5:
    case 0xf8 ... 0xfd:
        return exec_flags_op(&d);
    case 0xf6:
    case 0xf7:
        return exec_group3(&d);
    case 0xfe:
    case 0xff:
        return exec_group5(&d);
    default:
        return x86_unknown(&d);
    }
}
