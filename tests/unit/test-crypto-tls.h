/*
 * test-crypto-tls.h: what the two halves of test-crypto-tls share: the
 * certificate tree and the helpers that make objects as -object does.
 */
#ifndef TEST_CRYPTO_TLS_H
#define TEST_CRYPTO_TLS_H

#include "qemu/osdep.h"
#include "crypto/tlscreds.h"
#include "../common/tls-certs.h"

/* The tree of this run, or NULL (then every test needing it skips). */
extern TLSCerts *certs;

#define NEED_CERTS() do {                                   \
        if (!certs) {                                       \
            g_test_skip("certtool not found or failing");   \
            return;                                         \
        }                                                   \
    } while (0)

/* -object @type,id=<fresh>,@props ; the id, or NULL with *errp set. */
char *obj_add(const char *type, const char *props, Error **errp);
/* BASE/@name */
char *dir_of(const char *name);
/* -object @type,id=<fresh>,dir=BASE/@dir,endpoint=@endpoint@extra */
char *creds_add(const char *type, const char *dir, const char *endpoint,
                const char *extra, Error **errp);
/* The same, which must succeed, looked up (a reference). */
QCryptoTLSCreds *creds_new(const char *type, const char *dir,
                           const char *endpoint, const char *extra);

/* test-crypto-tls-session.c */
void test_crypto_tls_add_session_tests(void);

#endif
