/*
 * test-x86-alu: the interpreter's arithmetic against the host CPU.
 *
 * target/i386/tcg/alu.c computes results and EFLAGS with C; here the
 * host (x86-64) executes the very instruction on the same operands and
 * incoming flags, through inline assembly, and both must agree on the
 * result and every flag the architecture defines for that instruction
 * (undefined ones are masked, per instruction, as the SDM states them).
 * Operands: edge values of each width plus pseudo-random pairs from a
 * fixed seed; sizes 8, 16 and 32 bits; CF in and out.
 *
 * Only built and run on x86-64 hosts.
 */
#include "qemu/osdep.h"
#include "target/i386/tcg/x86-interp.h"

#define ARITH (CC_C | CC_P | CC_A | CC_Z | CC_S | CC_O)

/* Runs @insn with EFLAGS = @fin; red zone skipped around push/pop. */
#define FLAGS_IN  "sub $128, %%rsp\n\tpush %[f]\n\tpopf\n\t"
#define FLAGS_OUT "\n\tpushf\n\tpop %[f]\n\tadd $128, %%rsp"

#define HOST_BIN(name, insn)                                                 \
static uint32_t host_##name(uint32_t a, uint32_t b, int size,               \
                            uint32_t *fl)                                    \
{                                                                            \
    unsigned long f = *fl;                                                   \
    if (size == 1) {                                                         \
        uint8_t x = a, y = b;                                                \
        __asm__ volatile(FLAGS_IN insn "b %[y], %[x]" FLAGS_OUT              \
                         : [x] "+q"(x), [f] "+r"(f) : [y] "q"(y)             \
                         : "cc", "memory");                                  \
        a = x;                                                               \
    } else if (size == 2) {                                                  \
        uint16_t x = a, y = b;                                               \
        __asm__ volatile(FLAGS_IN insn "w %[y], %[x]" FLAGS_OUT              \
                         : [x] "+r"(x), [f] "+r"(f) : [y] "r"(y)             \
                         : "cc", "memory");                                  \
        a = x;                                                               \
    } else {                                                                 \
        uint32_t x = a, y = b;                                               \
        __asm__ volatile(FLAGS_IN insn "l %[y], %[x]" FLAGS_OUT              \
                         : [x] "+r"(x), [f] "+r"(f) : [y] "r"(y)             \
                         : "cc", "memory");                                  \
        a = x;                                                               \
    }                                                                        \
    *fl = f;                                                                 \
    return a;                                                                \
}

/* Shifts and rotates by %cl. */
#define HOST_SHIFT(name, insn)                                               \
static uint32_t host_##name(uint32_t a, uint32_t b, int size,               \
                            uint32_t *fl)                                    \
{                                                                            \
    unsigned long f = *fl;                                                   \
    uint8_t c = b;                                                           \
    if (size == 1) {                                                         \
        uint8_t x = a;                                                       \
        __asm__ volatile(FLAGS_IN insn "b %%cl, %[x]" FLAGS_OUT              \
                         : [x] "+q"(x), [f] "+r"(f) : "c"(c)                 \
                         : "cc", "memory");                                  \
        a = x;                                                               \
    } else if (size == 2) {                                                  \
        uint16_t x = a;                                                      \
        __asm__ volatile(FLAGS_IN insn "w %%cl, %[x]" FLAGS_OUT              \
                         : [x] "+r"(x), [f] "+r"(f) : "c"(c)                 \
                         : "cc", "memory");                                  \
        a = x;                                                               \
    } else {                                                                 \
        uint32_t x = a;                                                      \
        __asm__ volatile(FLAGS_IN insn "l %%cl, %[x]" FLAGS_OUT              \
                         : [x] "+r"(x), [f] "+r"(f) : "c"(c)                 \
                         : "cc", "memory");                                  \
        a = x;                                                               \
    }                                                                        \
    *fl = f;                                                                 \
    return a;                                                                \
}

