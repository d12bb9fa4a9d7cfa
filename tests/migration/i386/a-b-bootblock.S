/*
 * a-b-bootblock.S: ferry's migration test guest, a 512-byte boot sector.
 *
 * Entered in real mode at 0000:7c00 (by a PC BIOS, or directly by ferry's
 * pc-lite machine).  It turns on A20 through port 0x92, switches to flat
 * 32-bit protected mode and then dirties guest memory forever:
 *
 *  - default mode: each pass increments one byte in every 4 KiB page from
 *    1 MiB up to 100 MiB, in address order, then prints 'B' on the serial
 *    port at 0x3f8 ('A' is printed once, before the first pass).  When the
 *    VM is stopped, every page's byte equals the next page's byte except at
 *    the one page where the current pass has got to.
 *
 *  - RANDOM mode (assembled with --defsym RANDOM=1): the same pages are
 *    incremented in a pseudo-random order; each pass visits every page once
 *    (a full-period LCG over 2^15 page slots, slots past the range skipped).
 *
 * In both modes the 64-bit count of page touches is kept at COUNTER
 * (0x7e00, just above the boot sector), so a benchmark can read the guest's
 * progress from outside, and the 32-bit pass count at COUNTER + 8.
 *
 * The end of the range comes from the machine: on ferry's pc-lite the
 * board's flattened device tree is at FDT (0x10000), and the guest walks
 * it for the "reg" of the node whose name starts with "memory", taking
 * min(RAM end, 100 MiB) as its END.  Without a device tree (QEMU's pc) it
 * keeps 100 MiB.  The END used is stored at COUNTER + 12 (32 bits) and the
 * number of pages at COUNTER + 16, for tests to check.
 *
 * After each pass P (counted from 1) the guest paints one column of the
 * linear framebuffer at FB (0xfd000000, 640x480, x8r8g8b8: pc-lite's
 * -vga std): column (P - 1) mod 640, top to bottom, in the colour
 * (P * 0x9e3779b1) mod 2^24.  A screendump thus shows a band of coloured
 * columns growing to the right (and wrapping after 640 passes) whose
 * colours follow the pass counter; the column is painted just after the
 * counter is incremented.
 */

        .set START, 1 << 20
        .set END, 100 << 20
        .set NPAGES, (END - START) >> 12
        .set COUNTER, 0x7e00
        .set SERIAL, 0x3f8
        .set FDT, 0x10000
        .set FDT_MAX, 0x10000
        .set FB, 0xfd000000
        .set FB_WIDTH, 640
        .set FB_HEIGHT, 480
        .set FB_STRIDE, 2560
        .set PAINT_MUL, 0x9e3779b1
        .set RAM_END, COUNTER + 12
        .set RAM_PAGES, COUNTER + 16

        .code16
        .text
        .globl _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %sp

        /* Fast A20 gate: set bit 1 of port 0x92, never bit 0 (reset). */
        in      $0x92, %al
        or      $0x02, %al
        and     $0xfe, %al
        out     %al, $0x92

        lgdtl   gdt_desc
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $0x08, $protected

        .code32
protected:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %fs
        mov     %ax, %gs
        mov     %ax, %ss
        mov     $0x7c00, %esp

        xor     %eax, %eax
        mov     %eax, COUNTER
        mov     %eax, COUNTER + 4
        mov     %eax, COUNTER + 8
        call    fdt_ram_end
        mov     RAM_END, %eax
        sub     $START, %eax
        shr     $12, %eax
        mov     %eax, RAM_PAGES
        mov     $'A', %al
        call    putc

.ifdef RANDOM
        mov     $1, %esi                /* LCG state, 15 bits */
pass:
        mov     $0x8000, %ecx           /* slots per full period */
step:
        imul    $1103515245, %esi, %esi
        add     $12345, %esi
        and     $0x7fff, %esi
        cmp     RAM_PAGES, %esi
        jae     skip
        mov     %esi, %edi
        shl     $12, %edi
        incb    START(%edi)
        addl    $1, COUNTER
        adcl    $0, COUNTER + 4
