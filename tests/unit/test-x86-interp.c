/*
 * test-x86-interp: the interpreter's decoder and executor on programs in
 * guest RAM, in-process (no vCPU thread, no QMP).
 *
 * Small hand-assembled real-mode programs check one area each (string
 * instructions with REP, calls and the stack, interrupts through the IVT
 * and #DE, port I/O to a device, 32-bit operands in 16-bit code, the stop
 * on an unknown instruction and on paging); then the migration test guest
 * itself (a-b-bootblock.img) runs from its first instruction through the
 * switch to protected mode and two passes of its memory loop, and its
 * memory invariant and counters are checked.
 */
#include "qemu/osdep.h"
#include "exec/memory.h"
#include "qemu/main-loop.h"
#include "sysemu/tcg.h"
#include "target/i386/tcg/x86-interp.h"

#define RAM_SIZE    (128u << 20)
#define CODE        0x7c00

static RAMBlock *rb;
static MemoryRegion ram, port80;
static X86CPU *cpu;
static X86TCGState *t;
static uint32_t port80_written, port80_writes;

static uint64_t port80_read(void *opaque, hwaddr addr, unsigned size)
{
    g_assert_true(bql_locked());        /* devices run under the BQL */
    return 0x77;
}

static void port80_write(void *opaque, hwaddr addr, uint64_t val,
                         unsigned size)
{
    g_assert_true(bql_locked());
    port80_written = val;
    port80_writes++;
}

static const MemoryRegionOps port80_ops = {
    .read = port80_read,
    .write = port80_write,
};

static void machine_setup(void)
{
    qemu_main_loop_init();
    bql_unlock();               /* the interpreter takes it for devices */
    rb = qemu_ram_alloc_anon("pc.ram", RAM_SIZE, false, &error_abort);
    memory_region_init_ram_from_block(&ram, "pc.ram", rb);
    g_assert_true(address_space_map_region(&address_space_memory, 0, &ram,
                                           &error_abort));
    memory_region_init_io(&port80, "port80", &port80_ops, NULL, 1);
    g_assert_true(address_space_map_region(&address_space_io, 0x80, &port80,
                                           &error_abort));
    cpu = g_new0(X86CPU, 1);
    g_assert_true(tcg_arch_init_vcpu(&cpu->parent_obj, &error_abort));
    t = cpu->tcg;
}

/* Boot state, @code at 0000:7c00; runs until HLT or another stop. */
static X86Status run(const uint8_t *code, size_t len, int max_steps)
{
    X86Status st = X86_NEXT;

    x86_cpu_reset_boot_sector(cpu, 0x80);
    address_space_write(&address_space_memory, CODE, code, len);
    for (int i = 0; i < max_steps && st == X86_NEXT; i++) {
        st = x86_step(t);
    }
    return st;
}

static uint32_t reg(int r)
{
    return (uint32_t)cpu->env.regs[r];
}

static void test_rep_strings(void)
{
    static const uint8_t movs[] = {
        0xbe, 0x00, 0x10,               /* mov $0x1000, %si */
        0xbf, 0x00, 0x20,               /* mov $0x2000, %di */
        0xb9, 0x05, 0x00,               /* mov $5, %cx */
        0xfc,                           /* cld */
        0xf3, 0xa4,                     /* rep movsb */
        0xb8, 0xcd, 0xab,               /* mov $0xabcd, %ax */
        0xbf, 0x00, 0x30,               /* mov $0x3000, %di */
        0xb9, 0x03, 0x00,               /* mov $3, %cx */
        0xf3, 0xab,                     /* rep stosw */
        0xbf, 0x00, 0x10,               /* mov $0x1000, %di */
        0xb0, 0x6c,                     /* mov $'l', %al */
        0xb9, 0x0a, 0x00,               /* mov $10, %cx */
        0xf2, 0xae,                     /* repne scasb */
        0xf4,                           /* hlt */
    };
    char buf[8] = { 0 };
    uint16_t w[4] = { 0 };

    address_space_write(&address_space_memory, 0x1000, "hello", 5);
    g_assert_cmpint(run(movs, sizeof(movs), 100), ==, X86_HALT);
    address_space_read(&address_space_memory, 0x2000, buf, 5);
    g_assert_cmpstr(buf, ==, "hello");
    address_space_read(&address_space_memory, 0x3000, w, 8);
    g_assert_cmphex(w[0], ==, 0xabcd);
    g_assert_cmphex(w[2], ==, 0xabcd);
    g_assert_cmphex(w[3], ==, 0);
    /* "l" found at 0x1002: DI one past it, 3 iterations done. */
    g_assert_cmphex(reg(R_EDI), ==, 0x1003);
    g_assert_cmpuint(reg(R_ECX), ==, 7);
    g_assert_true(cpu->env.rflags & CC_Z);
    g_assert_cmphex(reg(R_ESI), ==, 0x1005);
}

