/*
 * postcopy-int.h: inside PostcopyIncoming — for postcopy-*.c only.
 *
 * Who does what:
 *   postcopy-ram.c      life cycle, the commands, the host check
 *   postcopy-place.c    placing pages: host pages, runs, the placer thread
 *   postcopy-fault.c    userfaultfd, the fault thread, page requests and
 *                       their statistics
 *   postcopy-listen.c   the listen thread, pause and recovery, the end
 *   postcopy-preempt.c  the preempt channel's thread
 *
 * Threads (destination):
 *   incoming thread   the stream up to RUN (incoming.c), including the
 *                     commands handled in postcopy-ram.c; loads the
 *                     package while the listen thread already reads
 *   listen thread     the main channel from LISTEN to EOF; pauses on a
 *                     broken link and goes on with the recovered one;
 *                     tears everything down at the end
 *   preempt thread    the preempt channel from LISTEN to the end; parks
 *                     on a broken link (and after an EOS) until the
 *                     recovery gives it a new one
 *   fault thread      userfaults -> page requests, from LISTEN to the end
 *   placer thread     places the main channel's data runs, from the
 *                     listen thread's start to its end (postcopy-place.c)
 *   main loop         accepts the first channels (incoming.c), runs the
 *                     VM after RUN, in-band QMP
 *   accept thread     (or the monitor's I/O thread for fd:, exec:, file:)
 *                     hands a recovery's channels over (migrate-recover)
 *
 * Lock order, outermost first (a thread holding one may take only those
 * below it):
 *   BQL
 *   mis->oob_lock         migrate-pause/-recover against the exit
 *   mis->channel_lock     the channel pointers in MigrationIncomingState
 *   pc->pause_lock        pause and recovery hand-over between threads
 *   pc->send_lock         the order of page requests on the return path
 *   RPWriter's lock       one return-path message at a time
 *   pc->req_lock          the request table and the statistics
 *   pc->error_lock        the first error
 *   mis->loadvm_lock      the loader's section list
 *   pc->placer.lock       the placer's queue (taken with none of the above)
 * No thread holds any of them while it waits for the network, except the
 * RPWriter's lock around a write, which has the link's deadline.
 */
#ifndef MIGRATION_POSTCOPY_INT_H
#define MIGRATION_POSTCOPY_INT_H

#include "postcopy-ram.h"
#include "qemu/thread.h"

#define POSTCOPY_LATENCY_BUCKETS 32    /* [2^N us, 2^(N+1) us) */

typedef struct PostcopyPlacer PostcopyPlacer;

struct PostcopyTmpPage {
    uint8_t *buf;               /* largest host page of any block */
    RAMBlock *rb;
    uint64_t host_offset;
    unsigned pages;             /* target pages received so far */
    unsigned long *have;        /* which ones (a stream may repeat one) */
    unsigned max_pages;         /* target pages in buf */
    bool all_zero;
    /*
     * A run of whole zero host pages, contiguous in one block, not yet
     * placed: one UFFDIO_ZEROPAGE for the run instead of one per page
     * (each call costs microseconds, and a guest's untouched memory is
     * mostly such runs).  The run is placed before any other page, when
     * it reaches ZERO_RUN_MAX, and whenever the channel has no more
     * buffered input, so a requested page never waits for the network.
     */
    RAMBlock *zrun_rb;
    uint64_t zrun_start;
    uint64_t zrun_len;
    /*
     * The same for pages with data, in blocks of 4 KiB host pages: a run
     * of contiguous pages gathered in drun_buf (DATA_RUN_MAX bytes) and
     * placed with one UFFDIO_COPY, under the same rules — by the placer
     * thread, if the channel has one (postcopy-place.c).  At most one of
     * the two runs is pending.
     */
    uint8_t *drun_buf;
    RAMBlock *drun_rb;
    uint64_t drun_start;
    uint64_t drun_len;
    /* The main channel's: its complete data runs go there (or NULL). */
    PostcopyPlacer *placer;
};

/* A data run handed to the placer. */
typedef struct PostcopyRun {
    RAMBlock *rb;
    uint64_t start;
    uint64_t len;
    uint8_t *buf;
} PostcopyRun;

/*
 * Runs in flight (of DATA_RUN_MAX bytes: 2 MiB): the source writes up to
 * 1 MiB at a time in the push, and a queue that holds less made the
 * listen thread wait for the placer while the socket filled up, then the
 * source wait for the listen thread (8 runs: 0.20-0.26 s for 512 MiB,
 * 32: 0.15-0.21 s).
 */
