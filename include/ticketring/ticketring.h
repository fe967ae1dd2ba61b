/*
 * libticketring: cluster-safe TLS session ticket keys.
 *
 * This header is the core API. It names no TLS library type: cryptography
 * comes from a backend table (tr_crypto_openssl() in <ticketring/openssl.h>,
 * tr_crypto_mbedtls() in <ticketring/mbedtls.h>) chosen when a ring is made.
 *
 * Conventions for every function below:
 *  - 0 on success, a negative TR_E_* code on failure; tr_strerror() names it.
 *  - Times are int64_t seconds since the Unix epoch unless the name says _ms.
 *  - A ring is safe to use from many threads at once unless a comment says
 *    otherwise: sealing and opening never wait for a reload or a key change,
 *    which build a new immutable key set and swap it in.
 *  - Key material never appears in a log line, an error or a metric.
 */
#ifndef TICKETRING_TICKETRING_H
#define TICKETRING_TICKETRING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TR_BUILDING) && defined(__GNUC__)
#define TR_EXPORT __attribute__((visibility("default")))
#else
#define TR_EXPORT
#endif

/* ---- Version ---------------------------------------------------------- */

#define TR_VERSION_MAJOR 0
#define TR_VERSION_MINOR 5
#define TR_VERSION_PATCH 0
#define TR_VERSION_STRING "0.5.0"
/* 0xMMmmpp: compare with tr_version() to detect a header/library mismatch. */
#define TR_VERSION_NUMBER \
    ((TR_VERSION_MAJOR << 16) | (TR_VERSION_MINOR << 8) | TR_VERSION_PATCH)

/* The TR_VERSION_NUMBER the library was built with. Thread-safe. */
TR_EXPORT uint32_t tr_version(void);
/* The TR_VERSION_STRING the library was built with (static storage). Thread-safe. */
TR_EXPORT const char *tr_version_string(void);

/* ---- Errors (numbers are fixed forever; retired numbers are never reused) */

#define TR_OK 0
#define TR_E_INVAL (-1)             /* bad argument or setting value */
#define TR_E_NOMEM (-2)             /* allocation failed */
#define TR_E_CRYPTO (-3)            /* the crypto backend failed */
#define TR_E_IO (-4)                /* a file could not be read or written */
#define TR_E_BUFFER_TOO_SMALL (-5)  /* output buffer too small */
#define TR_E_BACKEND (-6)           /* backend table missing or of another ABI */
#define TR_E_KEYFILE_MODE (-7)      /* key file readable by group or others (policy refuses) */
#define TR_E_KEY_ACTIVATION (-8)    /* activation time beyond the allowed horizon */
#define TR_E_KEYFILE_SYNTAX (-10)   /* key file malformed (see err_line) */
#define TR_E_KEYFILE_INTEGRITY (-11) /* key file checksum wrong or missing */
#define TR_E_KEY_ZERO (-12)         /* key (or its name) is all zeros */
#define TR_E_KEY_DUPLICATE (-13)    /* a key with that name is already held */
#define TR_E_TOO_MANY_KEYS (-14)    /* more than TR_RING_MAX_KEYS keys */
#define TR_E_KEY_NOT_FOUND (-15)    /* no key with that name */
#define TR_E_NO_ENCRYPT_KEY (-16)   /* no key may encrypt now: do a full handshake */
#define TR_E_NO_FILE (-17)          /* reload without a previous load */
#define TR_E_KEYFILE_CLUSTER (-18)  /* key file of another cluster */
#define TR_E_KEYFILE_ROLLBACK (-19) /* key file serial older than the one loaded */
#define TR_E_TICKET_MALFORMED (-20) /* wrong version, length or layout */
#define TR_E_TICKET_UNKNOWN_KEY (-21) /* key name not held (or retired, or revoked) */
#define TR_E_TICKET_AUTH (-22)      /* authentication failed: tampered or forged */
#define TR_E_TICKET_EXPIRED (-23)   /* older than its lifetime or the max age */
#define TR_E_TICKET_FUTURE (-24)    /* issued later than now + allowed skew */
#define TR_E_TICKET_SNI (-25)       /* bound to another SNI */
#define TR_E_TICKET_ALPN (-26)      /* bound to another ALPN protocol */
#define TR_E_TICKET_CONTEXT (-27)   /* bound to another application context */
#define TR_E_TICKET_UNBOUND (-28)   /* carries no binding data and the policy refuses that */
/* Why early data (0-RTT) was refused; the resumption itself goes on (1-RTT). */
#define TR_E_REPLAY (-29)           /* this ClientHello was seen within the replay window */
#define TR_E_REPLAY_FULL (-30)      /* the replay cache is full: refused, fail closed */
#define TR_E_REPLAY_STARTUP (-31)   /* the replay cache is younger than its window */
#define TR_E_EARLY_OFF (-32)        /* early data is not enabled on the ring */
#define TR_E_EARLY_STALE (-33)      /* the client's ticket age is outside the freshness window */
#define TR_E_EARLY_NODE (-34)       /* ticket issued by another node or process */
#define TR_E_EARLY_SNI (-35)        /* SNI differs from the ticket's */
#define TR_E_EARLY_ALPN (-36)       /* ALPN differs from the ticket's */
#define TR_E_EARLY_TLS (-37)        /* the TLS library refused it before the policy ran */
#define TR_E_REPLAY_STORE (-38)     /* the cluster replay store could not answer in time: refused, fail closed */
#define TR_E_STORE (-39)            /* the key store could not be reached or refused the request */
#define TR_E_CONFLICT (-40)         /* compare-and-swap lost: the stored document changed; re-read */
#define TR_E_SEALED (-41)           /* a sealed key-set document did not open: tampered, other KEK or cluster */
#define TR_E_TICKET_OTHER_FORMAT (-42) /* this cluster's ticket in the other TLS backend's format */

