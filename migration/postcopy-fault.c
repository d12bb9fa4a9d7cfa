/*
 * postcopy-fault.c: the destination's fault thread, page requests and
 * the latency / blocktime statistics.
 *
 * The fault thread polls the userfaultfd and a quit eventfd.  For each
 * fault it finds the RAMBlock and host page, and asks the source for the
 * page over the return path — once: a request still in flight is not
 * repeated (the table of requests, keyed by host page address, also holds
 * the time of the fault).  When the page is placed (postcopy-ram.c), the
 * request completes: its latency (fault to placement) goes into a mean
 * and a log2 histogram, and any vCPU blocked on it stops accumulating
 * blocktime.
 *
 * Blocktime follows QEMU 7.2: per vCPU, the time from its fault to the
 * placement of that page; in total, the time during which every vCPU was
 * blocked at once.  Only faults from vCPU threads count; ferry's qtest
 * accelerator has none, so blocktime stays 0 there (as QEMU's does for
 * faults from the monitor), while the latency statistics count every
 * fault.
 *
 * Locking: req_lock protects the request table, the statistics and the
 * blocktime state.  Requests are sent under the return path's own lock.
 */
#include "qemu/osdep.h"
#include "postcopy-fault.h"
#include "ram.h"
#include "migration.h"
#include "options.h"
#include "qemu/atomic.h"
#include "qemu/thread.h"
#include "qemu/userfaultfd.h"
#include "qapi/qmp/json-writer.h"
#include "sysemu/cpus.h"
#include "trace.h"
#include <poll.h>
#include <sys/eventfd.h>

#define LATENCY_BUCKETS 32      /* [2^N us, 2^(N+1) us) */

struct PostcopyIncoming {
    int uffd;
    int quit_fd;
    int cpu_latency;                /* PM QoS handle while listening */
    uint64_t features;
    QemuThread fault_thread;
    bool fault_thread_running;
    bool quit;                      /* atomic */
    GHashTable *zeropage_ok;        /* RAMBlock * set */
    PostcopyTmpPage *tmp[RAM_CHANNEL__MAX];    /* one per channel */
    RAMBlock *last_req_block;       /* fault thread only */

    QemuMutex req_lock;             /* everything below */
    GHashTable *requested;          /* host page address -> start ns */
    uint64_t requests;
    uint64_t latency_count;
    uint64_t latency_sum_ns;
    uint64_t latency_max_ns;
    uint64_t latency_hist[LATENCY_BUCKETS];
    /* Blocktime, per vCPU slot. */
    int nvcpus;
    int64_t *vcpu_fault_start;      /* ns, 0 when not blocked */
    uintptr_t *vcpu_fault_addr;
    uint64_t *vcpu_blocktime_ns;
    int blocked;                    /* vCPUs blocked now */
    int64_t all_blocked_start;
    uint64_t total_blocktime_ns;
};

void postcopy_incoming_create(MigrationIncomingState *mis)
{
    PostcopyIncoming *pc = g_new0(PostcopyIncoming, 1);

    pc->uffd = pc->quit_fd = pc->cpu_latency = -1;
    qemu_mutex_init(&pc->req_lock);
    pc->requested = g_hash_table_new(NULL, NULL);
    pc->zeropage_ok = g_hash_table_new(NULL, NULL);
    /* QEMU reports one slot even for a machine without a CPU. */
    pc->nvcpus = MAX(cpus_vcpu_count(), 1);
    pc->vcpu_fault_start = g_new0(int64_t, pc->nvcpus);
    pc->vcpu_fault_addr = g_new0(uintptr_t, pc->nvcpus);
    pc->vcpu_blocktime_ns = g_new0(uint64_t, pc->nvcpus);
    mis->postcopy = pc;
}

int postcopy_uffd(MigrationIncomingState *mis)
{
    return mis->postcopy->uffd;
}

