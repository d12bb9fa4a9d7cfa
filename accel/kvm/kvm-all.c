/*
 * kvm-all.c: the KVM VM — memory slots, the dirty log, and running a vCPU.
 *
 * Memory slots mirror the RAM regions of the system address space; they
 * are added by a memory listener at board init and never removed (ferry
 * has no hotplug).  The slot table is protected by slots_lock because the
 * dirty-log hooks run in the migration thread while the main thread may
 * still be answering QMP.
 *
 * Dirty logging: when migration turns the global dirty log on, every slot
 * is re-registered with KVM_MEM_LOG_DIRTY_PAGES; KVM then write-protects
 * guest memory and records the pages vCPUs write.  Each migration bitmap
 * sync calls kvm_log_sync(), which fetches-and-clears every slot's log
 * with KVM_GET_DIRTY_LOG and ORs it into the RAMBlock's dirty log, where
 * writes made by ferry itself (qtest, the loader) are already recorded.
 * A page written during the fetch is either in this harvest or the next.
 *
 * Running: kvm_cpu_exec() is called by the vCPU thread with the BQL held;
 * it drops the BQL around KVM_RUN only, so device models always run under
 * the BQL, as in QEMU.
 */
#include "qemu/osdep.h"
#include "sysemu/kvm.h"
#include "sysemu/runstate.h"
#include "exec/memory.h"
#include "exec/ramblock.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "trace.h"
#include <linux/kvm.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#define KVM_DEVICE "/dev/kvm"

typedef struct KVMSlot {
    uint32_t slot;
    hwaddr base;
    uint64_t size;
    RAMBlock *rb;
    uint64_t rb_offset;         /* where the slot starts in its block */
    uint32_t flags;             /* KVM_MEM_* as last set */
    unsigned long *dirty;       /* scratch for KVM_GET_DIRTY_LOG */
} KVMSlot;

typedef struct KVMState {
    int fd;
    int vmfd;
    int vcpu_mmap_size;
    int nr_slots_max;
    QemuMutex slots_lock;       /* protects slots and log_dirty */
    GArray *slots;              /* KVMSlot */
    bool log_dirty;
    MemoryListener listener;
} KVMState;

/* The one VM of this process; set by kvm_accel_init(), main thread. */
static KVMState *kvm_state;

bool kvm_enabled(void)
{
    return kvm_state != NULL;
}

int kvm_get_fd(void)
{
    return kvm_state ? kvm_state->fd : -1;
}

static int kvm_ioctl_va(int fd, int type, va_list ap)
{
    void *arg = va_arg(ap, void *);
    int ret;

    do {
        ret = ioctl(fd, type, arg);
    } while (ret < 0 && errno == EINTR && type != (int)KVM_RUN);
    return ret < 0 ? -errno : ret;
}

int kvm_vm_ioctl(int type, ...)
{
    va_list ap;
    int ret;

    va_start(ap, type);
    ret = kvm_ioctl_va(kvm_state->vmfd, type, ap);
    va_end(ap);
    return ret;
}

int kvm_vcpu_ioctl(CPUState *cpu, int type, ...)
{
    va_list ap;
    int ret;

    va_start(ap, type);
    ret = kvm_ioctl_va(cpu->kvm_fd, type, ap);
    va_end(ap);
    return ret;
}

int kvm_check_extension(unsigned int ext)
{
    int ret = ioctl(kvm_state->vmfd, KVM_CHECK_EXTENSION, ext);

    if (ret < 0) {
        ret = ioctl(kvm_state->fd, KVM_CHECK_EXTENSION, ext);
    }
    return ret < 0 ? 0 : ret;
}

/* ---- memory slots ---- */

static bool kvm_slot_update(KVMSlot *s, Error **errp)
{
    struct kvm_userspace_memory_region mem = {
        .slot = s->slot,
        .flags = s->flags,
        .guest_phys_addr = s->base,
        .memory_size = s->size,
        .userspace_addr = (uintptr_t)(s->rb->host + s->rb_offset),
    };
    int ret = kvm_vm_ioctl(KVM_SET_USER_MEMORY_REGION, &mem);

    trace_kvm_set_user_memory(s->slot, s->flags, s->base, s->size,
                              mem.userspace_addr, ret);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM: cannot map '%s' at 0x%" PRIx64
                         " (slot %u)", s->rb->idstr, s->base, s->slot);
        return false;
    }
    return true;
}

