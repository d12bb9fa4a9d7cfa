/*
 * multifd-send.c: the source's multifd channels.
 *
 * The migration thread finds dirty pages as usual (ram.c); a zero page
 * still goes on the main channel as a ZERO record, any other is added to
 * a batch: up to 128 pages of one RAMBlock.  A full batch, or a change of
 * block, becomes a job for the least loaded channel (round-robin among
 * equals).  Each channel has a thread that sends its jobs in order as
 * packets: the 1344-byte header, then the pages straight from guest
 * memory in one writev (or the method's compressed bytes).
 *
 *   migration thread                   channel thread (one per channel)
 *   multifd_send_setup: connect N  ──► hello (64 bytes)
 *   multifd_queue_page ... ─ job ───►  header + pages
 *   multifd_send_sync (each section's end): partial batch, then a SYNC
 *   job on every channel, in id order; then EOS on the main channel
 *   multifd_send_drain (completion) ◄─ queues empty
 *   multifd_send_cleanup: quit, join, close
 *
 * The barrier never waits for the peer: the destination enforces it
 * (multifd-recv.c), so the source only has to keep each channel's
 * packets in order, which one thread per channel does.  The migration
 * thread waits only for room in the queues (a few jobs per channel), and
 * not even that under the BQL: the completion, which runs under it,
 * queues what is left (jobs only point into the stopped guest's memory)
 * and drains after the BQL is released.
 *
 * Failure: a channel that cannot write records its error on the main
 * channel's QEMUFile — the migration's first error, whichever channel
 * saw it — and shuts every channel down, so that nothing waits; the
 * migration fails and the source VM goes on running (outgoing.c).
 *
 * Locking: lock covers the queues, busy, quit and failed; the batch,
 * next and packet_num belong to the migration thread.
 */
#include "qemu/osdep.h"
#include "multifd.h"
#include "options.h"
#include "transport.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "trace.h"

/* Jobs a channel may have queued before the migration thread waits. */
#define MULTIFD_QUEUE_DEPTH     3
/* The socket send queue of a channel (as the main channel's in precopy). */
#define MULTIFD_SEND_QUEUE      (4 * 1024 * 1024)

typedef struct MultiFDJob {
    uint32_t flags;                 /* MULTIFD_FLAG_SYNC or 0 */
    uint64_t packet_num;
    RAMBlock *rb;
    unsigned num;
    uint64_t offset[MULTIFD_PAGES_MAX];
} MultiFDJob;

typedef struct MultiFDSendChannel {
    MultiFDSendState *ms;
    unsigned id;
    QEMUFile *f;
    QemuThread thread;
    bool thread_running;
    GQueue jobs;                    /* lock */
    bool busy;                      /* lock: a job is being sent */
    void *comp;                     /* the method's stream */
    uint8_t *comp_buf;
} MultiFDSendChannel;

struct MultiFDSendState {
    unsigned n;
    MultiFDSendChannel *ch;
    QEMUFile *main;
    const MultiFDMethod *method;    /* NULL: none */
    QemuMutex lock;
    QemuCond work_cond;             /* a job, or quit */
    QemuCond done_cond;             /* a job done, or failed */
    bool quit;
    bool failed;
    MultiFDJob *batch;
    unsigned next;
    uint64_t packet_num;
    uint64_t bytes;                 /* atomic */
};

static void multifd_send_fail(MultiFDSendState *ms, MultiFDSendChannel *ch,
                              Error *err)
{
    bool first;

    error_prepend(&err, "multifd channel %u: ", ch->id);
    trace_multifd_send_error(ch->id, error_get_pretty(err));
    qemu_mutex_lock(&ms->lock);
    first = !ms->failed;
    ms->failed = true;
    qemu_cond_broadcast(&ms->done_cond);
    qemu_cond_broadcast(&ms->work_cond);
    qemu_mutex_unlock(&ms->lock);
    if (first) {
        /* The first error of the migration (unless the main one came). */
        qemu_file_set_error_obj(ms->main, -EIO, err);
        multifd_send_shutdown(ms);
        qemu_file_shutdown(ms->main);
    } else {
        error_free(err);
    }
}