bool postcopy_block_zeropage_ok(MigrationIncomingState *mis, RAMBlock *rb)
{
    return g_hash_table_contains(mis->postcopy->zeropage_ok, rb);
}

PostcopyTmpPage *postcopy_incoming_tmp_page(MigrationIncomingState *mis,
                                            int channel)
{
    return mis->postcopy->tmp[channel];
}

/* ---- requests ---- */

static void send_request(MigrationIncomingState *mis, RAMBlock *rb,
                         uint64_t host_offset)
{
    PostcopyIncoming *pc = mis->postcopy;

    if (rb != pc->last_req_block) {
        migrate_send_rp_req_pages_id(mis, rb->idstr, host_offset,
                                     rb->page_size);
        pc->last_req_block = rb;
    } else {
        migrate_send_rp_req_pages(mis, host_offset, rb->page_size);
    }
}

static void blocktime_begin(PostcopyIncoming *pc, int vcpu,
                            uintptr_t addr, int64_t now)
{
    if (vcpu < 0 || vcpu >= pc->nvcpus || pc->vcpu_fault_start[vcpu]) {
        return;
    }
    pc->vcpu_fault_start[vcpu] = now;
    pc->vcpu_fault_addr[vcpu] = addr;
    if (++pc->blocked == pc->nvcpus) {
        pc->all_blocked_start = now;
    }
}

static void blocktime_end(PostcopyIncoming *pc, uintptr_t addr, int64_t now)
{
    for (int i = 0; i < pc->nvcpus; i++) {
        if (pc->vcpu_fault_start[i] && pc->vcpu_fault_addr[i] == addr) {
            pc->vcpu_blocktime_ns[i] += now - pc->vcpu_fault_start[i];
            if (pc->blocked == pc->nvcpus) {
                pc->total_blocktime_ns += now - pc->all_blocked_start;
            }
            pc->vcpu_fault_start[i] = 0;
            pc->blocked--;
        }
    }
}

/* One fault: ask for its host page unless already there or asked for. */
static void handle_fault(MigrationIncomingState *mis, uintptr_t addr,
                         uint32_t tid)
{
    PostcopyIncoming *pc = mis->postcopy;
    int64_t now = get_clock();
    ram_addr_t offset;
    RAMBlock *rb = qemu_ram_block_from_host((void *)addr, &offset);
    uint64_t host_off;
    uintptr_t key;
    bool send = false;

    if (!rb || offset >= rb->postcopy_length) {
        trace_postcopy_fault_unknown(addr);
        return;
    }
    host_off = QEMU_ALIGN_DOWN(offset, rb->page_size);
    key = (uintptr_t)rb->host + host_off;
    trace_postcopy_fault(rb->idstr, host_off, tid);
    qemu_mutex_lock(&pc->req_lock);
    /*
     * A page placed since the kernel queued this fault has already woken
     * the thread: no blocktime, no request.  The placer sets the bit
     * before it takes req_lock in postcopy_page_placed(), so a fault we
     * count here is always ended there.
     */
    if (test_bit(host_off >> TARGET_PAGE_BITS, rb->receivedmap)) {
        qemu_mutex_unlock(&pc->req_lock);
        trace_postcopy_fault_already_placed(rb->idstr, host_off);
        return;
    }
    blocktime_begin(pc, cpus_vcpu_index_from_tid(tid), key, now);
    if (!g_hash_table_contains(pc->requested, (gpointer)key)) {
        g_hash_table_insert(pc->requested, (gpointer)key,
                            (gpointer)(uintptr_t)now);
        pc->requests++;
        send = true;
    }
    qemu_mutex_unlock(&pc->req_lock);
    if (send) {
        trace_postcopy_request(rb->idstr, host_off, rb->page_size);
        send_request(mis, rb, host_off);
    }
}