/* A constant English name for any code, "unknown error" for others. Thread-safe. */
TR_EXPORT const char *tr_strerror(int code);

/* ---- Sizes (each also a function, for FFI callers) ------------------- */

#define TR_KEY_BYTES 80          /* name(16) | HMAC secret(32) | AES key(32) */
#define TR_KEY_NAME_BYTES 16
#define TR_RING_MAX_KEYS 64      /* per ring and per key file */
#define TR_FINGERPRINT_HEX 16    /* hex digits, without the terminating NUL */
#define TR_TICKET_MAX_STATE 16384 /* largest session state a ticket carries */
#define TR_TICKET_OVERHEAD 125   /* ticket bytes beyond the session state */
#define TR_TICKET_MAX_BYTES (TR_TICKET_MAX_STATE + TR_TICKET_OVERHEAD)

TR_EXPORT size_t tr_key_bytes(void);
TR_EXPORT size_t tr_key_name_bytes(void);
TR_EXPORT size_t tr_ring_max_keys(void);
TR_EXPORT size_t tr_fingerprint_hex(void);
TR_EXPORT size_t tr_ticket_max_state(void);
TR_EXPORT size_t tr_ticket_overhead(void);
TR_EXPORT size_t tr_ticket_max_bytes(void);

/* ---- Injectable services ---------------------------------------------- */

/* Milliseconds since the Unix epoch. */
typedef int64_t (*tr_clock_fn)(void *arg);
/* Fill buf with len unpredictable bytes; 0 on success, negative on failure.
 * Must not repeat output in a forked child. */
typedef int (*tr_random_fn)(uint8_t *buf, size_t len, void *arg);
typedef void *(*tr_malloc_fn)(size_t size, void *arg);
/* ptr may be NULL. The library wipes secrets before it frees them. */
typedef void (*tr_free_fn)(void *ptr, void *arg);

#define TR_LOG_ERROR 0
#define TR_LOG_WARN 1
#define TR_LOG_INFO 2
#define TR_LOG_DEBUG 3
/* msg is a NUL-terminated line without key material, valid only during the call. */
typedef void (*tr_log_fn)(int32_t level, const char *msg, void *arg);

/* ---- Crypto backends --------------------------------------------------- */

/* Opaque table of a crypto backend; obtained from a backend library. */
typedef struct tr_crypto tr_crypto;

/* ---- Ring -------------------------------------------------------------- */

typedef struct tr_ring tr_ring;

/* Create an empty ring (no key, so no ticket can be sealed yet) using the
 * crypto backend `crypto` and malloc/free. The caller owns *out and frees it
 * with tr_ring_free(). Thread-safe. */
TR_EXPORT int tr_ring_new(tr_ring **out, const tr_crypto *crypto);
/* As tr_ring_new(), with every allocation the ring makes going through
 * malloc_fn/free_fn (both non-NULL) with `arg`. Thread-safe. */
TR_EXPORT int tr_ring_new_with_allocator(tr_ring **out, const tr_crypto *crypto,
                                         tr_malloc_fn malloc_fn, tr_free_fn free_fn,
                                         void *arg);
/* A new, empty ring made like `model`, for building a key set beside a
 * serving ring (a key-store writer) without touching it. Copied as they
 * are now: the crypto backend, allocator, clock, random source, cluster
 * pin, lifetime, skew, max age, SNI and ALPN binding, rotation period,
 * exhausted policy, max encrypt age, file mode policy and activation
 * horizon. Not copied: keys, log sink, watcher, early data (off), path,
 * serial (0), counters. The two rings share the allocator, clock and random
 * arguments, which must outlive both. The caller owns *out (NULL on
 * failure) and frees it with tr_ring_free(). Thread-safe on `model`. */
TR_EXPORT int tr_ring_new_like(tr_ring **out, tr_ring *model);
/* Wipe and free the ring and every key it holds. NULL is a no-op. Not
 * thread-safe: no other call on this ring may be running or start. */
TR_EXPORT void tr_ring_free(tr_ring *ring);

/* Replace the clock (default: CLOCK_REALTIME). fn NULL restores the default.
 * Set it before sharing the ring between threads. */
TR_EXPORT int tr_ring_set_clock(tr_ring *ring, tr_clock_fn fn, void *arg);
/* Replace the random source (default: the backend's). fn NULL restores the
 * default. Set it before sharing the ring between threads. */
TR_EXPORT int tr_ring_set_random(tr_ring *ring, tr_random_fn fn, void *arg);
/* Set the log sink (default: none). fn NULL silences the ring. Set it
 * before sharing the ring between threads. */
TR_EXPORT int tr_ring_set_log(tr_ring *ring, tr_log_fn fn, void *arg);

/* ---- Policy (each setter is thread-safe and takes effect for the next
 * ticket sealed or opened) ------------------------------------------------ */

/* How long a ticket is accepted after it was issued, 1..604800 s (RFC 8446
 * caps TLS 1.3 at 7 days). Default 7200. Also drives key retirement. */
TR_EXPORT int tr_ring_set_lifetime(tr_ring *ring, uint32_t seconds);
/* Largest clock difference tolerated between nodes, 0..3600 s. Default 60. */
TR_EXPORT int tr_ring_set_skew(tr_ring *ring, uint32_t seconds);
/* Refuse a ticket presented with another SNI (TR_E_TICKET_SNI). Default on. */
TR_EXPORT int tr_ring_set_bind_sni(tr_ring *ring, int32_t on);
/* Refuse a ticket presented with another ALPN (TR_E_TICKET_ALPN). Default on. */
TR_EXPORT int tr_ring_set_bind_alpn(tr_ring *ring, int32_t on);
/* Longest a session may live, counted from its original full handshake and
 * carried through every renewal, 1..31536000 s. Default 86400. */
