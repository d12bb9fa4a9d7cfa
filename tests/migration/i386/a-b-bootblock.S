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
 */

        .set START, 1 << 20
        .set END, 100 << 20
        .set NPAGES, (END - START) >> 12
        .set COUNTER, 0x7e00
        .set SERIAL, 0x3f8

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
        cmp     $NPAGES, %esi
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
        cmp     $END, %edi
        jb      step
.endif
        incl    COUNTER + 8
        mov     $'B', %al
        call    putc
        jmp     pass

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
