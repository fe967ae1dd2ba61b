/* What a ring or a replay cache uses when the caller injects nothing. */
#ifndef TICKETRING_LIB_DEFAULTS_H
#define TICKETRING_LIB_DEFAULTS_H

#include <stddef.h>
#include <stdint.h>

void *tri_default_malloc(size_t size, void *arg);
void tri_default_free(void *p, void *arg);
/* CLOCK_REALTIME in milliseconds since the epoch; arg is ignored. */
int64_t tri_realtime_ms(void *arg);

#endif