TR_EXPORT int tr_ring_set_max_age(tr_ring *ring, uint32_t seconds);
/* Expected rotation period, 0..31536000 s (0: no expectation, the default).
 * When the encrypt key is the newest dated key and activated longer ago
 * than this, the schedule has run out: each seal counts it (stats.seal_overdue), a warning
 * is logged once per key set, and the exhausted policy decides. */
TR_EXPORT int tr_ring_set_rotation_period(tr_ring *ring, uint32_t seconds);
#define TR_EXHAUSTED_KEEP 0 /* keep sealing with the overdue key (default) */
#define TR_EXHAUSTED_STOP 1 /* seal nothing: TR_E_NO_ENCRYPT_KEY, full handshakes */
TR_EXPORT int tr_ring_set_exhausted_policy(tr_ring *ring, int32_t policy);
/* How long, 0..31536000 s after its activation, the newest dated key may go
 * on encrypting when no newer dated key arrives; past it the ring seals
 * nothing (counted in seal_no_key, logged as an error once per key set)
 * until one arrives. Under TR_EXHAUSTED_KEEP this is where sealing stops;
 * TR_EXHAUSTED_STOP stops already at the rotation period. 0 (the default)
 * means no limit. ticketring_schedule_remaining_seconds counts down to it.
 * Thread-safe. */
TR_EXPORT int tr_ring_set_max_encrypt_age(tr_ring *ring, uint32_t seconds);

/* ---- Keys -------------------------------------------------------------- */

/* Roles follow from the clock and the policy. */
#define TR_KEY_PENDING 0 /* not yet active; already decrypts */
#define TR_KEY_ENCRYPT 1 /* the newest key active now: seals new tickets */
#define TR_KEY_DECRYPT 2 /* superseded, still opens tickets */
#define TR_KEY_RETIRED 3 /* superseded for longer than lifetime + skew */
#define TR_KEY_REVOKED 4 /* revoked: neither encrypts nor decrypts */

/* Activation time of a key distributed without one: it decrypts, and never
 * encrypts until a later key file gives it an activation time. */
#define TR_ACTIVATION_PENDING INT64_MAX

/* Add an 80-byte key (name | HMAC | AES) that starts encrypting at
 * `activation` (TR_ACTIVATION_PENDING: decrypt only, for now). The key is
 * copied; the caller keeps `key`. Refuses an all-zero key or name, a
 * repeated name (also of a revoked key), a full ring and an activation
 * beyond the horizon (TR_E_KEY_ACTIVATION). Thread-safe. */
TR_EXPORT int tr_ring_add_key(tr_ring *ring, const uint8_t key[TR_KEY_BYTES],
                              int64_t activation);
/* Draw a new random key activating at `activation` and add it; its name is
 * copied to name_out (16 bytes) when non-NULL. Thread-safe. */
TR_EXPORT int tr_ring_generate_key(tr_ring *ring, int64_t activation,
                                   uint8_t name_out[TR_KEY_NAME_BYTES]);
/* Remove (and wipe) the key with that name. Thread-safe. */
TR_EXPORT int tr_ring_remove_key(tr_ring *ring, const uint8_t name[TR_KEY_NAME_BYTES]);
/* Replace every key with those of the key file at `path` and remember the
 * path for tr_ring_reload(). On failure the ring keeps its keys and, when
 * err_line is non-NULL, *err_line is the 1-based line at fault (0 when the
 * fault is not on one line). Thread-safe. */
TR_EXPORT int tr_ring_load(tr_ring *ring, const char *path, uint32_t *err_line);
/* Load the remembered path again (TR_E_NO_FILE if none). Same failure rules
 * as tr_ring_load(). Thread-safe. */
TR_EXPORT int tr_ring_reload(tr_ring *ring, uint32_t *err_line);
/* Write every key the ring holds to `path` as a key file (version 2, with
 * the ring's cluster id and a serial one above the highest it has seen, or,
 * for a ring that never saw one, its clock in milliseconds, so a file
 * written from scratch still supersedes the one it replaces; it becomes the
 * ring's serial): a temporary file in the same directory, mode 0600, fsync,
 * then rename. Thread-safe. */
TR_EXPORT int tr_ring_save(tr_ring *ring, const char *path);

/* tr_ring_load_ex() flags */
#define TR_LOAD_FORCE 1u /* accept a serial lower than the one loaded (a rollback) */
/* tr_ring_load() with flags. Without TR_LOAD_FORCE a file whose serial is
 * lower than the serial loaded (a version-1 file counts as 0), or equal with
 * other keys, is refused with TR_E_KEYFILE_ROLLBACK. TR_LOAD_FORCE does not
 * override a cluster mismatch, and tr_ring_reload() never forces. Thread-safe. */
TR_EXPORT int tr_ring_load_ex(tr_ring *ring, const char *path, uint32_t flags,
                              uint32_t *err_line);

/* tr_ring_load_ex() from memory: `text` (len bytes, a whole key file,
 * not NUL-terminated) is parsed and applied under the same rules (cluster,
 * rollback, integrity, activation horizon; no file mode check), counted and
 * logged like a file load (named "key set from memory"). The ring keeps the
 * path it remembers, so tr_ring_reload() and the watcher still concern that
 * file. For key sources that are not files (a sealed document from a key
 * store). TR_E_INVAL for a NULL ring, NULL text with len > 0 or unknown
 * flags; more than 65536 bytes is TR_E_KEYFILE_SYNTAX. The caller wipes
 * `text`. Thread-safe. */
TR_EXPORT int tr_ring_load_buffer(tr_ring *ring, const char *text, size_t len, uint32_t flags,
                                  uint32_t *err_line);
/* tr_ring_save() to memory: the same version-2 key file text, with the
 * same next serial (which becomes the ring's serial, as when a file is
 * written), into buf. *len gets its length; the text is not NUL-terminated
 * and no byte past *len is written. When cap is too small:
 * TR_E_BUFFER_TOO_SMALL, *len the bytes needed, nothing written and the
 * serial unchanged (a save in between may make it a digit longer: retry on
 * TR_E_BUFFER_TOO_SMALL; 65536 bytes always suffice). buf may be NULL when
 * cap is 0. The text holds every secret of the ring: the caller wipes it;
 * the library wipes its own copy. Thread-safe. */