#define HOST_UN(name, insn)                                                  \
static uint32_t host_##name(uint32_t a, uint32_t b, int size,               \
                            uint32_t *fl)                                    \
{                                                                            \
    unsigned long f = *fl;                                                   \
    if (size == 1) {                                                         \
        uint8_t x = a;                                                       \
        __asm__ volatile(FLAGS_IN insn "b %[x]" FLAGS_OUT                    \
                         : [x] "+q"(x), [f] "+r"(f) : : "cc", "memory");     \
        a = x;                                                               \
    } else if (size == 2) {                                                  \
        uint16_t x = a;                                                      \
        __asm__ volatile(FLAGS_IN insn "w %[x]" FLAGS_OUT                    \
                         : [x] "+r"(x), [f] "+r"(f) : : "cc", "memory");     \
        a = x;                                                               \
    } else {                                                                 \
        uint32_t x = a;                                                      \
        __asm__ volatile(FLAGS_IN insn "l %[x]" FLAGS_OUT                    \
                         : [x] "+r"(x), [f] "+r"(f) : : "cc", "memory");     \
        a = x;                                                               \
    }                                                                        \
    *fl = f;                                                                 \
    return a;                                                                \
}

HOST_BIN(add, "add")
HOST_BIN(or, "or")
HOST_BIN(adc, "adc")
HOST_BIN(sbb, "sbb")
HOST_BIN(and, "and")
HOST_BIN(sub, "sub")
HOST_BIN(xor, "xor")
HOST_BIN(cmp, "cmp")
HOST_SHIFT(rol, "rol")
HOST_SHIFT(ror, "ror")
HOST_SHIFT(rcl, "rcl")
HOST_SHIFT(rcr, "rcr")
HOST_SHIFT(shl, "shl")
HOST_SHIFT(shr, "shr")
HOST_SHIFT(sar, "sar")
HOST_UN(inc, "inc")
HOST_UN(dec, "dec")
HOST_UN(neg, "neg")

typedef uint32_t (*HostFn)(uint32_t a, uint32_t b, int size, uint32_t *fl);

static const uint32_t edges[] = {
    0, 1, 2, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x100, 0x7fff, 0x8000, 0x8001,
    0xfffe, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001,
    0xfffffffe, 0xffffffff, 0x12345678, 0xdeadbeef,
};

/* Operand pair @i of the sweep: edges x edges, then random. */
static void operands(GRand *r, unsigned i, uint32_t *a, uint32_t *b)
{
    unsigned n = G_N_ELEMENTS(edges);

    if (i < n * n) {
        *a = edges[i / n];
        *b = edges[i % n];
    } else {
        *a = g_rand_int(r);
        *b = g_rand_int(r);
        /* Small values too, so that results near zero come up. */
        if (i & 1) {
            *b &= 0xff;
        }
    }
}

#define N_PAIRS 3000

static void check(const char *what, int size, uint32_t a, uint32_t b,
                  uint32_t fin, uint32_t want, uint32_t want_fl,
                  uint32_t got, uint32_t got_fl, uint32_t defined)
{
    uint32_t m = x86_size_mask(size);

    if ((want & m) != (got & m) || (want_fl & defined) != (got_fl & defined)) {
        g_test_message("%s size %d a 0x%x b 0x%x flags in 0x%x: host 0x%x "
                       "flags 0x%x, interpreter 0x%x flags 0x%x (compared "
                       "0x%x)", what, size, a, b, fin, want & m,
                       want_fl & defined, got & m, got_fl & defined,
                       defined);
        g_assert_not_reached();
    }
}

