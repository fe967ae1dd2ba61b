/*
 * Writes the seed corpus of every fuzz target (docs/fuzzing.md):
 *
 *   fuzz_gen_corpus OUTDIR      (OUTDIR/<target>/<name> for each seed)
 *
 * Valid inputs come from the library itself: tickets tr_ticket_seal()
 * seals on the fixed ring (fuzz.h), key files tri_keyfile_format() writes,
 * OpenSSL tickets, sessions and ClientHellos from real in-process
 * handshakes, and (with the mbedTLS glue) ClientHellos of mbedTLS clients
 * offering tickets the glue issued. Edge cases are built next to them, each
 * named for what it exercises. Everything but what OpenSSL randomises
 * (handshake secrets, the identity) and the time mbedTLS writes (into a
 * ClientHello's random and a session) comes out the same on every run.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "appdata.h"
#include "clienthello.h"
#include "crypto.h"
#include "foreign.h"
#include "fuzz_ossl.h"
#include "keyfile.h"
#ifdef FZ_HAVE_MBED
#include "fuzz_mbed.h"
#endif

static const char *outdir;

struct buf {
    uint8_t p[1 << 17];
    size_t len;
};

static struct buf b;

static void reset(void)
{
    b.len = 0;
}

static void put(const void *p, size_t n)
{
    FZ_CHECK(b.len + n <= sizeof(b.p));
    memcpy(b.p + b.len, p, n);
    b.len += n;
}

static void put_str(const char *s)
{
    put(s, strlen(s));
}

static void put_u8(unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(&x, 1);
}

static void put_u16(unsigned v)
{
    put_u8(v >> 8);
    put_u8(v);
}

static void put_u32(uint32_t v)
{
    put_u16(v >> 16);
    put_u16(v & 0xffff);
}

static void put_u64(uint64_t v)
{
    put_u32((uint32_t)(v >> 32));
    put_u32((uint32_t)v);
}

static void put_field(const char *s)
{
    put_u8((unsigned)strlen(s));
    put_str(s);
}

static void save_bytes(const char *target, const char *name, const void *p, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", outdir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void save(const char *target, const char *name)
{
    save_bytes(target, name, b.p, b.len);
}

/* ---- generic tickets --------------------------------------------------------- */

static const uint8_t salt[16] = "fuzz-salt-16-byt";
static const uint8_t nonce[12] = "fuzz-nonce12";

static void ticket_v1(const char *name, int id, int64_t issue_ms, int64_t auth, const char *sni,
                      const char *alpn, const char *ctx, const char *state)
{
    uint8_t t[TR_TICKET_MAX_BYTES];
    size_t n = fz_seal_v1(id, salt, nonce, issue_ms, auth, (const uint8_t *)sni, strlen(sni),
                          (const uint8_t *)alpn, strlen(alpn), (const uint8_t *)ctx,
                          strlen(ctx), (const uint8_t *)state, strlen(state), t);
    save_bytes("ticket_open", name, t, n);
}

static void gen_ticket_open(void)
{
    static uint8_t state[TR_TICKET_MAX_STATE], t[TR_TICKET_MAX_BYTES + 1];
    static const struct {
        const char *name;
        size_t len;
    } sizes[] = {{"seal-empty", 0}, {"seal-small", 16}, {"seal-1k", 1024},
                 {"seal-max", TR_TICKET_MAX_STATE}};
    const int64_t ms = FZ_NOW_MS - 1000, s = FZ_NOW_S - 100;
    tr_ring *ring = fz_ring_new();
    size_t n = 0;

    for (size_t i = 0; i < sizeof(state); i++)
        state[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        FZ_CHECK(tr_ticket_seal(ring, state, sizes[i].len, (const uint8_t *)FZ_SNI,
                                strlen(FZ_SNI), (const uint8_t *)FZ_ALPN, strlen(FZ_ALPN),
                                (const uint8_t *)FZ_APP_CTX, strlen(FZ_APP_CTX), 0, t,
                                sizeof(t), &n, NULL) == 0);
        save_bytes("ticket_open", sizes[i].name, t, n);
    }
    /* Edge cases of the sealed ticket above (the largest). */
    t[n] = 0;
    save_bytes("ticket_open", "edge-too-long", t, n + 1);
    FZ_CHECK(tr_ticket_seal(ring, state, 16, (const uint8_t *)FZ_SNI, strlen(FZ_SNI),
                            (const uint8_t *)FZ_ALPN, strlen(FZ_ALPN),
                            (const uint8_t *)FZ_APP_CTX, strlen(FZ_APP_CTX), 0, t, sizeof(t),
                            &n, NULL) == 0);
    t[n - 1] ^= 1;
    save_bytes("ticket_open", "edge-tag-flipped", t, n);
    t[n - 1] ^= 1;
    t[0] = 2;
    save_bytes("ticket_open", "edge-version-2", t, n);
    save_bytes("ticket_open", "edge-empty", t, 0);
    memset(t, 0, TR_TICKET_OVERHEAD);
    t[0] = 1;
    save_bytes("ticket_open", "edge-short-124", t, TR_TICKET_OVERHEAD - 1);
    save_bytes("ticket_open", "edge-zero-125", t, TR_TICKET_OVERHEAD);
    tr_ring_free(ring);

    ticket_v1("key-decrypt-renews", FZ_KEY_DECRYPT, ms, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX, "d");
    ticket_v1("key-soon", FZ_KEY_SOON, ms, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX, "s");
    ticket_v1("key-pending", FZ_KEY_PENDING, ms, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX, "p");
    ticket_v1("key-retired", FZ_KEY_RETIRED, ms, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX, "r");
    ticket_v1("key-revoked", FZ_KEY_REVOKED, ms, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX, "x");
    ticket_v1("key-unknown", FZ_KEY_UNKNOWN, ms, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX, "u");
    ticket_v1("time-expired", FZ_KEY_ENCRYPT, FZ_NOW_MS - 3 * 3600000, s, FZ_SNI, FZ_ALPN,
              FZ_APP_CTX, "e");
    ticket_v1("time-future", FZ_KEY_ENCRYPT, FZ_NOW_MS + 600000, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX,
              "f");
    ticket_v1("time-max-age", FZ_KEY_ENCRYPT, ms, FZ_NOW_S - 2 * 86400, FZ_SNI, FZ_ALPN,
              FZ_APP_CTX, "m");
    ticket_v1("time-auth-future", FZ_KEY_ENCRYPT, ms, FZ_NOW_S + 3600, FZ_SNI, FZ_ALPN,
              FZ_APP_CTX, "a");
    ticket_v1("time-auth-unknown", FZ_KEY_ENCRYPT, ms, 0, FZ_SNI, FZ_ALPN, FZ_APP_CTX, "0");
    /* Times no node writes, behind a valid tag (a broken clock, another
     * implementation): the policy's arithmetic must hold at the extremes. */
    ticket_v1("time-issue-int64-min", FZ_KEY_ENCRYPT, INT64_MIN, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX,
              "i");
    ticket_v1("time-issue-int64-max", FZ_KEY_ENCRYPT, INT64_MAX, s, FZ_SNI, FZ_ALPN, FZ_APP_CTX,
              "j");
    ticket_v1("time-auth-int64-min", FZ_KEY_ENCRYPT, ms, INT64_MIN, FZ_SNI, FZ_ALPN, FZ_APP_CTX,
              "k");
    ticket_v1("bind-upper-sni", FZ_KEY_ENCRYPT, ms, s, "A.EXAMPLE", FZ_ALPN, FZ_APP_CTX, "U");
    ticket_v1("bind-other-sni", FZ_KEY_ENCRYPT, ms, s, "b.example", FZ_ALPN, FZ_APP_CTX, "S");
    ticket_v1("bind-other-alpn", FZ_KEY_ENCRYPT, ms, s, FZ_SNI, "http/1.1", FZ_APP_CTX, "A");
    ticket_v1("bind-no-alpn", FZ_KEY_ENCRYPT, ms, s, FZ_SNI, "", FZ_APP_CTX, "N");
    ticket_v1("bind-other-ctx", FZ_KEY_ENCRYPT, ms, s, FZ_SNI, FZ_ALPN, "other", "C");
}

