/*
 * Each step on contexts prepared once, so that only the step is timed. The
 * data steps restart (re-IV, or HMAC restart) a keyed context first, which
 * the real path does as part of its setup: they slightly overstate the data
 * work, by the restart (BT_MAC_RESTART shows its size).
 */
#include "bench_steps.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "bench_evp_path.h"
#include "bench_nginx.h"

#ifdef BENCH_HAVE_GLUE
#include "ticket_iv.h"
#include "ticketring/openssl.h"
#endif

struct steps {
    uint8_t aes_key[32], hmac_key[32], iv[16], name[16];
    EVP_CIPHER *cbc;
    EVP_CIPHER_CTX *work;                 /* re-initialised by each init step */
    EVP_CIPHER_CTX *keyed_enc, *keyed_dec; /* copied from, as the glue does */
    EVP_CIPHER_CTX *data_enc, *data_dec;   /* keyed, for the CBC data steps */
    EVP_MAC_CTX *mac;                      /* re-keyed by the init step */
    EVP_MAC_CTX *mac_keyed;                /* restarted by the data step */
    uint8_t state[BT_STATE_BYTES], ct[BT_CT_BYTES], ticket[BT_TICKET_BYTES];
    uint8_t out[BT_CT_BYTES + 16];
    tr_ring *ring;
};

static OSSL_PARAM digest_params[2];

static int st_rand16(void *a)
{
    struct steps *s = a;
    return RAND_bytes(s->iv, 16) == 1 ? 0 : -1;
}

static int st_cipher_ctx(void *a)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    (void)a;
    EVP_CIPHER_CTX_free(c);
    return c != NULL ? 0 : -1;
}

static int st_hmac_new_evp(void *a)
{
    (void)a;
    return be_step_ssl_hmac_new_free();
}

static int st_hmac_new_legacy(void *a)
{
    (void)a;
    return bn_step_hmac_ctx_new_free();
}

static int st_enc_init_implicit(void *a)
{
    struct steps *s = a;
    return EVP_EncryptInit_ex(s->work, EVP_aes_256_cbc(), NULL, s->aes_key, s->iv) == 1 ? 0 : -1;
}

static int st_dec_init_implicit(void *a)
{
    struct steps *s = a;
    return EVP_DecryptInit_ex(s->work, EVP_aes_256_cbc(), NULL, s->aes_key, s->iv) == 1 ? 0 : -1;
}

static int st_enc_init_fetch(void *a)
{
    struct steps *s = a;
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    int ok = c != NULL && EVP_EncryptInit_ex(s->work, c, NULL, s->aes_key, s->iv) == 1;
    EVP_CIPHER_free(c);
    return ok ? 0 : -1;
}

static int st_enc_init_prefetched(void *a)
{
    struct steps *s = a;
    return EVP_EncryptInit_ex(s->work, s->cbc, NULL, s->aes_key, s->iv) == 1 ? 0 : -1;
}

static int st_copy_enc(void *a)
{
    struct steps *s = a;
    return EVP_CIPHER_CTX_copy(s->work, s->keyed_enc) == 1 &&
                   EVP_CipherInit_ex(s->work, NULL, NULL, NULL, s->iv, 1) == 1
               ? 0
               : -1;
}

static int st_copy_dec(void *a)
{
    struct steps *s = a;
    return EVP_CIPHER_CTX_copy(s->work, s->keyed_dec) == 1 &&
                   EVP_CipherInit_ex(s->work, NULL, NULL, NULL, s->iv, 0) == 1
               ? 0
               : -1;
}

static int st_hmac_init_legacy(void *a)
{
    struct steps *s = a;
    return bn_step_hmac_init(s->hmac_key);
}

static int st_hmac_copy(void *a)
{
    (void)a;
    return bn_step_hmac_copy();
}

static int st_mac_init_digest(void *a)
{
    struct steps *s = a;
    return EVP_MAC_init(s->mac, s->hmac_key, 32, digest_params) == 1 ? 0 : -1;
}

