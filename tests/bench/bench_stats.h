/* Per-round samples for the benchmarks: a monotonic clock, and the median and
 * spread of a row's rounds. Rounds are interleaved across rows by the
 * callers, so a noisy neighbour or a frequency change hits every row alike. */
#ifndef TICKETRING_BENCH_STATS_H
#define TICKETRING_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

#define BS_MAX_ROUNDS 15

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t bs_now_ns(void);

/* One number per round (a rate or a cost). */
struct bs_series {
    double v[BS_MAX_ROUNDS];
    int n;
};

void bs_add(struct bs_series *s, double value);
double bs_median(const struct bs_series *s);
double bs_min(const struct bs_series *s);
double bs_max(const struct bs_series *s);

/* "median (min..max)" of s, each scaled by `scale`, with `decimals`
 * decimals, into buf (NUL-terminated). */
void bs_format(const struct bs_series *s, double scale, int decimals, char *buf, size_t cap);

#endif
