/*
 * The ring's time and binding policy as plain checks, shared by the
 * generic ticket format (ticket.c) and TLS integrations that keep their
 * own format (OpenSSL's): one definition of "expired", "from the future"
 * and "bound elsewhere" for every path.
 */
#include <string.h>

#include "host.h"
#include "ring.h"

int tri_check_times(tr_ring *r, int64_t issue_ms, int64_t auth_time, int64_t now_ms)
{
    int64_t skew_ms = (int64_t)atomic_load(&r->skew) * 1000;
    int64_t skew = skew_ms / 1000;
    int64_t now = tri_floor_s(now_ms);

    if (issue_ms > now_ms + skew_ms || (auth_time != 0 && auth_time > now + skew))
        return TR_E_TICKET_FUTURE;
    /* "now - time > limit", rearranged as "time < now - limit": the times
     * are whatever a ticket carries (a node with a broken clock, another
     * implementation) and now - INT64_MIN would overflow. */
    if (issue_ms < now_ms - ((int64_t)atomic_load(&r->lifetime) * 1000 + skew_ms) ||
        (auth_time != 0 && auth_time < now - ((int64_t)atomic_load(&r->max_age) + skew)))
        return TR_E_TICKET_EXPIRED;
    return 0;
}

int tri_lifetime_left(tr_ring *r, int64_t now, int64_t auth_time, uint32_t *seconds)
{
    uint32_t life = (uint32_t)atomic_load(&r->lifetime);
    int64_t remaining = (int64_t)atomic_load(&r->max_age) - (now - auth_time);

    /* Advertise no more than the session has left before its max age. */
    if (remaining <= 0)
        return TR_E_TICKET_EXPIRED;
    if (remaining < (int64_t)life)
        life = (uint32_t)remaining;
    *seconds = life;
    return 0;
}

/* Whether a key newer than encrypt key `enc` has a date: a pending key
 * (no activation time yet) does not extend the schedule by itself, nor
 * does a revoked one (it will never encrypt). */
static int newer_key_dated(const struct tri_keyset *ks, int enc)
{
    for (uint32_t i = (uint32_t)enc + 1; i < ks->n; i++)
        if (ks->keys[i].activation != TR_ACTIVATION_PENDING && !ks->keys[i].revoked)
            return 1;
    return 0;
}

#define LOGGED_OVERDUE 1
#define LOGGED_STOPPED 2

/* The schedule has run out when the encrypt key is the newest dated key and
 * has been encrypting for longer than the rotation period: each seal is
 * counted and a warning logged once per key set, well before the maximum
 * encrypt age (if any) stops sealing altogether. */
int tri_seal_overdue(tr_ring *r, struct tri_keyset *ks, int enc, int64_t now)
{
    uint32_t period = (uint32_t)atomic_load(&r->rotation_period);
    uint32_t max_age = (uint32_t)atomic_load(&r->max_encrypt_age);
    int64_t age = now - ks->keys[enc].activation;
    int stop;

    if ((period == 0 || age <= (int64_t)period) && (max_age == 0 || age <= (int64_t)max_age))
        return 0;
    if (newer_key_dated(ks, enc))
        return 0;
    if (period != 0 && age > (int64_t)period) {
        tri_count(&r->counters.seal_overdue);
        if ((atomic_fetch_or(&ks->overdue_logged, LOGGED_OVERDUE) & LOGGED_OVERDUE) == 0)
            tri_log(r, TR_LOG_WARN,
                    "key schedule ran out: the newest key has encrypted for more than "
                    "%u s and no newer key is held (fingerprint %s); %s",
                    period, ks->fingerprint,
                    atomic_load(&r->exhausted_policy) == TR_EXHAUSTED_STOP
                        ? "issuing no tickets"
                    : max_age != 0 ? "still sealing with it until its maximum encrypt age"
                                   : "still sealing with it");
    }
    stop = (period != 0 && age > (int64_t)period &&
            atomic_load(&r->exhausted_policy) == TR_EXHAUSTED_STOP) ||
           (max_age != 0 && age > (int64_t)max_age);
    if (stop && max_age != 0 && age > (int64_t)max_age &&
        (atomic_fetch_or(&ks->overdue_logged, LOGGED_STOPPED) & LOGGED_STOPPED) == 0)
        tri_log(r, TR_LOG_ERROR,
                "key schedule exhausted: the newest key has encrypted for more than its "
                "maximum encrypt age of %u s (fingerprint %s); issuing no tickets until a "
                "newer key arrives",
                max_age, ks->fingerprint);
    return stop;
}