static int st_mac_set_digest(void *a)
{
    struct steps *s = a;
    return EVP_MAC_CTX_set_params(s->mac, digest_params) == 1 ? 0 : -1;
}

static int st_mac_init_key(void *a)
{
    struct steps *s = a;
    return EVP_MAC_init(s->mac, s->hmac_key, 32, NULL) == 1 ? 0 : -1;
}

static int st_mac_restart(void *a)
{
    struct steps *s = a;
    return EVP_MAC_init(s->mac_keyed, NULL, 0, NULL) == 1 ? 0 : -1;
}

static int st_cbc_enc_data(void *a)
{
    struct steps *s = a;
    int n1 = 0, n2 = 0;
    return EVP_EncryptInit_ex(s->data_enc, NULL, NULL, NULL, s->iv) == 1 &&
                   EVP_EncryptUpdate(s->data_enc, s->out, &n1, s->state, BT_STATE_BYTES) == 1 &&
                   EVP_EncryptFinal(s->data_enc, s->out + n1, &n2) == 1 && n1 + n2 == BT_CT_BYTES
               ? 0
               : -1;
}

static int st_cbc_dec_data(void *a)
{
    struct steps *s = a;
    int n1 = 0, n2 = 0;
    return EVP_DecryptInit_ex(s->data_dec, NULL, NULL, NULL, s->iv) == 1 &&
                   EVP_DecryptUpdate(s->data_dec, s->out, &n1, s->ct, BT_CT_BYTES) == 1 &&
                   EVP_DecryptFinal(s->data_dec, s->out + n1, &n2) == 1 &&
                   n1 + n2 == BT_STATE_BYTES
               ? 0
               : -1;
}

static int st_mac_data_evp(void *a)
{
    struct steps *s = a;
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t n = 0;
    return EVP_MAC_init(s->mac_keyed, NULL, 0, NULL) == 1 &&
                   EVP_MAC_update(s->mac_keyed, s->ticket, BT_TICKET_BYTES - 32) == 1 &&
                   EVP_MAC_final(s->mac_keyed, mac, &n, sizeof(mac)) == 1 && n == 32
               ? 0
               : -1;
}

static int st_mac_data_legacy(void *a)
{
    struct steps *s = a;
    uint8_t mac[32];
    return bn_step_hmac_data(s->ticket, BT_TICKET_BYTES - 32, mac);
}

#ifdef BENCH_HAVE_GLUE
static int noop_key(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES], uint32_t flags,
                    void *arg)
{
    (void)name, (void)flags, (void)arg;
    return key_state != NULL ? 0 : -1;
}

static int st_ring_enc(void *a)
{
    struct steps *s = a;
    return tr_ring_tls_key(s->ring, tr_crypto_openssl(), NULL, noop_key, NULL) == 0 ? 0 : -1;
}

static int st_ring_dec(void *a)
{
    struct steps *s = a;
    return tr_ring_tls_key(s->ring, tr_crypto_openssl(), s->name, noop_key, NULL) == 0 ? 0 : -1;
}

static int st_iv_batch(void *a)
{
    struct steps *s = a;
    return tri_ossl_ticket_iv(s->iv) == 0 ? 0 : -1;
}
#else
/* Without the glue there is no ring: these rows are left out. */
static int st_iv_batch(void *a)
{
    (void)a;
    return -1;
}

static int st_ring_enc(void *a)
{
    (void)a;
    return -1;
}

static int st_ring_dec(void *a)
{
    (void)a;
    return -1;
}
#endif

/* 3.0 sets no mark on an empty queue (ERR_set_mark returns 0) and the pop
 * then finds none: the cost is what the glue pays, the results do not
 * matter here. */
static int st_err_mark(void *a)
{
    (void)a;
    ERR_set_mark();
    ERR_pop_to_mark();
    return 0;
}