#define POSTCOPY_PLACER_RUNS 32

/*
 * The placer thread and its queue (postcopy-place.c): made by the listen
 * thread, freed by the last of the two to let go (refs).
 */
struct PostcopyPlacer {
    PostcopyIncoming *pc;
    bool bulk;                          /* at nice 10 (preempt) */
    QemuMutex lock;                     /* below */
    QemuCond work;                      /* a run was queued, or quit */
    QemuCond done;                      /* a run was placed */
    int refs;
    PostcopyRun queue[POSTCOPY_PLACER_RUNS];
    unsigned head;                      /* the next one to place */
    unsigned queued;                    /* the one being placed too */
    uint8_t *free_bufs[POSTCOPY_PLACER_RUNS];
    unsigned nfree;
    bool idle;                          /* the placer waits for work */
    bool submit_waits;                  /* the listen thread waits */
    bool quit;
    Error *err;                         /* a placement failed */
};

struct PostcopyIncoming {
    MigrationIncomingState *mis;
    const PostcopyIncomingOps *ops;
    void *opaque;
    int state;                      /* PostcopyState; atomic; changed by
                                       postcopy_state_change() only */

    /* userfaultfd and placement.  Set up at LISTEN by the incoming
     * thread, torn down by the listen thread at the end. */
    bool harness;                   /* postcopy_incoming_set_harness() */
    int uffd;
    uint64_t features;
    GHashTable *zeropage_ok;        /* RAMBlock * set */
    /* One per channel, used only by the thread reading that channel
     * (and reset by the listen thread while the other one is parked). */
    PostcopyTmpPage *tmp[RAM_CHANNEL__MAX];

    /* The fault thread (postcopy-fault.c). */
    QemuThread fault_thread;
    bool fault_thread_running;
    int quit_fd;                    /* eventfd: wakes it to quit */
    int quit;                       /* atomic */
    int cpu_latency;                /* PM QoS handle; listen thread */

    QemuMutex send_lock;            /* below: the request sequence */
    RAMBlock *last_req_block;       /* named by the last REQ_PAGES_ID */
    /*
     * Requests may go out: from LISTEN to a break, and again from
     * POSTCOPY_RESUME (a source takes none before it, as in QEMU).
     */
    bool requests_open;

    QemuMutex req_lock;             /* below: requests and statistics */
    GHashTable *requested;          /* host page address -> fault ns */
    uint64_t requests;              /* sent, including re-sent ones */
    uint64_t requests_resent;       /* re-sent after a recovery */
    uint64_t latency_count;
    uint64_t latency_sum_ns;
    uint64_t latency_max_ns;
    uint64_t latency_hist[POSTCOPY_LATENCY_BUCKETS];
    uint64_t vcpu_latency_count;
    uint64_t vcpu_latency_sum_ns;
    uint64_t *vcpu_req_count;       /* per vCPU: faults on missing pages */
    uint64_t *vcpu_req_sum_ns;      /*   and their total latency */
    uint64_t pages_after_recovery;  /* placed since the first recovery */
    unsigned recoveries;
    uint64_t paused_ns;             /* total time spent paused */
    int64_t paused_since;           /* ns, 0 when not paused */
    /* Blocktime, per vCPU slot. */
    int nvcpus;
    int64_t *vcpu_fault_start;      /* ns, 0 when not blocked */
    uintptr_t *vcpu_fault_addr;
    uint64_t *vcpu_blocktime_ns;
    int blocked;                    /* vCPUs blocked now */
    int64_t all_blocked_start;
    uint64_t total_blocktime_ns;

    /* The listen thread (postcopy-listen.c). */
    QemuThread listen_thread;
    bool listen_thread_running;     /* incoming thread sets, free reads */
    QEMUFile *listen_file;          /* the main channel it reads */
    QemuEvent package_loaded;       /* the incoming thread is done */

    /* The placer thread (postcopy-place.c); listen thread only. */
    PostcopyPlacer *placer;
    int64_t last_fault_ns;          /* atomic: the fault thread's last */

    /* The preempt thread (postcopy-preempt.c). */
    QemuThread preempt_thread;
    bool preempt_thread_running;    /* started, not yet joined */