static void kvm_region_add(MemoryListener *l, AddressSpace *as, hwaddr base,
                           MemoryRegion *mr)
{
    KVMState *s = container_of(l, KVMState, listener);
    KVMSlot slot = { 0 };
    Error *err = NULL;

    if (as != &address_space_memory || !mr->ram_block) {
        return;             /* I/O regions are handled on exits */
    }
    QEMU_LOCK_GUARD(&s->slots_lock);
    if ((int)s->slots->len >= s->nr_slots_max) {
        error_report("KVM: no free memory slot for '%s'", mr->name);
        return;
    }
    slot.slot = s->slots->len;
    slot.base = base;
    slot.size = mr->size;
    slot.rb = mr->ram_block;
    slot.flags = s->log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    slot.dirty = bitmap_new(slot.size >> TARGET_PAGE_BITS);
    if (!kvm_slot_update(&slot, &err)) {
        /* A board maps RAM before the guest runs; KVM refusing is fatal. */
        error_report_err(err);
        g_free(slot.dirty);
        return;
    }
    g_array_append_val(s->slots, slot);
}

static void kvm_log_set(bool on)
{
    KVMState *s = kvm_state;
    Error *err = NULL;

    QEMU_LOCK_GUARD(&s->slots_lock);
    s->log_dirty = on;
    for (guint i = 0; i < s->slots->len; i++) {
        KVMSlot *slot = &g_array_index(s->slots, KVMSlot, i);

        slot->flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0;
        if (!kvm_slot_update(slot, &err)) {
            /*
             * Without the log, vCPU writes would go unseen and the copy
             * on the destination would be corrupt; there is no way to
             * report this to migration from here, so mark everything
             * dirty forever, which is slow but correct.
             */
            error_report_err(err);
            err = NULL;
        }
    }
}

static void kvm_log_start(void)
{
    kvm_log_set(true);
}

static void kvm_log_stop(void)
{
    kvm_log_set(false);
}

