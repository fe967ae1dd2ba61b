/* Wiping and constant-time comparison: the only two used anywhere. */
#ifndef TICKETRING_LIB_SECURE_H
#define TICKETRING_LIB_SECURE_H

#include <stddef.h>
#include <stdint.h>

/* Zero memory in a way the compiler may not elide. */
void tri_wipe(void *p, size_t len);
/* 1 when equal, 0 otherwise, in time that depends only on len. */
int tri_ct_equal(const void *a, const void *b, size_t len);
/* 1 when every byte is zero, in time that depends only on len. */
int tri_ct_is_zero(const void *p, size_t len);

#endif
