/*
 * main.c: ferry's entry point.
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "sysemu/vl.h"

int main(int argc, char **argv)
{
    qemu_init(argc, argv);
    qemu_main_loop_run();
    return qemu_cleanup();
}