/* ---- structure-aware tickets (fuzz_ticket_struct.c) ------------------------------ */

enum { ABS = 1, O_SNI = 2, O_ALPN = 4, O_CTX = 8, RING = 16, NB_SNI = 32, NB_ALPN = 64,
       LONG = 128 };

static void st_head(int id, unsigned flags, int64_t a, int64_t c)
{
    reset();
    put_u8((unsigned)id);
    put_u8(flags);
    if (flags & ABS) {
        put_u64((uint64_t)a);
        put_u64((uint64_t)c);
    } else {
        put_u32((uint32_t)(int32_t)a);
        put_u32((uint32_t)(int32_t)c);
    }
    put(salt, sizeof(salt));
    put(nonce, sizeof(nonce));
}

static void st_binding(const char *sni, const char *alpn, const char *ctx)
{
    put_field(sni);
    put_field(alpn);
    put_field(ctx);
}

static void st_state(const char *s)
{
    put_u16((unsigned)strlen(s));
    put_str(s);
}

static void st_simple(const char *name, int id, unsigned flags, int64_t a, int64_t c)
{
    st_head(id, flags, a, c);
    st_binding(FZ_SNI, FZ_ALPN, FZ_APP_CTX);
    st_state("state");
    save("ticket_struct", name);
}

static void st_edit(const char *name, unsigned op, unsigned pos, unsigned val)
{
    st_head(FZ_KEY_ENCRYPT, 0, 1000, 100);
    st_binding(FZ_SNI, FZ_ALPN, FZ_APP_CTX);
    st_state("state");
    put_u8(op);
    put_u16(pos);
    put_u8(val);
    save("ticket_struct", name);
}

