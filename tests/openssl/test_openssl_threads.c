/*
 * Handshakes from several threads against three nodes while a rotation
 * runs: keys are added to the shared key file ahead of their activation,
 * every node reloads it, then the clock moves past the activation so the
 * new key encrypts on every node at once. Run under ThreadSanitizer by CI
 * (suite 'concurrency'). Every resumption must succeed: a rotation done in
 * this order never costs one.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define TU_TLS_WITH_RING 1
#include "tls_util.h"

#define NODES 3
#define THREADS 4
#define CHAIN 48     /* connections per thread, each resuming the last session */
#define ROTATIONS 4
#define T0_MS (INT64_C(1700000000) * 1000)

static _Atomic int64_t clock_ms = T0_MS;

static int64_t shared_clock(void *arg)
{
    return atomic_load(&clock_ms);
}

struct world {
    struct tu_tls_identity id;
    char *keyfile;
    tr_ring *rings[NODES];
    SSL_CTX *ctx[NODES];
    atomic_int done_threads;
};

struct worker {
    struct world *w;
    int version;
    int failed;   /* handshakes that did not complete */
    int resumed;
    int attempts; /* connections that offered a session */
};

static void *work(void *arg)
{
    struct worker *wk = arg;
    SSL_CTX *client = tu_tls_client_ctx();
    SSL_SESSION *sess = NULL;

    for (int i = 0; client != NULL && i < CHAIN; i++) {
        struct tu_tls_result r;
        SSL_SESSION *offer = sess != NULL ? SSL_SESSION_dup(sess) : NULL;
        memset(&r, 0, sizeof(r));
        if (tu_tls_connect(wk->w->ctx[i % NODES], client, "a.example", "http/1.1",
                           wk->version, offer, &r) != 0 || !r.ok) {
            wk->failed++;
        } else {
            wk->attempts += offer != NULL;
            wk->resumed += r.resumed;
        }
        SSL_SESSION_free(offer);
        if (r.session != NULL) {
            SSL_SESSION_free(sess);
            sess = r.session;
        }
    }
    SSL_SESSION_free(sess);
    SSL_CTX_free(client);
    atomic_fetch_add(&wk->w->done_threads, 1);
    return NULL;
}

/* Distribute a key, let every node load it, then activate it. */
static void rotate(struct world *w, tr_ring *writer)
{
    uint32_t line;
    int64_t now = atomic_load(&clock_ms) / 1000;
    assert_int_equal(tr_ring_generate_key(writer, now + 10, NULL), 0);
    assert_int_equal(tr_ring_save(writer, w->keyfile), 0);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(tr_ring_reload(w->rings[i], &line), 0);
    atomic_fetch_add(&clock_ms, 20000);
}

static void run(int version)
{
    struct world w;
    struct worker wk[THREADS];
    pthread_t th[THREADS];
    tr_ring *writer;
    char fp0[TR_FINGERPRINT_HEX + 1], fp[TR_FINGERPRINT_HEX + 1];
    uint64_t handshakes = 0, resumed = 0, refused = 0;
    int64_t first = T0_MS / 1000 - 100;
    int total_resumed = 0, total_attempts = 0, rotations = 0;
    uint32_t line;

    memset(&w, 0, sizeof(w));
    atomic_store(&clock_ms, T0_MS);
    assert_int_equal(tu_tls_identity_new(&w.id), 0);
    w.keyfile = tu_keyfile_new(&first, 1);
    assert_non_null(w.keyfile);
    assert_int_equal(tr_ring_new(&writer, tr_crypto_openssl()), 0);
    assert_int_equal(tr_ring_set_clock(writer, shared_clock, NULL), 0);
    assert_int_equal(tr_ring_load(writer, w.keyfile, &line), 0);
    for (int i = 0; i < NODES; i++) {
        char id[8];
        snprintf(id, sizeof(id), "n%d", i);
        assert_int_equal(tr_ring_new(&w.rings[i], tr_crypto_openssl()), 0);
        assert_int_equal(tr_ring_set_clock(w.rings[i], shared_clock, NULL), 0);
        assert_int_equal(tr_ring_load(w.rings[i], w.keyfile, &line), 0);
        w.ctx[i] = tu_tls_server_ctx(&w.id, "http/1.1");
        assert_non_null(w.ctx[i]);
        tu_ticket_cb_from_env();
        assert_int_equal(tr_openssl_attach(w.ctx[i], w.rings[i], id), 0);
    }
    assert_int_equal(tr_ring_fingerprint(w.rings[0], fp0, sizeof(fp0)), 0);

    for (int t = 0; t < THREADS; t++) {
        wk[t] = (struct worker){&w, version, 0, 0, 0};
        assert_int_equal(pthread_create(&th[t], NULL, work, &wk[t]), 0);
    }
    /* Rotate while the workers run (at least once, even if they are quick). */
    while (rotations < ROTATIONS &&
           (rotations == 0 || atomic_load(&w.done_threads) < THREADS)) {
        rotate(&w, writer);
        rotations++;
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(wk[t].failed, 0);
        total_resumed += wk[t].resumed;
        total_attempts += wk[t].attempts;
    }

    for (int i = 0; i < NODES; i++) {
        tr_stats s;
        memset(&s, 0, sizeof(s));
        s.size = sizeof(s);
        assert_int_equal(tr_ring_stats(w.rings[i], &s), 0);
        handshakes += s.handshakes_full + s.handshakes_resumed;
        resumed += s.handshakes_resumed;
        refused += s.refused_malformed + s.refused_unknown_key + s.refused_auth +
                   s.refused_expired + s.refused_future + s.refused_sni + s.refused_alpn +
                   s.refused_context + s.refused_unbound;
        assert_int_equal(tr_ring_fingerprint(w.rings[i], fp, sizeof(fp)), 0);
        assert_string_not_equal(fp, fp0); /* every node took the new keys */
    }
    printf("# TLS %s: %d threads x %d connections, %d rotations: %d/%d resumed, "
           "%llu refusals\n", version == TLS1_3_VERSION ? "1.3" : "1.2", THREADS, CHAIN,
           rotations, total_resumed, total_attempts, (unsigned long long)refused);
    assert_int_equal(total_attempts, THREADS * (CHAIN - 1));
    assert_int_equal(total_resumed, total_attempts);
    assert_int_equal(refused, 0);
    assert_int_equal(handshakes, THREADS * CHAIN);
    assert_int_equal(resumed, (uint64_t)total_resumed);

    for (int i = 0; i < NODES; i++) {
        SSL_CTX_free(w.ctx[i]);
        tr_ring_free(w.rings[i]);
    }
    tr_ring_free(writer);
    tu_keyfile_free(w.keyfile);
    tu_tls_identity_free(&w.id);
}

static void test_tls13_rotation_under_load(void **st)
{
    (void)st;
    run(TLS1_3_VERSION);
}

static void test_tls12_rotation_under_load(void **st)
{
    (void)st;
    run(TLS1_2_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls13_rotation_under_load),
        cmocka_unit_test(test_tls12_rotation_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
