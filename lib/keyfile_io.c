/*
 * Key files on disk: read with a size bound, write atomically. The format
 * itself is keyfile.c's; this part knows only bytes and the file system.
 */
#define _GNU_SOURCE /* mkostemp() */

#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>  /* rename() */
#include <stdlib.h> /* mkostemp() */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secure.h"

int tri_keyfile_read_stat(const char *path, char *buf, size_t cap, size_t *len,
                          struct stat *st_out)
{
    const size_t limit = cap < TRI_KEYFILE_MAX_BYTES ? cap : TRI_KEYFILE_MAX_BYTES;
    struct stat st;
    size_t got = 0;
    int fd, rc = 0;

    if (len != NULL)
        *len = 0;
    if (path == NULL || buf == NULL || len == NULL)
        return TR_E_INVAL;

    /* Follows symlinks on purpose (Kubernetes Secret volumes are chains of
     * them). O_NONBLOCK so that a FIFO at the path cannot block the open;
     * it has no effect on the regular file we go on to read. */
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return TR_E_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = TR_E_IO;
        goto out;
    }
    /* Too large is a fault of the content, not of the file system. */
    if (st.st_size > TRI_KEYFILE_MAX_BYTES) {
        rc = TR_E_KEYFILE_SYNTAX;
        goto out;
    }
    if ((size_t)st.st_size > cap) {
        rc = TR_E_BUFFER_TOO_SMALL;
        goto out;
    }

    for (;;) {
        ssize_t r;
        if (got == limit) {
            /* Full: the file may have grown since fstat(). One more byte
             * tells; it may be secret, so it is wiped. */
            char extra;
            do {
                r = read(fd, &extra, 1);
            } while (r < 0 && errno == EINTR);
            tri_wipe(&extra, sizeof extra);
            if (r < 0)
                rc = TR_E_IO;
            else if (r > 0)
                rc = limit == TRI_KEYFILE_MAX_BYTES ? TR_E_KEYFILE_SYNTAX
                                                    : TR_E_BUFFER_TOO_SMALL;
            break;
        }
        r = read(fd, buf + got, limit - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = TR_E_IO;
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }

out:
    close(fd);
    if (rc != 0) {
        tri_wipe(buf, got);
        return rc;
    }
    *len = got;
    if (st_out != NULL)
        *st_out = st;
    return 0;
}

int tri_keyfile_read(const char *path, char *buf, size_t cap, size_t *len)
{
    return tri_keyfile_read_stat(path, buf, cap, len, NULL);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int tri_keyfile_write(const char *path, const char *buf, size_t len)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    static const char suffix[] = ".tmp-XXXXXX";
    const char *slash, *base;
    size_t dir_len, base_len;
    int fd = -1, dfd, rc = 0;

    if (path == NULL || (buf == NULL && len != 0))
        return TR_E_INVAL;
    slash = strrchr(path, '/');
    base = slash != NULL ? slash + 1 : path;
    base_len = strlen(base);
    dir_len = (size_t)(base - path); /* with its trailing '/' */
    if (base_len == 0 || dir_len + 1 + base_len + sizeof suffix > sizeof tmp)
        return TR_E_IO;

    /* "<dir>/.<base>.tmp-XXXXXX": same directory, so rename() is atomic. */
    memcpy(tmp, path, dir_len);
    tmp[dir_len] = '.';
    memcpy(tmp + dir_len + 1, base, base_len);
    memcpy(tmp + dir_len + 1 + base_len, suffix, sizeof suffix);
    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else {
        size_t d = dir_len > 1 ? dir_len - 1 : 1; /* "/x" -> "/" */
        memcpy(dir, path, d);
        dir[d] = '\0';
    }

    /* mkostemp: O_RDWR | O_CREAT | O_EXCL, mode 0600, unique name. */
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return TR_E_IO;
    /* 0600 whatever the umask (which could have removed the owner's bits). */
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || write_all(fd, buf, len) != 0 ||
        fsync(fd) != 0)
        goto fail;
    rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(tmp, path) != 0)
        goto fail;

    /* The file is in place; make the rename itself durable. Some file
     * systems cannot fsync a directory (EINVAL): nothing more can be done
     * there, and the rename has still happened. */
    rc = 0;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return TR_E_IO;
    if (fsync(dfd) != 0 && errno != EINVAL)
        rc = TR_E_IO;
    close(dfd);
    return rc;

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return TR_E_IO;
}
