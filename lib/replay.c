/*
 * The 0-RTT replay cache (docs/early-data.md). Exactness comes from three
 * rules: an entry is never removed before its window has passed; a check
 * that finds no room records nothing and refuses (fail closed); and every
 * check of a value holds the lock of the value's home bucket from the
 * lookup to the insert, so two threads checking the same value cannot both
 * find it new.
 *
 * Layout: 64-byte buckets, one cache line each, holding their own lock and
 * four entries, so a check normally touches one line (two threads sharing
 * the table mostly pay for that line moving between cores, not for a lock
 * elsewhere). A bucket that is full spills into the next ones, at most
 * MAX_SPILL of them (the table has that many extra buckets at its end, so
 * the index never wraps); its `reach` says how far its entries went, and
 * locks are always taken in ascending bucket order, so two threads never
 * wait for each other in a cycle.
 *
 * Sizing: home buckets = the power of two with 4 * homes >= 2 * capacity,
 * so the table is at most half full at rated capacity. A check then finds
 * no room only if the 33 buckets from its home on hold 132 live entries
 * while 66 are expected there: a Chernoff bound puts that below e^-25 per
 * bucket (docs/early-data.md).
 */
#include "replay.h"

#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

#include "defaults.h"
#include "fork.h"
#include "secure.h"

#define BUCKET_SLOTS 4
#define MAX_SPILL 32u
#define WINDOW_MIN_MS 1000u
#define WINDOW_MAX_MS 3600000u
#define STRIPES 16u

struct bucket {
    alignas(64) atomic_uint lock;
    uint8_t reach; /* this bucket's entries live in it and the next `reach` */
    uint8_t pad[3];
    int64_t base;                  /* an entry expires at base + off */
    uint32_t off[BUCKET_SLOTS];
    uint64_t tag[BUCKET_SLOTS];    /* 0: empty */
};
_Static_assert(sizeof(struct bucket) == 64, "a bucket is one cache line");

/* Counters, striped by thread so the hot path never fights over a line. */
struct stripe {
    alignas(64) atomic_uint_fast64_t fresh;
    atomic_uint_fast64_t replays;
    atomic_uint_fast64_t full;
    atomic_uint_fast64_t startup;
    atomic_int_fast64_t entries; /* inserted minus reclaimed, by this stripe */
    atomic_uint_fast64_t store_fresh;
    atomic_uint_fast64_t store_replays;
    atomic_uint_fast64_t store_errors;
};

struct tr_replay {
    tr_malloc_fn malloc_fn;
    tr_free_fn free_fn;
    void *alloc_arg;
    tr_clock_fn clock;
    void *clock_arg;
    int64_t start_ms;
    uint32_t capacity;
    uint32_t window_ms;
    uint32_t homes; /* home buckets: a power of two */
    uint32_t spill; /* extra buckets after them */
    uint64_t instance; /* random: names this cache in its early-data tag */
    tr_replay_store_fn store; /* NULL: this node's cache is the only memory */
    void *store_arg;
    uint32_t skew_ms;
    uint32_t store_flags;
    uint8_t key[TRI_SIPHASH_KEY_BYTES];
    size_t bytes;
    void *block; /* the one allocation holding buckets and stripes */
    struct bucket *buckets;
    struct stripe *stripes;
};

static atomic_uint next_stripe;
static _Thread_local unsigned my_stripe = UINT32_MAX;

static struct stripe *stripe_of(const tr_replay *rp)
{
    if (my_stripe == UINT32_MAX)
        my_stripe = atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) % STRIPES;
    return &rp->stripes[my_stripe];
}