TR_EXPORT int tr_ring_save_buffer(tr_ring *ring, char *buf, size_t cap, size_t *len);

/* Pin the ring to a cluster id (1..64 characters of A-Z a-z 0-9 . _ -):
 * key files of another cluster, or naming none, are then refused
 * (TR_E_KEYFILE_CLUSTER), and tr_ring_save() writes it. NULL unpins. Without a pin, the first key file
 * loaded that names a cluster pins it. The cluster id is part of the
 * fingerprint. Thread-safe. */
TR_EXPORT int tr_ring_set_cluster(tr_ring *ring, const char *cluster_id);
/* The cluster id ("" when none) into out (cap >= 65 always suffices). Thread-safe. */
TR_EXPORT int tr_ring_cluster(tr_ring *ring, char *out, size_t cap);
/* The serial of the key set held (0: never loaded from, nor saved to, a
 * version-2 file). Thread-safe. */
TR_EXPORT int tr_ring_serial(tr_ring *ring, uint64_t *serial);

/* What tr_ring_load() does with a key file readable by group or others. */
#define TR_FILE_MODE_IGNORE 0
#define TR_FILE_MODE_WARN 1   /* load it and log a warning (default) */
#define TR_FILE_MODE_REFUSE 2 /* refuse it: TR_E_KEYFILE_MODE */
TR_EXPORT int tr_ring_set_file_mode_policy(tr_ring *ring, int32_t policy);
/* Refuse keys (added, generated or in a key file) activating more than
 * `seconds` after now (TR_E_KEY_ACTIVATION), 0..3153600000; 0 means no
 * bound. Default 157680000 (5 years): catches milliseconds written as
 * seconds. Pending keys are not affected. Thread-safe. */
TR_EXPORT int tr_ring_set_activation_horizon(tr_ring *ring, uint32_t seconds);

/* Mark the key with that name revoked (an emergency: the key leaked): it
 * neither encrypts nor decrypts from now on, and stays listed, revoked, in
 * the key files tr_ring_save() writes so the revocation reaches every node.
 * Thread-safe. */
TR_EXPORT int tr_ring_revoke_key(tr_ring *ring, const uint8_t name[TR_KEY_NAME_BYTES]);
/* Give the pending key with that name (added with TR_ACTIVATION_PENDING)
 * its activation time, once: it encrypts from then on, by the schedule.
 * TR_E_KEY_NOT_FOUND without such a key; TR_E_INVAL for a revoked key, a
 * key that already has a time (a date is never moved: nodes may already act
 * on it), or an activation of TR_ACTIVATION_PENDING or outside 0..2^62;
 * TR_E_KEY_ACTIVATION beyond the activation horizon. The time is checked
 * before the key is looked up. Thread-safe. */
TR_EXPORT int tr_ring_activate_key(tr_ring *ring, const uint8_t name[TR_KEY_NAME_BYTES],
                                   int64_t activation);

/* ---- Watching the key file ----------------------------------------------- */

/* Reload the loaded key file if it changed: one stat() (following
 * symlinks: device, inode, size, mode, owner, modification and change
 * times) when nothing changed, so it can run on every event-loop turn or
 * timer tick;
 * otherwise a read and a content digest, and a reload only when the content
 * differs. A changed file that is refused (syntax, integrity, permissions,
 * cluster, rollback) leaves the ring unchanged, is counted and logged once,
 * and is tried again when it changes again (its code is returned once).
 * *changed (if non-NULL) is 1 when a new key set was loaded. TR_E_NO_FILE
 * without a previous successful load. A call that finds another check
 * running returns 0 at once. Never blocks a handshake. Thread-safe. */
TR_EXPORT int tr_ring_reload_check(tr_ring *ring, int32_t *changed, uint32_t *err_line);

/* Watch the loaded key file from a background thread: inotify on its
 * directory and on the directory its path resolves to (a Kubernetes Secret
 * is replaced by flipping a ..data symlink, which a watch on the file itself
 * never sees), debounced, plus a poll every poll_seconds (1..3600; 0 means
 * 10) that covers NFS, FUSE and missed events; each runs
 * tr_ring_reload_check(). One watcher per ring; tr_ring_unwatch() or
 * tr_ring_free() stops it; a second watch is TR_E_INVAL. The ring's log sink
 * and allocator are then also called from the watcher's thread (a log sink
 * must not call tr_ring_watch, tr_ring_unwatch or tr_ring_free). A forked
 * child does not inherit it. TR_E_NO_FILE without a previous successful
 * load. Thread-safe. */
TR_EXPORT int tr_ring_watch(tr_ring *ring, uint32_t poll_seconds);
/* Stop the watcher (a no-op without one); returns once its thread is gone.
 * TR_E_INVAL from the watcher's own thread. Thread-safe. */
TR_EXPORT int tr_ring_unwatch(tr_ring *ring);

/* ---- Other servers' key files --------------------------------------------- */

#define TR_FORMAT_NGINX 1   /* ssl_session_ticket_key: one 80-byte key per file */
#define TR_FORMAT_HAPROXY 2 /* tls-ticket-keys: one base64 key per line */

/* Add the keys of another server's key file: nginx's 80-byte
 * name | HMAC | AES (a 48-byte AES-128 key is refused), HAProxy's 80-byte
 * name | AES | HMAC lines, converted to this library's layout. The key that
 * server encrypts with activates at `activation`, keys it only decrypts with
 * get earlier activation times, keys it holds for later get
 * TR_ACTIVATION_PENDING; of a HAProxy file only the last three lines count,
 * as for HAProxy (docs/interop-nginx.md, docs/interop-haproxy.md).
 * On failure nothing is added; *err_line as for tr_ring_load(). Thread-safe. */
