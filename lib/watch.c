/*
 * Hot reload of the ring's key file.
 *
 * The check (tr_ring_reload_check) compares what stat() says about the file
 * with what it said last time; only when that differs does it read the file
 * and compare a SHA-256 of the bytes with those of the file last loaded, and
 * only when those differ does it apply the bytes it read (the same checks as
 * tr_ring_load()). Applying exactly the bytes that were digested, under the
 * writer lock, is what lets it know for certain what the ring holds.
 *
 * The watcher (tr_ring_watch) runs that check from a thread: on inotify
 * events of the file's directory and of the directory its path resolves to,
 * after ~100 ms of quiet, and on a timer. It never filters events by name:
 * a Kubernetes Secret update shows up only as a rename of "..data", and a
 * watch on the file itself dies with the first replacement (see the notes on
 * key distribution, section 2).
 */
#define _GNU_SOURCE /* pipe2() */

#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h> /* realpath() */
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/inotify.h>
#define HAVE_INOTIFY 1
#endif

#include "fork.h"
#include "keyfile.h"
#include "ring.h"
#include "secure.h"

#define DEBOUNCE_MS 100      /* quiet after the last event before a check */
#define DEBOUNCE_MAX_MS 1000 /* longest a stream of events can put a check off */
#define POLL_DEFAULT_S 10
#define POLL_MAX_S 3600
/* Passes one call may run on behalf of callers that found a check running
 * (they return at once); the bound keeps one caller from serving others
 * for ever. */
#define MAX_PASSES 3
#define PASS_AGAIN 1 /* internal: another file was loaded meanwhile, look again */

#ifdef HAVE_INOTIFY
/* Everything that can change what the path names or holds. IN_MODIFY too
 * (beyond the notes' list): a writer that keeps the file open never sends
 * IN_CLOSE_WRITE. */
#define DIR_EVENTS                                                                         \
    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_MODIFY | IN_DELETE |    \
     IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#endif

/* What stat() (following symlinks) says about the file. Every write sets
 * mtime and ctime, every replacement changes the inode, a chmod the ctime;
 * size and mode also catch changes within one timestamp tick. */
struct file_id {
    int err; /* errno of a failed stat(), 0 when the fields below are set */
    dev_t dev;
    ino_t ino;
    off_t size;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    int64_t mtim_s, mtim_ns, ctim_s, ctim_ns;
};

struct dir_watch {
    int wd; /* -1: none */
    dev_t dev;
    ino_t ino;
    char path[PATH_MAX];
};

/* The background thread. Its fields are the thread's own once it runs;
 * owner, thread and the descriptors are read again only after it ended. */
struct watcher {
    tr_ring *r;
    struct tri_watch *w;
    uint64_t owner; /* tri_process_id() of the process that started it */
    pthread_t thread;
    atomic_int stop;
    int stop_rd, stop_wr; /* a pipe in the poll set: unwatch wakes it */
    int ifd;              /* inotify, or -1: poll only */
    uint32_t poll_ms;
    unsigned path_gen;
    int path_ok; /* path holds the key file's path (it fits) */
    char path[PATH_MAX];
    struct dir_watch dirs[2]; /* dirname(path), dirname(realpath(path)) */
};

struct tri_watch {
    /* The check. Every field from `path` to `digest` belongs to whoever
     * holds `check`. */
    _Atomic uint64_t check; /* lock word: holder's tri_process_id(), 0 free */
    atomic_int again;       /* a caller found a check running: look once more */
    char *path;             /* copy of the ring's path */
    unsigned path_gen;      /* bumped when path changes: the watcher follows */
    int synced;             /* path and gen were taken under the writer lock */
    uint64_t gen;           /* the ring's reloads counter at the sync */
    int fresh;              /* path new: the next look records, never reloads */
    int foreign;            /* loaded by someone else since: digest in doubt */
    int have_seen;
    int have_digest;
    struct file_id seen;                 /* the file last looked at */
    uint8_t digest[TRI_SHA256_BYTES];    /* of the bytes the ring last loaded */

    /* The watcher, under `control`. */
    _Atomic uint64_t control;
    struct watcher *watcher;

