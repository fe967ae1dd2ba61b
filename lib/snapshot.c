#include "snapshot.h"

#include <sched.h>

void tri_snapshot_init(struct tri_snapshot *s, void *first)
{
    atomic_init(&s->current, first);
    atomic_init(&s->retiring, NULL);
    atomic_init(&s->idx, 0);
    atomic_init(&s->readers[0], 0);
    atomic_init(&s->readers[1], 0);
}

/*
 * The increment must be ordered before the load of `current` (both seq_cst):
 * a reader whose load returns the old object therefore incremented before
 * the writer's exchange, and the writer's waits, which come after it, see
 * that increment until the reader releases.
 */
void *tri_snapshot_acquire(struct tri_snapshot *s, unsigned *token)
{
    unsigned i = atomic_load(&s->idx) & 1u;
    atomic_fetch_add(&s->readers[i], 1);
    *token = i;
    return atomic_load(&s->current);
}

void tri_snapshot_release(struct tri_snapshot *s, unsigned token)
{
    atomic_fetch_sub_explicit(&s->readers[token], 1, memory_order_release);
}

static void wait_for_zero(atomic_uint_fast32_t *c)
{
    while (atomic_load(c) != 0)
        sched_yield();
}

/*
 * Two flips: after each, new readers count on the other counter, so the one
 * being drained only loses members (apart from readers that read idx just
 * before the flip, which load the new object anyway). A reader holding the
 * old object sits on one of the two counters, and both are seen at zero.
 */
void *tri_snapshot_exchange(struct tri_snapshot *s, void *next)
{
    void *old = atomic_exchange(&s->current, next);
    atomic_store(&s->retiring, old);
    for (int phase = 0; phase < 2; phase++) {
        unsigned i = atomic_load(&s->idx) & 1u;
        atomic_store(&s->idx, i ^ 1u);
        wait_for_zero(&s->readers[i]);
    }
    atomic_store(&s->retiring, NULL);
    return old;
}

void tri_snapshot_reset_readers(struct tri_snapshot *s)
{
    atomic_store(&s->readers[0], 0);
    atomic_store(&s->readers[1], 0);
}

void *tri_snapshot_take_retiring(struct tri_snapshot *s)
{
    return atomic_exchange(&s->retiring, NULL);
}
