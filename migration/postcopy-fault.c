/*
 * postcopy-fault.c: the destination's userfaultfd, the fault thread, page
 * requests, and the statistics of faults.
 *
 * The fault thread polls the userfaultfd and a quit eventfd.  For each
 * fault it finds the RAMBlock and host page, notes the fault, and asks
 * the source for the page over the return path — once: a page still in
 * flight is not asked for again.  The table of requests (keyed by host
 * page address) holds every fault still waiting on each page.  When the
 * page is placed (postcopy-place.c), its faults complete: each one's
 * latency (fault to placement) goes into the statistics, and vCPUs that
 * were blocked on it stop accumulating blocktime.
 *
 * From the break until POSTCOPY_RESUME requests are closed: they are
 * not sent (the return path may be gone, or be a new link whose source
 * takes no request before it resumed) but stay in the table, and the
 * resume asks for every page in it again (postcopy_resend_requests())
 * and opens requests again, so that the fault thread sends nothing on
 * the new link before.  send_lock orders the two senders, so that the
 * "last named block" of REQ_PAGES is always the one the source saw last.
 *
 * Statistics follow QEMU 10.1's definitions: per fault (each thread that
 * faulted on a missing page), split into vCPU threads and the others
 * (qtest, the monitor, device emulation); blocktime per vCPU is the sum
 * of its faults' latencies, and the total blocktime is the time during
 * which every vCPU was blocked at once.  ferry's qtest accelerator has no
 * vCPU, so there every fault is a non-vCPU fault.
 */
#include "qemu/osdep.h"
#include "postcopy-int.h"
#include "return-path.h"
#include "migration.h"
#include "options.h"
#include "qemu/atomic.h"
#include "qemu/userfaultfd.h"
#include "qapi/qmp/json-writer.h"
#include "sysemu/cpus.h"
#include "trace.h"
#include <poll.h>
#include <sys/eventfd.h>

/* QEMU 10.1 reports this many buckets: up to [2^23, 2^24) us. */
#define QEMU_LATENCY_BUCKETS 24

/* One thread waiting for a page. */
typedef struct PostcopyFault {
    int vcpu;                       /* -1: not a vCPU thread */
    int64_t start_ns;
} PostcopyFault;

/* A page asked for and not yet placed: every fault waiting on it. */
typedef struct PostcopyRequest {
    RAMBlock *rb;
    uint64_t host_offset;
    GArray *faults;                 /* PostcopyFault */
} PostcopyRequest;

static void request_free(gpointer p)
{
    PostcopyRequest *req = p;

    g_array_free(req->faults, true);
    g_free(req);
}

void postcopy_fault_init(PostcopyIncoming *pc)
{
    pc->quit_fd = -1;
    pc->cpu_latency = -1;
    qemu_mutex_init(&pc->send_lock);
    qemu_mutex_init(&pc->req_lock);
    pc->requested = g_hash_table_new_full(NULL, NULL, NULL, request_free);
    /* QEMU reports one slot even for a machine without a CPU. */
    pc->nvcpus = MAX(cpus_vcpu_count(), 1);
    pc->vcpu_fault_start = g_new0(int64_t, pc->nvcpus);
    pc->vcpu_fault_addr = g_new0(uintptr_t, pc->nvcpus);
    pc->vcpu_blocktime_ns = g_new0(uint64_t, pc->nvcpus);
    pc->vcpu_req_count = g_new0(uint64_t, pc->nvcpus);
    pc->vcpu_req_sum_ns = g_new0(uint64_t, pc->nvcpus);
}

void postcopy_fault_fini(PostcopyIncoming *pc)
{
    g_hash_table_destroy(pc->requested);
    g_free(pc->vcpu_fault_start);
    g_free(pc->vcpu_fault_addr);
    g_free(pc->vcpu_blocktime_ns);
    g_free(pc->vcpu_req_count);
    g_free(pc->vcpu_req_sum_ns);
    qemu_mutex_destroy(&pc->req_lock);
    qemu_mutex_destroy(&pc->send_lock);
}

bool postcopy_block_zeropage_ok(PostcopyIncoming *pc, RAMBlock *rb)
{
    return g_hash_table_contains(pc->zeropage_ok, rb);
}