skip:
        dec     %ecx
        jnz     step
.else
pass:
        mov     $START, %edi
step:
        incb    (%edi)
        addl    $1, COUNTER
        adcl    $0, COUNTER + 4
        add     $4096, %edi
        cmp     RAM_END, %edi
        jb      step
.endif
        incl    COUNTER + 8
        call    paint
        mov     $'B', %al
        call    putc
        jmp     pass

/* Paints pass COUNTER + 8's column. */
paint:
        mov     COUNTER + 8, %eax
        dec     %eax
        xor     %edx, %edx
        mov     $FB_WIDTH, %ecx
        div     %ecx                    /* %edx: (P - 1) mod width */
        lea     FB(,%edx,4), %edi
        mov     COUNTER + 8, %eax
        imul    $PAINT_MUL, %eax, %eax
        mov     $FB_HEIGHT, %ecx
1:      mov     %eax, (%edi)
        add     $FB_STRIDE, %edi
        loop    1b
        ret

/*
 * RAM_END := min(end of the device tree's /memory reg, END), or END when
 * there is no tree.  Walks the structure block token by token; %edx is 1
 * inside a node whose name starts with "memo".  Stops at FDT_END or at
 * the end of the area the tree may occupy.
 */
fdt_ram_end:
        movl    $END, RAM_END
        cmpl    $0xedfe0dd0, FDT        /* magic 0xd00dfeed, big-endian */
        jne     9f
        mov     FDT + 8, %esi           /* off_dt_struct */
        bswap   %esi
        add     $FDT, %esi
        mov     FDT + 12, %ebx          /* off_dt_strings */
        bswap   %ebx
        add     $FDT, %ebx
        xor     %edx, %edx
1:      cmp     $FDT + FDT_MAX, %esi
        jae     9f
        lodsl
        bswap   %eax
        cmp     $1, %eax                /* FDT_BEGIN_NODE name */
        jne     3f
        xor     %edx, %edx
        cmpl    $0x6f6d656d, (%esi)     /* "memo" */
        jne     2f
        inc     %edx
2:      lodsb                           /* past the name and its NUL */
        test    %al, %al
        jnz     2b
        add     $3, %esi
        and     $~3, %esi
        jmp     1b
3:      cmp     $3, %eax                /* FDT_PROP len nameoff value */
        jne     5f
        lodsl
        bswap   %eax
        mov     %eax, %ecx
        lodsl
        bswap   %eax
        test    %edx, %edx
        jz      4f
        cmpl    $0x00676572, (%ebx,%eax)   /* "reg" */
        jne     4f
        /* <base_hi base_lo size_hi size_lo>: the end, if below 4 GiB. */
        mov     (%esi), %eax
        or      8(%esi), %eax
        jnz     9f
        mov     4(%esi), %eax
        bswap   %eax
        mov     12(%esi), %ecx
        bswap   %ecx
        add     %ecx, %eax
        jc      9f
        cmp     $END, %eax
        jae     9f
        cmp     $START + 4096, %eax
        jb      9f
        mov     %eax, RAM_END
        ret
4:      add     $3, %ecx                /* skip the value */
        and     $~3, %ecx
        add     %ecx, %esi
        jmp     1b
5:      cmp     $9, %eax                /* FDT_END */
        je      9f
        cmp     $2, %eax                /* FDT_END_NODE (else FDT_NOP) */
        jne     1b
        xor     %edx, %edx
        jmp     1b
9:      ret

/* Writes %al to the serial port once its transmitter is empty. */
putc:
        mov     %al, %ah
        mov     $SERIAL + 5, %dx
1:      in      %dx, %al
        test    $0x20, %al
        jz      1b
        mov     $SERIAL, %dx
        mov     %ah, %al
        out     %al, %dx
        ret

        .p2align 3
gdt:
        .quad   0                       /* null */
        .quad   0x00cf9a000000ffff      /* 0x08: flat 32-bit code */
        .quad   0x00cf92000000ffff      /* 0x10: flat 32-bit data */
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt

        .org    510
        .byte   0x55, 0xaa