static void test_call_stack(void)
{
    static const uint8_t code[] = {
        0xbc, 0x00, 0x70,               /* mov $0x7000, %sp */
        0x68, 0x34, 0x12,               /* push $0x1234 */
        0xe8, 0x02, 0x00,               /* call sub */
        0x59,                           /* pop %cx */
        0xf4,                           /* hlt */
        0xba, 0x78, 0x56,               /* sub: mov $0x5678, %dx */
        0xc3,                           /* ret */
    };

    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_HALT);
    g_assert_cmphex(reg(R_EDX) & 0xffff, ==, 0x5678);
    g_assert_cmphex(reg(R_ECX) & 0xffff, ==, 0x1234);
    g_assert_cmphex(reg(R_ESP) & 0xffff, ==, 0x7000);
    g_assert_cmphex(cpu->env.rip, ==, CODE + 11);
}

static void test_interrupts(void)
{
    static const uint8_t code[] = {
        0xbc, 0x00, 0x70,               /* mov $0x7000, %sp */
        0xb8, 0x01, 0x00,               /* mov $1, %ax */
        0x31, 0xc9,                     /* xor %cx, %cx */
        0x31, 0xd2,                     /* xor %dx, %dx */
        0xf7, 0xf1,                     /* div %cx: #DE */
        0xcd, 0x21,                     /* int $0x21 */
        0xf4,                           /* hlt */
    };
    static const uint8_t de[] = {
        0xbb, 0x42, 0x42,               /* mov $0x4242, %bx */
        0xb9, 0x01, 0x00,               /* mov $1, %cx: div works now */
        0xcf,                           /* iret (back to the div) */
    };
    static const uint8_t int21[] = {
        0xbe, 0x21, 0x00,               /* mov $0x21, %si */
        0xcf,                           /* iret */
    };
    uint32_t ivt0 = 0x7d00, ivt21 = 0x7d80;

    address_space_write(&address_space_memory, 0, &ivt0, 4);
    address_space_write(&address_space_memory, 0x21 * 4, &ivt21, 4);
    address_space_write(&address_space_memory, 0x7d00, de, sizeof(de));
    address_space_write(&address_space_memory, 0x7d80, int21, sizeof(int21));
    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_HALT);
    g_assert_cmphex(reg(R_EBX) & 0xffff, ==, 0x4242);
    g_assert_cmphex(reg(R_EAX) & 0xffff, ==, 1);
    g_assert_cmphex(reg(R_ESI) & 0xffff, ==, 0x21);
    g_assert_cmphex(reg(R_ESP) & 0xffff, ==, 0x7000);
}

/* An interrupt the IVT cannot deliver, then #DF neither: a triple fault. */
static void test_triple_fault(void)
{
    static const uint8_t code[] = {
        0x0f, 0x01, 0x1e, 0x00, 0x7d,   /* lidt 0x7d00 (limit 0) */
        0xcd, 0x21,                     /* int $0x21 */
        0xf4,
    };
    static const uint8_t idtr[6] = { 0 };

    address_space_write(&address_space_memory, 0x7d00, idtr, sizeof(idtr));
    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_SHUTDOWN);
    g_assert_cmphex(cpu->env.idt.limit, ==, 0);
    g_assert_cmphex(cpu->env.rip, ==, CODE + 5);
}

