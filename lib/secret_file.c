/*
 * Secrets the optional modules take from files (Redis's password and hash
 * key, etcd's key-encryption key, password and token), so they never appear
 * in a URL, a command line or the environment. One reader for all of them:
 * the mode is checked on the descriptor read (not on whatever the path
 * names later), a file others may read or write is refused, and whatever
 * was read is wiped on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret_file.h"
#include "secure.h"

#include <ticketring/ticketring.h>

int tri_read_secret_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    struct stat st;
    size_t n = 0;
    int fd, rc = 0;

    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TR_E_IO;
    /* The mode of what is read, not of whatever the path names later. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return TR_E_IO;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        return TR_E_KEYFILE_MODE;
    }
    for (;;) {
        uint8_t extra;
        ssize_t got = n < cap ? read(fd, buf + n, cap - n) : read(fd, &extra, 1);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = TR_E_IO;
            break;
        }
        if (got == 0)
            break;
        if (n == cap) {
            tri_wipe(&extra, sizeof(extra));
            rc = TR_E_INVAL; /* longer than any secret we take */
            break;
        }
        n += (size_t)got;
    }
    close(fd);
    if (rc == 0 && n == 0)
        rc = TR_E_INVAL;
    if (rc != 0) {
        tri_wipe(buf, cap);
        return rc;
    }
    *len = n;
    return 0;
}
