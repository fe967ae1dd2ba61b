/* Key files on disk: lib/keyfile_io.c (bounded reads, atomic writes). */
#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"

/* ---- files --------------------------------------------------------------- */

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/tr-keyfile-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

/* Number of entries in dir other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
            n++;
    }
    closedir(d);
    return n;
}

static void test_read_missing(void **state)
{
    char buf[64];
    size_t len = 5;
    (void)state;
    assert_int_equal(tri_keyfile_read("/nonexistent/tr-keys", buf, sizeof buf, &len), TR_E_IO);
    assert_int_equal(len, 0);
}

static void test_read_special(void **state)
{
    char *dir = temp_dir();
    char path[512], link[512];
    char *buf = malloc(TRI_KEYFILE_MAX_BYTES + 2);
    size_t len;
    FILE *f;
    (void)state;
    assert_non_null(buf);

    /* A directory and a FIFO (opened without blocking) are refused. */
    assert_int_equal(tri_keyfile_read(dir, buf, TRI_KEYFILE_MAX_BYTES, &len), TR_E_IO);
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(tri_keyfile_read(path, buf, TRI_KEYFILE_MAX_BYTES, &len), TR_E_IO);
    unlink(path);

    /* Exactly the cap is read; one byte more is a content fault. */
    snprintf(path, sizeof path, "%s/big", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < TRI_KEYFILE_MAX_BYTES; i++)
        fputc('#', f);
    fclose(f);
    assert_int_equal(tri_keyfile_read(path, buf, TRI_KEYFILE_MAX_BYTES + 2, &len), 0);
    assert_int_equal(len, TRI_KEYFILE_MAX_BYTES);
    assert_int_equal(tri_keyfile_read(path, buf, 100, &len), TR_E_BUFFER_TOO_SMALL);
    f = fopen(path, "ab");
    assert_non_null(f);
    fputc('#', f);
    fclose(f);
    assert_int_equal(tri_keyfile_read(path, buf, TRI_KEYFILE_MAX_BYTES + 2, &len),
                     TR_E_KEYFILE_SYNTAX);

    /* Symlinks are followed (Kubernetes Secret volumes). */
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("hello\n", f);
    fclose(f);
    snprintf(link, sizeof link, "%s/link", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(tri_keyfile_read(link, buf, 100, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "hello\n", 6);

    /* Empty file. */
    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(tri_keyfile_read(path, buf, 100, &len), 0);
    assert_int_equal(len, 0);

    unlink(link);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
    free(buf);
}

/* Some bytes in the shape of a key file: the format is not this file's
 * concern, so any content will do, as long as every byte comes back. */
static char *content(size_t *len)
{
    char *buf = malloc(4096);
    size_t pos = 0;
    assert_non_null(buf);
    for (int i = 0; i < 20; i++)
        pos += (size_t)snprintf(buf + pos, 4096 - pos, "line %d \x01\xff of a file\n", i);
    *len = pos;
    return buf;
}

/* The fstat() returned is that of the file read, through symlinks. */
static void test_read_stat(void **state)
{
    char *dir = temp_dir();
    char path[512], link[512], buf[64];
    struct stat st, want;
    size_t len;
    FILE *f;
    (void)state;

    snprintf(path, sizeof path, "%s/keys", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("abc\n", f);
    fclose(f);
    assert_int_equal(symlink("keys", link), 0);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(stat(path, &want), 0);

    memset(&st, 0, sizeof st);
    assert_int_equal(tri_keyfile_read_stat(link, buf, sizeof buf, &len, &st), 0);
    assert_int_equal(len, 4);
    assert_int_equal(st.st_ino, want.st_ino);
    assert_int_equal(st.st_dev, want.st_dev);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_size, 4);
    /* NULL: no stat wanted. */
    assert_int_equal(tri_keyfile_read_stat(path, buf, sizeof buf, &len, NULL), 0);
    /* On failure *st is not written. */
    memset(&st, 0x5a, sizeof st);
    assert_int_equal(tri_keyfile_read_stat(dir, buf, sizeof buf, &len, &st), TR_E_IO);
    assert_int_equal(((unsigned char *)&st)[0], 0x5a);

    unlink(link);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

static void test_write_read_back(void **state)
{
    char *dir = temp_dir();
    char path[512];
    char *buf, *back = malloc(TRI_KEYFILE_MAX_BYTES);
    size_t len, blen;
    struct stat st;
    mode_t old;
    FILE *f;
    (void)state;
    assert_non_null(back);

    buf = content(&len);
    snprintf(path, sizeof path, "%s/tickets.keys", dir);

    /* Replace an existing world-readable file under a permissive umask. */
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("old\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0644), 0);
    old = umask(022);
    assert_int_equal(tri_keyfile_write(path, buf, len), 0);
    umask(old);

    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(tri_keyfile_read(path, back, TRI_KEYFILE_MAX_BYTES, &blen), 0);
    assert_int_equal(blen, len);
    assert_memory_equal(back, buf, len);
    assert_int_equal(dir_entries(dir), 1); /* no temporary file left */

    /* A umask that takes the owner's write bit still yields 0600. */
    old = umask(0277);
    assert_int_equal(tri_keyfile_write(path, buf, len), 0);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(dir_entries(dir), 1);

    /* A relative path in the current directory. */
    {
        char cwd[512];
        assert_non_null(getcwd(cwd, sizeof cwd));
        assert_int_equal(chdir(dir), 0);
        assert_int_equal(tri_keyfile_write("rel.keys", buf, len), 0);
        assert_int_equal(chdir(cwd), 0);
        snprintf(path, sizeof path, "%s/rel.keys", dir);
        assert_int_equal(tri_keyfile_read(path, back, TRI_KEYFILE_MAX_BYTES, &blen), 0);
        assert_memory_equal(back, buf, len);
        unlink(path);
    }

    snprintf(path, sizeof path, "%s/tickets.keys", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
    free(buf);
    free(back);
}

static void test_write_failures(void **state)
{
    char *dir = temp_dir();
    char path[512];
    (void)state;

    /* Missing directory. */
    snprintf(path, sizeof path, "%s/missing/tickets.keys", dir);
    assert_int_equal(tri_keyfile_write(path, "x\n", 2), TR_E_IO);
    assert_int_equal(dir_entries(dir), 0);

    /* The temporary file is created, then rename() fails (the target is a
     * non-empty directory): it must be gone. */
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sub/f", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(tri_keyfile_write(path, "x\n", 2), TR_E_IO);
    assert_int_equal(dir_entries(dir), 1);
    snprintf(path, sizeof path, "%s/sub/f", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);

    /* A path ending in '/' names no file. */
    snprintf(path, sizeof path, "%s/", dir);
    assert_int_equal(tri_keyfile_write(path, "x\n", 2), TR_E_IO);
    assert_int_equal(dir_entries(dir), 0);

    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_missing),
        cmocka_unit_test(test_read_special),
        cmocka_unit_test(test_read_stat),
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_write_failures),
    };
    return cmocka_run_group_tests_name(tu_backend()->name, tests, NULL, NULL);
}