    /* The file the load path loaded last (tri_watch_loaded), under the
     * ring's writer lock: valid while the reloads counter is at
     * loaded_gen. */
    int loaded_valid;
    uint64_t loaded_gen;
    struct file_id loaded_id;
    uint8_t loaded_digest[TRI_SHA256_BYTES];
};

static atomic_int inotify_on = 1;

void tri_watch_set_inotify(int on)
{
    atomic_store(&inotify_on, on != 0);
}

/* ---- locks that survive fork ---------------------------------------------
 * A word holding the holder's process identity rather than a pthread mutex:
 * a forked child inherits a lock a parent thread held (the watcher's check,
 * say) and that thread does not exist in the child, so the child takes it
 * over instead of waiting for ever. */

static int lock_try(_Atomic uint64_t *l, int *stolen)
{
    uint64_t me = tri_process_id(), cur = 0;

    *stolen = 0;
    if (atomic_compare_exchange_strong_explicit(l, &cur, me, memory_order_acquire,
                                                memory_order_relaxed))
        return 1;
    if (cur != me && atomic_compare_exchange_strong_explicit(l, &cur, me, memory_order_acquire,
                                                             memory_order_relaxed)) {
        *stolen = 1;
        return 1;
    }
    return 0;
}

static void lock_release(_Atomic uint64_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void lock_wait(_Atomic uint64_t *l, int *stolen)
{
    while (!lock_try(l, stolen))
        nap_ms(1);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    /* Not the ring's clock: that one may be a test's frozen fake, and
     * debouncing and polling are about real time passing. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct tri_watch *get_watch(tr_ring *r)
{
    struct tri_watch *w = atomic_load_explicit(&r->watch, memory_order_acquire), *none = NULL;

    if (w != NULL)
        return w;
    w = tri_alloc(&r->env, sizeof(*w));
    if (w == NULL)
        return NULL;
    memset(w, 0, sizeof(*w));
    atomic_init(&w->check, 0);
    atomic_init(&w->again, 0);
    atomic_init(&w->control, 0);
    if (!atomic_compare_exchange_strong_explicit(&r->watch, &none, w, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        tri_free(&r->env, w); /* another thread was first */
        w = none;
    }
    return w;
}

/* ---- the check ------------------------------------------------------------ */

static void id_of_stat(struct file_id *id, const struct stat *st)
{
    memset(id, 0, sizeof(*id));
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mode = st->st_mode;
    id->uid = st->st_uid;
    id->gid = st->st_gid;
    id->mtim_s = (int64_t)st->st_mtim.tv_sec;
    id->mtim_ns = (int64_t)st->st_mtim.tv_nsec;
    id->ctim_s = (int64_t)st->st_ctim.tv_sec;
    id->ctim_ns = (int64_t)st->st_ctim.tv_nsec;
}

static void look(const char *path, struct file_id *id)
{
    struct stat st;

    if (stat(path, &st) == 0) {
        id_of_stat(id, &st);
        return;
    }
    memset(id, 0, sizeof(*id));
    id->err = errno != 0 ? errno : EIO;
}

static int id_equal(const struct file_id *a, const struct file_id *b)
{
    if (a->err != 0 || b->err != 0)
        return a->err == b->err;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mode == b->mode &&
           a->uid == b->uid && a->gid == b->gid && a->mtim_s == b->mtim_s &&
           a->mtim_ns == b->mtim_ns && a->ctim_s == b->ctim_s && a->ctim_ns == b->ctim_ns;
}

/* The same bytes now readable by group or others, which they were not: the
 * file mode policy has a say (warn, refuse), so it goes through a load. */
static int newly_exposed(const struct file_id *was, const struct file_id *now)
{
    const mode_t bits = S_IRGRP | S_IROTH;
    return (now->mode & bits) != 0 && (was->err != 0 || (now->mode & bits) != (was->mode & bits));
}

/* The key set's digest, as readers see it. */
static void ring_digest(tr_ring *r, uint8_t out[TRI_SHA256_BYTES])
{
    unsigned tok;
    memcpy(out, tri_ring_enter(r, &tok)->digest, TRI_SHA256_BYTES);
    tri_ring_leave(r, tok);
}