static void test_alu(void)
{
    static const HostFn host[8] = {
        host_add, host_or, host_adc, host_sbb, host_and, host_sub, host_xor,
        host_cmp,
    };
    static const char *const names[8] = {
        "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp",
    };
    g_autoptr(GRand) r = g_rand_new_with_seed(16);

    for (int op = 0; op < 8; op++) {
        uint32_t defined = ARITH;

        if (op == ALU_AND || op == ALU_OR || op == ALU_XOR) {
            defined &= ~CC_A;
        }
        for (int size = 1; size <= 4; size *= 2) {
            for (unsigned i = 0; i < N_PAIRS; i++) {
                for (uint32_t cf = 0; cf <= 1; cf++) {
                    uint32_t a, b, hf, tf, want, got;

                    operands(r, i, &a, &b);
                    hf = tf = 0x2 | cf | (i & 1 ? CC_Z | CC_O : CC_S);
                    want = host[op](a, b, size, &hf);
                    got = x86_alu(op, a, b, size, &tf);
                    if (op == ALU_CMP) {
                        want = got = 0;     /* only the flags */
                    }
                    check(names[op], size, a, b, 0x2 | cf, want, hf, got, tf,
                          defined);
                }
            }
        }
    }
}

static void test_incdec_neg(void)
{
    g_autoptr(GRand) r = g_rand_new_with_seed(17);

    for (int size = 1; size <= 4; size *= 2) {
        for (unsigned i = 0; i < N_PAIRS; i++) {
            for (uint32_t cf = 0; cf <= 1; cf++) {
                uint32_t a, b, hf, tf, want, got, fin = 0x2 | cf;

                operands(r, i, &a, &b);
                hf = tf = fin;
                want = host_inc(a, 0, size, &hf);
                got = x86_incdec(false, a, size, &tf);
                check("inc", size, a, 0, fin, want, hf, got, tf, ARITH);
                hf = tf = fin;
                want = host_dec(a, 0, size, &hf);
                got = x86_incdec(true, a, size, &tf);
                check("dec", size, a, 0, fin, want, hf, got, tf, ARITH);
                hf = tf = fin;
                want = host_neg(a, 0, size, &hf);
                got = x86_neg(a, size, &tf);
                check("neg", size, a, 0, fin, want, hf, got, tf, ARITH);
            }
        }
    }
}

static void test_shift(void)
{
    static const HostFn host[8] = {
        host_rol, host_ror, host_rcl, host_rcr, host_shl, host_shr, host_shl,
        host_sar,
    };
    static const char *const names[8] = {
        "rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar",
    };
    g_autoptr(GRand) r = g_rand_new_with_seed(18);

    for (int op = 0; op < 8; op++) {
        for (int size = 1; size <= 4; size *= 2) {
            for (unsigned i = 0; i < N_PAIRS / 4; i++) {
                for (uint32_t count = 0; count < 40; count++) {
                    uint32_t a, b, hf, tf, want, got, defined = ARITH;
                    uint32_t fin = 0x2 | (i & 1) | (i & 2 ? CC_O : 0);
                    uint32_t c = count & 0x1f;

                    operands(r, i, &a, &b);
                    if (c) {
                        defined &= ~CC_A;
                        if (c != 1) {
                            defined &= ~CC_O;
                        }
                        if (op >= SH_SHL && c >= 8u * size) {
                            defined &= ~CC_C;   /* SDM: undefined */
                        }
                    }
                    hf = tf = fin;
                    want = host[op](a, count, size, &hf);
                    got = x86_shift(op, a, count, size, &tf);
                    check(names[op], size, a, count, fin, want, hf, got, tf,
                          defined);
                }
            }
        }
    }
}

