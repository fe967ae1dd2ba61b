/*
 * Fuzz target: the OpenSSL glue on a resumption attempt. A client offers a
 * session whose ticket is built from the input, with TLS 1.3 or 1.2, to an
 * in-process server attached to the fixed ring (fuzz_ossl.h), over a BIO
 * pair; the glue's ClientHello, ticket key, decrypt and generate callbacks
 * all run on it.
 *
 * Input: flags(1), then by mode (flags bits 1-2):
 *   0, 3  the ticket's bytes, as they are (the arbitrary-bytes case);
 *   1     key(1) tweak(1) [time(4) if tweak bits 0-1 = 3] [timeout(4) if
 *         tweak bits 2-3 = 3] then binding data: the server's session from
 *         a real handshake with that binding data (empty: none, as from
 *         nginx) sealed by the harness under fixed key `key`, so the glue's
 *         decoder and policy see any value behind a valid HMAC;
 *   2     key(1) then a session DER, sealed as it is under fixed key `key`.
 * flags bit 0: TLS 1.2 (else 1.3); bits 3-4: the client's SNI (none,
 * FZ_SNI, the same in other case, another name); bits 5-6: the ALPN it
 * offers (none, h2, http/1.1, both); bit 7: the server refuses tickets
 * without binding data (TR_UNBOUND_REFUSE).
 * Tweak (mode 1): bits 0-1 the session's time (now, the ring's fixed now,
 * three hours ago, time(4)); bits 2-3 its timeout (7200, ten years, 1 s,
 * timeout(4)); bit 4 drops its host name; bit 5 its negotiated ALPN.
 *
 * Checks, besides no crash, leak or sanitizer report:
 *  - a ticket that does not authenticate under a key the ring opens with
 *    is never resumed and never aborts the handshake: a full handshake;
 *  - mode 1 always completes, and resumes only what the ring's policy
 *    accepts (known key, binding data that decodes, times and binding);
 *  - every completed handshake is counted once, as resumed exactly when
 *    it was.
 */
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "appdata.h"
#include "fuzz_ossl.h"
#include "ticketring/openssl.h"

#define TLS12 0x01u
#define REFUSE_UNBOUND 0x80u
/* The session around the ticket must stay under 64 KiB of DER
 * (tu_tls_session_with_ticket). */
#define MAX_TICKET 0xc000

static struct fz_ossl_world world;
static int ready;

static const char *const snis[4] = {NULL, FZ_SNI, "A.Example", "b.example"};
static const char *const alpns[4] = {NULL, "h2", "http/1.1", "h2,http/1.1"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (fz_ossl_world_init(&world) != 0)
        abort();
    ready = 1;
    return 0;
}

static int same_host(const uint8_t *a, size_t a_len, const char *b)
{
    size_t b_len = b != NULL ? strlen(b) : 0;

    if (a_len != b_len)
        return 0;
    for (size_t i = 0; i < a_len; i++) {
        uint8_t x = a[i] >= 'A' && a[i] <= 'Z' ? (uint8_t)(a[i] + 32) : a[i];
        uint8_t y = (uint8_t)b[i] >= 'A' && (uint8_t)b[i] <= 'Z' ? (uint8_t)(b[i] + 32)
                                                                  : (uint8_t)b[i];
        if (x != y)
            return 0;
    }
    return 1;
}

static int offered(const uint8_t *proto, size_t len, const char *csv)
{
    const char *p = csv;

    if (len == 0)
        return 1; /* a ticket issued without ALPN matches any offer */
    while (p != NULL) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == len && memcmp(p, proto, n) == 0)
            return 1;
        p = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

/* What the ring's policy says of a session sealed with binding data `ad`
 * (len 0: none), presented with the client's SNI and ALPN offer. */
static int policy_accepts(SSL_SESSION *s, const uint8_t *ad, size_t ad_len, uint8_t flags)
{
    const char *sni = snis[(flags >> 3) & 3], *alpn = alpns[(flags >> 5) & 3];
    struct tri_appdata a;

    if (ad_len == 0) {
        const unsigned char *sel = NULL;
        const char *host = SSL_SESSION_get0_hostname(s);
        size_t sel_len = 0;

        if (flags & REFUSE_UNBOUND)
            return 0;
        SSL_SESSION_get0_alpn_selected(s, &sel, &sel_len);
        return fz_expected_times((int64_t)SSL_SESSION_get_time(s) * 1000, 0) == 0 &&
               same_host((const uint8_t *)host, host != NULL ? strlen(host) : 0, sni) &&
               (sel_len == 0 || (alpn != NULL && offered(sel, sel_len, alpn)));
    }
    if (tri_appdata_decode(ad, ad_len, &a) != 0)
        return 0;
    return fz_expected_times(a.issue_ms, a.auth_time) == 0 &&
           same_host(a.sni, a.sni_len, sni) &&
           (a.alpn_len == 0 || (alpn != NULL && offered(a.alpn, a.alpn_len, alpn)));
}