static void add(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static int64_t now_ms(const tr_replay *rp)
{
    return rp->clock(rp->clock_arg);
}

/* A spin lock: held for a few dozen nanoseconds, and it lives in the line
 * the check needs anyway. Yields when the holder seems to be descheduled. */
static void lock(struct bucket *b)
{
    for (unsigned spins = 0;; spins++) {
        if (!atomic_exchange_explicit(&b->lock, 1, memory_order_acquire))
            return;
        while (atomic_load_explicit(&b->lock, memory_order_relaxed)) {
            if (++spins > 100)
                sched_yield();
#if defined(__x86_64__) || defined(__i386__)
            else
                __builtin_ia32_pause();
#endif
        }
    }
}

static void unlock(struct bucket *b)
{
    atomic_store_explicit(&b->lock, 0, memory_order_release);
}

static int draw_random(void *buf, size_t len)
{
    ssize_t n;

    do
        n = getrandom(buf, len, 0);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : TR_E_CRYPTO;
}

int tri_replay_new_sharded(tr_replay **out, uint32_t capacity, uint32_t window_ms,
                           uint32_t homes, tr_malloc_fn malloc_fn, tr_free_fn free_fn,
                           void *arg)
{
    tr_replay *rp;
    size_t bucket_bytes, stripe_bytes;
    uintptr_t base;
    int rc;

    if (out == NULL || malloc_fn == NULL || free_fn == NULL || capacity == 0 ||
        capacity > TR_REPLAY_MAX_CAPACITY || window_ms < WINDOW_MIN_MS ||
        window_ms > WINDOW_MAX_MS || (homes & (homes - 1)) != 0)
        return TR_E_INVAL;
    *out = NULL;
    if (homes == 0) {
        homes = 1;
        while ((uint64_t)homes * BUCKET_SLOTS < 2 * (uint64_t)capacity)
            homes <<= 1;
    }
    rp = malloc_fn(sizeof(*rp), arg);
    if (rp == NULL)
        return TR_E_NOMEM;
    memset(rp, 0, sizeof(*rp));
    rp->malloc_fn = malloc_fn;
    rp->free_fn = free_fn;
    rp->alloc_arg = arg;
    rp->clock = tri_realtime_ms;
    rp->capacity = capacity;
    rp->window_ms = window_ms;
    rp->homes = homes;
    rp->spill = homes < MAX_SPILL ? homes : MAX_SPILL;
    bucket_bytes = (size_t)(homes + rp->spill) * sizeof(struct bucket);
    stripe_bytes = STRIPES * sizeof(struct stripe);
    rp->block = malloc_fn(bucket_bytes + stripe_bytes + 63, arg);
    if (rp->block == NULL) {
        free_fn(rp, arg);
        return TR_E_NOMEM;
    }
    base = ((uintptr_t)rp->block + 63) & ~(uintptr_t)63;
    rp->buckets = (struct bucket *)base;
    rp->stripes = (struct stripe *)(base + bucket_bytes);
    memset(rp->buckets, 0, bucket_bytes + stripe_bytes);
    rp->bytes = sizeof(*rp) + bucket_bytes + stripe_bytes + 63;
    rc = draw_random(rp->key, sizeof(rp->key));
    if (rc == 0)
        rc = draw_random(&rp->instance, sizeof(rp->instance));
    if (rc != 0) {
        tr_replay_free(rp);
        return rc;
    }
    rp->start_ms = now_ms(rp);
    *out = rp;
    return 0;
}

int tr_replay_new_with_allocator(tr_replay **out, uint32_t capacity, uint32_t window_ms,
                                 tr_malloc_fn malloc_fn, tr_free_fn free_fn, void *arg)
{
    return tri_replay_new_sharded(out, capacity, window_ms, 0, malloc_fn, free_fn, arg);
}

int tr_replay_new(tr_replay **out, uint32_t capacity, uint32_t window_ms)
{
    return tri_replay_new_sharded(out, capacity, window_ms, 0, tri_default_malloc, tri_default_free,
                                  NULL);
}

void tr_replay_free(tr_replay *rp)
{
    if (rp == NULL)
        return;
    if (rp->block != NULL)
        rp->free_fn(rp->block, rp->alloc_arg);
    /* The hash key is what keeps an attacker from aiming at one bucket. */
    tri_wipe(rp->key, sizeof(rp->key));
    rp->free_fn(rp, rp->alloc_arg);
}

int tr_replay_set_clock(tr_replay *rp, tr_clock_fn fn, void *arg)
{
    if (rp == NULL)
        return TR_E_INVAL;
    rp->clock = fn != NULL ? fn : tri_realtime_ms;
    rp->clock_arg = fn != NULL ? arg : NULL;
    rp->start_ms = now_ms(rp);
    return 0;
}

void tri_replay_set_hash_key(tr_replay *rp, const uint8_t key[TRI_SIPHASH_KEY_BYTES])
{
    memcpy(rp->key, key, sizeof(rp->key));
}

uint64_t tri_replay_tag(const tr_replay *rp, const uint8_t *value, size_t len)
{
    uint64_t h = tri_siphash24(rp->key, value, len);

    return h != 0 ? h : 1;
}

uint32_t tri_replay_home_of(const tr_replay *rp, uint64_t tag)
{
    return (uint32_t)tag & (rp->homes - 1);
}

uint32_t tri_replay_homes(const tr_replay *rp) { return rp->homes; }
uint32_t tri_replay_spill(const tr_replay *rp) { return rp->spill; }
uint32_t tri_replay_window_ms(const tr_replay *rp) { return rp->window_ms; }

uint64_t tri_replay_process_tag(const tr_replay *rp)
{
    uint8_t in[16];
    uint64_t pid = tri_process_id(), tag;

    memcpy(in, &rp->instance, 8);
    memcpy(in + 8, &pid, 8);
    tag = tri_siphash24(rp->key, in, sizeof(in));
    return tag != 0 ? tag : 1;
}

/* Empty the expired slots of a locked bucket; *reclaimed counts them. */
static void reclaim(struct bucket *b, int64_t now, int64_t *reclaimed)
{
    for (int s = 0; s < BUCKET_SLOTS; s++) {
        if (b->tag[s] != 0 && b->base + (int64_t)b->off[s] <= now) {
            b->tag[s] = 0;
            (*reclaimed)++;
        }
    }
}

/* Put tag in a free slot of a locked, reclaimed bucket: 1, or 0 when full.
 * Offsets are kept from a base near now; when a new expiry does not fit,
 * the live entries move to base = now (theirs lie between now and the
 * window ahead, or further after the clock went back: kept the longest a
 * 32-bit offset says, never shorter than their window). */
static int insert(struct bucket *b, uint64_t tag, int64_t expires, int64_t now)
{
    int free_slot = -1;

    for (int s = 0; s < BUCKET_SLOTS && free_slot < 0; s++)
        if (b->tag[s] == 0)
            free_slot = s;
    if (free_slot < 0)
        return 0;
    if (expires - b->base < 0 || expires - b->base > (int64_t)UINT32_MAX) {
        for (int s = 0; s < BUCKET_SLOTS; s++) {
            int64_t left = b->base + (int64_t)b->off[s] - now;
            if (b->tag[s] != 0)
                b->off[s] = left > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)left;
        }
        b->base = now;
    }
    b->tag[free_slot] = tag;
    b->off[free_slot] = (uint32_t)(expires - b->base);
    return 1;
}