/* MUL, IMUL (one operand), DIV, IDIV through AX/DX:AX/EDX:EAX. */
static void host_muldiv(int kind, uint32_t *lo, uint32_t *hi, uint32_t b,
                        int size, uint32_t *fl)
{
    unsigned long f = *fl;

#define MD(insn, sfx, T, bc)                                                 \
    do {                                                                     \
        T x = (T)*lo, y = (T)b, h = (T)*hi;                                  \
        __asm__ volatile(FLAGS_IN insn sfx " %[y]" FLAGS_OUT                 \
                         : "+a"(x), "+d"(h), [f] "+r"(f) : [y] bc(y)         \
                         : "cc", "memory");                                  \
        *lo = x;                                                             \
        *hi = h;                                                             \
    } while (0)
    if (size == 1) {
        /* 8-bit: the dividend and the product are AX. */
        uint16_t ax = (*lo & 0xff) | (*hi & 0xff) << 8;
        uint8_t y = b;
        static const char *const dummy = "";

        (void)dummy;
        switch (kind) {
        case 0:
            __asm__ volatile(FLAGS_IN "mulb %[y]" FLAGS_OUT
                             : "+a"(ax), [f] "+r"(f) : [y] "q"(y)
                             : "cc", "memory");
            break;
        case 1:
            __asm__ volatile(FLAGS_IN "imulb %[y]" FLAGS_OUT
                             : "+a"(ax), [f] "+r"(f) : [y] "q"(y)
                             : "cc", "memory");
            break;
        case 2:
            __asm__ volatile(FLAGS_IN "divb %[y]" FLAGS_OUT
                             : "+a"(ax), [f] "+r"(f) : [y] "q"(y)
                             : "cc", "memory");
            break;
        default:
            __asm__ volatile(FLAGS_IN "idivb %[y]" FLAGS_OUT
                             : "+a"(ax), [f] "+r"(f) : [y] "q"(y)
                             : "cc", "memory");
            break;
        }
        *lo = ax & 0xff;
        *hi = ax >> 8;
    } else if (size == 2) {
        switch (kind) {
        case 0:
            MD("mul", "w", uint16_t, "r");
            break;
        case 1:
            MD("imul", "w", uint16_t, "r");
            break;
        case 2:
            MD("div", "w", uint16_t, "r");
            break;
        default:
            MD("idiv", "w", uint16_t, "r");
            break;
        }
    } else {
        switch (kind) {
        case 0:
            MD("mul", "l", uint32_t, "r");
            break;
        case 1:
            MD("imul", "l", uint32_t, "r");
            break;
        case 2:
            MD("div", "l", uint32_t, "r");
            break;
        default:
            MD("idiv", "l", uint32_t, "r");
            break;
        }
    }
#undef MD
    *fl = f;
}

static void test_muldiv(void)
{
    g_autoptr(GRand) r = g_rand_new_with_seed(19);
    unsigned divs = 0, faults = 0;

    for (int size = 1; size <= 4; size *= 2) {
        uint32_t m = x86_size_mask(size);

        for (unsigned i = 0; i < N_PAIRS; i++) {
            uint32_t a, b, c = g_rand_int(r);

            operands(r, i, &a, &b);
            for (int kind = 0; kind < 2; kind++) {
                uint32_t hlo = a, hhi = 0, hf = 2, tlo, thi, tf = 2;

                host_muldiv(kind, &hlo, &hhi, b, size, &hf);
                x86_mul(kind == 1, a, b, size, &tlo, &thi, &tf);
                check(kind ? "imul" : "mul", size, a, b, 2, hlo, hf, tlo, tf,
                      CC_C | CC_O);
                g_assert_cmphex(hhi & m, ==, thi & m);
            }
            for (int kind = 2; kind < 4; kind++) {
                uint32_t hlo = a, hhi = c & (i & 2 ? 0x3 : m), q, rem;
                uint32_t hf = 2;

                if (!x86_div(kind == 3, hhi, hlo, b, size, &q, &rem)) {
                    /* The host would raise #DE: check why, by hand. */
                    int bits = 8 * size;
                    uint64_t n = ((uint64_t)(hhi & m) << bits) | (hlo & m);

                    if ((b & m) && kind == 2) {
                        g_assert_cmpuint(n / (b & m), >, m);
                    }
                    faults++;
                    continue;
                }
                host_muldiv(kind, &hlo, &hhi, b, size, &hf);
                if ((hlo & m) != q || (hhi & m) != rem) {
                    g_test_message("%s size %d: 0x%x:0x%x / 0x%x: host "
                                   "0x%x r 0x%x, interpreter 0x%x r 0x%x",
                                   kind == 3 ? "idiv" : "div", size,
                                   c, a, b, hlo & m, hhi & m, q, rem);
                    g_assert_not_reached();
                }
                divs++;
            }
        }
    }
    g_test_message("%u divisions compared, %u #DE cases", divs, faults);
    g_assert_cmpuint(divs, >, 1000);
    g_assert_cmpuint(faults, >, 100);
}

