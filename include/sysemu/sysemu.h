/*
 * sysemu.h: process-wide settings from the command line.
 */
#ifndef SYSEMU_SYSEMU_H
#define SYSEMU_SYSEMU_H

#include "qemu/osdep.h"

/* -name NAME (NULL when not given). */
extern char *qemu_name;
/* -uuid (all zeroes when not given). */
extern uint8_t qemu_uuid[16];
extern bool qemu_uuid_set;

#endif