/* Puts @job on the wire; false with @errp on error. */
static bool multifd_send_job(MultiFDSendChannel *ch, MultiFDJob *job,
                             Error **errp)
{
    MultiFDSendState *ms = ch->ms;
    uint8_t hdr[MULTIFD_HEADER_SIZE];
    MultiFDHeader h = {
        .magic = MULTIFD_MAGIC,
        .version = MULTIFD_VERSION,
        .flags = job->flags,
        .pages_alloc = MULTIFD_PAGES_MAX,
        .normal_pages = job->num,
        .packet_num = job->packet_num,
    };
    uint64_t before = qemu_file_total_transferred(ch->f);
    ssize_t clen = 0;

    if (job->num) {
        g_strlcpy(h.ramblock, job->rb->idstr, sizeof(h.ramblock));
        memcpy(h.offset, job->offset, job->num * sizeof(job->offset[0]));
        h.next_packet_size = job->num * TARGET_PAGE_SIZE;
    }
    if (job->num && ms->method) {
        uint8_t *pages[MULTIFD_PAGES_MAX];

        for (unsigned i = 0; i < job->num; i++) {
            pages[i] = job->rb->host + job->offset[i];
        }
        clen = ms->method->compress(ch->comp, pages, job->num, ch->comp_buf,
                                    MULTIFD_COMP_MAX, errp);
        if (clen < 0) {
            return false;
        }
        h.flags |= ms->method->flag;
        h.next_packet_size = clen;
    }
    multifd_header_encode(&h, hdr);
    qemu_put_buffer(ch->f, hdr, sizeof(hdr));
    if (clen) {
        qemu_put_buffer_async(ch->f, ch->comp_buf, clen);
    } else {
        for (unsigned i = 0; i < job->num; i++) {
            qemu_put_buffer_async(ch->f, job->rb->host + job->offset[i],
                                  TARGET_PAGE_SIZE);
        }
    }
    qemu_fflush(ch->f);
    if (qemu_file_get_error_obj(ch->f, errp)) {
        return false;
    }
    before = qemu_file_total_transferred(ch->f) - before;
    qatomic_add(&ms->bytes, before);
    trace_multifd_send_packet(ch->id, job->packet_num, job->flags, job->num,
                              h.next_packet_size);
    return true;
}

static void *multifd_send_thread(void *opaque)
{
    MultiFDSendChannel *ch = opaque;
    MultiFDSendState *ms = ch->ms;
    uint8_t hello[MULTIFD_HELLO_SIZE];
    Error *err = NULL;

    multifd_hello_encode(ch->id, hello);
    qemu_put_buffer(ch->f, hello, sizeof(hello));
    qemu_fflush(ch->f);
    if (qemu_file_get_error_obj(ch->f, &err)) {
        multifd_send_fail(ms, ch, err);
        return NULL;
    }
    trace_multifd_send_hello(ch->id);
    for (;;) {
        MultiFDJob *job;
        bool ok;

        qemu_mutex_lock(&ms->lock);
        while (!ms->failed && !ms->quit && g_queue_is_empty(&ch->jobs)) {
            qemu_cond_wait(&ms->work_cond, &ms->lock);
        }
        if (ms->failed || g_queue_is_empty(&ch->jobs)) {
            qemu_mutex_unlock(&ms->lock);
            break;
        }
        job = g_queue_pop_head(&ch->jobs);
        ch->busy = true;
        qemu_mutex_unlock(&ms->lock);

        ok = multifd_send_job(ch, job, &err);
        g_free(job);
        qemu_mutex_lock(&ms->lock);
        ch->busy = false;
        qemu_cond_broadcast(&ms->done_cond);
        qemu_mutex_unlock(&ms->lock);
        if (!ok) {
            multifd_send_fail(ms, ch, err);
            break;
        }
    }
    trace_multifd_send_thread_end(ch->id);
    return NULL;
}

