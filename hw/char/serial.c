/*
 * serial.c: the 16550A UART (registers as in the National Semiconductor
 * datasheet; see include/hw/char/serial.h for what is modelled).
 */
#include "qemu/osdep.h"
#include "hw/char/serial.h"
#include "migration/vmstate.h"
#include "migration/register.h"
#include "trace.h"

#define UART_LCR_DLAB   0x80
#define UART_IER_RDI    0x01
#define UART_IER_THRI   0x02
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI   0x02
#define UART_IIR_RDI    0x04
#define UART_IIR_FE     0xc0    /* FIFOs enabled */
#define UART_FCR_FE     0x01
#define UART_FCR_RFR    0x02    /* clear the receive FIFO */
#define UART_LSR_DR     0x01
#define UART_LSR_THRE   0x20
#define UART_LSR_TEMT   0x40
#define UART_MCR_LOOP   0x10
#define UART_MSR_CTS    0x10
#define UART_MSR_DSR    0x20
#define UART_MSR_DCD    0x80

static void serial_rx_push(SerialState *s, uint8_t c)
{
    if (s->rx_count < UART_FIFO_LENGTH) {
        s->rx_fifo[(s->rx_head + s->rx_count) % UART_FIFO_LENGTH] = c;
        s->rx_count++;
    }
    s->lsr |= UART_LSR_DR;
}

static uint8_t serial_iir(SerialState *s)
{
    uint8_t fifo = (s->fcr & UART_FCR_FE) ? UART_IIR_FE : 0;

    if ((s->ier & UART_IER_RDI) && s->rx_count) {
        return fifo | UART_IIR_RDI;
    }
    if ((s->ier & UART_IER_THRI) && s->thr_ipending) {
        return fifo | UART_IIR_THRI;
    }
    return fifo | UART_IIR_NO_INT;
}

static uint64_t serial_read(void *opaque, hwaddr addr, unsigned size)
{
    SerialState *s = opaque;
    uint8_t ret = 0;

    switch (addr & 7) {
    case 0:
        if (s->lcr & UART_LCR_DLAB) {
            ret = s->divider & 0xff;
        } else if (s->rx_count) {
            ret = s->rx_fifo[s->rx_head];
            s->rx_head = (s->rx_head + 1) % UART_FIFO_LENGTH;
            if (--s->rx_count == 0) {
                s->lsr &= ~UART_LSR_DR;
            }
            if (s->chr) {
                qemu_chr_fe_accept_input(s->chr, true);
            }
        }
        break;
    case 1:
        ret = (s->lcr & UART_LCR_DLAB) ? s->divider >> 8 : s->ier;
        break;
    case 2:
        ret = serial_iir(s);
        if ((ret & 0x0f) == UART_IIR_THRI) {
            s->thr_ipending = 0;        /* reading IIR acknowledges it */
        }
        break;
    case 3:
        ret = s->lcr;
        break;
    case 4:
        ret = s->mcr;
        break;
    case 5:
        ret = s->lsr;
        break;
    case 6:
        if (s->mcr & UART_MCR_LOOP) {
            /* Loopback: the modem outputs appear as the inputs. */
            ret = (s->mcr & 0x0c) << 4 | (s->mcr & 0x02) << 3 |
                  (s->mcr & 0x01) << 5;
        } else {
            ret = s->msr;
        }
        break;
    case 7:
        ret = s->scr;
        break;
    }
    trace_serial_read(addr & 7, ret);
    return ret;
}

static void serial_write(void *opaque, hwaddr addr, uint64_t val,
                         unsigned size)
{
    SerialState *s = opaque;
    uint8_t c = val;

    trace_serial_write(addr & 7, c);
    switch (addr & 7) {
    case 0:
        if (s->lcr & UART_LCR_DLAB) {
            s->divider = (s->divider & 0xff00) | c;
        } else if (s->mcr & UART_MCR_LOOP) {
            serial_rx_push(s, c);
            s->thr_ipending = 1;
        } else {
            if (s->chr) {
                qemu_chr_write(s->chr, &c, 1);
            }
            s->thr_ipending = 1;
        }
        break;
    case 1:
        if (s->lcr & UART_LCR_DLAB) {
            s->divider = (s->divider & 0x00ff) | (uint16_t)c << 8;
        } else {
            /* Enabling THRI with an empty transmitter raises it. */
            if (!(s->ier & UART_IER_THRI) && (c & UART_IER_THRI)) {
                s->thr_ipending = 1;
            }
            s->ier = c & 0x0f;
        }
        break;
    case 2:
        s->fcr = c & 0xc9;
        if (c & UART_FCR_RFR) {
            s->rx_count = 0;
            s->lsr &= ~UART_LSR_DR;
        }
        break;
    case 3:
        s->lcr = c;
        break;
    case 4:
        s->mcr = c & 0x1f;
        break;
    case 5:
    case 6:
        break;                          /* read-only (factory test) */
    case 7:
        s->scr = c;
        break;
    }
}

static const MemoryRegionOps serial_io_ops = {
    .read = serial_read,
    .write = serial_write,
};

static void serial_receive(void *opaque, const uint8_t *buf, size_t len)
{
    SerialState *s = opaque;

    for (size_t i = 0; i < len; i++) {
        serial_rx_push(s, buf[i]);
    }
    if (s->rx_count >= UART_FIFO_LENGTH) {
        qemu_chr_fe_accept_input(s->chr, false);
    }
}

static int serial_post_load(void *opaque, int version_id)
{
    SerialState *s = opaque;

    if (s->rx_head >= UART_FIFO_LENGTH || s->rx_count > UART_FIFO_LENGTH) {
        return -EINVAL;
    }
    return 0;
}

static const VMStateDescription vmstate_serial = {
    .name = "serial",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = serial_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(divider, SerialState),
        VMSTATE_UINT8(ier, SerialState),
        VMSTATE_UINT8(fcr, SerialState),
        VMSTATE_UINT8(lcr, SerialState),
        VMSTATE_UINT8(mcr, SerialState),
        VMSTATE_UINT8(lsr, SerialState),
        VMSTATE_UINT8(msr, SerialState),
        VMSTATE_UINT8(scr, SerialState),
        VMSTATE_UINT8(thr_ipending, SerialState),
        VMSTATE_BUFFER(rx_fifo, SerialState),
        VMSTATE_UINT8(rx_head, SerialState),
        VMSTATE_UINT8(rx_count, SerialState),
        VMSTATE_END_OF_LIST()
    },
};

SerialState *serial_isa_init(hwaddr base, Chardev *chr, Error **errp)
{
    SerialState *s = g_new0(SerialState, 1);

    s->chr = chr;
    s->divider = 12;                    /* 9600 baud */
    s->lcr = 0x03;                      /* 8N1 */
    s->lsr = UART_LSR_THRE | UART_LSR_TEMT;
    s->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    memory_region_init_io(&s->io, "serial", &serial_io_ops, s, 8);
    if (!address_space_map_region(&address_space_io, base, &s->io, errp)) {
        g_free(s);
        return NULL;
    }
    if (chr) {
        qemu_chr_fe_set_handlers(chr, serial_receive, NULL, s, NULL);
    }
    vmstate_register(VMSTATE_INSTANCE_ID_ANY, &vmstate_serial, s);
    return s;
}