/* Take the ring's path (writer-owned) and the reloads counter together
 * under the writer lock. A successful load is the only thing that sets the
 * path, and it always counts one reload, so while the counter stays at
 * `gen` the path and what was loaded from it are what this check knows. */
static int sync_path(tr_ring *r, struct tri_watch *w)
{
    char *copy = NULL, *old = NULL;
    size_t len;

    tri_ring_writer_lock(r);
    if (r->path == NULL) {
        tri_ring_writer_unlock(r);
        return TR_E_NO_FILE;
    }
    if (w->path == NULL || strcmp(w->path, r->path) != 0) {
        len = strlen(r->path) + 1;
        copy = tri_alloc(&r->env, len);
        if (copy == NULL) {
            tri_ring_writer_unlock(r);
            return TR_E_NOMEM;
        }
        memcpy(copy, r->path, len);
        old = w->path;
        w->path = copy;
        w->path_gen++;
        /* Just loaded by the caller: what is there now is taken as what
         * the ring holds (see tr_ring_reload_check in the header). */
        w->fresh = 1;
        w->foreign = 0;
        w->have_seen = 0;
        w->have_digest = 0;
    } else if (w->synced) {
        w->foreign = 1; /* tr_ring_load()/tr_ring_reload() by someone else */
    }
    w->gen = atomic_load(&r->counters.reloads);
    w->synced = 1;
    if (w->loaded_valid && w->loaded_gen == w->gen) {
        /* The load path said exactly what it loaded last. */
        w->seen = w->loaded_id;
        memcpy(w->digest, w->loaded_digest, sizeof(w->digest));
        w->have_seen = 1;
        w->have_digest = 1;
        w->fresh = 0;
        w->foreign = 0;
    }
    tri_ring_writer_unlock(r);
    if (old != NULL)
        tri_free(&r->env, old);
    return 0;
}

/* Apply the bytes that were digested, as tr_ring_load() would, unless the
 * ring has meanwhile loaded another path. */
static int apply(tr_ring *r, struct tri_watch *w, const char *buf, size_t len,
                 const struct stat *st, const uint8_t d[TRI_SHA256_BYTES], int32_t *changed,
                 uint32_t *err_line)
{
    uint8_t before[TRI_SHA256_BYTES];
    int foreign, rc;

    tri_ring_writer_lock(r);
    if (r->path == NULL || strcmp(r->path, w->path) != 0) {
        tri_ring_writer_unlock(r);
        w->synced = 0;
        return PASS_AGAIN;
    }
    foreign = atomic_load(&r->counters.reloads) != w->gen;
    memcpy(before, tri_ring_current_locked(r)->digest, sizeof(before));
    rc = tri_ring_apply_locked(r, w->path, buf, len, st, 0, err_line);
    if (rc == 0)
        *changed = !tri_ct_equal(before, tri_ring_current_locked(r)->digest, sizeof(before));
    w->gen = atomic_load(&r->counters.reloads);
    tri_ring_writer_unlock(r);
    if (rc == 0) {
        memcpy(w->digest, d, TRI_SHA256_BYTES);
        w->have_digest = 1;
    } else if (foreign) {
        w->have_digest = 0; /* refused, and the ring holds what another load read */
    }
    w->foreign = 0;
    return rc;
}