static void gen_ticket_struct(void)
{
    static const char *const keys[FZ_KEY_COUNT] = {"key-retired", "key-decrypt", "key-encrypt",
                                                   "key-soon",    "key-pending", "key-revoked",
                                                   "key-unknown"};
    char big[4001];

    for (int id = 0; id < FZ_KEY_COUNT; id++)
        st_simple(keys[id], id, 0, 1000, 100);
    st_simple("ring-seals", FZ_KEY_ENCRYPT, RING, 0, 100);
    st_simple("auth-unknown", FZ_KEY_ENCRYPT, 0, 1000, INT32_MIN);
    /* The documented limits, on either side. */
    st_simple("lifetime-edge", FZ_KEY_ENCRYPT, 0, (FZ_LIFETIME + FZ_SKEW) * 1000, 100);
    st_simple("lifetime-past", FZ_KEY_ENCRYPT, 0, (FZ_LIFETIME + FZ_SKEW) * 1000 + 1, 100);
    st_simple("skew-edge", FZ_KEY_ENCRYPT, 0, -FZ_SKEW * 1000, 100);
    st_simple("skew-past", FZ_KEY_ENCRYPT, 0, -FZ_SKEW * 1000 - 1, 100);
    st_simple("max-age-edge", FZ_KEY_ENCRYPT, 0, 1000, FZ_MAX_AGE + FZ_SKEW);
    st_simple("max-age-past", FZ_KEY_ENCRYPT, 0, 1000, FZ_MAX_AGE + FZ_SKEW + 1);
    st_simple("auth-future", FZ_KEY_ENCRYPT, 0, 1000, -FZ_SKEW - 1);
    /* Absolute times at the ends of int64_t. */
    st_simple("abs-issue-min", FZ_KEY_ENCRYPT, ABS, INT64_MIN, FZ_NOW_S);
    st_simple("abs-issue-max", FZ_KEY_ENCRYPT, ABS, INT64_MAX, FZ_NOW_S);
    st_simple("abs-auth-min", FZ_KEY_ENCRYPT, ABS, FZ_NOW_MS, INT64_MIN);
    st_simple("abs-auth-max", FZ_KEY_ENCRYPT, ABS, FZ_NOW_MS, INT64_MAX);
    st_simple("abs-now", FZ_KEY_DECRYPT, ABS, FZ_NOW_MS, FZ_NOW_S);

    st_head(FZ_KEY_ENCRYPT, O_SNI, 1000, 100);
    st_binding("b.EXAMPLE", FZ_ALPN, FZ_APP_CTX);
    put_field("B.example");
    st_state("case");
    save("ticket_struct", "sni-case");
    st_head(FZ_KEY_ENCRYPT, O_SNI | O_ALPN | O_CTX, 1000, 100);
    st_binding(FZ_SNI, FZ_ALPN, FZ_APP_CTX);
    put_field("b.example");
    put_field("http/1.1");
    put_field("other");
    st_state("all differ");
    save("ticket_struct", "bind-all-differ");
    st_head(FZ_KEY_ENCRYPT, O_ALPN, 1000, 100);
    st_binding(FZ_SNI, FZ_ALPN, FZ_APP_CTX);
    put_field("h3");
    st_state("alpn differs");
    save("ticket_struct", "bind-alpn-differs");
    st_head(FZ_KEY_ENCRYPT, O_CTX, 1000, 100);
    st_binding(FZ_SNI, FZ_ALPN, FZ_APP_CTX);
    put_field("");
    st_state("context differs");
    save("ticket_struct", "bind-ctx-differs");
    st_head(FZ_KEY_ENCRYPT, O_SNI | O_ALPN | NB_SNI | NB_ALPN, 1000, 100);
    st_binding(FZ_SNI, FZ_ALPN, FZ_APP_CTX);
    put_field("b.example");
    put_field("");
    st_state("binding off");
    save("ticket_struct", "bind-off");
    st_head(FZ_KEY_ENCRYPT, LONG, 1000, 100);
    st_binding(FZ_SNI, FZ_ALPN, FZ_APP_CTX);
    st_state("long sni");
    save("ticket_struct", "sni-over-255");

    memset(big, 'B', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    st_head(FZ_KEY_ENCRYPT, 0, 1000, 100);
    st_binding(FZ_SNI, FZ_ALPN, FZ_APP_CTX);
    st_state(big);
    save("ticket_struct", "state-4000");

    st_edit("edit-version", 0, 0, 0x03);
    st_edit("edit-name", 3, 5, 0x00);
    st_edit("edit-salt", 0, 20, 0x80);
    st_edit("edit-tag", 0, 129, 0x01);
    st_edit("edit-truncate-124", 1, 124, 0);
    st_edit("edit-extend", 2, 0x41, 0);
}

/* ---- key files ------------------------------------------------------------------ */

static char text[TRI_KEYFILE_MAX_BYTES * 2];
static size_t text_len;

static void t_reset(void)
{
    text_len = 0;
}

static void t_put(const char *s)
{
    size_t n = strlen(s);
    FZ_CHECK(text_len + n < sizeof(text));
    memcpy(text + text_len, s, n);
    text_len += n;
}

static void t_key(int id, const char *activation, const char *suffix)
{
    uint8_t key[TR_KEY_BYTES];
    char hex[2 * TR_KEY_BYTES + 1];

    fz_key(id, key);
    tri_hex_encode(hex, key, TR_KEY_BYTES);
    hex[2 * TR_KEY_BYTES] = '\0';
    t_put("key ");
    text[text_len] = '\0';
    FZ_CHECK(text_len + 33 < sizeof(text));
    memcpy(text + text_len, hex, 32);
    text_len += 32;
    t_put(" ");
    t_put(activation);
    t_put(" ");
    t_put(hex + 32);
    t_put(suffix);
    t_put("\n");
}

/* The checksum line over what is there now. */
static void t_checksum(void)
{
    uint8_t d[32];
    char hex[65];

    FZ_CHECK(fz_backend()->sha256((const uint8_t *)text, text_len, d) == 0);
    tri_hex_encode(hex, d, 32);
    hex[64] = '\0';
    t_put("checksum sha256 ");
    t_put(hex);
    t_put("\n");
}

static void t_save(const char *name)
{
    save_bytes("keyfile", name, text, text_len);
}

static void formatted(const char *name, const struct tri_keyfile_info *info,
                      const struct tri_keyfile_entry *e, uint32_t n)
{
    FZ_CHECK(tri_keyfile_format(fz_backend(), info, e, n, text, sizeof(text), &text_len) == 0);
    t_save(name);
}

static void gen_keyfile(void)
{
    static struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyfile_info info;
    char act[32];

    for (int id = 0; id < 3; id++) {
        fz_key(id, e[id].key);
        e[id].activation = fz_key_activation(id);
        e[id].flags = 0;
    }
    formatted("v1-three-keys", NULL, e, 3);
    memset(&info, 0, sizeof(info));
    info.version = 2;
    info.serial = 42;
    snprintf(info.cluster, sizeof(info.cluster), "edge-eu.prod");
    fz_key(FZ_KEY_PENDING, e[3].key);
    e[3].activation = TR_ACTIVATION_PENDING;
    e[3].flags = 0;
    fz_key(FZ_KEY_REVOKED, e[4].key);
    e[4].activation = fz_key_activation(FZ_KEY_REVOKED);
    e[4].flags = TRI_KEY_REVOKED;
    formatted("v2-cluster-pending-revoked", &info, e, 5);
    info.cluster[0] = '\0';
    info.serial = UINT64_MAX;
    formatted("v2-serial-max", &info, e, 2);
    for (uint32_t i = 0; i < TR_RING_MAX_KEYS; i++) {
        fz_key(0, e[i].key);
        e[i].key[1] = (uint8_t)i;
        e[i].activation = (int64_t)i * 86400;
        e[i].flags = 0;
    }
    info.serial = 7;
    formatted("v2-64-keys", &info, e, TR_RING_MAX_KEYS);
    info.serial = 1;
    formatted("v2-no-keys", &info, e, 0);

    /* Hand-made files, each with a correct checksum unless it is the
     * point, so the parser gets to the line at fault. */
    t_reset();
    t_put("# comment \x01\xff high bytes\n\nticketring-keys 1\n# between\n\n");
    t_key(0, "0", "");
    t_key(1, "4611686018427387904", "");
    t_put("\n");
    t_checksum();
    t_save("v1-comments-blank-edges");

#define EDGE(name, body)                                                                       \
    do {                                                                                       \
        t_reset();                                                                             \
        body;                                                                                  \
        t_checksum();                                                                          \
        t_save(name);                                                                          \
    } while (0)

    EDGE("edge-activation-2p62-plus-1", (t_put("ticketring-keys 1\n"),
                                         t_key(0, "4611686018427387905", "")));
    EDGE("edge-activation-leading-zero", (t_put("ticketring-keys 1\n"), t_key(0, "017", "")));
    EDGE("edge-activation-sign", (t_put("ticketring-keys 1\n"), t_key(0, "+17", "")));
    snprintf(act, sizeof(act), "%lld", (long long)(FZ_NOW_S + 6LL * 366 * 86400));
    EDGE("edge-activation-beyond-horizon", (t_put("ticketring-keys 1\n"), t_key(0, act, "")));
    EDGE("edge-pending-in-v1", (t_put("ticketring-keys 1\n"), t_key(0, "pending", "")));
    EDGE("edge-revoked-in-v1", (t_put("ticketring-keys 1\n"), t_key(0, "5", " revoked")));
    EDGE("edge-revoked-typo", (t_put("ticketring-keys 2\nserial 3\n"), t_key(0, "5", " revoke")));
    EDGE("edge-duplicate-name", (t_put("ticketring-keys 1\n"), t_key(0, "5", ""),
                                 t_key(0, "6", "")));
    EDGE("edge-version-3", (t_put("ticketring-keys 3\n"), t_key(0, "5", "")));
    EDGE("edge-header-twice", (t_put("ticketring-keys 1\nticketring-keys 1\n")));
    EDGE("edge-no-header", (t_key(0, "5", "")));
    EDGE("edge-v2-no-serial", (t_put("ticketring-keys 2\n"), t_key(0, "5", "")));
    EDGE("edge-v2-serial-0", (t_put("ticketring-keys 2\nserial 0\n")));
    EDGE("edge-v2-serial-2p64", (t_put("ticketring-keys 2\nserial 18446744073709551616\n")));
    EDGE("edge-v2-cluster-after-serial",
         (t_put("ticketring-keys 2\nserial 5\ncluster edge\n")));
    EDGE("edge-v2-cluster-65",
         (t_put("ticketring-keys 2\ncluster "
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nserial 5\n")));
    EDGE("edge-v2-cluster-bad-char", (t_put("ticketring-keys 2\ncluster edge/eu\nserial 5\n")));
    EDGE("edge-double-space", (t_put("ticketring-keys  1\n")));
    EDGE("edge-trailing-space", (t_put("ticketring-keys 1 \n")));
    EDGE("edge-tab", (t_put("\tticketring-keys 1\n")));
    EDGE("edge-crlf", (t_put("ticketring-keys 1\r\n")));
    EDGE("edge-nul", (t_put("ticketring-keys 1\n# a"), text[text_len++] = '\0', t_put("b\n")));
    EDGE("edge-unknown-line", (t_put("ticketring-keys 1\nkeys 1\n")));
    EDGE("edge-uppercase-hex",
         (t_put("ticketring-keys 1\n"), t_key(0, "5", ""),
          text[text_len - 2] = (char)(text[text_len - 2] == 'a' ? 'A' : 'B')));
    EDGE("edge-checksum-md5", (t_put("ticketring-keys 1\nchecksum md5 00\n")));
    EDGE("edge-line-257", (t_put("ticketring-keys 1\n#"), memset(text + text_len, 'x', 256),
                           text_len += 256, t_put("\n")));
    {
        /* Zero name, zero HMAC secret, zero AES key. */
        static const char *const zero[3] = {"edge-zero-name", "edge-zero-hmac", "edge-zero-aes"};
        for (int part = 0; part < 3; part++) {
            /* "key " name(32) " 5 " HMAC(64) AES(64) */
            size_t from = part == 0 ? 4 : part == 1 ? 4 + 32 + 3 : 4 + 32 + 3 + 64;
            size_t n = part == 0 ? 32 : 64;
            t_reset();
            t_put("ticketring-keys 1\n");
            from += text_len;
            t_key(0, "5", "");
            memset(text + from, '0', n);
            t_checksum();
            t_save(zero[part]);
        }
    }
    t_reset();
    t_put("ticketring-keys 1\n");
    for (int i = 0; i <= TR_RING_MAX_KEYS; i++) {
        size_t at = text_len + 4;
        t_key(0, "5", "");
        snprintf(act, sizeof(act), "%02x", i);
        memcpy(text + at + 2, act, 2);
    }
    t_checksum();
    t_save("edge-65-keys");

    /* Integrity: the checksum wrong, missing, followed by more, or the
     * last line cut. */
    t_reset();
    t_put("ticketring-keys 1\n");
    t_key(0, "5", "");
    t_checksum();
    text[text_len - 2] = text[text_len - 2] == '0' ? '1' : '0';
    t_save("edge-checksum-wrong");
    text[text_len - 2] = text[text_len - 2] == '0' ? '1' : '0';
    text_len--;
    t_save("edge-no-final-newline");
    t_put("\n\n");
    t_save("edge-after-checksum");
    t_reset();
    t_put("ticketring-keys 1\n");
    t_key(0, "5", "");
    t_save("edge-no-checksum");
    save_bytes("keyfile", "edge-empty", "", 0);
}

/* ---- other servers' key files --------------------------------------------------- */

static void haproxy_line(int id)
{
    uint8_t key[TR_KEY_BYTES], raw[TR_KEY_BYTES];
    char line[TRI_HAPROXY_LINE_CHARS];

    fz_key(id, key);
    tri_haproxy_swap(key, raw);
    put(line, tri_base64_encode(raw, sizeof(raw), line));
}

static void gen_import(void)
{
    enum { HAPROXY = 1, AT_ZERO = 2, PENDING = 4, BEYOND = 6, PRELOAD = 8 };
    uint8_t key[TR_KEY_BYTES], k1[TR_KEY_BYTES], k2[TR_KEY_BYTES], k3[TR_KEY_BYTES];
    char three[TRI_HAPROXY_SLOTS * (TRI_HAPROXY_LINE_CHARS + 1)];
    static const unsigned nginx_sel[] = {0, AT_ZERO, PENDING, BEYOND};
    static const char *const nginx_name[] = {"nginx-now", "nginx-at-0", "nginx-pending",
                                             "nginx-beyond-horizon"};

    fz_key(FZ_KEY_UNKNOWN, key);
    for (int i = 0; i < 4; i++) {
        reset();
        put_u8(nginx_sel[i]);
        put(key, sizeof(key));
        save("import", nginx_name[i]);
    }
    reset();
    put_u8(PRELOAD);
    fz_key(FZ_KEY_ENCRYPT, key);
    put(key, sizeof(key));
    save("import", "nginx-already-held");
    reset();
    put_u8(0);
    memset(key, 0, sizeof(key));
    put(key, sizeof(key));
    save("import", "nginx-zero-key");
    reset();
    put_u8(0);
    fz_key(FZ_KEY_UNKNOWN, key);
    put(key, 48);
    save("import", "nginx-48-bytes");
    reset();
    put_u8(0);
    save("import", "nginx-empty");

    fz_key(FZ_KEY_DECRYPT, k1);
    fz_key(FZ_KEY_SOON, k2);
    fz_key(FZ_KEY_UNKNOWN, k3);
    reset();
    put_u8(HAPROXY | PRELOAD);
    put(three, tri_haproxy_format(k1, k3, k2, three));
    save("import", "haproxy-three");
    reset();
    put_u8(HAPROXY);
    haproxy_line(FZ_KEY_UNKNOWN);
    put_str("\n");
    save("import", "haproxy-one");
    reset();
    put_u8(HAPROXY | AT_ZERO);
    haproxy_line(FZ_KEY_DECRYPT);
    put_str("\r\n");
    haproxy_line(FZ_KEY_UNKNOWN);
    save("import", "haproxy-two-crlf-no-newline");
    reset();
    put_u8(HAPROXY);
    for (int id = 0; id < 5; id++) {
        haproxy_line(id);
        put_str("\n");
    }
    save("import", "haproxy-five-skips-two");
    reset();
    put_u8(HAPROXY | PENDING);
    haproxy_line(FZ_KEY_UNKNOWN);
    put_str("\n");
    haproxy_line(FZ_KEY_UNKNOWN);
    put_str("\n");
    save("import", "haproxy-repeated-key");
    reset();
    put_u8(HAPROXY);
    haproxy_line(FZ_KEY_DECRYPT);
    put_str("\n");
    {
        /* The same name with another secret. */
        uint8_t raw[TR_KEY_BYTES];
        char line[TRI_HAPROXY_LINE_CHARS];
        fz_key(FZ_KEY_DECRYPT, key);
        key[40] ^= 1;
        tri_haproxy_swap(key, raw);
        put(line, tri_base64_encode(raw, sizeof(raw), line));
        put_str("\n");
        save("import", "haproxy-name-two-secrets");
        reset();
        put_u8(HAPROXY);
        fz_key(FZ_KEY_UNKNOWN, key);
        put(line, tri_base64_encode(key, 48, line));
        put_str("\n");
        save("import", "haproxy-48-byte-key");
        reset();
        put_u8(HAPROXY);
        memset(key, 0, sizeof(key));
        put(line, tri_base64_encode(key, sizeof(key), line));
        put_str("\n");
        save("import", "haproxy-zero-key");
    }
    reset();
    put_u8(HAPROXY);
    haproxy_line(FZ_KEY_UNKNOWN);
    put_str("\n\n");
    haproxy_line(FZ_KEY_SOON);
    put_str("\n");
    save("import", "haproxy-empty-line");
    reset();
    put_u8(HAPROXY);
    put_str("QUJD=ERF\n");
    save("import", "haproxy-bad-padding");
    reset();
    put_u8(HAPROXY);
    put_str("QUJD\n");
    save("import", "haproxy-short-key");
}

/* ---- OpenSSL ------------------------------------------------------------------ */

static struct fz_ossl_world world;

static void ossl_raw(const char *name, unsigned flags, const uint8_t *t, size_t n)
{
    reset();
    put_u8(flags);
    put(t, n);
    save("openssl_ticket", name);
}

static size_t session_der(SSL_SESSION *s, uint8_t *out, size_t cap)
{
    unsigned char *p = out;
    int n = i2d_SSL_SESSION(s, NULL);

    FZ_CHECK(n > 0 && (size_t)n <= cap && i2d_SSL_SESSION(s, &p) == n);
    return (size_t)n;
}

static size_t appdata(int64_t issue_ms, int64_t auth, const char *sni, const char *alpn,
                      const char *node, uint64_t tag, uint8_t out[TRI_APPDATA_MAX])
{
    struct tri_appdata a;

    memset(&a, 0, sizeof(a));
    a.issue_ms = issue_ms;
    a.auth_time = auth;
    a.sni_len = (uint8_t)strlen(sni);
    memcpy(a.sni, sni, a.sni_len);
    a.alpn_len = (uint8_t)strlen(alpn);
    memcpy(a.alpn, alpn, a.alpn_len);
    a.node_len = (uint8_t)strlen(node);
    memcpy(a.node, node, a.node_len);
    a.early_tag = tag;
    return tri_appdata_encode(&a, out);
}

/* Mode 1: flags, key, tweak, binding data. */
static void ossl_binding(const char *name, unsigned flags, int id, unsigned tweak,
                         const uint8_t *ad, size_t ad_len)
{
    reset();
    put_u8(flags | 0x02);
    put_u8((unsigned)id);
    put_u8(tweak);
    put(ad, ad_len);
    save("openssl_ticket", name);
}

static void gen_openssl_ticket(void)
{
    static uint8_t der[16384], t[16384 + 128];
    const unsigned sni_a = 1 << 3, sni_upper = 2 << 3, alpn_h2 = 1 << 5, alpn_both = 3 << 5;
    const int64_t ms = FZ_NOW_MS - 1000, s = FZ_NOW_S - 100;
    uint8_t ad[TRI_APPDATA_MAX + 1];
    size_t n;

    for (int v = 0; v < 2; v++) {
        const unsigned base = (unsigned)v | sni_a | alpn_h2;
        const char *tls = v == FZ_OSSL_TLS12 ? "tls12" : "tls13";
        const unsigned char *tick = NULL;
        size_t tick_len = 0;
        char name[64];

        SSL_SESSION_get0_ticket(world.client_session[v], &tick, &tick_len);
        snprintf(name, sizeof(name), "raw-real-%s", tls);
        ossl_raw(name, base, tick, tick_len);
        n = fz_ossl_seal(FZ_KEY_ENCRYPT, (const uint8_t *)"not a session", 13, t, sizeof(t));
        snprintf(name, sizeof(name), "raw-sealed-garbage-%s", tls);
        ossl_raw(name, base, t, n);

        n = appdata(ms, s, FZ_SNI, FZ_ALPN, "node-b", 0, ad);
        snprintf(name, sizeof(name), "bind-v1-%s", tls);
        ossl_binding(name, base, FZ_KEY_ENCRYPT, 0, ad, n);
        snprintf(name, sizeof(name), "bind-decrypt-key-%s", tls);
        ossl_binding(name, base, FZ_KEY_DECRYPT, 0, ad, n);
        snprintf(name, sizeof(name), "unbound-%s", tls);
        ossl_binding(name, base, FZ_KEY_ENCRYPT, 1 | 1 << 2, ad, 0);

        n = session_der(world.server_session[v], der, sizeof(der));
        reset();
        put_u8(base | 0x04);
        put_u8(FZ_KEY_ENCRYPT);
        put(der, n);
        snprintf(name, sizeof(name), "der-%s", tls);
        save("openssl_ticket", name);
    }
    n = session_der(world.server_session[0], der, sizeof(der));
    n = fz_ossl_seal(FZ_KEY_RETIRED, der, n, t, sizeof(t));
    ossl_raw("raw-retired-key", sni_a | alpn_h2, t, n);
    n = fz_ossl_seal(FZ_KEY_UNKNOWN, der, session_der(world.server_session[0], der, sizeof(der)),
                     t, sizeof(t));
    ossl_raw("raw-unknown-key", sni_a | alpn_h2, t, n);
    ossl_raw("raw-short", sni_a | alpn_h2, t, 40);
    ossl_raw("raw-empty", sni_a | alpn_h2, t, 0);

    n = appdata(ms, s, FZ_SNI, FZ_ALPN, "node-b", 0x1122334455667788u, ad);
    ossl_binding("bind-v2-early-tag", sni_a | alpn_both, FZ_KEY_ENCRYPT, 0, ad, n);
    n = appdata(ms, s, FZ_SNI, FZ_ALPN, "node-a", 0, ad);
    ossl_binding("bind-soon-key", sni_upper | alpn_h2, FZ_KEY_SOON, 0, ad, n);
    ossl_binding("bind-pending-key", sni_a | alpn_both, FZ_KEY_PENDING, 0, ad, n);
    ossl_binding("bind-revoked-key", sni_a | alpn_h2, FZ_KEY_REVOKED, 0, ad, n);
    ossl_binding("bind-unknown-key", sni_a | alpn_h2, FZ_KEY_UNKNOWN, 0, ad, n);
    ossl_binding("bind-session-3h-old", sni_a | alpn_h2, FZ_KEY_ENCRYPT, 2, ad, n);
    ossl_binding("bind-no-alpn-offer", sni_a, FZ_KEY_ENCRYPT, 0, ad, n);
    ossl_binding("bind-no-sni", alpn_h2, FZ_KEY_ENCRYPT, 0, ad, n);
    ad[n] = 0;
    ossl_binding("bind-trailing-byte", sni_a | alpn_h2, FZ_KEY_ENCRYPT, 0, ad, n + 1);
    n = appdata(FZ_NOW_MS - 3 * 3600000, s, FZ_SNI, FZ_ALPN, "node-b", 0, ad);
    ossl_binding("bind-expired", sni_a | alpn_h2, FZ_KEY_ENCRYPT, 0, ad, n);
    n = appdata(INT64_MIN, s, FZ_SNI, FZ_ALPN, "node-b", 0, ad);
    ossl_binding("bind-issue-int64-min", sni_a | alpn_h2, FZ_KEY_ENCRYPT, 0, ad, n);
    n = appdata(ms, FZ_NOW_S - 2 * 86400, FZ_SNI, FZ_ALPN, "node-b", 0, ad);
    ossl_binding("bind-max-age", sni_a | alpn_h2, FZ_KEY_ENCRYPT, 0, ad, n);
    n = appdata(ms, s, "b.example", "http/1.1", "node-b", 0, ad);
    ossl_binding("bind-other-sni-alpn", sni_a | alpn_h2, FZ_KEY_ENCRYPT, 0, ad, n);
    ossl_binding("unbound-refused", 0x80 | sni_a | alpn_h2, FZ_KEY_ENCRYPT, 1 | 1 << 2, ad, 0);
    ossl_binding("unbound-no-host-no-alpn", sni_a | alpn_h2, FZ_KEY_ENCRYPT,
                 1 | 1 << 2 | 0x10 | 0x20, ad, 0);
    {
        /* Explicit session time and timeout. */
        reset();
        put_u8(sni_a | alpn_h2 | 0x02);
        put_u8(FZ_KEY_ENCRYPT);
        put_u8(3 | 3 << 2);
        put_u32((uint32_t)FZ_NOW_S);
        put_u32(0x7fffffff);
        save("openssl_ticket", "unbound-explicit-times");
    }
}

/* ---- binding data --------------------------------------------------------------- */

static void gen_appdata(void)
{
    uint8_t ad[TRI_APPDATA_MAX + 1];
    char sni[256], alpn[256], node[65];
    size_t n;

    n = appdata(FZ_NOW_MS - 1000, FZ_NOW_S - 100, FZ_SNI, FZ_ALPN, "node-b", 0, ad);
    save_bytes("appdata", "v1", ad, n);
    save_bytes("appdata", "edge-truncated", ad, n - 1);
    ad[n] = 0;
    save_bytes("appdata", "edge-trailing-byte", ad, n + 1);
    ad[0] = 3;
    save_bytes("appdata", "edge-version-3", ad, n);
    ad[0] = 0;
    save_bytes("appdata", "edge-version-0", ad, n);
    ad[0] = 1;
    ad[17] = 200; /* SNI length past the end */
    save_bytes("appdata", "edge-sni-past-end", ad, n);
    n = appdata(FZ_NOW_MS - 1000, FZ_NOW_S - 100, FZ_SNI, FZ_ALPN, "node-b", 7, ad);
    save_bytes("appdata", "v2-tag", ad, n);
    memset(ad + n - 8, 0, 8);
    save_bytes("appdata", "edge-v2-tag-0", ad, n);
    n = appdata(0, 0, "", "", "", 0, ad);
    save_bytes("appdata", "v1-all-empty", ad, n);
    memset(sni, 's', 255);
    sni[255] = '\0';
    memset(alpn, 'p', 255);
    alpn[255] = '\0';
    memset(node, 'n', 64);
    node[64] = '\0';
    n = appdata(FZ_NOW_MS, FZ_NOW_S, sni, alpn, node, UINT64_MAX, ad);
    save_bytes("appdata", "v2-all-max", ad, n);
    n = appdata(FZ_NOW_MS, FZ_NOW_S, FZ_SNI, "h2", "node\001b", 0, ad);
    ad[n - 2] = '\0';
    save_bytes("appdata", "edge-node-nul", ad, n);
    n = appdata(FZ_NOW_MS, -1, FZ_SNI, "h2", "n", 0, ad);
    save_bytes("appdata", "edge-auth-negative", ad, n);
    n = appdata(INT64_MIN, FZ_NOW_S, FZ_SNI, "h2", "n", 0, ad);
    save_bytes("appdata", "time-issue-int64-min", ad, n);
    n = appdata(INT64_MAX, INT64_MAX, FZ_SNI, "h2", "n", 0, ad);
    save_bytes("appdata", "time-int64-max", ad, n);
    n = appdata(FZ_NOW_MS - 1000, FZ_NOW_S - 100, "A.EXAMPLE", "http/1.1", "n", 0, ad);
    save_bytes("appdata", "bind-upper-sni-http11", ad, n);
    n = appdata(FZ_NOW_MS - 1000, FZ_NOW_S - 100, FZ_SNI, "h3", "n", 0, ad);
    save_bytes("appdata", "bind-alpn-not-offered", ad, n);
}

/* ---- ClientHello ------------------------------------------------------------------ */

struct captured {
    int done;
    uint8_t sni[512], alpn[512], psk[2048];
    size_t sni_len, alpn_len, psk_len;
};

static void copy_ext(SSL *s, unsigned type, uint8_t *out, size_t cap, size_t *len)
{
    const unsigned char *p;
    size_t n;

    *len = 0;
    if (SSL_client_hello_get0_ext(s, type, &p, &n) && n <= cap) {
        memcpy(out, p, n);
        *len = n;
    }
}

static int capture_cb(SSL *s, int *alert, void *arg)
{
    struct captured *c = arg;

    (void)alert;
    copy_ext(s, TLSEXT_TYPE_server_name, c->sni, sizeof(c->sni), &c->sni_len);
    copy_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, c->alpn, sizeof(c->alpn),
             &c->alpn_len);
    copy_ext(s, TLSEXT_TYPE_psk, c->psk, sizeof(c->psk), &c->psk_len);
    c->done = 1;
    return SSL_CLIENT_HELLO_ERROR; /* seen enough */
}

/* The client's first flight offering `session` with SNI and ALPN, and the
 * extension bodies a server sees in it. */
static size_t first_flight(SSL_SESSION *session, int version, uint8_t *out, size_t cap,
                           struct captured *c)
{
    SSL *cl = SSL_new(world.client), *sv;
    SSL_CTX *plain = tu_tls_server_ctx(&world.ident, NULL);
    BIO *cin = BIO_new(BIO_s_mem()), *cout = BIO_new(BIO_s_mem());
    BIO *sin = BIO_new(BIO_s_mem()), *sout = BIO_new(BIO_s_mem());
    uint8_t wire[32];
    size_t wire_len = tu_tls_alpn_wire("h2,http/1.1", wire, sizeof(wire));
    int n;

    FZ_CHECK(cl != NULL && plain != NULL && cin && cout && sin && sout);
    SSL_CTX_set_client_hello_cb(plain, capture_cb, c);
    sv = SSL_new(plain);
    FZ_CHECK(sv != NULL);
    SSL_set_bio(cl, cin, cout);
    SSL_set_bio(sv, sin, sout);
    SSL_set_connect_state(cl);
    SSL_set_accept_state(sv);
    FZ_CHECK(SSL_set_max_proto_version(cl, version) == 1);
    FZ_CHECK(SSL_set_tlsext_host_name(cl, FZ_SNI) == 1);
    FZ_CHECK(SSL_set_alpn_protos(cl, wire, (unsigned)wire_len) == 0);
    if (session != NULL)
        FZ_CHECK(SSL_set_session(cl, session) == 1);
    FZ_CHECK(SSL_do_handshake(cl) <= 0);
    n = BIO_read(cout, out, (int)cap);
    FZ_CHECK(n > 0);
    FZ_CHECK(BIO_write(sin, out, n) == n);
    SSL_do_handshake(sv);
    FZ_CHECK(c->done);
    SSL_free(cl);
    SSL_free(sv);
    SSL_CTX_free(plain);
    ERR_clear_error();
    return (size_t)n;
}

/* A ClientHello record split into two records at the middle of its
 * message (RFC 5246 6.2.1 allows it; mbedTLS 2.28 refuses it): the pair,
 * and the first fragment alone. */
static void fragments(const uint8_t *rec, size_t n)
{
    size_t msg = n - TRI_CH_RECORD_HEADER, first = msg / 2;

    reset();
    put(rec, 3);
    put_u16((unsigned)first);
    put(rec + TRI_CH_RECORD_HEADER, first);
    save("clienthello", "record-fragment-first");
    put(rec, 3);
    put_u16((unsigned)(msg - first));
    put(rec + TRI_CH_RECORD_HEADER + first, msg - first);
    save("clienthello", "records-fragmented");
#ifdef FZ_HAVE_MBED
    /* What the mbedTLS glue reads: byte 0 the read size. */
    memmove(b.p + 1, b.p, b.len);
    b.p[0] = 0;
    b.len++;
    save("mbedtls_hello", "ossl-tls12-fragmented");
#endif
}

/* A first flight for the mbedTLS glue's target (built with the mbedTLS
 * glue only): read `chunk` bytes at a time. */
static void mbed_input(const char *name, unsigned chunk, const uint8_t *rec, size_t n)
{
#ifdef FZ_HAVE_MBED
    reset();
    put_u8(chunk);
    put(rec, n);
    save("mbedtls_hello", name);
#else
    (void)name;
    (void)chunk;
    (void)rec;
    (void)n;
#endif
}

static void gen_clienthello(void)
{
    static uint8_t rec[16384];
    struct captured c;
    size_t n;

    memset(&c, 0, sizeof(c));
    n = first_flight(world.client_session[FZ_OSSL_TLS13], TLS1_3_VERSION, rec, sizeof(rec), &c);
    FZ_CHECK(c.psk_len > 0);
    save_bytes("clienthello", "ext-sni", c.sni, c.sni_len);
    save_bytes("clienthello", "ext-alpn", c.alpn, c.alpn_len);
    save_bytes("clienthello", "ext-psk", c.psk, c.psk_len);
    save_bytes("clienthello", "record-tls13-psk", rec, n);
    save_bytes("clienthello", "hello-tls13-psk", rec + 9, n - 9);
    mbed_input("ossl-tls13-psk", 0, rec, n);
    memset(&c, 0, sizeof(c));
    n = first_flight(world.client_session[FZ_OSSL_TLS12], TLS1_2_VERSION, rec, sizeof(rec), &c);
    save_bytes("clienthello", "record-tls12-ticket", rec, n);
    mbed_input("ossl-tls12-ticket", 0, rec, n);
    mbed_input("ossl-tls12-ticket-read-2", 2, rec, n);
    fragments(rec, n);

    reset(); /* an unknown name type before the host name */
    put_u16(2 * 3 + 3 + 9);
    put_u8(1);
    put_u16(3);
    put_str("abc");
    put_u8(0);
    put_u16(9);
    put_str(FZ_SNI);
    save("clienthello", "sni-other-type-first");
    reset(); /* a host name of 256 bytes */
    put_u16(3 + 256);
    put_u8(0);
    put_u16(256);
    for (int i = 0; i < 256; i++)
        put_u8('h');
    save("clienthello", "sni-256");
    reset();
    put_u16(0);
    save("clienthello", "sni-empty-list");

    reset(); /* two identities, two binders */
    put_u16(2 * (2 + 4 + 4));
    for (int i = 0; i < 2; i++) {
        put_u16(4);
        put_str("idid");
        put_u32(0x01020304u + (uint32_t)i);
    }
    put_u16(2 * 33);
    for (int i = 0; i < 2; i++) {
        put_u8(32);
        for (int j = 0; j < 32; j++)
            put_u8((unsigned)j);
    }
    save("clienthello", "psk-two-identities");
    b.len -= 33; /* one binder short */
    b.p[2 + 20] = 0;
    b.p[2 + 21] = 33;
    save("clienthello", "psk-binder-missing");
    reset(); /* a binder of 31 bytes */
    put_u16(2 + 1 + 4);
    put_u16(1);
    put_u8('i');
    put_u32(7);
    put_u16(33);
    put_u8(31);
    for (int j = 0; j < 32; j++)
        put_u8(0);
    save("clienthello", "psk-binder-31");
}

/* ---- ClientHellos of mbedTLS clients, and the mbedTLS glue's first reads ----------- */

#ifdef FZ_HAVE_MBED
static void gen_mbedtls_hello(void)
{
    static uint8_t rec[16384];
    static const struct {
        const char *name, *sni, *alpn;
        int resume;
    } kinds[] = {
        {"mbed-ticket", FZ_SNI, "h2,http/1.1", 1},
        {"mbed-ticket-no-alpn", FZ_SNI, NULL, 1},
        {"mbed-ticket-no-sni", NULL, "h2", 1},
        {"mbed-ticket-sni-b", "b.example", "http/1.1", 1},
        {"mbed-empty-ticket", FZ_SNI, "h2", 0},
        {"mbed-no-sni-no-alpn", NULL, NULL, 0},
        {"mbed-alpn-unknown", FZ_SNI, "spdy/3,h2c", 0},
    };
    size_t n;

    fz_mbed_random_reset();
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char name[64];
        n = fz_mbed_client_hello(kinds[i].sni, kinds[i].alpn, kinds[i].resume, rec, sizeof(rec));
        snprintf(name, sizeof(name), "record-%s", kinds[i].name);
        save_bytes("clienthello", name, rec, n);
        mbed_input(kinds[i].name, 0, rec, n);
        if (i == 0) {
            /* The record header and body split across reads. */
            mbed_input("mbed-ticket-read-1", 1, rec, n);
            mbed_input("mbed-ticket-read-7", 7, rec, n);
            mbed_input("mbed-ticket-truncated", 0, rec, n - 1);
            mbed_input("mbed-ticket-header-only", 0, rec, TRI_CH_RECORD_HEADER);
            /* Something after the record (mbedTLS reads no further). */
            reset();
            put_u8(0);
            put(rec, n);
            put(rec, TRI_CH_RECORD_HEADER);
            save("mbedtls_hello", "mbed-ticket-then-more");
        }
    }
    reset(); /* not a handshake record */
    put_u8(0);
    put_u8(23);
    put_u16(0x0303);
    put_u16(64);
    for (int i = 0; i < 64; i++)
        put_u8(0);
    save("mbedtls_hello", "edge-application-data");
    fz_mbed_world_free();
}
#endif

/* ---- session DER -------------------------------------------------------------- */

static void gen_session_der(void)
{
    static uint8_t der[16384];
    static const uint8_t age5[] = {0x30, 0x0c, 0x02, 0x01, 0x01, 0xae, 0x07,
                                   0x02, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t negative[] = {0x30, 0x08, 0x02, 0x01, 0x01, 0xae,
                                       0x03, 0x02, 0x01, 0x80};
    static const uint8_t six[] = {0x30, 0x0d, 0x02, 0x01, 0x01, 0xae, 0x08, 0x02,
                                  0x06, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t indefinite[] = {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00};
    static const uint8_t long_len[] = {0x30, 0x85, 0x00, 0x00, 0x00, 0x00, 0x03,
                                       0x02, 0x01, 0x01};
    static const uint8_t high_tag[] = {0x30, 0x05, 0x1f, 0x81, 0x01, 0x01, 0x00};
    static const uint8_t trailing[] = {0x30, 0x03, 0x02, 0x01, 0x01, 0x00};
    static const uint8_t inner_short[] = {0x30, 0x07, 0x02, 0x01, 0x01, 0xae,
                                          0x02, 0x02, 0x05};
    size_t n;

    n = session_der(world.server_session[FZ_OSSL_TLS13], der, sizeof(der));
    save_bytes("session_der", "server-tls13", der, n);
    n = session_der(world.server_session[FZ_OSSL_TLS12], der, sizeof(der));
    save_bytes("session_der", "server-tls12", der, n);
    n = session_der(world.client_session[FZ_OSSL_TLS13], der, sizeof(der));
    save_bytes("session_der", "client-tls13-with-cert", der, n);
    save_bytes("session_der", "edge-age-5-bytes", age5, sizeof(age5));
    save_bytes("session_der", "edge-age-negative", negative, sizeof(negative));
    save_bytes("session_der", "edge-age-6-bytes", six, sizeof(six));
    save_bytes("session_der", "edge-indefinite", indefinite, sizeof(indefinite));
    save_bytes("session_der", "edge-length-5-bytes", long_len, sizeof(long_len));
    save_bytes("session_der", "edge-high-tag", high_tag, sizeof(high_tag));
    save_bytes("session_der", "edge-trailing", trailing, sizeof(trailing));
    save_bytes("session_der", "edge-inner-past-end", inner_short, sizeof(inner_short));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    /* Tickets and key files use the OpenSSL backend's digests and AEAD; both
     * backends compute the same bytes. */
    setenv("TR_FUZZ_BACKEND", "openssl", 1);
    fz_random_reset();
    gen_ticket_open();
    gen_ticket_struct();
    gen_keyfile();
    gen_import();
    if (fz_ossl_world_init(&world) != 0)
        return 1;
    gen_openssl_ticket();
    gen_appdata();
    gen_clienthello();
#ifdef FZ_HAVE_MBED
    gen_mbedtls_hello();
#endif
    gen_session_der();
    fz_ossl_world_free(&world);
    printf("seed corpus written to %s\n", outdir);
    return 0;
}