/* Two-operand IMUL, BT*, BSF/BSR, SHLD/SHRD (16 and 32 bits). */
static void test_misc(void)
{
    g_autoptr(GRand) r = g_rand_new_with_seed(20);

    for (int size = 2; size <= 4; size *= 2) {
        for (unsigned i = 0; i < N_PAIRS; i++) {
            uint32_t a, b, hf, tf, want, got;
            uint8_t c = g_rand_int(r) % (size == 2 ? 17 : 32);

            operands(r, i, &a, &b);
            hf = tf = 2;
            if (size == 2) {
                uint16_t x = a, y = b;
                unsigned long f = hf;

                __asm__ volatile(FLAGS_IN "imulw %[y], %[x]" FLAGS_OUT
                                 : [x] "+r"(x), [f] "+r"(f) : [y] "r"(y)
                                 : "cc", "memory");
                want = x;
                hf = f;
            } else {
                uint32_t x = a, y = b;
                unsigned long f = hf;

                __asm__ volatile(FLAGS_IN "imull %[y], %[x]" FLAGS_OUT
                                 : [x] "+r"(x), [f] "+r"(f) : [y] "r"(y)
                                 : "cc", "memory");
                want = x;
                hf = f;
            }
            got = x86_imul_trunc(a, b, size, &tf);
            check("imul2", size, a, b, 2, want, hf, got, tf, CC_C | CC_O);

            for (int op = 0; op < 4; op++) {
                unsigned long f = 2 | (i & 1);
                uint32_t x = a;

                tf = f;
                if (size == 4) {
                    switch (op) {
                    case 0:
                        __asm__ volatile(FLAGS_IN "btl %[y], %[x]" FLAGS_OUT
                                         : [x] "+r"(x), [f] "+r"(f)
                                         : [y] "r"(b) : "cc", "memory");
                        break;
                    case 1:
                        __asm__ volatile(FLAGS_IN "btsl %[y], %[x]" FLAGS_OUT
                                         : [x] "+r"(x), [f] "+r"(f)
                                         : [y] "r"(b) : "cc", "memory");
                        break;
                    case 2:
                        __asm__ volatile(FLAGS_IN "btrl %[y], %[x]" FLAGS_OUT
                                         : [x] "+r"(x), [f] "+r"(f)
                                         : [y] "r"(b) : "cc", "memory");
                        break;
                    default:
                        __asm__ volatile(FLAGS_IN "btcl %[y], %[x]" FLAGS_OUT
                                         : [x] "+r"(x), [f] "+r"(f)
                                         : [y] "r"(b) : "cc", "memory");
                        break;
                    }
                    got = x86_bt(op, a, b, 4, &tf);
                    check("bt", 4, a, b, 2, x, f, got, tf, CC_C);
                }
            }

            {
                uint32_t x = b | 0x5a5a0000u, old = x;
                unsigned long f = 2;

                if (size == 4) {
                    __asm__ volatile(FLAGS_IN "bsrl %[y], %[x]" FLAGS_OUT
                                     : [x] "+r"(x), [f] "+r"(f)
                                     : [y] "r"(a) : "cc", "memory");
                } else {
                    uint16_t x16 = x, a16 = a;

                    __asm__ volatile(FLAGS_IN "bsfw %[y], %[x]" FLAGS_OUT
                                     : [x] "+r"(x16), [f] "+r"(f)
                                     : [y] "r"(a16) : "cc", "memory");
                    x = x16;
                }
                tf = 2;
                got = x86_bsf_bsr(size == 4, a, old, size, &tf);
                check(size == 4 ? "bsr" : "bsf", size, a, 0, 2, x, f, got,
                      tf, CC_Z);
            }

            for (int right = 0; right <= 1; right++) {
                unsigned long f = 2;
                uint32_t defined = CC_C | CC_P | CC_Z | CC_S;

                if (c == 1) {
                    defined |= CC_O;
                }
                if (c == 0) {
                    defined = ARITH;
                }
                if (size == 2) {
                    uint16_t x = a, y = b;

                    if (right) {
                        __asm__ volatile(FLAGS_IN "shrdw %%cl, %[y], %[x]"
                                         FLAGS_OUT
                                         : [x] "+r"(x), [f] "+r"(f)
                                         : [y] "r"(y), "c"(c)
                                         : "cc", "memory");
                    } else {
                        __asm__ volatile(FLAGS_IN "shldw %%cl, %[y], %[x]"
                                         FLAGS_OUT
                                         : [x] "+r"(x), [f] "+r"(f)
                                         : [y] "r"(y), "c"(c)
                                         : "cc", "memory");
                    }
                    want = x;
                } else {
                    uint32_t x = a;

                    if (right) {
                        __asm__ volatile(FLAGS_IN "shrdl %%cl, %[y], %[x]"
                                         FLAGS_OUT
                                         : [x] "+r"(x), [f] "+r"(f)
                                         : [y] "r"(b), "c"(c)
                                         : "cc", "memory");
                    } else {
                        __asm__ volatile(FLAGS_IN "shldl %%cl, %[y], %[x]"
                                         FLAGS_OUT
                                         : [x] "+r"(x), [f] "+r"(f)
                                         : [y] "r"(b), "c"(c)
                                         : "cc", "memory");
                    }
                    want = x;
                }
                tf = 2;
                got = x86_shiftd(right, a, b, c, size, &tf);
                check(right ? "shrd" : "shld", size, a, b, c, want, f, got,
                      tf, defined);
            }
        }
    }
}

