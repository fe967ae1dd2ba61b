/* A secret from a small private file (secret_file.c). */
#ifndef TICKETRING_LIB_SECRET_FILE_H
#define TICKETRING_LIB_SECRET_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Read the whole regular file at path into buf (at most cap bytes; *len
 * the bytes read). TR_E_IO when it cannot be opened or read or is not a
 * regular file, TR_E_KEYFILE_MODE when group or others have any permission
 * on it, TR_E_INVAL when it is empty or longer than cap (buf wiped). */
int tri_read_secret_file(const char *path, uint8_t *buf, size_t cap, size_t *len);

#endif