const struct bt_step_def bt_steps_def[BT_NSTEPS] = {
    [BT_CTX] = {"EVP_CIPHER_CTX_new + free", st_cipher_ctx, "OpenSSL, all"},
    [BT_HMAC_EVP] = {"ssl_hmac_new+free: EVP_MAC_fetch(HMAC)+CTX_new", st_hmac_new_evp,
                     "OpenSSL, a c"},
    [BT_HMAC_LEGACY] = {"ssl_hmac_new+free: HMAC_CTX_new", st_hmac_new_legacy, "OpenSSL, b x"},
    [BT_RAND] = {"RAND_bytes 16 B (IV)", st_rand16, "seal: a b"},
    [BT_IV_BATCH] = {"IV from the glue's per-thread 1 KiB batch", st_iv_batch, "seal: c x"},
    [BT_ERR_MARK] = {"ERR_set_mark + ERR_pop_to_mark", st_err_mark, "c x"},
    [BT_RING_ENC] = {"tr_ring_tls_key, encrypt key (no-op fn)", st_ring_enc, "seal: c"},
    [BT_RING_DEC] = {"tr_ring_tls_key, key by name (no-op fn)", st_ring_dec, "open: c"},
    [BT_ENC_IMPLICIT] = {"EncryptInit_ex(EVP_aes_256_cbc(), key, iv)", st_enc_init_implicit,
                         "seal: b"},
    [BT_DEC_IMPLICIT] = {"DecryptInit_ex(EVP_aes_256_cbc(), key, iv)", st_dec_init_implicit,
                         "open: b"},
    [BT_ENC_FETCH] = {"CIPHER_fetch(AES-256-CBC)+EncryptInit+free", st_enc_init_fetch, "a"},
    [BT_ENC_PREFETCHED] = {"EncryptInit_ex(prefetched cipher, key, iv)",
                           st_enc_init_prefetched, "(none)"},
    [BT_COPY_ENC] = {"CIPHER_CTX_copy(keyed enc ctx) + set IV", st_copy_enc, "seal: c x"},
    [BT_COPY_DEC] = {"CIPHER_CTX_copy(keyed dec ctx) + set IV", st_copy_dec, "open: c x"},
    [BT_HMAC_INIT_LEGACY] = {"HMAC_Init_ex(key, EVP_sha256())", st_hmac_init_legacy, "b"},
    [BT_HMAC_COPY] = {"HMAC_CTX_copy(keyed HMAC_CTX)", st_hmac_copy, "x"},
    [BT_MAC_INIT_DIGEST] = {"EVP_MAC_init(key, digest \"SHA256\")", st_mac_init_digest, "a c"},
    [BT_MAC_SET_DIGEST] = {"  of which: CTX_set_params(digest \"SHA256\")", st_mac_set_digest,
                           "(part of the above)"},
    [BT_MAC_INIT_KEY] = {"  of which: EVP_MAC_init(key), digest set", st_mac_init_key,
                         "(part of the above)"},
    [BT_MAC_RESTART] = {"EVP_MAC_init(NULL) restart of a keyed ctx", st_mac_restart,
                        "(not possible)"},
    [BT_CBC_ENC] = {"CBC: set IV + encrypt 192 B + final", st_cbc_enc_data, "OpenSSL, seal"},
    [BT_CBC_DEC] = {"CBC: set IV + decrypt 208 B + final", st_cbc_dec_data, "OpenSSL, open"},
    [BT_MAC_DATA_EVP] = {"HMAC 240 B: restart+update+final, EVP_MAC", st_mac_data_evp,
                         "OpenSSL, a c"},
    [BT_MAC_DATA_LEGACY] = {"HMAC 240 B: restart+update+final, HMAC_CTX", st_mac_data_legacy,
                            "OpenSSL, b x"},
};