TR_EXPORT int tr_ring_import(tr_ring *ring, int32_t format, const char *path,
                             int64_t activation, uint32_t *err_line);
/* Write the ring's usable keys (not retired, not revoked) for another
 * server, converted to its layout and in the order it reads them (the key
 * that encrypts now by the schedule where it looks for its encrypt key),
 * atomically with mode 0600. nginx reads one key per file: the keys go to
 * path.0 (the encrypt key), path.1, ... (files path.N left from a longer
 * earlier export are removed). HAProxy reads the last three lines of one
 * file: previous, encrypt, next key. *count gets how many distinct keys were
 * written. TR_E_NO_ENCRYPT_KEY when no key encrypts now. Thread-safe. */
TR_EXPORT int tr_ring_export(tr_ring *ring, int32_t format, const char *path,
                             uint32_t *count);

/* Number of keys held (retired ones included until removed). Thread-safe. */
TR_EXPORT int tr_ring_key_count(tr_ring *ring, uint32_t *count);
/* The index-th key in activation order: its name, activation time and role
 * now. Any out pointer may be NULL. TR_E_KEY_NOT_FOUND past the end.
 * Thread-safe (indexes shift when another thread changes the keys). */
TR_EXPORT int tr_ring_key_info(tr_ring *ring, uint32_t index,
                               uint8_t name_out[TR_KEY_NAME_BYTES],
                               int64_t *activation, int32_t *role);
/* Name of the key that seals tickets now, or TR_E_NO_ENCRYPT_KEY. Thread-safe. */
TR_EXPORT int tr_ring_encrypt_key_name(tr_ring *ring, uint8_t name_out[TR_KEY_NAME_BYTES]);
/* TR_FINGERPRINT_HEX lowercase hex digits and a NUL into out (size >=
 * TR_FINGERPRINT_HEX + 1). Equal on two rings exactly when they hold the same
 * keys with the same activation times (pending and revoked marks included)
 * under the same cluster id; reveals nothing about the secrets.
 * Thread-safe. */
TR_EXPORT int tr_ring_fingerprint(tr_ring *ring, char *out, size_t out_size);

/* ---- Generic tickets (format v1, docs/ticket-format.md) ---------------- */

/* tr_ticket_open() flags */
#define TR_TICKET_RENEW 1u /* opened with a key that no longer encrypts: issue a new ticket */

/* Seal `state` (at most TR_TICKET_MAX_STATE bytes) into `ticket`, bound to
 * the SNI, the ALPN protocol and an application context of the connection
 * (each may be NULL with length 0). auth_time is when the session's original
 * full handshake happened (0: now; on renewal pass what tr_ticket_open()
 * returned). *ticket_len gets the ticket's length (state_len +
 * TR_TICKET_OVERHEAD) and *lifetime (if non-NULL) the lifetime in seconds to
 * advertise to the client. TR_E_NO_ENCRYPT_KEY means: issue no ticket.
 * Takes no lock, and calls the ring's allocator only to draw new salts: at
 * the first seal in a forked child (TR_E_NOMEM if that fails) and after
 * 2^24 seals under one set (docs/ABI.md). The TLS library underneath may
 * allocate internally. Thread-safe. */
TR_EXPORT int tr_ticket_seal(tr_ring *ring, const uint8_t *state, size_t state_len,
                             const uint8_t *sni, size_t sni_len,
                             const uint8_t *alpn, size_t alpn_len,
                             const uint8_t *app_ctx, size_t app_ctx_len,
                             int64_t auth_time,
                             uint8_t *ticket, size_t ticket_cap, size_t *ticket_len,
                             uint32_t *lifetime);

/* Open `ticket` for a new connection with the given SNI, ALPN and application
 * context. On success the session state is copied to `state` (capacity
 * state_cap; *state_len its length) and, for each non-NULL out pointer: the
 * 16-byte name of the key that opened it, the original auth time, the
 * ticket's age in milliseconds and TR_TICKET_* flags. Every refusal has its
 * own TR_E_TICKET_* code, changes no key state and means a full handshake.
 * Calls the ring's allocator never and takes no lock (the TLS library
 * underneath may allocate internally). Thread-safe. */
TR_EXPORT int tr_ticket_open(tr_ring *ring, const uint8_t *ticket, size_t ticket_len,
                             const uint8_t *sni, size_t sni_len,
                             const uint8_t *alpn, size_t alpn_len,
                             const uint8_t *app_ctx, size_t app_ctx_len,
                             uint8_t *state, size_t state_cap, size_t *state_len,
                             uint8_t key_name_out[TR_KEY_NAME_BYTES],
                             int64_t *auth_time, int64_t *age_ms, uint32_t *flags);

/* ---- Building blocks for TLS integrations --------------------------------
 * The backend glue (<ticketring/openssl.h>) is built from these, and so can
 * an integration with another TLS stack: they apply the ring's clock and
 * policy exactly as tr_ticket_open() does. */

/* The ring's clock now, in milliseconds since the epoch. Thread-safe. */
TR_EXPORT int tr_ring_now_ms(tr_ring *ring, int64_t *now_ms);

/* Apply the ring's time policy to a ticket sealed at issue_ms (milliseconds)
 * for a session whose full handshake was at auth_time (seconds; 0 when
 * unknown: only the ticket's age is checked). 0, TR_E_TICKET_FUTURE or
 * TR_E_TICKET_EXPIRED; *age_ms (if non-NULL) gets the ticket's age. Counts
 * nothing. Thread-safe. */
TR_EXPORT int tr_ring_check_times(tr_ring *ring, int64_t issue_ms, int64_t auth_time,
                                  int64_t *age_ms);