/* How much a channel has to do (lock held). */
static unsigned channel_load(MultiFDSendChannel *ch)
{
    return g_queue_get_length(&ch->jobs) + ch->busy;
}

/*
 * Gives @job to the least loaded channel, waiting for room if every one
 * is full and the caller may wait (not under the BQL).  False if the
 * migration failed (the job is dropped).
 */
static bool multifd_hand_out(MultiFDSendState *ms, MultiFDJob *job)
{
    bool may_block = !bql_locked();
    MultiFDSendChannel *best;

    job->packet_num = ms->packet_num++;
    /*
     * The rate limit counts a job when it is queued, at its raw size, as
     * QEMU's does: counted when sent, what sat in the queues at the end
     * of a window went uncounted, and a 32 MB/s limit let 65 MB/s
     * through (4 channels, 1 GiB/s link).
     */
    qemu_file_acct_rate_limit(ms->main, MULTIFD_HEADER_SIZE +
                              (uint64_t)job->num * TARGET_PAGE_SIZE);
    qemu_mutex_lock(&ms->lock);
    for (;;) {
        best = NULL;
        if (ms->failed) {
            break;
        }
        for (unsigned i = 0; i < ms->n; i++) {
            MultiFDSendChannel *ch = &ms->ch[(ms->next + i) % ms->n];

            if (!best || channel_load(ch) < channel_load(best)) {
                best = ch;
            }
        }
        if (!may_block || channel_load(best) <= MULTIFD_QUEUE_DEPTH) {
            break;
        }
        qemu_cond_wait(&ms->done_cond, &ms->lock);
    }
    if (best) {
        g_queue_push_tail(&best->jobs, job);
        ms->next = (best->id + 1) % ms->n;
        qemu_cond_broadcast(&ms->work_cond);
    }
    qemu_mutex_unlock(&ms->lock);
    if (!best) {
        g_free(job);
        return false;
    }
    return true;
}

bool multifd_queue_page(MultiFDSendState *ms, RAMBlock *rb, uint64_t offset)
{
    MultiFDJob *b = ms->batch;

    if (b && b->rb != rb) {
        ms->batch = NULL;
        if (!multifd_hand_out(ms, b)) {
            return false;
        }
        b = NULL;
    }
    if (!b) {
        b = ms->batch = g_new(MultiFDJob, 1);
        b->flags = 0;
        b->rb = rb;
        b->num = 0;
    }
    b->offset[b->num++] = offset;
    if (b->num == MULTIFD_PAGES_MAX) {
        ms->batch = NULL;
        return multifd_hand_out(ms, b);
    }
    return true;
}

bool multifd_send_sync(MultiFDSendState *ms)
{
    bool ok;

    if (ms->batch) {
        MultiFDJob *b = g_steal_pointer(&ms->batch);

        if (!multifd_hand_out(ms, b)) {
            return false;
        }
    }
    qemu_mutex_lock(&ms->lock);
    for (unsigned i = 0; i < ms->n && !ms->failed; i++) {
        MultiFDJob *job = g_new0(MultiFDJob, 1);

        job->flags = MULTIFD_FLAG_SYNC;
        job->packet_num = ms->packet_num++;
        g_queue_push_tail(&ms->ch[i].jobs, job);
    }
    qemu_cond_broadcast(&ms->work_cond);
    ok = !ms->failed;
    qemu_mutex_unlock(&ms->lock);
    trace_multifd_send_sync(ms->packet_num);
    return ok;
}

bool multifd_send_drain(MultiFDSendState *ms)
{
    bool ok;

    qemu_mutex_lock(&ms->lock);
    for (;;) {
        unsigned load = 0;

        for (unsigned i = 0; i < ms->n; i++) {
            load += channel_load(&ms->ch[i]);
        }
        if (ms->failed || !load) {
            break;
        }
        qemu_cond_wait(&ms->done_cond, &ms->lock);
    }
    ok = !ms->failed;
    qemu_mutex_unlock(&ms->lock);
    return ok;
}