static void test_port_io(void)
{
    static const uint8_t code[] = {
        0xb0, 0x5a,                     /* mov $0x5a, %al */
        0xe6, 0x80,                     /* out %al, $0x80 */
        0xba, 0x80, 0x00,               /* mov $0x80, %dx */
        0xec,                           /* in %dx, %al */
        0xe4, 0x81,                     /* in $0x81, %al -> %ah via xchg */
        0x86, 0xc4,                     /* xchg %al, %ah */
        0xec,                           /* in %dx, %al */
        0xf4,                           /* hlt */
    };

    port80_writes = 0;
    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_HALT);
    g_assert_cmpuint(port80_writes, ==, 1);
    g_assert_cmphex(port80_written, ==, 0x5a);
    /* An unassigned port reads all-ones. */
    g_assert_cmphex(reg(R_EAX) & 0xffff, ==, 0xff77);
}

static void test_operand_size(void)
{
    static const uint8_t code[] = {
        0x66, 0xb8, 0x78, 0x56, 0x34, 0x12,     /* mov $0x12345678, %eax */
        0x66, 0xc1, 0xc0, 0x08,                 /* rol $8, %eax */
        0x66, 0x0f, 0xc8,                       /* bswap %eax */
        0x66, 0x0f, 0xb7, 0xd8,                 /* movzwl %ax, %ebx */
        0x66, 0x0f, 0xbe, 0xcc,                 /* movsbl %ah, %ecx */
        0x66, 0x89, 0xc6,                       /* mov %eax, %esi */
        0x66, 0x31, 0xc0,                       /* xor %eax, %eax */
        0x0f, 0xa2,                             /* cpuid */
        0xf4,
    };

    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_HALT);
    g_assert_cmphex(reg(R_ESI), ==, 0x12785634);
    g_assert_cmphex(reg(R_EAX), ==, 1);                 /* max leaf */
    g_assert_cmphex(reg(R_EBX), ==, 0x756e6547);        /* "Genu" */
    g_assert_cmphex(reg(R_ECX), ==, 0x6c65746e);        /* "ntel" */
    g_assert_cmphex(reg(R_EDX), ==, 0x49656e69);        /* "ineI" */
}

static void test_movzx_movsx(void)
{
    static const uint8_t code[] = {
        0x66, 0xb8, 0x34, 0x96, 0x00, 0x00,     /* mov $0x9634, %eax */
        0x66, 0x0f, 0xb7, 0xd8,                 /* movzwl %ax, %ebx */
        0x66, 0x0f, 0xbe, 0xcc,                 /* movsbl %ah, %ecx */
        0xf4,
    };

    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_HALT);
    g_assert_cmphex(reg(R_EBX), ==, 0x9634);
    g_assert_cmphex(reg(R_ECX), ==, 0xffffff96);
}

static void test_unknown_instruction(void)
{
    static const uint8_t code[] = {
        0xb8, 0x34, 0x12,               /* mov $0x1234, %ax */
        0xd9, 0xe8,                     /* fld1: no x87 */
        0xf4,
    };
    g_autoptr(GString) s = g_string_new(NULL);

    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_UNKNOWN);
    /* Nothing of the instruction was committed. */
    g_assert_cmphex(cpu->env.rip, ==, CODE + 3);
    g_assert_cmphex(reg(R_EAX) & 0xffff, ==, 0x1234);
    x86_tcg_dump_state(t, s);
    g_assert_nonnull(strstr(s->str, "EAX=00001234"));
    g_assert_nonnull(strstr(s->str, "EIP=00007c03"));
    g_assert_nonnull(strstr(s->str, "<d9> e8 f4"));
}

static void test_paging_refused(void)
{
    static const uint8_t code[] = {
        0x0f, 0x20, 0xc0,                       /* mov %cr0, %eax */
        0x66, 0x0d, 0x01, 0x00, 0x00, 0x80,     /* or $0x80000001, %eax */
        0x0f, 0x22, 0xc0,                       /* mov %eax, %cr0 */
        0xf4,
    };

    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_ERROR);
    g_assert_cmphex(cpu->env.rip, ==, CODE + 9);
    g_assert_false(cpu->env.cr[0] & CR0_PG);
    g_clear_pointer(&t->error, g_free);
}