/* ---- requests ---- */

/* send_lock held. */
static void send_request(PostcopyIncoming *pc, RAMBlock *rb,
                         uint64_t host_offset)
{
    bool named = rb != pc->last_req_block;

    if (pc->requests_open &&
        rp_send_req_pages(pc->mis->rp, rb, named, host_offset,
                          rb->page_size)) {
        pc->last_req_block = rb;
    } else {
        /* No link: the recovery asks again, naming the block first. */
        pc->last_req_block = NULL;
        trace_postcopy_request_unsent(rb->idstr, host_offset);
    }
}

void postcopy_requests_close(PostcopyIncoming *pc)
{
    QEMU_LOCK_GUARD(&pc->send_lock);
    pc->requests_open = false;
    pc->last_req_block = NULL;
}

void postcopy_resend_requests(PostcopyIncoming *pc)
{
    g_autoptr(GArray) pages = g_array_new(false, false,
                                          sizeof(PostcopyRequest));
    GHashTableIter it;
    gpointer value;

    QEMU_LOCK_GUARD(&pc->send_lock);
    /* The source forgot which block we named last. */
    pc->last_req_block = NULL;
    pc->requests_open = true;
    qemu_mutex_lock(&pc->req_lock);
    g_hash_table_iter_init(&it, pc->requested);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PostcopyRequest *req = value;
        PostcopyRequest copy = { .rb = req->rb,
                                 .host_offset = req->host_offset };

        g_array_append_val(pages, copy);
    }
    pc->requests += pages->len;
    pc->requests_resent += pages->len;
    qemu_mutex_unlock(&pc->req_lock);
    trace_postcopy_resend_requests(pages->len);
    for (guint i = 0; i < pages->len; i++) {
        PostcopyRequest *req = &g_array_index(pages, PostcopyRequest, i);

        send_request(pc, req->rb, req->host_offset);
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

/* One fault: note it, and ask for its host page unless already asked. */
static void handle_fault(PostcopyIncoming *pc, uintptr_t addr, uint32_t tid)
{
    int64_t now = get_clock();
    ram_addr_t offset;
    RAMBlock *rb = qemu_ram_block_from_host((void *)addr, &offset);
    PostcopyFault fault;
    PostcopyRequest *req;
    uint64_t host_off;
    uintptr_t key;
    bool send = false;

    if (!rb || offset >= rb->postcopy_length) {
        trace_postcopy_fault_unknown(addr);
        return;
    }
    host_off = QEMU_ALIGN_DOWN(offset, rb->page_size);
    key = (uintptr_t)rb->host + host_off;
    fault.vcpu = cpus_vcpu_index_from_tid(tid);
    fault.start_ns = now;
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
    blocktime_begin(pc, fault.vcpu, key, now);
    /* (The listen thread places its pages itself for a while.) */
    qatomic_set(&pc->last_fault_ns, now);
    req = g_hash_table_lookup(pc->requested, (gpointer)key);
    if (!req) {
        req = g_new0(PostcopyRequest, 1);
        req->rb = rb;
        req->host_offset = host_off;
        req->faults = g_array_sized_new(false, false, sizeof(PostcopyFault),
                                        1);
        g_hash_table_insert(pc->requested, (gpointer)key, req);
        pc->requests++;
        send = true;
    }
    g_array_append_val(req->faults, fault);
    qemu_mutex_unlock(&pc->req_lock);
    if (send) {
        trace_postcopy_request(rb->idstr, host_off, rb->page_size);
        QEMU_LOCK_GUARD(&pc->send_lock);
        send_request(pc, rb, host_off);
    }
}

static void account_fault(PostcopyIncoming *pc, const PostcopyFault *f,
                          int64_t now)
{
    uint64_t ns = now - f->start_ns;
    uint64_t us = ns / 1000;
    int b = us ? MIN(63 - __builtin_clzll(us),
                     POSTCOPY_LATENCY_BUCKETS - 1) : 0;

    pc->latency_count++;
    pc->latency_sum_ns += ns;
    pc->latency_max_ns = MAX(pc->latency_max_ns, ns);
    pc->latency_hist[b]++;
    if (f->vcpu >= 0 && f->vcpu < pc->nvcpus) {
        pc->vcpu_req_count[f->vcpu]++;
        pc->vcpu_req_sum_ns[f->vcpu] += ns;
    }
}

void postcopy_page_placed(PostcopyIncoming *pc, RAMBlock *rb,
                          uint64_t host_offset)
{
    uintptr_t key = (uintptr_t)rb->host + host_offset;
    PostcopyRequest *req;
    bool all_served = false;
    int64_t now;

    if (qatomic_read(&pc->recoveries)) {
        qatomic_inc(&pc->pages_after_recovery);
    }
    now = get_clock();
    qemu_mutex_lock(&pc->req_lock);
    req = g_hash_table_lookup(pc->requested, (gpointer)key);
    if (req) {
        for (guint i = 0; i < req->faults->len; i++) {
            account_fault(pc, &g_array_index(req->faults, PostcopyFault, i),
                          now);
        }
        trace_postcopy_request_done(rb->idstr, host_offset,
                                    now - g_array_index(req->faults,
                                                        PostcopyFault,
                                                        0).start_ns);
        g_hash_table_remove(pc->requested, (gpointer)key);
        all_served = g_hash_table_size(pc->requested) == 0;
    }
    if (pc->blocked) {
        blocktime_end(pc, key, now);
    }
    qemu_mutex_unlock(&pc->req_lock);
    if (all_served) {
        /* The end may wait for this (postcopy_preempt_wait_done()). */
        qemu_mutex_lock(&pc->pause_lock);
        qemu_cond_broadcast(&pc->pause_cond);
        qemu_mutex_unlock(&pc->pause_lock);
    }
}

/* ---- the fault thread ---- */

static void *postcopy_fault_thread(void *opaque)
{
    PostcopyIncoming *pc = opaque;

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
            handle_fault(pc, msg[i].arg.pagefault.address,
                         (pc->features & UFFD_FEATURE_THREAD_ID)
                         ? msg[i].arg.pagefault.feat.ptid : 0);
        }
    }
    trace_postcopy_fault_thread(0);
    return NULL;
}