void postcopy_page_placed(MigrationIncomingState *mis, RAMBlock *rb,
                          uint64_t host_offset)
{
    PostcopyIncoming *pc = mis->postcopy;
    uintptr_t key = (uintptr_t)rb->host + host_offset;
    gpointer start;
    int64_t now;

    if (!qatomic_read(&pc->requests)) {
        return;         /* nothing was ever asked for */
    }
    now = get_clock();
    QEMU_LOCK_GUARD(&pc->req_lock);
    if (g_hash_table_steal_extended(pc->requested, (gpointer)key, NULL,
                                    &start)) {
        uint64_t ns = now - (int64_t)(uintptr_t)start;
        uint64_t us = ns / 1000;
        int b = us ? MIN(63 - __builtin_clzll(us), LATENCY_BUCKETS - 1) : 0;

        pc->latency_count++;
        pc->latency_sum_ns += ns;
        pc->latency_max_ns = MAX(pc->latency_max_ns, ns);
        pc->latency_hist[b]++;
        trace_postcopy_request_done(rb->idstr, host_offset, ns);
    }
    if (pc->blocked) {
        blocktime_end(pc, key, now);
    }
}

/* ---- the fault thread ---- */

static void *postcopy_fault_thread(void *opaque)
{
    MigrationIncomingState *mis = opaque;
    PostcopyIncoming *pc = mis->postcopy;

    trace_postcopy_fault_thread(1);
    for (;;) {
        struct pollfd p[2] = {
            { .fd = pc->uffd, .events = POLLIN },
            { .fd = pc->quit_fd, .events = POLLIN },
        };
        struct uffd_msg msg[16];
        ssize_t n;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (qatomic_read(&pc->quit)) {
            break;
        }
        if (!(p[0].revents & POLLIN)) {
            if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                break;
            }
            continue;
        }
        n = read(pc->uffd, msg, sizeof(msg));
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            break;
        }
        for (ssize_t i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
            if (msg[i].event != UFFD_EVENT_PAGEFAULT) {
                continue;
            }
            handle_fault(mis, msg[i].arg.pagefault.address,
                         (pc->features & UFFD_FEATURE_THREAD_ID)
                         ? msg[i].arg.pagefault.feat.ptid : 0);
        }
    }
    trace_postcopy_fault_thread(0);
    return NULL;
}

bool postcopy_fault_start(MigrationIncomingState *mis, Error **errp)
{
    PostcopyIncoming *pc = mis->postcopy;
    uint64_t avail = 0, want = 0;
    size_t largest = TARGET_PAGE_SIZE;
    RAMBlock *rb;
    int probe;

    /* Learn the features, then open with the ones we use. */
    probe = uffd_open(0, &avail, errp);
    if (probe < 0) {
        return false;
    }
    close(probe);
    want = avail & UFFD_FEATURE_THREAD_ID;
    pc->uffd = uffd_open(want, &pc->features, errp);
    if (pc->uffd < 0) {
        return false;
    }
    RAMBLOCK_FOREACH(rb) {
        uint64_t ioctls = 0;

        if (!uffd_register(pc->uffd, rb->host, rb->postcopy_length, &ioctls,
                           errp)) {
            return false;
        }
        if (!(ioctls & (1ULL << _UFFDIO_COPY))) {
            error_setg(errp, "userfaultfd cannot UFFDIO_COPY into %s",
                       rb->idstr);
            return false;
        }
        if ((ioctls & (1ULL << _UFFDIO_ZEROPAGE)) &&
            !qemu_ram_is_hugetlb(rb)) {
            g_hash_table_add(pc->zeropage_ok, rb);
        }
        largest = MAX(largest, rb->page_size);
        trace_postcopy_register(rb->idstr, rb->postcopy_length, ioctls);
    }
    for (int i = 0; i < RAM_CHANNEL__MAX; i++) {
        pc->tmp[i] = postcopy_tmp_page_new(largest);
    }
    pc->quit_fd = eventfd(0, EFD_CLOEXEC);
    if (pc->quit_fd < 0) {
        error_setg_errno(errp, errno, "eventfd failed");
        return false;
    }
    qemu_thread_create(&pc->fault_thread, "mig/dst/fault",
                       postcopy_fault_thread, mis, QEMU_THREAD_JOINABLE);
    pc->fault_thread_running = true;
    pc->cpu_latency = migration_cpu_latency_hold();
    return true;
}