static SSL_SESSION *mode_binding(struct fz_reader *r, int v, uint8_t flags, int *id,
                                 int *may_resume)
{
    static uint8_t ad[TRI_APPDATA_MAX + 64];
    SSL_SESSION *s = SSL_SESSION_dup(world.server_session[v]), *client;
    uint8_t tweak;
    int64_t t;
    long timeout;
    size_t ad_len;

    FZ_CHECK(s != NULL);
    *id = fz_u8(r) % FZ_KEY_COUNT;
    tweak = fz_u8(r);
    switch (tweak & 3) {
    case 0:
        t = (int64_t)time(NULL);
        break;
    case 1:
        t = FZ_NOW_S;
        break;
    case 2:
        t = (int64_t)time(NULL) - 3 * 3600;
        break;
    default:
        t = (int64_t)fz_u32(r);
        break;
    }
    switch ((tweak >> 2) & 3) {
    case 0:
        timeout = 7200;
        break;
    case 1:
        timeout = 10L * 365 * 86400;
        break;
    case 2:
        timeout = 1;
        break;
    default:
        timeout = (long)fz_u32(r);
        break;
    }
    SSL_SESSION_set_time(s, (long)t); /* returns t, so 0 for t == 0 */
    FZ_CHECK(SSL_SESSION_set_timeout(s, timeout) != 0);
    if (tweak & 0x10)
        FZ_CHECK(SSL_SESSION_set1_hostname(s, NULL) == 1);
    if (tweak & 0x20)
        FZ_CHECK(SSL_SESSION_set1_alpn_selected(s, NULL, 0) == 1);
    ad_len = fz_bytes(r, ad, sizeof(ad));
    FZ_CHECK(SSL_SESSION_set1_ticket_appdata(s, ad_len != 0 ? ad : NULL, ad_len) == 1);
    *may_resume = fz_key_opens(*id) && policy_accepts(s, ad, ad_len, flags);
    client = fz_ossl_client_with(&world, v, s, *id);
    SSL_SESSION_free(s);
    return client;
}

static SSL_SESSION *mode_der(struct fz_reader *r, int v, int *id)
{
    static uint8_t ticket[MAX_TICKET];
    size_t n, len;

    *id = fz_u8(r) % FZ_KEY_COUNT;
    n = r->left < MAX_TICKET - 128 ? r->left : MAX_TICKET - 128;
    len = fz_ossl_seal(*id, r->p, n, ticket, sizeof(ticket));
    FZ_CHECK(len != 0);
    return tu_tls_session_with_ticket(world.client_session[v], ticket, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_reader r = {data, size};
    struct fz_ossl_result res;
    uint8_t flags = fz_u8(&r);
    int v = (flags & TLS12) ? FZ_OSSL_TLS12 : FZ_OSSL_TLS13, mode = (flags >> 1) & 3;
    int id = -1, may_resume = 0;
    SSL_SESSION *session;
    tr_stats before, after;

    if (!ready)
        LLVMFuzzerInitialize(NULL, NULL);
    fz_random_reset();
    if (mode == 1) {
        session = mode_binding(&r, v, flags, &id, &may_resume);
    } else if (mode == 2) {
        session = mode_der(&r, v, &id);
        may_resume = fz_key_opens(id);
    } else {
        size_t len = r.left < MAX_TICKET ? r.left : MAX_TICKET;
        id = fz_ossl_key_of(r.p, len);
        may_resume = id >= 0 && fz_key_opens(id);
        session = tu_tls_session_with_ticket(world.client_session[v], r.p, len);
    }
    ERR_clear_error();
    FZ_CHECK(session != NULL);
    FZ_CHECK(tr_openssl_set_unbound_policy(world.server, (flags & REFUSE_UNBOUND)
                                                             ? TR_UNBOUND_REFUSE
                                                             : TR_UNBOUND_ACCEPT) == 0);

    before = fz_stats(world.ring);
    fz_ossl_connect(&world, session, fz_ossl_version(v), snis[(flags >> 3) & 3],
                    alpns[(flags >> 5) & 3], &res);
    after = fz_stats(world.ring);
    SSL_SESSION_free(session);

    if (fz_verbose())
        fprintf(stderr, "  mode %d TLS 1.%d key %d: %s, %s\n", mode, v == FZ_OSSL_TLS12 ? 2 : 3,
                id, res.completed ? "completed" : "failed",
                res.resumed ? "resumed" : "full handshake");
    if (res.resumed && !may_resume)
        fprintf(stderr, "resumed a ticket the policy refuses (mode %d, key %d)\n", mode, id);
    FZ_CHECK(!res.resumed || may_resume);
    /* A ticket the ring cannot vouch for is a full handshake. */
    if (mode == 1 || !fz_key_opens(id))
        FZ_CHECK(res.completed);
    FZ_CHECK(after.handshakes_full + after.handshakes_resumed ==
             before.handshakes_full + before.handshakes_resumed + (uint64_t)res.completed);
    FZ_CHECK(after.handshakes_resumed == before.handshakes_resumed + (uint64_t)res.resumed);
    return 0;
}
