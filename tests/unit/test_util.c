#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include <unistd.h>

#ifdef TU_HAVE_OPENSSL
#include "ticketring/openssl.h"
#endif
#ifdef TU_HAVE_MBEDTLS
#include "ticketring/mbedtls.h"
#endif

const tr_crypto *const *tu_backends(void)
{
    static const tr_crypto *list[3];
    size_t n = 0;
    if (list[0] == NULL) {
#ifdef TU_HAVE_OPENSSL
        list[n++] = tr_crypto_openssl();
#endif
#ifdef TU_HAVE_MBEDTLS
        list[n++] = tr_crypto_mbedtls();
#endif
        list[n] = NULL;
    }
    return list;
}

const tr_crypto *tu_backend_named(const char *name)
{
#ifdef TU_HAVE_OPENSSL
    if (strcmp(name, "openssl") == 0)
        return tr_crypto_openssl();
#endif
#ifdef TU_HAVE_MBEDTLS
    if (strcmp(name, "mbedtls") == 0)
        return tr_crypto_mbedtls();
#endif
    (void)name;
    return NULL;
}

const tr_crypto *tu_backend(void)
{
    const char *name = getenv("TR_TEST_BACKEND");
    const tr_crypto *c;
    if (name == NULL || name[0] == '\0')
        return tu_backends()[0];
    c = tu_backend_named(name);
    if (c == NULL) {
        fprintf(stderr, "TR_TEST_BACKEND=%s is not built\n", name);
        abort();
    }
    return c;
}

int64_t tu_clock(void *arg)
{
    return *(const int64_t *)arg;
}

int tu_random_counter(uint8_t *buf, size_t len, void *arg)
{
    uint64_t *ctr = arg;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(0xA5 ^ (*ctr)++);
    return 0;
}

int tu_random_os(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

void *tu_malloc(size_t size, void *arg)
{
    struct tu_alloc *a = arg;
    a->allocs++;
    if (a->fail_at != 0 && a->allocs == a->fail_at) {
        a->failed++;
        return NULL;
    }
    return malloc(size);
}

void tu_free(void *ptr, void *arg)
{
    struct tu_alloc *a = arg;
    if (ptr != NULL)
        a->frees++;
    free(ptr);
}

tr_ring *tu_ring(int64_t *clock_ms)
{
    tr_ring *r = NULL;
    assert_int_equal(tr_ring_new(&r, tu_backend()), 0);
    assert_int_equal(tr_ring_set_clock(r, tu_clock, clock_ms), 0);
    return r;
}

void tu_key(uint8_t key[TR_KEY_BYTES], uint8_t seed)
{
    for (size_t i = 0; i < TR_KEY_BYTES; i++)
        key[i] = (uint8_t)(seed * 31u + i * 7u + 1u);
}

char *tu_write_temp(const char *content, size_t len)
{
    char tmpl[] = "/tmp/tr-test-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return strdup(tmpl);
}

/* A header in front of each block: the size, for on_free and for a check
 * that the library frees only what it got from here. 16 bytes keep the
 * block as aligned as malloc's. */
#define TU_REC_MAGIC UINT64_C(0x7472726563626c6b)
struct tu_rec_head {
    uint64_t magic;
    uint64_t size;
};

void tu_rec_init(struct tu_rec *a)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
}

void tu_rec_destroy(struct tu_rec *a)
{
    pthread_mutex_destroy(&a->mu);
}

void *tu_rec_malloc(size_t size, void *arg)
{
    struct tu_rec *a = arg;
    struct tu_rec_head *h;
    int refuse;

    pthread_mutex_lock(&a->mu);
    a->allocs++;
    a->sizes[(a->allocs - 1) % TU_REC_SIZES] = size;
    refuse = a->fail_at != 0 && a->allocs == a->fail_at;
    if (refuse)
        a->failed++;
    pthread_mutex_unlock(&a->mu);
    if (refuse || size > SIZE_MAX - sizeof(*h))
        return NULL;
    h = malloc(sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->magic = TU_REC_MAGIC;
    h->size = size;
    memset(h + 1, 0xA5, size);
    pthread_mutex_lock(&a->mu);
    a->live++;
    pthread_mutex_unlock(&a->mu);
    return h + 1;
}

void tu_rec_free(void *ptr, void *arg)
{
    struct tu_rec *a = arg;
    struct tu_rec_head *h;

    if (ptr == NULL)
        return;
    h = (struct tu_rec_head *)ptr - 1;
    if (h->magic != TU_REC_MAGIC) {
        /* Maybe on the watcher's thread: no cmocka assertion here. */
        fprintf(stderr, "tu_rec_free: %p was not allocated by tu_rec_malloc\n", ptr);
        abort();
    }
    if (a->on_free != NULL)
        a->on_free(ptr, (size_t)h->size, a->on_free_arg);
    h->magic = 0;
    pthread_mutex_lock(&a->mu);
    a->frees++;
    a->live--;
    pthread_mutex_unlock(&a->mu);
    free(h);
}

void tu_rec_fail_next(struct tu_rec *a, uint64_t n)
{
    pthread_mutex_lock(&a->mu);
    a->fail_at = n == 0 ? 0 : a->allocs + n;
    pthread_mutex_unlock(&a->mu);
}

struct tu_rec tu_rec_get(struct tu_rec *a)
{
    struct tu_rec c;

    pthread_mutex_lock(&a->mu);
    c = *a;
    pthread_mutex_unlock(&a->mu);
    memset(&c.mu, 0, sizeof(c.mu)); /* a copy of a mutex is no mutex */
    return c;
}