/* The migration test guest, from reset to two passes of its loop. */
static void test_bootblock(void)
{
    const char *dir = g_getenv("FERRY_BOOTBLOCKS");
    g_autofree char *path = g_build_filename(dir ? dir : "tests/migration",
                                             "a-b-bootblock.img", NULL);
    g_autofree char *img = NULL;
    gsize len = 0;
    uint32_t passes = 0, end = 100u << 20, pages;
    uint64_t touches;
    unsigned edges = 0;
    uint8_t prev = 0;

    if (!g_file_get_contents(path, &img, &len, NULL) || len != 512) {
        g_test_skip("a-b-bootblock.img not built (set FERRY_BOOTBLOCKS)");
        return;
    }
    /* (Other cases wrote into the guest's range.) */
    memset(rb->host + (1u << 20), 0, (100u << 20) - (1u << 20));
    x86_cpu_reset_boot_sector(cpu, 0x80);
    address_space_write(&address_space_memory, CODE, img, len);
    while (passes < 2) {
        for (int i = 0; i < 100000; i++) {
            g_assert_cmpint(x86_step(t), ==, X86_NEXT);
        }
        address_space_read(&address_space_memory, 0x7e08, &passes, 4);
    }
    /* Flat 32-bit protected mode, as the boot sector set it up. */
    g_assert_true(cpu->env.cr[0] & CR0_PE);
    g_assert_cmphex(cpu->env.segs[R_CS].selector, ==, 0x08);
    g_assert_true(cpu->env.segs[R_CS].flags & DESC_B_MASK);
    g_assert_cmphex(cpu->env.segs[R_CS].limit, ==, 0xffffffff);
    g_assert_cmphex(cpu->env.segs[R_DS].selector, ==, 0x10);
    g_assert_cmphex(cpu->env.gdt.limit, ==, 23);
    /* No device tree here: the guest keeps its 100 MiB default. */
    address_space_read(&address_space_memory, 0x7e0c, &end, 4);
    g_assert_cmphex(end, ==, 100u << 20);
    address_space_read(&address_space_memory, 0x7e10, &pages, 4);
    g_assert_cmpuint(pages, ==, ((100u << 20) - (1u << 20)) / 4096);
    address_space_read(&address_space_memory, 0x7e00, &touches, 8);
    g_assert_cmpuint(touches, >=, 2ull * pages);
    /* The invariant: consecutive pages differ by one at most once. */
    for (uint32_t p = 0; p < pages; p++) {
        uint8_t b = rb->host[(1u << 20) + p * 4096];

        if (p && b != prev) {
            g_assert_cmpuint((uint8_t)(prev - 1), ==, b);
            edges++;
        }
        prev = b;
    }
    g_assert_cmpuint(edges, <=, 1);
    g_test_message("%" PRIu64 " page touches, %" PRIu64 " instructions",
                   touches, t->insns);
}

/*
 * Whatever the guest executes, the interpreter stops cleanly or goes on:
 * random bytes as code, in real mode and after a switch to flat 32-bit
 * protected mode, never crash or hang it.
 */
