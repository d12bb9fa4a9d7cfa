/*
 * serial.h: a 16550A UART as seen through I/O ports.
 *
 * pc-lite has no interrupt controller, so the UART raises no interrupts:
 * guests poll LSR, as boot sectors do.  IIR still reports what would be
 * pending, for guests that read it.  Output goes to the chardev at once
 * (the transmitter is always empty); input from the chardev fills a
 * 16-byte receive FIFO.  State is in the "serial" section.
 */
#ifndef HW_CHAR_SERIAL_H
#define HW_CHAR_SERIAL_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "exec/memory.h"
#include "chardev/char.h"

#define UART_FIFO_LENGTH 16

typedef struct SerialState {
    MemoryRegion io;
    Chardev *chr;               /* NULL: output dropped (-serial none) */
    /* Registers; BQL (vCPU threads take it for I/O exits). */
    uint16_t divider;
    uint8_t ier;
    uint8_t fcr;
    uint8_t lcr;
    uint8_t mcr;
    uint8_t lsr;
    uint8_t msr;
    uint8_t scr;
    uint8_t thr_ipending;
    /* Receive FIFO; filled in the main loop by the chardev. */
    uint8_t rx_fifo[UART_FIFO_LENGTH];
    uint8_t rx_head;
    uint8_t rx_count;
} SerialState;

/* Creates the UART at I/O port @base connected to @chr (may be NULL). */
SerialState *serial_isa_init(hwaddr base, Chardev *chr, Error **errp);

#endif