void postcopy_cpu_latency_drop(MigrationIncomingState *mis)
{
    if (mis->postcopy) {
        migration_cpu_latency_release(&mis->postcopy->cpu_latency);
    }
}

void postcopy_ram_incoming_cleanup(MigrationIncomingState *mis)
{
    PostcopyIncoming *pc = mis->postcopy;
    RAMBlock *rb;

    if (!pc) {
        return;
    }
    if (pc->fault_thread_running) {
        uint64_t one = 1;
        ssize_t r;

        qatomic_set(&pc->quit, true);
        r = write(pc->quit_fd, &one, sizeof(one));
        (void)r;
        qemu_thread_join(&pc->fault_thread);
        pc->fault_thread_running = false;
    }
    if (pc->uffd >= 0) {
        RAMBLOCK_FOREACH(rb) {
            uffd_unregister(pc->uffd, rb->host, rb->postcopy_length, NULL);
        }
        close(pc->uffd);
        pc->uffd = -1;
    }
    if (pc->quit_fd >= 0) {
        close(pc->quit_fd);
        pc->quit_fd = -1;
    }
    migration_cpu_latency_release(&pc->cpu_latency);
    trace_postcopy_cleanup(pc->requests, pc->latency_count);
}

void postcopy_incoming_free(MigrationIncomingState *mis)
{
    PostcopyIncoming *pc = mis->postcopy;

    if (!pc) {
        return;
    }
    for (int i = 0; i < RAM_CHANNEL__MAX; i++) {
        postcopy_tmp_page_free(pc->tmp[i]);
    }
    g_hash_table_destroy(pc->requested);
    g_hash_table_destroy(pc->zeropage_ok);
    g_free(pc->vcpu_fault_start);
    g_free(pc->vcpu_fault_addr);
    g_free(pc->vcpu_blocktime_ns);
    qemu_mutex_destroy(&pc->req_lock);
    g_free(pc);
    mis->postcopy = NULL;
}

/* ---- query-migrate ---- */

void postcopy_write_stats(MigrationIncomingState *mis, JSONWriter *w)
{
    PostcopyIncoming *pc = mis->postcopy;
    int st = qatomic_read(&mis->state);
    int last = -1;

    if (!pc) {
        return;
    }
    QEMU_LOCK_GUARD(&pc->req_lock);
    /* QEMU 7.2 reports blocktime only once the migration completed. */
    if (migrate_postcopy_blocktime() && st == MIGRATION_STATUS_COMPLETED) {
        json_writer_uint64(w, "postcopy-blocktime",
                           pc->total_blocktime_ns / 1000000);
        json_writer_start_list(w, "postcopy-vcpu-blocktime");
        for (int i = 0; i < pc->nvcpus; i++) {
            json_writer_uint64(w, NULL, pc->vcpu_blocktime_ns[i] / 1000000);
        }
        json_writer_end_list(w);
    }
    /* Beyond 7.2: request count and fault-to-placement latency (us). */
    json_writer_uint64(w, "postcopy-requests", pc->requests);
    json_writer_uint64(w, "postcopy-latency",
                       pc->latency_count ? pc->latency_sum_ns /
                       pc->latency_count / 1000 : 0);
    json_writer_uint64(w, "postcopy-latency-max",
                       pc->latency_max_ns / 1000);
    for (int i = 0; i < LATENCY_BUCKETS; i++) {
        if (pc->latency_hist[i]) {
            last = i;
        }
    }
    json_writer_start_list(w, "postcopy-latency-dist");
    for (int i = 0; i <= last; i++) {
        json_writer_uint64(w, NULL, pc->latency_hist[i]);
    }
    json_writer_end_list(w);
}