/* The file looks different from last time: read it and decide. */
static int examine(tr_ring *r, struct tri_watch *w, const struct file_id *now, int32_t *changed,
                   uint32_t *err_line)
{
    uint8_t d[TRI_SHA256_BYTES], before[TRI_SHA256_BYTES], after[TRI_SHA256_BYTES];
    struct file_id id;
    struct stat st;
    size_t len = 0;
    char *buf;
    int rc;

    buf = tri_alloc(&r->env, TRI_KEYFILE_MAX_BYTES);
    if (buf == NULL)
        return TR_E_NOMEM;
    rc = tri_keyfile_read_stat(w->path, buf, TRI_KEYFILE_MAX_BYTES, &len, &st);
    if (rc == 0 && r->env.crypto->sha256((const uint8_t *)buf, len, d) != 0)
        rc = TR_E_CRYPTO; /* not the file's fault: look again next time */
    if (rc == TR_E_CRYPTO)
        goto out;
    if (rc != 0) {
        /* Gone, not a regular file, unreadable or too large. The load
         * path refuses it, counts it and logs why, once: the identity
         * recorded below holds until the path changes again. */
        if (w->fresh) {
            rc = 0;
        } else {
            ring_digest(r, before);
            rc = tr_ring_reload(r, err_line);
            ring_digest(r, after);
            if (rc == TR_E_NOMEM || rc == TR_E_CRYPTO)
                goto out; /* says nothing about the file: try again */
            if (rc == 0) { /* it came back between the two reads */
                *changed = !tri_ct_equal(before, after, sizeof(before));
                w->have_digest = 0;
            }
        }
        w->fresh = 0;
        w->seen = *now;
        w->have_seen = 1;
        goto out;
    }

    id_of_stat(&id, &st); /* of the bytes read, which `now` may not be */
    if (w->fresh) {
        memcpy(w->digest, d, sizeof(d));
        w->have_digest = 1;
        w->fresh = 0;
    } else if (!w->have_digest || !tri_ct_equal(d, w->digest, sizeof(d)) ||
               newly_exposed(&w->seen, &id)) {
        rc = apply(r, w, buf, len, &st, d, changed, err_line);
        /* Out of memory or a failing backend says nothing about the file:
         * try it again next time. */
        if (rc == PASS_AGAIN || rc == TR_E_NOMEM || rc == TR_E_CRYPTO)
            goto out;
    }
    /* Loaded, refused or the same bytes: not looked at again until the
     * identity changes. */
    w->seen = id;
    w->have_seen = 1;
out:
    tri_wipe(buf, len);
    tri_free(&r->env, buf);
    tri_wipe(d, sizeof(d));
    return rc;
}

static int pass(tr_ring *r, struct tri_watch *w, int32_t *changed, uint32_t *err_line)
{
    struct file_id now;
    int rc;

    if (!w->synced || w->path == NULL || atomic_load(&r->counters.reloads) != w->gen) {
        rc = sync_path(r, w);
        if (rc != 0)
            return rc;
    }
    look(w->path, &now);
    if (w->have_seen && id_equal(&now, &w->seen)) {
        /* Unchanged since last look, so a load by someone else in between
         * read these same bytes. */
        w->foreign = 0;
        return 0;
    }
    if (w->foreign) {
        w->have_digest = 0;
        w->foreign = 0;
    }
    return examine(r, w, &now, changed, err_line);
}

/* A check torn by fork (its holder was a parent thread): start over, and
 * reload on the first change rather than trust a half-written record. */
static void forget(struct tri_watch *w)
{
    w->synced = 0;
    w->fresh = 0;
    w->foreign = 0;
    w->have_seen = 0;
    w->have_digest = 0;
}

/* The watcher thread's copy of the path, refreshed under the check lock. */
static void follow_path(struct watcher *t, const struct tri_watch *w)
{
    if (t->path_ok && t->path_gen == w->path_gen)
        return;
    t->path_gen = w->path_gen;
    t->path_ok = w->path != NULL && strlen(w->path) < sizeof(t->path);
    if (t->path_ok)
        strcpy(t->path, w->path);
}

/*
 * Run the check, one caller at a time. A caller that finds one running
 * asks for another pass (`again`) and returns at once: the holder runs it
 * before it leaves, or, if it already left, the caller takes the lock
 * after all. So a change is never lost between two callers. With `wait`
 * the first attempt waits for the lock instead.
 */
static int run_checks(tr_ring *r, struct tri_watch *w, int wait, int32_t *changed,
                      uint32_t *err_line, struct watcher *t)
{
    int rc = 0, passes = 0, stolen;

    atomic_store(&w->again, 1);
    for (;;) {
        if (wait) {
            /* At least one pass of our own, whoever else ran one. */
            lock_wait(&w->check, &stolen);
            atomic_store(&w->again, 1);
            wait = 0;
        } else if (!lock_try(&w->check, &stolen)) {
            return rc;
        }
        if (stolen)
            forget(w);
        while (passes < MAX_PASSES && atomic_exchange(&w->again, 0)) {
            int32_t c = 0;
            uint32_t line = 0;
            int prc = pass(r, w, &c, &line);
            passes++;
            if (prc == PASS_AGAIN) {
                atomic_store(&w->again, 1);
                continue;
            }
            if (prc != 0) {
                rc = prc;
                if (err_line != NULL)
                    *err_line = line;
            }
            if (c && changed != NULL)
                *changed = 1;
        }
        if (t != NULL)
            follow_path(t, w);
        lock_release(&w->check);
        if (passes >= MAX_PASSES || !atomic_load(&w->again))
            return rc;
    }
}