int bt_step_available(const void *steps, enum bt_step k)
{
    const struct steps *s = steps;
    if (k == BT_IV_BATCH || k == BT_RING_ENC || k == BT_RING_DEC)
        return s->ring != NULL;
    return 1;
}

void bt_steps_free(void *steps)
{
    struct steps *s = steps;

    if (s == NULL)
        return;
    EVP_CIPHER_free(s->cbc);
    EVP_CIPHER_CTX_free(s->work);
    EVP_CIPHER_CTX_free(s->keyed_enc);
    EVP_CIPHER_CTX_free(s->keyed_dec);
    EVP_CIPHER_CTX_free(s->data_enc);
    EVP_CIPHER_CTX_free(s->data_dec);
    EVP_MAC_CTX_free(s->mac);
    EVP_MAC_CTX_free(s->mac_keyed);
    bn_steps_cleanup();
    OPENSSL_clear_free(s, sizeof(*s));
}

void *bt_steps_new(tr_ring *ring)
{
    static char md[] = "SHA256";
    struct steps *s = OPENSSL_zalloc(sizeof(*s));
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    int n1 = 0, n2 = 0, ok;

    if (s == NULL) {
        EVP_MAC_free(hmac);
        return NULL;
    }
    digest_params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md, 0);
    digest_params[1] = OSSL_PARAM_construct_end();
#ifdef BENCH_HAVE_GLUE
    s->ring = ring;
#else
    (void)ring;
#endif
    s->cbc = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    s->work = EVP_CIPHER_CTX_new();
    s->keyed_enc = EVP_CIPHER_CTX_new();
    s->keyed_dec = EVP_CIPHER_CTX_new();
    s->data_enc = EVP_CIPHER_CTX_new();
    s->data_dec = EVP_CIPHER_CTX_new();
    if (hmac != NULL) {
        s->mac = EVP_MAC_CTX_new(hmac);
        s->mac_keyed = EVP_MAC_CTX_new(hmac);
    }
    EVP_MAC_free(hmac);
    ok = RAND_bytes(s->aes_key, 32) == 1 && RAND_bytes(s->hmac_key, 32) == 1 &&
         RAND_bytes(s->iv, 16) == 1 && RAND_bytes(s->state, BT_STATE_BYTES) == 1 &&
         RAND_bytes(s->ticket, BT_TICKET_BYTES) == 1 && s->cbc != NULL && s->work != NULL &&
         s->keyed_enc != NULL && s->keyed_dec != NULL && s->data_enc != NULL &&
         s->data_dec != NULL && s->mac != NULL && s->mac_keyed != NULL &&
         EVP_EncryptInit_ex(s->keyed_enc, s->cbc, NULL, s->aes_key, NULL) == 1 &&
         EVP_DecryptInit_ex(s->keyed_dec, s->cbc, NULL, s->aes_key, NULL) == 1 &&
         EVP_EncryptInit_ex(s->data_enc, s->cbc, NULL, s->aes_key, s->iv) == 1 &&
         EVP_DecryptInit_ex(s->data_dec, s->cbc, NULL, s->aes_key, s->iv) == 1 &&
         EVP_MAC_init(s->mac_keyed, s->hmac_key, 32, digest_params) == 1 &&
         EVP_MAC_CTX_set_params(s->mac, digest_params) == 1 &&
         bn_step_hmac_init(s->hmac_key) == 0 &&
         /* A valid ciphertext for the decrypt step (its padding is checked). */
         EVP_EncryptUpdate(s->data_enc, s->ct, &n1, s->state, BT_STATE_BYTES) == 1 &&
         EVP_EncryptFinal(s->data_enc, s->ct + n1, &n2) == 1 && n1 + n2 == BT_CT_BYTES;
#ifdef BENCH_HAVE_GLUE
    if (ok && ring != NULL)
        ok = tr_ring_encrypt_key_name(ring, s->name) == 0;
#endif
    if (!ok) {
        bt_steps_free(s);
        return NULL;
    }
    return s;
}