static int find(const struct bucket *b, uint64_t tag)
{
    for (int s = 0; s < BUCKET_SLOTS; s++)
        if (b->tag[s] == tag)
            return 1;
    return 0;
}

/* Does the locked bucket hold an entry whose home is h? */
static int holds_home(const tr_replay *rp, const struct bucket *b, uint32_t h)
{
    for (int s = 0; s < BUCKET_SLOTS; s++)
        if (b->tag[s] != 0 && tri_replay_home_of(rp, b->tag[s]) == h)
            return 1;
    return 0;
}

/* With the home bucket locked: look for tag where its home's entries
 * live, then insert it in the first bucket with room. */
static int check_home(tr_replay *rp, uint32_t h, uint64_t tag, int64_t now, int64_t *reclaimed)
{
    struct bucket *home = &rp->buckets[h];
    int64_t expires = now <= INT64_MAX - rp->window_ms ? now + rp->window_ms : INT64_MAX;
    uint32_t reach = 0;

    reclaim(home, now, reclaimed);
    if (find(home, tag))
        return TR_E_REPLAY;
    for (uint32_t d = 1; d <= home->reach; d++) {
        struct bucket *b = &rp->buckets[h + d];
        int hit;

        lock(b);
        reclaim(b, now, reclaimed);
        hit = find(b, tag);
        if (holds_home(rp, b, h))
            reach = d;
        unlock(b);
        if (hit)
            return TR_E_REPLAY;
    }
    /* Only threads holding this lock add entries homed here, so the reach
     * found is exact; expiries elsewhere can only shorten it. */
    home->reach = (uint8_t)reach;
    if (insert(home, tag, expires, now))
        return 0;
    for (uint32_t d = 1; d <= rp->spill; d++) {
        struct bucket *b = &rp->buckets[h + d];
        int done;

        lock(b);
        reclaim(b, now, reclaimed);
        done = insert(b, tag, expires, now);
        unlock(b);
        if (done) {
            if (d > home->reach)
                home->reach = (uint8_t)d;
            return 0;
        }
    }
    return TR_E_REPLAY_FULL;
}

int tr_replay_set_store(tr_replay *rp, tr_replay_store_fn fn, void *arg, uint32_t skew_ms,
                        uint32_t flags)
{
    if (rp == NULL || skew_ms > TRI_REPLAY_SKEW_MAX_MS || (flags & ~TR_REPLAY_ANY_NODE) != 0 ||
        (fn == NULL && (skew_ms != 0 || flags != 0)))
        return TR_E_INVAL;
    rp->store = fn;
    rp->store_arg = fn != NULL ? arg : NULL;
    rp->skew_ms = skew_ms;
    rp->store_flags = flags;
    return 0;
}