int tr_ring_reload_check(tr_ring *r, int32_t *changed, uint32_t *err_line)
{
    struct tri_watch *w;

    if (changed != NULL)
        *changed = 0;
    if (err_line != NULL)
        *err_line = 0;
    if (r == NULL)
        return TR_E_INVAL;
    w = get_watch(r);
    if (w == NULL)
        return TR_E_NOMEM;
    return run_checks(r, w, 0, changed, err_line, NULL);
}

void tri_watch_loaded(tr_ring *r, const char *buf, size_t len, const struct stat *st)
{
    struct tri_watch *w = get_watch(r);

    if (w == NULL)
        return; /* the next check takes the file as loaded, as without this */
    w->loaded_valid = r->env.crypto->sha256((const uint8_t *)buf, len, w->loaded_digest) == 0;
    id_of_stat(&w->loaded_id, st);
    w->loaded_gen = atomic_load(&r->counters.reloads);
}

/* ---- the watcher thread ----------------------------------------------------- */

/* dirname() into out (PATH_MAX), without modifying path. */
static void dir_of(const char *path, char *out)
{
    const char *slash = strrchr(path, '/');
    size_t n;

    if (slash == NULL) {
        strcpy(out, ".");
        return;
    }
    while (slash > path && slash[-1] == '/')
        slash--;
    n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(out, path, n);
    out[n] = '\0';
}

#ifdef HAVE_INOTIFY
static void unwatch_dir(struct watcher *t, int i)
{
    struct dir_watch *d = &t->dirs[i], *other = &t->dirs[1 - i];

    /* The kernel hands out one descriptor per inode: the other slot may
     * share it. */
    if (d->wd >= 0 && d->wd != other->wd)
        inotify_rm_watch(t->ifd, d->wd);
    d->wd = -1;
    d->path[0] = '\0';
}
#endif

/*
 * Watch the directories the path goes through now: its own, and the one
 * its symlinks resolve to (a Kubernetes Secret's timestamped directory,
 * replaced on every update). Called after every check and poll, so a
 * replaced or reappeared directory is watched again; a directory that is
 * the same inode as before keeps its watch.
 */
static void rearm(struct watcher *t)
{
#ifdef HAVE_INOTIFY
    char want[2][PATH_MAX], real[PATH_MAX];
    struct stat st[2];
    int ok[2] = {0, 0}, n = 0;

    if (t->ifd < 0)
        return;
    if (t->path_ok) {
        dir_of(t->path, want[n++]);
        if (realpath(t->path, real) != NULL)
            dir_of(real, want[n++]);
    }
    for (int i = 0; i < n; i++)
        ok[i] = stat(want[i], &st[i]) == 0 && S_ISDIR(st[i].st_mode);
    if (n == 2 && (!ok[1] || (ok[0] && st[0].st_dev == st[1].st_dev &&
                              st[0].st_ino == st[1].st_ino)))
        n = 1;
    for (int i = 0; i < 2; i++) {
        struct dir_watch *d = &t->dirs[i];
        if (i < n && ok[i] && d->wd >= 0 && d->dev == st[i].st_dev && d->ino == st[i].st_ino &&
            strcmp(d->path, want[i]) == 0)
            continue;
        unwatch_dir(t, i);
        if (i >= n || !ok[i])
            continue;
        d->wd = inotify_add_watch(t->ifd, want[i], DIR_EVENTS);
        if (d->wd >= 0) {
            d->dev = st[i].st_dev;
            d->ino = st[i].st_ino;
            strcpy(d->path, want[i]);
        }
    }
#else
    (void)t;
#endif
}

/* Read every queued event. Any event means "look again" (no filtering by
 * name); IN_IGNORED (the watched directory is gone, moved or unmounted)
 * drops the watch so that rearm() adds it back. A queue overflow lost
 * events, which the check after it covers like any other. Returns 1 if
 * anything was read. */