static void kvm_log_sync(void)
{
    KVMState *s = kvm_state;

    QEMU_LOCK_GUARD(&s->slots_lock);
    for (guint i = 0; i < s->slots->len; i++) {
        KVMSlot *slot = &g_array_index(s->slots, KVMSlot, i);
        uint64_t npages = slot->size >> TARGET_PAGE_BITS;
        struct kvm_dirty_log log = {
            .slot = slot->slot,
            .dirty_bitmap = slot->dirty,
        };
        int ret;

        if (!(slot->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
            bitmap_set(slot->dirty, 0, npages);
        } else {
            ret = kvm_vm_ioctl(KVM_GET_DIRTY_LOG, &log);
            if (ret < 0) {
                error_report("KVM: KVM_GET_DIRTY_LOG of slot %u failed: %s",
                             slot->slot, strerror(-ret));
                bitmap_set(slot->dirty, 0, npages);
            }
        }
        trace_kvm_log_sync(slot->slot,
                           bitmap_count_one(slot->dirty, npages));
        ramblock_set_dirty_bitmap(slot->rb,
                                  slot->rb_offset >> TARGET_PAGE_BITS,
                                  slot->dirty, npages);
    }
}

static const DirtyLogOps kvm_dirty_log_ops = {
    .log_start = kvm_log_start,
    .log_stop = kvm_log_stop,
    .log_sync = kvm_log_sync,
};

/* ---- the VM ---- */

char *kvm_probe_unavailable(void)
{
    int fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
    int version;

    if (fd < 0) {
        return g_strdup_printf("Could not access KVM kernel module: %s",
                               strerror(errno));
    }
    version = ioctl(fd, KVM_GET_API_VERSION, 0);
    close(fd);
    if (version != KVM_API_VERSION) {
        return g_strdup_printf("kvm version not supported (%d, expected %d)",
                               version, KVM_API_VERSION);
    }
    return NULL;
}

bool kvm_accel_init(Error **errp)
{
    g_autofree KVMState *s = g_new0(KVMState, 1);
    int ret;

    s->fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
    if (s->fd < 0) {
        error_setg(errp, "Could not access KVM kernel module: %s",
                   strerror(errno));
        return false;
    }
    ret = ioctl(s->fd, KVM_GET_API_VERSION, 0);
    if (ret != KVM_API_VERSION) {
        error_setg(errp, "kvm version not supported (%d, expected %d)",
                   ret, KVM_API_VERSION);
        goto err_close;
    }
    do {
        s->vmfd = ioctl(s->fd, KVM_CREATE_VM, 0);
    } while (s->vmfd < 0 && errno == EINTR);
    if (s->vmfd < 0) {
        error_setg_errno(errp, errno, "failed to initialize kvm");
        goto err_close;
    }
    s->vcpu_mmap_size = ioctl(s->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (s->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
        error_setg(errp, "KVM: bad vCPU mmap size %d", s->vcpu_mmap_size);
        goto err_vm;
    }
    kvm_state = s;
    if (!kvm_check_extension(KVM_CAP_USER_MEMORY)) {
        error_setg(errp, "kvm does not support KVM_CAP_USER_MEMORY");
        goto err_state;
    }
    s->nr_slots_max = kvm_check_extension(KVM_CAP_NR_MEMSLOTS);
    if (s->nr_slots_max <= 0) {
        s->nr_slots_max = 32;
    }
    if (!kvm_arch_init(errp)) {
        goto err_state;
    }
    qemu_mutex_init(&s->slots_lock);
    s->slots = g_array_new(false, true, sizeof(KVMSlot));
    s->listener.region_add = kvm_region_add;
    trace_kvm_init(s->vcpu_mmap_size, s->nr_slots_max);
    g_steal_pointer(&s);
    memory_listener_register(&kvm_state->listener);
    memory_register_dirty_log_ops(&kvm_dirty_log_ops);
    return true;

err_state:
    kvm_state = NULL;
err_vm:
    close(s->vmfd);
err_close:
    close(s->fd);
    return false;
}

/* ---- vCPUs ---- */

bool kvm_init_vcpu(CPUState *cpu, Error **errp)
{
    int fd = kvm_vm_ioctl(KVM_CREATE_VCPU, (void *)(uintptr_t)cpu->cpu_index);
    void *run;

    if (fd < 0) {
        error_setg_errno(errp, -fd, "kvm_init_vcpu: kvm_get_vcpu failed "
                         "(%d)", cpu->cpu_index);
        return false;
    }
    run = mmap(NULL, kvm_state->vcpu_mmap_size, PROT_READ | PROT_WRITE,
               MAP_SHARED, fd, 0);
    if (run == MAP_FAILED) {
        error_setg_errno(errp, errno, "kvm_init_vcpu: mmap'ing vcpu state "
                         "failed (%d)", cpu->cpu_index);
        close(fd);
        return false;
    }
    cpu->kvm_fd = fd;
    cpu->kvm_run = run;
    cpu->kvm_run_size = kvm_state->vcpu_mmap_size;
    trace_kvm_init_vcpu(cpu->cpu_index, fd);
    return kvm_arch_init_vcpu(cpu, errp);
}

bool kvm_cpu_synchronize_state(CPUState *cpu, Error **errp)
{
    /* A vCPU that never ran since its reset: the arch state is newest. */
    if (cpu->vcpu_dirty) {
        return true;
    }
    return kvm_arch_get_registers(cpu, errp);
}

bool kvm_cpu_synchronize_post_load(CPUState *cpu, Error **errp)
{
    if (!kvm_arch_put_registers(cpu, errp)) {
        return false;
    }
    cpu->vcpu_dirty = false;
    return true;
}

static void kvm_handle_io(uint16_t port, void *data, int direction,
                          int size, uint32_t count)
{
    uint8_t *p = data;

    trace_kvm_io(port, size, direction == KVM_EXIT_IO_OUT, count);
    for (uint32_t i = 0; i < count; i++, p += size) {
        if (direction == KVM_EXIT_IO_IN) {
            uint64_t v = address_space_ldn_le(&address_space_io, port, size);

            memcpy(p, &v, size);        /* little-endian host */
        } else {
            uint64_t v = 0;

            memcpy(&v, p, size);
            address_space_stn_le(&address_space_io, port, v, size);
        }
    }
}

static void kvm_report_exit_error(CPUState *cpu, const char *what,
                                  uint64_t detail)
{
    error_report("KVM: vCPU %d: %s (0x%" PRIx64 "); stopping the VM",
                 cpu->cpu_index, what, detail);
}

KVMExitResult kvm_cpu_exec(CPUState *cpu)
{
    struct kvm_run *run = cpu->kvm_run;
    Error *err = NULL;
    int ret;

    if (cpu->vcpu_dirty) {
        if (!kvm_arch_put_registers(cpu, &err)) {
            error_report_err(err);
            return KVM_EXIT_RESULT_ERROR;
        }
        cpu->vcpu_dirty = false;
    }
    bql_unlock();
    if (qatomic_read(&cpu->exit_request)) {
        ret = -EINTR;
    } else {
        ret = kvm_vcpu_ioctl(cpu, KVM_RUN, 0);
    }
    bql_lock();

    if (ret < 0) {
        if (ret == -EINTR || ret == -EAGAIN) {
            /* Kicked (a pause, or a signal that raced): see the flags. */
            qatomic_set(&run->immediate_exit, 0);
            qatomic_set(&cpu->exit_request, 0);
            return KVM_EXIT_RESULT_IDLE;
        }
        kvm_report_exit_error(cpu, "KVM_RUN failed", -ret);
        return KVM_EXIT_RESULT_ERROR;
    }
    trace_kvm_run_exit(cpu->cpu_index, run->exit_reason);
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        if (run->io.size != 1 && run->io.size != 2 && run->io.size != 4) {
            kvm_report_exit_error(cpu, "bad I/O size", run->io.size);
            return KVM_EXIT_RESULT_ERROR;
        }
        if ((uint64_t)run->io.data_offset + (uint64_t)run->io.size *
            run->io.count > cpu->kvm_run_size) {
            kvm_report_exit_error(cpu, "I/O data outside kvm_run",
                                  run->io.data_offset);
            return KVM_EXIT_RESULT_ERROR;
        }
        kvm_handle_io(run->io.port, (uint8_t *)run + run->io.data_offset,
                      run->io.direction, run->io.size, run->io.count);
        return KVM_EXIT_RESULT_CONTINUE;
    case KVM_EXIT_MMIO:
        trace_kvm_mmio(run->mmio.phys_addr, run->mmio.len,
                       run->mmio.is_write);
        if (run->mmio.len > sizeof(run->mmio.data)) {
            kvm_report_exit_error(cpu, "bad MMIO length", run->mmio.len);
            return KVM_EXIT_RESULT_ERROR;
        }
        if (run->mmio.is_write) {
            address_space_write(&address_space_memory, run->mmio.phys_addr,
                                run->mmio.data, run->mmio.len);
        } else {
            address_space_read(&address_space_memory, run->mmio.phys_addr,
                               run->mmio.data, run->mmio.len);
        }
        return KVM_EXIT_RESULT_CONTINUE;
    case KVM_EXIT_HLT:
        trace_kvm_hlt(cpu->cpu_index);
        cpu->halted = true;
        return KVM_EXIT_RESULT_IDLE;
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        return KVM_EXIT_RESULT_CONTINUE;
    case KVM_EXIT_SHUTDOWN:
        /* A triple fault; ferry has no reset, so as QEMU -no-reboot. */
        trace_kvm_shutdown(cpu->cpu_index);
        cpu->halted = true;
        qemu_system_shutdown_request(SHUTDOWN_CAUSE_GUEST_RESET);
        return KVM_EXIT_RESULT_IDLE;
    case KVM_EXIT_FAIL_ENTRY:
        kvm_report_exit_error(cpu, "VM entry failed, hardware reason",
                              run->fail_entry.hardware_entry_failure_reason);
        return KVM_EXIT_RESULT_ERROR;
    case KVM_EXIT_INTERNAL_ERROR:
        kvm_report_exit_error(cpu, "KVM internal error, suberror",
                              run->internal.suberror);
        return KVM_EXIT_RESULT_ERROR;
    default:
        kvm_report_exit_error(cpu, "unhandled exit reason",
                              run->exit_reason);
        return KVM_EXIT_RESULT_ERROR;
    }
}
