/*
 * vl.h: process start-up and shutdown (system/vl.c).
 */
#ifndef SYSEMU_VL_H
#define SYSEMU_VL_H

#include "qemu/osdep.h"

/* Parses the command line and builds the machine; exits on bad options. */
void qemu_init(int argc, char **argv);
/* Tears everything down; returns the process exit status. */
int qemu_cleanup(void);

#endif
