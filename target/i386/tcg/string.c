/*
 * string.c: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS, with and without
 * REP/REPE/REPNE.
 *
 * The source is seg:(E)SI (DS unless overridden), the destination
 * ES:(E)DI; (E)CX counts by address size; DF picks the direction.  Each
 * iteration commits its registers before the next begins, so a REP that
 * is interrupted — by a kick, or by a postcopy fault abandoned by one —
 * resumes where it stopped, with EIP still on the instruction, as on
 * hardware.  A REP checks exit_request between iterations so that a long
 * "rep stosb" cannot delay a pause.
 *
 * INS reads its destination byte first: a missing postcopy page must
 * fault before the port is read, since reading a port has side effects
 * and the instruction may be abandoned and re-run.
 */
#include "x86-interp.h"
#include "qemu/atomic.h"

enum { S_MOVS, S_CMPS, S_STOS, S_LODS, S_SCAS, S_INS, S_OUTS };

static int string_kind(uint16_t op)
{
    switch (op & ~1) {
    case 0x6c:
        return S_INS;
    case 0x6e:
        return S_OUTS;
    case 0xa4:
        return S_MOVS;
    case 0xa6:
        return S_CMPS;
    case 0xaa:
        return S_STOS;
    case 0xac:
        return S_LODS;
    default:
        return S_SCAS;
    }
}

/* One iteration; false when REPE/REPNE's condition ends the loop. */
static bool string_once(X86Dec *d, int kind, int size, uint32_t amask)
{
    CPUX86State *env = d->env;
    X86TCGState *t = d->t;
    int src_seg = d->seg >= 0 ? d->seg : R_DS;
    uint32_t si = x86_reg_read(env, R_ESI, d->addrsize);
    uint32_t di = x86_reg_read(env, R_EDI, d->addrsize);
    uint32_t src = x86_lin(env, src_seg, si), dst = x86_lin(env, R_ES, di);
    int32_t delta = env->rflags & DF_MASK ? -size : size;
    uint32_t fl = env->rflags, v;
    bool go_on = true;

    switch (kind) {
    case S_MOVS:
        x86_st(t, dst, x86_ld(t, src, size), size);
        si += delta;
        di += delta;
        break;
    case S_CMPS:
        v = x86_ld(t, src, size);
        x86_alu(ALU_CMP, v, x86_ld(t, dst, size), size, &fl);
        si += delta;
        di += delta;
        break;
    case S_STOS:
        x86_st(t, dst, x86_reg_read(env, R_EAX, size), size);
        di += delta;
        break;
    case S_LODS:
        x86_reg_write(env, R_EAX, size, x86_ld(t, src, size));
        si += delta;
        break;
    case S_SCAS:
        x86_alu(ALU_CMP, x86_reg_read(env, R_EAX, size), x86_ld(t, dst, size),
                size, &fl);
        di += delta;
        break;
    case S_INS:
        (void)x86_ld(t, dst, size);          /* fault before the port */
        x86_st(t, dst, x86_port_in(d, (uint16_t)env->regs[R_EDX], size),
               size);
        di += delta;
        break;
    default:
        v = x86_ld(t, src, size);
        x86_port_out(d, (uint16_t)env->regs[R_EDX], v, size);
        si += delta;
        break;
    }
    x86_reg_write(env, R_ESI, d->addrsize, si & amask);
    x86_reg_write(env, R_EDI, d->addrsize, di & amask);
    if (kind == S_CMPS || kind == S_SCAS) {
        env->rflags = (fl & ~0x8u) | 2;
        if (d->rep == 0xf3) {
            go_on = fl & CC_Z;
        } else if (d->rep == 0xf2) {
            go_on = !(fl & CC_Z);
        }
    }
    return go_on;
}

X86Status x86_string_op(X86Dec *d)
{
    CPUX86State *env = d->env;
    int kind = string_kind(d->op);
    int size = d->op & 1 ? d->opsize : 1;
    uint32_t amask = x86_size_mask(d->addrsize);
    CPUState *cs = &d->t->cpu->parent_obj;
    uint32_t count;

    if (!d->rep) {
        string_once(d, kind, size, amask);
        env->rip = d->next_ip;
        return X86_NEXT;
    }
    count = x86_reg_read(env, R_ECX, d->addrsize);
    while (count) {
        bool go_on = string_once(d, kind, size, amask);

        count--;
        x86_reg_write(env, R_ECX, d->addrsize, count);
        if (!go_on) {
            break;
        }
        if (count && qatomic_read(&cs->exit_request)) {
            return X86_NEXT;            /* EIP still on the instruction */
        }
    }
    env->rip = d->next_ip;
    return X86_NEXT;
}