    /* Pause and recovery; pause_lock protects everything below. */
    QemuMutex pause_lock;
    QemuCond pause_cond;            /* any change below */
    bool quitting;                  /* exit: stop waiting, give up */
    /*
     * From a break until the recovery's main channel: the link is being
     * torn down, and a preempt channel that comes now is the failed
     * attempt's (refused).
     */
    bool pausing;
    QEMUFile *recover_main;         /* handed over by the recovery */
    QEMUFile *preempt_next;         /* the preempt thread's next channel */
    bool preempt_parked;            /* it waits for a channel */
    bool preempt_broken;            /* ... because this link's broke */
    bool preempt_eos;               /* ... after an EOS on this link */
    bool preempt_done;              /* it ended (stopped, gave up) */

    /* The first error of the current link (pause clears it). */
    QemuMutex error_lock;
    Error *error;
    bool error_io;
};

/* postcopy-ram.c */
bool postcopy_set_state(PostcopyIncoming *pc, PostcopyState old,
                        PostcopyState new);
PostcopyState postcopy_get_state(PostcopyIncoming *pc);
PostcopyTmpPage *postcopy_tmp_page_new(size_t size);
void postcopy_tmp_page_free(PostcopyTmpPage *t);
void postcopy_tmp_page_reset(PostcopyTmpPage *t);
/*
 * Records the first error of the link: @f's first error (its class
 * too; named after @channel if not NULL), or @err (takes it; never
 * I/O).  Later ones are dropped.
 */
void postcopy_record_stream_error(PostcopyIncoming *pc, QEMUFile *f,
                                  const char *channel);
void postcopy_record_error(PostcopyIncoming *pc, Error *err);
/* The first error, and whether the link failed (I/O). */
bool postcopy_error_is_io(PostcopyIncoming *pc);
Error *postcopy_take_error(PostcopyIncoming *pc);
/* Shuts down the main and preempt channels (wakes their readers). */
void postcopy_break_links(PostcopyIncoming *pc);

/* postcopy-place.c */
/* The listen thread's: starts the placer on the main channel. */
void postcopy_placer_start(PostcopyIncoming *pc);
/*
 * Waits until every run handed to the placer is placed; false if a
 * placement failed (its error is recorded).
 */
bool postcopy_placer_drain(PostcopyIncoming *pc);
/* A pause, after the drain: the next link starts without an error. */
void postcopy_placer_link_reset(PostcopyIncoming *pc);
/* Drains it and lets it go (it exits when it next runs). */
void postcopy_placer_stop(PostcopyIncoming *pc);

/* postcopy-fault.c */
bool postcopy_fault_start(PostcopyIncoming *pc, Error **errp);
void postcopy_fault_stop(PostcopyIncoming *pc);
void postcopy_fault_init(PostcopyIncoming *pc);
void postcopy_fault_fini(PostcopyIncoming *pc);
/* A host page was placed: completes its request (latency, blocktime). */
void postcopy_page_placed(PostcopyIncoming *pc, RAMBlock *rb,
                          uint64_t host_offset);
/* A break: no request goes out until postcopy_resend_requests(). */
void postcopy_requests_close(PostcopyIncoming *pc);
/* POSTCOPY_RESUME: asks again for every page still missing; opens. */
void postcopy_resend_requests(PostcopyIncoming *pc);
bool postcopy_block_zeropage_ok(PostcopyIncoming *pc, RAMBlock *rb);
void postcopy_cpu_latency_drop(PostcopyIncoming *pc);
void postcopy_cpu_latency_take(PostcopyIncoming *pc);

/* postcopy-listen.c */
bool postcopy_listen_start(PostcopyIncoming *pc, Error **errp);
/* POSTCOPY_RESUME: postcopy-recover -> postcopy-active. */
int postcopy_resume(PostcopyIncoming *pc, Error **errp);

/* postcopy-preempt.c */
/* LISTEN: starts the preempt thread (it waits for its channel). */
void postcopy_preempt_start(PostcopyIncoming *pc);
/*
 * After the main channel's EOF: waits until the preempt thread read an
 * EOS or every requested page is here (0), or its channel broke (-1);
 * 0 at once without preempt.
 */
int postcopy_preempt_wait_done(PostcopyIncoming *pc);
/*
 * A break: refuses preempt channels from now on, shuts the current one
 * down and waits until the thread is parked with no channel (or done),
 * so that it holds none that close_links() closes.
 */
void postcopy_preempt_park(PostcopyIncoming *pc);
/* After the link's first error was taken: forgets this link's end. */
void postcopy_preempt_link_reset(PostcopyIncoming *pc);
/* Makes it give up and joins it. */
void postcopy_preempt_stop(PostcopyIncoming *pc);

#endif
