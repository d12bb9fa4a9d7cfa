/*
 * alu.c: x86 arithmetic, logic, shifts and their flags.
 *
 * Pure functions of their operands and the incoming EFLAGS, so that
 * tests/unit/test-x86-alu.c can run each against the host CPU executing
 * the same instruction, for 8, 16 and 32-bit operands.  Flags are
 * computed eagerly: the interpreter has no lazy condition codes, which
 * keeps the state that migrates (EFLAGS in CPUX86State) always exact.
 *
 * Where the architecture leaves a flag undefined (AF after logic ops and
 * shifts, OF after multi-bit shifts, SF/ZF/AF/PF after MUL, all of them
 * after DIV) we produce what a reasonable CPU does but tests do not
 * compare it; the flags nobody defines are never relied on by guests.
 */
#include "x86-interp.h"

static inline uint32_t sign_bit(int size)
{
    return 1u << (8 * size - 1);
}

uint32_t x86_flags_szp(uint32_t r, int size)
{
    uint32_t f = 0;

    r &= x86_size_mask(size);
    if (r == 0) {
        f |= CC_Z;
    }
    if (r & sign_bit(size)) {
        f |= CC_S;
    }
    if (!__builtin_parity(r & 0xff)) {
        f |= CC_P;
    }
    return f;
}

uint32_t x86_alu(int op, uint32_t a, uint32_t b, int size, uint32_t *fl)
{
    uint32_t m = x86_size_mask(size), sb = sign_bit(size);
    uint32_t cin = *fl & CC_C;
    uint32_t r, f = 0;

    a &= m;
    b &= m;
    switch (op) {
    case ALU_ADD:
    case ALU_ADC:
        if (op == ALU_ADD) {
            cin = 0;
        }
        r = (a + b + cin) & m;
        if (cin ? r <= a : r < a) {
            f |= CC_C;
        }
        if ((a ^ r) & (b ^ r) & sb) {
            f |= CC_O;
        }
        f |= (a ^ b ^ r) & CC_A;
        break;
    case ALU_SUB:
    case ALU_CMP:
    case ALU_SBB:
        if (op != ALU_SBB) {
            cin = 0;
        }
        r = (a - b - cin) & m;
        if (cin ? a <= b : a < b) {
            f |= CC_C;
        }
        if ((a ^ b) & (a ^ r) & sb) {
            f |= CC_O;
        }
        f |= (a ^ b ^ r) & CC_A;
        break;
    case ALU_AND:
        r = a & b;
        break;
    case ALU_OR:
        r = a | b;
        break;
    default:
        r = a ^ b;
        break;
    }
    *fl = (*fl & ~CC_ALL) | f | x86_flags_szp(r, size);
    return r;
}

uint32_t x86_incdec(bool dec, uint32_t a, int size, uint32_t *fl)
{
    uint32_t cf = *fl & CC_C;
    uint32_t r = x86_alu(dec ? ALU_SUB : ALU_ADD, a, 1, size, fl);

    *fl = (*fl & ~CC_C) | cf;       /* INC/DEC keep CF */
    return r;
}

uint32_t x86_neg(uint32_t a, int size, uint32_t *fl)
{
    return x86_alu(ALU_SUB, 0, a, size, fl);
}