static int drain(struct watcher *t)
{
#ifdef HAVE_INOTIFY
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int any = 0;

    for (;;) {
        ssize_t n = read(t->ifd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return any;
        any = 1;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)(void *)p;
            if (e->mask & IN_IGNORED) {
                for (int i = 0; i < 2; i++) {
                    if (t->dirs[i].wd == e->wd) {
                        t->dirs[i].wd = -1;
                        t->dirs[i].path[0] = '\0';
                    }
                }
            }
            p += sizeof(*e) + e->len;
        }
    }
#else
    (void)t;
    return 0;
#endif
}

/* Wait up to timeout_ms for stop or for events: 1 on stop, else 0, with
 * *event set when events were read. */
static int wait_for(struct watcher *t, int64_t timeout_ms, int *event)
{
    struct pollfd p[2] = {{.fd = t->stop_rd, .events = POLLIN},
                          {.fd = t->ifd, .events = POLLIN}};
    int n;

    *event = 0;
    if (timeout_ms > INT_MAX)
        timeout_ms = INT_MAX;
    n = poll(p, t->ifd >= 0 ? 2 : 1, (int)timeout_ms);
    if (atomic_load(&t->stop))
        return 1;
    if (n > 0 && t->ifd >= 0 && (p[1].revents & POLLIN))
        *event = drain(t);
    else if (n > 0 && t->ifd >= 0 && (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))) {
        /* Never seen from inotify; polling alone beats spinning on it. */
        tri_log(t->r, TR_LOG_WARN, "key file watch: inotify failed, polling only");
        close(t->ifd);
        t->ifd = -1;
        *event = 1;
    }
    return 0;
}

/* The kubelet makes several changes in a row: look once they are over
 * (DEBOUNCE_MS of quiet, DEBOUNCE_MAX_MS at most). 1 on stop. */
static int debounce(struct watcher *t)
{
    const int64_t start = mono_ms();
    int64_t quiet = start + DEBOUNCE_MS;
    int event;

    for (;;) {
        int64_t now = mono_ms(), until = quiet < start + DEBOUNCE_MAX_MS
                                              ? quiet
                                              : start + DEBOUNCE_MAX_MS;
        if (now >= until)
            return 0;
        if (wait_for(t, until - now, &event))
            return 1;
        if (event)
            quiet = mono_ms() + DEBOUNCE_MS;
    }
}

static void *watch_main(void *arg)
{
    struct watcher *t = arg;
    int64_t next = mono_ms() + t->poll_ms;

    (void)run_checks(t->r, t->w, 0, NULL, NULL, t);
    rearm(t);
    for (;;) {
        int64_t now = mono_ms();
        int event;
        if (wait_for(t, next > now ? next - now : 0, &event))
            break;
        if (event) {
            if (debounce(t))
                break;
        } else if (mono_ms() < next) {
            continue; /* nothing read: not yet time to poll */
        }
        (void)run_checks(t->r, t->w, 0, NULL, NULL, t); /* refusals log themselves */
        rearm(t);
        next = mono_ms() + t->poll_ms;
    }
    return NULL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Stop and free a watcher. In a forked child its thread does not exist:
 * only this process's copies of its descriptors are closed. */
static void discard(tr_ring *r, struct watcher *t)
{
    if (t == NULL)
        return;
    if (t->owner == tri_process_id()) {
        ssize_t ignored;
        atomic_store(&t->stop, 1);
        /* A full pipe already holds a wake-up, so a failed write is fine. */
        ignored = write(t->stop_wr, "", 1);
        (void)ignored;
        pthread_join(t->thread, NULL);
    }
    close_fd(&t->stop_rd);
    close_fd(&t->stop_wr);
    close_fd(&t->ifd);
    tri_free(&r->env, t);
}

static int open_pipe(int fds[2])
{
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC | O_NONBLOCK);
#else
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    return 0;
#endif
}