int tr_ring_set_max_encrypt_age(tr_ring *r, uint32_t seconds)
{
    if (r == NULL || seconds > 31536000u)
        return TR_E_INVAL;
    atomic_store(&r->max_encrypt_age, seconds);
    return 0;
}

int tr_ring_now_ms(tr_ring *r, int64_t *now_ms)
{
    if (r == NULL || now_ms == NULL)
        return TR_E_INVAL;
    *now_ms = tri_ring_now_ms(r);
    return 0;
}

int tr_ring_check_times(tr_ring *r, int64_t issue_ms, int64_t auth_time, int64_t *age_ms)
{
    int64_t now_ms;

    if (r == NULL || auth_time < 0)
        return TR_E_INVAL;
    now_ms = tri_ring_now_ms(r);
    if (age_ms != NULL) {
        /* An age beyond INT64_MAX (issue_ms far in the past) saturates. */
        if (now_ms <= issue_ms)
            *age_ms = 0;
        else if (now_ms >= 0 && issue_ms < now_ms - INT64_MAX)
            *age_ms = INT64_MAX;
        else
            *age_ms = now_ms - issue_ms;
    }
    return tri_check_times(r, issue_ms, auth_time, now_ms);
}

int tr_ring_ticket_lifetime(tr_ring *r, int64_t auth_time, uint32_t *seconds)
{
    int64_t now;

    if (r == NULL || seconds == NULL || auth_time < 0)
        return TR_E_INVAL;
    now = tri_floor_s(tri_ring_now_ms(r));
    return tri_lifetime_left(r, now, auth_time == 0 ? now : auth_time, seconds);
}

/* Whether `proto` is one of the length-prefixed names in `offer`; a
 * malformed offer (an empty name, a name past the end) offers nothing. */
static int offered(const uint8_t *proto, size_t proto_len, const uint8_t *offer, size_t len)
{
    int found = 0;

    for (size_t i = 0; i < len;) {
        size_t n = offer[i];
        if (n == 0 || n > len - i - 1)
            return 0;
        if (n == proto_len && memcmp(offer + i + 1, proto, n) == 0)
            found = 1;
        i += 1 + n;
    }
    return found;
}

int tr_ring_check_binding(tr_ring *r, const uint8_t *ticket_sni, size_t ticket_sni_len,
                          const uint8_t *sni, size_t sni_len, const uint8_t *ticket_alpn,
                          size_t ticket_alpn_len, const uint8_t *alpn_offer,
                          size_t alpn_offer_len)
{
    if (r == NULL || (ticket_sni == NULL && ticket_sni_len != 0) ||
        (sni == NULL && sni_len != 0) || (ticket_alpn == NULL && ticket_alpn_len != 0) ||
        (alpn_offer == NULL && alpn_offer_len != 0))
        return TR_E_INVAL;
    if (atomic_load(&r->bind_sni) && !tri_same_host(ticket_sni, ticket_sni_len, sni, sni_len))
        return TR_E_TICKET_SNI;
    if (atomic_load(&r->bind_alpn) && ticket_alpn_len != 0 &&
        !offered(ticket_alpn, ticket_alpn_len, alpn_offer, alpn_offer_len))
        return TR_E_TICKET_ALPN;
    return 0;
}
