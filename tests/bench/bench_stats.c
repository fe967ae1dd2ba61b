#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_stats.h"

uint64_t bs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bs_add(struct bs_series *s, double value)
{
    if (s->n < BS_MAX_ROUNDS)
        s->v[s->n++] = value;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bs_median(const struct bs_series *s)
{
    double sorted[BS_MAX_ROUNDS];

    if (s->n == 0)
        return 0;
    memcpy(sorted, s->v, sizeof(double) * (size_t)s->n);
    qsort(sorted, (size_t)s->n, sizeof(double), cmp_double);
    /* An even count (a --quick run) takes the mean of the middle two. */
    if (s->n % 2 == 0)
        return (sorted[s->n / 2 - 1] + sorted[s->n / 2]) / 2;
    return sorted[s->n / 2];
}

double bs_min(const struct bs_series *s)
{
    double m = s->n > 0 ? s->v[0] : 0;
    for (int i = 1; i < s->n; i++)
        if (s->v[i] < m)
            m = s->v[i];
    return m;
}

double bs_max(const struct bs_series *s)
{
    double m = s->n > 0 ? s->v[0] : 0;
    for (int i = 1; i < s->n; i++)
        if (s->v[i] > m)
            m = s->v[i];
    return m;
}

void bs_format(const struct bs_series *s, double scale, int decimals, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*f (%.*f..%.*f)", decimals, bs_median(s) * scale, decimals,
             bs_min(s) * scale, decimals, bs_max(s) * scale);
}