bool postcopy_fault_start(PostcopyIncoming *pc, Error **errp)
{
    uint64_t avail = 0, want = 0;
    size_t largest = TARGET_PAGE_SIZE;
    RAMBlock *rb;
    int probe;

    if (pc->harness) {
        /* (No userfaultfd: placement copies, nothing is requested.) */
        RAMBLOCK_FOREACH(rb) {
            if (!qemu_ram_is_hugetlb(rb)) {
                g_hash_table_add(pc->zeropage_ok, rb);
            }
            largest = MAX(largest, rb->page_size);
        }
        for (int i = 0; i < RAM_CHANNEL__MAX; i++) {
            pc->tmp[i] = postcopy_tmp_page_new(largest);
        }
        return true;
    }
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
    pc->requests_open = true;
    qemu_thread_create(&pc->fault_thread, "mig/dst/fault",
                       postcopy_fault_thread, pc, QEMU_THREAD_JOINABLE);
    pc->fault_thread_running = true;
    postcopy_cpu_latency_take(pc);
    return true;
}

void postcopy_cpu_latency_take(PostcopyIncoming *pc)
{
    if (pc->cpu_latency < 0) {
        pc->cpu_latency = migration_cpu_latency_hold();
    }
}

void postcopy_cpu_latency_drop(PostcopyIncoming *pc)
{
    migration_cpu_latency_release(&pc->cpu_latency);
}

/*
 * Unregistering wakes every thread still waiting for a page (it then
 * reads zeroes: after a failure that no longer matters).
 */
void postcopy_fault_stop(PostcopyIncoming *pc)
{
    RAMBlock *rb;

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
            /*
             * Huge pages back on, as QEMU 7.2's cleanup_range() does once
             * its fault thread has run: they were off since the first
             * DISCARD or LISTEN (postcopy-ram.c's disable_thp()).
             */
            (void)madvise(rb->host, rb->postcopy_length, MADV_HUGEPAGE);
        }
        close(pc->uffd);
        pc->uffd = -1;
    }
    if (pc->quit_fd >= 0) {
        close(pc->quit_fd);
        pc->quit_fd = -1;
    }
    postcopy_cpu_latency_drop(pc);
    trace_postcopy_cleanup(pc->requests, pc->latency_count);
}

