/*
 * x86-interp.h: the x86 interpreter's private interface (target/i386/tcg).
 *
 * One X86TCGState per vCPU, owned by its "CPU N/TCG" thread: nothing in
 * it is touched by another thread, except @in_ram, which the kick signal's
 * handler reads in that same thread.  The architectural state is the
 * CPUX86State that KVM and migration use; the interpreter keeps nothing
 * of the guest's anywhere else, so pausing needs no synchronisation step.
 *
 * An instruction runs in two phases: decode (prefixes, opcode, ModRM/SIB,
 * displacement, immediates into an X86Dec) and execute.  The rule that
 * makes a kick during a postcopy fault safe: an instruction commits
 * registers, flags and EIP only after its last guest-memory access that
 * may fault, and it does port I/O only after every such access (INS
 * probes its destination first).  Abandoning it inside a RAM access
 * therefore leaves the vCPU exactly before the instruction; memory it
 * already wrote is written again, with the same values, when it re-runs.
 *
 * Files: decode.c (decoder, one-byte opcodes), alu.c (arithmetic and
 * flags, pure functions), string.c (string instructions and REP),
 * system.c (two-byte opcodes, segments, far transfers, interrupts and
 * exceptions, control registers, CPUID, TSC, MSRs, port I/O), mem.c
 * (guest memory and the dirty log), tcg-cpu.c (slices, kicks, migration
 * hooks, the internal-error report).
 */
#ifndef TARGET_I386_TCG_X86_INTERP_H
#define TARGET_I386_TCG_X86_INTERP_H

#include "qemu/osdep.h"
#include "target/i386/cpu.h"
#include <setjmp.h>
#include <signal.h>

/* EFLAGS bits. */
#define CC_C    0x0001u
#define CC_P    0x0004u
#define CC_A    0x0010u
#define CC_Z    0x0040u
#define CC_S    0x0080u
#define CC_O    0x0800u
#define CC_ALL  (CC_C | CC_P | CC_A | CC_Z | CC_S | CC_O)
#define TF_MASK 0x0100u
#define IF_MASK 0x0200u
#define DF_MASK 0x0400u
#define IOPL_MASK 0x3000u
#define NT_MASK 0x4000u
#define AC_MASK 0x40000u
#define ID_MASK 0x200000u

#define CR0_PE  0x1u
#define CR0_PG  0x80000000u

/* Exception vectors the interpreter raises. */
#define EXCP_DE 0
#define EXCP_UD 6
#define EXCP_DF 8
#define EXCP_GP 13

enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };

/* ALU operations, in the order of the opcode's reg field (group 1). */
enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR,
       ALU_CMP };
/* Shift group 2, in reg-field order (6, "SAL", is SHL). */
enum { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR };
/* Bit tests (0F A3/AB/B3/BB, and 0F BA /4-/7 minus 4). */
enum { BT_BT, BT_BTS, BT_BTR, BT_BTC };

/* ---- alu.c: pure functions, flags in and out as EFLAGS ---- */