uint32_t x86_shift(int op, uint32_t a, uint32_t count, int size,
                   uint32_t *fl)
{
    int bits = 8 * size;
    uint32_t m = x86_size_mask(size), sb = sign_bit(size);
    uint32_t c = count & 0x1f, r, f = *fl, cf;

    a &= m;
    if (c == 0) {
        return a;                   /* flags unaffected */
    }
    switch (op) {
    case SH_ROL:
        c %= bits;
        r = c ? ((a << c) | (a >> (bits - c))) & m : a;
        cf = r & 1;
        f = (f & ~(CC_C | CC_O)) | cf |
            ((!!(r & sb) ^ cf) ? CC_O : 0);
        *fl = f;
        return r;
    case SH_ROR:
        c %= bits;
        r = c ? ((a >> c) | (a << (bits - c))) & m : a;
        cf = !!(r & sb);
        f = (f & ~(CC_C | CC_O)) | cf |
            (((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1 ? CC_O : 0);
        *fl = f;
        return r;
    case SH_RCL: {
        uint64_t wide = ((uint64_t)(f & CC_C) << bits) | a;
        unsigned n = c % (bits + 1);

        if (n == 0) {
            return a;
        }
        wide = ((wide << n) | (wide >> (bits + 1 - n))) &
               ((2ull << bits) - 1);
        r = wide & m;
        cf = (wide >> bits) & 1;
        f = (f & ~(CC_C | CC_O)) | cf | ((!!(r & sb) ^ cf) ? CC_O : 0);
        *fl = f;
        return r;
    }
    case SH_RCR: {
        uint64_t wide = ((uint64_t)(f & CC_C) << bits) | a;
        unsigned n = c % (bits + 1);
        uint32_t of = (!!(a & sb) ^ (f & CC_C)) ? CC_O : 0;

        if (n == 0) {
            return a;
        }
        wide = ((wide >> n) | (wide << (bits + 1 - n))) &
               ((2ull << bits) - 1);
        r = wide & m;
        cf = (wide >> bits) & 1;
        *fl = (f & ~(CC_C | CC_O)) | cf | of;
        return r;
    }
    case SH_SHL:
    case SH_SAL:
        r = c < 32 ? (a << c) & m : 0;
        cf = c <= (uint32_t)bits ? (a >> (bits - c)) & 1 : 0;
        f = cf | (((!!(r & sb)) ^ cf) ? CC_O : 0);
        break;
    case SH_SHR:
        r = a >> c;
        cf = (a >> (c - 1)) & 1;
        f = cf | ((a & sb) ? CC_O : 0);
        break;
    default: {                       /* SH_SAR */
        int32_t s = x86_sext(a, size);

        r = (uint32_t)(s >> c) & m;
        cf = (uint32_t)(s >> (c - 1)) & 1;
        f = cf;
        break;
    }
    }
    *fl = (*fl & ~CC_ALL) | f | x86_flags_szp(r, size);
    return r;
}

uint32_t x86_shiftd(bool right, uint32_t a, uint32_t b, uint32_t count,
                    int size, uint32_t *fl)
{
    int bits = 8 * size;
    uint32_t m = x86_size_mask(size), sb = sign_bit(size);
    uint32_t c = count & 0x1f, r, cf;
    uint64_t wide;

    a &= m;
    b &= m;
    if (c == 0) {
        return a;
    }
    if (right) {
        wide = ((uint64_t)b << bits) | a;
        r = (wide >> c) & m;
        cf = (wide >> (c - 1)) & 1;
    } else {
        /* (16-bit counts above 16 are undefined: shifted in as zero.) */
        wide = (((uint64_t)a << bits) | b) << c;
        r = (wide >> bits) & m;
        cf = c <= (uint32_t)bits ? (a >> (bits - c)) & 1 :
             (b >> (2 * bits - c)) & 1;
    }
    *fl = (*fl & ~CC_ALL) | cf | x86_flags_szp(r, size) |
          (((r ^ a) & sb) ? CC_O : 0);
    return r;
}

void x86_mul(bool is_signed, uint32_t a, uint32_t b, int size,
             uint32_t *lo, uint32_t *hi, uint32_t *fl)
{
    int bits = 8 * size;
    uint32_t m = x86_size_mask(size);
    uint64_t p;
    bool over;

    if (is_signed) {
        int64_t sp = (int64_t)x86_sext(a, size) * x86_sext(b, size);

        p = (uint64_t)sp;
        over = sp != x86_sext((uint32_t)sp, size);
    } else {
        p = (uint64_t)(a & m) * (b & m);
        over = (p >> bits) != 0;
    }
    *lo = p & m;
    *hi = (p >> bits) & m;
    *fl = (*fl & ~CC_ALL) | (over ? CC_C | CC_O : 0) |
          x86_flags_szp(*lo, size);
}

uint32_t x86_imul_trunc(uint32_t a, uint32_t b, int size, uint32_t *fl)
{
    uint32_t lo, hi;

    x86_mul(true, a, b, size, &lo, &hi, fl);
    return lo;
}

bool x86_div(bool is_signed, uint32_t hi, uint32_t lo, uint32_t b,
             int size, uint32_t *quot, uint32_t *rem)
{
    int bits = 8 * size;
    uint32_t m = x86_size_mask(size);
    uint64_t n = ((uint64_t)(hi & m) << bits) | (lo & m);

    b &= m;
    if (b == 0) {
        return false;
    }
    if (is_signed) {
        int64_t sn = size == 4 ? (int64_t)n :
                     (int64_t)(n << (64 - 2 * bits)) >> (64 - 2 * bits);
        int64_t sd = x86_sext(b, size), q, r;

        if (sn == INT64_MIN && sd == -1) {
            return false;
        }
        q = sn / sd;
        r = sn % sd;
        if (q != x86_sext((uint32_t)q, size)) {
            return false;
        }
        *quot = (uint32_t)q & m;
        *rem = (uint32_t)r & m;
    } else {
        uint64_t q = n / b;

        if (q > m) {
            return false;
        }
        *quot = q;
        *rem = n % b;
    }
    return true;
}

uint32_t x86_bt(int op, uint32_t a, uint32_t bit, int size, uint32_t *fl)
{
    uint32_t mask = 1u << (bit & (8 * size - 1));

    *fl = (*fl & ~CC_C) | ((a & mask) ? CC_C : 0);
    switch (op) {
    case BT_BTS:
        return a | mask;
    case BT_BTR:
        return a & ~mask;
    case BT_BTC:
        return a ^ mask;
    default:
        return a;
    }
}

uint32_t x86_bsf_bsr(bool reverse, uint32_t a, uint32_t old, int size,
                     uint32_t *fl)
{
    a &= x86_size_mask(size);
    if (a == 0) {
        *fl |= CC_Z;
        return old;
    }
    *fl &= ~CC_Z;
    return reverse ? 31 - __builtin_clz(a) : __builtin_ctz(a);
}

bool x86_cond(int cc, uint32_t fl)
{
    bool r;

    switch (cc >> 1) {
    case 0:
        r = fl & CC_O;
        break;
    case 1:
        r = fl & CC_C;
        break;
    case 2:
        r = fl & CC_Z;
        break;
    case 3:
        r = fl & (CC_C | CC_Z);
        break;
    case 4:
        r = fl & CC_S;
        break;
    case 5:
        r = fl & CC_P;
        break;
    case 6:
        r = !(fl & CC_S) != !(fl & CC_O);
        break;
    default:
        r = (fl & CC_Z) || (!(fl & CC_S) != !(fl & CC_O));
        break;
    }
    return r ^ (cc & 1);
}