/* ---- query-migrate ---- */

static uint64_t avg(uint64_t sum, uint64_t n)
{
    return n ? sum / n : 0;
}

/* QEMU 10.1's members, in its order: blocktime capability, completed. */
static void write_qemu_stats(PostcopyIncoming *pc, JSONWriter *w)
{
    uint64_t vcpu_sum = 0, vcpu_n = 0;

    json_writer_uint64(w, "postcopy-blocktime",
                       (uint32_t)(pc->total_blocktime_ns / 1000000));
    json_writer_start_list(w, "postcopy-vcpu-blocktime");
    for (int i = 0; i < pc->nvcpus; i++) {
        json_writer_uint64(w, NULL,
                           (uint32_t)(pc->vcpu_blocktime_ns[i] / 1000000));
        vcpu_sum += pc->vcpu_req_sum_ns[i];
        vcpu_n += pc->vcpu_req_count[i];
    }
    json_writer_end_list(w);
    json_writer_uint64(w, "postcopy-latency",
                       avg(pc->latency_sum_ns, pc->latency_count));
    json_writer_start_list(w, "postcopy-latency-dist");
    for (int i = 0; i < QEMU_LATENCY_BUCKETS; i++) {
        uint64_t n = pc->latency_hist[i];

        /* Slower faults (over 16 s) count in the last bucket. */
        for (int j = QEMU_LATENCY_BUCKETS;
             i == QEMU_LATENCY_BUCKETS - 1 && j < POSTCOPY_LATENCY_BUCKETS;
             j++) {
            n += pc->latency_hist[j];
        }
        json_writer_uint64(w, NULL, n);
    }
    json_writer_end_list(w);
    json_writer_start_list(w, "postcopy-vcpu-latency");
    for (int i = 0; i < pc->nvcpus; i++) {
        json_writer_uint64(w, NULL, avg(pc->vcpu_req_sum_ns[i],
                                        pc->vcpu_req_count[i]));
    }
    json_writer_end_list(w);
    json_writer_uint64(w, "postcopy-non-vcpu-latency",
                       avg(pc->latency_sum_ns - vcpu_sum,
                           pc->latency_count - vcpu_n));
}

void postcopy_write_stats(PostcopyIncoming *pc, int st, JSONWriter *w)
{
    int last = -1;
    uint64_t paused_ns;

    if (!pc || (!postcopy_incoming_listening(pc) &&
                postcopy_get_state(pc) != POSTCOPY_INCOMING_END)) {
        return;
    }
    QEMU_LOCK_GUARD(&pc->req_lock);
    if (migrate_postcopy_blocktime() && st == MIGRATION_STATUS_COMPLETED) {
        write_qemu_stats(pc, w);
    }
    /* ferry's own, live in every status (not in QEMU: x- names). */
    json_writer_uint64(w, "x-postcopy-requests", pc->requests);
    json_writer_uint64(w, "x-postcopy-latency",
                       avg(pc->latency_sum_ns, pc->latency_count));
    json_writer_uint64(w, "x-postcopy-latency-max", pc->latency_max_ns);
    for (int i = 0; i < POSTCOPY_LATENCY_BUCKETS; i++) {
        if (pc->latency_hist[i]) {
            last = i;
        }
    }
    json_writer_start_list(w, "x-postcopy-latency-dist");
    for (int i = 0; i <= last; i++) {
        json_writer_uint64(w, NULL, pc->latency_hist[i]);
    }
    json_writer_end_list(w);
    paused_ns = pc->paused_ns;
    if (pc->paused_since) {
        paused_ns += get_clock() - pc->paused_since;
    }
    json_writer_uint64(w, "x-postcopy-recoveries", pc->recoveries);
    json_writer_uint64(w, "x-postcopy-paused-time", paused_ns / 1000000);
    json_writer_uint64(w, "x-postcopy-requests-resent", pc->requests_resent);
    json_writer_uint64(w, "x-postcopy-pages-after-recovery",
                       qatomic_read(&pc->pages_after_recovery));
}