/* Apply the ring's binding policy: the SNI a ticket was issued for against
 * the SNI of the new ClientHello (ASCII case-insensitive; empty means none),
 * and the ALPN protocol it was issued for against the protocols the client
 * offers now (`alpn_offer` in the wire format of the ALPN extension's
 * protocol list: length-prefixed names; a ticket issued without ALPN
 * matches any offer). 0, TR_E_TICKET_SNI or TR_E_TICKET_ALPN (also for a
 * malformed offer). Counts nothing. Thread-safe. */
TR_EXPORT int tr_ring_check_binding(tr_ring *ring,
                                    const uint8_t *ticket_sni, size_t ticket_sni_len,
                                    const uint8_t *sni, size_t sni_len,
                                    const uint8_t *ticket_alpn, size_t ticket_alpn_len,
                                    const uint8_t *alpn_offer, size_t alpn_offer_len);

/* The lifetime, in seconds, to advertise for a ticket sealed now for a
 * session whose full handshake was at auth_time (0: now): the ring's
 * lifetime, shortened to what is left of the session's max age.
 * TR_E_TICKET_EXPIRED when nothing is left. Thread-safe. */
TR_EXPORT int tr_ring_ticket_lifetime(tr_ring *ring, int64_t auth_time, uint32_t *seconds);

/* Flags tr_ring_tls_key() passes to its callback. */
#define TR_TLS_KEY_RENEW 1u /* an older key than the encrypt key: renew the ticket */

/* Called by tr_ring_tls_key() while the key is pinned: `key_state` is what
 * the ring's crypto backend prepared for this key (its type is private to
 * that backend), valid only during the call. The return value is passed
 * through. */
typedef int (*tr_tls_key_fn)(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES],
                             uint32_t flags, void *arg);

/* For a TLS library's own ticket format (OpenSSL's key callback): find the
 * key that seals now (name NULL; counted as a seal, under the same schedule
 * and exhausted policy as tr_ticket_seal()) or the key named `name` (a
 * retired or revoked key counts as unknown), and call fn with the state `crypto`
 * prepared for it. TR_E_BACKEND when the ring was not made with `crypto` or
 * that backend prepares no TLS state; TR_E_NO_ENCRYPT_KEY or
 * TR_E_TICKET_UNKNOWN_KEY (counted by the caller, see tr_ring_record) when
 * there is no such key, TR_E_TICKET_OTHER_FORMAT when `name` is the start of a
 * generic-format ticket of this cluster (from an mbedTLS node). Never
 * allocates; no lock. Thread-safe. */
TR_EXPORT int tr_ring_tls_key(tr_ring *ring, const tr_crypto *crypto,
                              const uint8_t *name, tr_tls_key_fn fn, void *arg);

/* Events a TLS integration counts with tr_ring_record(). */
#define TR_EVENT_FULL_HANDSHAKE 1    /* a handshake completed without resumption */
#define TR_EVENT_RESUMED_HANDSHAKE 2 /* a handshake completed by resuming a ticket */
#define TR_EVENT_RESUMED_CROSS_NODE 3 /* ... of a ticket another node issued */
#define TR_EVENT_TICKET_RENEWED 4    /* a new ticket issued on a resumed handshake */
#define TR_EVENT_TICKET_ACCEPTED 5   /* a ticket passed every check (tr_stats.opened) */
#define TR_EVENT_TICKET_ACCEPTED_OLD_KEY 6 /* also: it was opened with an older key */
#define TR_EVENT_TICKET_UNBOUND 7    /* also: it carried no binding data */
#define TR_EVENT_EARLY_ACCEPTED 8    /* early data (0-RTT) was accepted */

/* Count one TR_EVENT_*, or one refused ticket under its TR_E_TICKET_* code,
 * or one refusal of early data under its TR_E_REPLAY* / TR_E_EARLY_* code,
 * in the ring's statistics. TR_E_INVAL for anything else. Thread-safe. */
TR_EXPORT int tr_ring_record(tr_ring *ring, int32_t event);

/* ---- 0-RTT: replay cache ---------------------------------------------------
 * TLS 1.3 early data can be replayed by whoever recorded it. A replay cache
 * remembers a value unique to each ClientHello (the OpenSSL glue uses
 * ClientHello.random, which the PSK binder authenticates) for a window, and
 * answers "seen before" with no false negative inside the window, ever
 * (docs/early-data.md). Its memory is fixed when it is made; when it has no
 * room it refuses rather than forget early. */

typedef struct tr_replay tr_replay;

#define TR_REPLAY_MAX_CAPACITY 16777216u /* values a cache can be made for */

/* Make a cache that remembers each value for window_ms (1000..3600000)
 * and holds at least `capacity` (1..TR_REPLAY_MAX_CAPACITY) values at once,
 * using malloc/free: all its memory (tr_replay_stats.bytes) is allocated
 * here. Its hash key is random (getrandom). For its first window_ms it
 * refuses (TR_E_REPLAY_STARTUP): it cannot know what a previous process
 * accepted before a restart. The caller owns *out and frees it with
 * tr_replay_free(). Thread-safe. */
TR_EXPORT int tr_replay_new(tr_replay **out, uint32_t capacity, uint32_t window_ms);
/* As tr_replay_new(), allocating through malloc_fn/free_fn (both non-NULL)
 * with `arg`. Thread-safe. */
TR_EXPORT int tr_replay_new_with_allocator(tr_replay **out, uint32_t capacity,
                                           uint32_t window_ms, tr_malloc_fn malloc_fn,
                                           tr_free_fn free_fn, void *arg);
/* Free the cache. NULL is a no-op. Not thread-safe: no other call on it (or
 * on a ring it is set on) may be running or start. */
TR_EXPORT void tr_replay_free(tr_replay *replay);
/* Replace the clock (default: CLOCK_REALTIME; give it the ring's clock).
 * fn NULL restores the default. The start-up window starts again. Set it
 * before sharing the cache between threads. */