int tri_replay_any_node(const tr_replay *rp, uint32_t *skew_ms)
{
    *skew_ms = rp->skew_ms;
    return rp->store != NULL && (rp->store_flags & TR_REPLAY_ANY_NODE) != 0;
}

uint32_t tri_replay_store_ttl_ms(const tr_replay *rp)
{
    return rp->window_ms + 3 * rp->skew_ms;
}

/* The local answer is final when it found the value; otherwise (new, in
 * the start-up window, or no room) only the fleet's memory can tell, and
 * it is asked outside every lock. Whatever the store cannot answer is
 * refused: the resumption goes on 1-RTT. */
static int ask_store(tr_replay *rp, struct stripe *st, const uint8_t *value, size_t len)
{
    int rc = rp->store(rp->store_arg, value, len, tri_replay_store_ttl_ms(rp));

    if (rc == 0) {
        add(&st->store_fresh);
        return 0;
    }
    if (rc == TR_E_REPLAY) {
        add(&st->store_replays);
        return TR_E_REPLAY;
    }
    add(&st->store_errors);
    return TR_E_REPLAY_STORE;
}

int tr_replay_check(tr_replay *rp, const uint8_t *value, size_t len)
{
    struct stripe *st;
    uint64_t tag;
    uint32_t h;
    int64_t now, reclaimed = 0;
    int rc;

    if (rp == NULL || value == NULL || len == 0 || len > TRI_REPLAY_VALUE_MAX)
        return TR_E_INVAL;
    tag = tri_replay_tag(rp, value, len);
    h = tri_replay_home_of(rp, tag);
    now = now_ms(rp);
    lock(&rp->buckets[h]);
    rc = check_home(rp, h, tag, now, &reclaimed);
    unlock(&rp->buckets[h]);
    /* With a store, what a previous process accepted is in the store. */
    if (rc == 0 && rp->store == NULL &&
        (now < rp->start_ms || now - rp->start_ms < (int64_t)rp->window_ms))
        rc = TR_E_REPLAY_STARTUP;
    st = stripe_of(rp);
    if (reclaimed != 0 || rc == 0 || rc == TR_E_REPLAY_STARTUP)
        atomic_fetch_add_explicit(&st->entries,
                                  (rc == 0 || rc == TR_E_REPLAY_STARTUP) - reclaimed,
                                  memory_order_relaxed);
    switch (rc) {
    case 0: add(&st->fresh); break;
    case TR_E_REPLAY: add(&st->replays); break;
    case TR_E_REPLAY_FULL: add(&st->full); break;
    default: add(&st->startup); break;
    }
    if (rp->store != NULL && rc != TR_E_REPLAY)
        rc = ask_store(rp, st, value, len);
    return rc;
}

int tr_replay_get_stats(tr_replay *rp, tr_replay_stats *out)
{
    tr_replay_stats s;
    int64_t entries = 0;

    if (rp == NULL || out == NULL || out->size < offsetof(tr_replay_stats, capacity))
        return TR_E_INVAL;
    memset(&s, 0, sizeof(s));
    s.size = (uint32_t)(out->size < sizeof(s) ? out->size : sizeof(s));
    s.window_ms = rp->window_ms;
    s.capacity = rp->capacity;
    s.slots = (uint64_t)(rp->homes + rp->spill) * BUCKET_SLOTS;
    s.bytes = rp->bytes;
    for (uint32_t i = 0; i < STRIPES; i++) {
        const struct stripe *st = &rp->stripes[i];

        s.fresh += atomic_load_explicit(&st->fresh, memory_order_relaxed);
        s.replays += atomic_load_explicit(&st->replays, memory_order_relaxed);
        s.full += atomic_load_explicit(&st->full, memory_order_relaxed);
        s.startup += atomic_load_explicit(&st->startup, memory_order_relaxed);
        entries += atomic_load_explicit(&st->entries, memory_order_relaxed);
        s.store_fresh += atomic_load_explicit(&st->store_fresh, memory_order_relaxed);
        s.store_replays += atomic_load_explicit(&st->store_replays, memory_order_relaxed);
        s.store_errors += atomic_load_explicit(&st->store_errors, memory_order_relaxed);
    }
    s.entries = entries > 0 ? (uint64_t)entries : 0;
    memcpy(out, &s, s.size);
    return 0;
}