static struct watcher *new_watcher(tr_ring *r, struct tri_watch *w, uint32_t poll_seconds)
{
    struct watcher *t = tri_alloc(&r->env, sizeof(*t));
    int fds[2];

    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->r = r;
    t->w = w;
    t->poll_ms = poll_seconds * 1000u;
    t->ifd = -1;
    t->dirs[0].wd = t->dirs[1].wd = -1;
    atomic_init(&t->stop, 0);
    if (open_pipe(fds) != 0) {
        tri_free(&r->env, t);
        return NULL;
    }
    t->stop_rd = fds[0];
    t->stop_wr = fds[1];
#ifdef HAVE_INOTIFY
    if (atomic_load(&inotify_on))
        t->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
#endif
    return t;
}

int tr_ring_watch(tr_ring *r, uint32_t poll_seconds)
{
    struct tri_watch *w;
    struct watcher *t;
    sigset_t all, old;
    char msg[256];
    int rc, stolen, level;

    if (r == NULL || poll_seconds > POLL_MAX_S)
        return TR_E_INVAL;
    if (poll_seconds == 0)
        poll_seconds = POLL_DEFAULT_S;
    w = get_watch(r);
    if (w == NULL)
        return TR_E_NOMEM;
    /* The first check finds the path and records the file, so that every
     * change from now on is seen. Not under `control`: its log lines may
     * reach a callback that calls anything. */
    rc = run_checks(r, w, 1, NULL, NULL, NULL);
    if (rc == TR_E_NO_FILE || rc == TR_E_NOMEM || rc == TR_E_CRYPTO)
        return rc;
    lock_wait(&w->control, &stolen);
    if (w->watcher != NULL && w->watcher->owner == tri_process_id()) {
        lock_release(&w->control);
        return TR_E_INVAL; /* one watcher per ring */
    }
    discard(r, w->watcher); /* a forked parent's: its thread is not here */
    w->watcher = NULL;
    t = new_watcher(r, w, poll_seconds);
    if (t == NULL) {
        lock_release(&w->control);
        return TR_E_NOMEM;
    }
    lock_wait(&w->check, &stolen);
    if (stolen)
        forget(w);
    follow_path(t, w);
    lock_release(&w->check);
    /* Watches first, then the thread's first check: a change made before
     * the watches existed is seen by that check, any later one queued. */
    rearm(t);
    /* Written now: once the thread runs, t->path is its own. */
    level = t->ifd < 0 ? TR_LOG_WARN : TR_LOG_INFO;
    if (t->ifd < 0)
        snprintf(msg, sizeof(msg), "%.160s by polling every %u s only: inotify unavailable",
                 t->path, poll_seconds);
    else
        snprintf(msg, sizeof(msg), "%.160s with inotify on its directories and a poll every %u s",
                 t->path, poll_seconds);

    /* The thread takes no signal meant for the application. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&t->thread, NULL, watch_main, t) == 0 ? 0 : TR_E_NOMEM;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        goto fail;
    t->owner = tri_process_id();
    w->watcher = t;
    lock_release(&w->control);
    tri_log(r, level, "watching key file %s", msg);
    return 0;

fail:
    t->owner = 0; /* no thread to stop */
    discard(r, t);
    lock_release(&w->control);
    return rc;
}

int tr_ring_unwatch(tr_ring *r)
{
    struct tri_watch *w;
    struct watcher *t;
    int stolen;

    if (r == NULL)
        return TR_E_INVAL;
    w = atomic_load_explicit(&r->watch, memory_order_acquire);
    if (w == NULL)
        return 0;
    lock_wait(&w->control, &stolen);
    t = w->watcher;
    if (t != NULL && t->owner == tri_process_id() && pthread_equal(t->thread, pthread_self())) {
        /* From the watcher itself (a log callback): it cannot join itself. */
        lock_release(&w->control);
        return TR_E_INVAL;
    }
    w->watcher = NULL;
    discard(r, t); /* joins while holding `control`: a concurrent watch waits */
    lock_release(&w->control);
    return 0;
}

void tri_watch_free(tr_ring *r)
{
    struct tri_watch *w = atomic_load(&r->watch);

    if (w == NULL)
        return;
    discard(r, w->watcher);
    if (w->path != NULL)
        tri_free(&r->env, w->path);
    tri_wipe(w, sizeof(*w));
    tri_free(&r->env, w);
    atomic_store(&r->watch, NULL);
}