TR_EXPORT int tr_replay_set_clock(tr_replay *replay, tr_clock_fn fn, void *arg);
/* Check `value` (1..1024 bytes) and record it: 0 when first seen within
 * the window (recorded now), TR_E_REPLAY when seen before, TR_E_REPLAY_FULL
 * when there is no room (nothing recorded), TR_E_REPLAY_STARTUP in the
 * start-up window (recorded all the same). With a store (tr_replay_set_store)
 * a value not found here is then the store's to answer: 0, TR_E_REPLAY, or
 * TR_E_REPLAY_STORE. Allocates nothing; takes one of many short locks (and
 * no lock while the store answers). Thread-safe. */
TR_EXPORT int tr_replay_check(tr_replay *replay, const uint8_t *value, size_t len);

/* Counters and sizes of a cache. Set `size` to sizeof(tr_replay_stats)
 * before calling tr_replay_get_stats(); fields are only ever appended. */
typedef struct tr_replay_stats {
    uint32_t size;
    uint32_t window_ms;
    uint64_t capacity; /* values it holds at least, as made */
    uint64_t slots;    /* values it holds at most */
    uint64_t bytes;    /* memory it allocated */
    uint64_t entries;  /* values held now (expired ones not yet reclaimed included) */
    uint64_t fresh;    /* checks that found the value new */
    uint64_t replays;  /* checks that found it seen before */
    uint64_t full;     /* checks that found no room (refused; deferred to a store if set) */
    uint64_t startup;  /* checks refused in the start-up window (none with a store) */
    /* since 0.4.0: the cluster-wide store behind the cache (tr_replay_set_store) */
    uint64_t store_fresh;   /* values the store had not seen */
    uint64_t store_replays; /* values the store had seen (another node, or this one before a restart) */
    uint64_t store_errors;  /* checks the store could not answer in time */
} tr_replay_stats;

/* Copy the cache's counters into *out (out->size set by the caller).
 * Thread-safe; counters are read one by one. */
TR_EXPORT int tr_replay_get_stats(tr_replay *replay, tr_replay_stats *out);

/* ---- 0-RTT on every node: a cluster-wide replay store ----------------------
 * A node-local cache only protects tickets this process issued. A store that
 * every node asks (libticketring-redis provides one, <ticketring/redis.h>)
 * lets any node accept early data. The local cache still answers first, so a
 * replay to the same node costs no round trip. */

/* A store's check: record `value` (a ClientHello's value, 1..1024 bytes;
 * the store must keep it only as a keyed hash) if the fleet has not seen it,
 * for ttl_ms. Returns 0 when it had not (now recorded), TR_E_REPLAY when it
 * had, any other negative code when it cannot tell within its own time
 * budget (early data is then refused: TR_E_REPLAY_STORE). Called from
 * handshake threads concurrently. */
typedef int (*tr_replay_store_fn)(void *arg, const uint8_t *value, size_t len, uint32_t ttl_ms);

#define TR_REPLAY_ANY_NODE 1u /* accept early data of tickets issued by any node */

/* Put a store behind the cache (fn NULL removes it; skew_ms and flags must
 * then be 0). A value the cache finds new is then checked by fn with
 * ttl_ms = window + 3 * skew_ms: two nodes whose clocks differ by skew_ms
 * may each accept a ClientHello within an interval of window + 2 * skew_ms
 * on their own clock, so the store must remember it that long plus the
 * difference (docs/early-data.md). With a store the cache no longer
 * refuses in its start-up window (the store remembers across restarts)
 * and, when full, defers to the store. skew_ms (0..60000): the most two
 * nodes' clocks differ; with TR_REPLAY_ANY_NODE rings using this cache
 * widen the freshness interval by it on both sides. flags:
 * TR_REPLAY_ANY_NODE turns node binding off for rings using this cache
 * (tickets sealed with any non-zero early-data tag are accepted). fn and
 * arg must outlive the cache's use. Not thread-safe: set it before the
 * cache is shared, like the clock. TR_E_INVAL on a bad skew or flag. */
TR_EXPORT int tr_replay_set_store(tr_replay *replay, tr_replay_store_fn fn, void *arg,
                                  uint32_t skew_ms, uint32_t flags);

/* ---- 0-RTT: early-data policy on the ring ---------------------------------
 * Early data is accepted only when the ticket was issued by this process
 * with early data on (so the replay cache has seen every earlier attempt
 * with it: a flight replayed to another node gets 1-RTT), the client's
 * ticket age puts the ClientHello's expected arrival near now (from a
 * quarter window before to three quarters after: one window in all),
 * (RFC 8446 8.3), the SNI and ALPN are the ticket's, and the replay cache
 * has not seen the ClientHello (RFC 8446 8.2). */

/* Accept early data of at most max_bytes (1..16777216) per connection,
 * checked against `replay` (not owned; rings may share one), or turn early
 * data off (max_bytes 0, the default; replay is then ignored, and the ring
 * lets go of its cache). A cache must outlive every handshake that may be
 * using it: free it after the ring, or after turning early data off once
 * the handshakes running then are done. Takes effect for the next
 * connection. Thread-safe. */
TR_EXPORT int tr_ring_set_early_data(tr_ring *ring, uint32_t max_bytes, tr_replay *replay);
/* The early data the ring accepts per connection now, 0 when off. Thread-safe. */
TR_EXPORT int tr_ring_early_data_max(tr_ring *ring, uint32_t *max_bytes);
/* For a TLS integration: the tag to seal into every ticket issued while
 * early data is on (*tag 0 when off). It names the replay cache in this
 * process, so only a node holding that cache accepts the ticket's early
 * data; it differs in a forked child. Thread-safe. */
