/*
 * postcopy-fault.h: the destination's userfaultfd, fault thread, page
 * requests and their statistics (private to migration/).
 */
#ifndef MIGRATION_POSTCOPY_FAULT_H
#define MIGRATION_POSTCOPY_FAULT_H

#include "postcopy-ram.h"

typedef struct PostcopyIncoming PostcopyIncoming;

/* At ADVISE: the per-migration state (mis->postcopy). */
void postcopy_incoming_create(MigrationIncomingState *mis);
/* At LISTEN: userfaultfd, registration, fault thread. */
bool postcopy_fault_start(MigrationIncomingState *mis, Error **errp);

int postcopy_uffd(MigrationIncomingState *mis);
bool postcopy_block_zeropage_ok(MigrationIncomingState *mis, RAMBlock *rb);
PostcopyTmpPage *postcopy_incoming_tmp_page(MigrationIncomingState *mis,
                                            int channel);
PostcopyTmpPage *postcopy_tmp_page_new(size_t size);
void postcopy_tmp_page_free(PostcopyTmpPage *t);

/* A host page was placed: completes its request (latency, blocktime). */
void postcopy_page_placed(MigrationIncomingState *mis, RAMBlock *rb,
                          uint64_t host_offset);

/* Frees mis->postcopy (after cleanup). */
void postcopy_incoming_free(MigrationIncomingState *mis);

/* incoming.c: the thread that reads the main channel after LISTEN. */
void migration_incoming_start_listen_thread(MigrationIncomingState *mis);

#endif