static inline uint32_t x86_size_mask(int size)
{
    return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static inline int32_t x86_sext(uint32_t v, int size)
{
    return size == 1 ? (int8_t)v : size == 2 ? (int16_t)v : (int32_t)v;
}

/* The result of @op on the low @size bytes; CMP returns the difference. */
uint32_t x86_alu(int op, uint32_t a, uint32_t b, int size, uint32_t *fl);
uint32_t x86_incdec(bool dec, uint32_t a, int size, uint32_t *fl);
uint32_t x86_neg(uint32_t a, int size, uint32_t *fl);
/* @count is the raw count; it is masked to 5 bits here, as the CPU does. */
uint32_t x86_shift(int op, uint32_t a, uint32_t count, int size,
                   uint32_t *fl);
/* SHLD/SHRD: @a shifted with bits from @b. */
uint32_t x86_shiftd(bool right, uint32_t a, uint32_t b, uint32_t count,
                    int size, uint32_t *fl);
/* One-operand MUL/IMUL: the double-width product in *hi:*lo. */
void x86_mul(bool is_signed, uint32_t a, uint32_t b, int size,
             uint32_t *lo, uint32_t *hi, uint32_t *fl);
/* Two/three-operand IMUL: the truncated product. */
uint32_t x86_imul_trunc(uint32_t a, uint32_t b, int size, uint32_t *fl);
/* DIV/IDIV of @hi:@lo by @b; false on #DE (zero divisor, overflow). */
bool x86_div(bool is_signed, uint32_t hi, uint32_t lo, uint32_t b,
             int size, uint32_t *quot, uint32_t *rem);
uint32_t x86_bt(int op, uint32_t a, uint32_t bit, int size, uint32_t *fl);
/* BSF/BSR; if @a is 0 returns @old with ZF set. */
uint32_t x86_bsf_bsr(bool reverse, uint32_t a, uint32_t old, int size,
                     uint32_t *fl);
/* The condition of Jcc/SETcc/CMOVcc number @cc (0-15). */
bool x86_cond(int cc, uint32_t fl);
/* PF of the low byte of @r, ZF and SF of the @size-byte @r. */
uint32_t x86_flags_szp(uint32_t r, int size);

/* ---- per-vCPU interpreter state ---- */

#define X86_DIRTY_MAX 64

/* pagemap entries: a host page address | X86_PAGE_RAM, or these. */
#define X86_PAGE_UNKNOWN 0u
#define X86_PAGE_IO      1u
#define X86_PAGE_RAM     2u
#define X86_PAGEMAP_ENTRIES (1u << 20)      /* 4 GiB of guest physical */

typedef struct X86TCGState {
    X86CPU *cpu;
    CPUX86State *env;
    /* Guest physical page -> host page; filled on first touch. */
    uintptr_t *pagemap;
    /*
     * Host pages written since the last flush, marked in their blocks'
     * dirty logs (after the stores: a harvest in between sees the bit
     * later, never the old bytes without the bit) at the end of each
     * slice or when full.
     */
    uintptr_t dirty[X86_DIRTY_MAX];
    unsigned ndirty;
    /*
     * 1 while the thread is inside a guest RAM access (or decoding):
     * the only place a kick may abandon the current instruction.
     */
    volatile sig_atomic_t in_ram;
    sigjmp_buf kick_jmp;
    bool jmp_valid;
    int64_t tsc_offset;         /* guest TSC = host ns + tsc_offset */
    uint64_t insns;             /* executed, for traces and the bench */
    char *error;                /* why the vCPU stopped (report) */
} X86TCGState;

static inline X86TCGState *x86_tcg(CPUX86State *env)
{
    return container_of(env, X86CPU, env)->tcg;
}

/* ---- decode.c ---- */

typedef struct X86Dec {
    X86TCGState *t;
    CPUX86State *env;
    uint32_t ip;                /* offset of the instruction in CS */
    uint32_t next_ip;           /* offset after it */
    uint32_t end_lin;           /* linear address of @end */
    const uint8_t *p, *end;     /* fetchable bytes of the current page */
    uint8_t len;
    uint8_t opsize, addrsize;   /* 2 or 4 */
    int8_t seg;                 /* segment override, or -1 */
    uint8_t rep;                /* 0, 0xf2 or 0xf3 */
    uint16_t op;                /* 0x00-0xff, 0x100 | second byte for 0F */
    uint8_t mod, reg, rm;
    bool ea_mem;                /* the ModRM operand is in memory */
    uint8_t ea_seg;
    uint32_t ea;                /* its offset in ea_seg */
    uint32_t imm, imm2;
    uint8_t exc_depth;          /* nested exception deliveries */
} X86Dec;

typedef enum X86Status {
    X86_NEXT,           /* done; go on */
    X86_HALT,           /* HLT */
    X86_BREAK,          /* done; leave the slice (a device asked) */
    X86_UNKNOWN,        /* unknown instruction: internal error */
    X86_ERROR,          /* other internal error (t->error says) */
    X86_SHUTDOWN,       /* triple fault */
} X86Status;

/* Decodes and executes one instruction at CS:EIP. */
X86Status x86_step(X86TCGState *t);

static inline uint32_t x86_reg_read(CPUX86State *env, int r, int size)
{
    if (size == 1) {
        return r < 4 ? (uint8_t)env->regs[r] : (uint8_t)(env->regs[r - 4] >> 8);
    }
    return size == 2 ? (uint16_t)env->regs[r] : (uint32_t)env->regs[r];
}

static inline void x86_reg_write(CPUX86State *env, int r, int size,
                                 uint32_t v)
{
    if (size == 1) {
        if (r < 4) {
            env->regs[r] = (env->regs[r] & ~0xffull) | (uint8_t)v;
        } else {
            env->regs[r - 4] = (env->regs[r - 4] & ~0xff00ull) |
                               ((uint64_t)(uint8_t)v << 8);
        }
    } else if (size == 2) {
        env->regs[r] = (env->regs[r] & ~0xffffull) | (uint16_t)v;
    } else {
        env->regs[r] = v;
    }
}

/* Stack pointer width from SS.B. */
static inline int x86_stack_size(CPUX86State *env)
{
    return env->segs[R_SS].flags & DESC_B_MASK ? 4 : 2;
}

static inline uint32_t x86_lin(CPUX86State *env, int seg, uint32_t off)
{
    return (uint32_t)env->segs[seg].base + off;
}

/* Reads/writes the ModRM operand (register or memory). */
uint32_t x86_rm_read(X86Dec *d, int size);
void x86_rm_write(X86Dec *d, int size, uint32_t v);
/* Stack: push/pop without committing ESP; the caller commits. */
void x86_push_at(X86Dec *d, uint32_t *sp, uint32_t v, int size);
uint32_t x86_pop_at(X86Dec *d, uint32_t *sp, int size);
void x86_set_sp(CPUX86State *env, uint32_t sp);
uint32_t x86_get_sp(CPUX86State *env);
X86Status x86_unknown(X86Dec *d);

/* ---- string.c ---- */
X86Status x86_string_op(X86Dec *d);

/* ---- system.c ---- */
X86Status x86_step_0f(X86Dec *d);
X86Status x86_exec_system(X86Dec *d);
/* Delivers exception/interrupt @vec; @next is the return EIP. */
X86Status x86_interrupt(X86Dec *d, int vec, bool has_err, uint32_t err,
                        uint32_t next);
X86Status x86_load_seg(X86Dec *d, int seg, uint16_t sel);
/* Far JMP/CALL to @sel:@off (CS committed). */
X86Status x86_far_jump(X86Dec *d, uint16_t sel, uint32_t off);
X86Status x86_far_call(X86Dec *d, uint16_t sel, uint32_t off);
X86Status x86_far_ret(X86Dec *d, uint16_t extra, bool iret);
uint32_t x86_port_in(X86Dec *d, uint16_t port, int size);
void x86_port_out(X86Dec *d, uint16_t port, uint32_t v, int size);
uint64_t x86_tsc_read(X86TCGState *t);
void x86_cpuid(CPUX86State *env, uint32_t leaf, uint32_t sub, uint32_t r[4]);

/* ---- mem.c ---- */
bool x86_mem_init(X86TCGState *t, Error **errp);
void x86_mem_fini(X86TCGState *t);
uint32_t x86_ld_slow(X86TCGState *t, uint32_t lin, int size);
void x86_st_slow(X86TCGState *t, uint32_t lin, uint32_t v, int size);
uintptr_t x86_page_fill(X86TCGState *t, uint32_t lin);
void x86_dirty_record_slow(X86TCGState *t, uintptr_t hpage);
/* Marks the recorded pages in the dirty logs (if logging is on). */
void x86_dirty_flush(X86TCGState *t);
/* A host pointer to @len bytes at @lin within one RAM page, or NULL. */
static inline uint8_t *x86_ram_ptr(X86TCGState *t, uint32_t lin, int len)
{
    uintptr_t e = t->pagemap[lin >> 12];

    if (unlikely(e == X86_PAGE_UNKNOWN)) {
        e = x86_page_fill(t, lin);
    }
    if (unlikely(!(e & X86_PAGE_RAM) ||
                 (lin & 0xfff) + (uint32_t)len > 0x1000)) {
        return NULL;
    }
    return (uint8_t *)(e & ~(uintptr_t)0xfff) + (lin & 0xfff);
}

static inline void x86_ram_enter(X86TCGState *t)
{
    t->in_ram = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void x86_ram_leave(X86TCGState *t)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->in_ram = 0;
}

static inline uint32_t x86_ld(X86TCGState *t, uint32_t lin, int size)
{
    uint8_t *p = x86_ram_ptr(t, lin, size);
    uint32_t v = 0;

    if (unlikely(!p)) {
        return x86_ld_slow(t, lin, size);
    }
    x86_ram_enter(t);
    memcpy(&v, p, size);        /* little-endian host */
    x86_ram_leave(t);
    return v;
}

static inline void x86_dirty_record(X86TCGState *t, uint8_t *p)
{
    uintptr_t hpage = (uintptr_t)p & ~(uintptr_t)0xfff;

    if (likely(t->ndirty && t->dirty[t->ndirty - 1] == hpage)) {
        return;
    }
    x86_dirty_record_slow(t, hpage);
}

static inline void x86_st(X86TCGState *t, uint32_t lin, uint32_t v,
                          int size)
{
    uint8_t *p = x86_ram_ptr(t, lin, size);

    if (unlikely(!p)) {
        x86_st_slow(t, lin, v, size);
        return;
    }
    x86_ram_enter(t);
    memcpy(p, &v, size);
    x86_ram_leave(t);
    x86_dirty_record(t, p);
}

/* ---- tcg-cpu.c ---- */
/* The QEMU-style register dump of an internal error, into @s. */
void x86_tcg_dump_state(X86TCGState *t, GString *s);

#endif