TR_EXPORT int tr_ring_early_data_tag(tr_ring *ring, uint64_t *tag);
/* For a TLS integration: may a resumption accept its early data? The
 * ticket's sealed tag (0 if none) and issue time (milliseconds), the
 * client's ticket age from its ClientHello (milliseconds, de-obfuscated),
 * and the value the replay cache records for this ClientHello (its random).
 * Checks in this order and returns the first refusal: TR_E_EARLY_OFF,
 * TR_E_EARLY_NODE, TR_E_EARLY_STALE, then the replay cache's answer (0
 * means accept: the value is recorded; with a store behind the cache also
 * TR_E_REPLAY_STORE). When the cache's store was set with
 * TR_REPLAY_ANY_NODE, any non-zero tag passes the node check and the
 * freshness interval widens by the store's skew on both sides. The SNI
 * and ALPN comparison is the integration's (TR_E_EARLY_SNI,
 * TR_E_EARLY_ALPN). Counts nothing: record the outcome with
 * tr_ring_record(). Thread-safe. */
TR_EXPORT int tr_ring_check_early_data(tr_ring *ring, uint64_t ticket_tag, int64_t issue_ms,
                                       uint32_t client_age_ms, const uint8_t *value,
                                       size_t value_len);

/* ---- Statistics ---------------------------------------------------------- */

/* A snapshot of the ring's counters. Set `size` to sizeof(tr_stats) before
 * calling tr_ring_stats(); fields are only ever appended, so an older caller
 * gets the prefix it knows. */
typedef struct tr_stats {
    uint32_t size;
    uint32_t reserved;
    /* since 0.1.0 */
    uint64_t sealed;             /* tickets sealed */
    uint64_t seal_no_key;        /* seals refused: no encrypt key */
    uint64_t seal_overdue;       /* seals while the schedule had run out */
    uint64_t opened;             /* tickets opened and accepted */
    uint64_t opened_renew;       /* ... of which opened with an older key */
    uint64_t refused_malformed;
    uint64_t refused_unknown_key;
    uint64_t refused_auth;
    uint64_t refused_expired;
    uint64_t refused_future;
    uint64_t refused_sni;
    uint64_t refused_alpn;
    uint64_t refused_context;
    uint64_t reloads;            /* successful loads and reloads */
    uint64_t reload_failures;    /* failed loads and reloads */
    /* since 0.2.0 (TLS integrations, tr_ring_record()) */
    uint64_t refused_unbound;
    uint64_t opened_unbound;     /* accepted tickets without binding data */
    uint64_t handshakes_full;
    uint64_t handshakes_resumed;
    uint64_t resumed_cross_node; /* resumed handshakes of another node's ticket */
    uint64_t tickets_renewed;    /* new tickets issued on resumed handshakes */
    /* since 0.3.0 (0-RTT: accepted, and refused by reason) */
    uint64_t early_accepted;
    uint64_t early_refused_off;
    uint64_t early_refused_stale;
    uint64_t early_refused_node;
    uint64_t early_refused_sni;
    uint64_t early_refused_alpn;
    uint64_t early_refused_replay;
    uint64_t early_refused_full;
    uint64_t early_refused_startup;
    uint64_t early_refused_tls;
    /* since 0.4.0 */
    uint64_t early_refused_store; /* the cluster replay store could not answer */
    /* a ticket of this cluster in the other TLS backend's format (mixed fleet) */
    uint64_t refused_other_format;
} tr_stats;

/* Copy the counters into *out (out->size set by the caller; fields beyond it
 * are left untouched). Thread-safe; counters are read one by one. */
TR_EXPORT int tr_ring_stats(tr_ring *ring, tr_stats *out);

/* The ring's counters, key roles and key-set identity in the Prometheus text
 * exposition format (version 0.0.4), every metric named ticketring_*; the
 * fingerprint and the encrypt key's name (the key id every ticket carries in
 * clear) are labels of ticketring_keyset_info, no secret is ever included.
 * Writes at most `cap` bytes including a NUL; *len gets the text's length
 * without it, also with TR_E_BUFFER_TOO_SMALL (then retry with *len + 1).
 * Thread-safe. */
TR_EXPORT int tr_ring_metrics(tr_ring *ring, char *buf, size_t cap, size_t *len);

/* ---- For bindings (FFI callers that cannot read this header) --------------
 * The statistics structs by index, so a binding never mirrors their layout:
 * index i names the i-th counter field in struct order (the `size` and
 * `reserved` headers excluded), and new fields get new, higher indexes. */

/* Number of counters in tr_stats. Thread-safe. */
TR_EXPORT size_t tr_stats_count(void);
/* Name of tr_stats counter i, as spelled in tr_stats ("sealed", ...), in
 * static storage; NULL when i >= tr_stats_count(). Thread-safe. */
TR_EXPORT const char *tr_stats_name(size_t i);
/* Counter i of the ring's statistics into *value (a 32-bit field is
 * widened). TR_E_INVAL when i >= tr_stats_count(). Thread-safe. */
TR_EXPORT int tr_ring_stat(tr_ring *ring, size_t i, uint64_t *value);
/* Number of fields in tr_replay_stats. Thread-safe. */
TR_EXPORT size_t tr_replay_stats_count(void);
/* Name of tr_replay_stats field i ("window_ms", ...), in static storage;
 * NULL when i >= tr_replay_stats_count(). Thread-safe. */
TR_EXPORT const char *tr_replay_stats_name(size_t i);
/* Field i of the cache's statistics into *value (a 32-bit field is
 * widened). TR_E_INVAL when i >= tr_replay_stats_count(). Thread-safe. */
TR_EXPORT int tr_replay_stat(tr_replay *replay, size_t i, uint64_t *value);

/* Longest cluster id in characters, without the NUL (tr_ring_cluster()
 * needs a buffer one larger). Thread-safe. */
TR_EXPORT size_t tr_cluster_id_max(void);
/* TR_REPLAY_MAX_CAPACITY, as a function. Thread-safe. */
TR_EXPORT size_t tr_replay_max_capacity(void);
/* Longest value tr_replay_check() takes, in bytes. Thread-safe. */
TR_EXPORT size_t tr_replay_value_max(void);

#ifdef __cplusplus
}
#endif

#endif /* TICKETRING_TICKETRING_H */