static void test_random_code(void)
{
    static const uint8_t to_pm[] = {
        0x0f, 0x01, 0x16, 0x00, 0x80,           /* lgdt 0x8000 */
        0x0f, 0x20, 0xc0,                       /* mov %cr0, %eax */
        0x0c, 0x01,                             /* or $1, %al */
        0x0f, 0x22, 0xc0,                       /* mov %eax, %cr0 */
        0x66, 0xea, 0x1c, 0x7c, 0x00, 0x00, 0x08, 0x00, /* ljmpl 8:7c1c */
        0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0xb8, 0x10, 0x00, 0x00, 0x00,           /* 7c1c: mov $0x10, %eax */
        0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0,     /* mov %eax, %ds/%es/%ss */
    };
    static const uint8_t gdt[] = {
        0x17, 0x00, 0x08, 0x80, 0x00, 0x00, 0, 0,           /* gdtr */
        0, 0, 0, 0, 0, 0, 0, 0,                             /* null */
        0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0,                 /* code */
        0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0,                 /* data */
    };
    g_autoptr(GRand) r = g_rand_new_with_seed(1616);
    unsigned stops[X86_SHUTDOWN + 1] = { 0 };
    uint8_t junk[256];

    for (int round = 0; round < 400; round++) {
        bool pm = round & 1;
        X86Status st = X86_NEXT;

        for (size_t i = 0; i < sizeof(junk); i++) {
            junk[i] = g_rand_int(r);
        }
        x86_cpu_reset_boot_sector(cpu, 0x80);
        if (pm) {
            address_space_write(&address_space_memory, 0x8000, gdt,
                                sizeof(gdt));
            address_space_write(&address_space_memory, CODE, to_pm,
                                sizeof(to_pm));
            address_space_write(&address_space_memory,
                                CODE + sizeof(to_pm), junk, sizeof(junk));
            for (int i = 0; i < 9; i++) {
                g_assert_cmpint(x86_step(t), ==, X86_NEXT);
            }
            g_assert_true(cpu->env.segs[R_CS].flags & DESC_B_MASK);
        } else {
            address_space_write(&address_space_memory, CODE, junk,
                                sizeof(junk));
        }
        for (int i = 0; i < 2000 && st == X86_NEXT; i++) {
            st = x86_step(t);
        }
        stops[st]++;
        g_clear_pointer(&t->error, g_free);
    }
    g_test_message("random code: %u ran on, %u HLT, %u unknown, %u "
                   "refused, %u triple faults", stops[X86_NEXT],
                   stops[X86_HALT], stops[X86_UNKNOWN], stops[X86_ERROR],
                   stops[X86_SHUTDOWN]);
    g_assert_cmpuint(stops[X86_UNKNOWN], >, 0);
}

/* Stores are marked in the migration dirty log while it is on. */
static void test_dirty_log(void)
{
    static const uint8_t code[] = {
        0x66, 0xbf, 0x00, 0x00, 0x50, 0x00,     /* mov $0x500000, %edi */
        0x67, 0xfe, 0x07,                       /* incb (%edi) */
        0x67, 0x88, 0x87, 0x00, 0x10, 0x00, 0x00,   /* mov %al,0x1000(%edi) */
        0xf4,
    };
    unsigned long *bm = bitmap_new(RAM_SIZE >> TARGET_PAGE_BITS);

    memory_global_dirty_log_start();
    ramblock_sync_dirty_log(rb, bm);
    bitmap_zero(bm, RAM_SIZE >> TARGET_PAGE_BITS);
    g_assert_cmpint(run(code, sizeof(code), 100), ==, X86_HALT);
    x86_dirty_flush(t);
    ramblock_sync_dirty_log(rb, bm);
    memory_global_dirty_log_stop();
    g_assert_true(test_bit(0x500000 >> 12, bm));
    g_assert_true(test_bit(0x501000 >> 12, bm));
    g_assert_false(test_bit(0x502000 >> 12, bm));
    g_free(bm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    machine_setup();
    g_test_add_func("/x86/interp/rep-strings", test_rep_strings);
    g_test_add_func("/x86/interp/call-stack", test_call_stack);
    g_test_add_func("/x86/interp/interrupts", test_interrupts);
    g_test_add_func("/x86/interp/triple-fault", test_triple_fault);
    g_test_add_func("/x86/interp/port-io", test_port_io);
    g_test_add_func("/x86/interp/operand-size", test_operand_size);
    g_test_add_func("/x86/interp/movzx-movsx", test_movzx_movsx);
    g_test_add_func("/x86/interp/unknown-instruction",
                    test_unknown_instruction);
    g_test_add_func("/x86/interp/paging-refused", test_paging_refused);
    g_test_add_func("/x86/interp/dirty-log", test_dirty_log);
    g_test_add_func("/x86/interp/random-code", test_random_code);
    g_test_add_func("/x86/interp/bootblock", test_bootblock);
    return g_test_run();
}