/* Jcc/SETcc conditions against SETcc on the host, for every flag set. */
static void test_cond(void)
{
    for (uint32_t bits = 0; bits < 32; bits++) {
        uint32_t fl = 2 | (bits & 1 ? CC_C : 0) | (bits & 2 ? CC_Z : 0) |
                      (bits & 4 ? CC_S : 0) | (bits & 8 ? CC_O : 0) |
                      (bits & 16 ? CC_P : 0);
        uint8_t h[16];
        unsigned long f = fl;

        __asm__ volatile(FLAGS_IN
                         "seto 0(%[h])\n\tsetno 1(%[h])\n\t"
                         "setb 2(%[h])\n\tsetae 3(%[h])\n\t"
                         "sete 4(%[h])\n\tsetne 5(%[h])\n\t"
                         "setbe 6(%[h])\n\tseta 7(%[h])\n\t"
                         "sets 8(%[h])\n\tsetns 9(%[h])\n\t"
                         "setp 10(%[h])\n\tsetnp 11(%[h])\n\t"
                         "setl 12(%[h])\n\tsetge 13(%[h])\n\t"
                         "setle 14(%[h])\n\tsetg 15(%[h])"
                         FLAGS_OUT
                         : [f] "+r"(f) : [h] "r"(h) : "cc", "memory");
        for (int cc = 0; cc < 16; cc++) {
            g_assert_cmpint(h[cc], ==, x86_cond(cc, fl));
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/x86/alu/add-sub-logic", test_alu);
    g_test_add_func("/x86/alu/inc-dec-neg", test_incdec_neg);
    g_test_add_func("/x86/alu/shift-rotate", test_shift);
    g_test_add_func("/x86/alu/mul-div", test_muldiv);
    g_test_add_func("/x86/alu/imul-bt-bsf-shld", test_misc);
    g_test_add_func("/x86/alu/conditions", test_cond);
    return g_test_run();
}