void multifd_send_shutdown(MultiFDSendState *ms)
{
    /* (lock: the set-up may be filling the files in meanwhile.) */
    QEMU_LOCK_GUARD(&ms->lock);
    for (unsigned i = 0; i < ms->n; i++) {
        if (ms->ch[i].f) {
            qemu_file_shutdown(ms->ch[i].f);
        }
    }
}

uint64_t multifd_send_bytes(MultiFDSendState *ms)
{
    return ms ? qatomic_read(&ms->bytes) : 0;
}

MultiFDSendState *multifd_send_setup(const char *uri, QEMUFile *main,
                                     Error **errp)
{
    MultiFDSendState *ms = g_new0(MultiFDSendState, 1);
    g_autofree char *comp = migrate_multifd_compression();

    if (!migration_uri_multi_channel(uri)) {
        /* (QEMU 7.2 says so on stderr only, and fails with no reason.) */
        error_setg(errp, "multifd is not supported by current protocol");
        g_free(ms);
        return NULL;
    }
    ms->n = migrate_multifd_channels();
    ms->ch = g_new0(MultiFDSendChannel, ms->n);
    ms->main = main;
    ms->method = multifd_method(comp);
    qemu_mutex_init(&ms->lock);
    qemu_cond_init(&ms->work_cond);
    qemu_cond_init(&ms->done_cond);
    trace_multifd_send_setup(ms->n, comp);
    for (unsigned i = 0; i < ms->n; i++) {
        MultiFDSendChannel *ch = &ms->ch[i];
        MigChannel *ioc;

        ch->ms = ms;
        ch->id = i;
        g_queue_init(&ch->jobs);
        if (ms->method) {
            ch->comp = ms->method->send_new(migrate_multifd_level(comp),
                                            errp);
            if (!ch->comp) {
                goto fail;
            }
            ch->comp_buf = g_malloc(MULTIFD_COMP_MAX);
        }
        ioc = migration_connect(uri, errp);
        if (!ioc) {
            error_prepend(errp, "multifd channel %u: ", i);
            goto fail;
        }
        mig_channel_set_send_queue(ioc, MULTIFD_SEND_QUEUE);
        qemu_mutex_lock(&ms->lock);
        ch->f = qemu_file_new_output(ioc);
        qemu_mutex_unlock(&ms->lock);
        mig_channel_unref(ioc);
        qemu_thread_create(&ch->thread, "mig/src/multifd", multifd_send_thread,
                           ch, QEMU_THREAD_JOINABLE);
        ch->thread_running = true;
    }
    return ms;

fail:
    qemu_mutex_lock(&ms->lock);
    ms->failed = true;
    qemu_cond_broadcast(&ms->work_cond);
    qemu_mutex_unlock(&ms->lock);
    multifd_send_shutdown(ms);
    multifd_send_cleanup(ms);
    return NULL;
}

void multifd_send_cleanup(MultiFDSendState *ms)
{
    if (!ms) {
        return;
    }
    qemu_mutex_lock(&ms->lock);
    ms->quit = true;
    qemu_cond_broadcast(&ms->work_cond);
    qemu_mutex_unlock(&ms->lock);
    /* Every thread first: a failing one shuts the others' files down. */
    for (unsigned i = 0; i < ms->n; i++) {
        if (ms->ch[i].thread_running) {
            qemu_thread_join(&ms->ch[i].thread);
        }
    }
    for (unsigned i = 0; i < ms->n; i++) {
        MultiFDSendChannel *ch = &ms->ch[i];
        MultiFDJob *job;

        while ((job = g_queue_pop_head(&ch->jobs))) {
            g_free(job);
        }
        if (ch->f) {
            qemu_fclose(ch->f);
        }
        if (ch->comp) {
            ms->method->send_free(ch->comp);
        }
        g_free(ch->comp_buf);
    }
    g_free(ms->batch);
    g_free(ms->ch);
    qemu_cond_destroy(&ms->work_cond);
    qemu_cond_destroy(&ms->done_cond);
    qemu_mutex_destroy(&ms->lock);
    g_free(ms);
}
