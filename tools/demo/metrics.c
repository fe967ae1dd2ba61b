/*
 * Just enough of the Prometheus text format (0.0.4) to read the samples the
 * demo reports: `name{labels} value` lines; comments skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* The next sample line at or after p; its length in *len. */
static const char *next_sample(const char *p, size_t *len)
{
    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);
        if (n > 0 && p[0] != '#') {
            *len = n;
            return p;
        }
        p = eol != NULL ? eol + 1 : NULL;
    }
    return NULL;
}

int metric_value(const char *text, const char *series, double *out)
{
    size_t slen = strlen(series), n;

    for (const char *p = next_sample(text, &n); p != NULL; p = next_sample(p + n, &n)) {
        if (n > slen && strncmp(p, series, slen) == 0 && p[slen] == ' ') {
            char *end;
            *out = strtod(p + slen + 1, &end);
            return end != p + slen + 1 ? 0 : -1;
        }
    }
    return -1;
}

int metric_label(const char *text, const char *metric, const char *label, char *out,
                 size_t cap)
{
    size_t mlen = strlen(metric), llen = strlen(label), n;

    for (const char *p = next_sample(text, &n); p != NULL; p = next_sample(p + n, &n)) {
        const char *l, *close;
        if (n <= mlen || strncmp(p, metric, mlen) != 0 || p[mlen] != '{')
            continue;
        close = memchr(p, '}', n);
        for (l = p + mlen + 1; close != NULL && l < close;) {
            const char *q = strchr(l, '"'), *qe = q != NULL ? strchr(q + 1, '"') : NULL;
            if (qe == NULL || qe > close)
                break;
            if ((size_t)(q - l) == llen + 1 && strncmp(l, label, llen) == 0 && l[llen] == '=') {
                size_t vlen = (size_t)(qe - q - 1);
                if (vlen >= cap)
                    return -1;
                memcpy(out, q + 1, vlen);
                out[vlen] = '\0';
                return 0;
            }
            l = qe + 1;
            if (*l == ',')
                l++;
        }
    }
    return -1;
}
